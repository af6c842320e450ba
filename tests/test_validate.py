"""Tests for feeds.validate: golden good/bad documents in tests/data/validate, plus targeted unit checks."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from feeds import validate as v
from feeds.validate import (
    Problem,
    errors_and_warnings,
    validate_archive_links,
    validate_atom,
    validate_document,
    validate_json_feed,
    validate_opml,
    validate_rss2,
)

DATA = Path(__file__).parent / "data" / "validate"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
Validator = Callable[..., list[Problem]]
VALIDATORS: dict[str, Validator] = {"atom": validate_atom, "rss": validate_rss2, "json": validate_json_feed,
                                    "opml": validate_opml, "document": validate_document}

GOOD = [
    ("good.atom", "atom", "https://feeds.example.org/channels/tech.atom"),
    ("good.rss", "rss", "https://feeds.example.org/channels/tech.rss"),
    ("good.json", "json", "https://feeds.example.org/channels/tech.json"),
]


def _cases() -> list[dict[str, Any]]:
    with open(DATA / "cases.toml", "rb") as fh:
        cases: list[dict[str, Any]] = tomllib.load(fh)["case"]
    return cases


CASES = _cases()


def codes(problems: list[Problem]) -> list[str]:
    return sorted(p.code for p in problems)


# --------------------------------------------------------------------------------------------------------
# Good documents
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt", "self_url"), GOOD)
def test_good_documents_have_no_problems(name: str, fmt: str, self_url: str) -> None:
    problems = VALIDATORS[fmt]((DATA / name).read_bytes(), self_url=self_url, now=NOW)
    assert problems == [], errors_and_warnings(problems)


def test_good_atom_is_realistic() -> None:
    """The good Atom document exercises what the rules are about (guards against it being trivial)."""
    data = (DATA / "good.atom").read_bytes()
    text = data.decode()
    assert text.count("<entry>") == 3
    assert text.count("<source>") == 2
    assert "<category" in text and 'type="html"' in text and "&lt;a href=&quot;" not in text
    assert 'href="https://news.example.com/2024/05/compiler"&gt;' in text  # absolute link inside html summary


@pytest.mark.parametrize(("name", "fmt"), [(n, f) for n, f, _ in GOOD if f != "json"])
def test_good_xml_documents_are_readable_by_feedparser(name: str, fmt: str) -> None:
    parsed = feedparser.parse((DATA / name).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == {"atom": "atom10", "rss": "rss20"}[fmt]
    assert len(parsed.entries) == 3
    assert all(e.get("title") or e.get("summary") for e in parsed.entries)
    if fmt == "atom":
        assert parsed.entries[0].source.title == "Example News"
        assert parsed.entries[0].tags[0].term == "compilers"


def test_good_json_feed_is_readable() -> None:
    # feedparser 6 does not read JSON Feed; cross-check the structure with the json module instead.
    doc = json.loads((DATA / "good.json").read_bytes())
    assert doc["version"] == v.JSON_FEED_VERSION
    ids = [i["id"] for i in doc["items"]]
    assert len(ids) == len(set(ids)) == 2
    assert all("content_html" in i or "content_text" in i for i in doc["items"])


def test_good_documents_detected_by_sniffing() -> None:
    for name, _fmt, self_url in GOOD:
        assert validate_document((DATA / name).read_bytes(), self_url=self_url, now=NOW) == []


# --------------------------------------------------------------------------------------------------------
# Golden cases
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_golden_case(case: dict[str, Any], tmp_path: Path) -> None:
    data = (DATA / case["file"]).read_bytes()
    if b"@SECRET@" in data:
        secret = tmp_path / "secret.txt"
        secret.write_text("TOP-SECRET-CANARY")
        data = data.replace(b"@SECRET@", str(secret).encode())
    problems = VALIDATORS[case["format"]](data, self_url=case.get("self_url"), now=NOW)
    assert codes(problems) == sorted(case["expect"]), errors_and_warnings(problems)
    for p in problems:
        assert p.level in ("error", "warning")
        assert p.message and p.where


def test_every_bad_file_has_a_case() -> None:
    listed = {c["file"] for c in CASES}
    on_disk = {f"bad/{p.name}" for p in (DATA / "bad").iterdir()}
    assert on_disk <= listed, sorted(on_disk - listed)
    assert all((DATA / f).exists() for f in listed)
    bad_cases = [c for c in CASES if c["file"].startswith("bad/")]
    assert all(c["expect"] for c in bad_cases), "every bad document must expect at least one problem"


def _emitted_codes() -> set[str]:
    """Every code literal passed to _Report.error/.warning (or as rel_code) in feeds/validate.py."""
    tree = ast.parse(Path(v.__file__).read_text())
    found: set[str] = set()

    def literals(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            return literals(node.body) + literals(node.orelse)
        return []

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("error", "warning") and node.args:
                found.update(literals(node.args[0]))
            for kw in node.keywords:
                if kw.arg == "rel_code":
                    found.update(literals(kw.value))
        if isinstance(node, ast.FunctionDef) and node.name == "check_iri":
            for default in node.args.kw_defaults:
                if default is not None:
                    found.update(literals(default))
    return found


def test_every_rule_has_a_golden_bad_document() -> None:
    emitted = _emitted_codes()
    assert len(emitted) > 60  # sanity: the scan found the calls
    covered = {code for c in CASES for code in c["expect"]}
    missing = emitted - covered - _COVERED_BY_UNIT_TESTS
    assert not missing, sorted(missing)


# Codes exercised by the unit tests below rather than by golden files.
_COVERED_BY_UNIT_TESTS = {
    "UndefinedNamedEntity",
    "DuplicateElement",
    "ArchiveAndComplete",
    "CurrentNotSelfInCompleteFeed",
    "LinkPastEnd",
    "InvalidValue",
    "InvalidIntegerAttribute",
    "InvalidMIMEAttribute",
    "MissingElement",
    "InvalidFullLink",
    "NotBlank",
    "AttrNotBlank",
    "MisplacedItem",
    "InvalidInteger",
    "UnexpectedBOM",
    "UnicodeError",
    "InvalidMIMEType",
    "UnexpectedDoctype",
    "ContainsHTML",
    "BadCharacters",
}


# --------------------------------------------------------------------------------------------------------
# Safety: no entity expansion, no file or network access
# --------------------------------------------------------------------------------------------------------


def test_external_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CANARY-7f3a")
    doc = (DATA / "bad" / "xxe.atom").read_bytes().replace(b"@SECRET@", str(secret).encode())
    for validator in (validate_atom, validate_rss2, validate_document):
        problems = validator(doc, now=NOW)
        assert problems, "a document with an external entity must not pass"
        blob = "\n".join(errors_and_warnings(problems))
        assert "TOP-SECRET-CANARY" not in blob
    assert "ContainsSystemEntity" in codes(validate_atom(doc, now=NOW))
    assert "TOP-SECRET-CANARY" not in "\n".join(errors_and_warnings(validate_archive_links(doc)))


def test_external_entity_in_rss_and_parameter_entities(tmp_path: Path) -> None:
    secret = tmp_path / "s.txt"
    secret.write_text("CANARY-RSS-91")
    rss = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY % p SYSTEM "file://'
        + str(secret)
        + '"> %p; <!ENTITY e SYSTEM "file://'
        + str(secret)
        + '">]>\n<rss version="2.0"><channel><title>&e;</title><link>https://e.org/</link>'
        "<description>d</description></channel></rss>"
    ).encode()
    problems = validate_rss2(rss, now=NOW)
    assert "ContainsSystemEntity" in codes(problems)
    assert "CANARY-RSS-91" not in "\n".join(errors_and_warnings(problems))


def test_billion_laughs_does_not_expand() -> None:
    doc = (
        b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&d;&d;&d;</title></feed>'
    )
    problems = validate_atom(doc, now=NOW)
    assert "UnexpectedDoctype" in codes(problems)
    assert "UndefinedNamedEntity" in codes(problems)
    assert all(len(p.message) < 1000 for p in problems)


def test_garbage_input_never_crashes() -> None:
    for data in (b"", b"\x00\x01\x02", b"<", b"<?xml version='1.0'?>", b"\xff\xfe<\x00", b"{", b"null", b"[]"):
        for validator in (validate_atom, validate_rss2, validate_json_feed, validate_opml, validate_document):
            problems = validator(data, now=NOW)
            assert problems, (validator.__name__, data)
            assert all(p.level == "error" or p.level == "warning" for p in problems)


def test_validation_makes_no_network_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    doc = b"""<?xml version="1.0"?>
<!DOCTYPE feed SYSTEM "http://127.0.0.1:9/feed.dtd">
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:xi="http://www.w3.org/2001/XInclude">
<xi:include href="http://127.0.0.1:9/x.xml"/></feed>"""
    problems = validate_atom(doc, now=NOW)
    assert "UnexpectedDoctype" in codes(problems)
    for name, fmt, self_url in GOOD:
        assert VALIDATORS[fmt]((DATA / name).read_bytes(), self_url=self_url, now=NOW) == []


# --------------------------------------------------------------------------------------------------------
# Targeted unit checks (rules without a golden file, and edge cases of the value checkers)
# --------------------------------------------------------------------------------------------------------

MINI = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:fh="http://purl.org/syndication/history/1.0">
  <id>tag:example.org,2024:feed</id>
  <title>T</title>
  <updated>2024-05-01T12:00:00Z</updated>
  <link rel="self" href="https://example.org/feed.atom"/>
  <author><name>A</name></author>
  {extra}
  <entry>
    <id>tag:example.org,2024:e</id>
    <title>E</title>
    <updated>2024-05-01T12:00:00Z</updated>
    <link href="https://example.org/e"/>
    <summary>S</summary>
    {entry_extra}
  </entry>
</feed>
"""


def mini(extra: str = "", entry_extra: str = "") -> bytes:
    return MINI.format(extra=extra, entry_extra=entry_extra).encode()


def test_mini_template_is_clean() -> None:
    assert validate_atom(mini(), now=NOW, self_url="https://example.org/feed.atom") == []


@pytest.mark.parametrize(
    ("extra", "entry_extra", "expected"),
    [
        (
            '<fh:complete/><link rel="current" href="https://example.org/other.atom"/>',
            "",
            ["CurrentNotSelfInCompleteFeed"],
        ),
        (
            '<fh:complete/><fh:archive/><link rel="current" href="https://example.org/feed.atom"/>',
            "",
            ["ArchiveAndComplete"],
        ),
        (
            '<link rel="first" href="https://example.org/feed.atom"/>'
            '<link rel="previous" href="https://example.org/p0.atom"/>',
            "",
            ["LinkPastEnd"],
        ),
        ('<link rel="current" href="https://example.org/feed.atom"/>', "", []),
        ("", '<link rel="alternate" type="text/html" hreflang="de" href="https://example.org/de"/>', []),
        ("", '<link rel="https://example.org/rels/custom" href="https://example.org/c"/>', []),
        ("", '<link rel="" href="https://example.org/c"/>', ["AttrNotBlank"]),
        ("", '<link rel="related" title=" " href="https://example.org/c"/>', ["AttrNotBlank"]),
        ("", '<link rel="related" href=""/>', ["AttrNotBlank"]),
        ("", '<category term=" "/>', ["AttrNotBlank"]),
        ("", '<category term="x" label="a &lt;/b&gt; label"/>', ["ContainsHTML"]),
        ("", '<category term="x" scheme="cats/"/>', ["RelativeLink"]),
        ("", "<author><name> </name></author>", ["NotBlank"]),
        ("", "<author><name>N</name><name>M</name></author>", ["DuplicateElement"]),
        ("", "<author><name>N</name><uri>/me</uri></author>", ["RelativeLink"]),
        ("", "<author><name>N</name><email> a@example.org</email></author>", ["UnexpectedWhitespace"]),
        ("", "<author><name>N</name><phone>1</phone></author>", ["UndefinedElement"]),
        ("", '<content type="application/xml"><a/><b/></content>', ["UndefinedElement"]),
        ("", '<content type="text/plain"><a/></content>', ["UndefinedElement"]),
        ("", '<content type="application/xml"><data xmlns="urn:x"/></content>', []),
        ("", '<content type="text/csv">a,b</content>', []),
        ("", '<content type="image/png" src="/i.png"/>', ["RelativeLink"]),
        ("", '<content type="html">&lt;p xml:lang="en" data-x="1"&gt;ok&lt;/p&gt;</content>', []),
        ("", '<content type="html">&lt;img src="data:image/png;base64,AAAA" alt=""&gt;</content>', []),
        ("", '<content type="html">&lt;a href="data:text/html,x"&gt;x&lt;/a&gt;</content>', ["SecurityRiskURL"]),
        ("", '<content type="html">&lt;a href=" java\tscript:x()"&gt;x&lt;/a&gt;</content>', ["SecurityRiskURL"]),
        (
            "",
            '<content type="html">&lt;img srcset="https://e.org/a.png 1x, b.png 2x" alt=""&gt;</content>',
            ["ContainsRelRef"],
        ),
        ("", '<content type="html">&lt;a href="#top"&gt;top&lt;/a&gt;</content>', ["ContainsRelRef"]),
        ("", '<content type="html">&lt;p&gt;ok&lt;/p&gt;</content><content>two</content>', ["DuplicateElement"]),
        (
            "",
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><a href="x">y</a></div></content>',
            ["ContainsRelRef"],
        ),
        (
            "",
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p style="x">y</p></div></content>',
            ["DangerousStyleAttr"],
        ),
        (
            "",
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><svg xmlns="http://www.w3.org/2000/svg"'
            ' onload="x()"/></div></content>',
            [],
        ),
        ("", "<published>2024-04-30T12:00:00.123456789+05:30</published>", []),
        ("", "<published>2024-04-30T12:00:60Z</published>", []),
        ("", "<published>2024-04-30T24:00:00Z</published>", ["InvalidRFC3339Date"]),
        ("", "<published>2024-04-30T12:00:00+24:00</published>", ["InvalidRFC3339Date"]),
        ("", "<published>1989-12-31T23:59:59Z</published>", ["ImplausibleDate"]),
        ("", "<published> 2024-04-30T12:00:00Z</published>", ["UnexpectedWhitespace"]),
        (
            '<link rel="alternate" href="https://example.org/"/><link rel="alternate" href="https://example.org/2"/>',
            "",
            ["DuplicateAtomLink"],
        ),
        ('<generator uri="gen">g</generator>', "", ["RelativeLink"]),
        ('<logo xml:base="/base/">https://example.org/logo.png</logo>', "", ["RelativeLink"]),
        ('<subtitle type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></subtitle>', "", []),
        ("<icon>https://example.org/i.png<x/></icon>", "", ["UndefinedElement"]),
        ("<id>tag:example.org,2024:dup</id>", "", ["DuplicateElement"]),
        ('<rights type="html">&lt;b onmouseover="x()"&gt;c&lt;/b&gt;</rights>', "", ["SecurityRiskAttr"]),
    ],
)
def test_atom_rule(extra: str, entry_extra: str, expected: list[str]) -> None:
    problems = validate_atom(mini(extra, entry_extra), now=NOW)
    assert codes(problems) == sorted(expected), errors_and_warnings(problems)


def test_default_now_is_current_time() -> None:
    future = mini(entry_extra="<published>2999-01-01T00:00:00Z</published>")
    assert "ImplausibleDate" in codes(validate_atom(future))
    # a naive `now` is taken as UTC
    assert codes(validate_atom(mini(), now=datetime(2024, 5, 1, 11, 0))) == ["ImplausibleDate", "ImplausibleDate"]


def test_feed_without_entries_needs_author() -> None:
    doc = b"""<feed xmlns="http://www.w3.org/2005/Atom"><id>tag:e.org,2024:f</id><title>t</title>
    <updated>2024-05-01T00:00:00Z</updated><link rel="self" href="https://e.org/f"/></feed>"""
    assert codes(validate_atom(doc, now=NOW)) == ["MissingElement"]


def test_bad_characters_and_unexpanded_entity() -> None:
    doc = mini(entry_extra="<rights>\ufffd</rights>")
    assert codes(validate_atom(doc, now=NOW)) == ["BadCharacters"]


def test_doctype_without_entities_is_a_warning_only() -> None:
    doc = b'<!DOCTYPE feed [<!ENTITY e "x">]>' + mini().split(b"?>", 1)[1]
    problems = validate_atom(doc, now=NOW)
    assert codes(problems) == ["UnexpectedDoctype"]
    assert problems[0].level == "warning"


def test_unicode_error_reports_line() -> None:
    doc = mini().replace(b"<title>T</title>", b"<title>\xc3\x28</title>")
    problems = validate_atom(doc, now=NOW)
    assert codes(problems) == ["UnicodeError"]
    assert problems[0].where == "line 4"


def test_utf8_bom_is_fine() -> None:
    assert validate_atom(b"\xef\xbb\xbf" + mini(), now=NOW) == []


def test_levels_follow_policy() -> None:
    by_code = {p.code: p.level for c in CASES for p in _run(c)}
    for code in ("SecurityRisk", "SecurityRiskURL", "DangerousStyleAttr", "DuplicateEntries", "MissingElement"):
        assert by_code[code] == "error", code
    for code in ("ContainsRelRef", "MissingSelf", "SelfDoesntMatchLocation", "RelativeLink", "DuplicateUpdated"):
        assert by_code[code] == "warning", code


def _run(case: dict[str, Any]) -> list[Problem]:
    data = (DATA / case["file"]).read_bytes().replace(b"@SECRET@", b"/nonexistent")
    return VALIDATORS[case["format"]](data, self_url=case.get("self_url"), now=NOW)


def test_where_points_at_the_offending_element() -> None:
    problems = validate_atom((DATA / "bad" / "duplicate-entry-ids.atom").read_bytes(), now=NOW)
    assert [p.where for p in problems] == ["/feed/entry[2]"]
    assert "tag:example.org,2024:entry-1" in problems[0].message
    problems = validate_atom((DATA / "bad" / "relative-link.atom").read_bytes(), now=NOW)
    assert problems[0].where == "/feed/entry/link/@href"


def test_self_url_comparison_is_canonical() -> None:
    doc = (DATA / "good.atom").read_bytes()
    assert validate_atom(doc, now=NOW, self_url="HTTPS://Feeds.Example.org:443/channels/tech.atom") == []
    assert codes(validate_atom(doc, now=NOW, self_url="https://feeds.example.org/channels/tech.atom?x=1")) == [
        "SelfDoesntMatchLocation"
    ]


def test_validate_archive_links_standalone() -> None:
    doc = (DATA / "bad" / "archive-relative-prev.atom").read_bytes()
    assert codes(validate_archive_links(doc)) == ["RelativeLink"]
    assert validate_archive_links((DATA / "good-archive.atom").read_bytes()) == []
    assert codes(validate_archive_links((DATA / "bad" / "archive-missing-marker.atom").read_bytes())) == [
        "MissingArchiveMarker"
    ]
    # accepts an already-parsed root too
    from lxml import etree

    root = etree.fromstring((DATA / "bad" / "archive-missing-current.atom").read_bytes())
    assert codes(validate_archive_links(root)) == ["MissingCurrentInArchive"]
    # an archive document linking neither way is the only one: nothing to say about it
    assert validate_archive_links((DATA / "good-lone-archive.atom").read_bytes()) == []


def test_subscription_document_with_prev_archive_is_not_an_archive() -> None:
    # good.atom has a prev-archive link but is the subscription document: no fh:archive needed
    assert validate_archive_links((DATA / "good.atom").read_bytes()) == []


# -- RSS specifics -------------------------------------------------------------------------------------

RSS_MINI = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>T</title><link>https://e.org/</link><description>D</description>
<atom:link rel="self" type="application/rss+xml" href="https://e.org/f.rss"/>{extra}
<item><title>I</title><guid>https://e.org/i</guid>{item}</item>{after}
</channel></rss>"""


@pytest.mark.parametrize(
    ("extra", "item", "after", "expected"),
    [
        ("", "", "", []),
        ("<ttl>soon</ttl>", "", "", ["InvalidInteger"]),
        ("", "", "<ttl>5</ttl>", ["MisplacedItem"]),
        ("<title>again</title>", "", "", ["DuplicateElement"]),
        ("", '<enclosure url="https://e.org/a" length="big" type="audio/mpeg"/>', "", ["InvalidIntegerAttribute"]),
        ("", '<enclosure url="https://e.org/a" length="1" type="audio"/>', "", ["InvalidMIMEAttribute"]),
        ("", "<source>Src</source>", "", ["MissingAttribute"]),
        ("", "<comments>comments</comments>", "", ["InvalidFullLink"]),
        ("", "<link></link>", "", ["NotBlank"]),
        ("", '<guid isPermaLink="false">tag:e.org,2024:x</guid>', "", ["DuplicateElement"]),
        ("<image><url>https://e.org/i.png</url><title>T</title></image>", "", "", ["MissingElement"]),
        ("<lastBuildDate>Wed, 01 May 2024 25:00:00 GMT</lastBuildDate>", "", "", ["InvalidRFC2822Date"]),
        ("<pubDate>Wed, 31 Apr 2024 10:00:00 GMT</pubDate>", "", "", ["InvalidRFC2822Date"]),
        ("<pubDate>01 May 2024 10:00 +0530</pubDate>", "", "", []),
        ("<pubDate>Wed, 01 May 1985 10:00:00 EST</pubDate>", "", "", ["ImplausibleDate"]),
        ("<webMaster>not an address</webMaster>", "", "", ["InvalidContact"]),
        ('<atom:link rel="hub" href="hub"/>', "", "", ["InvalidFullLink"]),
        ('<atom:link rel="hub"/>', "", "", ["MissingHref"]),
        ("", "<description>\u0080</description>", "", ["BadCharacters"]),
    ],
)
def test_rss_rule(extra: str, item: str, after: str, expected: list[str]) -> None:
    doc = RSS_MINI.format(extra=extra, item=item, after=after).encode()
    problems = validate_rss2(doc, now=NOW, self_url="https://e.org/f.rss")
    assert codes(problems) == sorted(expected), errors_and_warnings(problems)


def test_rss_structure_errors() -> None:
    assert codes(validate_rss2(b'<rss version="2.0"/>', now=NOW)) == ["MissingElement"]
    assert codes(validate_rss2(b"<feed/>", now=NOW)) == ["UndefinedElement"]
    two = b'<rss version="2.0"><channel/><channel/></rss>'
    assert "DuplicateElement" in codes(validate_rss2(two, now=NOW))
    assert codes(validate_rss2(b'<rss version="2.0"><channel/><x/></rss>', now=NOW)) == sorted(
        ["MissingDescription", "MissingLink", "MissingAtomSelfLink", "MissingTitle", "UndefinedElement"]
    )


def test_rss_blank_guid() -> None:
    doc = RSS_MINI.format(extra="", item="", after="").replace("<guid>https://e.org/i</guid>", "<guid> </guid>")
    assert codes(validate_rss2(doc.encode(), now=NOW)) == ["NotBlank"]


def test_rss_self_not_atom() -> None:
    doc = RSS_MINI.format(extra="", item="", after="").replace("application/rss+xml", "text/xml").encode()
    assert codes(validate_rss2(doc, now=NOW)) == ["SelfNotAtom"]


# -- JSON specifics ------------------------------------------------------------------------------------


def _json(mutate: Callable[[dict[str, Any]], object]) -> bytes:
    doc: dict[str, Any] = json.loads((DATA / "good.json").read_bytes())
    mutate(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(expired="no"), ["InvalidValue"]),
        (lambda d: d.update(items={}), ["InvalidValue"]),
        (lambda d: d.update(title=3), ["InvalidValue"]),
        (lambda d: d.update(authors="me"), ["InvalidValue"]),
        (lambda d: d.update(feed_url="https://feeds.example.org/a b"), ["InvalidFullLink", "SelfDoesntMatchLocation"]),
        (lambda d: d.update(icon=5), ["InvalidValue"]),
        (lambda d: d["items"].append("x"), ["InvalidValue"]),
        (lambda d: d["items"][0].update(id=""), ["InvalidValue"]),
        (lambda d: d["items"][0].update(tags="a"), ["InvalidValue"]),
        (lambda d: d["items"][0].update(content_html=" ", content_text=None), ["InvalidValue"]),
        (lambda d: (d["items"][1].pop("content_text"), d["items"][1].update(content_text="")), ["NotBlank"]),
        (lambda d: d["items"][0].update(title="a </b> b"), ["ContainsHTML"]),
        (lambda d: d["items"][0].update(summary="\u0085"), ["BadCharacters"]),
        (lambda d: d["items"][0].update(language="de-AT"), []),
        (lambda d: d["items"][1].update(attachments={}), ["InvalidValue"]),
        (lambda d: d["items"][1].update(attachments=[1]), ["InvalidValue"]),
        (lambda d: d["items"][1]["attachments"][0].update(mime_type="mp3"), ["InvalidMIMEType"]),
        (lambda d: d["items"][1]["attachments"][0].update(size_in_bytes=-1), ["InvalidValue"]),
        (lambda d: d["items"][1]["attachments"][0].update(duration_in_seconds=True), ["InvalidValue"]),
    ],
)
def test_json_rule(mutate: Callable[[dict[str, Any]], object], expected: list[str]) -> None:
    problems = validate_json_feed(_json(mutate), self_url="https://feeds.example.org/channels/tech.json", now=NOW)
    assert codes(problems) == sorted(expected), errors_and_warnings(problems)


def test_json_encoding_problems() -> None:
    good = (DATA / "good.json").read_bytes()
    assert codes(validate_json_feed(b"\xef\xbb\xbf" + good, now=NOW)) == ["UnexpectedBOM"]
    assert codes(validate_json_feed(b'{"title": "\xff"}', now=NOW)) == ["UnicodeError"]


# -- value checkers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("en", True),
        ("en-GB", True),
        ("zh-Hant-TW", True),
        ("sr-Latn-RS", True),
        ("de-CH-1901", True),
        ("es-419", True),
        ("x-private", True),
        ("i-klingon", True),
        ("", True),
        ("en_GB", False),
        ("xx", False),
        ("e", False),
        ("en-", False),
        ("toolonglanguage", False),
    ],
)
def test_language_tags(tag: str, ok: bool) -> None:
    assert (v._language_problem(tag) is None) is ok


@pytest.mark.parametrize(
    ("iri", "ok"),
    [
        ("https://example.org/a?b=c#d", True),
        ("https://例え.jp/パス", True),
        ("http://[2001:db8::1]/x", True),
        ("urn:isbn:0451450523", True),
        ("https://example.org/a b", False),
        ("https://example.org/<x>", False),
        ("https://example.org/%zz", False),
        ("https://example.org/#a#b", False),
        ("http:/example.org", False),
        ("http://", False),
        ("https://example.org/a[1]", False),
        ("https://example.org/\u0085", False),
    ],
)
def test_iri_syntax(iri: str, ok: bool) -> None:
    assert (v._iri_syntax_problem(iri) is None) is ok


@pytest.mark.parametrize(
    ("uri", "canonical"),
    [
        ("https://example.org/", "https://example.org/"),
        ("https://example.org", "https://example.org/"),
        ("HTTP://EXAMPLE.org:80/a", "http://example.org/a"),
        ("https://example.org:8443/%7efoo%2f", "https://example.org:8443/~foo%2F"),
        ("https://user@example.org/?q#f", "https://user@example.org/?q#f"),
    ],
)
def test_canonical_http(uri: str, canonical: str) -> None:
    assert v._canonical_http(uri) == canonical


@pytest.mark.parametrize(
    ("ident", "code"),
    [
        ("tag:example.org,2024:x", None),
        ("tag:user@example.org,2024-05-01:x/y#z", None),
        ("tag:example.org,2024-13:x", "InvalidTAG"),
        ("urn:uuid:6E8BC430-9C3A-11D9-9669-0800200C9A66", None),
        ("urn:x:", "InvalidURN"),
        ("urn:a:b", "InvalidURN"),
        ("Tag:example.org,2024:x", "InvalidTAG"),
        ("HTTPS://example.org/", "NonCanonicalURI"),
        ("https://example.org/x", None),
    ],
)
def test_entry_ids(ident: str, code: str | None) -> None:
    doc = mini().replace(b"tag:example.org,2024:e", ident.encode())
    assert codes(validate_atom(doc, now=NOW)) == ([code] if code else [])


def test_problem_str_and_errors_and_warnings() -> None:
    p = Problem("error", "MissingElement", "missing feed element: id", "/feed")
    assert str(p) == "error: MissingElement at /feed: missing feed element: id"
    assert errors_and_warnings([p, p]) == [str(p), str(p)]
    with pytest.raises(AttributeError):
        p.code = "x"  # type: ignore[misc]


# -- CLI -------------------------------------------------------------------------------------------------


def test_cli_reports_problems_and_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert v.main([str(DATA / "bad" / "missing-feed-id.atom")]) == 1
    out = capsys.readouterr().out
    assert "MissingElement" in out and "missing-feed-id.atom" in out
    assert v.main([str(DATA / "good.rss"), str(DATA / "good.json")]) == 0
    out = capsys.readouterr().out
    assert "good.rss: ok" in out and "good.json: ok" in out
    assert v.main(["--self-url", "https://feeds.example.org/channels/tech.rss", str(DATA / "good.rss")]) == 0
    assert v.main([str(tmp_path / "missing.atom")]) == 1
    assert v.main([]) == 2


def test_opml_and_html_pages_are_sniffed(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m feeds.validate` on feeds' index.opml reported "root element must be atom:feed, not opml", and on
    an HTML page an XML parsing error: the subscription list is checked as OPML, a page is refused as no feed."""
    assert validate_document((DATA / "good.opml").read_bytes(), now=NOW) == []
    bad_version = (DATA / "bad" / "opml-version.opml").read_bytes()
    assert codes(validate_document(bad_version, now=NOW)) == ["InvalidOPMLVersion"]
    page = (DATA / "bad" / "page.html").read_bytes()
    for variant in (page, b"\xef\xbb\xbf" + page, page.replace(b"<!DOCTYPE html>\n", b""),
                    b"<!-- generated -->\n" + page.upper()):
        assert codes(validate_document(variant, now=NOW)) == ["NotAFeed"], variant[:40]
    assert codes(validate_opml(page, now=NOW)) == ["SAXError", "UnexpectedDoctype"]  # no OPML, no crash
    assert codes(validate_opml((DATA / "good.atom").read_bytes(), now=NOW)) == ["UndefinedElement"]
    # a feed whose content holds an HTML page's markup is still a feed
    assert validate_document((DATA / "good.atom").read_bytes(), self_url=GOOD[0][2], now=NOW) == []
    assert v.main([str(DATA / "good.opml")]) == 0
    assert v.main([str(DATA / "bad" / "page.html")]) == 1
    assert "NotAFeed" in capsys.readouterr().out


def test_cli_as_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "feeds.validate", str(DATA / "good.atom"), str(DATA / "bad" / "xxe.atom")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "good.atom: ok" in result.stdout
    assert "ContainsSystemEntity" in result.stdout
