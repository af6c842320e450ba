"""Regression tests for review findings in the scheduling pipeline, the daemon and the config.

Real loopback HTTP servers (127.0.0.1 / 127.0.0.2), real SQLite stores under tmp_path; faults are
injected at the edges only (a SQLite trigger in the store file, an HTTP handler that holds its reply).
"""

from __future__ import annotations

import email.utils
import json
import logging
import signal
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import SQLAlchemyError
from test_daemon import Daemon as DaemonProcess
from test_daemon import daemon_config, daemons
from test_scheduling_pipeline import (
    FeedServer,
    Reply,
    Rig,
    Seen,
    conditional,
    config_text,
    feed_reply,
    feeds_cli,
    rig_factory,
    server,
    server2,
    write_config,
)

from feeds import schedule
from feeds.config import load_config, parse_config
from feeds.daemon import Daemon
from feeds.errors import ConfigError
from feeds.run import TEST_POLICY_ENV, Pipeline
from feeds.store import Store

__all__ = ["daemons", "rig_factory", "server", "server2"]  # fixtures of test_scheduling_pipeline, test_daemon


def _v1_until_failing(failing: threading.Event) -> Callable[[Seen], Reply]:
    """A feed with one item and ETag "v1" (304 to it), answering 500 once `failing` is set."""
    def route(req: Seen) -> Reply:
        if failing.is_set():
            return Reply(500, b"boom")
        if req.headers.get("If-None-Match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return feed_reply("f", [1], ETag='"v1"')
    return route


def _sql(db: Path, statement: str) -> None:
    con = sqlite3.connect(db)
    try:
        con.execute(statement)
        con.commit()
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# 1. deferred validator writes


def test_failed_validator_flush_is_not_replayed_over_a_newer_outcome(rig_factory: Callable[..., Rig],
                                                                     server: FeedServer) -> None:
    failing = threading.Event()
    server.routes["/f"] = _v1_until_failing(failing)
    rig = rig_factory([("f", server.url("/f"))])
    rig.pipe.run()  # 200, stored
    rig.until_due("f")
    # the store file refuses the 304's validator-only write once (a disk error, a full disk)
    _sql(rig.cfg.store_path, "CREATE TRIGGER fail_304 BEFORE UPDATE OF last_status ON sources "
                             "WHEN NEW.last_status = 304 BEGIN SELECT RAISE(ABORT, 'injected fault'); END")
    with pytest.raises(SQLAlchemyError):
        rig.pipe.run()  # the 304 is queued; its flush fails (the daemon logs "tick failed")
    _sql(rig.cfg.store_path, "DROP TRIGGER fail_304")
    failing.set()
    rig.clock.advance(timedelta(minutes=1))
    report = rig.pipe.run()  # the next tick: a 500, written in its own transaction
    assert [o.status for o in report.outcomes] == [500]
    row = rig.row("f")
    assert (row.last_status, row.consecutive_failures, row.state) == (500, 1, "backoff")
    assert row.last_error and "500" in row.last_error


def test_queued_validators_never_land_over_a_later_write_of_the_same_source(rig_factory: Callable[..., Rig],
                                                                            server: FeedServer) -> None:
    failing = threading.Event()
    server.routes["/f"] = _v1_until_failing(failing)
    url = server.url("/f")
    rig = rig_factory([("f", url)])
    rig.pipe.run()
    row = rig.store.sync_sources([(url, "f")])[url]
    assert rig.pipe.process(row, rig.pipe._fetch(row)).not_modified  # queued, not written yet
    failing.set()
    rig.clock.advance(timedelta(minutes=1))
    assert rig.pipe.process(row, rig.pipe._fetch(row)).error  # written in its own transaction
    rig.pipe.flush_validators()
    row = rig.row("f")
    assert (row.last_status, row.consecutive_failures) == (500, 1)
    assert row.last_attempt == rig.clock.t.timestamp()


# --------------------------------------------------------------------------------------------
# 2. an exception (Ctrl-C) in the middle of a run


def test_interrupted_run_cancels_queued_fetches_and_still_writes_validators(rig_factory: Callable[..., Rig],
                                                                            server: FeedServer) -> None:
    names = ["a", "b", "c", "d", "e"]
    hold = threading.Event()
    holding = threading.Event()
    for n in names:
        server.routes[f"/{n}"] = conditional(n, lambda: 1)
    plain_b = server.routes["/b"]

    def held_b(req: Seen) -> Reply:  # b's second fetch hangs until the test lets it go
        if server.count("/b") > 1:
            holding.set()
            hold.wait(30)
        return plain_b(req)

    server.routes["/b"] = held_b
    rig = rig_factory([(n, server.url(f"/{n}")) for n in names],
                      edit=lambda t: t.replace("read_timeout = 10", "read_timeout = 2").replace(
                          "deadline = 20", "deadline = 20\nworkers = 1"))
    rig.pipe.run()
    assert [server.count(f"/{n}") for n in names] == [1, 1, 1, 1, 1]
    rig.clock.advance(timedelta(minutes=1))

    def interrupt(done: int, total: int, new: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C once the first source is stored

    try:
        with pytest.raises(KeyboardInterrupt):
            rig.pipe.run(force_all=True, progress=interrupt)
        # the sources whose fetch had not started were never fetched, and the run did not wait for them
        assert [server.count(f"/{n}") for n in "cde"] == [1, 1, 1]
    finally:
        hold.set()
    a = rig.row("a")  # the 304 of the source processed before the interrupt was written
    assert (a.last_status, a.last_attempt) == (304, rig.clock.t.timestamp())


# --------------------------------------------------------------------------------------------
# 3. Retry-After after a redirect


def test_retry_after_is_charged_to_the_host_that_answered(rig_factory: Callable[..., Rig], server: FeedServer,
                                                          server2: FeedServer) -> None:
    # the source on 127.0.0.1 redirects (302) to 127.0.0.2, which answers 429 with Retry-After
    server.routes["/a"] = lambda req: Reply(302, b"", {"Location": server2.url("/limited")})
    server2.routes["/limited"] = lambda req: Reply(429, b"slow down", {"Retry-After": "3600"})
    rig = rig_factory([("a", server.url("/a"))])
    rig.pipe.run()
    retry = rig.store.host_retry_after()
    # the host that answered, and the source's own host, which its schedule looks up
    assert retry == {"127.0.0.2": rig.clock.t.timestamp() + 3600, "127.0.0.1": rig.clock.t.timestamp() + 3600}
    # the source itself waits out the hour (a review found it fetched again after its 15-minute interval)
    assert rig.row("a").next_due >= rig.clock.t.timestamp() + 3600
    rig.clock.advance(timedelta(minutes=20))
    rig.pipe.run()
    assert server.count("/a") == 1


# --------------------------------------------------------------------------------------------
# 4. and 7. freshness hints: a 304 keeps what it does not repeat; max-age or no-cache beat Expires


def _http_date(when: datetime) -> str:
    return email.utils.format_datetime(when.astimezone(UTC), usegmt=True)


def test_304_without_freshness_headers_keeps_the_stored_ones(rig_factory: Callable[..., Rig],
                                                             server: FeedServer) -> None:
    rig = rig_factory([("ma", server.url("/ma")), ("ex", server.url("/ex"))])
    expires = _http_date(rig.clock.t + timedelta(hours=3))

    def route(name: str, headers: dict[str, str]) -> Callable[[Seen], Reply]:
        def handle(req: Seen) -> Reply:
            if req.headers.get("If-None-Match") == '"v1"':
                return Reply(304, b"", {"ETag": '"v1"'})  # only the validator, as many servers send
            return feed_reply(name, [1], ETag='"v1"', **headers)
        return handle

    server.routes["/ma"] = route("ma", {"Cache-Control": "max-age=7200"})
    server.routes["/ex"] = route("ex", {"Expires": expires})
    rig.pipe.run()
    ma, ex = rig.row("ma"), rig.row("ex")
    assert (ma.max_age, ma.next_due) == (7200, rig.clock.t.timestamp() + 7200)
    assert ex.expires == (rig.clock.t + timedelta(hours=3)).timestamp()
    rig.clock.advance(timedelta(hours=1))
    report = rig.pipe.run(force_all=True)
    assert [o.not_modified for o in report.outcomes] == [True, True]
    ma, ex = rig.row("ma"), rig.row("ex")
    assert (ma.max_age, ma.next_due) == (7200, rig.clock.t.timestamp() + 7200)
    assert ex.expires == (rig.clock.t + timedelta(hours=2)).timestamp()
    assert ex.next_due == ex.expires  # still the stored Expires, two hours from now

    # a 304 that does carry Cache-Control replaces the stored one
    server.routes["/ma"] = lambda req: Reply(304, b"", {"ETag": '"v1"', "Cache-Control": "no-cache"})
    rig.clock.advance(timedelta(hours=2))
    rig.pipe.run(force_all=True)
    ma = rig.row("ma")
    assert (ma.max_age, ma.next_due) == (None, rig.clock.t.timestamp() + 15 * 60)


def test_expires_is_ignored_with_max_age_and_no_hint_is_taken_with_no_cache(rig_factory: Callable[..., Rig],
                                                                           server: FeedServer) -> None:
    rig = rig_factory([("nc", server.url("/nc")), ("ns", server.url("/ns")), ("ma", server.url("/ma")),
                       ("ex", server.url("/ex"))])
    expires = _http_date(rig.clock.t + timedelta(hours=3))
    server.routes["/nc"] = lambda req: feed_reply("nc", [1], **{"Cache-Control": "no-cache", "Expires": expires})
    server.routes["/ns"] = lambda req: feed_reply("ns", [1], **{"Cache-Control": "no-store", "Expires": expires})
    server.routes["/ma"] = lambda req: feed_reply("ma", [1], **{"Cache-Control": "max-age=1800", "Expires": expires})
    server.routes["/ex"] = lambda req: feed_reply("ex", [1], **{"Cache-Control": "public", "Expires": expires})
    rig.pipe.run()
    t0 = rig.clock.t.timestamp()
    got = {n: (rig.row(n).max_age, rig.row(n).expires, rig.row(n).next_due - t0) for n in ("nc", "ns", "ma", "ex")}
    assert got == {"nc": (None, None, 15 * 60), "ns": (None, None, 15 * 60), "ma": (1800, None, 30 * 60),
                   "ex": (None, t0 + 3 * 3600, 3 * 3600)}


NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EXACT = schedule.Policy(jitter=0.0)


def test_decide_ignores_expires_when_max_age_is_known() -> None:
    h = schedule.History(last_attempt=NOW, max_age=1800, expires=NOW + timedelta(hours=3))
    d = schedule.decide(h, EXACT, key="k", now=NOW)
    assert (d.next_due, d.reason) == (NOW + timedelta(minutes=30), "interval 15m raised to max-age 30m")
    h = schedule.History(last_attempt=NOW, max_age=0, expires=NOW + timedelta(hours=3))  # max-age=0: no hint
    assert schedule.decide(h, EXACT, key="k", now=NOW).next_due == NOW + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("cache_control", "expires", "stored", "want"),
    [
        (None, None, None, (None, None)),
        ("max-age=600", None, None, (600, None)),
        ("max-age=600", "in3h", None, (600, None)),  # RFC 9111 5.3: max-age wins over Expires
        ("no-cache", "in3h", None, (None, None)),  # no freshness hint at all
        ("no-store, max-age=600", "in3h", None, (None, None)),
        ("public", "in3h", None, (None, "in3h")),
        (None, "in3h", None, (None, "in3h")),
        (None, "garbage", None, (None, None)),
        # a 304 (stored given): a missing header keeps its stored value, one present replaces it
        (None, None, (600, None), (600, None)),
        (None, None, (None, "in1h"), (None, "in1h")),
        ("max-age=60", None, (600, None), (60, None)),
        ("max-age=60", None, (None, "in1h"), (60, None)),
        ("no-cache", None, (600, "in1h"), (None, None)),
        ("public", None, (600, None), (None, None)),
        (None, "in3h", (None, "in1h"), (None, "in3h")),
        (None, "0", (None, "in1h"), (None, None)),  # an invalid Expires means already expired
        (None, "in3h", (600, None), (600, None)),  # the stored max-age still beats Expires
    ],
)
def test_freshness_hints(cache_control: str | None, expires: str | None, stored: tuple[int | None, str | None] | None,
                         want: tuple[int | None, str | None]) -> None:
    times = {"in1h": NOW + timedelta(hours=1), "in3h": NOW + timedelta(hours=3)}

    def header(v: str | None) -> str | None:
        return _http_date(times[v]) if v in times else v

    prev = None if stored is None else (stored[0], times.get(stored[1] or ""))
    got = schedule.freshness_hints(cache_control, header(expires), NOW, stored=prev)
    assert got == (want[0], times.get(want[1] or ""))




# --------------------------------------------------------------------------------------------
# 5. a reload whose log file cannot be opened


def _daemon_at(path: Path) -> Daemon:
    """An in-process daemon on the config at `path`, with its store and pipeline (no scheduler)."""
    cfg = load_config(path)
    d = Daemon(path, cfg)
    d.store = Store.open(cfg.store_path)
    d.pipeline = Pipeline(cfg, d.store, keep_index=True)
    return d


def _close(d: Daemon) -> None:
    d.pipeline.close()
    if d._pending is not None:
        d._pending.close()
    d.store.close()


def test_reload_with_an_unopenable_log_file_keeps_the_previous_config(tmp_path: Path, server: FeedServer,
                                                                      caplog: pytest.LogCaptureFixture,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_POLICY_ENV, raising=False)
    server.routes["/f"] = conditional("f", lambda: 1)
    path = tmp_path / "feeds.toml"
    path.write_text(config_text([("f", server.url("/f"))]), encoding="utf-8")
    d = _daemon_at(path)
    try:
        old_cfg, old_pipeline = d.cfg, d.pipeline
        (tmp_path / "afile").write_text("a file where the log directory would be")
        path.write_text(config_text([("f", server.url("/f"))], extra='[daemon]\nlog_file = "afile/feeds.log"'),
                        encoding="utf-8")
        caplog.set_level(logging.INFO, logger="feeds")
        assert d.reload() is False
        assert d.cfg is old_cfg and d._pending is None
        assert "reload failed, keeping the previous config" in caplog.text
        # the config check now refuses a log file under a file before anything is opened (config.py); a
        # log file that passes it and still cannot be opened is refused by reload() the same way
        assert f"{path}: daemon.log_file: expected" in caplog.text
        d.tick()
        assert d.pipeline is old_pipeline and server.count("/f") == 1
    finally:
        _close(d)


def test_daemon_still_stops_after_a_failed_reload(tmp_path: Path, daemons: list[DaemonProcess],
                                                  server: FeedServer) -> None:
    server.routes["/f"] = conditional("f", lambda: 1)
    cfg = daemon_config(tmp_path, [("f", server.url("/f"))])
    d = DaemonProcess(cfg)
    daemons.append(d)
    d.wait_for(lambda: server.count("/f") >= 1, "the first fetch")  # signal handlers are installed
    (tmp_path / "afile").write_text("a file where the log directory would be")
    cfg.write_text(cfg.read_text().replace("shutdown_timeout = 2", 'shutdown_timeout = 2\nlog_file = "afile/x.log"'))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: "reload failed" in d.log(), "the reload to fail")
    rc, _ = d.terminate(timeout=30)  # before the fix the control thread had died: SIGTERM did nothing
    assert rc == 0, d.log()
    assert "daemon.log_file" in d.log() and "daemon stopped" in d.log()


# --------------------------------------------------------------------------------------------
# 6. channel regexes that compile alone but not joined


@pytest.mark.parametrize(
    ("key", "patterns"),
    [
        ("regex", ["(?i)ukraine"]),  # a global flag, not at the start once joined
        ("regex", ["kyiv", "(?s)war"]),
        ("regex", ["(?P<place>kyiv)", "(?P<place>kharkiv)"]),  # one group name twice
        ("exclude_regex", ["(?P<x>a)", "(?P<x>b)"]),
    ],
)
def test_channel_regexes_are_checked_as_the_matcher_joins_them(tmp_path: Path, key: str,
                                                               patterns: list[str]) -> None:
    text = config_text([("f", "http://127.0.0.1:9/f")]) + f"[channels.ua]\ntitle = \"UA\"\ninclude = [\"x\"]\n" \
        f"{key} = {json.dumps(patterns)}\n"
    with pytest.raises(ConfigError) as e:
        parse_config(text, tmp_path / "feeds.toml")
    assert (e.value.file, e.value.key) == (str(tmp_path / "feeds.toml"), f"channels.ua.{key}")
    assert "(?:p1)|(?:p2)" in e.value.expected and e.value.exit_code == 2
    # what does compile joined is still accepted, and the matcher uses it
    ok = parse_config(text.replace(f"{key} = {json.dumps(patterns)}", f'{key} = ["kyiv", "(?:war|peace)"]'),
                      tmp_path / "feeds.toml")
    assert ok.channels[1].slug == "ua"


def test_feeds_check_rejects_a_joined_regex_that_feeds_run_could_not_compile(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [("f", "http://127.0.0.1:9/f")])
    cfg.write_text(cfg.read_text().replace("match_all = true", 'regex = ["(?i)ukraine"]'), encoding="utf-8")
    for command in ("check", "run"):
        res = feeds_cli(cfg, command)
        assert res.returncode == 2, res.stderr
        assert f"feeds: config error: {cfg}: channels.all.regex: expected regular expressions" in res.stderr
        assert "Traceback" not in res.stderr


# --------------------------------------------------------------------------------------------
# 6b. the daemon's side of 6: a reload is checked, and its pipeline built, before it is accepted


def test_reload_of_a_regex_the_matcher_cannot_join_keeps_the_running_pipeline(
        tmp_path: Path, server: FeedServer, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_POLICY_ENV, raising=False)
    server.routes["/f"] = conditional("f", lambda: 1)
    server.routes["/g"] = conditional("g", lambda: 1)
    path = tmp_path / "feeds.toml"
    path.write_text(config_text([("f", server.url("/f"))]), encoding="utf-8")
    d = _daemon_at(path)
    try:
        d.tick()
        old_cfg, old_pipeline = d.cfg, d.pipeline
        bad = config_text([("f", server.url("/f")), ("g", server.url("/g"))])
        path.write_text(bad.replace("match_all = true", 'regex = ["(?i)ukraine"]'), encoding="utf-8")
        caplog.set_level(logging.INFO, logger="feeds")
        assert d.reload() is False
        assert "reload failed, keeping the previous config" in caplog.text and "channels.all.regex" in caplog.text
        assert d.cfg is old_cfg
        caplog.clear()
        d.tick()  # still the running (open) pipeline, no "tick failed"
        assert d.pipeline is old_pipeline
        assert "tick failed" not in caplog.text
        # a good reload: the next tick swaps in the pipeline the reload built
        path.write_text(bad, encoding="utf-8")
        assert d.reload() is True
        built = d._pending
        assert built is not None and built.cfg is d.cfg
        d.tick()
        assert d.pipeline is built and server.count("/g") == 1
    finally:
        _close(d)


# --------------------------------------------------------------------------------------------
# 8. control characters in config text that is published


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('title = "All"', 'title = "All\\u000bnews"', "channels.all.title"),
        ('title = "All"', 'title = "All"\ndescription = "every\\u0000thing"', "channels.all.description"),
        ('name = "f"', 'name = "f\\u001fsource"', "sources[0].name"),
        ('dir = "out"', 'dir = "out"\ntitle = "my \\u0008feeds"', "output.title"),
        ('dir = "out"', 'dir = "out"\nauthor = "me\\u000c"', "output.author"),
        ('dir = "out"', 'dir = "out"\ntitle = "\\uffff"', "output.title"),
        ("match_all = true", 'include = ["ok", "not\\u0001ok"]', "channels.all.include[1]"),
    ],
)
def test_control_characters_in_config_text_are_rejected(tmp_path: Path, old: str, new: str, key: str) -> None:
    cfg = write_config(tmp_path, [("f", "http://127.0.0.1:9/f")])
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert (e.value.file, e.value.key, e.value.expected) == (str(cfg), key, "text without control characters")
    res = feeds_cli(cfg, "check")
    assert res.returncode == 2 and f"{cfg}: {key}: expected text without control characters" in res.stderr


def test_tabs_and_newlines_in_config_text_are_fine(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [("f", "http://127.0.0.1:9/f")])
    cfg.write_text(cfg.read_text().replace('title = "All"', 'title = "All\\tof it"\ndescription = """one\r\ntwo"""'),
                   encoding="utf-8")
    assert load_config(cfg).channels[0].title == "All\tof it"
