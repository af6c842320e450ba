"""Behaviours of feeds/publish.py that a mutation survey of publish.py and feeds/formats found unpinned or pinned
only in passing: the RFC 5005 archive at the moment a page fills, the `updated` stamp of the open archive page,
and the rules that de-duplicate an entry's related links. Each test names the mutants it kills: each was applied
to feeds/publish.py, seen to fail the test, and taken back.

Real parts throughout: a real SQLite store filled through Store methods (tests/test_publish.py's Fill), a real
publish into a temporary output directory, the documents parsed back with lxml and JSON and validated."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lxml import etree
from lxml import html as lhtml
from test_archives import BASE, A, doc_of, links, walk
from test_publish import T0, Fill, assert_valid, make_config, snapshot

from feeds.config import Config
from feeds.publish import MAX_RELATED, publish
from feeds.store import Store

P = 5  # archive page size of these tests
LIVE = 3  # output.entries: the live feed's size


# -- helpers -------------------------------------------------------------------------------------------
def archive_files(out: Path) -> list[str]:
    folder = out / "archive" / "news"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def page(out: Path, n: int) -> etree._Element:
    return doc_of(out, f"{BASE}archive/news/{n}.atom")


def live(out: Path) -> etree._Element:
    return doc_of(out, f"{BASE}news.atom")


def updated(root: etree._Element) -> str:
    """A document's own atom:updated."""
    return str(root.findtext(f"{A}updated"))


def titles(root: etree._Element) -> list[str]:
    """The entries' titles, as the document lists them (newest first)."""
    return [str(e.findtext(f"{A}title")) for e in root.findall(f"{A}entry")]


def stamp(out: Path, title: str) -> str:
    """The atom:updated of the entry titled `title`, wherever the chain from the live feed holds it."""
    url = f"{BASE}news.atom"
    while url:
        root = doc_of(out, url)
        for e in root.findall(f"{A}entry"):
            if e.findtext(f"{A}title") == title:
                return str(e.findtext(f"{A}updated"))
        prev = links(root, "prev-archive")
        url = prev[0] if prev else ""
    raise AssertionError(f"no entry titled {title!r}")


def publish_ok(cfg: Config, store: Store) -> list[str]:
    """Publish with pages of P entries; the Atom documents written, relative to the output directory."""
    report = publish(cfg, store, page_size=P)
    assert not report.errors, report.errors
    return sorted(p.relative_to(cfg.output.dir).as_posix() for p in report.written if p.suffix == ".atom")


def page_archive_link(out: Path) -> list[str]:
    """The channel page's links to its Atom archive (relative, like every link between the site's files)."""
    doc = lhtml.fromstring((out / "news.html").read_bytes())
    return [str(a.get("href")) for a in doc.iter("a") if a.text_content() == "Older stories (Atom archive)"]


class Desk:
    """Stories of channel "news", each with its own title, through one Fill (distinct ids throughout)."""

    def __init__(self, store: Store) -> None:
        self.fill = Fill(store)
        self.fill.next_id = 10_000

    def add(self, title: str, when: float, outlet: str = "Alpha Wire") -> int:
        return self.fill.story(["news"], outlet, title, when)


# -- 1. the archive at the moment a page fills -----------------------------------------------------------
def test_a_page_that_fills_exactly_is_full_and_the_next_page_opens_empty(tmp_path: Path) -> None:
    """Archive pages are numbered by `archive_pages`: no page while nothing is archived; pages 1..size // P are
    full and the next one is open. With exactly P entries archived (not P + 1) page 1 is full, links forward to
    page 2, and page 2 exists, empty, linked from the live feed as `2.atom?n=P`; the P + 1-th entry goes to
    page 2 and page 1 keeps its bytes and mtime. The channel's HTML page links the open page the same way
    (`archive/news/2.atom?n=P`), and has no such link while nothing is archived.

    Kills: `archive_pages` returning the ceiling (`(size + page_size - 1) // page_size`: at exactly P entries
    page 1 stays the open page, with no page 2), `size // page_size + 0`,
    `if size <= 0` -> `if size < 0` (an empty page 1 and a prev-archive link for an archive holding nothing),
    and `page < pages` -> `page <= pages` for the next-archive link; on the HTML page, the archive link given
    only from page 2 on (`if pages > 1`), to the page before the open one (`pages - 1`), or without the archive's
    size (`archive_name(...)` for `open_page_link(...)`)."""
    cfg = make_config(tmp_path, entries=LIVE, formats=("atom", "html"))
    out = cfg.output.dir
    store = Store.open(cfg.store_path)
    desk = Desk(store)
    n = 0

    def more(k: int) -> None:
        nonlocal n
        for _ in range(k):
            desk.add(f"Story number {n}", T0 + 60 * n)
            n += 1

    try:
        more(LIVE)  # as many as the live feed holds: nothing is archived, there is no archive at all
        publish_ok(cfg, store)
        assert archive_files(out) == [] and links(live(out), "prev-archive") == []
        assert page_archive_link(out) == []
        more(P - 1)  # P - 1 archived: page 1 is the only page, open, linking neither way
        publish_ok(cfg, store)
        assert archive_files(out) == ["1.atom"]
        assert [len(ids) for _u, ids in walk(out)] == [LIVE, P - 1]
        assert links(live(out), "prev-archive") == [f"{BASE}archive/news/1.atom?n={P - 1}"]
        assert links(page(out, 1), "prev-archive") == links(page(out, 1), "next-archive") == []
        assert page_archive_link(out) == [f"archive/news/1.atom?n={P - 1}"]
        more(1)  # exactly P archived: page 1 is full, page 2 opens empty
        assert publish_ok(cfg, store) == ["archive/news/1.atom", "archive/news/2.atom", "news.atom"]
        assert archive_files(out) == ["1.atom", "2.atom"]
        assert [len(ids) for _u, ids in walk(out)] == [LIVE, 0, P]
        assert links(live(out), "prev-archive") == [f"{BASE}archive/news/2.atom?n={P}"]
        assert page_archive_link(out) == [f"archive/news/2.atom?n={P}"]
        assert links(page(out, 1), "prev-archive") == []
        assert links(page(out, 1), "next-archive") == [f"{BASE}archive/news/2.atom"]
        assert links(page(out, 2), "prev-archive") == [f"{BASE}archive/news/1.atom"]
        assert links(page(out, 2), "next-archive") == []
        assert titles(page(out, 1)) == [f"Story number {k}" for k in reversed(range(P))]
        assert_valid(out)
        full = snapshot(out)["archive/news/1.atom"]
        more(1)  # P + 1: the new entry opens page 2; page 1 is final
        assert publish_ok(cfg, store) == ["archive/news/2.atom", "news.atom"]
        assert snapshot(out)["archive/news/1.atom"] == full
        assert [len(ids) for _u, ids in walk(out)] == [LIVE, 1, P]
        assert titles(page(out, 2)) == [f"Story number {P}"]
        assert links(live(out), "prev-archive") == [f"{BASE}archive/news/2.atom?n={P + 1}"]
        assert page_archive_link(out) == [f"archive/news/2.atom?n={P + 1}"]
        assert_valid(out)
    finally:
        store.close()


def test_one_publish_that_fills_two_pages_exactly_opens_a_third(tmp_path: Path) -> None:
    """A first publish of a store holding LIVE + 2P stories archives exactly 2P entries in one go: pages 1 and
    2 are full (written as they fill, each linking to the next), page 3 is open and empty, and the live feed
    links it as `3.atom?n=2P`; a publish after it writes nothing.

    Kills the `archive_pages` ceiling mutant (page 2 would be the open page, without a next-archive link, and no
    page 3 would exist), `_render_archive_page(..., page, page + 1, ...)` -> `(..., page, page, ...)` for a page
    filled in the archiving loop (no next-archive link on a full page, for good), and the empty open page's
    fallback dropped (page 3 dated by the clock)."""
    cfg = make_config(tmp_path, entries=LIVE, formats=("atom",))
    out = cfg.output.dir
    store = Store.open(cfg.store_path)
    desk = Desk(store)
    try:
        for k in range(LIVE + 2 * P):
            desk.add(f"Story number {k}", T0 + 60 * k)
        assert publish_ok(cfg, store) == ["archive/news/1.atom", "archive/news/2.atom", "archive/news/3.atom",
                                          "news.atom"]
        assert [len(ids) for _u, ids in walk(out)] == [LIVE, 0, P, P]
        assert links(live(out), "prev-archive") == [f"{BASE}archive/news/3.atom?n={2 * P}"]
        assert links(page(out, 1), "next-archive") == [f"{BASE}archive/news/2.atom"]
        assert links(page(out, 2), "next-archive") == [f"{BASE}archive/news/3.atom"]
        assert links(page(out, 3), "next-archive") == []
        assert updated(page(out, 3)) == updated(page(out, 2)) == stamp(out, f"Story number {2 * P - 1}")
        assert_valid(out)
        assert publish_ok(cfg, store) == []
    finally:
        store.close()


# -- 3. the open page's stamp ------------------------------------------------------------------------------
def test_the_open_pages_updated_is_its_newest_entrys_or_the_full_page_befores(tmp_path: Path) -> None:
    """An archive page's `updated` is the newest `updated` of its entries (`max(stamps)`), whatever order they
    were archived in: a late arrival (a story dated before the live window, archived straight away) does not
    move it back. The open page right after a page filled, empty, takes the `updated` of the page before it
    (all of that page: its first slot's entry can be the newest), so that it does not carry the clock's time
    and change at every publish; so does the same page rendered again from the store once deleted. The live
    feed's `updated` is its newest entry's: late arrivals leave it alone.

    Kills: `max(stamps)` -> `min(stamps)`, `stamps[0]`, `stamps[-1]` (page 1 of [S0] then [L1, S0]; page 2 of
    [S1, S2] then [L5, S2, S1], re-read from their snapshots, newest-archived first); the empty open page's
    fallback dropped (`updated` = the publish's clock), `start > 0` -> `start > page_size`, and
    `max(0, start - page_size)` -> `start - page_size + 1` (page 1's newest entry is its first slot); and in
    `_feed_updated`, the floor taken whatever the newest entry (`newest < floor` dropped: the live feed stays at
    the `updated` it had when first published)."""
    cfg = make_config(tmp_path, entries=LIVE, formats=("atom",))
    out = cfg.output.dir
    store = Store.open(cfg.store_path)
    desk = Desk(store)
    try:
        for k in range(LIVE + 1):  # S0 .. S3: S0 archived (slot 0)
            desk.add(f"S{k}", T0 + 60 * k)
        publish_ok(cfg, store)
        assert titles(page(out, 1)) == ["S0"] and updated(page(out, 1)) == stamp(out, "S0")
        assert titles(live(out)) == ["S3", "S2", "S1"] and updated(live(out)) == stamp(out, "S3")

        desk.add("L1", T0 - 3600)  # a late arrival: slot 1, after S0, dated before it
        assert publish_ok(cfg, store) == ["archive/news/1.atom", "news.atom"]  # the live feed for its link only
        assert titles(page(out, 1)) == ["L1", "S0"]
        assert updated(page(out, 1)) == stamp(out, "S0") > stamp(out, "L1")
        assert titles(live(out)) == ["S3", "S2", "S1"] and updated(live(out)) == stamp(out, "S3")

        for k, name in enumerate(("L2", "L3", "L4")):  # slots 2 .. 4 (oldest first): page 1 is full, page 2 opens
            desk.add(name, T0 - 7200 - 60 * k)
        publish_ok(cfg, store)
        assert titles(page(out, 1)) == ["L2", "L3", "L4", "L1", "S0"] and titles(page(out, 2)) == []
        assert updated(page(out, 1)) == updated(page(out, 2)) == stamp(out, "S0")
        empty = (out / "archive/news/2.atom").read_bytes()
        (out / "archive/news/2.atom").unlink()  # rendered again from the store: the same bytes
        assert publish_ok(cfg, store) == ["archive/news/2.atom"]
        assert (out / "archive/news/2.atom").read_bytes() == empty

        for k in (LIVE + 1, LIVE + 2):  # S4, S5: S1 and S2 archived (slots 5, 6) on page 2
            desk.add(f"S{k}", T0 + 60 * k)
        publish_ok(cfg, store)
        assert titles(page(out, 2)) == ["S2", "S1"] and updated(page(out, 2)) == stamp(out, "S2")

        desk.add("L5", T0 - 10_800)  # slot 7, dated before every other entry of page 2
        publish_ok(cfg, store)
        assert titles(page(out, 2)) == ["L5", "S2", "S1"]
        assert updated(page(out, 2)) == stamp(out, "S2") > stamp(out, "S1") > stamp(out, "L5")
        assert updated(page(out, 1)) == stamp(out, "S0")
        assert titles(live(out)) == ["S5", "S4", "S3"] and updated(live(out)) == stamp(out, "S5")
        assert_valid(out)
        assert publish_ok(cfg, store) == []  # nothing new: nothing written (no page carries the clock)
    finally:
        store.close()


# -- 2. related links ------------------------------------------------------------------------------------
Report = tuple[str, str, str | None]  # outlet, headline, link


def story_of(store: Store, fill: Fill, rep: Report, others: Sequence[Report], when: float) -> list[int]:
    """One story in channel "news": its first report `rep`, then `others`, a minute apart each (the order
    related links list them in). Returns the reports' item ids, `rep`'s first (the story's id)."""
    for name in {rep[0], *(o[0] for o in others)}:
        fill.source(name)
    with store.tx() as c:
        ids = [fill._item(c, rep[0], rep[1], when, link=rep[2])]
        ids += [fill._item(c, src, title, when + 60 * (k + 1), story_id=ids[0], link=link)
                for k, (src, title, link) in enumerate(others)]
        if others:
            store.update_story(c, ids[0], size=1 + len(others))
        store.set_story_channels(c, ids[0], ["news"], when)
    return ids


def sighting(store: Store, fill: Fill, item_id: int, outlet: str, link: str | None, title: str | None,
             seen: float) -> None:
    """An exact re-post of a report by another outlet (link and title may be missing)."""
    sid = fill.source(outlet)
    with store.tx() as c:
        store.add_sightings(c, [{"item_id": item_id, "source_id": sid, "link": link, "title": title,
                                 "seen": seen}])


def published_entry(cfg: Config) -> tuple[list[tuple[str, str]], list[dict[str, Any]], str]:
    """The channel's one entry as published: its Atom related links (href, title), its JSON Feed
    `also_reported_by` and its Atom alternate link; every document valid."""
    out = cfg.output.dir
    assert_valid(out)
    (entry,) = etree.fromstring((out / "news.atom").read_bytes()).findall(f"{A}entry")
    related = [(str(ln.get("href")), str(ln.get("title"))) for ln in entry.findall(f"{A}link")
               if ln.get("rel") == "related"]
    (alternate,) = links(entry, "alternate")
    (item,) = json.loads((out / "news.json").read_bytes())["items"]
    assert item["url"] == alternate
    return related, item["_feeds"]["also_reported_by"], alternate


def test_related_links_drop_what_the_alternate_or_an_earlier_link_already_gives(tmp_path: Path) -> None:
    """Rule (`_related`): every other report is compared by its canonical link (`canonical_link` of its
    cleaned link) with the entry's alternate link and the related links before it. One that repeats the
    alternate's article (`m.` host, `www.`, trailing slash) is credited without a link ("(the same report)")
    when its outlet is another, and dropped when it is the representative's own outlet; one that repeats an
    earlier related link (a fragment, `www.`, http against https) is dropped when its outlet was credited
    already (a re-post the outlet made of its own article). The link that is published is the first report's
    own (cleaned of trackers, not canonicalised).

    Kills: `seen = {canonical_link(link)} ...` -> `set()` (Delta and Alpha's copy get related links that
    repeat the alternate), `canon = canonical_link(safe)` -> `canon = safe` (the normalised duplicates get
    links), dropping `seen.add(canon)` (Beta's second link listed), dropping `credited.add(source)` (Beta's
    copy credited as a same report), `credited = {st.rep.source_name}` -> `set()` (Alpha credited for its own
    article), `if same and source in credited` -> `if same` (Delta, never credited, left out), and a duplicate
    that is no same report (`safe, same = None, True` -> `None, False`: Delta listed by its headline)."""
    cfg = make_config(tmp_path, formats=("atom", "json"))
    store = Store.open(cfg.store_path)
    fill = Fill(store)
    try:
        rep = ("Alpha Wire", "Quake hits the coast", "https://alpha.example/news/quake?utm_source=rss")
        story_of(store, fill, rep, [
            ("Beta Post", "Strong quake shakes coastal towns", "http://WWW.beta.example/quake/"),
            ("Gamma Daily", "Coast hit by quake", "https://gamma.example/quake"),
            ("Beta Post", "Strong quake shakes coastal towns (updated)", "https://beta.example/quake#update"),
            ("Delta News", "Quake hits the coast", "https://m.alpha.example/news/quake/"),
            ("Alpha Wire", "Quake hits the coast", "https://www.alpha.example/news/quake"),
        ], T0)
        assert not publish(cfg, store, page_size=P).errors
    finally:
        store.close()
    related, also, alternate = published_entry(cfg)
    assert alternate == "https://alpha.example/news/quake"
    assert related == [("http://www.beta.example/quake/", "Beta Post: Strong quake shakes coastal towns"),
                       ("https://gamma.example/quake", "Gamma Daily: Coast hit by quake")]
    assert also == [
        {"source": "Beta Post", "title": "Strong quake shakes coastal towns", "url": "http://www.beta.example/quake/"},
        {"source": "Gamma Daily", "title": "Coast hit by quake", "url": "https://gamma.example/quake"},
        {"source": "Delta News", "title": "Quake hits the coast", "same_report": True},
    ]


def test_reports_and_reposts_without_a_link_are_credited_by_their_own_rules(tmp_path: Path) -> None:
    """Rule (`_related`): another *report* without a safe link (none, `javascript:`) is listed by its headline,
    once per report, even when its outlet is listed already (an outlet's two reports are two items); an outlet's
    second report with a distinct link is listed with its link. A *re-post* (a sighting) without a link is the
    same article: credited by its outlet's name once ("(the same report)"), and left out when that outlet is
    credited already; a re-post at a link already listed is left out for an outlet already credited. Re-posts
    come after the story's reports, the representative's first.

    Kills: `same = copy and safe is None` -> `same = False` (Kappa listed by a headline as a report of its own),
    -> `same = safe is None` (Epsilon's reports become "same reports": the second left out), `if same and source
    in credited` -> `if source in credited` (Epsilon's and Gamma's second reports left out), -> `if same`
    (Kappa left out), dropping `credited.add(source)` (Kappa credited twice, Gamma's re-post credited), and the
    story's reports taken for re-posts (`(..., m.link, False)` -> `True`: Epsilon credited once, as a copy)."""
    cfg = make_config(tmp_path, formats=("atom", "json"))
    store = Store.open(cfg.store_path)
    fill = Fill(store)
    try:
        rep, _beta, gamma, *_ = story_of(store, fill, ("Alpha Wire", "Dam gates opened", "https://alpha.example/dam"), [
            ("Beta Post", "Dam gates opened after rain", "https://beta.example/dam"),
            ("Gamma Daily", "Officials open dam gates", "https://gamma.example/dam"),
            ("Epsilon Times", "Dam gates open as river rises", None),
            ("Epsilon Times", "River crest expected tonight", "javascript:alert(1)"),
            ("Gamma Daily", "Dam release: what it means downstream", "https://gamma.example/dam-explainer"),
        ], T0)
        sighting(store, fill, rep, "Kappa News", None, "Dam gates opened", T0 + 900)
        sighting(store, fill, rep, "Gamma Daily", "https://www.gamma.example/dam/", "Officials open dam gates",
                 T0 + 901)
        sighting(store, fill, gamma, "Kappa News", None, "Officials open dam gates", T0 + 902)
        assert not publish(cfg, store, page_size=P).errors
    finally:
        store.close()
    related, also, _alternate = published_entry(cfg)
    assert related == [("https://beta.example/dam", "Beta Post: Dam gates opened after rain"),
                       ("https://gamma.example/dam", "Gamma Daily: Officials open dam gates"),
                       ("https://gamma.example/dam-explainer", "Gamma Daily: Dam release: what it means downstream")]
    assert also == [
        {"source": "Beta Post", "title": "Dam gates opened after rain", "url": "https://beta.example/dam"},
        {"source": "Gamma Daily", "title": "Officials open dam gates", "url": "https://gamma.example/dam"},
        {"source": "Epsilon Times", "title": "Dam gates open as river rises"},
        {"source": "Epsilon Times", "title": "River crest expected tonight"},
        {"source": "Gamma Daily", "title": "Dam release: what it means downstream",
         "url": "https://gamma.example/dam-explainer"},
        {"source": "Kappa News", "title": "Dam gates opened", "same_report": True},
    ]
    summary = etree.fromstring((cfg.output.dir / "news.atom").read_bytes()).find(f"{A}entry/{A}summary")
    assert summary is not None and summary.text is not None
    assert summary.text.count("Kappa News") == 1 and "Kappa News (the same report)" in summary.text
    assert "<li>Epsilon Times: Dam gates open as river rises</li>" in summary.text


def test_a_related_link_is_published_cleaned_as_an_iri_and_named_by_its_outlet_when_untitled(
        tmp_path: Path) -> None:
    """Rule (`_related`, `_web_url`, `iri`): a related link is its report's link without tracking parameters,
    with the ASCII characters an IRI may not hold percent-encoded (`|` -> `%7C`); a re-post with a link of its
    own but no title is named by its outlet ("Lambda Post: Lambda Post"), not left with an empty headline; a
    re-post of a later report is listed after every report.

    Kills: `safe_url(clean_link(url), None)` -> `safe_url(url, None)` in `_web_url` (the `utm_` parameters
    published), `iri(safe) if safe else None` -> `safe` (a raw `|` in an href), `_published_title(title) or
    source` -> `_published_title(title)` (an empty title: "Lambda Post: "), and the re-posts read of the
    representative only (`for m in (st.rep,)`: Lambda's re-post of Beta's report lost)."""
    cfg = make_config(tmp_path, formats=("atom", "json"))
    store = Store.open(cfg.store_path)
    fill = Fill(store)
    try:
        _rep, beta, _zeta = story_of(store, fill, ("Alpha Wire", "Port strike ends", "https://alpha.example/port"), [
            ("Beta Post", "Dockers end strike", "https://beta.example/port?utm_medium=feed&id=7"),
            ("Zeta Mail", "Strike over at the port", "https://zeta.example/a|b"),
        ], T0)
        sighting(store, fill, beta, "Lambda Post", "https://lambda.example/copy?utm_campaign=z", None, T0 + 900)
        assert not publish(cfg, store, page_size=P).errors
    finally:
        store.close()
    related, also, _alternate = published_entry(cfg)
    assert related == [("https://beta.example/port?id=7", "Beta Post: Dockers end strike"),
                       ("https://zeta.example/a%7Cb", "Zeta Mail: Strike over at the port"),
                       ("https://lambda.example/copy", "Lambda Post: Lambda Post")]
    assert also[-1] == {"source": "Lambda Post", "title": "Lambda Post", "url": "https://lambda.example/copy"}


def test_the_note_on_reports_left_out_counts_other_outlets_and_speaks_of_one_in_the_singular(
        tmp_path: Path) -> None:
    """Rules (`_bounded`, `_left_out`): of more than MAX_RELATED other reports from at least MAX_RELATED outlets,
    the first MAX_RELATED outlets' first reports are listed, an outlet's second report is not, however early. The
    line before the list counts the reports left out and the outlets among them that are neither listed nor the
    entry's own (its representative's outlet is no "more outlet"), in the singular for one. 22 other outlets (the
    first with a second report right after its first), then two follow-ups of the representative's outlet: 20
    listed, 5 left out, from 2 more outlets (not 3); 21 other outlets: 1 left out, from 1 more outlet.

    Kills: `keep = set(firsts[:MAX_RELATED])` -> `firsts[:MAX_RELATED - 1]` (Outlet 00's second report listed in
    Outlet 19's place), `len(keep) >= MAX_RELATED` -> `>` (21 listed), `- {rep_source}` dropped from the count
    ("from 3 more outlets"), and the singular's conditions (`'s' if n != 1`, `'s' if outlets != 1`, `'are' if
    n != 1 else 'is'`) made constant."""
    outlets = [(f"Outlet {k:02d}", f"Flood report number {k}", f"https://outlet-{k:02d}.example/flood")
               for k in range(22)]
    second = ("Outlet 00", "Flood report number 0, continued", "https://outlet-00.example/flood-2")
    follow_ups = [("Wire One", f"Flood follow-up {k}", f"https://wire-one.example/flood/{k}") for k in (1, 2)]
    cases = {"over": ([outlets[0], second, *outlets[1:], *follow_ups],
                      "5 more reports of this story, from 2 more outlets, are not listed"),
             "one": (outlets[:MAX_RELATED + 1], "1 more report of this story, from 1 more outlet, is not listed")}
    for name, (others, note) in cases.items():
        d = tmp_path / name
        d.mkdir()
        cfg = make_config(d, formats=("atom", "json"))
        store = Store.open(cfg.store_path)
        try:
            story_of(store, Fill(store), ("Wire One", "Flood waters rise", "https://wire-one.example/flood"),
                     others, T0)
            assert not publish(cfg, store, page_size=P).errors
        finally:
            store.close()
        related, also, _alternate = published_entry(cfg)
        assert len(related) == len(also) == MAX_RELATED
        assert [title for _href, title in related] == [f"{s}: {t}" for s, t, _ln in outlets[:MAX_RELATED]]
        summary = etree.fromstring((cfg.output.dir / "news.atom").read_bytes()).find(f"{A}entry/{A}summary")
        assert summary is not None and f"<p>{note} below.</p>" in str(summary.text), name
