"""The wall clock is wrong for a while (a machine booting with a bad real-time clock before NTP corrects it,
a restored snapshot): one run under a clock set ahead must not stop fetching, nor story grouping, once the
clock is put right. Loopback server, real store, an injected clock (`Pipeline(now=...)`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

import feedparser
from test_scheduling_pipeline import FeedServer, Reply, Rig, rig_factory, server  # noqa: F401  (fixtures)


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
