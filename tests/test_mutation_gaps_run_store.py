"""Behaviours of the pipeline (feeds/run.py) and the SQLite store (feeds/store/sql.py) that a mutation survey
found no test pinned.

Each test drives the real pipeline over feed files (or a loopback HTTP server) into a real SQLite file and reads
what a user sees -- the published documents parsed back with feedparser, or the store's rows -- with the input
placed exactly where a flipped comparison, a dropped clause or a changed tie-break would give another answer.
The docstring of each names the behaviour and the mutant it kills.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
from feedgen_util import rss
from store_util import query as rows
from test_history_costs import traced
from test_pipeline import NOW, Clock, setup
from test_scheduling_pipeline import FeedServer, Reply, Rig, Seen, feed_reply, rig_factory, server

from feeds import status
from feeds.config import parse_config
from feeds.run import Pipeline
from feeds.store import Store

__all__ = ["rig_factory", "server"]  # fixtures, imported for pytest

NO_STORIES = "[stories]\nenabled = false\n"


def make(tmp: Path, sources: dict[str, str], extra: str = "", channels: str = "",
         output: str = "") -> tuple[Pipeline, Store, Clock]:
    """A pipeline over the feed files ``<name>.xml`` of ``sources`` (name -> more keys of that source, e.g.
    'interval = "20m"'), an injected clock at NOW, one channel ``all`` taking everything unless ``channels``
    gives others, ``output``: more keys of [output], and ``extra`` config."""
    channels = channels or '[channels.all]\ntitle = "All"\nmatch_all = true'
    srcs = "".join(f'[[sources]]\nurl = "{name}.xml"\nname = "{name}"\n{more}\n' for name, more in sources.items())
    cfg = parse_config(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
{output}
[store]
path = "feeds.db"
{extra}
{srcs}
{channels}
""", tmp / "feeds.toml")
    clock = Clock(NOW)
    store = Store.open(cfg.store_path)
    return Pipeline(cfg, store, now=clock), store, clock


def writes(statements: list[str]) -> list[str]:
    """The statements among ``statements`` (as SQLite ran them) that write."""
    return [q for q in statements if q.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "REPLACE"))]


def entries(tmp: Path, slug: str = "all") -> list[feedparser.FeedParserDict]:
    return feedparser.parse((tmp / "out" / f"{slug}.atom").read_bytes()).entries


# --------------------------------------------------------------------------------------------
# identity: when a source's entry under a new id is the post it stored, and when it is another


def test_an_entry_dated_one_second_after_a_stored_post_of_its_title_is_another_post(tmp_path: Path) -> None:
    """A source whose entries have ids and links, listing a post under a stored post's title but with a new id, a
    new link and a date one second later, publishes a second post: `_same_post` takes both-known entries for
    one post only at the same date (under a second apart). Kills `abs(...) >= 1.0` -> `> 1.0` in `_same_post`,
    under which the stored post was overwritten by the new one's text."""
    at = NOW - timedelta(hours=2, minutes=13, seconds=7)  # not a whole hour: the time of day tells the post
    first = {"title": "Scheduled maintenance of the billing service", "guid": "m-1",
             "link": "https://status.example/notices/1", "date": at, "summary": "Billing is down from 02:00."}
    pipe, store, clock = setup(tmp_path, {"s": rss([first])}, extra=NO_STORIES)
    pipe.run(force_all=True)
    second = {"title": first["title"], "guid": "m-2", "link": "https://status.example/notices/2",
              "date": at + timedelta(seconds=1), "summary": "Invoices are delayed by a day."}
    (tmp_path / "s.xml").write_bytes(rss([second]))
    clock.t = NOW + timedelta(minutes=30)
    pipe.run(force_all=True)
    assert sorted(e.summary for e in entries(tmp_path)) == ["Billing is down from 02:00.",
                                                            "Invoices are delayed by a day."]
    assert rows(tmp_path / "feeds.db", "SELECT count(*) FROM items") == [(2,)]


def test_a_post_an_hour_after_the_last_at_the_same_page_is_the_next_post(tmp_path: Path) -> None:
    """A page that shows its newest post under one title (an hourly bulletin at one URL, each with its own id
    and text) publishes each post: an entry at a stored post's link and title, with another id, dated a whole
    SAME_PAGE_POST (one hour) later and with other text is the page's next post, not that post revised. Kills
    `<` -> `<=` in `_same_page_post`, under which the hourly bulletin overwrote the last one."""
    at = NOW - timedelta(hours=3)
    first = {"title": "Hourly traffic bulletin", "guid": "b-1", "link": "https://radio.example/traffic",
             "date": at, "summary": "The ring road is closed at exit 4."}
    pipe, store, clock = setup(tmp_path, {"s": rss([first])}, extra=NO_STORIES)
    pipe.run(force_all=True)
    second = dict(first, guid="b-2", date=at + timedelta(hours=1), summary="The bridge is open again.")
    (tmp_path / "s.xml").write_bytes(rss([second]))
    clock.t = NOW + timedelta(minutes=5)
    pipe.run(force_all=True)
    assert sorted(e.summary for e in entries(tmp_path)) == ["The bridge is open again.",
                                                            "The ring road is closed at exit 4."]


def test_a_new_post_under_a_title_the_document_still_lists_is_its_own_post(tmp_path: Path) -> None:
    """Within one source the same title is one item only for the same post, "never while the earlier item is
    still listed under its id" (docs/hardening.md): a changelog dated by the day (midnight) whose next entry
    reuses the title of one it still lists, with a text that differs only in its numbers, is a second post. Kills
    dropping ``item_id not in listed`` from `_ingest`'s own-title match, under which the new entry was taken
    for the listed one revised: its post lost, the listed entry's text overwritten."""
    day = (NOW - timedelta(days=1)).replace(hour=0, minute=0, second=0)
    a = {"title": "Dependency updates", "guid": "c-1", "link": "https://dev.example/log/1", "date": day,
         "summary": "Bumped the parser to 4.17.21."}
    pipe, store, clock = setup(tmp_path, {"s": rss([a])}, extra=NO_STORIES)
    pipe.run(force_all=True)
    b = {"title": "Dependency updates", "guid": "c-2", "link": "https://dev.example/log/2", "date": day,
         "summary": "Bumped the parser to 4.17.22."}
    (tmp_path / "s.xml").write_bytes(rss([b, a]))
    clock.t = NOW + timedelta(hours=1)
    pipe.run(force_all=True)
    assert sorted(e.summary for e in entries(tmp_path)) == ["Bumped the parser to 4.17.21.",
                                                            "Bumped the parser to 4.17.22."]


def test_two_entries_of_one_document_a_second_apart_are_two_posts(tmp_path: Path) -> None:
    """A document lists its posts once each: two entries with the same title and text but their own ids, links
    and dates (one second apart) are two posts; only the same date (under a second apart) makes them one
    listed twice. Kills ``abs(t - ts) < 1.0`` -> ``<= 1.0`` in `_ingest`'s check of the document's own
    duplicates, under which the second post was dropped."""
    at = NOW - timedelta(hours=1, minutes=7, seconds=30)
    ci = [{"title": "Nightly build passed", "guid": f"n-{i}", "link": f"https://ci.example/runs/{i}",
           "date": at + timedelta(seconds=i), "summary": "All checks passed."} for i in (1, 0)]
    pipe, store, clock = setup(tmp_path, {"s": rss(ci)}, extra=NO_STORIES)
    pipe.run(force_all=True)
    assert sorted(e.link for e in entries(tmp_path)) == ["https://ci.example/runs/0", "https://ci.example/runs/1"]


def test_another_outlets_copy_exactly_a_title_window_later_is_still_a_copy(tmp_path: Path) -> None:
    """`dedup.title_window` is inclusive: another source's report with the same title and text dated exactly the
    window (48 h) after a stored one is that report re-posted (a sighting), as `Store.lookup_titles` reads the
    window inclusively too. Kills ``abs(pub - ts) > window`` -> ``>=`` in `_ingest`, under which the copy was
    stored and published as a second item."""
    at = NOW - timedelta(days=3)
    report = {"title": "Regional airline orders twelve electric seaplanes",
              "summary": "The carrier will take delivery from 2027."}
    a = rss([dict(report, guid="a-1", link="https://a.example/seaplanes", date=at)])
    b = rss([dict(report, guid="b-1", link="https://b.example/news/seaplanes", date=at + timedelta(hours=48))])
    pipe, store, clock = setup(tmp_path, {"a": a, "b": b}, extra=NO_STORIES)
    pipe.run(force_all=True)
    assert rows(tmp_path / "feeds.db", "SELECT count(*) FROM items") == [(1,)]
    assert rows(tmp_path / "feeds.db", "SELECT count(*) FROM sightings") == [(1,)]
    assert [e.link for e in entries(tmp_path)] == ["https://a.example/seaplanes"]


def json_feed(items: list[dict[str, object]]) -> bytes:
    """A JSON Feed 1.1 document of these items (dict keys as the format names them)."""
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Outlet",
                       "home_page_url": "https://city.example/", "items": items}).encode()


def test_an_edit_of_an_entry_without_its_own_updated_date_is_dated_when_it_was_seen(tmp_path: Path) -> None:
    """An edited entry that gives no modification date of its own (JSON Feed: date_published alone) is stored as
    updated when the edit was seen: its entry's atom:source says when the outlet's report last changed. Kills
    ``updated=max(updated, nowts if e.updated is None else 0)`` -> ``updated`` in `_edit`, under which the edit
    kept the report's first date and the published entry never showed it had changed."""
    at = NOW - timedelta(hours=2)
    post = {"id": "c-1", "url": "https://city.example/1", "title": "Council approves new cycle lanes downtown",
            "content_text": "Work starts in May.", "date_published": at.isoformat()}
    pipe, store, clock = setup(tmp_path, {"s": json_feed([post])})
    pipe.run(force_all=True)
    [before] = entries(tmp_path)
    assert before.source.updated_parsed[:6] == at.timetuple()[:6]
    (tmp_path / "s.xml").write_bytes(json_feed([dict(post, content_text="Work starts in June, a month late.")]))
    clock.t = NOW + timedelta(minutes=30)
    pipe.run(force_all=True)
    [after] = entries(tmp_path)
    assert "June" in after.summary
    assert after.source.updated_parsed[:6] == clock.t.timetuple()[:6]


def test_of_two_reports_dated_alike_the_first_stored_stands_for_a_new_story(tmp_path: Path) -> None:
    """A story begun in a run by two outlets' reports with the same date is represented by the first stored
    (the sources' order), its headline and link the entry's, the other a related link -- as
    `Store.rerank_representatives` breaks that tie. Kills ``published < s["published"]`` -> ``<=`` in
    `_assign_stories`, under which the later-stored report of the same date took the entry over."""
    at = NOW - timedelta(hours=3)
    a = rss([{"title": "Russia recognises Taliban government in Afghanistan", "guid": "a1",
              "link": "https://a.example/taliban", "date": at}])
    b = rss([{"title": "Russia Recognizes Taliban Government in Afghanistan", "guid": "b1",
              "link": "https://b.example/t", "date": at}])
    pipe, store, clock = setup(tmp_path, {"a": a, "b": b})
    pipe.run(force_all=True)
    [entry] = entries(tmp_path)
    assert (entry.title, entry.link) == ("Russia recognises Taliban government in Afghanistan",
                                         "https://a.example/taliban")
    assert [x.href for x in entry.links if x.rel == "related"] == ["https://b.example/t"]


def test_a_story_read_in_one_document_has_the_id_it_has_when_its_reports_come_one_by_one(tmp_path: Path) -> None:
    """A document's new items are assigned to stories in published order, so a story starts with its earliest
    report whatever order the feed lists them in (newest first): its entry has the id, date and headline it
    has when the reports arrive one run at a time. Kills sorting the document's new rows newest first in
    `_assign_stories`, under which the story began with the later report and its entry took that report's id:
    the same story read by two stores (or replayed) got two ids."""
    t0 = NOW - timedelta(hours=6)
    first = {"title": "Russia recognises Taliban government in Afghanistan", "guid": "a1",
             "link": "https://a.example/taliban", "date": t0}
    later = {"title": "Russia recognises Taliban government in Afghanistan as Kabul embassy reopens", "guid": "a2",
             "link": "https://a.example/taliban-embassy", "date": t0 + timedelta(hours=2)}
    at_once, one_by_one = tmp_path / "at-once", tmp_path / "one-by-one"
    at_once.mkdir()
    one_by_one.mkdir()
    pipe, store, clock = setup(at_once, {"a": rss([later, first])})
    pipe.run(force_all=True)
    pipe2, store2, clock2 = setup(one_by_one, {"a": rss([first])})
    pipe2.run(force_all=True)
    (one_by_one / "a.xml").write_bytes(rss([later, first]))
    pipe2.run(force_all=True)
    got, want = entries(at_once), entries(one_by_one)
    assert [(e.id, e.title, e.updated_parsed) for e in got] == [(e.id, e.title, e.updated_parsed) for e in want]
    assert len(want) == 1  # one story: the later report joined the first


def test_a_changed_prefer_sources_keeps_the_first_stored_of_two_reports_dated_alike(tmp_path: Path) -> None:
    """When `stories.prefer_sources` changes, every story's representative is chosen again by the rule a new
    story follows: the earliest report of a preferred outlet, else the earliest, and of two dated alike the
    first stored -- so a change that concerns neither outlet leaves the entry's link where it was. Kills
    breaking that tie by the last stored in `Store.rerank_representatives`, under which the entry's headline
    and link moved to the other outlet's report."""
    at = NOW - timedelta(hours=3)
    a = rss([{"title": "Russia recognises Taliban government in Afghanistan", "guid": "a1",
              "link": "https://a.example/taliban", "date": at}])
    b = rss([{"title": "Russia Recognizes Taliban Government in Afghanistan", "guid": "b1",
              "link": "https://b.example/t", "date": at}])
    links = []
    for extra in ("", '[stories]\nprefer_sources = ["c"]'):
        pipe, store, _ = setup(tmp_path, {"a": a, "b": b, "c": rss([])}, extra=extra)  # one store, two configs
        pipe.run()  # the first run fetches; the second has nothing due: only the preference changed
        [e] = entries(tmp_path)
        links.append((e.link, [x.href for x in e.links if x.rel == "related"]))
        pipe.close()
        store.close()
    assert links == [("https://a.example/taliban", ["https://b.example/t"])] * 2


def test_stories_of_one_second_are_listed_and_cut_in_the_order_of_their_updated(tmp_path: Path) -> None:
    """Every document lists its entries in the order of their `updated` (docs/publishing.md), which breaks a tie
    of one second by the story id (a sub-second part that grows with it): stories of one second are listed
    highest id first, and a channel's `entries` keeps those (without an archive: `Store.channel_stories`).
    Kills ``sc.c.story_id.desc()`` -> ascending in `Store._channel_story_ids`, under which such a document
    listed its entries against their own `updated` and kept the wrong ones at the cut."""
    (tmp_path / "s.xml").write_bytes(rss([{"title": f"Undated note number {w}", "guid": w,
                                           "link": f"https://u.example/{w}"} for w in ("three", "two", "one")]))
    # undated: all first seen now; without an archive, the live document is the channel's newest `entries`
    pipe, store, clock = make(tmp_path, {"s": ""}, output="entries = 2\narchive = false")
    pipe.run(force_all=True)
    got = entries(tmp_path)
    stamps = [e.updated for e in got]
    assert len(stamps) == 2 and stamps == sorted(stamps, reverse=True)
    # of the three, the two latest by their own `updated` (the story's time to the second is the same)
    ids = dict(rows(tmp_path / "feeds.db", "SELECT title, story_id FROM items"))
    assert [ids[e.title] for e in got] == sorted(ids.values(), reverse=True)[:2]


# --------------------------------------------------------------------------------------------
# the story window's start: inclusive, as the daemon's index keeps it (StoryIndex.evict)


def window_edge(tmp: Path) -> tuple[Pipeline, Store, Clock]:
    """A store whose newest report is exactly the story window (72 h) after a report of another story: the
    earlier report sits on the window's start."""
    t0 = NOW - timedelta(hours=80)
    a = rss([{"title": "Gaza ceasefire talks resume in Cairo", "guid": "a2", "link": "https://a.example/gaza",
              "date": t0 + timedelta(hours=72)},
             {"title": "Russia recognises Taliban government in Afghanistan", "guid": "a1",
              "link": "https://a.example/taliban", "date": t0}])
    pipe, store, clock = setup(tmp, {"a": a, "b": rss([])})
    pipe.run(force_all=True)
    return pipe, store, clock


def test_a_report_on_the_story_windows_start_is_still_joined_after_a_restart(tmp_path: Path) -> None:
    """The story index a run rebuilds from the store holds the reports published at or after the window's start
    (the newest report's time minus `stories.window`), as the daemon's own index keeps them: a late report of
    the story whose first report sits exactly on that start joins it. Kills ``published >= since`` -> ``>``
    in `Store.window_items`, under which a cron run (the index rebuilt) published it as a story of its own."""
    pipe, store, clock = window_edge(tmp_path)
    (tmp_path / "b.xml").write_bytes(rss([{"title": "Russia Recognizes Taliban Government in Afghanistan",
                                           "guid": "b1", "link": "https://b.example/t",
                                           "date": NOW - timedelta(hours=79)}]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    got = {e.title: [x.href for x in e.links if x.rel == "related"] for e in entries(tmp_path)}
    assert got == {"Gaza ceasefire talks resume in Cairo": [],
                   "Russia recognises Taliban government in Afghanistan": ["https://b.example/t"]}


def test_the_stored_vector_of_a_report_on_the_story_windows_start_is_kept(tmp_path: Path) -> None:
    """The story vectors pruned after a run are those of reports published before the window's start: the
    report exactly on it is still in the window, and the next run that rebuilds the index reads its stored
    vector rather than computing (and writing) it again under other weights. Kills ``published < before`` ->
    ``<=`` in `Store._prune_rows`, under which that vector was deleted."""
    pipe, store, clock = window_edge(tmp_path)
    assert rows(tmp_path / "feeds.db", "SELECT i.guid FROM items i JOIN item_vectors v ON v.item_id = i.id "
                                      "ORDER BY i.guid") == [("a1",), ("a2",)]


# --------------------------------------------------------------------------------------------
# the run's outcome: when a run where every due source failed is an outage (exit 1)


def test_a_source_failing_since_its_last_success_is_no_witness_that_fetching_works(tmp_path: Path) -> None:
    """A run whose due sources all failed exits 1 (`feeds run`: ``all_failed and not others_ok``) unless another
    source fetched successfully lately -- and a source whose last fetch failed is no such witness, however
    recent its last success: with the network down, the source that failed five minutes ago and the one failing
    now are one outage, which cron must mail. Kills dropping ``r.consecutive_failures == 0`` from
    ``others_ok``, under which that run counted the failing source and exited 0."""
    feed = rss([{"title": "Harbour reopens", "guid": "1", "link": "https://a.example/1", "date": NOW}])
    (tmp_path / "a.xml").write_bytes(feed)
    (tmp_path / "b.xml").write_bytes(feed)
    pipe, store, clock = make(tmp_path, {"a": "", "b": 'interval = "20m"'}, "[schedule]\njitter = 0")
    assert not pipe.run(force_all=True).failed
    (tmp_path / "a.xml").unlink()  # the network goes down: a fails at its next poll (due in 15 minutes)
    clock.t = NOW + timedelta(minutes=15)
    report = pipe.run()
    assert [o.name for o in report.outcomes] == ["a"] and report.all_failed and report.others_ok == 1
    (tmp_path / "b.xml").unlink()
    clock.t = NOW + timedelta(minutes=20)  # b is due; a backs off (due again at 30 minutes)
    report = pipe.run()
    assert [o.name for o in report.outcomes] == ["b"] and report.all_failed
    assert report.others_ok == 0  # a's success 20 minutes ago tells nothing: it failed since


# --------------------------------------------------------------------------------------------
# validators and holds (loopback HTTP server)


def test_a_304_with_last_modified_alone_keeps_the_etag_it_did_not_repeat(rig_factory: Callable[..., Rig],
                                                                          server: FeedServer) -> None:
    """A 304 that repeats only its Last-Modified (many servers send a subset of the validators with it) keeps
    the stored ETag, which came from the same URL: the next request still sends If-None-Match, so a server
    that compares ETags answers 304 again instead of the whole document. Kills ``"etag": res.etag`` (the
    stored ETag not kept) in `_validators`, under which the ETag was forgotten after the first 304."""
    served: list[int] = []

    def route(req: Seen) -> Reply:
        served.append(1)
        if len(served) == 1:
            return feed_reply("v", [1, 2], ETag='"e1"', **{"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"})
        return Reply(304, b"", {"Last-Modified": "Tue, 02 Jan 2024 00:00:00 GMT"})

    server.routes["/v"] = route
    rig = rig_factory([("v", server.url("/v"))])
    for _ in range(3):
        rig.pipe.run(force_all=True)
    sent = [(r.headers.get("If-None-Match"), r.headers.get("If-Modified-Since")) for r in server.requests("/v")]
    assert sent == [(None, None), ('"e1"', "Mon, 01 Jan 2024 00:00:00 GMT"),
                    ('"e1"', "Tue, 02 Jan 2024 00:00:00 GMT")]
    assert (rig.row("v").etag, rig.row("v").last_modified) == ('"e1"', "Tue, 02 Jan 2024 00:00:00 GMT")


def test_run_all_asks_a_host_an_earlier_run_was_told_to_wait_for(rig_factory: Callable[..., Rig],
                                                                 server: FeedServer) -> None:
    """`feeds run --all` fetches every source (README): a host's Retry-After recorded by an earlier run holds
    back the scheduled runs, not a forced one (docs/hardening.md: "`run --all` asks every source"). Kills
    ``self._held = {} if force_all else ...`` -> always the recorded holds, under which `--all` left the
    source unfetched until the host's wait ended."""
    limited = {"on": True}
    server.routes["/limited"] = lambda req: (Reply(503, b"busy", {"Retry-After": "3600"}) if limited["on"]
                                             else feed_reply("limited", [1]))
    rig = rig_factory([("limited", server.url("/limited"))])
    rig.pipe.run()
    assert rig.store.host_retry_after() and server.count("/limited") == 1
    limited["on"] = False
    rig.clock.advance(timedelta(minutes=5))
    assert rig.pipe.run().due == 0 and server.count("/limited") == 1  # a scheduled run waits
    report = rig.pipe.run(force_all=True)
    assert server.count("/limited") == 2 and report.new_items == 1 and report.held == 0


def test_a_copy_as_near_to_two_stored_reports_is_credited_to_the_first_stored(tmp_path: Path) -> None:
    """Another outlet's copy goes to the nearest same-titled report in time (docs/hardening.md), and of two as
    near, to the first stored (`Store.lookup_titles` reads them oldest id first): the crediting does not
    depend on how the database happens to return rows. Kills ordering `_LOOKUP_TITLES` by id descending, under
    which the copy was credited to the later-stored report."""
    t0 = NOW - timedelta(hours=70)
    title = "Regional airline orders twelve electric seaplanes"
    a = rss([{"title": title, "guid": "a1", "link": "https://a.example/seaplanes", "date": t0}])
    b = rss([{"title": title, "guid": "b1", "link": "https://b.example/seaplanes", "date": t0 + timedelta(hours=60)}])
    c = rss([{"title": title, "guid": "c1", "link": "https://c.example/seaplanes", "date": t0 + timedelta(hours=30)}])
    pipe, store, clock = setup(tmp_path, {"a": a, "b": b, "c": c}, extra=NO_STORIES)
    pipe.run(force_all=True)  # b's is 60 h after a's (beyond the 48 h window): two items; c's is 30 h from each
    got = {e.link: [x.href for x in e.links if x.rel == "related"] for e in entries(tmp_path)}
    assert got == {"https://a.example/seaplanes": ["https://c.example/seaplanes"], "https://b.example/seaplanes": []}


def test_a_sources_item_count_adds_up_over_runs(tmp_path: Path) -> None:
    """`feeds status` shows how many items each source gave (sources.items_total): the count adds each run's
    new items to those before. Kills ``items_total = out.new`` (this run's alone), under which the count fell
    back to the last run's new items."""
    one = {"title": "First post of the blog", "guid": "1", "link": "https://blog.example/1",
           "date": NOW - timedelta(hours=3)}
    two = {"title": "Second post of the blog", "guid": "2", "link": "https://blog.example/2",
           "date": NOW - timedelta(hours=1)}
    pipe, store, clock = setup(tmp_path, {"s": rss([one])})
    pipe.run(force_all=True)
    (tmp_path / "s.xml").write_bytes(rss([two, one]))
    clock.t = NOW + timedelta(hours=1)
    pipe.run(force_all=True)
    data = status.collect(pipe.cfg, now=clock.t)
    assert [(s["name"], s["items"], s["last_new"]) for s in data["sources"]] == [("s", 2, 1)]


# --------------------------------------------------------------------------------------------
# warm runs write nothing they need not


def test_a_warm_run_on_a_steady_clock_does_not_write_the_clock_offset(rig_factory: Callable[..., Rig],
                                                                      server: FeedServer) -> None:
    """The clock's offset from the servers' (meta clock.ahead, for `[store] keep`) is written when it moved by a
    minute or more: a warm run (every source 304) on a steady clock writes no meta row. Kills dropping the
    ``abs(known - ahead) < 60`` test in `_note_clock`, under which every run that heard a server wrote it."""
    rig = rig_factory([("v", server.url("/v"))])

    def route(req: Seen) -> Reply:
        date = format_datetime(rig.clock.t - timedelta(seconds=5), usegmt=True)  # the server 5 s behind us
        if req.headers.get("If-None-Match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"', "Date": date})
        return feed_reply("v", [1], ETag='"v1"', Date=date)

    server.routes["/v"] = route
    rig.pipe.run(force_all=True)
    assert rig.store.meta_value("clock.ahead") == "5.0"
    rig.clock.advance(timedelta(minutes=20))
    with traced(rig.store) as seen:
        report = rig.pipe.run(force_all=True)
    assert report.outcomes[0].not_modified
    assert [q for q in writes(seen) if "meta" in q] == []


def test_a_daemon_tick_with_nothing_new_does_not_prune_the_story_vectors_again(tmp_path: Path) -> None:
    """The story vectors out of the window are pruned when the window moved since the last prune: a daemon (the
    index kept between ticks) whose tick brings nothing new writes no DELETE. Kills ``self._newest <=
    self._pruned_at`` -> ``<`` in `prune_window_rows`, under which every such tick deleted again."""
    body = rss([{"title": "Harbour cranes idle as dockers strike", "guid": "1", "link": "https://a.example/1",
                 "date": NOW - timedelta(hours=1)}])
    (tmp_path / "s.xml").write_bytes(body)
    pipe, store, clock = make(tmp_path, {"s": ""})
    pipe.keep_index = True  # as the daemon's Pipeline
    pipe.run(force_all=True)
    clock.t = NOW + timedelta(minutes=20)
    with traced(store) as seen:
        report = pipe.run(force_all=True)  # the same document: nothing new
    assert report.outcomes[0].not_modified and report.new_items == 0
    assert [q for q in writes(seen) if "item_vectors" in q or "item_embeddings" in q] == []


# --------------------------------------------------------------------------------------------
# the store's upgrades of stored keys, a range of item ids at a time


def stored_items(tmp: Path, n: int) -> tuple[Pipeline, Store]:
    """A store holding ``n`` items of one source (ids 1..n), each with a link key and a title key."""
    body = rss([{"title": f"Ferry timetable {i} changes for the winter season", "guid": f"p{i}",
                 "link": f"https://port.example/ferry/{i}", "date": NOW - timedelta(hours=i)} for i in range(n)])
    pipe, store, clock = setup(tmp, {"s": body}, extra=NO_STORIES)
    pipe.run(force_all=True)
    assert store.newest_item_id() == n
    return pipe, store


def test_a_link_form_upgrade_rewrites_the_last_item_of_every_range(tmp_path: Path) -> None:
    """`Store.relink_keys` rewrites the stored link keys a range of item ids at a time (lo, lo + step]: every
    item's key is rewritten, the last of each range too -- else an item left in the old form is not found by its
    link again, and another outlet's re-post of it comes back as a second item. Kills ``item_id <= lo + step``
    -> ``<`` (every step-th item skipped; one in 2,000 with the default step)."""
    pipe, store = stored_items(tmp_path, 4)
    with store.tx() as c:
        moved, dropped = store.relink_keys(c, lambda key: key + "/v2", step=2)
    assert (moved, dropped) == (4, 0)
    keys = [k for (k,) in rows(tmp_path / "feeds.db", "SELECT key FROM item_keys WHERE key LIKE 'l:%'")]
    assert len(keys) == 4 and all(k.endswith("/v2") for k in keys)


def test_a_title_form_upgrade_rewrites_the_last_item_of_every_range(tmp_path: Path) -> None:
    """`Store.retitle_keys` makes every item's title key again from its title, a range of item ids at a time:
    the last item of each range too -- else its stale key is read as a corrected headline at its next fetch.
    Kills ``id <= lo + step`` -> ``<`` (every step-th item skipped)."""
    pipe, store = stored_items(tmp_path, 4)
    with store.tx() as c:
        assert store.retitle_keys(c, lambda title: "v2 " + title, step=2) == 4
    keys = rows(tmp_path / "feeds.db", "SELECT title, title_key FROM items")
    assert len(keys) == 4 and all(key == "v2 " + title for title, key in keys)


# --------------------------------------------------------------------------------------------
# `[store] keep`: the forgotten keys of a gone source


def test_a_gone_sources_forgotten_keys_go_once_it_has_not_been_read_for_keep(rig_factory: Callable[..., Rig],
                                                                            server: FeedServer) -> None:
    """The keys of a source's forgotten (pruned) posts are dropped once its documents have not been read for
    longer than `keep` -- a source taken out of the config, or gone (410): its documents are never read again,
    so its keys are never unlisted (README: "or gone go once it has not been read for longer than `keep`").
    Kills dropping ``gone`` from `Store.forget_stale_keys`, under which a gone source's keys stayed for ever."""
    def keep(text: str) -> str:
        return text.replace('path = "var/feeds.db"', 'path = "var/feeds.db"\nkeep = "30d"').replace(
            '[output]\n', '[output]\nentries = 1\narchive = false\n')

    served = {"s": [("Harbour cranes idle as dockers strike", 1)], "t": [("Museum reopens after roof repairs", 2)]}
    gone = {"t": False}

    def route(name: str) -> Callable[[Seen], Reply]:
        def answer(req: Seen) -> Reply:
            if gone.get(name):
                return Reply(410, b"gone")
            items = [{"title": title, "guid": f"{name}{n}", "link": f"https://{name}.example/{n}",
                      "date": start - timedelta(hours=n)} for title, n in served[name]]
            return Reply(200, rss(items), {"Content-Type": "application/rss+xml"})
        return answer

    server.routes["/s"], server.routes["/t"] = route("s"), route("t")
    rig = rig_factory([("s", server.url("/s")), ("t", server.url("/t"))], edit=keep)
    start = rig.clock.t
    rig.pipe.run(force_all=True)
    rig.clock.advance(timedelta(days=40))  # s posts anew: both first posts are older than keep, and forgotten
    served["s"].insert(0, ("Library extends weekend opening hours", -40 * 24))
    rig.pipe.run(force_all=True)
    db = rig.cfg.store_path
    t_id = rig.row("t").id
    assert {r[0] for r in rows(db, "SELECT source_id FROM forgotten")} == {rig.row("s").id, t_id}
    gone["t"] = True
    rig.clock.advance(timedelta(days=1))
    rig.pipe.run(force_all=True)
    assert rig.row("t").gone
    rig.clock.advance(timedelta(days=2))
    rig.pipe.run(force_all=True)
    assert t_id in {r[0] for r in rows(db, "SELECT source_id FROM forgotten")}  # gone 2 days ago: kept
    rig.clock.advance(timedelta(days=30))
    rig.pipe.run(force_all=True)
    assert {r[0] for r in rows(db, "SELECT source_id FROM forgotten")} == {rig.row("s").id}


# --------------------------------------------------------------------------------------------
# the run log


def test_a_run_whose_clock_was_stepped_forward_keeps_its_own_log_row(tmp_path: Path) -> None:
    """The run log forgets runs started more than RUNS_KEPT (90 days) before a run's end -- never the run being
    finished: a machine without a real-time clock that starts a run at a date months back and has NTP step the
    clock forward before the run ends still shows that run in `feeds status`. Kills dropping ``r.c.id !=
    run_id`` from `Store.finish_run`'s delete, under which that run's own row was deleted."""
    store = Store.open(tmp_path / "feeds.db")
    try:
        t0 = NOW.timestamp()
        run_id = store.start_run(t0 - 200 * 86400, "run")  # the clock at boot, months behind
        store.finish_run(run_id, t0, 3, 3, 0, 2)  # stepped to the real time meanwhile
        assert [(r["id"], r["new_items"]) for r in store.last_runs(5)] == [(run_id, 2)]
    finally:
        store.close()
