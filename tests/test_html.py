"""HTML pages for people: structure, escaping, clusters, feed autodiscovery; then the real thing in
headless Chromium (DOM dump and a phone-sized screenshot), with every local link checked."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from lxml import html as lhtml
from test_publish import T0, Fill, make_config

from feeds.config import Config
from feeds.publish import publish
from feeds.store import Store

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

CHANNELS = """
[channels.world]
title = "World & <more>"
description = "Everything, \\"quoted\\" & <escaped>"
match_all = true

[channels.quiet]
title = "Quiet"
include = ["nothing-matches-this"]
formats = ["atom", "json"]
"""


def build_site(tmp: Path) -> Config:
    cfg = make_config(tmp, channels=CHANNELS)
    store = Store.open(cfg.store_path)
    try:
        f = Fill(store)
        f.story(["world"], "Alpha Wire", "Harbour <script>alert(1)</script> reopens & \"more\"", T0,
                summary='<p>Ships are <b>back</b>. <a href="/details">Details</a></p>',
                link="https://alpha-wire.example/harbour")
        f.story(["world"], "Beta Post", "Bridge vote passes", T0 + 600,
                others=[("Gamma Daily", "Lawmakers approve the bridge", T0 + 700),
                        ("Delta News", "Bridge approved after long debate", T0 + 800)])
        f.story(["world"], "Gamma Daily", "Rain expected over the weekend", T0 + 1200)
        report = publish(cfg, store)
        assert not report.errors
    finally:
        store.close()
    return cfg


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return build_site(tmp_path_factory.mktemp("site"))


def local_targets(page: Path, doc: lhtml.HtmlElement) -> list[tuple[str, Path]]:
    """(href, file) for every link of the page that points into the site itself."""
    out = []
    for el in doc.iter("a", "link"):
        href = el.get("href")
        if href is None:
            continue
        parts = urlsplit(href)
        if parts.scheme in ("http", "https", "mailto"):
            continue
        if parts.scheme == "file":
            out.append((href, Path(unquote(parts.path))))
        else:
            out.append((href, (page.parent / unquote(parts.path)).resolve()))
    return out


def test_index_lists_every_channel_with_subscribe_links(site: Config) -> None:
    out = site.output.dir
    doc = lhtml.fromstring((out / "index.html").read_bytes())
    assert doc.get("lang") == "en"
    assert doc.find(".//meta[@name='viewport']") is not None
    sections = doc.findall(".//section")
    assert [s.findtext("h2") or s.find("h2").text_content() for s in sections] == ["World & <more>", "Quiet"]
    world = sections[0]
    assert [a.text for a in world.findall(".//p[@class='subscribe']/a")] == ["Atom", "JSON Feed", "RSS"]
    assert [li.find("a").text_content() for li in world.findall(".//li")] == [
        "Rain expected over the weekend", "Bridge vote passes", 'Harbour <script>alert(1)</script> reopens & "more"']
    quiet = sections[1]
    assert [a.get("href") for a in quiet.findall(".//p[@class='subscribe']/a")] == ["quiet.atom", "quiet.json"]
    assert "No stories yet" in quiet.text_content()
    for href, path in local_targets(out / "index.html", doc):
        assert path.is_file(), href


def test_channel_page_shows_clusters_and_escapes_text(site: Config) -> None:
    out = site.output.dir
    raw = (out / "world.html").read_text(encoding="utf-8")
    assert "<script>" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    doc = lhtml.fromstring(raw)
    feeds = [(ln.get("type"), ln.get("href")) for ln in doc.findall(".//head/link[@rel='alternate']")]
    assert feeds == [("application/atom+xml", "world.atom"), ("application/feed+json", "world.json"),
                     ("application/rss+xml", "world.rss")]
    articles = doc.findall(".//article")
    titles = [a.find("h2").text_content() for a in articles]
    assert titles[0] == "Rain expected over the weekend" and titles[1] == "Bridge vote passes"  # newest first
    bridge = articles[1]
    assert bridge.find(".//p[@class='meta']/a").text_content() == "Beta Post"  # the source, credited
    also = bridge.find(".//div[@class='also']")
    assert also is not None and "Also reported by" in also.text_content()
    assert [a.text_content() for a in also.findall(".//a")] == ["Gamma Daily", "Delta News"]
    harbour = articles[2]
    assert harbour.find(".//div[@class='summary']/p/b").text == "back"
    assert harbour.find(".//div[@class='summary']//a").get("href") == "https://alpha-wire.example/details"
    for href, path in local_targets(out / "world.html", doc):
        assert path.is_file(), href


def test_pages_are_deterministic(tmp_path: Path, site: Config) -> None:
    again = build_site(tmp_path)
    for name in ("index.html", "world.html"):
        assert (again.output.dir / name).read_bytes() == (site.output.dir / name).read_bytes()


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")
def test_pages_in_headless_chromium(site: Config, tmp_path: Path) -> None:
    out = site.output.dir
    for name, expect in (("index.html", "World &amp; &lt;more&gt;"), ("world.html", "Also reported by")):
        page = out / name
        shot = tmp_path / f"{page.stem}.png"
        res = chromium("--dump-dom", f"--screenshot={shot}", "--window-size=412,915", "--hide-scrollbars",
                       page.as_uri(), profile=tmp_path / f"profile-{page.stem}")
        assert res.returncode == 0, res.stderr[-2000:]
        assert expect in res.stdout
        dom = lhtml.fromstring(res.stdout)
        targets = local_targets(page, dom)
        assert targets, name
        for href, path in targets:
            assert path.is_file(), f"{name}: {href} -> {path}"
        feed_links = [ln.get("href") for ln in dom.iter("link") if ln.get("rel") == "alternate"]
        assert feed_links and all((page.parent / str(h)).is_file() for h in feed_links)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # saved for a look: <tmp_path>/<page>.png


def test_a_right_to_left_override_in_a_headline_stays_in_the_headline(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from feeds.formats import html as html_fmt
    from feeds.formats.model import RenderEntry

    t = datetime(2025, 7, 4, tzinfo=UTC)
    e = RenderEntry(id="urn:uuid:1", story_id=1, title="\u202eevil headline", link="https://a.example/1",
                    published=t, updated=t, authors=[], body_html="", categories=[], source_name="Alpha Wire",
                    source_link=None, source_id="urn:uuid:2", source_updated=t)
    page = html_fmt.render_index(site_title="S", lang=None, channels=[html_fmt.ChannelLinks(
        slug="news", title="News", description="", formats=("atom",), headlines=[e], has_page=True)])
    li = lhtml.fromstring(page).find(".//li")
    # each feed text is isolated in its own <bdi>: the override ends with the headline
    assert [b.text for b in li.iter("bdi")] == ["\u202eevil headline", "Alpha Wire"]


WIDE = ("<p>Log:</p><pre>" + "\u00a0".join(f"col{i:03d}" for i in range(300)) + "</pre>"
        + "<table><tr>" + "".join(f"<th>Heading number {i}</th>" for i in range(40)) + "</tr><tr>"
        + "".join(f"<td>value {i}</td>" for i in range(39)) + "<td>https://example.org/" + "segment" * 80
        + "</td></tr></table><p>See https://example.org/" + "longpathsegment" * 40 + " and <code>" + "x" * 400
        + "</code></p>")


def _css_rules(css: str) -> dict[str, dict[str, str]]:
    """selector -> {property: value} for the page's flat CSS (no nesting but @media, whose rules are left out)."""
    css = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^}]*\})*\s*\}", "", css)
    rules: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        decls = dict(tuple(p.strip() for p in d.split(":", 1)) for d in body.split(";") if ":" in d)
        for sel in selectors.split(","):
            rules.setdefault(sel.strip(), {}).update(decls)
    return rules


def test_wide_summary_blocks_scroll_inside_themselves() -> None:
    """A summary's <pre> or <table> wider than a phone scrolls in its own box; long words wrap (inherited from
    the body: "anywhere" would squeeze table cells to a letter a line)."""
    from feeds.formats import html as html_fmt

    rules = _css_rules(html_fmt.CSS)
    for sel in (".summary pre", ".summary table"):
        assert {"display": "block", "max-width": "100%", "overflow-x": "auto"}.items() <= rules[sel].items(), sel
    assert rules["body"]["overflow-wrap"] == "break-word"
    assert rules.get(".summary", {}).get("overflow-wrap", "break-word") == "break-word"


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")
def test_a_page_with_wide_summaries_is_no_wider_than_a_phone(tmp_path: Path) -> None:
    """A channel page whose summary holds a wide <pre>, a wide table and long unbroken words, in a 400 px frame
    (headless Chromium lays a window out at least 500 px wide): the page is no wider than the frame (it was
    21,499 px with the <pre>, 3,358 px with the table)."""
    cfg = make_config(tmp_path, channels=CHANNELS)
    store = Store.open(cfg.store_path)
    try:
        Fill(store).story(["world"], "Alpha Wire", "Wide things", T0, summary=WIDE, link="https://a.example/w")
        assert not publish(cfg, store).errors
    finally:
        store.close()
    page = cfg.output.dir / "world.html"
    assert '<pre tabindex="0">' in page.read_text() and '<table tabindex="0">' in page.read_text()
    frame = tmp_path / "frame.html"
    frame.write_text(
        f'<!DOCTYPE html><body style="margin:0"><iframe id="f" src="{page.as_uri()}" width="400" height="800"'
        ' style="border:0"></iframe><script>addEventListener("load", () => { const d = document.getElementById("f")'
        '.contentDocument.documentElement; document.body.dataset.width = d.scrollWidth + " " + d.clientWidth; })'
        "</script></body>")
    res = chromium("--allow-file-access-from-files", "--window-size=400,800", "--hide-scrollbars",
                   "--virtual-time-budget=5000", "--dump-dom", frame.as_uri(), profile=tmp_path / "profile")
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r'data-width="(\d+) (\d+)"', res.stdout)
    assert m, res.stdout[-2000:]
    width, viewport = map(int, m.groups())
    assert viewport == 400
    assert width <= viewport


def test_a_summarys_headings_boxes_and_images_suit_the_page(tmp_path: Path) -> None:
    """From an accessibility review (axe-core in Chromium): a summary's h1/h2 broke the page's outline (a
    screen reader heard a new story); scrolling code blocks and tables could not be reached by keyboard;
    images loaded all at once; printing in dark mode gave pale links, and code blocks were cut at the page's
    edge; an Arabic headline was left-aligned. The feeds carry the summary unchanged."""
    from feeds.formats import html as html_fmt

    cfg = make_config(tmp_path, channels=CHANNELS)
    store = Store.open(cfg.store_path)
    body = ('<h1>Same as the title</h1><p>x</p><h2>Part</h2><h5>Deep</h5><h6>Deepest</h6>'
            '<pre>code</pre><table><tr><td>1</td></tr></table><img src="https://a.example/p.png" alt="P">')
    try:
        Fill(store).story(["world"], "Alpha Wire", "قصف على غزة", T0, summary=body, link="https://a.example/w")
        assert not publish(cfg, store).errors
    finally:
        store.close()
    page = lhtml.fromstring((cfg.output.dir / "world.html").read_bytes())
    (art,) = page.iter("article")
    summary = art.find(".//div")
    assert [el.tag for el in summary.iter() if el.tag[0] == "h"] == ["h3", "h4", "h6", "h6"]
    assert [el.get("tabindex") for el in summary.iter("pre", "table")] == ["0", "0"]
    assert summary.find(".//img").get("loading") == "lazy"
    assert art.find(".//h2").get("dir") == "auto" and summary.get("dir") == "auto"
    atom = (cfg.output.dir / "world.atom").read_text(encoding="utf-8")
    assert "&lt;h1&gt;Same as the title" in atom and "tabindex" not in atom and "loading" not in atom
    css = html_fmt.CSS
    assert "@media screen and (prefers-color-scheme:dark)" in css and "background:Canvas" in css
    assert re.search(r"@media print\{[^@]*\.summary pre\{white-space:pre-wrap;overflow:visible\}", css)
