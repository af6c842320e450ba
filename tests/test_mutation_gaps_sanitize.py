"""What a mutation survey of feeds/sanitize.py found no test for.

tests/test_sanitize_reference.py compares the sanitiser with a reference that reads its allow- and deny-lists
(ALLOWED_TAGS, ALLOWED_ATTRS, DROP_WITH_CONTENT, AS_DIV, SAFE_SCHEMES) from the code under test, so a name
dropped from one of those lists changes both sides alike, and the hostile-HTML fuzz checks only that nothing
active is left, not that a frame's or a plugin's content goes with it. Each test here feeds real markup through
the public functions and asserts, with every name written out, what a reader gets; each names the mutant (a
one-line change to feeds/sanitize.py) that passed every existing test before it.
"""

from __future__ import annotations

import pytest

from feeds.sanitize import cut_text, public_url, sanitize_html, text_excerpt, visible_text

BASE = "https://site.example/post/1"


@pytest.mark.parametrize("tag", ["iframe", "object", "svg", "math", "noscript", "template", "textarea"])
def test_frames_plugins_svg_math_noscript_templates_and_fields_go_with_their_content(tag: str) -> None:
    """What an iframe, an object, an inline SVG or MathML, a noscript, a template or a textarea holds is not
    the article's text (a frame's fallback, an SVG's labels, a hidden template): it goes with the element, and
    the text around it stays.

    Kills: "iframe", "object", "svg", "math", "noscript", "template" or "textarea" taken out of
    DROP_WITH_CONTENT (the element then unwrapped, its content published)."""
    markup = (f'<p>Before <{tag}><b>HIDDEN</b> <a href="https://e.example/">HIDDEN-LINK</a>'
              f'<img src="https://e.example/i.png" alt="HIDDEN-IMG"></{tag}> after</p>')
    out = sanitize_html(markup, BASE)
    assert out == "<p>Before  after</p>", out


@pytest.mark.parametrize("tag", ["address", "article", "aside", "center", "details", "dialog", "dir", "fieldset",
                                 "footer", "header", "hgroup", "legend", "main", "menu", "nav", "section",
                                 "summary"])
def test_each_block_not_allowed_as_such_is_a_div(tag: str) -> None:
    """The list written out (test_sanitize_reference iterates the code's own AS_DIV, so a name dropped from it
    drops out of that test too): unwrapped, "<section>Kyiv</section><section>Gaza</section>" reads "KyivGaza".

    Kills: any one name (e.g. "section") taken out of AS_DIV."""
    out = sanitize_html(f'<{tag} class="c" onclick="x()">Kyiv</{tag}><{tag}>Gaza</{tag}>', BASE)
    assert out == "<div>Kyiv</div><div>Gaza</div>", out


@pytest.mark.parametrize("markup", [
    '<a href="https://e.example/" style="background:url(javascript:alert(1))">x</a>',
    '<img src="https://e.example/i.png" alt="i" style="width:expression(alert(1))">',
    '<td style="x:expression(alert(1))" colspan="2">x</td>',
    '<blockquote cite="https://e.example/" style="position:fixed;top:0">q</blockquote>',
])
def test_no_kept_element_keeps_a_style_attribute(markup: str) -> None:
    """CSS is active content (expression(), url(javascript:), an overlay with position:fixed): no element keeps
    its style attribute, the elements that have allowed attributes included.

    Kills: "style" added to ALLOWED_ATTRS["a"] (and the like for img, td, blockquote)."""
    out = sanitize_html(f"<table><tr>{markup}</tr></table>" if markup.startswith("<td") else markup, BASE)
    assert "style" not in out and "expression" not in out and "javascript" not in out, out
    assert "https://e.example/" in out or "colspan" in out, out  # the element itself is kept


@pytest.mark.parametrize(("markup", "want"), [
    ('<a href="data:text/html,%3Cscript%3Ealert(1)%3C/script%3E">d</a>', "<a>d</a>"),
    ('<a href="DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">d</a>', "<a>d</a>"),
    ('<p>x<img src="data:image/svg+xml,%3Csvg%20onload=alert(1)%3E" alt="i">y</p>', "<p>xy</p>"),
    ('<blockquote cite="data:text/html,x">q</blockquote>', "<blockquote>q</blockquote>"),
    ('<a href="javascript:alert(1)">j</a>', "<a>j</a>"),
    ('<a href="vbscript:msgbox(1)">v</a>', "<a>v</a>"),
    ('<a href="file:///etc/passwd">f</a>', "<a>f</a>"),
    # with a host, a URL of any scheme passes the "http(s) needs a host" check: only the scheme list is left
    ('<a href="data://e.example/text/html,%3Cscript%3Ealert(1)%3C/script%3E">d</a>', "<a>d</a>"),
    ('<a href="javascript://e.example/%0Aalert(1)">j</a>', "<a>j</a>"),
    ('<img src="data://e.example/i.svg" alt="i"><a href="vbscript://e.example/%0Amsgbox(1)">v</a>', "<a>v</a>"),
])
def test_data_javascript_vbscript_and_file_urls_are_never_published(markup: str, want: str) -> None:
    """A data: URL is a document of the feed's choosing (an SVG with a script, an HTML page): like javascript:
    and vbscript:, it goes with its attribute, and an image without a source goes altogether. "data:text/html,..."
    is also refused for having no host; "data://host/..." and "javascript://host/%0Aalert(1)" (a "//" comment, then
    a new line of script) have one, and are refused for their scheme alone.

    Kills: "data" added to SAFE_SCHEMES."""
    assert sanitize_html(markup, BASE) == want


def test_mailto_links_are_kept() -> None:
    """A mailto: link (a newsroom's tip line) is a link a reader can follow.

    Kills: "mailto" taken out of SAFE_SCHEMES (the link was unwrapped to its text)."""
    out = sanitize_html('<p>Tips: <a href="mailto:desk@site.example?subject=Tip">write to us</a></p>', BASE)
    assert out == '<p>Tips: <a href="mailto:desk@site.example?subject=Tip">write to us</a></p>'


def test_a_table_keeps_its_cells_spans() -> None:
    """A results table's spans are its shape: a cell spanning two columns published without its colspan shifts
    every later cell of the row.

    Kills: "colspan" taken out of ALLOWED_ATTRS["td"]."""
    out = sanitize_html('<table><tr><td colspan="2" rowspan="3" class="x">Total</td><th colspan="3" scope="col">'
                        "Votes</th></tr></table>", BASE)
    assert out == ('<table><tr><td colspan="2" rowspan="3">Total</td><th colspan="3" scope="col">Votes</th></tr>'
                   "</table>"), out


@pytest.mark.parametrize(("markup", "want"), [
    ('<time datetime="2020-01-01yesterday">t</time>', "<time>t</time>"),
    ('<time datetime="2020-01-01T10:00:00Z">t</time>', '<time datetime="2020-01-01T10:00:00Z">t</time>'),
    ('<time datetime="12:30 tomorrow">t</time>', "<time>t</time>"),
])
def test_a_date_with_trailing_words_is_no_date(markup: str, want: str) -> None:
    """The whole value must be a date: "2020-01-01yesterday" starts like one, and a machine reader would take it
    for one.

    Kills: ATTR_VALUES["datetime"] ...fullmatch -> ...match."""
    assert sanitize_html(markup, BASE) == want


@pytest.mark.parametrize("value", ["rtlx", "rtl; color:red", "ltr rtl", "automatic"])
def test_a_direction_must_be_exactly_one_of_the_three(value: str) -> None:
    """dir takes ltr, rtl or auto and nothing else (a value starting like one is no direction).

    Kills: GLOBAL_ATTRS["dir"] ...fullmatch -> ...match."""
    assert sanitize_html(f'<p dir="{value}">a</p>', BASE) == "<p>a</p>"
    assert sanitize_html('<p dir="RTL">a</p>', BASE) == '<p dir="rtl">a</p>'


@pytest.mark.parametrize("url", [
    "https://forum.example/feed.php?sid=0123abcd",
    "https://forum.example/feed.php?f=2;SID=0123abcd",
    "https://p.example/feed?format=rss;token=SEKRIT",
    "https://p.example/feed?a=1;b=2;private_key=SEKRIT",
])
def test_a_session_id_or_a_key_after_a_semicolon_is_never_published(url: str) -> None:
    """A phpBB/vBulletin feed's ?sid= is the subscriber's session; ";" separates query parameters as "&" does
    (a key after it is still a key).

    Kills: "^sid$" taken out of _SECRET_PARAM; the query split on "&" only (no ";" -> "&")."""
    assert public_url(url) is None
    assert public_url("https://forum.example/feed.php?f=2;sort=new") == "https://forum.example/feed.php?f=2;sort=new"


@pytest.mark.parametrize("markup", [
    "<html><style>p.x{color:red}</style></html>",
    "<html><style>p.x{color:red}</style><script>alert(1)</script></html>",
])
def test_a_document_the_tree_walk_refuses_publishes_no_style_or_script_text(markup: str) -> None:
    """A whole document without a body (the parser gives no body: "too many bodies") falls back to its text:
    what a style or a script holds is no text of it, and is not published as such.

    Kills: `_text_only`'s `<(script|style)\\b` -> `<(script)\\b` (the CSS published as words)."""
    out = sanitize_html(markup, BASE)
    assert "color" not in out and "alert" not in out, out


def test_list_items_are_words_apart_in_the_text_a_reader_sees() -> None:
    """A list's items are lines: "<li>Kyiv</li><li>Gaza</li>" reads "Kyiv Gaza", not "KyivGaza" (which no
    channel matching "Kyiv" would find, and which an overlong summary's excerpt would publish).

    Kills: "li" taken out of _BREAKS."""
    assert visible_text("<ul><li>Kyiv</li><li>Gaza</li></ul>") == "Kyiv Gaza"
    assert text_excerpt("<ol><li>Kyiv</li><li>Gaza</li></ol>", 600) == "Kyiv Gaza"


def test_a_text_of_exactly_the_limit_is_not_cut() -> None:
    """A headline of exactly the limit fits: it is published whole, with no "…".

    Kills: `len(text) <= limit` -> `len(text) < limit` in cut_text."""
    assert cut_text("Kyiv and Gaza", 13) == "Kyiv and Gaza"
    assert cut_text("Kyiv and Gaza!", 13) == "Kyiv and…"


def test_a_tag_whose_attributes_run_past_the_limit_loses_them_before_parsing() -> None:
    """The guard against a tag of endless attributes (the HTML parser's cost grows with the square of their
    number) applies to any summary longer than the limit, not only to ten times as long: the tag stays, its
    attributes go.

    Kills: `len(markup) > MAX_TAG_ATTRS_CHARS` -> `len(markup) > 10 * MAX_TAG_ATTRS_CHARS` in _cut_long_tags."""
    out = sanitize_html('<p>a<a href="https://x.example/" title="' + "t" * 20_000 + '">l</a></p>', BASE)
    assert out == "<p>a<a>l</a></p>", out[:200]
