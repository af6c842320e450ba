"""What a channel publishes of a story: the report standing for it there is one the channel's rules took
(its headline, link, author, summary), the story's other reports are related links, and a story of many
reports lists a bounded number of them, and the HTML page dates each story by the report it shows.

The real pipeline on local feed files (a real SQLite store) or a store filled directly (tests/test_publish.py's
Fill); every document is parsed back (feedparser, lxml) and validated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from feedgen_util import rss
from lxml import etree
from lxml import html as lhtml
from test_pipeline import NOW, Clock
from test_publish import BASE, T0, Fill, assert_valid, make_config

from feeds.config import Config, parse_config
from feeds.publish import MAX_RELATED, publish
from feeds.run import Pipeline
from feeds.store import Store

A = "{http://www.w3.org/2005/Atom}"
T = NOW - timedelta(hours=3)  # 09:00

ALPHA = {"title": "Senate passes $60 billion Ukraine aid package after late-night vote", "guid": "a1",
         "link": "https://alpha.example/aid", "date": T, "summary": "Alpha's account of the vote."}
BETA = {"title": "Senate passes $60 billion aid package after late-night vote", "guid": "b1",
        "link": "https://beta.example/aid", "date": T + timedelta(hours=1), "summary": "Beta's account of the vote."}
GAMMA = {"title": "Senate passes $60 billion aid package in late-night vote", "guid": "g1",
         "link": "https://gamma.example/aid", "date": T + timedelta(hours=2), "summary": "Gamma's account."}
NAMES = {"alpha": "Alpha News", "beta": "Beta Times", "gamma": "Gamma Post"}

CHANNELS = """
[channels.all]
title = "All"
match_all = true

[channels.politics]
title = "Politics"
include = ["Senate"]
exclude = ["Ukraine"]

[channels.beta]
title = "Beta only"
match_all = true
sources = ["Beta Times"]
"""


def pipeline(tmp: Path, feeds: dict[str, list[dict[str, object]]], *, output: str = "",
             stories: str = "") -> tuple[Config, Pipeline, Store]:
    srcs = ""
    for name, items in feeds.items():
        (tmp / f"{name}.xml").write_bytes(rss(items))
        srcs += f'[[sources]]\nurl = "{name}.xml"\nname = "{NAMES[name]}"\n'
    text = f"""
[output]
dir = "out"
base_url = "{BASE}"
formats = ["atom", "json", "rss", "html"]
{output}
[store]
path = "feeds.db"
[stories]
{stories}
{srcs}
{CHANNELS}
"""
    cfg = parse_config(text, tmp / "feeds.toml")
    store = Store.open(cfg.store_path)
    return cfg, Pipeline(cfg, store, now=Clock(NOW)), store


def entries(path: Path) -> list[feedparser.FeedParserDict]:
    doc = feedparser.parse(path.read_bytes())
    assert not doc.bozo, path
    return list(doc.entries)


def related(e: feedparser.FeedParserDict) -> list[str]:
    return [x.href for x in e.links if x.rel == "related"]


@pytest.mark.parametrize("archive", [True, False])
def test_a_channel_publishes_a_story_through_a_report_its_rules_took(tmp_path: Path, archive: bool) -> None:
    """Alpha's report names Ukraine, which Politics excludes; Beta's, an hour later, does not: the story is in
    Politics through Beta's report, and Beta's report is what Politics shows, not Alpha's headline and link. A
    channel of Beta's reports only never shows Alpha's. The entry keeps the story's id everywhere."""
    cfg, pipe, store = pipeline(tmp_path, {"alpha": [ALPHA], "beta": [BETA]},
                                output=f"archive = {'true' if archive else 'false'}")
    try:
        pipe.run(force_all=True)
    finally:
        pipe.close()
        store.close()
    (everything,) = entries(tmp_path / "out" / "all.atom")
    assert (everything.title, everything.link, everything.author) == (ALPHA["title"], ALPHA["link"], "Alpha News")
    assert related(everything) == [BETA["link"]]
    for slug in ("politics", "beta"):
        (e,) = entries(tmp_path / "out" / f"{slug}.atom")
        assert (e.title, e.link, e.author, e.source.title) == (BETA["title"], BETA["link"], "Beta Times", "Beta Times")
        assert "Beta's account" in e.summary and "Alpha's account" not in e.summary
        assert related(e) == [ALPHA["link"]]  # the other report, one click away
        assert e.id == everything.id and e.updated == everything.updated
        # JSON Feed and RSS carry the same entry
        (item,) = json.loads((tmp_path / "out" / f"{slug}.json").read_bytes())["items"]
        assert (item["id"], item["title"], item["url"]) == (e.id, BETA["title"], BETA["link"])
        assert item["_feeds"]["source"]["title"] == "Beta Times"
        (r,) = entries(tmp_path / "out" / f"{slug}.rss")
        assert (r.id, r.title, r.link) == (e.id, BETA["title"], BETA["link"])
        # and the page
        (art,) = lhtml.fromstring((tmp_path / "out" / f"{slug}.html").read_bytes()).findall(".//article")
        assert art.find("h2/a").get("href") == BETA["link"] and art.find("h2").text_content() == BETA["title"]
        assert art.find(".//p[@class='meta']/a").text_content() == "Beta Times"
    index = lhtml.fromstring((tmp_path / "out" / "index.html").read_bytes())
    assert [s.find(".//li/a").get("href") for s in index.findall(".//section")] == [
        ALPHA["link"], BETA["link"], BETA["link"]]
    assert_valid(tmp_path / "out")


def test_the_preferred_source_stands_for_the_story_only_where_the_channel_took_its_report(tmp_path: Path) -> None:
    cfg, pipe, store = pipeline(tmp_path, {"alpha": [ALPHA], "beta": [BETA], "gamma": [GAMMA]},
                                stories='prefer_sources = ["Gamma Post"]')
    try:
        pipe.run(force_all=True)
    finally:
        pipe.close()
        store.close()
    links = {slug: [(e.link, sorted(related(e))) for e in entries(tmp_path / "out" / f"{slug}.atom")]
             for slug in ("all", "politics", "beta")}
    assert links == {"all": [(GAMMA["link"], [ALPHA["link"], BETA["link"]])],
                     "politics": [(GAMMA["link"], [ALPHA["link"], BETA["link"]])],
                     "beta": [(BETA["link"], [ALPHA["link"], GAMMA["link"]])]}


def test_an_archived_entry_keeps_the_channels_report_and_the_storys_id(tmp_path: Path) -> None:
    """With one live entry, the aid story goes to the archive when a later story comes: each channel's
    archived snapshot shows that channel's report under the one id, walking the archive meets each id once,
    and a publish with nothing new writes nothing."""
    later = {"title": "Senate confirms new ambassador to Japan", "guid": "b2", "link": "https://beta.example/amb",
             "date": T + timedelta(hours=4)}
    cfg, pipe, store = pipeline(tmp_path, {"alpha": [ALPHA], "beta": [later, BETA]}, output="entries = 1")
    try:
        pipe.run(force_all=True)
        archived = {}
        for slug in ("all", "politics", "beta"):
            (live,) = entries(tmp_path / "out" / f"{slug}.atom")
            assert live.link == later["link"]
            root = etree.fromstring((tmp_path / "out" / "archive" / slug / "1.atom").read_bytes())
            (entry,) = root.findall(f"{A}entry")
            archived[slug] = (entry.findtext(f"{A}id"), entry.findtext(f"{A}title"),
                              [x.get("href") for x in entry.findall(f"{A}link")])
            assert live.id != archived[slug][0]
        assert archived["all"] == (archived["all"][0], ALPHA["title"], [ALPHA["link"], BETA["link"]])
        assert archived["politics"] == archived["beta"] == (archived["all"][0], BETA["title"],
                                                            [BETA["link"], ALPHA["link"]])
        assert_valid(tmp_path / "out")
        assert publish(cfg, store, ping=False).written == []
    finally:
        pipe.close()
        store.close()


# -- a story of many reports --------------------------------------------------------------------------------
def many(tmp: Path, others: list[tuple[str, str, float]]) -> Path:
    tmp.mkdir(exist_ok=True)
    cfg = make_config(tmp)
    store = Store.open(cfg.store_path)
    try:
        Fill(store).story(["news"], "Lead Wire", "Quake strikes the coast", T0, others=others)
        assert not publish(cfg, store, ping=False).errors
    finally:
        store.close()
    assert_valid(cfg.output.dir)
    return cfg.output.dir


def test_a_story_of_many_reports_lists_a_bounded_number_of_them(tmp_path: Path) -> None:
    """One outlet's 25 follow-ups come first, ten other outlets' reports later: the entry lists MAX_RELATED
    reports, every outlet's first one among them, and says how many it leaves out."""
    follow_ups = [("Wire One", f"Quake update {i}", T0 + 60 * i) for i in range(1, 26)]
    outlets = [(f"Outlet {k}", f"Quake report from outlet {k}", T0 + 3600 + k) for k in range(10)]
    out = many(tmp_path, follow_ups + outlets)
    (e,) = entries(out / "news.atom")
    links = related(e)
    assert len(links) == MAX_RELATED
    titles = [x.title.split(": ", 1)[1] for x in e.links if x.rel == "related"]
    # in time order: Wire One's first ten reports, then each other outlet's
    assert titles == [f"Quake update {i}" for i in range(1, 11)] + [t for _s, t, _w in outlets]
    assert "15 more reports of this story are not listed below." in e.summary
    assert e.summary.count("<li>") == MAX_RELATED
    (item,) = json.loads((out / "news.json").read_bytes())["items"]
    assert len(item["_feeds"]["also_reported_by"]) == MAX_RELATED
    assert "15 more reports" in item["content_html"]
    (art,) = lhtml.fromstring((out / "news.html").read_bytes()).findall(".//article")
    assert len(art.findall(".//div[@class='also']//li")) == MAX_RELATED
    assert "15 more reports of this story are not listed below." in art.find(".//div[@class='summary']").text_content()


def test_the_note_counts_the_outlets_left_out_and_a_list_at_the_bound_is_whole(tmp_path: Path) -> None:
    others = [(f"Outlet {k:02d}", f"Quake report number {k}", T0 + 60 * k) for k in range(1, MAX_RELATED + 12)]
    out = many(tmp_path / "over", others)
    (e,) = entries(out / "news.atom")
    assert [x.title for x in e.links if x.rel == "related"] == [f"{s}: {t}" for s, t, _w in others[:MAX_RELATED]]
    assert "11 more reports of this story, from 11 more outlets, are not listed below." in e.summary
    out = many(tmp_path / "exact", others[:MAX_RELATED])
    (e,) = entries(out / "news.atom")
    assert len(related(e)) == MAX_RELATED and "not listed" not in e.summary


# -- the HTML page's byline and order ----------------------------------------------------------------------------
def page_times(path: Path) -> list[tuple[str, str, str]]:
    """(headline, outlet, time) of each story on a channel page, top to bottom."""
    doc = lhtml.fromstring(path.read_bytes())
    return [(a.find("h2").text_content(), a.find(".//p[@class='meta']/a").text_content(),
             a.find(".//p[@class='meta']/time").get("datetime")) for a in doc.findall(".//article")]


def test_the_page_dates_a_preferred_report_by_its_own_time(tmp_path: Path) -> None:
    """Gamma's report, preferred, stands for a story Beta reported first: the page's byline is Gamma's and
    Gamma's time, not Beta's; the feeds' published time stays the story's (its first report's)."""
    cfg, pipe, store = pipeline(tmp_path, {"beta": [BETA], "gamma": [GAMMA]},
                                stories='prefer_sources = ["Gamma Post"]')
    try:
        pipe.run(force_all=True)
    finally:
        pipe.close()
        store.close()
    gamma_time = (T + timedelta(hours=2)).isoformat()
    assert page_times(tmp_path / "out" / "all.html") == [(GAMMA["title"], "Gamma Post", gamma_time)]
    (e,) = entries(tmp_path / "out" / "all.atom")
    assert e.author == "Gamma Post"
    assert datetime(*e.published_parsed[:6], tzinfo=UTC) == T + timedelta(hours=1)


def test_the_page_lists_stories_in_the_feeds_order_and_says_when_one_moved(tmp_path: Path) -> None:
    """A story first reported at T0 that developed five hours later is the feeds' newest entry (its `updated`);
    the page showed it at the top with its report's time, T0, above a story reported at T0 + 3 h ("newest
    first" read out of order). The page keeps the feeds' order and says "updated <time>" beside that
    story's byline: the times that order the page are the ones it shows."""
    cfg = make_config(tmp_path)
    store = Store.open(cfg.store_path)
    try:
        f = Fill(store)
        early = f.story(["news"], "Alpha Wire", "Harbour reopens after storm", T0)
        f.story(["news"], "Beta Post", "Bridge vote passes", T0 + 3 * 3600)
        f.story(["news"], "Gamma Daily", "Rain expected over the weekend", T0 + 3600)
        f.touch(early, ["news"], T0 + 5 * 3600)
        assert not publish(cfg, store, ping=False).errors
    finally:
        store.close()
    out = cfg.output.dir
    order = ["Harbour reopens after storm", "Bridge vote passes", "Rain expected over the weekend"]
    assert [e.title for e in entries(out / "news.atom")] == order
    shown = page_times(out / "news.html")
    assert [h for h, _o, _t in shown] == order
    assert shown[0][2] == datetime.fromtimestamp(T0, UTC).isoformat()  # its report's time in the byline
    doc = lhtml.fromstring((out / "news.html").read_bytes())
    ordering = []  # per story: the time that orders it (its "updated" if shown, else its report's)
    for a in doc.findall(".//article"):
        times = [t.get("datetime") for t in a.findall(".//p[@class='meta']/time")]
        ordering.append(times[-1])
        if a.find("h2").text_content() == "Harbour reopens after storm":
            assert len(times) == 2 and "updated" in a.find(".//p[@class='meta']").text_content()
        else:
            assert len(times) == 1
    assert ordering == sorted(ordering, reverse=True)
    assert ordering[0] == datetime.fromtimestamp(T0 + 5 * 3600, UTC).isoformat()
