"""What a mutation survey of feeds/validate.py found unpinned: the level of an HTML event handler (an error, not
the warning an unknown attribute gets), script schemes besides javascript:, PUBLIC external entities, elements in no
namespace inside xhtml content, the de-duplication of identical findings, RFC 3339 negative offsets and a date
equal to `now`, RFC 822 leap seconds and zone offsets, UTF-16BE, encoding="utf8", the default rel="alternate" of an
Atom link, xhtml content holding more than its div, negative link lengths and blank hreflang, text-construct type
case, upper-case URN ids and urn:UUID, RFC 5005 rels spelled as IANA URIs, a non-empty fh:archive, duplicate
next-archive links, a last page linking next, a current link in a feed without a self link, RSS versions other than
2.0, RSS self-link types with parameters or in capitals (a real bug: capitals were refused, mended), extension
elements after the items, four-digit guids, JSON Feed boolean and blank ids, empty URLs, old dates, a blank language,
a blank content_text beside content_html and zero-byte attachments, OPML 1.x, outlines of type "RSS", bad
characters and a body without outlines, how `validate_document` sniffs (whitespace before JSON, a long preamble,
an RSS feed quoting "<opml", a prefixed atom:feed, an XHTML page), and the CLI's exit status on warnings alone and
on `--self-url` without a file.

The tests call feeds.validate on small documents built from test_validate's templates (its mini Atom feed, its
RSS_MINI and its good.json mutator) and the golden files in tests/data/validate; the CLI is driven through
`feeds.validate.main`, as test_validate does. No network, no store: the validator only reads bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from test_validate import DATA, NOW, RSS_MINI, _json, codes, mini

from feeds import validate as v
from feeds.validate import (
    errors_and_warnings,
    validate_archive_links,
    validate_atom,
    validate_document,
    validate_json_feed,
    validate_opml,
    validate_rss2,
)

JSON_SELF = "https://feeds.example.org/channels/tech.json"


def rss(extra: str = "", item: str = "", after: str = "") -> bytes:
    return RSS_MINI.format(extra=extra, item=item, after=after).encode()


def rss_codes(doc: bytes) -> list[str]:
    return codes(validate_rss2(doc, now=NOW, self_url="https://e.org/f.rss"))


# -- HTML content checks -----------------------------------------------------------------------------------


def test_event_handler_is_an_error_not_a_warning() -> None:
    """Mutant: `name.startswith("on")` -> `name.startswith("onx")` in _check_html_element: an onclick= fell through
    to the unknown-attribute rule, the same code SecurityRiskAttr but only a warning, so a publish check that
    fails on errors let a script handler through."""
    problems = validate_atom(mini(entry_extra='<content type="html">&lt;b onclick="x()"&gt;c&lt;/b&gt;</content>'),
                             now=NOW)
    assert [(p.level, p.code) for p in problems] == [("error", "SecurityRiskAttr")], errors_and_warnings(problems)


@pytest.mark.parametrize("scheme", ["vbscript", "livescript", "mocha"])
def test_script_schemes_besides_javascript_are_refused(scheme: str) -> None:
    """Mutant: _SCRIPT_SCHEMES = {"javascript"} only: a vbscript: href, being absolute, passed with no finding."""
    doc = mini(entry_extra=f'<content type="html">&lt;a href="{scheme}:x()"&gt;x&lt;/a&gt;</content>')
    assert codes(validate_atom(doc, now=NOW)) == ["SecurityRiskURL"]


def test_no_namespace_element_inside_xhtml_is_checked() -> None:
    """Mutant: `namespace not in (XHTML_NS, None)` -> `not in (XHTML_NS,)` in _check_xhtml_tree: an element put in no
    namespace (xmlns="") inside the xhtml div was skipped as foreign markup, so a <script> there passed."""
    doc = mini(entry_extra='<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                           '<script xmlns="">x()</script></div></content>')
    assert codes(validate_atom(doc, now=NOW)) == ["SecurityRisk"]


def test_identical_findings_are_reported_once() -> None:
    """Mutant: `if p not in self._seen` -> `if True` in _Report.add: two <script> elements in one content gave two
    identical SecurityRisk lines."""
    doc = mini(entry_extra='<content type="html">&lt;script&gt;a()&lt;/script&gt;&lt;script&gt;b()&lt;/script&gt;'
                           "</content>")
    assert codes(validate_atom(doc, now=NOW)) == ["SecurityRisk"]


# -- dates -------------------------------------------------------------------------------------------------


def test_negative_rfc3339_offset_is_west_of_utc() -> None:
    """Mutant: `timezone(-delta if sign == "-" else delta)` -> `timezone(delta)` in _parse_rfc3339: 10:00-05:00
    (15:00Z) read as 10:00+05:00 (05:00Z), so a published date after the 12:00Z updated passed unnoticed."""
    doc = mini(entry_extra="<published>2024-05-01T10:00:00-05:00</published>")
    assert codes(validate_atom(doc, now=NOW)) == ["PublishedAfterUpdated"]


def test_a_date_equal_to_now_is_not_in_the_future() -> None:
    """Mutant: `dt > self.now` -> `dt >= self.now` in _AtomChecker.check_date: a feed stamped at the instant it is
    validated was reported as dated in the future."""
    assert validate_atom(mini(), now=v._parse_rfc3339("2024-05-01T12:00:00Z")) == []


def test_rss_leap_second_is_a_valid_date() -> None:
    """Mutant: `second = min(parsed[5], 59)` -> `second = parsed[5]` in _RssChecker.check_date: a leap second
    (23:59:60, allowed by RFC 5322) was reported as "not a real date"."""
    assert rss_codes(rss("<pubDate>Sun, 31 Dec 2023 23:59:60 GMT</pubDate>")) == []


def test_rss_zone_offset_counts_for_future_dates() -> None:
    """Mutant: `seconds=parsed[9] or 0` -> `seconds=0` in _RssChecker.check_date: 01:00 +0200 on the day `now`
    starts is 23:00Z the day before, not a date in the future."""
    assert rss_codes(rss("<pubDate>Sat, 01 Jun 2024 01:00:00 +0200</pubDate>")) == []
    assert rss_codes(rss("<pubDate>Sat, 01 Jun 2024 01:00:00 -0200</pubDate>")) == ["ImplausibleDate"]


# -- Atom ids, links and RFC 5005 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ident", "expected"),
    [
        # Mutant: `if m.group(1) != scheme` -> `if False` in check_id (an upper-case scheme the URN rule accepts)
        ("URN:isbn:0451450523", ["NonCanonicalURI"]),
        # Mutant: `um.group(1).lower() == "uuid"` -> `um.group(1) == "uuid"` (the NID is case-insensitive)
        ("urn:UUID:not-a-uuid", ["InvalidURN"]),
    ],
)
def test_urn_id_case(ident: str, expected: list[str]) -> None:
    """Mutants in _AtomChecker.check_id around the case of a urn: id (see the parameters)."""
    doc = mini().replace(b"tag:example.org,2024:e", ident.encode())
    assert codes(validate_atom(doc, now=NOW)) == expected


def test_links_without_rel_are_alternates_for_duplicates() -> None:
    """Mutant: `link.get("rel", "alternate")` -> `link.get("rel")` in check_duplicate_alternates: two entry links with
    no rel (both alternate by RFC 4287) and the same type were not reported."""
    doc = mini(entry_extra='<link href="https://example.org/e2"/>')
    assert codes(validate_atom(doc, now=NOW)) == ["DuplicateAtomLink"]


def test_two_next_archive_links_are_an_error() -> None:
    """Mutant: next-archive dropped from the "at most one" rels in _archive_checks (each of the two is reported)."""
    doc = mini('<fh:archive/><link rel="current" href="https://example.org/feed.atom"/>'
               '<link rel="next-archive" href="https://example.org/a2.atom"/>'
               '<link rel="next-archive" href="https://example.org/a3.atom"/>')
    assert codes(validate_archive_links(doc)) == ["DuplicateAtomLink", "DuplicateAtomLink"]


def test_last_page_linking_next_is_past_the_end() -> None:
    """Mutant: ("last", "next") dropped from the LinkPastEnd pairs in _archive_checks."""
    doc = mini('<link rel="last" href="https://example.org/feed.atom"/>'
               '<link rel="next" href="https://example.org/p9.atom"/>')
    assert codes(validate_atom(doc, now=NOW)) == ["LinkPastEnd"]


def test_current_link_without_self_link_needs_no_archive_marker() -> None:
    """Mutant: `if self_hrefs and href not in self_hrefs` -> `if href not in self_hrefs` in _archive_checks: without a
    self link nothing says the document is not the current one, yet it got a MissingArchiveMarker error."""
    doc = mini('<link rel="current" href="https://example.org/other.atom"/>').replace(
        b'<link rel="self" href="https://example.org/feed.atom"/>', b"")
    assert codes(validate_atom(doc, now=NOW)) == ["MissingSelf"]


# -- RSS ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ltype", ["application/rss+xml; charset=utf-8", "application/RSS+xml"])
def test_rss_self_link_type_parameters_and_case(ltype: str) -> None:
    """Mutant: `ltype.split(";")[0].strip()` -> `ltype` in _RssChecker.check_channel: a self link type with a charset
    parameter was reported SelfNotAtom. Media types are case-insensitive, as the Atom check already knew."""
    doc = rss().replace(b'type="application/rss+xml"', f'type="{ltype}"'.encode())
    assert rss_codes(doc) == []


def test_namespaced_elements_after_items_are_not_misplaced() -> None:
    """Mutant: `elif seen_item and _ns(child) is None` -> `elif seen_item` in check_channel: an extension element
    (here atom:link rel="hub") after the items was reported MisplacedItem; the rule is about RSS's own elements."""
    assert rss_codes(rss(after='<atom:link rel="hub" href="https://e.org/hub"/>')) == []


def test_four_digit_guid_is_not_sufficiently_unique() -> None:
    """Mutant: `\\d{1,4}` -> `\\d{1,3}` in _RssChecker.check_item (the W3C rule counts up to four digits)."""
    doc = rss(item="").replace(b"<guid>https://e.org/i</guid>", b'<guid isPermaLink="false">2024</guid>')
    assert rss_codes(doc) == ["NotSufficientlyUnique"]


# -- JSON Feed ---------------------------------------------------------------------------------------------


def _json_codes(doc: dict[str, Any] | None = None, **item0: object) -> list[str]:
    data = _json(lambda d: d["items"][0].update(item0)) if doc is None else json.dumps(doc).encode()
    return codes(validate_json_feed(data, self_url=JSON_SELF, now=NOW))


def test_json_boolean_id_is_invalid() -> None:
    """Mutant: `not isinstance(ident, bool)` dropped in _JsonChecker.check_item: `"id": true` passed as the
    string "True" with only an IdNotString warning."""
    assert _json_codes(id=True) == ["InvalidValue"]


def test_json_blank_content_text_beside_content_html_is_fine() -> None:
    """Mutant: the `(html is None or not html.strip())` clause dropped: an empty content_text next to a real
    content_html was reported NotBlank."""
    assert _json_codes(content_text="") == []


def test_json_zero_byte_attachment_is_fine() -> None:
    """Mutant: `v < 0` -> `v <= 0` for size_in_bytes / duration_in_seconds ("a non-negative number")."""
    doc = json.loads((DATA / "good.json").read_bytes())
    doc["items"][1]["attachments"][0].update(size_in_bytes=0, duration_in_seconds=0)
    assert _json_codes(doc) == []


# -- OPML --------------------------------------------------------------------------------------------------

OPML = (DATA / "good.opml").read_bytes()


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_opml_1x_versions_are_accepted(version: str) -> None:
    """Mutant: _OPML_VERSIONS = ("2.0",): OPML 1.0 / 1.1 subscription lists got InvalidOPMLVersion."""
    assert validate_opml(OPML.replace(b'version="2.0"', f'version="{version}"'.encode()), now=NOW) == []


def test_opml_outline_type_is_case_insensitive() -> None:
    """Mutant: `(o.get("type") or "").lower()` -> without .lower() in validate_opml: type="RSS" with no xmlUrl was
    not reported MissingXmlURL."""
    doc = OPML.replace(b'<outline type="rss" text="Tech &amp; science" title="Tech &amp; science" '
                       b'xmlUrl="https://feeds.example.org/channels/tech.atom"', b'<outline type="RSS" text="T"')
    assert codes(validate_opml(doc, now=NOW)) == ["MissingXmlURL"]


def test_opml_body_without_outlines_is_an_error() -> None:
    """Mutant: the `body is not None and not outlines` check disabled in validate_opml."""
    doc = b'<opml version="2.0"><head><title>t</title></head><body/></opml>'
    assert codes(validate_opml(doc, now=NOW)) == ["MissingElement"]


# -- format sniffing and the CLI ---------------------------------------------------------------------------


def test_json_after_leading_whitespace_is_sniffed_as_json() -> None:
    """Mutant: `head = data.lstrip(...)` -> `head = data` in validate_document: a JSON Feed starting with a newline
    (or a BOM) went to the Atom validator and got a SAXError."""
    good = (DATA / "good.json").read_bytes()
    assert validate_document(b"\n  " + good, self_url=JSON_SELF, now=NOW) == []
    assert codes(validate_document(b"\xef\xbb\xbf" + good, self_url=JSON_SELF, now=NOW)) == ["UnexpectedBOM"]


def test_rss_after_a_long_preamble_is_sniffed_as_rss() -> None:
    """Mutant: `start = data[:4096]` -> `data[:512]` in validate_document: an RSS feed whose root comes after a
    long licence comment was validated as Atom ("root element must be atom:feed")."""
    doc = rss().replace(b"?>\n", b"?>\n<!-- " + b"licence text " * 80 + b"-->\n", 1)
    assert codes(validate_document(doc, self_url="https://e.org/f.rss", now=NOW)) == []


def test_rss_feed_quoting_opml_is_still_rss() -> None:
    """Mutant: `and not re.search(rb"<rss[\\s>]", start)` dropped in validate_document: an RSS feed with a comment
    quoting "<opml version=...>" near its start was validated as OPML ("root element must be opml")."""
    doc = rss().replace(b"<channel>", b'<channel><!-- converted from <opml version="2.0"> -->', 1)
    assert codes(validate_document(doc, self_url="https://e.org/f.rss", now=NOW)) == []


def test_self_url_option_without_a_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Mutant: `len(args) >= 2` -> `len(args) > 2` in main: `--self-url URL` with no file tried to read files named
    "--self-url" and URL and exited 1 instead of printing the usage (exit 2)."""
    assert v.main(["--self-url", "https://e.org/f.rss"]) == 2
    assert "usage:" in capsys.readouterr().err


# -- value checkers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iri",
    [
        "https://example.org/\ufffd",  # Mutant: U+FFFD dropped from the refused code points
        "ftp:/example.org/a",  # Mutant: ftp dropped from the schemes that need '//' and a host
        "https://example.org/a]",  # Mutant: `"[" in value or "]" in value` -> `"[" in value`
    ],
)
def test_iri_syntax_edges(iri: str) -> None:
    """Mutants in _iri_syntax_problem (see the parameters)."""
    assert v._iri_syntax_problem(iri) is not None


def test_utf8_spelled_without_hyphen_is_utf8() -> None:
    """Mutant: "utf8" dropped from the accepted encoding names in _parse_xml: encoding="utf8" got NotUTF8."""
    doc = mini().replace(b'encoding="utf-8"', b'encoding="utf8"')
    assert validate_atom(doc, now=NOW) == []


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_utf16_byte_order_marks_are_not_utf8(bom: bytes) -> None:
    """Mutant: the big-endian b"\\xfe\\xff" dropped from the UTF-16 marks in _parse_xml: a UTF-16BE feed got a
    UnicodeError at some byte instead of NotUTF8, the W3C code that says what is wrong."""
    doc = mini().decode().encode("utf-16-be" if bom == b"\xfe\xff" else "utf-16-le")
    assert codes(validate_atom(bom + doc, now=NOW)) == ["NotUTF8"]


# -- Atom text constructs and links (batch 2) --------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        '<content type="xhtml">lead <div xmlns="http://www.w3.org/1999/xhtml">x</div></content>',
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div>'
        '<p xmlns="http://www.w3.org/1999/xhtml">y</p></content>',
    ],
)
def test_xhtml_content_is_exactly_one_div(content: str) -> None:
    """Mutant: the xhtml rule reduced to `len(divs) != 1` in check_text_payload: text beside the div, or a second
    element next to it, was accepted."""
    assert codes(validate_atom(mini(entry_extra=content), now=NOW)) == ["MissingXhtmlDiv"]


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        # Mutant: length `\d+` -> `-?\d+` in check_link
        ('rel="enclosure" type="audio/mpeg" length="-1"', ["InvalidNonNegativeInteger"]),
        # Mutant: `_language_problem(hreflang) if hreflang else "is blank"` -> `_language_problem(hreflang)`
        ('rel="related" hreflang=""', ["InvalidLanguage"]),
    ],
)
def test_link_length_and_blank_hreflang(attrs: str, expected: list[str]) -> None:
    """Mutants in _AtomChecker.check_link (see the parameters)."""
    doc = mini(entry_extra=f'<link {attrs} href="https://example.org/a.mp3"/>')
    assert codes(validate_atom(doc, now=NOW)) == expected


def test_end_tag_of_a_non_html_name_is_not_html() -> None:
    """Mutant: `m.group(1).lower() in _HTML_ELEMENTS` -> `True` in _looks_like_html: a plain-text title quoting
    "</T>" (say, about C++ templates) was reported ContainsUndeclaredHTML."""
    doc = mini().replace(b"<title>E</title>", b"<title>Closing &lt;/T&gt; in templates</title>")
    assert validate_atom(doc, now=NOW) == []


IANA = "http://www.iana.org/assignments/relation/"


def test_iana_uri_rels_count_in_archive_checks() -> None:
    """Mutant: rel_of() in _archive_checks stops stripping the IANA prefix: an archive document whose current
    link is spelled as the IANA URI got MissingCurrentInArchive."""
    doc = mini(f'<fh:archive/><link rel="{IANA}current" href="https://example.org/current.atom"/>')
    assert validate_atom(doc, now=NOW) == []


def test_iana_uri_rel_alone_turns_on_archive_checks() -> None:
    """Mutant: _uses_feed_history stops stripping the IANA prefix: a feed whose only history link is an IANA-URI
    current link elsewhere (no fh:archive) was not checked, so MissingArchiveMarker went unreported."""
    doc = mini(f'<link rel="{IANA}current" href="https://example.org/current.atom"/>')
    assert codes(validate_atom(doc, now=NOW)) == ["MissingArchiveMarker"]


def test_archive_marker_with_a_child_element_is_not_empty() -> None:
    """Mutant: `or _elements(el)` dropped from the fh:archive / fh:complete emptiness check in _archive_checks."""
    doc = mini('<fh:archive><fh:x/></fh:archive><link rel="current" href="https://example.org/c.atom"/>')
    assert codes(validate_archive_links(doc)) == ["UnexpectedText"]


# -- RSS, JSON Feed and OPML (batch 2) ---------------------------------------------------------------------


@pytest.mark.parametrize("root", ['<rss version="0.92"', "<rss"])
def test_rss_version_must_be_2_0(root: str) -> None:
    """Mutant: `version != "2.0"` -> `version not in ("2.0", "0.92")` in check_rss (the golden file pins only
    0.91); a missing version is reported too."""
    doc = rss().replace(b'<rss version="2.0"', root.encode())
    assert rss_codes(doc) == ["InvalidRSSVersion"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        # Mutant: `if not value or reason` -> `if reason` in _JsonChecker.check_url (an empty URL is no link)
        (lambda d: d["items"][0].update(url=""), ["InvalidFullLink"]),
        # Mutant: the "implausibly old" branch dropped from _JsonChecker.check_date
        (lambda d: d["items"][1].update(date_published="1989-12-31T23:59:59Z"), ["ImplausibleDate"]),
        # Mutant: `or (None if lang else "is blank")` dropped for the feed's language
        (lambda d: d.update(language=""), ["InvalidLanguage"]),
    ],
)
def test_json_member_edges(mutate: Callable[[dict[str, Any]], object], expected: list[str]) -> None:
    """Mutants in _JsonChecker (see the parameters)."""
    assert codes(validate_json_feed(_json(mutate), self_url=JSON_SELF, now=NOW)) == expected


def test_opml_bad_characters_are_reported() -> None:
    """Mutant: the BadCharacters scan of validate_opml disabled: a mis-decoded outline title (U+FFFD) passed."""
    doc = OPML.replace(b'title="Tech &amp; science"', 'title="Tech \ufffd science"'.encode())
    assert codes(validate_opml(doc, now=NOW)) == ["BadCharacters"]


# -- batch 3: entities, exit status, sniffing, ids -------------------------------------------------------------


def test_public_external_entity_is_refused_like_system() -> None:
    """Mutant: PUBLIC dropped from _EXTERNAL_ENTITY_RE: a PUBLIC external entity was only an UnexpectedDoctype
    warning instead of the ContainsSystemEntity error (the golden xxe file uses SYSTEM)."""
    doc = b'<!DOCTYPE feed [<!ENTITY e PUBLIC "-//x//y" "file:///etc/hostname">]>' + mini().split(b"?>", 1)[1]
    problems = validate_atom(doc, now=NOW)
    assert [(p.level, p.code) for p in problems] == [("error", "ContainsSystemEntity")], errors_and_warnings(problems)


def test_cli_exits_1_on_warnings_alone(capsys: pytest.CaptureFixture[str]) -> None:
    """Mutant: `if problems` -> `if any(p.level == "error" ...)` in main: a file with only a warning (here the self
    link not matching --self-url) exited 0 although the module promises exit 1 "when any problem is found"."""
    assert v.main(["--self-url", "https://elsewhere.example/x.atom", str(DATA / "good.atom")]) == 1
    assert "SelfDoesntMatchLocation" in capsys.readouterr().out


def test_text_construct_type_is_case_sensitive() -> None:
    """Mutant: "TEXT" added to the accepted text-construct types in check_text_construct (RFC 4287's values are
    lower-case; the golden file only tries "markdown")."""
    doc = mini().replace(b"<title>E</title>", b'<title type="TEXT">E</title>')
    assert codes(validate_atom(doc, now=NOW)) == ["InvalidTextType"]


def test_json_whitespace_only_id_is_invalid() -> None:
    """Mutant: `not ident.strip()` -> `not ident` in _JsonChecker.check_item: an id of spaces passed."""
    assert _json_codes(id="   ") == ["InvalidValue"]


def test_xhtml_page_with_xml_declaration_is_not_a_feed() -> None:
    """Mutant: the optional `<?xml ...?>` dropped from _HTML_PAGE_RE: an XHTML page was validated as Atom ("root
    element must be atom:feed") instead of refused as NotAFeed."""
    page = b'<?xml version="1.0" encoding="utf-8"?>\n' + (DATA / "bad" / "page.html").read_bytes()
    assert codes(validate_document(page, now=NOW)) == ["NotAFeed"]


def test_prefixed_atom_root_is_sniffed_as_atom() -> None:
    """Mutant: `<(?:\\w+:)?feed` -> `<feed` in validate_document: an Atom feed written with an atom: prefix whose
    first 4 KB mention "<rss " (a comment) was validated as RSS."""
    body = mini().decode().split("?>", 1)[1]
    prefixed = body.replace('xmlns="http://www.w3.org/2005/Atom"', 'xmlns:atom="http://www.w3.org/2005/Atom"')
    for name in ("feed", "id", "title", "updated", "link", "author", "name", "entry", "summary"):
        prefixed = prefixed.replace(f"<{name}", f"<atom:{name}").replace(f"</{name}>", f"</atom:{name}>")
    doc = ("<!-- was <rss version=\"2.0\"> -->" + prefixed).encode()
    assert validate_document(doc, self_url="https://example.org/feed.atom", now=NOW) == []
