"""The wall clock is wrong for a while (a machine booting with a bad real-time clock before NTP corrects it,
a restored snapshot): one run under a clock set ahead must not stop fetching, nor story grouping, once the
clock is put right. Loopback server, real store, an injected clock (`Pipeline(now=...)`)."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

import feedparser
import pytest
from test_scheduling_pipeline import FeedServer, Reply, Rig, rig_factory, server, server2, words  # noqa: F401  (fixtures)

from feeds.status import fmt_duration


def doc(name: str, entries: list[tuple[int, str, datetime | None]]) -> bytes:
    """An Atom feed of (id, title, date or None: undated) entries."""
    out = "".join(
        f"<entry><id>urn:clock:{name}:{i}</id><title>{escape(title)}</title>"
        f'<link href="https://example.org/{name}/{i}"/>'
        + (f"<updated>{d.isoformat().replace('+00:00', 'Z')}</updated>" if d is not None else "")
        + f"<summary>{escape(title)}</summary></entry>"
        for i, title, d in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{name}</title>'
            f"<id>urn:clock:{name}</id><updated>2024-01-01T00:00:00Z</updated>{out}</feed>").encode()


def serve(server: FeedServer, docs: dict[str, bytes]) -> None:  # noqa: F811
    """Each /name answers docs[name] as it is at the request (the test replaces them between runs)."""
    def route(name: str) -> Callable[[object], Reply]:
        return lambda _req: Reply(200, docs[name], {"Content-Type": "application/atom+xml"})

    for n in docs:
        server.routes[f"/{n}"] = route(n)


def test_one_run_under_a_clock_set_ahead_does_not_stop_fetching(server: FeedServer,  # noqa: F811
                                                                rig_factory: Callable[..., Rig]) -> None:  # noqa: F811
    docs = {"a": doc("a", [(1, "Alpha one", None)]), "b": doc("b", [(1, "Beta one", None)])}
    serve(server, docs)
    rig = rig_factory([("a", server.url("/a")), ("b", server.url("/b"))])
    t0 = rig.clock.t
    assert rig.pipe.run().due == 2
    rig.clock.t = t0 + timedelta(days=365)  # a run under a clock a year ahead ...
    assert rig.pipe.run().due == 2
    rig.clock.t = t0 + timedelta(hours=1)  # ... then the clock put right: both are due again at once
    report = rig.pipe.run()
    assert report.due == 2, [(r.name, r.next_due) for r in rig.store.sources()]
    # and polled on their interval from then on
    assert rig.pipe.run().due == 0
    rig.clock.t += timedelta(minutes=16)
    assert rig.pipe.run().due == 2


def test_a_report_stored_under_a_clock_set_ahead_does_not_end_story_grouping(server: FeedServer,  # noqa: F811
                                                                             rig_factory: Callable[..., Rig]) -> None:  # noqa: F811
    docs = {"a": doc("a", []), "b": doc("b", []), "c": doc("c", [])}
    serve(server, docs)
    rig = rig_factory([("a", server.url("/a")), ("b", server.url("/b")), ("c", server.url("/c"))])
    t0 = rig.clock.t
    rig.clock.t = t0 + timedelta(days=365)  # an undated item is dated when first seen: a year ahead
    docs["c"] = doc("c", [(1, "Weekly notes from the garden shed", None)])
    assert rig.pipe.run(force_all=True).new_items == 1
    rig.clock.t = t0
    docs["a"] = doc("a", [(1, "Earthquake of magnitude 7.1 strikes off northern Japan coast", t0 - timedelta(hours=1))])
    rig.pipe.run(force_all=True)
    rig.clock.t = t0 + timedelta(minutes=20)
    docs["b"] = doc("b", [(1, "Magnitude 7.1 earthquake strikes off coast of northern Japan", t0)])
    rig.pipe.run(force_all=True)
    d = feedparser.parse((rig.cfg.output.dir / "all.atom").read_bytes())
    quakes = [e for e in d.entries if "Japan" in e.title]
    assert len(quakes) == 1, [e.title for e in d.entries]  # one story, the other report linked
    assert [link.href for link in quakes[0].links if link.rel == "related"], quakes[0].links


def http_date(t: datetime) -> str:
    return email.utils.format_datetime(t, usegmt=True)


@pytest.mark.parametrize("clock_right", [False, True])
def test_keep_is_not_applied_under_a_clock_far_ahead_of_the_servers(server: FeedServer, server2: FeedServer,  # noqa: F811
                                                                   rig_factory: Callable[..., Rig],  # noqa: F811
                                                                   clock_right: bool) -> None:
    # one run under a clock set two years ahead forgot the stories older than keep by that clock, for good
    t0 = datetime.now(UTC).replace(microsecond=0)
    served = {"date": t0}
    headers = {"Content-Type": "application/atom+xml"}

    def route(body: bytes) -> Callable[[object], Reply]:
        return lambda _req: Reply(200, body, {**headers, "Date": http_date(served["date"])})

    for s, name in ((server, "a"), (server2, "b")):
        s.routes[f"/{name}"] = route(doc(name, [(i, words(f"{name}{i}"), t0 - timedelta(hours=i)) for i in (1, 2, 3)]))
    rig = rig_factory([("a", server.url("/a")), ("b", server2.url("/b"))],
                      edit=lambda t: t.replace('path = "var/feeds.db"', 'path = "var/feeds.db"\nkeep = "30d"')
                      .replace('dir = "out"', 'dir = "out"\nentries = 1\narchive = false'))
    rig.clock.t = t0
    assert rig.pipe.run().new_items == 6
    rig.clock.t = t0 + timedelta(days=730)
    if clock_right:
        served["date"] = rig.clock.t
    rig.pipe.run(force_all=True)
    items = rig.store.counts()["items"]
    assert items < 6 if clock_right else items == 6, items  # the servers still say t0: nothing forgotten
    if not clock_right:
        # the next day's run with the network down: the recorded clock offset (clock.ahead) still holds keep back
        rig.clock.t += timedelta(days=1)
        server.routes.clear()
        server2.routes.clear()
        rig.pipe.run(force_all=True)
        assert rig.store.counts()["items"] == 6


def test_dates_a_server_gives_are_read_on_its_own_clock(server: FeedServer, server2: FeedServer,  # noqa: F811
                                                        rig_factory: Callable[..., Rig]) -> None:  # noqa: F811
    # a server two hours fast asking for two minutes (Retry-After as a date) held its host two hours; one a
    # day fast whose Expires meant an hour made its source wait a day (RFC 9111: Expires minus Date)
    headers = {"Content-Type": "application/atom+xml"}
    # (two hosts: the busy one's Retry-After holds back every fetch of its host)
    rig = rig_factory([("busy", server.url("/busy")), ("cached", server2.url("/cached"))])
    now = rig.clock.t
    fast, faster = now + timedelta(hours=2), now + timedelta(days=1)
    server.routes["/busy"] = lambda _req: Reply(503, b"busy", {"Date": http_date(fast),
                                                               "Retry-After": http_date(fast + timedelta(minutes=2))})
    server2.routes["/cached"] = lambda _req: Reply(200, doc("cached", [(1, "Cached one", now - timedelta(hours=1))]),
                                                  {**headers, "Date": http_date(faster), "Age": "600",
                                                   "Expires": http_date(faster + timedelta(hours=1))})
    rig.pipe.run()
    busy, cached = rig.row("busy"), rig.row("cached")
    assert busy.next_due is not None and busy.next_due <= (now + timedelta(minutes=15)).timestamp()  # its backoff
    # the interval (15m) raised to what is left of the hour: a cache held the copy 10 minutes (Age)
    assert cached.next_due == (now + timedelta(minutes=50)).timestamp()


def test_a_hold_recorded_under_a_clock_set_ahead_does_not_hold_the_host_for_good(server: FeedServer,  # noqa: F811
                                                                               rig_factory: Callable[..., Rig]) -> None:  # noqa: F811
    # a 429 asking for an hour during a run under a clock a year ahead: its host's hold, stored by that clock,
    # held every fetch of the host for a year once the clock was put right
    rig = rig_factory([("a", server.url("/a"))])
    t0 = rig.clock.t
    server.routes["/a"] = lambda _req: Reply(429, b"slow down", {"Retry-After": "3600"})
    rig.clock.t = t0 + timedelta(days=365)
    rig.pipe.run()
    assert rig.store.host_retry_after()  # the hold, a year ahead of the real time
    server.routes["/a"] = lambda _req: Reply(200, doc("a", [(1, "Alpha one", t0 - timedelta(hours=1))]),
                                             {"Content-Type": "application/atom+xml"})
    rig.clock.t = t0 + timedelta(hours=3)
    report = rig.pipe.run()
    assert (report.due, report.held, report.new_items) == (1, 0, 1), report
    # and it is gone: ignored only while further ahead than any hold, it came back for its last 7 days
    assert rig.store.host_retry_after() == {}


def test_status_check_fails_when_the_clock_was_set_back_further_than_max_age_and_nothing_fetched_since(
        server: FeedServer, rig_factory: Callable[..., Rig]) -> None:  # noqa: F811
    """A run under a clock a day ahead, the clock put right, and then nothing runs (cron stopped): the check said
    "OK: last successful fetch 23h59m in the future" for the whole day, since the schedule makes such a source due
    now at every check (never overdue) and a success dated ahead never ages (a mutation survey of status.py).
    A fetch dated further ahead than --max-age now fails the check until a run fetches by this clock; a clock
    set ahead by less than --max-age is left to the usual rules (they fire within --max-age of its dates)."""
    from feeds.status import check, collect

    serve(server, {"a": doc("a", [(1, "Alpha one", None)]), "b": doc("b", [(1, "Beta one", None)])})
    gone = {"yet": False}  # a third source answers 410 to the run under the clock ahead: never fetched again
    server.routes["/gone"] = lambda req: Reply(410, b"gone") if gone["yet"] else Reply(200, docs["c"])
    docs = {"c": doc("c", [(1, "Gamma one", None)])}
    rig = rig_factory([("a", server.url("/a")), ("b", server.url("/b")), ("gone", server.url("/gone"))])
    t0 = rig.clock.t
    max_age = timedelta(hours=2)

    def at(t: datetime) -> tuple[bool, tuple[str, ...]]:
        got = check(collect(rig.cfg, now=t), max_age, 0.5)
        return got.ok, got.problems

    rig.clock.t = t0 + timedelta(hours=1)  # ahead by less than --max-age: no page for a small correction
    rig.pipe.run()
    assert at(t0) == (True, ())
    rig.clock.t = t0 + timedelta(days=1)  # a run under a clock a day ahead ...
    gone["yet"] = True
    rig.pipe.run()
    for later in (timedelta(0), timedelta(hours=3), timedelta(hours=12)):  # ... then put right, and nothing runs
        ok, problems = at(t0 + later)
        assert not ok
        assert problems == (f"2 of 3 sources last fetched {fmt_duration(timedelta(days=1) - later)} in the future "
                            "(a), more than --max-age 2h ahead: the clock was set back since, and nothing has "
                            "fetched them by this clock: is cron or the daemon running?",)
    rig.clock.t = t0 + timedelta(hours=12, minutes=5)  # a run by this clock fetches both at once: OK again (the
    # gone source, never fetched again, is no problem for its date)
    assert rig.pipe.run().due == 2
    assert at(rig.clock.t) == (True, ())


def test_status_check_says_when_a_source_fetched_under_a_clock_ahead_is_held_by_its_hosts_retry_after(
        server: FeedServer, rig_factory: Callable[..., Rig]) -> None:  # noqa: F811
    """The clock-set-back check's "is cron or the daemon running?" was wrong for a source whose host answered 503
    with Retry-After under the clock ahead: the hold is kept by this clock for the day the clock was ahead plus
    what was asked, so no run fetches the source meanwhile, however often cron runs. The check says it is held,
    for how long, and how to ask anyway (and `run --all` does, and the check is OK after it)."""
    from feeds.status import check, collect

    # one source: with two on the host, the second is asked or held back in that run as the fetch threads go
    serve(server, {"a": doc("a", [(1, "Alpha one", None)])})
    rig = rig_factory([("a", server.url("/a"))])
    t0 = rig.clock.t
    rig.pipe.run()
    rig.clock.t = t0 + timedelta(days=1)
    server.routes["/a"] = lambda _req: Reply(503, b"busy", {"Retry-After": "3600"})
    rig.pipe.run()
    serve(server, {"a": doc("a", [(1, "Alpha one", None)])})
    rig.clock.t = now = t0 + timedelta(hours=1)  # put right; cron runs, and fetches nothing: the host is held
    assert rig.pipe.run().due == 0
    got = check(collect(rig.cfg, now=now), timedelta(hours=2), 0.5)
    assert not got.ok
    assert got.problems == ("1 of 1 sources last fetched 23h in the future (a), more than --max-age 2h ahead: the "
                            "clock was set back since, and nothing has fetched them by this clock: they are held "
                            "for 1d more by a host's Retry-After answered under the clock ahead (`feeds run "
                            "--all` asks them now)",)
    assert rig.pipe.run(force_all=True).due == 1
    assert check(collect(rig.cfg, now=now), timedelta(hours=2), 0.5).ok
