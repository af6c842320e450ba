"""`feeds status`: table, --json, --check exit codes; built on a real store filled over loopback HTTP."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from test_scheduling_pipeline import FeedServer, Reply, Rig, conditional, feeds_cli, rig_factory, server, write_config

from feeds.config import load_config
from feeds.status import parse_duration, scrub, status_main

__all__ = ["rig_factory", "server"]  # fixtures shared with test_scheduling_pipeline


def args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {"json": False, "check": False, "max_age": "2h", "max_broken": 0.5}
    base.update(kw)
    return argparse.Namespace(**base)


def run_status(rig: Rig, capsys: pytest.CaptureFixture[str], **kw: object) -> tuple[int, str]:
    """status_main at the rig's injected time."""
    code = status_main(rig.cfg, args(**kw), now=rig.clock.t)
    return code, capsys.readouterr().out


@pytest.fixture
def filled(rig_factory: Callable[..., Rig], server: FeedServer) -> Rig:
    """ok, failing (backoff), gone, moved (a 301 seen once), a secret in one URL, one never fetched."""
    server.routes["/ok"] = conditional("ok", lambda: 3)
    server.routes["/fail"] = lambda req: Reply(500, b"boom")
    server.routes["/gone"] = lambda req: Reply(410, b"")
    server.routes["/old"] = lambda req: Reply(301, b"", {"Location": server.url("/new")})
    server.routes["/new"] = conditional("new", lambda: 1)
    server.routes["/private"] = conditional("private", lambda: 1)
    secret = server.url("/private").replace("http://", "http://reader:hunter2@")
    rig = rig_factory([("ok", server.url("/ok")), ("failing", server.url("/fail")), ("gone", server.url("/gone")),
                       ("moved", server.url("/old")), ("private", secret)])
    rig.pipe.run()
    return rig


def test_table_shows_state_http_items_next_due_and_reason(filled: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_status(filled, capsys)
    assert code == 0
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip()}
    assert lines["ok"].split()[1:5] == ["ok", "0s", "ago", "200"] and " 3 " in lines["ok"]
    assert "in 15m" in lines["ok"] and "interval 15m" in lines["ok"]
    assert "backoff" in lines["failing"] and "500" in lines["failing"] and "retry in 15m" in lines["failing"]
    assert "gone" in lines["gone"] and "never" in lines["gone"] and "410" in lines["gone"]
    assert "permanent redirect to" in lines["moved"] and "seen 1x" in lines["moved"]
    assert "CHANNEL" in out and lines["all"].split()[1] == "5"  # ok: 3, moved: 1, private: 1
    assert "hunter2" not in out


def test_json_is_complete_and_redacted(filled: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_status(filled, capsys, json=True)
    assert code == 0 and "hunter2" not in out
    doc = json.loads(out)
    by = {s["name"]: s for s in doc["sources"]}
    assert set(by) == {"ok", "failing", "gone", "moved", "private"}
    assert (by["ok"]["state"], by["ok"]["http_status"], by["ok"]["items"], by["ok"]["due"]) == ("ok", 200, 3, False)
    assert by["ok"]["next_due"].endswith("Z") and by["ok"]["last_error"] is None
    assert (by["failing"]["state"], by["failing"]["failures"]) == ("backoff", 1)
    assert (by["gone"]["state"], by["gone"]["next_due"]) == ("gone", None)
    assert by["moved"]["redirect"]["count"] == 1
    assert "***@" in by["private"]["url"]
    assert doc["channels"] == [{"slug": "all", "title": "All", "entries": 5,
                                "last_change": doc["channels"][0]["last_change"], "pending": False}]
    # what the pipeline persisted agrees with what status recomputes
    row = filled.row("ok")
    assert row.state == "ok" and row.next_due is not None


def test_check_exit_codes(filled: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_status(filled, capsys, check=True)
    assert code == 0 and out.startswith("OK:")
    filled.clock.advance(timedelta(hours=3))  # no fetch since: the last success is 3h old
    code, out = run_status(filled, capsys, check=True)
    assert code == 3 and "last successful fetch was 3h ago, longer than --max-age 2h" in out
    code, out = run_status(filled, capsys, check=True, max_age="4h")
    assert code == 0
    code, out = run_status(filled, capsys, check=True, max_age="4h", json=True)
    assert code == 0 and json.loads(out)["check"]["ok"] is True


def test_check_fails_when_too_many_sources_are_broken(rig_factory: Callable[..., Rig], server: FeedServer,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/ok"] = conditional("ok", lambda: 1)
    server.routes["/fail"] = lambda req: Reply(503, b"")
    rig = rig_factory([("ok", server.url("/ok")), ("bad", server.url("/fail")), ("worse", server.url("/fail") + "?2")])
    for _ in range(30):  # bounded: three days of failures
        rig.pipe.run(force_all=True)
        if rig.row("bad").state == "broken":
            break
        rig.clock.advance(timedelta(hours=12))
    assert rig.row("bad").state == rig.row("worse").state == "broken"
    code, out = run_status(rig, capsys, check=True, max_age="1h")
    assert code == 3 and "2 of 3 sources broken (67%), more than --max-broken 0.5: bad, worse" in out
    code, _ = run_status(rig, capsys, check=True, max_age="1h", max_broken=0.7)
    assert code == 0
    code, out = run_status(rig, capsys, check=True, max_age="1h", json=True)
    doc = json.loads(out)
    assert code == 3 and doc["check"]["ok"] is False and doc["check"]["broken"] == 2
    code, out = run_status(rig, capsys)
    assert code == 0 and "broken: failing for" in out


def test_check_counts_gone_sources_as_broken(rig_factory: Callable[..., Rig], server: FeedServer,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A gone source (410) is polled no more: `status --check` said "0 of 3 sources broken" after a week of
    410s (found by a migration review); a dead subscription is what a health check is for."""
    server.routes["/ok"] = conditional("ok", lambda: 1)
    server.routes["/gone"] = lambda req: Reply(410, b"")
    rig = rig_factory([("ok", server.url("/ok")), ("g1", server.url("/gone")), ("g2", server.url("/gone") + "?2")])
    rig.pipe.run()
    assert rig.row("g1").state == rig.row("g2").state == "gone"
    code, out = run_status(rig, capsys, check=True, max_age="1h")
    assert code == 3 and "2 of 3 sources broken or gone (67%), more than --max-broken 0.5: g1, g2" in out
    code, out = run_status(rig, capsys, check=True, max_age="1h", max_broken=0.7)
    assert code == 0 and "2 of 3 sources broken or gone" in out  # (the OK line said "broken": a review)


def test_bad_arguments_exit_2(filled: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_status(filled, capsys, check=True, max_age="soon")[0] == 2
    assert run_status(filled, capsys, check=True, max_broken=1.5)[0] == 2


def test_parse_duration_and_scrub() -> None:
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("45s") == timedelta(seconds=45)
    assert parse_duration("90") == timedelta(minutes=90)
    for bad in ("", "h", "2 weeks", "-1h"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert scrub("GET https://u:p@example.org/x failed") == "GET https://***@example.org/x failed"


def test_cli_status_without_a_store_creates_nothing_and_check_fails(tmp_path: Path, server: FeedServer,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/ok"] = conditional("ok", lambda: 1)
    cfg = write_config(tmp_path, [("ok", server.url("/ok"))])
    code = status_main(load_config(cfg), args())
    out = capsys.readouterr().out
    assert code == 0 and "not created yet" in out and "never fetched" in out
    r = feeds_cli(cfg, "status", "--check")
    assert r.returncode == 3 and "no source has ever been fetched successfully" in r.stdout
    assert not (tmp_path / "var").exists()
    assert server.requests() == []


def test_a_refused_connection_is_plain_words_in_status(rig_factory: Callable[..., Rig],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The last error was urllib3's text: "connection failed (GuardedHTTPConnection(host='127.0.0.1', port=1):
    Failed to establish a new connection: [Errno 111] Connection refused)"."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    rig = rig_factory([("down", f"http://reader:hunter2@127.0.0.1:{port}/feed")])
    rig.pipe.run()
    code, out = run_status(rig, capsys, json=True)
    last = json.loads(out)["sources"][0]["last_error"]
    assert last == f"connection refused (127.0.0.1:{port})"
    code, out = run_status(rig, capsys)
    assert f"connection refused (127.0.0.1:{port})" in out and "Connection(" not in out and "hunter2" not in out


def test_status_shows_the_last_run_that_fetched_after_a_run_with_nothing_due(tmp_path: Path,
                                                                             server: FeedServer) -> None:
    server.routes["/a"] = conditional("a", lambda: 2)
    cfg = write_config(tmp_path, [("a", server.url("/a"))])
    assert feeds_cli(cfg, "run").returncode == 0
    assert feeds_cli(cfg, "run").returncode == 0  # nothing due: a run that fetched nothing
    out = feeds_cli(cfg, "status").stdout
    assert "last run: run" in out and "0 fetched" in out
    assert "last run that fetched: run" in out and "1 fetched, 1 ok, 0 failed, 2 new items" in out, out
    data = json.loads(feeds_cli(cfg, "status", "--json").stdout)
    assert data["last_run"]["last_fetching"]["new_items"] == 2


def test_the_table_lines_up_names_in_wide_scripts() -> None:
    """Columns were padded by character count: a Japanese name (two terminal columns a character) or an emoji
    pushed its row's columns out (found by two reviews)."""
    from feeds.status import _table

    lines = _table(["SOURCE", "STATE"], [["朝日テスト", "ok"], ["Plain", "gone"], ["Київ Пост 📰", "ok"],
                                         ["Kyi\u0308v", "ok"]]).splitlines()
    from feeds.status import _width

    starts = {_width(ln[: ln.index(state)]) for ln, state in zip(lines, ["STATE", "ok", "gone", "ok", "ok"],
                                                                  strict=True)}
    assert starts == {14}  # "Київ Пост 📰" is 12 columns wide, then two spaces


def test_a_disabled_source_is_never_fetched_and_what_it_gave_stays(rig_factory: Callable[..., Rig],
                                                                   server: FeedServer,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`enabled = false` on a source (every other reader has a way to pause a feed; feeds had none: a migration
    review): not fetched by any run, `status` says so, `--check` leaves it out, its items stay published."""
    on = {"v": 1}
    server.routes["/on"] = conditional("on", lambda: on["v"])
    server.routes["/off"] = conditional("off", lambda: 2)
    sources = [("on", server.url("/on")), ("off", server.url("/off"))]
    rig = rig_factory(sources)
    rig.pipe.run()
    assert server.count("/off") == 1
    on["v"] = 3  # "on" goes on publishing: the channel is written again, with "off"'s two items in it
    off = rig_factory(sources, edit=lambda t: t.replace(f'url = "{server.url("/off")}"\n',
                                                        f'url = "{server.url("/off")}"\nenabled = false\n'))
    for _ in range(3):
        off.clock.advance(timedelta(days=2))
        off.pipe.run()
        off.pipe.run(force_all=True)
        off.pipe.run(retry_gone=True)
    assert server.count("/off") == 1 and server.count("/on") >= 4
    code, out = run_status(off, capsys, json=True, check=True, max_age="1d")
    doc = json.loads(out)
    by = {s["name"]: s for s in doc["sources"]}
    assert (by["off"]["state"], by["off"]["due"], by["off"]["next_due"]) == ("disabled", False, None)
    assert code == 0 and doc["check"]["sources"] == 1  # the disabled one is neither broken nor counted
    assert "enabled = false" in run_status(off, capsys)[1]
    import feedparser

    titles = [e.title for e in feedparser.parse((off.cfg.output.dir / "all.atom").read_bytes()).entries]
    assert len(titles) == 5 and doc["sources"][1]["items"] == 2


def test_status_says_how_much_disk_the_store_and_the_output_take(filled: Rig,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An operator watching growth had no figure from feeds (found by an operations review)."""
    filled.pipe.close()  # (the rig's store stays open: its log is what a running daemon has)
    code, out = run_status(filled, capsys, json=True)
    sizes = json.loads(out)["sizes"]
    assert code == 0 and sizes["store"] == filled.cfg.store_path.stat().st_size > 0
    assert sizes["output"] == sum(p.stat().st_size for p in filled.cfg.output.dir.rglob("*") if p.is_file()) > 0
    first = run_status(filled, capsys)[1].splitlines()[0]
    assert "MB" in first or "kB" in first
    assert "write-ahead log" in first and "output" in first
