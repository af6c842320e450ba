"""Stories through the whole pipeline: one entry per story, other reports linked, stable ids,
and the rule for when a growing story's `updated` moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from feedgen_util import rss
from test_pipeline import NOW, setup

T0 = NOW - timedelta(hours=6)


def entries(tmp: Path) -> list[feedparser.FeedParserDict]:
    return feedparser.parse((tmp / "out" / "all.atom").read_bytes()).entries


# one outlet's two stories, then a third outlet's report of the first that brings new facts (a development)
FIRST = {"title": "Russia recognises Taliban government in Afghanistan", "guid": "a1",
         "link": "https://a.example/taliban", "date": T0}
OTHER = {"title": "Gaza ceasefire talks resume in Cairo", "guid": "a2", "link": "https://a.example/gaza",
         "date": T0 + timedelta(minutes=5)}
DEVELOPMENT = {"title": "Russia recognises Taliban government in Afghanistan as Kabul embassy reopens and "
                        "ambassador Zhirnov presents credentials", "guid": "c1", "link": "https://c.example/t",
               "date": T0 + timedelta(hours=2)}


def test_a_reworded_report_joins_the_story_and_a_development_moves_it(tmp_path: Path) -> None:
    first, other = FIRST, OTHER
    pipe, store, clock = setup(tmp_path, {"a": rss([first, other]), "b": rss([]), "c": rss([])})
    pipe.run(force_all=True)
    before = {e.title: e for e in entries(tmp_path)}
    story = before[first["title"]]

    # another outlet rewords the same report an hour later: it joins, the entry keeps its id, and
    # `updated` does not move (a reader is not shown the story as new because it was repeated)
    (tmp_path / "b.xml").write_bytes(rss([{"title": "Russia Recognizes Taliban Government in Afghanistan",
                                           "guid": "b1", "link": "https://b.example/t",
                                           "date": T0 + timedelta(hours=1)}]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    after = {e.title: e for e in entries(tmp_path)}
    assert len(after) == 2
    e = after[first["title"]]
    assert e.id == story.id and e.updated == story.updated
    assert [(x.href, x.title) for x in e.links if x.rel == "related"] == [
        ("https://b.example/t", "b: Russia Recognizes Taliban Government in Afghanistan")]
    assert "Also reported by" in e.summary

    # a third report brings new facts: still the same entry id, but `updated` moves
    (tmp_path / "c.xml").write_bytes(rss([DEVELOPMENT]))
    clock.t = NOW + timedelta(minutes=40)
    pipe.run(force_all=True)
    later = {e.title: e for e in entries(tmp_path)}
    assert len(later) == 2
    e = later[first["title"]]
    assert e.id == story.id
    assert datetime(*e.updated_parsed[:6], tzinfo=UTC) == T0 + timedelta(hours=2)
    assert len([x for x in e.links if x.rel == "related"]) == 2
    assert store.counts()["stories"] == 2 and store.counts()["items"] == 4


def test_stories_survive_a_restart_from_the_store(tmp_path: Path) -> None:
    a = rss([{"title": "Earthquake of magnitude 7.1 strikes off northern Japan coast", "guid": "a1",
              "link": "https://a.example/q", "date": T0}])
    pipe, store, clock = setup(tmp_path, {"a": a, "b": rss([])})
    pipe.run(force_all=True)
    pipe.close()
    # a new process: the index is rebuilt from the store's window, not from all history
    from feeds.run import Pipeline

    pipe2 = Pipeline(pipe.cfg, store, now=clock)
    (tmp_path / "b.xml").write_bytes(rss([{"title": "Magnitude 7.1 earthquake strikes off coast of northern Japan",
                                           "guid": "b1", "link": "https://b.example/q",
                                           "date": T0 + timedelta(hours=1)}]))
    clock.t = NOW + timedelta(minutes=20)
    pipe2.run(force_all=True)
    es = entries(tmp_path)
    assert len(es) == 1 and [x.href for x in es[0].links if x.rel == "related"] == ["https://b.example/q"]


def test_different_stories_never_share_an_entry(tmp_path: Path) -> None:
    a = rss([{"title": "Trump signs tax and spending bill into law", "guid": "1", "date": T0},
             {"title": "Israeli strike on Gaza cafe kills dozens", "guid": "2", "date": T0}])
    b = rss([{"title": "Ukraine says Russian general killed in strike", "guid": "3", "date": T0},
             {"title": "North Korea opens Wonsan Kalma beach resort", "guid": "4", "date": T0}])
    pipe, store, _ = setup(tmp_path, {"a": a, "b": b})
    pipe.run(force_all=True)
    assert len(entries(tmp_path)) == 4


def test_a_feeds_own_posts_sharing_its_template_stay_separate_entries(tmp_path: Path) -> None:
    # a daily blog column: every title "TMIL: ... in React", every summary the same opening sentence. Without
    # the feed's template weighed down, several posts collapsed into one entry and readers lost them.
    topics = ["forms", "rendering arrays", "raw APIs", "custom components", "using JSX", "styling"]

    def post(i: int, topic: str, when: datetime) -> dict[str, object]:
        return {"title": f"TMIL: {topic} in React", "guid": f"a{i}", "link": f"https://a.example/{i}",
                "summary": f"Consolidated this concept while working on a website made in React. Notes on {topic}.",
                "date": when}

    posts = [post(i, t, T0 - timedelta(days=len(topics) - 1 - i)) for i, t in enumerate(topics)]
    pipe, store, clock = setup(tmp_path, {"a": rss(posts[::-1]), "b": rss([]), "c": rss([])})
    pipe.run(force_all=True)
    assert sorted(e.title for e in entries(tmp_path)) == sorted(p["title"] for p in posts)
    # another outlet's report of the latest post still joins it
    (tmp_path / "b.xml").write_bytes(rss([{"title": "Styling in React, explained", "guid": "b1",
                                           "link": "https://b.example/s", "summary": "Notes on styling in React.",
                                           "date": T0 + timedelta(hours=1)}]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    got = {e.title: e for e in entries(tmp_path)}
    assert len(got) == len(posts)
    assert [x.href for x in got["TMIL: styling in React"].links if x.rel == "related"] == ["https://b.example/s"]
    # the next days bring two more posts: two new entries alone have no template (too few), the feed
    # document (all eight, over seven days) has, so they do not join each other or the others through it
    for i, t in enumerate(["testing hooks", "routing pages"], start=len(posts)):
        posts.append(post(i, t, T0 + timedelta(days=1, hours=i)))
    (tmp_path / "a.xml").write_bytes(rss(posts[::-1]))  # newest first, as feeds are
    clock.t = NOW + timedelta(days=2)
    pipe.run(force_all=True)
    assert sorted(e.title for e in entries(tmp_path)) == sorted(p["title"] for p in posts)


def test_a_news_site_reporting_one_event_twice_in_a_night_gets_one_entry(tmp_path: Path) -> None:
    # what its feed repeats within one window is the event, not a template: its reports join
    bill = "The House of Representatives narrowly passed the president's tax and spending bill after a night of talks."
    news = [("House Greenlights Trump's Controversial Domestic Policy Bill", bill, 0),
            ("Trump's 'Big, Beautiful Bill' Passes in Congress Amid Controversy", bill, 2),
            ("Trump Celebrates Legislative Win Amid Political Risks", bill, 4),
            ("Hamas consults Palestinian groups on Gaza ceasefire", "Talks in Cairo resumed on Friday.", -30),
            ("North Korea opens Wonsan Kalma beach resort", "Only domestic tourists are allowed for now.", -50)]
    items = [{"title": t, "summary": s, "guid": f"n{i}", "link": f"https://news.example/{i}",
              "date": T0 - timedelta(hours=6) + timedelta(hours=h)} for i, (t, s, h) in enumerate(news)]
    pipe, store, clock = setup(tmp_path, {"a": rss(items[::-1])})
    pipe.run(force_all=True)
    got = {e.title: e for e in entries(tmp_path)}
    e = got["House Greenlights Trump's Controversial Domestic Policy Bill"]
    assert "Trump's 'Big, Beautiful Bill' Passes in Congress Amid Controversy" not in got
    assert [x.href for x in e.links if x.rel == "related"][:1] == ["https://news.example/1"]


def test_posts_of_one_series_stay_separate_entries_within_a_poll_and_across_polls(tmp_path: Path) -> None:
    # a blog's series: one frame of words, a different filling each post. Word overlap alone puts them in
    # one story (checked here), which hid posts from readers; the feed document shows they are siblings.
    from feeds.stories import explain

    def post(i: int, name: str, minutes: int) -> dict[str, object]:
        return {"title": f"SOLID Principles - {name}", "guid": f"a{i}", "link": f"https://a.example/{i}",
                "date": T0 + timedelta(minutes=minutes)}

    posts = [post(1, "OCP", 0), post(2, "LSP", 5)]
    assert explain("SOLID Principles - OCP", "", "SOLID Principles - LSP", "").same_story
    pipe, store, clock = setup(tmp_path, {"a": rss(posts[::-1]), "b": rss([])})
    pipe.run(force_all=True)  # both new in one poll
    assert sorted(e.title for e in entries(tmp_path)) == ["SOLID Principles - LSP", "SOLID Principles - OCP"]
    # another outlet's report of one post joins it; a later post of the series (the earlier ones stored, still
    # in the feed document) does not join either
    (tmp_path / "b.xml").write_bytes(rss([{"title": "SOLID principles: OCP explained", "guid": "b1",
                                           "link": "https://b.example/ocp", "date": T0 + timedelta(hours=1)}]))
    posts.append(post(3, "SRP", 120))
    (tmp_path / "a.xml").write_bytes(rss(posts[::-1]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    got = {e.title: e for e in entries(tmp_path)}
    assert sorted(got) == ["SOLID Principles - LSP", "SOLID Principles - OCP", "SOLID Principles - SRP"]
    assert [x.href for x in got["SOLID Principles - OCP"].links if x.rel == "related"] == ["https://b.example/ocp"]
    assert store.counts()["stories"] == 3


def test_an_undated_feeds_document_is_timed_by_when_its_posts_were_first_seen(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # a daily column without dates, polled once a day: its stored items carry the day each was first seen,
    # and the feed document the index profiles is timed the same way (not every entry "now"), so boilerplate
    # recurring over six days can be its template
    from feeds.stories import StoryIndex

    documents: list[list[tuple[str, str, float]]] = []
    real = StoryIndex.source_profile

    def spy(self: StoryIndex, entries: list[tuple[str, str, float]]) -> object:
        documents.append(list(entries))
        return real(self, entries)

    monkeypatch.setattr(StoryIndex, "source_profile", spy)
    topics = ["forms", "rendering arrays", "raw APIs", "custom components", "using JSX", "styling"]

    def post(i: int) -> dict[str, object]:
        return {"title": f"{topics[i]} (React notes)", "guid": f"a{i}", "link": f"https://a.example/{i}",
                "summary": "Consolidated this concept while working on a website made in React."}

    pipe, store, clock = setup(tmp_path, {"a": rss([])})
    for day in range(len(topics)):
        (tmp_path / "a.xml").write_bytes(rss([post(i) for i in range(day, -1, -1)]))
        clock.t = NOW + timedelta(days=day)
        pipe.run(force_all=True)
    last = documents[-1]
    assert [ts for _, _, ts in last] == [(NOW + timedelta(days=d)).timestamp() for d in range(len(topics) - 1, -1, -1)]
    profile = real(StoryIndex(), last)
    assert {"consolid", "concept", "websit", "react", "note"} <= profile.factors.keys()


def test_a_feed_listing_newest_first_starts_the_story_with_its_earliest_report(tmp_path: Path) -> None:
    # one outlet's two wordings of one report, six hours apart, listed newest first as feeds are: the
    # story starts with the earlier one, and the later rewording (little new) does not move `updated`
    early, late = T0 - timedelta(hours=6), T0
    lede = "Moscow became the first country to formally recognise the Taliban administration in Kabul."
    a = rss([{"title": "Russia Becomes The First Nation to Officially Recognize Taliban Governance in Afghanistan",
              "guid": "a2", "link": "https://a.example/2", "date": late, "summary": lede},
             {"title": "Russia Makes History by Recognizing Taliban Government in Afghanistan", "guid": "a1",
              "link": "https://a.example/1", "date": early, "summary": lede}])
    pipe, store, clock = setup(tmp_path, {"a": a})
    pipe.run(force_all=True)
    (e,) = entries(tmp_path)
    assert e.link == "https://a.example/1"
    assert datetime(*e.updated_parsed[:6], tzinfo=UTC) == early
    assert [x.href for x in e.links if x.rel == "related"] == ["https://a.example/2"]


def test_a_preferred_source_gives_the_link_its_earliest_report_and_the_story_keeps_its_first_time(
        tmp_path: Path) -> None:
    title = "Russia recognises Taliban government in Afghanistan"
    a = rss([{"title": title, "guid": "a1", "link": "https://a.example/1", "date": T0 - timedelta(hours=3)}])
    b = rss([{"title": "Russia Recognizes Taliban Government in Afghanistan", "guid": "b1",
              "link": "https://b.example/1", "date": T0 - timedelta(hours=2)}])
    pipe, store, clock = setup(tmp_path, {"a": a, "b": b, "c": rss([])}, extra='[stories]\nprefer_sources = ["b"]')
    pipe.run(force_all=True)
    (e,) = entries(tmp_path)
    assert e.link == "https://b.example/1"  # the preferred outlet's report
    assert datetime(*e.published_parsed[:6], tzinfo=UTC) == T0 - timedelta(hours=3)  # the story's first report
    # a later report of the preferred outlet does not take the link from its earlier one; an earlier report
    # of another outlet moves the story's time, not its link
    (tmp_path / "b.xml").write_bytes(rss([
        {"title": "Russia becomes first country to recognise the Taliban government in Afghanistan", "guid": "b2",
         "link": "https://b.example/2", "date": T0 - timedelta(hours=1)},
        {"title": "Russia Recognizes Taliban Government in Afghanistan", "guid": "b1", "link": "https://b.example/1",
         "date": T0 - timedelta(hours=2)}]))
    (tmp_path / "c.xml").write_bytes(rss([{"title": "Russia formally recognises Taliban government in Afghanistan",
                                           "guid": "c1", "link": "https://c.example/1",
                                           "date": T0 - timedelta(hours=5)}]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    (e,) = entries(tmp_path)
    assert e.link == "https://b.example/1"
    assert datetime(*e.published_parsed[:6], tzinfo=UTC) == T0 - timedelta(hours=5)
    assert sorted(x.href for x in e.links if x.rel == "related") == [
        "https://a.example/1", "https://b.example/2", "https://c.example/1"]


def test_a_report_older_than_the_window_does_not_stay_for_later_reports(tmp_path: Path) -> None:
    """One run or two runs (a cron run per poll, or a restart) give the same stories: a report dated
    before the window (the newest report less stories.window) is not kept in the index for reports that
    come after it in the same run, as a new process, which loads only the window, would not have it."""
    recent = {"title": "Volcano erupts near Grindavik in Iceland", "guid": "a1", "link": "https://a.example/v",
              "date": NOW - timedelta(hours=1)}
    old = {"title": "Chile earthquake of magnitude 7.8 kills dozens in Valparaiso", "guid": "b1",
           "link": "https://b.example/q", "date": NOW - timedelta(hours=100)}
    reworded = {"title": "Magnitude 7.8 earthquake kills dozens in Chile's Valparaiso", "guid": "c1",
                "link": "https://c.example/q", "date": NOW - timedelta(hours=99)}
    stories = []
    for split in (False, True):
        tmp = tmp_path / f"split-{split}"
        tmp.mkdir()
        pipe, store, clock = setup(tmp, {"a": rss([recent]), "b": rss([old]), "c": rss([] if split else [reworded])})
        pipe.run(force_all=True)
        if split:
            pipe.close()
            from feeds.run import Pipeline

            pipe = Pipeline(pipe.cfg, store, now=clock)
            (tmp / "c.xml").write_bytes(rss([reworded]))
            clock.t = NOW + timedelta(minutes=20)
            pipe.run(force_all=True)
        stories.append(sorted(sorted(x.href for x in e.links if x.rel in ("alternate", "related"))
                              for e in entries(tmp)))
        pipe.close()
        store.close()
    assert stories[0] == stories[1]
    assert len(stories[0]) == 3


def test_changing_prefer_sources_re_chooses_every_storys_link(tmp_path: Path) -> None:
    """The representative rule holds for stories already stored when stories.prefer_sources changes:
    set, the link moves to the preferred outlet's earliest report; removed, back to the earliest report."""
    a = rss([{"title": "Russia recognises Taliban government in Afghanistan", "guid": "a1",
              "link": "https://a.example/1", "date": T0 - timedelta(hours=3)}])
    b = rss([{"title": "Russia Recognizes Taliban Government in Afghanistan", "guid": "b1",
              "link": "https://b.example/1", "date": T0 - timedelta(hours=2)}])
    links = []
    for extra in ("", '[stories]\nprefer_sources = ["b"]', ""):
        pipe, store, _ = setup(tmp_path, {"a": a, "b": b}, extra=extra)  # the same store, another config
        pipe.run()  # the first run fetches; then nothing is due: only the preference changed
        (e,) = entries(tmp_path)
        links.append((e.link, sorted(x.href for x in e.links if x.rel == "related")))
        pipe.close()
        store.close()
    assert links == [("https://a.example/1", ["https://b.example/1"]),
                     ("https://b.example/1", ["https://a.example/1"]),
                     ("https://a.example/1", ["https://b.example/1"])]


def test_a_daily_headline_does_not_chain_into_one_story_for_ever(tmp_path: Path) -> None:
    """Three outlets post a reworded daily market wrap for eight days. A story spans at most the window
    (72 h) from its earliest report: the wraps make several entries, not one entry whose headline is eight
    days old while every later day hides in its related links. One run, a run a day, and a run a day in a
    new process (the index rebuilt from the store) give the same entries."""
    titles = {"a": "Wall Street closes higher as tech stocks rally",
              "b": "Stocks close higher on Wall Street as tech shares rally",
              "c": "Tech stocks rally lifts Wall Street to a higher close"}
    start = NOW - timedelta(days=8)

    def doc(name: str, days: int, last: int = 8) -> bytes:  # the wraps of the last `last` of `days` days
        return rss([{"title": titles[name], "guid": f"{name}{d}", "link": f"https://{name}.example/wrap/{d}",
                     "date": start + timedelta(days=d, hours={"a": 6, "b": 14, "c": 22}[name])}
                    for d in range(max(0, days - last), days)])

    groups = []
    for mode in ("once", "daily", "restarts"):
        tmp = tmp_path / mode
        tmp.mkdir()
        days = 8 if mode == "once" else 1
        pipe, store, clock = setup(tmp, {n: doc(n, days) for n in titles})
        clock.t = start + timedelta(days=days - 1, hours=23)
        pipe.run(force_all=True)
        for d in range(days + 1, 9):
            if mode == "restarts":
                pipe.close()
                from feeds.run import Pipeline

                pipe = Pipeline(pipe.cfg, store, now=clock)
            for n in titles:  # a feed listing today's wrap only (yesterday's, listed too, is its sibling)
                (tmp / f"{n}.xml").write_bytes(doc(n, d, last=1))
            clock.t = start + timedelta(days=d - 1, hours=23)
            pipe.run(force_all=True)
        got = []
        for e in entries(tmp):
            links = sorted(x.href for x in e.links if x.rel in ("alternate", "related"))
            wrap_days = [int(h.rsplit("/", 1)[1]) for h in links]
            assert max(wrap_days) - min(wrap_days) <= 3, (mode, links)  # 72 h from its earliest report
            got.append(links)
        groups.append(sorted(got))
        assert sum(len(g) for g in got) == 24  # every report in one entry or another
        pipe.close()
        store.close()
    assert groups[1] == groups[2]
    assert len(groups[1]) >= 3, groups[1]


def test_a_story_begun_before_the_loaded_window_keeps_its_start_after_a_restart(tmp_path: Path) -> None:
    """A new process loads only the window (the newest report less 72 h): a story whose first report is
    older is known by its later reports only, and must still take no report more than 72 h after its
    first, as the process that saw it all would not."""
    t = NOW - timedelta(hours=80)
    first = {"title": "Magnitude 7.1 earthquake strikes off the coast of northern Japan", "guid": "a1",
             "link": "https://a.example/q", "date": t}
    second = {"title": "Earthquake of magnitude 7.1 strikes off northern Japan coast", "guid": "b1",
              "link": "https://b.example/q", "date": t + timedelta(hours=10)}
    newest = {"title": "Parliament approves the budget after a long night of votes", "guid": "d1",
              "link": "https://d.example/b", "date": t + timedelta(hours=74)}
    late = {"title": "Northern Japan coast earthquake of magnitude 7.1 strikes", "guid": "c1",
            "link": "https://c.example/q", "date": t + timedelta(hours=75)}
    groups = []
    for restart in (False, True):
        tmp = tmp_path / f"restart-{restart}"
        tmp.mkdir()
        pipe, store, clock = setup(tmp, {"a": rss([first]), "b": rss([second]), "c": rss([]), "d": rss([newest])})
        clock.t = NOW - timedelta(minutes=30)
        pipe.run(force_all=True)
        if restart:
            pipe.close()
            from feeds.run import Pipeline

            pipe = Pipeline(pipe.cfg, store, now=clock)
        (tmp / "c.xml").write_bytes(rss([late]))
        clock.t = NOW
        pipe.run(force_all=True)
        groups.append(sorted(sorted(x.href for x in e.links if x.rel in ("alternate", "related"))
                             for e in entries(tmp)))
        pipe.close()
        store.close()
    assert groups[0] == groups[1]
    assert ["https://a.example/q", "https://b.example/q"] in groups[0]  # the quake's first day
    assert ["https://c.example/q"] in groups[0]  # 75 h after its first report: a new entry


def test_a_wire_storys_numbered_updates_are_one_story_not_a_series(tmp_path: Path) -> None:
    """A wire's revisions of one report ("-- 2nd Update", "UPDATE 2-") differ only in the revision number:
    they were taken for posts of one series (siblings, which never share a story) and split into
    several entries with the same headline."""
    head = "Chiquita, Fyffes Agree to $1.07 Billion Merger Deal"
    marks = ["", " -- Update", " -- 2nd Update", " -- 3rd Update", " -- 4th Update"]
    wsj = [{"title": head + m, "guid": f"w{n}", "link": f"https://wsj.example/chiquita-{n}",
            "date": T0 + timedelta(minutes=40 * n)} for n, m in enumerate(marks)]
    reuters = [{"title": f"UPDATE {n}-Chiquita and Fyffes join to make world's biggest banana firm", "guid": f"r{n}",
                "link": f"https://reuters.example/chiquita-{n}", "date": T0 + timedelta(minutes=30 + 40 * n)}
               for n in (1, 2)]
    pipe, _, _ = setup(tmp_path, {"wsj": rss(wsj[::-1]), "reuters": rss(reuters[::-1])})
    pipe.run(force_all=True)
    es = entries(tmp_path)
    wsj_entries = [e for e in es if any("wsj.example" in x.href for x in e.links)]
    assert len(wsj_entries) == 1, [e.title for e in es]
    reuters_entries = [e for e in es if any("reuters.example" in x.href for x in e.links)]
    assert len(reuters_entries) == 1, [e.title for e in es]


def _later_then_earlier(tmp: Path, late_report: tuple[str, str], early_report: tuple[str, str]
                        ) -> tuple[str, datetime, datetime]:
    """One run of two outlets: a (first in the config) with the later report, b with the earlier one. The
    single entry's link, published and updated times."""
    early, late = T0 - timedelta(hours=8), T0
    a = rss([{"title": late_report[0], "guid": "a1", "link": "https://a.example/1", "date": late,
              "summary": late_report[1]}])
    b = rss([{"title": early_report[0], "guid": "b1", "link": "https://b.example/1", "date": early,
              "summary": early_report[1]}])
    pipe, store, clock = setup(tmp, {"a": a, "b": b})
    pipe.run(force_all=True)
    (e,) = entries(tmp)
    return (e.link, datetime(*e.published_parsed[:6], tzinfo=UTC), datetime(*e.updated_parsed[:6], tzinfo=UTC))


def test_an_earlier_rewording_from_a_later_source_begins_the_story_and_its_time(tmp_path: Path) -> None:
    # one run: outlet a (first in the config) has the later report, outlet b the earlier rewording: the story
    # began with a's report, b's joined it and moved its published time and link, but its `updated` stayed a's
    # time, a re-report never judged a development (a review reading a real news day); a rewording of each other
    # (the earlier one joining brings nothing new), the earlier one begins the story, its time too
    early = T0 - timedelta(hours=8)
    assert _later_then_earlier(
        tmp_path,
        ("Macron holds talks with India's Modi to boost economic and strategic ties",
         "French President Emmanuel Macron held talks with Indian Prime Minister Narendra Modi."),
        ("Macron and Modi hold talks to boost India's economic and strategic ties",
         "French President Emmanuel Macron and Indian Prime Minister Narendra Modi held talks.")) == (
        "https://b.example/1", early, early)


def test_an_earlier_rewording_joined_on_its_headline_begins_the_story_and_its_time(tmp_path: Path) -> None:
    # (a final review) as above, two reports one headline route joins, each summary another outlet's background:
    # whether the later one is a development over the earlier is read on its headline, as the update rule reads
    # a report its headline alone joins (its summary's words are no development)
    early = T0 - timedelta(hours=8)
    assert _later_then_earlier(
        tmp_path,
        ("Macron holds defence talks with Modi",
         "Schumer praised Thune; Democrats grumbled about Pentagon contractors, Boeing tankers, Lockheed jets, "
         "Raytheon missiles, shipyard bonuses, runway repairs, pipeline permits and munitions."),
        ("Macron and Modi hold defence talks",
         "Farmers harvested saffron, cardamom, turmeric, mangoes, cashews, tea leaves, cotton bales, jute sacks, "
         "basmati paddy, sugarcane stalks and coconut husks near monsoon-soaked villages.")) == (
        "https://b.example/1", early, early)


def _rebase_posts() -> tuple[dict[str, object], dict[str, object]]:
    """A blog's two posts on one subject: their headlines share their words, their summaries nothing."""
    a = {"title": "Fixing the branch source with git rebase", "guid": "a1", "link": "https://a.example/1",
         "summary": "Started work from the wrong starting point? The onto option moves those commits where they "
                    "belong, keeps authorship intact, and avoids cherry picking every change by hand across "
                    "repositories or forks.", "date": T0}
    b = {"title": "Updating a branch with git rebase", "guid": "a2", "link": "https://a.example/2",
         "summary": "Pull the newest upstream changes into your topic work so reviewers see a clean linear history; "
                    "resolve conflicts once, run tests again, then force push safely with lease to the shared "
                    "remote server.", "date": T0 + timedelta(hours=1)}
    return a, b


def test_a_feeds_own_posts_on_one_subject_stay_apart_though_their_headlines_match(tmp_path: Path) -> None:
    # the headline route (a report scored on its headline alone) is for other outlets' reports: a blog's two
    # posts on one subject share their headlines' words and their summaries tell them apart
    a, b = _rebase_posts()
    pipe, _store, _clock = setup(tmp_path, {"a": rss([b, a]), "b": rss([]), "c": rss([])})
    pipe.run(force_all=True)
    assert sorted(e.title for e in entries(tmp_path)) == sorted([a["title"], b["title"]])
    # the same two posts from two outlets: one story, the second linked
    other = tmp_path / "other"
    other.mkdir()
    pipe, _store, _clock = setup(other, {"a": rss([a]), "b": rss([dict(b, guid="b2", link="https://b.example/2")]),
                                         "c": rss([])})
    pipe.run(force_all=True)
    got = entries(other)
    assert [e.title for e in got] == [a["title"]]
    assert [x.href for x in got[0].links if x.rel == "related"] == ["https://b.example/2"]


def test_a_feeds_own_post_stays_apart_after_a_restart_and_after_it_left_the_document(tmp_path: Path) -> None:
    # (a diff review) which feed a report came from is put back with the window: a new process whose feed
    # document no longer lists the first post still keeps the blog's second post apart
    a, b = _rebase_posts()
    from feeds.run import Pipeline

    pipe, store, clock = setup(tmp_path, {"a": rss([a]), "b": rss([]), "c": rss([])})
    pipe.run(force_all=True)
    pipe.close()
    again = Pipeline(pipe.cfg, store, now=clock)  # a new process: the index comes back from the store
    (tmp_path / "a.xml").write_bytes(rss([b]))  # the first post has left the feed's document
    clock.t = NOW + timedelta(minutes=20)
    again.run(force_all=True)
    assert sorted(e.title for e in entries(tmp_path)) == sorted([a["title"], b["title"]])


def test_an_earlier_fuller_report_begins_the_story_and_its_time(tmp_path: Path) -> None:
    # (a review of story entries) the later report is a shorter rewording of the earlier, which is a development
    # over it: read in time order the story's time would be the earlier's, and so it is whichever outlet comes
    # first in the config (the earlier's being a development over the later had kept the later's time)
    early = T0 - timedelta(hours=8)
    short = ("Gaza ceasefire talks resume in Cairo", "Gaza ceasefire talks resumed in Cairo on Saturday.")
    full = ("Gaza ceasefire talks resume in Cairo as Hamas delegation arrives, Egypt says",
            "Gaza ceasefire talks resumed in Cairo on Saturday as a Hamas delegation arrived, Egyptian officials "
            "said, with mediators from Qatar expected.")
    assert _later_then_earlier(tmp_path, short, full) == ("https://b.example/1", early, early)


def test_an_earlier_report_does_not_take_the_time_of_a_later_development(tmp_path: Path) -> None:
    # (a second review of a real news day) as above, but the report that began the story is a development over
    # the earlier one ("U.S. and Iran wrap up second round of nuclear talks" began a story that "... to hold a
    # second round ..." then joined): the earlier report begins the story, its link and published time, and
    # the story's `updated` stays the development's time
    assert _later_then_earlier(
        tmp_path,
        ("Macron and Modi sign Rafale fighter jet deal after talks in India",
         "French President Emmanuel Macron and Indian Prime Minister Narendra Modi signed a deal for 114 Rafale "
         "fighter jets worth 10 billion euros after their talks."),
        ("Macron holds talks with Modi in India",
         "French President Emmanuel Macron held talks with Indian Prime Minister Narendra Modi.")) == (
        "https://b.example/1", T0 - timedelta(hours=8), T0)


@pytest.mark.parametrize("prefer", ["", 'prefer_sources = ["z"]'])
def test_a_published_storys_link_stays_when_an_earlier_report_is_read_late(tmp_path: Path, prefer: str) -> None:
    # (a review reading a real news day) a report read in a later run with a date before the story's first
    # (a slower-polled outlet) joins as a related link: the entry keeps the headline, link and outlet readers
    # saw, with its `updated`, since a re-report is no development; the story's published time is its earliest
    # report's. (A diff review) the same with `prefer_sources` set, no preferred outlet reporting the story
    late = {"title": "Russia recognises Taliban government in Afghanistan", "guid": "a1",
            "link": "https://a.example/1", "date": T0}
    pipe, store, clock = setup(tmp_path, {"a": rss([late]), "b": rss([]), "z": rss([])},
                               f"[stories]\n{prefer}" if prefer else "")
    pipe.run(force_all=True)
    (before,) = entries(tmp_path)
    (tmp_path / "b.xml").write_bytes(rss([{"title": "Russia Recognizes Taliban Government in Afghanistan",
                                           "guid": "b1", "link": "https://b.example/1",
                                           "date": T0 - timedelta(hours=1)}]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    (e,) = entries(tmp_path)
    assert (e.id, e.link, e.title, e.updated) == (before.id, "https://a.example/1", late["title"], before.updated)
    assert [x.href for x in e.links if x.rel == "related"] == ["https://b.example/1"]
    assert datetime(*e.published_parsed[:6], tzinfo=UTC) == T0 - timedelta(hours=1)
    assert store.counts()["stories"] == 1
    # the story's own representative (what `feeds explain` and a headline correction read), not only the channel's
    import sqlite3

    with sqlite3.connect(tmp_path / "feeds.db") as con:
        assert con.execute("SELECT i.guid FROM stories s JOIN items i ON i.id = s.rep_item_id").fetchall() == [("a1",)]


def test_rss_dates_an_item_by_its_entrys_updated_so_a_development_is_not_dated_back(tmp_path: Path) -> None:
    # (a review) RSS has one date, which readers sort and age items by; the document lists entries by `updated`:
    # a story's development dated by the story's first report sat at the top of the document dated hours back
    first, other = FIRST, OTHER
    pipe, store, clock = setup(tmp_path, {"a": rss([first, other]), "c": rss([])}, channel='formats = ["atom", "rss"]')
    pipe.run(force_all=True)
    (tmp_path / "c.xml").write_bytes(rss([DEVELOPMENT]))
    clock.t = NOW + timedelta(minutes=40)
    pipe.run(force_all=True)
    atom = {e.id: e for e in entries(tmp_path)}
    items = feedparser.parse((tmp_path / "out" / "all.rss").read_bytes()).entries
    assert [i.title for i in items] == [first["title"], other["title"]]  # the development first, as in Atom
    dates = [datetime(*i.published_parsed[:6], tzinfo=UTC) for i in items]
    assert dates == [T0 + timedelta(hours=2), T0 + timedelta(minutes=5)]
    assert dates == [datetime(*atom[i.id].updated_parsed[:6], tzinfo=UTC) for i in items]


def _channel_links(tmp: Path, slug: str) -> list[str]:
    return [e.link for e in feedparser.parse((tmp / "out" / f"{slug}.atom").read_bytes()).entries]


@pytest.mark.parametrize("prefer,unkept", [("", False), ('prefer_sources = ["b"]', False), ("", True)])
def test_a_channels_entry_keeps_its_report_when_an_earlier_one_is_read_late_unless_preferred(
        tmp_path: Path, prefer: str, unkept: bool) -> None:
    # (a diff review) a channel whose rules did not take the story's representative shows the earliest report
    # it took; a report read in a later run with an earlier date took the channel's entry over, headline and
    # link, with no move of `updated`, as the story's own representative had. It stays; a preferred outlet's
    # report still takes the entry (`stories.prefer_sources`), in the channel as in the story
    a = {"title": "Russia recognises Taliban government in Afghanistan", "guid": "a1", "link": "https://a.example/1",
         "date": T0}
    c = {"title": "Russia recognises the Taliban government of Afghanistan", "guid": "c1",
         "link": "https://c.example/1", "date": T0 + timedelta(hours=1)}
    pipe, store, clock = setup(tmp_path, {"a": rss([a]), "b": rss([]), "c": rss([c])},
                               f"[stories]\n{prefer}" if prefer else "",
                               '[channels.bc]\ntitle = "BC"\nsources = ["b", "c"]\nmatch_all = true')
    pipe.run(force_all=True)
    assert (_channel_links(tmp_path, "all"), _channel_links(tmp_path, "bc")) == (
        ["https://a.example/1"], ["https://c.example/1"])
    (before,) = feedparser.parse((tmp_path / "out" / "bc.atom").read_bytes()).entries
    if unkept:  # (a second review) as a store just upgraded to schema 9, or after a prefer_sources change, left it:
        # no report kept yet, and no publish before the late report comes
        import sqlite3

        with sqlite3.connect(tmp_path / "feeds.db") as con:
            con.execute("UPDATE story_channels SET rep_item_id = NULL")
    (tmp_path / "b.xml").write_bytes(rss([{"title": "Russia Recognizes Taliban Government in Afghanistan",
                                           "guid": "b1", "link": "https://b.example/1",
                                           "date": T0 - timedelta(hours=1)}]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    (e,) = feedparser.parse((tmp_path / "out" / "bc.atom").read_bytes()).entries
    assert e.id == before.id and e.updated == before.updated
    if prefer:  # the preferred outlet's report stands for the story, and in the channel that took it
        assert (_channel_links(tmp_path, "all"), e.link) == (["https://b.example/1"], "https://b.example/1")
    else:
        assert (_channel_links(tmp_path, "all"), e.link) == (["https://a.example/1"], "https://c.example/1")
        assert [x.href for x in e.links if x.rel == "related"] == ["https://b.example/1", "https://a.example/1"]


# three outlets' reports of one event: a's the earliest, then b's, then c's; channel bc takes b's and c's only
_THREE_REPORTS = (
    {"title": "Russia recognises Taliban government in Afghanistan", "guid": "a1", "link": "https://a.example/1",
     "date": T0 - timedelta(hours=2)},
    {"title": "Russia recognises the Taliban government of Afghanistan", "guid": "c1", "link": "https://c.example/1",
     "date": T0 + timedelta(hours=1)},
    {"title": "Russia Recognizes Taliban Government in Afghanistan", "guid": "b1", "link": "https://b.example/1",
     "date": T0 - timedelta(hours=1)})
_BC = '[channels.bc]\ntitle = "BC"\nsources = ["b", "c"]\nmatch_all = true'


def test_within_one_run_a_channels_entry_stands_on_the_earliest_report_it_took(tmp_path: Path) -> None:
    # the kept report is what a publish showed: before the first publish the rule chooses, the earliest report
    # the channel took (b's, read after c's in the run), while the story stands on its earliest, a's
    a, c, b = _THREE_REPORTS
    pipe, store, clock = setup(tmp_path, {"a": rss([a]), "c": rss([c]), "b": rss([b])}, "",
                               _BC)
    pipe.run(force_all=True)
    assert (_channel_links(tmp_path, "all"), _channel_links(tmp_path, "bc")) == (
        ["https://a.example/1"], ["https://b.example/1"])


def test_a_channels_first_entry_for_a_published_story_stands_on_the_earliest_report_it_took(tmp_path: Path) -> None:
    # (a third review) a channel that never showed a published story takes two of its reports in one run, the
    # later one read first: its first entry stands on the earliest, as a story begun in the run does; recording
    # what channels showed before reports join took the row the run's first report had made for the channel
    a, c, b = _THREE_REPORTS
    pipe, store, clock = setup(tmp_path, {"a": rss([a]), "c": rss([]), "b": rss([])}, "",
                               _BC)
    pipe.run(force_all=True)
    assert _channel_links(tmp_path, "bc") == []
    (tmp_path / "c.xml").write_bytes(rss([c]))
    (tmp_path / "b.xml").write_bytes(rss([b]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    assert (_channel_links(tmp_path, "all"), _channel_links(tmp_path, "bc")) == (
        ["https://a.example/1"], ["https://b.example/1"])
