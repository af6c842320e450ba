"""Property-based tests of the sanitiser and link forms, and a short seeded fuzz run of parse -> store ->
publish: mutated feed bytes are either refused as a source failure or published as valid Atom.

Everything is derandomized (same examples on every run, on every machine) and bounded.
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import html as lhtml

from feeds.config import parse_config
from feeds.dedup import canonical_link, clean_link
from feeds.run import Pipeline
from feeds.sanitize import safe_url, sanitize_html
from feeds.store import Store
from feeds.validate import validate_atom

PROPS = settings(derandomize=True, max_examples=150, deadline=None, database=None)

# -- hostile HTML ----------------------------------------------------------------------------------------

TAGS = ["script", "style", "iframe", "svg", "math", "object", "embed", "form", "input", "base", "meta", "link",
        "template", "noscript", "a", "img", "p", "div", "span", "b", "table", "td", "blockquote", "q", "video",
        "body", "html", "xmp", "plaintext", "frameset", "frame", "textarea", "title", "details", "marquee", "image",
        "use", "animate", "foreignObject", "isindex", "applet", "param", "SCRIPT", "ScRiPt", "sCrIpT", "font", "center"]
ATTRS = ["onclick", "onerror", "onload", "ONMOUSEOVER", "onfocus", "style", "href", "src", "cite", "srcset", "action",
         "formaction", "data", "background", "xlink:href", "srcdoc", "title", "alt", "class", "id", "poster", "width"]
SCHEMES = ["javascript:", "JaVaScRiPt:", " javascript:", "java\tscript:", "java\nscript:", "&#106;avascript:",
           "&#x6A;avascript:", "vbscript:", "data:text/html,", "data:image/svg+xml,", "livescript:", "mocha:",
           "feed:javascript:", "jar:", "file:///", "//", "http://ok.example/", "https://ok.example/", "mailto:a@",
           "\x01javascript:", "javascript&colon;", "", "/", "../", "#", "?x="]
PAYLOADS = ["alert(1)", "x", "expression(alert(1))", "url(javascript:alert(1))", "1", '"><script>alert(1)</script>',
            "' onmouseover='alert(1)", "</a><img src=x onerror=alert(1)>"]


@st.composite
def attribute(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(ATTRS))
    value = draw(st.sampled_from(SCHEMES)) + draw(st.sampled_from(PAYLOADS))
    quote = draw(st.sampled_from(['"', "'", ""]))
    value = value.replace(" ", "").replace(">", "") if not quote else value.replace(quote, html.escape(quote))
    return f" {name}={quote}{value}{quote}"


def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw: st.DrawFn) -> str:
        tag = draw(st.sampled_from(TAGS))
        attrs = "".join(draw(st.lists(attribute(), max_size=3)))
        inner = "".join(draw(st.lists(children, max_size=3)))
        close = draw(st.sampled_from([f"</{tag}>", "", f"</{tag.upper()}>"]))
        return f"<{tag}{attrs}>{inner}{close}"

    return build()


TEXT = st.sampled_from(["text", "&lt;script&gt;", "<!-- c -->", "<![CDATA[x]]>", "&amp;", "]]>", "<", ">", "&",
                        "\u202e", "\x00", "<?pi x?>", "<!DOCTYPE html>", "</p>", "<p", "<a href=javascript:x>",
                        # references to characters XML cannot hold (the HTML parser makes them the character)
                        "&#1;", "&#x1f;", "&#0;", "&#xFFFE;", "&#xD800;", "&#8", "&#1114112;"])
HOSTILE_HTML = st.recursive(TEXT, element, max_leaves=12).map(str)
FORBIDDEN = {"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta", "link",
             "svg", "math", "form", "input", "button", "textarea", "select", "template", "noscript", "video",
             "audio", "isindex", "marquee", "details", "body", "html", "head", "title", "xmp", "plaintext", "image",
             "use", "animate", "foreignobject", "param"}
URL_ATTRS = {"href", "src", "cite", "action", "formaction", "data", "background", "xlink:href", "poster", "srcset"}


def assert_safe(out: str) -> None:
    if not out.strip():
        return
    for el in lhtml.fragment_fromstring(out, create_parent="div").iter():
        if not isinstance(el.tag, str):
            continue
        assert el.tag.lower() not in FORBIDDEN, (el.tag, out)
        for name, value in el.attrib.items():
            n = name.lower()
            assert not n.startswith("on") and n not in ("style", "srcdoc", "srcset", "formaction"), (name, out)
            if n in URL_ATTRS:
                assert value.lower().startswith(("http://", "https://", "mailto:")), (name, value, out)
            if n not in ("title", "alt"):  # text shown to the reader may say anything
                squashed = "".join(value.split()).lower()
                assert "javascript:" not in squashed and "vbscript:" not in squashed, (name, value, out)


@PROPS
@given(HOSTILE_HTML, st.sampled_from([None, "https://site.example/post/1", "javascript:alert(1)//"]))
def test_sanitised_html_never_carries_script_handlers_styles_or_unsafe_urls(fragment: str, base: str | None) -> None:
    out = sanitize_html(fragment, base)
    assert_safe(out)
    assert "<script" not in out.lower() and "<style" not in out.lower()


@PROPS
@given(HOSTILE_HTML)
def test_sanitising_twice_changes_nothing_more(fragment: str) -> None:
    once = sanitize_html(fragment, "https://site.example/")
    assert_safe(sanitize_html(once, "https://site.example/"))
    assert sanitize_html(once, "https://site.example/") == once


@PROPS
@given(st.text(max_size=200))
def test_sanitiser_never_raises_and_emits_only_xml_characters(text: str) -> None:
    import re

    out = sanitize_html(text, "https://site.example/")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]", out)


# -- links -------------------------------------------------------------------------------------------------

URL_PART = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
URLS = st.one_of(
    st.builds(lambda s, h, p, q, f: f"{s}{h}{p}{q}{f}", st.sampled_from(SCHEMES + ["HTTP://", "https://WWW."]),
              st.sampled_from(["a.example", "Example.COM", "b.example:8080", "user:pw@c.example", "[::1]", ""]),
              st.sampled_from(["", "/", "/a/../b", "/%2e%2e/", "/a b", "/\u00e9"]) | URL_PART,
              st.sampled_from(["", "?utm_source=x", "?b=2&a=1", "?a=1&not=2", "?&&", "?a=%26"]) | URL_PART,
              st.sampled_from(["", "#frag", "#"])),
    st.text(max_size=40),
)


@PROPS
@given(URLS, st.sampled_from([None, "https://base.example/dir/page", "http://b.example"]))
def test_safe_url_is_absolute_http_or_mailto_and_a_fixed_point(url: str, base: str | None) -> None:
    out = safe_url(url, base)
    if out is None:
        return
    assert out.lower().startswith(("http://", "https://", "mailto:"))
    assert safe_url(out, None) == out
    assert safe_url(out, base) == out


@PROPS
@given(URLS)
def test_canonical_link_is_idempotent_and_clean_link_too(url: str) -> None:
    canon = canonical_link(url)
    if canon is not None:
        assert canonical_link("https://" + canon) == canon
        assert canonical_link("http://" + canon) == canon
    cleaned = clean_link(url)
    assert clean_link(cleaned) == cleaned
    if canon is not None and canonical_link(cleaned) is not None:
        assert canonical_link(cleaned) == canon  # cleaning never changes what the link identifies


# -- fuzzing parse -> store -> publish ----------------------------------------------------------------------

SEEDS = [
    b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Seed RSS</title>'
    b"<link>https://site.example/</link><description>d</description>"
    b"<item><title>First &amp; foremost</title><link>https://site.example/1</link><guid>s1</guid>"
    b"<pubDate>Tue, 01 Jul 2025 10:00:00 GMT</pubDate><description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;"
    b"</description><category>News</category></item>"
    b"<item><title>Second</title><link>https://site.example/2</link><guid>s2</guid>"
    b"<description><![CDATA[<p>Two <a href='/x'>links</a></p>]]></description></item></channel></rss>",
    b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">Seed '
    b"&lt;i&gt;Atom&lt;/i&gt;</title><id>urn:seed</id><updated>2025-07-01T10:00:00Z</updated>"
    b'<link rel="alternate" href="https://atom.example/"/><entry><title>Atom one</title><id>urn:seed:1</id>'
    b'<updated>2025-07-01T10:00:00Z</updated><link href="https://atom.example/1"/><author><name>A</name></author>'
    b'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x<br/>y</p></div></content></entry>'
    b'<entry><title>Atom two</title><id>urn:seed:2</id><updated>2025-07-02T10:00:00+02:00</updated>'
    b'<summary type="html">&lt;img src="a.png"&gt;</summary></entry></feed>',
    b'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    b'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel '
    b'rdf:about="https://rdf.example/"><title>Seed RDF</title><link>https://rdf.example/</link>'
    b"<description>d</description></channel><item rdf:about=\"https://rdf.example/1\"><title>RDF one</title>"
    b"<link>https://rdf.example/1</link><dc:date>2025-07-01T10:00:00Z</dc:date></item></rdf:RDF>",
]
TOKENS = [b"<", b">", b"&", b"]]>", b"\x00", b"\xff", b"\xef\xbb\xbf", b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"&a;",
          b"&#xd800;", b"&#0;", b"<![CDATA[", b"</item>", b"<item>", b"</entry>", b"<entry>", b"<script>", b'"',
          b"javascript:", b"\r\n", b"<title>", b"</title>", b"&#x110000;", b"\xc3", b"\x1b", b"<?xml version='1.1'?>"]


@st.composite
def mutated_feed(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            i = min(pos, len(data) - 1)
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 40))]
        elif op == "truncate":
            del data[pos:]
        elif op == "duplicate":
            n = draw(st.integers(1, 200))
            data[pos:pos] = data[pos:pos + n]
    return bytes(data)


class _Clock:
    """The pipeline's clock: a minute on per example, so that the examples' sequence, undated entries'
    times included, is the same on every run (with the wall clock a failure came and went with the load)."""

    def __init__(self) -> None:
        self.t = datetime(2025, 7, 3, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture(scope="module")
def pipeline() -> Iterator[tuple[Pipeline, Store, Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "f.xml").write_bytes(SEEDS[0])
        text = ('[output]\ndir = "out"\nbase_url = "https://feeds.example.org/"\n[store]\npath = "f.db"\n'
                '[[sources]]\nurl = "f.xml"\nname = "fuzz"\n[channels.all]\ntitle = "All"\nmatch_all = true\n')
        cfg = parse_config(text, d / "feeds.toml")
        store = Store.open(cfg.store_path)
        pipe = Pipeline(cfg, store, now=_Clock())
        try:
            yield pipe, store, d
        finally:
            pipe.close()
            store.close()


@settings(derandomize=True, max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutated_feed())
def test_mutated_feeds_are_refused_or_published_as_valid_atom(pipeline: tuple[Pipeline, Store, Path],
                                                              data: bytes) -> None:
    pipe, store, d = pipeline
    pipe.now.t += timedelta(minutes=1)  # type: ignore[attr-defined]
    (d / "f.xml").write_bytes(data if data.strip() else b" ")
    report = pipe.run(force_all=True)
    assert not report.publish_errors, report.publish_errors
    [outcome] = report.outcomes
    if outcome.error:
        assert "internal" not in outcome.error, outcome.error  # the fetcher never fails on its own
    doc = d / "out" / "all.atom"
    assert doc.exists()
    problems = [str(p) for p in validate_atom(doc.read_bytes(), self_url="https://feeds.example.org/all.atom")
                if p.level == "error"]
    assert problems == [], (data[:300], problems)
    assert store.duplicate_uids() == 0
