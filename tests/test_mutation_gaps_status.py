"""What a mutation survey of feeds/status.py found unpinned: `feeds status --check` at the exact edges of
--max-age and --max-broken (the README: "longer than --max-age", "more than --max-broken"), a fetch tried within
--max-age that failed while a rarely polled source waits, and what `--json` says to a monitoring script.

Every test drives a real store: real runs of the pipeline over a loopback server at an injected time (the
rig of test_scheduling_pipeline, no jitter), then `status_main` at a chosen time, as test_status.py does."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from test_scheduling_pipeline import FeedServer, Reply, Rig, conditional, rig_factory, server

from feeds.status import status_main

__all__ = ["rig_factory", "server"]  # fixtures shared with test_scheduling_pipeline


def status(rig: Rig, capsys: pytest.CaptureFixture[str], now: datetime, **kw: object) -> tuple[int, str]:
    """`feeds status` with these options (the CLI's defaults otherwise) over the rig's store, at ``now``."""
    capsys.readouterr()
    base: dict[str, object] = {"json": False, "check": False, "max_age": "2h", "max_broken": 0.5, "quiet": False}
    code = status_main(rig.cfg, argparse.Namespace(**{**base, **kw}), now=now)
    return code, capsys.readouterr().out


def at_interval(name: str, interval: str) -> Callable[[str], str]:
    """A config edit giving source ``name`` its own interval."""
    return lambda text: text.replace(f'name = "{name}"\n', f'name = "{name}"\ninterval = "{interval}"\n')


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


# -- the last successful fetch: "within --max-age" includes --max-age itself -----------------------------------

def test_a_success_exactly_max_age_ago_is_still_within_it(rig_factory: Callable[..., Rig], server: FeedServer,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Kills M01 (``now - last > max_age`` made ``>=``): a source whose fetch worked exactly --max-age ago is
    fresh (the mutant paged, saying every fetch tried within --max-age failed, of that very success). Kills M37
    (a day read as an hour): `--max-age 1d` leaves a source fetched 3h ago, due 90m ago, alone."""
    server.routes["/a"] = conditional("a", lambda: 1)
    rig = rig_factory([("a", server.url("/a"))], edit=at_interval("a", "90m"))
    rig.pipe.run()
    t0 = rig.clock.t
    row = rig.row("a")
    assert (row.last_success, row.next_due) == (t0.timestamp(), (t0 + timedelta(minutes=90)).timestamp())
    code, out = status(rig, capsys, t0 + timedelta(hours=2), check=True)
    assert (code, out) == (0, "OK: last successful fetch 2h ago, 0 of 1 sources broken\n")
    code, out = status(rig, capsys, t0 + timedelta(hours=3), check=True, max_age="1d")
    assert (code, out) == (0, "OK: last successful fetch 3h ago, 0 of 1 sources broken\n")


# -- a rarely polled source: its next poll "not --max-age overdue" includes --max-age itself -------------------

def test_a_rare_source_due_exactly_max_age_ago_is_neither_overdue_nor_stale(
        rig_factory: Callable[..., Rig], server: FeedServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Kills M05 (the overdue test ``> max_age`` made ``>=``) and M15 (``_waiting``'s ``<= max_age`` made ``<``):
    a 6h source fetched 8h ago was due 2h ago, exactly --max-age: not yet "due for longer than --max-age", and
    still waiting for its next poll, so its 8h-old success is no problem; one second later both are."""
    server.routes["/slow"] = conditional("slow", lambda: 1)
    rig = rig_factory([("slow", server.url("/slow"))], edit=at_interval("slow", "6h"))
    rig.pipe.run()
    t0 = rig.clock.t
    assert rig.row("slow").next_due == (t0 + timedelta(hours=6)).timestamp()
    code, out = status(rig, capsys, t0 + timedelta(hours=8), check=True)
    assert (code, out) == (0, "OK: last successful fetch 8h ago, 0 of 1 sources broken\n")
    code, out = status(rig, capsys, t0 + timedelta(hours=8, seconds=1), check=True)
    assert code == 3 and out.splitlines() == [
        "CHECK FAILED: last successful fetch was 8h ago, longer than --max-age 2h (and no source whose last fetch "
        "worked waits for its next poll)",
        "CHECK FAILED: 1 of 1 sources due for longer than --max-age 2h and not fetched (slow was due 2h ago): is cron "
        "or the daemon running?"], out


# -- a fetch tried exactly --max-age ago that failed is "tried within --max-age" -----------------------------------

def test_a_failure_exactly_max_age_ago_is_not_hidden_by_a_rare_source_waiting(
        rig_factory: Callable[..., Rig], server: FeedServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Kills M02 (``tried``'s ``<= max_age`` made ``<``): the hourly source's fetch failed exactly --max-age ago
    and none worked since, while a 6h source that worked 5h ago waits for its next poll: an outage (the README:
    "unless a fetch tried within --max-age failed"). The mutant let the waiting source hide it."""
    up = {"fast": True}
    server.routes["/fast"] = lambda req: conditional("fast", lambda: 1)(req) if up["fast"] else Reply(500, b"boom")
    server.routes["/slow"] = conditional("slow", lambda: 1)
    rig = rig_factory([("fast", server.url("/fast")), ("slow", server.url("/slow"))], edit=at_interval("slow", "6h"))
    rig.pipe.run()
    t0 = rig.clock.t
    up["fast"] = False
    rig.clock.advance(timedelta(hours=3))
    rig.pipe.run()  # fast is due and fails; slow is due at t0 + 6h
    failed_at = rig.clock.t
    fast = rig.row("fast")
    assert (fast.state, fast.last_attempt, fast.last_success) == ("backoff", failed_at.timestamp(), t0.timestamp())
    assert rig.row("slow").last_attempt == t0.timestamp()
    code, out = status(rig, capsys, failed_at + timedelta(hours=2), check=True)
    assert code == 3 and out.splitlines() == [
        "CHECK FAILED: last successful fetch was 5h ago, longer than --max-age 2h: every fetch since failed (1 tried "
        "within it)"], out
    # a second later that failure is older than --max-age: the slow source, waiting, is all there is to go by
    code, out = status(rig, capsys, failed_at + timedelta(hours=2, seconds=1), check=True)
    assert (code, out) == (0, "OK: last successful fetch 5h ago, 0 of 2 sources broken\n")


# -- --max-broken: "more than" the share, not the share itself ---------------------------------------------------

def test_exactly_max_broken_of_the_sources_gone_is_no_problem(rig_factory: Callable[..., Rig], server: FeedServer,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Kills M09 (``len(broken) / len(sources) > max_broken`` made ``>=``): one of two sources gone is 50%, not
    more than --max-broken 0.5; --max-broken 0.4 pages. Kills M17 and M18 (the share's range made ``0 <`` or
    ``< 1``): --max-broken 0 (page on any broken source) and 1 are shares the CLI takes, and status checks with
    them instead of exiting 2."""
    server.routes["/ok"] = conditional("ok", lambda: 1)
    server.routes["/gone"] = lambda req: Reply(410, b"")
    rig = rig_factory([("ok", server.url("/ok")), ("gone", server.url("/gone"))])
    rig.pipe.run()
    assert rig.row("gone").state == "gone"
    code, out = status(rig, capsys, rig.clock.t, check=True)
    assert (code, out) == (0, "OK: last successful fetch 0s ago, 1 of 2 sources broken or gone\n")
    code, out = status(rig, capsys, rig.clock.t, check=True, max_broken=0.4)
    assert code == 3 and out.splitlines() == [
        "CHECK FAILED: 1 of 2 sources broken or gone (50%), more than --max-broken 0.4: gone"], out
    code, out = status(rig, capsys, rig.clock.t, check=True, max_broken=0.0)
    assert code == 3 and out.splitlines() == [
        "CHECK FAILED: 1 of 2 sources broken or gone (50%), more than --max-broken 0: gone"], out
    code, out = status(rig, capsys, rig.clock.t, check=True, json=True, max_broken=1.0)
    assert code == 0 and json.loads(out)["check"]["broken"] == 1


# -- publishing failing: a problem once "longer than --max-age", not at --max-age --------------------------------

def test_publishing_failing_for_exactly_max_age_is_not_yet_a_problem(
        rig_factory: Callable[..., Rig], server: FeedServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Kills M11 (the publish failure's ``> max_age`` made ``>=``): failing for exactly --max-age is said on the
    OK line; one second longer it is the check's one problem."""
    server.routes["/a"] = conditional("a", lambda: 1)
    rig = rig_factory([("a", server.url("/a"))], edit=at_interval("a", "6h"))
    (rig.cfg.output.dir / "all.atom").mkdir(parents=True)  # where the channel's document must go: a write fails
    report = rig.pipe.run()
    assert len(report.publish_errors) == 1
    since = rig.clock.t
    code, out = status(rig, capsys, since + timedelta(hours=2), check=True)
    assert code == 0 and out.startswith("OK: last successful fetch 2h ago, 0 of 1 sources broken; publishing "
                                        "failing since 2h ago (a problem once longer than --max-age 2h): "), out
    code, out = status(rig, capsys, since + timedelta(hours=2, seconds=1), check=True)
    assert code == 3 and len(out.splitlines()) == 1 and out.startswith("CHECK FAILED: publishing failing since 2h ago, "
                                                                      "longer than --max-age 2h: "), out


# -- --json: what a monitoring script reads --------------------------------------------------------------------

def test_json_says_each_field_a_monitoring_script_reads(rig_factory: Callable[..., Rig], server: FeedServer,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Kills M24 (``check.max_age`` not in seconds), M28 and M29 (a source's ``last_success`` / ``last_attempt``
    left as epoch numbers) and M33 (a channel's ``pending`` always false); pins beside them what existing tests
    also kill: ``check.broken`` (M21), ``check.sources`` without a disabled source (M22), ``last_new`` (M30),
    ``failures`` (M31), ``publish_failure.since`` as a time (M45)."""
    version = {"v": 2}
    server.routes["/ok"] = conditional("ok", lambda: version["v"])
    server.routes["/fail"] = lambda req: Reply(500, b"boom")
    server.routes["/gone"] = lambda req: Reply(410, b"")
    server.routes["/off"] = conditional("off", lambda: 1)
    rig = rig_factory([("ok", server.url("/ok")), ("fail", server.url("/fail")), ("gone", server.url("/gone")),
                       ("off", server.url("/off"))],
                      edit=lambda t: t.replace('name = "off"\n', 'name = "off"\nenabled = false\n'))
    rig.pipe.run()
    t0 = rig.clock.t
    rig.clock.advance(timedelta(minutes=30))
    version["v"] = 3
    (rig.cfg.output.dir / "all.atom").rename(rig.cfg.output.dir / "all.atom.bak")
    (rig.cfg.output.dir / "all.atom").mkdir()  # this run's publish fails: the channel stays to publish
    report = rig.pipe.run()
    assert len(report.publish_errors) == 1
    t1 = rig.clock.t
    code, out = status(rig, capsys, t1 + timedelta(minutes=10), check=True, json=True, max_age="90m")
    doc = json.loads(out)
    assert code == 0
    assert doc["check"] == {"ok": True, "problems": [], "max_age": 5400.0, "max_broken": 0.5, "broken": 1,
                            "sources": 3, "last_success": iso(t1)}
    by = {s["name"]: s for s in doc["sources"]}
    assert {k: by["ok"][k] for k in ("state", "last_attempt", "last_success", "next_due", "items", "last_new",
                                     "failures", "due", "http_status")} == {
        "state": "ok", "last_attempt": iso(t1), "last_success": iso(t1), "next_due": iso(t1 + timedelta(minutes=15)),
        "items": 3, "last_new": 1, "failures": 0, "due": False, "http_status": 200}
    assert {k: by["fail"][k] for k in ("state", "last_attempt", "last_success", "failures", "http_status")} == {
        "state": "backoff", "last_attempt": iso(t1), "last_success": None, "failures": 2, "http_status": 500}
    assert (by["gone"]["state"], by["gone"]["last_attempt"], by["gone"]["next_due"]) == ("gone", iso(t0), None)
    assert (by["off"]["state"], by["off"]["last_attempt"], by["off"]["due"]) == ("disabled", None, False)
    assert [(c["slug"], c["pending"]) for c in doc["channels"]] == [("all", True)]
    assert doc["publish_failure"]["since"] == iso(t1) and doc["publish_failure"]["errors"] == 1


# -- a source whose last fetch failed does not wait for its next poll -------------------------------------------

def test_a_rare_source_whose_last_fetch_failed_is_not_waiting(rig_factory: Callable[..., Rig], server: FeedServer,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Kills M14 (``_waiting`` without "its last fetch worked"): a 6h source failed its poll, and nothing ran
    since; once that failure is older than --max-age (its retry not yet --max-age overdue) the check pages: no
    fetch worked within --max-age and no source whose last fetch worked waits (its retry, 6h on, is no wait for
    a poll that works). The mutant said OK."""
    up = {"v": True}
    server.routes["/slow"] = lambda req: conditional("slow", lambda: 1)(req) if up["v"] else Reply(500, b"boom")
    rig = rig_factory([("slow", server.url("/slow"))], edit=at_interval("slow", "6h"))
    rig.pipe.run()
    t0 = rig.clock.t
    up["v"] = False
    rig.clock.advance(timedelta(hours=6))
    rig.pipe.run()
    failed_at = rig.clock.t
    row = rig.row("slow")
    assert (row.state, row.last_attempt, row.last_success) == ("backoff", failed_at.timestamp(), t0.timestamp())
    assert row.next_due == (failed_at + timedelta(hours=6)).timestamp()  # (retried at its interval)
    code, out = status(rig, capsys, failed_at + timedelta(hours=2), check=True)
    assert code == 3 and "every fetch since failed (1 tried within it)" in out, out
    code, out = status(rig, capsys, failed_at + timedelta(hours=2, seconds=1), check=True)
    assert code == 3 and out.splitlines()[0] == (
        "CHECK FAILED: last successful fetch was 8h ago, longer than --max-age 2h (and no source whose last fetch "
        "worked waits for its next poll)"), out


# -- the newest success is the one that counts ----------------------------------------------------------------

def test_the_newest_success_of_any_source_is_the_last_successful_fetch(
        rig_factory: Callable[..., Rig], server: FeedServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Kills M20 (``max(successes)`` made ``min``) and M23 (``check.last_success`` null in --json): a 6h source
    fetched 3h ago beside a 15m source fetched now: the last successful fetch is now, and the check is OK."""
    server.routes["/fast"] = conditional("fast", lambda: 1)
    server.routes["/slow"] = conditional("slow", lambda: 1)
    rig = rig_factory([("fast", server.url("/fast")), ("slow", server.url("/slow"))], edit=at_interval("slow", "6h"))
    rig.pipe.run()
    t0 = rig.clock.t
    rig.clock.advance(timedelta(hours=3))
    rig.pipe.run()  # fast only
    assert rig.row("slow").last_success == t0.timestamp() and rig.row("fast").last_success == rig.clock.t.timestamp()
    code, out = status(rig, capsys, rig.clock.t + timedelta(minutes=5), check=True)
    assert (code, out) == (0, "OK: last successful fetch 5m ago, 0 of 2 sources broken\n")
    code, out = status(rig, capsys, rig.clock.t + timedelta(minutes=5), check=True, json=True)
    assert code == 0 and json.loads(out)["check"]["last_success"] == iso(rig.clock.t)


def test_a_source_never_fetched_is_due_now_in_json(rig_factory: Callable[..., Rig], server: FeedServer,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Kills M32 (a never-fetched source's ``due`` false): a source added to the config since the last run is
    new and due now."""
    server.routes["/a"] = conditional("a", lambda: 1)
    rig = rig_factory([("a", server.url("/a"))])
    rig.pipe.run()
    added = rig_factory([("a", server.url("/a")), ("b", server.url("/a") + "?b")])
    code, out = status(added, capsys, rig.clock.t, json=True)
    b = {s["name"]: s for s in json.loads(out)["sources"]}["b"]
    assert code == 0 and (b["state"], b["due"], b["next_due"], b["reason"]) == ("new", True, iso(rig.clock.t),
                                                                              "never fetched")
