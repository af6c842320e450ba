"""`feeds import FILE.opml`: reading other readers' exports (tests/data/opml/, written in the shape of
Miniflux, FreshRSS, Feedly and NetNewsWire exports), refusing hostile and non-OPML files, and the command end
to end: the config's own text kept byte for byte, the new sources appended and loadable, nothing written on a
dry run or an error, and an imported loopback feed fetched by `feeds run`."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from loopback import Loopback, static

from feeds import cli
from feeds.config import load_config
from feeds.opml import (
    MAX_OPML_BYTES,
    Addition,
    Feed,
    OpmlError,
    Outlines,
    feed_key,
    parse_opml,
    plan_import,
    render_sources,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "opml"

# a hand-edited config: comments everywhere, a last line without its line end
CONFIG = """# My feeds -- hand-edited; these comments must survive an import
[output]
dir = "out"          # next to this file
base_url = "https://feeds.example.org/"

[store]
path = "feeds.db"

[[sources]]
url = "https://lwn.net/headlines/rss"   # FreshRSS exports it as https://LWN.net/headlines/rss/
name = "LWN"

[[sources]]
url = "https://old.example.org/ars"
name = "Ars Technica"                   # the name an imported feed wants too

[channels.news]  # everything
title = "News"
match_all = true
# the last line has no line end"""


def opml(path: Path, body: str) -> Path:
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head><title>t</title></head>'
                    f"<body>\n{body}\n</body></opml>\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _feeds_logger_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """cli.main() sets up the "feeds" logger (its own handler on the captured stderr, no propagation): put it
    back as it was afterwards, or later tests' log capture breaks."""
    import logging

    log = logging.getLogger("feeds")
    monkeypatch.setattr(log, "handlers", list(log.handlers))  # a copy: main() edits it in place
    monkeypatch.setattr(log, "level", log.level)
    monkeypatch.setattr(log, "propagate", log.propagate)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "feeds.toml"
    p.write_text(CONFIG, encoding="utf-8")
    p.chmod(0o640)
    return p


def feeds_import(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["--config", str(cfg), "import", *args])
    out, err = capsys.readouterr()
    return code, out, err


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------------------------------------------------
# parsing


def test_freshrss_export_nested_folders_types_and_escaped_names() -> None:
    got = parse_opml((DATA / "freshrss.opml").read_bytes())
    assert got.feeds == (
        Feed("https://hnrss.org/frontpage", "Hacker News: Front Page", ("Uncategorized",), 9),
        Feed("https://LWN.net/headlines/rss/", "LWN.net", ("Tech", "Linux"), 13),
        Feed("https://www.phoronix.com/rss.php", "Phoronix", ("Tech", "Linux"), 14),
        Feed("https://feeds.arstechnica.com/arstechnica/index", "Ars Technica", ("Tech",), 16),
        # text="Tom &amp;amp; Jerry&amp;#39;s &lt;Dev&gt; Blog": escaped twice by the exporter, decoded once more
        Feed("https://tj.example.org/feed.atom", "Tom & Jerry's <Dev> Blog", ("Tech",), 17),
    )
    [skip] = got.skipped
    assert (skip.line, skip.what) == (18, "https://example.org/releases")
    assert 'type="html+xpath" is not a feed' in skip.reason


def test_miniflux_and_feedly_exports() -> None:
    mini = parse_opml((DATA / "miniflux.opml").read_bytes())
    assert [(f.title, f.folder) for f in mini.feeds] == [
        ("LWN.net", ("All",)), ("Julia Evans", ("All",)), ("BBC News - World", ("News",)),
        ("Al Jazeera & Friends", ("News",))]
    assert mini.skipped == ()
    feedly = parse_opml((DATA / "feedly.opml").read_bytes())  # OPML 1.0, type="rss", title and text
    assert [(f.url, f.title, f.folder) for f in feedly.feeds] == [
        ("http://feeds.bbci.co.uk/news/world/rss.xml", "BBC News", ("World",)),
        ("https://www.reutersagency.com/feed/?best-topics=world&post_type=best", "Reuters: World News", ("World",)),
        ("https://feeds.simplecast.com/54nAGcIl", "The Daily", ("Podcasts",)),
    ]


def test_netnewswire_feed_scheme_and_name_fallbacks() -> None:
    got = parse_opml((DATA / "netnewswire.opml").read_bytes())
    by_line = {f.line: f for f in got.feeds}
    assert by_line[9].url == "http://inessential.com/xml/rss.xml"  # feed://
    assert by_line[10].url == "https://www.apple.com/newsroom/rss-feed.rss"  # feed:https://
    assert by_line[10].title == "Apple Newsroom"  # title="" -> text
    assert by_line[11].title is None  # neither: the config's default, the host
    plan = plan_import(got, [])
    names = {a.url: a.name for a in plan.added}
    assert names["https://example.net/feed.json"] == "example.net"
    # the same feed in a second folder, with a #fragment: listed twice
    assert [(s.line, s.reason) for s in plan.skipped] == [(17, "listed twice in this file (first on line 13)")]
    # ... and a member of both folders (it was left out of the second one's list: a migration review)
    assert plan.folders() == {("Swift",): ["Swift.org", "Swift by Sundell"], ("Swift (old folder)",): ["Swift.org"]}


def test_each_outline_left_out_has_its_reason() -> None:
    got = parse_opml((DATA / "mixed.opml").read_bytes())
    reasons = {s.line: (s.what, s.reason) for s in got.skipped}
    assert reasons[16] == ("https://example.org/page.html", 'type="link" is not a feed (rss, atom, rdf or json)')
    assert reasons[17][1].startswith('type="include"')
    assert reasons[19] == ("file:///etc/passwd",
                           "not an http(s) URL (file:); only http and https feeds are imported")
    assert reasons[20][1].startswith("not an http(s) URL (javascript:)")
    assert reasons[21][1] == "not an absolute URL"
    assert "port" in reasons[22][1] and "spaces" in reasons[23][1]
    assert set(reasons) == {16, 17, 19, 20, 21, 22, 23}
    assert [(f.title, f.folder) for f in got.feeds[:2]] == [
        ("NASA Breaking News", ("Reading", "Science", "Space")), ("Quanta Magazine", ("Reading", "Science"))]
    # the folders and the note are not feeds; the feed with credentials keeps them in its URL
    assert [f.url for f in got.feeds[2:]] == ["https://WWW.NASA.GOV/news-release/feed",
                                              "https://jane:s3cret@private.example.org/feed"]


@pytest.mark.parametrize(("a", "b"), [
    ("https://LWN.net/headlines/rss/", "https://lwn.net/headlines/rss"),
    ("http://example.org/feed", "https://example.org/feed"),
    ("https://example.org:443/feed", "https://example.org/feed"),
    ("http://example.org:80/", "http://EXAMPLE.org"),
    ("https://example.org/feed#top", "https://example.org/feed"),
])
def test_the_same_feed(a: str, b: str) -> None:
    assert feed_key(a) == feed_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("https://example.org/Feed", "https://example.org/feed"),
    ("https://example.org/feed?cat=1", "https://example.org/feed?cat=2"),
    ("https://example.org:8443/feed", "https://example.org/feed"),
    ("https://www.example.org/feed", "https://example.org/feed"),
    ("https://a:b@example.org/feed", "https://example.org/feed"),
])
def test_not_the_same_feed(a: str, b: str) -> None:
    assert feed_key(a) != feed_key(b)


def test_plan_present_and_names_made_unique() -> None:
    got = parse_opml((DATA / "freshrss.opml").read_bytes())
    plan = plan_import(got, [("https://lwn.net/headlines/rss", "LWN"), ("https://old.example.org/ars", "Ars Technica"),
                             ("https://x.example/", "Ars Technica (2)"), ("file:///srv/feeds/local.xml", "Phoronix")])
    assert [(p.url, p.name) for p in plan.present] == [("https://LWN.net/headlines/rss/", "LWN")]
    assert [a.name for a in plan.added] == ["Hacker News: Front Page", "Phoronix (2)", "Ars Technica (3)",
                                            "Tom & Jerry's <Dev> Blog"]
    same_title = parse_opml(b'<opml version="2.0"><body><outline text="Comments" xmlUrl="https://a.example/c"/>'
                            b'<outline text="Comments" xmlUrl="https://b.example/c"/></body></opml>')
    assert [a.name for a in plan_import(same_title, []).added] == ["Comments", "Comments (2)"]


def test_encodings_bom_and_declaration() -> None:
    doc = '<opml version="2.0"><body><outline text="Café ☕" xmlUrl="https://cafe.example/rss"/></body></opml>'
    for data in ((b"\xef\xbb\xbf" + doc.encode()), doc.encode("utf-16"), doc.encode("utf-16-le"),
                 ('<?xml version="1.0" encoding="UTF-16"?>' + doc).encode("utf-16"),
                 ('<?xml version="1.0" encoding="ISO-8859-15"?>\n' + doc.replace(" ☕", " €")).encode("iso-8859-15")):
        [feed] = parse_opml(data).feeds
        assert feed.title in ("Café ☕", "Café €") and feed.url == "https://cafe.example/rss", data[:40]
        assert feed.line in (1, 2)


ENTITIES = "declares XML entities (<!ENTITY ...>): refused"
DTD = "has a DOCTYPE with an internal subset or an external DTD: refused"
HOSTILE = {"billion-laughs.opml": ENTITIES, "small-entity.opml": ENTITIES, "external-entity.opml": ENTITIES,
           "parameter-entity.opml": ENTITIES, "external-dtd.opml": DTD}


@pytest.mark.parametrize(("name", "message"), HOSTILE.items())
def test_entities_and_dtds_are_refused_before_parsing(name: str, message: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    data = (DATA / name).read_bytes().replace(b"SECRET_PATH", secret.as_uri().encode())
    with pytest.raises(OpmlError) as e:
        parse_opml(data, name)
    assert str(e.value).startswith(f"{name}: {message}")  # the check before lxml, not lxml's own limits
    assert "TOP-SECRET" not in str(e.value)


def test_entities_refused_in_any_encoding() -> None:
    """A declaration hidden by an encoding is seen: the check reads the text lxml then parses."""
    doc = ('<!DOCTYPE opml [<!ENTITY h "https://entity.example">]>'
           '<opml version="2.0"><body><outline text="x" xmlUrl="&h;/feed"/></body></opml>')
    for data in (doc.encode("utf-16"), ('<?xml version="1.0" encoding="UTF-7"?>' + doc).encode("utf-7")):
        with pytest.raises(OpmlError, match=re.escape(ENTITIES)):
            parse_opml(data)


@pytest.mark.parametrize("name", ["small-entity.opml", "external-dtd.opml"])
def test_a_dtd_seen_only_after_parsing_is_refused_too(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second line of defence: were the check before parsing to miss a DTD, the parsed document's is
    refused (entities parsed but not used)."""
    import feeds.opml

    monkeypatch.setattr(feeds.opml, "_refuse_dtd", lambda text, file: None)
    with pytest.raises(OpmlError, match="has a DTD: refused"):
        parse_opml((DATA / name).read_bytes(), name)


@pytest.mark.parametrize(("name", "message"), [
    ("not-opml.html", "is an HTML page, not an OPML file"),
    ("not-opml-rss.xml", "is a feed (<rss>), not an OPML subscription list"),
    ("garbage.opml", "is not valid utf-8 text"),
    ("empty.opml", "is empty (not an OPML file)"),
    ("truncated.opml", "is not well-formed XML"),
    ("no-body.opml", "it has no <body> element"),
])
def test_not_opml_is_a_clear_error(name: str, message: str) -> None:
    with pytest.raises(OpmlError) as e:
        parse_opml((DATA / name).read_bytes(), name)
    assert str(e.value).startswith(f"{name}: ") and message in str(e.value)


@pytest.mark.parametrize(("data", "message"), [
    (b" \n\t ", "is empty"),
    (b'<?xml version="1.0"?>\n<outlines><outline xmlUrl="https://a.example/"/></outlines>', "not OPML"),
    (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>', "is a feed (<feed>)"),
    (b'<?xml version="1.0" encoding="x-no-such"?><opml/>', "Python does not know"),
    (b"<opml><body><outline", "is not well-formed XML"),
    (b"<opml>" + b" " * MAX_OPML_BYTES + b"</opml>", "larger than 10 MiB"),
])
def test_not_opml_inline(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=re.escape(message)):
        parse_opml(data)


def test_names_cleaned_and_rendered_as_valid_toml() -> None:
    got = parse_opml(b'<opml version="2.0"><body><outline xmlUrl="https://a.example/f" text="  Two\n\n lines &#10;'
                     b'and\ttabs  "/><outline text="Fold&#10;er ]] # x" ><outline xmlUrl="https://b.example/f" '
                     b'title="q&quot;u\\o[[sources]]&#x86;te"/></outline></body></opml>')
    assert [f.title for f in got.feeds] == ["Two lines and tabs", 'q"u\\o[[sources]]te']
    plan = plan_import(got, [])
    text = render_sources(plan.added, interval="30m", header="from x.opml\nsecond line")
    assert tomllib.loads(text) == {"sources": [
        {"url": "https://a.example/f", "name": "Two lines and tabs", "interval": "30m"},
        {"url": "https://b.example/f", "name": 'q"u\\o[[sources]]te', "interval": "30m"}]}
    assert "# folder: Fold er ]] # x\n[[sources]]" in text
    assert render_sources([Addition("https://a.example/", "A", (), 1)], newline="\r\n") == \
        '[[sources]]\r\nurl = "https://a.example/"\r\nname = "A"\r\n'


# ---------------------------------------------------------------------------------------------------------
# the command


def test_import_appends_sources_and_keeps_the_config_text(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, inode = cfg.read_bytes(), cfg.stat().st_ino
    code, out, err = feeds_import(capsys, cfg, str(DATA / "freshrss.opml"))
    assert code == 0, err
    after = cfg.read_bytes()
    assert after.startswith(before)  # comments, order and formatting: every byte of the old text
    assert cfg.stat().st_ino != inode  # a new file renamed over the old one, not the old one rewritten
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640
    assert leftovers(cfg.parent) == []
    new = after[len(before):].decode()
    assert new.startswith("\n\n# imported from freshrss.opml by `feeds import` on ")
    assert "# folder: Tech / Linux\n[[sources]]\n" in new
    loaded = load_config(cfg)
    assert [(s.url, s.name) for s in loaded.sources] == [
        ("https://lwn.net/headlines/rss", "LWN"), ("https://old.example.org/ars", "Ars Technica"),
        ("https://hnrss.org/frontpage", "Hacker News: Front Page"), ("https://www.phoronix.com/rss.php", "Phoronix"),
        ("https://feeds.arstechnica.com/arstechnica/index", "Ars Technica (2)"),
        ("https://tj.example.org/feed.atom", "Tom & Jerry's <Dev> Blog")]
    assert cli.main(["--config", str(cfg), "check"]) == 0
    lines = out.splitlines()
    assert lines[0].endswith("freshrss.opml: added 4, already present 1, skipped 1 (config " + str(cfg) + ")")
    assert '+ "Ars Technica (2)" https://feeds.arstechnica.com/arstechnica/index  [Tech]' in lines
    assert ('= https://LWN.net/headlines/rss/ already present as "LWN" (https://lwn.net/headlines/rss)'
            in lines)
    assert any(ln.startswith("- line 18: https://example.org/releases: type=") for ln in lines)
    assert '  Tech / Linux: sources = ["LWN", "Phoronix"]' in lines
    assert err == ""


def test_importing_again_adds_nothing(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert feeds_import(capsys, cfg, str(DATA / "freshrss.opml"))[0] == 0
    once = cfg.read_bytes()
    st = cfg.stat()
    code, out, _ = feeds_import(capsys, cfg, str(DATA / "freshrss.opml"))
    assert code == 0
    assert cfg.read_bytes() == once and cfg.stat().st_ino == st.st_ino and cfg.stat().st_mtime_ns == st.st_mtime_ns
    assert "added 0, already present 5, skipped 1" in out
    # the same feeds exported by another reader, spelled differently: still nothing new
    code, out, _ = feeds_import(capsys, cfg, str(DATA / "miniflux.opml"))
    assert "already present 1" in out and cfg.read_bytes() != once  # (miniflux has 3 feeds freshrss lacks)


def test_dry_run_writes_nothing(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, st = cfg.read_bytes(), cfg.stat()
    code, out, err = feeds_import(capsys, cfg, "--dry-run", str(DATA / "netnewswire.opml"))
    assert code == 0, err
    assert cfg.read_bytes() == before and cfg.stat().st_mtime_ns == st.st_mtime_ns
    assert leftovers(cfg.parent) == []
    assert "would add 6, already present 0, skipped 1" in out
    assert '+ "example.net" https://example.net/feed.json' in out
    assert out.rstrip().endswith("dry run: nothing written")


@pytest.mark.parametrize("name", ["billion-laughs.opml", "small-entity.opml", "external-entity.opml",
                                  "parameter-entity.opml", "external-dtd.opml", "not-opml.html",
                                  "not-opml-rss.xml", "garbage.opml", "empty.opml", "truncated.opml",
                                  "no-body.opml", "missing.opml"])
def test_bad_or_hostile_opml_exits_2_and_leaves_the_config(name: str, cfg: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    before, st = cfg.read_bytes(), cfg.stat()
    code, out, err = feeds_import(capsys, cfg, str(DATA / name))
    assert code == 2
    assert err.startswith(f"feeds: {DATA / name}: ") and err.count("\n") == 1, err
    if name in HOSTILE:
        assert err.startswith(f"feeds: {DATA / name}: {HOSTILE[name]}")
    assert out == ""
    assert cfg.read_bytes() == before and cfg.stat().st_mtime_ns == st.st_mtime_ns
    assert leftovers(cfg.parent) == []


@pytest.mark.parametrize(("node", "size", "what"), [
    (b"<!--%s-->", 10_000_100, "one comment, attribute value or text over 10 MB"),
    (b'<outline text="%s"/>', 10_000_100, "one comment, attribute value or text over 10 MB"),
    (b"%s", 10_000_100, "one comment, attribute value or text over 10 MB"),
    (b'<outline %s="1"/>', 60_000, "an element or attribute name over 50,000 characters"),
])
def test_an_opml_with_a_node_over_libxml2s_limit_says_so_not_its_flag(node: bytes, size: int, what: str,
                                                                      tmp_path: Path, cfg: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Under the 10 MiB cap, one comment, attribute or text over libxml2's 10,000,000 bytes for a node (or a
    name over its 50,000 characters) was "not well-formed XML (Comment too big found …)" or "(Resource limit
    exceeded: …, try XML_PARSE_HUGE)": a parser's flag the user cannot set, about a file that is well-formed.
    It is said as a node too big, in one line."""
    data = b"<opml><head/><body>" + node.replace(b"%s", b"x" * size) + b"</body></opml>"
    assert len(data) <= MAX_OPML_BYTES
    big = tmp_path / "big.opml"
    big.write_bytes(data)
    before = cfg.read_bytes()
    code, out, err = feeds_import(capsys, cfg, str(big))
    assert (code, out, err.count("\n")) == (2, "", 1), err
    assert err.startswith(f"feeds: {big}: has {what}, more than an XML parser takes (libxml2: "), err
    assert err.endswith("): refused (no subscription list holds one)\n"), err
    assert "XML_PARSE_HUGE" not in err and "well-formed" not in err and " ," not in err
    assert cfg.read_bytes() == before


def test_bad_or_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.toml"
    code, _, err = feeds_import(capsys, missing, str(DATA / "miniflux.opml"))
    assert code == 2 and "feeds init" in err and not missing.exists()
    bad = tmp_path / "bad.toml"
    bad.write_text('[output]\nbase_url = "ftp://x/"\n')
    code, _, err = feeds_import(capsys, bad, str(DATA / "miniflux.opml"))
    assert code == 2 and "output.base_url" in err and bad.read_text() == '[output]\nbase_url = "ftp://x/"\n'
    inline = tmp_path / "inline.toml"
    text = 'sources = [{ url = "https://a.example/", name = "A" }]\n\n[channels.all]\ntitle = "All"\nmatch_all = true\n'
    inline.write_text(text)
    code, _, err = feeds_import(capsys, inline, str(DATA / "miniflux.opml"))
    assert code == 2 and "inline array" in err and "nothing written" in err
    assert inline.read_text() == text and leftovers(tmp_path) == []
    # a dry run says so too, instead of promising what the real import then refuses
    code, out, err = feeds_import(capsys, inline, "--dry-run", str(DATA / "miniflux.opml"))
    assert code == 2 and "inline array" in err and "would add" not in out
    assert inline.read_text() == text


def test_the_config_feeds_init_writes_takes_imported_sources(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The documented first steps: `feeds init`, then `feeds import` (init wrote sources = [{...}] inline)."""
    cfg = tmp_path / "config" / "feeds.toml"
    assert cli.main(["--config", str(cfg), "init"]) == 0
    code, out, err = feeds_import(capsys, cfg, str(DATA / "miniflux.opml"))
    assert code == 0, err
    from feeds.config import load_config

    names = [s.name for s in load_config(cfg).sources]
    assert names[0] == "Example World" and len(names) > 1


def test_failed_write_keeps_the_config(cfg: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    before = cfg.read_bytes()

    def crash(*args: object) -> None:
        raise OSError(28, "No space left on device", str(cfg))

    monkeypatch.setattr(os, "replace", crash)
    code, _, err = feeds_import(capsys, cfg, str(DATA / "miniflux.opml"))
    assert code == 1 and "No space left on device" in err
    assert cfg.read_bytes() == before and leftovers(cfg.parent) == []


def test_an_edit_made_during_the_import_is_not_overwritten(cfg: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync
    edited = CONFIG + "\n# edited by hand meanwhile\n"

    def fsync_and_edit(fd: int) -> None:
        real_fsync(fd)
        cfg.write_text(edited)

    monkeypatch.setattr(os, "fsync", fsync_and_edit)
    code, _, err = feeds_import(capsys, cfg, str(DATA / "miniflux.opml"))
    assert code == 1 and "changed while importing" in err
    assert cfg.read_text() == edited and leftovers(cfg.parent) == []


def test_symlinked_config_stays_a_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "feeds.toml").write_text(CONFIG)
    link = tmp_path / "feeds.toml"
    link.symlink_to(real / "feeds.toml")
    assert feeds_import(capsys, link, str(DATA / "feedly.opml"))[0] == 0
    assert link.is_symlink() and "The Daily" in (real / "feeds.toml").read_text()
    assert leftovers(real) == [] and leftovers(tmp_path) == []


def test_crlf_config_gets_crlf_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "feeds.toml"
    before = (CONFIG + "\n").replace("\n", "\r\n").encode()
    cfg.write_bytes(before)
    assert feeds_import(capsys, cfg, str(DATA / "feedly.opml"))[0] == 0
    new = cfg.read_bytes()[len(before):]
    assert cfg.read_bytes().startswith(before) and new.startswith(b"\r\n# imported")
    assert new.count(b"\n") == new.count(b"\r\n") > 10
    assert len(load_config(cfg).sources) == 5


def test_interval_option(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = cfg.read_bytes()
    with pytest.raises(SystemExit) as e:
        cli.main(["--config", str(cfg), "import", "--interval", "10s", str(DATA / "feedly.opml")])
    assert e.value.code == 2 and "a duration from 1m to 7d" in capsys.readouterr().err
    assert cfg.read_bytes() == before
    assert feeds_import(capsys, cfg, "--interval", "2h", str(DATA / "feedly.opml"))[0] == 0
    sources = load_config(cfg).sources
    assert [s.interval for s in sources] == [None, None] + [timedelta(hours=2)] * 3


def test_opml_from_standard_input(cfg: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((DATA / "feedly.opml").read_bytes())))
    code, out, _ = feeds_import(capsys, cfg, "-")
    assert code == 0 and out.startswith("standard input: added 3")
    assert "# imported from standard input" in cfg.read_text()


def test_help_does_not_import_lxml() -> None:
    code = ("import sys\nfrom feeds import cli\n"
            "for argv in (['--help'], ['import', '--help']):\n"
            "    try:\n        cli.main(argv)\n    except SystemExit:\n        pass\n"
            "assert 'lxml' not in sys.modules and 'feeds.opml' not in sys.modules, 'imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert "feeds import" in r.stdout and "--dry-run" in r.stdout


def test_imported_loopback_feed_is_fetched_by_feeds_run(tmp_path: Path) -> None:
    from feedgen_util import rss

    srv = Loopback()
    try:
        srv.routes["/feed.xml"] = static(rss([{"title": "Imported loopback headline", "guid": "lb-1",
                                               "link": "https://loopback.example/1"}]), etag='"v1"')
        cfg = tmp_path / "feeds.toml"
        cfg.write_text('# loopback test\n[output]\ndir = "out"\nbase_url = "https://feeds.example.org/"\n'
                       '[store]\npath = "feeds.db"\n[channels.news]\ntitle = "News"\nmatch_all = true\n')
        sub = opml(tmp_path / "subs.opml",
                   f'<outline text="Local"><outline type="rss" text="Loopback &amp;amp; Co" '
                   f'xmlUrl="{srv.url("/feed.xml")}"/></outline>')
        env = {k: v for k, v in os.environ.items() if k != "FEEDS_CONFIG"} | {"PYTHONPATH": str(ROOT)}
        run = [sys.executable, "-m", "feeds.cli", "--config", str(cfg)]
        r = subprocess.run([*run, "import", str(sub)], capture_output=True, text=True, env=env, timeout=60,
                           cwd=tmp_path, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        assert "added 1" in r.stdout
        r = subprocess.run([*run, "run"], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        assert srv.hits("/feed.xml")
        d = feedparser.parse((tmp_path / "out" / "news.atom").read_bytes())
        assert not d.bozo, d.bozo_exception
        assert [e.title for e in d.entries] == ["Imported loopback headline"]
        assert d.entries[0].source.title == "Loopback & Co"  # the name the import gave the source
    finally:
        srv.close()


# ---------------------------------------------------------------------------------------------------------
# found by a review that migrated from six other readers


SITE_ONLY = """<outline text="Tech" title="Tech">
  <outline text="A" title="A" type="rss" version="RSS" htmlUrl="https://a.example/" xmlUrl=""/>
  <outline text="B" title="B" htmlUrl="https://b.example/blog/"/>
  <outline text="C" title="C" type="rss" xmlUrl="https://c.example/feed"/>
  <outline text="J" title="J" type="json" xmlUrl="https://j.example/feed.json"/>
  <outline text="R" title="R" type="rdf" xmlUrl="https://r.example/index.rdf"/>
  <outline text="L" title="L" type="link" htmlUrl="https://l.example/"/>
</outline>
<outline text="Must Read" title="Must Read">
  <outline text="C" title="C" type="rss" xmlUrl="https://c.example/feed"/>
</outline>"""


def test_site_only_outlines_json_and_rdf_are_imported_and_a_feed_in_two_folders_is_in_both(
        tmp_path: Path) -> None:
    """Outlines with only a site address (NetNewsWire writes xmlUrl="") vanished: not imported, not listed as
    skipped ("skipped 0"); feeds reads the feed a site's page names, so the site is the source. JSON Feed and
    RSS 1.0 outlines (type="json", "rdf") were refused as "not a feed". A feed filed in two folders was missing
    from the second folder's list."""
    got = parse_opml(opml(tmp_path / "a.opml", SITE_ONLY).read_bytes())
    assert [(f.url, f.site) for f in got.feeds] == [
        ("https://a.example/", True), ("https://b.example/blog/", True), ("https://c.example/feed", False),
        ("https://j.example/feed.json", False), ("https://r.example/index.rdf", False),
        ("https://c.example/feed", False)]
    assert [s.reason for s in got.skipped] == ['type="link" is not a feed (rss, atom, rdf or json)']
    plan = plan_import(got, [])
    assert [a.name for a in plan.added] == ["A", "B", "C", "J", "R"]
    assert plan.folders() == {("Tech",): ["A", "B", "C", "J", "R"], ("Must Read",): ["C"]}


def test_a_config_never_imports_its_own_channels_nor_a_source_it_knows_moved() -> None:
    """Importing feeds' own index.opml proposed its channels as sources (feeds reading its own output); an
    export listing where a source moved (other readers rewrite a feed's URL after a permanent redirect) added
    the source a second time."""
    own = Outlines((Feed("https://feeds.example.org/ukraine.atom", "Ukraine", (), 3),
                    Feed("http://FEEDS.example.org/all.json", "All", (), 4),
                    Feed("https://feeds.example.org.evil/x.atom", "Look-alike", (), 5),
                    Feed("https://new.example/f/40.xml", "Moved blog", (), 6),
                    Feed("https://old.example/ars", "Ars", (), 7),
                    # the user's own blog on the same host is no document of the config's (a diff review)
                    Feed("https://feeds.example.org/blog/atom.xml", "My blog", (), 8),
                    Feed("https://feeds.example.org/world.rss", "Mine", (), 9)), ())
    plan = plan_import(own, [("https://old.example/moved/40", "Moved blog"), ("https://old.example/ars", "Ars"),
                             ("https://feeds.example.org/world.rss", "Mine")],  # configured: present, not skipped
                       moved=[("https://new.example/f/40.xml", "Moved blog")],
                       own_base="https://feeds.example.org/")
    assert [(s.line, s.reason.split(" (")[0]) for s in plan.skipped] == [
        (3, "a document this config publishes itself"), (4, "a document this config publishes itself")]
    assert [a.url for a in plan.added] == ["https://feeds.example.org.evil/x.atom",
                                           "https://feeds.example.org/blog/atom.xml"]
    assert [(p.name, p.configured_url, p.moved) for p in plan.present] == [
        ("Moved blog", "https://old.example/moved/40", True), ("Ars", "https://old.example/ars", False),
        ("Mine", "https://feeds.example.org/world.rss", False)]
    assert plan.missing == ()
    assert plan_import(own, [("https://old.example/ars", "Ars"), ("https://gone.example/", "Gone")]).missing == (
        "Gone",)
    beside = Outlines((Feed("https://feeds.example.org/outlet.atom", "Beside", (), 1),
                       Feed("https://feeds.example.org/out/a.atom", "Own", (), 2)), ())
    plan = plan_import(beside, [], own_base="https://feeds.example.org/out/")
    assert [a.name for a in plan.added] == ["Beside"] and [s.line for s in plan.skipped] == [2]


def test_import_knows_the_stores_moves_and_the_configs_own_documents(
        cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """End to end: the store's record of a moved source and output.base_url are read by `feeds import`."""
    from feeds.store import Store

    loaded = load_config(cfg)
    store = Store.open(loaded.store_path)
    try:
        rows = store.sync_sources([(s.url, s.name) for s in loaded.sources])
        with store.tx() as c:  # LWN moved (a permanent redirect persisted)
            store.update_source(c, rows["https://lwn.net/headlines/rss"].id, fetch_url="https://lwn.example/rss2")
    finally:
        store.close()
    sub = opml(tmp_path / "export.opml",
               '<outline type="rss" text="LWN" xmlUrl="https://lwn.example/rss2"/>'
               '<outline type="rss" text="All" xmlUrl="https://feeds.example.org/news.atom"/>')
    before = cfg.read_bytes()
    code, out, err = feeds_import(capsys, cfg, "-v", str(sub))
    assert code == 0, err
    assert cfg.read_bytes() == before  # nothing to add
    assert "added 0, already present 1, skipped 1" in out
    assert ('= https://lwn.example/rss2 already present as "LWN" (configured as https://lwn.net/headlines/rss, '
            "moved here permanently)") in out
    assert "- line 3: https://feeds.example.org/news.atom: a document this config publishes itself" in out
    assert '1 configured sources are not in this file (import only adds; take out by hand what you ' \
           'unsubscribed from): "Ars Technica"' in out


# ---------------------------------------------------------------------------------------------------------
# feeds export: the sources as OPML, for another reader or a backup (a migration review missed it most)

EXPORT_CONFIG = """[output]
dir = "out"
base_url = "https://feeds.example.org/"
title = "Mine"
[store]
path = "feeds.db"
[[sources]]
url = "https://lwn.net/headlines/rss"
name = "LWN"
[[sources]]
url = "https://jane:s3cret@private.example.org/feed"
name = "Private & Co"
[[sources]]
url = "https://old.example.org/blog"
name = "Moved blog"
[[sources]]
url = "https://tokens.example.org/feed"
name = "Tokens"
headers = { Authorization = "Bearer x" }
[[sources]]
url = "local.xml"
name = "Local"
[channels.tech]
title = "Tech <news>"
match_all = true
sources = ["LWN", "Moved blog"]
[channels.all]
title = "All"
match_all = true
"""


def test_export_writes_the_sources_as_opml_that_imports_back(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from feeds.store import Store

    cfg = tmp_path / "feeds.toml"
    cfg.write_text(EXPORT_CONFIG, encoding="utf-8")
    (tmp_path / "local.xml").write_text("<rss/>", encoding="utf-8")
    loaded = load_config(cfg)
    store = Store.open(loaded.store_path)
    try:
        rows = store.sync_sources([(s.url, s.name) for s in loaded.sources])
        with store.tx() as c:  # a permanent move the store recorded, and a feed's own site link
            store.update_source(c, rows["https://old.example.org/blog"].id, fetch_url="https://new.example.org/feed")
            store.update_source(c, rows["https://lwn.net/headlines/rss"].id, site_link="https://lwn.net/")
    finally:
        store.close()
    capsys.readouterr()
    assert cli.main(["--config", str(cfg), "export"]) == 0
    out, err = capsys.readouterr()
    assert "left out 1 local file sources" in err and "Local" in err
    assert "without their credentials" in err and "Private & Co" in err and "Tokens" in err
    assert "s3cret" not in out and "Bearer" not in out
    got = parse_opml(out.encode())
    assert [(f.title, f.url, f.folder) for f in got.feeds] == [
        ("LWN", "https://lwn.net/headlines/rss", ("Tech <news>",)),
        ("Moved blog", "https://new.example.org/feed", ("Tech <news>",)),
        ("Private & Co", "https://private.example.org/feed", ()),
        ("Tokens", "https://tokens.example.org/feed", ())]
    assert got.skipped == ()
    # to a file (written whole), and into a fresh config: the same subscriptions, the folder hint
    assert cli.main(["--config", str(cfg), "export", str(tmp_path / "subs.opml")]) == 0
    def undated(text: str) -> str:  # (the two exports' dateCreated may fall in two seconds)
        return re.sub(r"<dateCreated>[^<]*</dateCreated>", "", text)

    assert undated((tmp_path / "subs.opml").read_text(encoding="utf-8")) == undated(out)
    fresh = tmp_path / "fresh.toml"
    fresh.write_text('[output]\ndir = "o"\nbase_url = "https://other.example/"\n[store]\npath = "f.db"\n'
                     '[channels.news]\ntitle = "News"\nmatch_all = true\n', encoding="utf-8")
    code, text, _ = feeds_import(capsys, fresh, str(tmp_path / "subs.opml"))
    assert code == 0 and "added 4, already present 0, skipped 0" in text
    assert '  Tech <news>: sources = ["LWN", "Moved blog"]' in text
    assert [(s.name, s.url) for s in load_config(fresh).sources] == [
        ("LWN", "https://lwn.net/headlines/rss"), ("Moved blog", "https://new.example.org/feed"),
        ("Private & Co", "https://private.example.org/feed"), ("Tokens", "https://tokens.example.org/feed")]
    # the config's own export read back into it adds nothing
    code, text, _ = feeds_import(capsys, cfg, str(tmp_path / "subs.opml"))
    assert code == 0 and "added 0, already present 4" in text


def test_export_never_overwrites_the_config_and_says_what_another_reader_would_lose(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """From a diff review: `feeds export feeds.toml` replaced the config with OPML (exit 0); two sources on
    one address with different credentials became one subscription without a word; a key in the query was
    exported without a word; the file was written 0600."""
    cfg = tmp_path / "feeds.toml"
    cfg.write_text(EXPORT_CONFIG.replace('name = "Tokens"', 'name = "Tokens"\n[[sources]]\nurl = '
                                         '"https://bob:pw2@private.example.org/feed"\nname = "Bob"\n[[sources]]\n'
                                         'url = "https://keyed.example.org/feed?private_token=SEKRIT"\nname = "Keyed"'),
                   encoding="utf-8")
    (tmp_path / "local.xml").write_text("<rss/>", encoding="utf-8")
    before = cfg.read_bytes()
    capsys.readouterr()
    assert cli.main(["--config", str(cfg), "export", str(cfg)]) == 1
    assert "this config's own config file; nothing written" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert cli.main(["--config", str(cfg), "export", str(tmp_path / "notes.txt")]) == 1
    assert "exists and is not an OPML file" in capsys.readouterr().err
    assert cfg.read_bytes() == before and (tmp_path / "notes.txt").read_text() == "mine"
    old = os.umask(0o022)
    try:
        assert cli.main(["--config", str(cfg), "export", str(tmp_path / "subs.opml")]) == 0
        assert cli.main(["--config", str(cfg), "export", str(tmp_path / "subs.opml")]) == 0  # over its own OPML
    finally:
        os.umask(old)
    err = capsys.readouterr().err
    assert stat.S_IMODE((tmp_path / "subs.opml").stat().st_mode) == 0o644
    assert "one address once the credentials are cut" in err and "Private & Co / Bob" in err
    assert "key in the address's query" in err and "Keyed" in err


def test_an_outline_with_a_malformed_ipv6_url_is_skipped_with_its_reason() -> None:
    # (urlsplit raised ValueError out of the import: exit 70; a review of config errors)
    data = (b'<opml version="2.0"><body><outline text="v6" xmlUrl="http://[::1/feed"/>'
            b'<outline text="ok" xmlUrl="https://example.org/feed"/></body></opml>')
    got = parse_opml(data)
    assert [(s.what, s.reason) for s in got.skipped] == [("http://[::1/feed", "not a valid URL")]
    assert [f.url for f in got.feeds] == ["https://example.org/feed"]
