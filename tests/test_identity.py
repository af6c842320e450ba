"""Canonical links, normalised titles and identity keys (with hypothesis properties)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from feeds.dedup import (
    _normalise_title_any,
    canonical_link,
    clean_link,
    copy_of_other_source,
    distinct_title,
    fallback_id,
    item_uid,
    keys_for,
    normalise_title,
    relink_key,
    shared_links,
    texts_agree,
)
from feeds.models import Entry


def test_canonical_link_drops_tracking_fragment_case_and_www() -> None:
    a = canonical_link("HTTPS://WWW.Example.com/World/Story?id=7&utm_source=rss&fbclid=abc#comments")
    b = canonical_link("http://example.com:80/World/Story?gclid=1&id=7")
    assert a == b == "example.com/World/Story?id=7"


def test_canonical_link_keeps_meaningful_parameters_and_sorts_them() -> None:
    assert canonical_link("https://e.com/a?b=2&a=1") == canonical_link("https://e.com/a?a=1&b=2")
    assert canonical_link("https://e.com/a?a=1") != canonical_link("https://e.com/a?a=2")
    assert canonical_link("https://e.com:8443/a") == "e.com:8443/a"


def test_canonical_link_rejects_non_http() -> None:
    assert canonical_link("javascript:alert(1)") is None
    assert canonical_link("/relative/path") is None
    assert canonical_link("http://[bad") is None


def test_clean_link_removes_trackers_only() -> None:
    assert clean_link("https://E.com/a?utm_medium=x&q=1#frag") == "https://e.com/a?q=1#frag"


def test_clean_link_keeps_the_rest_of_the_query_as_written() -> None:
    for url in ("https://e.com/index.php?/archives/12-title.html", "https://e.com/news?12345",
                "https://e.com/p?id=1;lang=en", "https://e.com/p?b=2&a=%2F&&c"):
        assert clean_link(url) == url
    assert clean_link("https://e.com/p?b=2&UTM_Source=x&a=%2F") == "https://e.com/p?b=2&a=%2F"
    assert clean_link("https://e.com/p?fbclid=1") == "https://e.com/p"
    assert clean_link("https://e.com/p?utm_source=x;id=1&b=2") == "https://e.com/p?id=1&b=2"  # ";" separates too
    assert clean_link("https://User:PW@E.com/p") == "https://User:PW@e.com/p"  # credentials keep their case


def test_normalise_title() -> None:
    assert normalise_title("  Trump’s  “Big, Beautiful Bill” — PASSES!  ") == "trumps big beautiful bill passes"
    assert normalise_title("Ｆｕｌｌｗｉｄｔｈ") == "fullwidth"
    assert normalise_title("Straße") == normalise_title("STRASSE")


def entry(**kw: object) -> Entry:
    base: dict[str, object] = {"guid": None, "link": None, "title": "T"}
    base.update(kw)
    return Entry(**base)  # type: ignore[arg-type]


def test_id_fallbacks_guid_then_link_then_hash() -> None:
    d = datetime(2025, 7, 4, tzinfo=UTC)
    assert keys_for(entry(guid="abc", link="https://e.com/x"), 3).guid_key == "g:3:abc"
    assert keys_for(entry(link="https://e.com/x"), 3).guid_key == "g:3:https://e.com/x"
    h1 = fallback_id(entry(title="Same", published=d))
    h2 = fallback_id(entry(title="Same", published=d))
    h3 = fallback_id(entry(title="Same", published=datetime(2025, 7, 5, tzinfo=UTC)))
    assert h1 == h2 != h3 and h1.startswith("sha256:")


def test_guid_keys_are_scoped_to_their_source_links_are_not() -> None:
    e = entry(guid="1", link="https://e.com/x?utm_source=a")
    k1, k2 = keys_for(e, 1), keys_for(e, 2)
    assert k1.guid_key != k2.guid_key
    assert k1.link_key == k2.link_key == "l:e.com/x"


def test_shared_links_detects_homepage_links() -> None:
    es = (entry(guid="1", title="A", link="https://e.com/"), entry(guid="2", title="B", link="https://e.com/"),
          entry(guid="3", title="C", link="https://e.com/c"))
    assert shared_links(es) == frozenset({"e.com/"})


def test_item_uid_is_a_stable_urn() -> None:
    assert item_uid("g:1:abc") == item_uid("g:1:abc")
    assert item_uid("g:1:abc") != item_uid("g:2:abc")
    assert item_uid("g:1:abc").startswith("urn:uuid:")


@given(st.text())
def test_normalise_title_is_idempotent(s: str) -> None:
    once = normalise_title(s)
    assert normalise_title(once) == once
    assert once == once.strip() and "  " not in once


@given(st.text())
def test_normalise_title_ignores_case_and_punctuation(s: str) -> None:
    assert normalise_title(s.upper() + "!!") == normalise_title(s.lower()) or normalise_title(s.upper()) != \
        normalise_title(s.lower())  # some scripts change length when case-mapped; then only idempotence holds


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_normalise_title_ascii_fast_path_agrees(s: str) -> None:
    assert normalise_title(s) == _normalise_title_any(s)


hosts = st.from_regex(r"[a-z]{1,10}\.(com|org|example)", fullmatch=True)
paths = st.from_regex(r"(/[A-Za-z0-9_-]{1,8}){0,3}", fullmatch=True)
params = st.lists(st.tuples(st.from_regex(r"[a-z]{1,5}", fullmatch=True),
                            st.from_regex(r"[a-z0-9]{0,5}", fullmatch=True)), max_size=3)


@given(hosts, paths, params, st.sampled_from(["utm_source", "fbclid", "gclid", "utm_campaign"]),
       st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True))
def test_canonical_link_ignores_tracking_and_is_idempotent(host: str, path: str, qs: list[tuple[str, str]],
                                                          tracker: str, tv: str) -> None:
    qs = [(k, v) for k, v in qs if not k.startswith("utm")]
    query = "&".join(f"{k}={v}" for k, v in qs)
    plain = f"https://{host}{path}" + (f"?{query}" if query else "")
    tracked = f"http://WWW.{host.upper()}{path}?" + "&".join([f"{tracker}={tv}", *(f"{k}={v}" for k, v in qs)])
    c = canonical_link(plain)
    assert c is not None
    assert canonical_link(tracked) == c
    assert canonical_link("https://" + c) == c


@given(st.text(min_size=1), st.integers(min_value=1, max_value=10**6))
def test_keys_are_deterministic(guid: str, source: int) -> None:
    e = entry(guid=guid, title=guid)
    assert keys_for(e, source) == keys_for(e, source)
    assert item_uid(keys_for(e, source).guid_key) == item_uid(keys_for(e, source).guid_key)


# -- editions of one page: AMP, mobile hosts, index files, trailing slashes ---------------------------------


def test_canonical_link_amp_editions_are_the_page() -> None:
    page = "theguardian.com/world/2025/jul/04/storm"
    for url in ("https://amp.theguardian.com/world/2025/jul/04/storm",  # AMP host
                "https://www.theguardian.com/world/2025/jul/04/storm/amp",  # last segment
                "https://www.theguardian.com/world/2025/jul/04/storm/amp/",
                "https://theguardian.com/amp/world/2025/jul/04/storm",  # leading segment
                "https://theguardian.com/world/2025/jul/04/storm?amp=1",  # switches in the query
                "https://theguardian.com/world/2025/jul/04/storm?amp",
                "https://theguardian.com/world/2025/jul/04/storm?amp=true",
                "https://theguardian.com/world/2025/jul/04/storm?outputType=amp&utm_source=x"):
        assert canonical_link(url) == page, url
    assert canonical_link("https://www.bbc.co.uk/news/world-123.amp") == "bbc.co.uk/news/world-123"
    assert canonical_link("https://e.com/x.amp.html") == canonical_link("https://e.com/x.html") == "e.com/x.html"
    assert canonical_link("https://e.com/x?amp=1&id=7") == "e.com/x?id=7"  # other parameters stay


def test_canonical_link_mobile_hosts_are_the_site() -> None:
    assert canonical_link("https://m.bbc.co.uk/news/x") == canonical_link("https://bbc.co.uk/news/x") == \
        "bbc.co.uk/news/x"
    assert canonical_link("https://mobile.twitter.com/a/status/1") == "twitter.com/a/status/1"
    assert canonical_link("https://m.www.e.com/x") == canonical_link("https://www.m.e.com/x") == "e.com/x"


def test_canonical_link_index_file_is_its_directory() -> None:
    for name in ("index.html", "index.htm", "index.php", "default.aspx", "Default.aspx", "default.htm",
                 "default.html", "INDEX.HTML"):
        assert canonical_link(f"https://e.com/a/b/{name}") == "e.com/a/b", name
    assert canonical_link("https://e.com/index.html") == canonical_link("https://e.com/") == "e.com/"
    assert canonical_link("https://e.com/index.php?p=12") == canonical_link("https://e.com/?p=12") == "e.com/?p=12"


def test_canonical_link_trailing_slash_is_not_significant_but_the_root_stays() -> None:
    assert canonical_link("https://e.com/2025/07/storm/") == canonical_link("https://e.com/2025/07/storm") == \
        "e.com/2025/07/storm"
    assert canonical_link("https://e.com/a/?q=1") == "e.com/a?q=1"
    assert canonical_link("https://e.com/a//") == "e.com/a"
    assert canonical_link("https://e.com") == canonical_link("https://e.com//") == "e.com/"


def test_canonical_link_keeps_what_is_no_edition_marker() -> None:
    # each URL ends in "/" so that the rules that must not apply are seen not applying where another did
    same = {
        "https://e.com/campaign/amp-stadium/": "e.com/campaign/amp-stadium",  # amp inside a segment
        "https://e.com/x/amp/y/": "e.com/x/amp/y",  # amp inside the path
        "https://e.com/amp/": "e.com/amp",  # never down to the root
        "https://e.com/amp.html/": "e.com/amp.html",  # nothing before .amp
        "https://e.com/x.amp/y/": "e.com/x.amp/y",  # .amp not in the last segment
        "https://e.com/x//amp/": "e.com/x//amp",  # an empty segment before amp
        "https://e.com/x/AMP/": "e.com/x/AMP",  # path segments are compared as written
        "https://e.com/index.html/x/": "e.com/index.html/x",  # an index file inside the path
        "https://e.com/myindex.html/": "e.com/myindex.html",
        "https://e.com/x/?amp=0": "e.com/x?amp=0",  # amp=0 is no AMP switch: kept
        "https://e.com/x/?amp=yes&outputType=html": "e.com/x?amp=yes&outputType=html",
        "https://m.co/x/": "m.co/x",  # one label would be left
        "https://mobile.example/x/": "mobile.example/x",
        "https://m.co.uk/x/": "m.co.uk/x",  # the site "m" under co.uk, not co.uk's mobile edition
        "https://amp.com.au/x/": "amp.com.au/x",
        "https://m.github.io/x/": "m.github.io/x",  # a user's site on a hosting domain
        "https://en.m.wikipedia.org/wiki/X/": "en.m.wikipedia.org/wiki/X",  # m. only as the first label
        "https://mx.e.com/x/": "mx.e.com/x",
        "https://e.com:8080/x/": "e.com:8080/x",
    }
    for url, canon in same.items():
        assert canonical_link(url) == canon, url
        assert canonical_link("https://" + canon) == canon, url


segments = st.from_regex(r"[a-z0-9][a-z0-9-]{0,7}", fullmatch=True).filter(lambda s: s != "amp")
plain_hosts = st.from_regex(r"[a-z]{1,8}\.[a-z]{2,8}\.(com|org|example)", fullmatch=True).filter(
    lambda h: h.split(".")[0] not in ("m", "mobile", "amp", "www"))
plain_links = st.tuples(plain_hosts, st.lists(segments, min_size=1, max_size=4),
                        st.lists(st.tuples(st.sampled_from(["id", "p", "page"]), st.from_regex(r"[0-9]{1,3}",
                                                                                                fullmatch=True)),
                                 max_size=2, unique_by=lambda kv: kv[0]))
EDITIONS = [
    lambda h, p, q: f"https://amp.{h}{p}{q}", lambda h, p, q: f"https://m.{h}{p}{q}",
    lambda h, p, q: f"https://mobile.{h}{p}{q}", lambda h, p, q: f"https://{h}{p}/amp{q}",
    lambda h, p, q: f"https://{h}{p}/amp/{q}", lambda h, p, q: f"https://{h}/amp{p}{q}",
    lambda h, p, q: f"https://{h}{p}.amp{q}", lambda h, p, q: f"https://{h}{p}/{q}",
    lambda h, p, q: f"https://{h}{p}/index.html{q}", lambda h, p, q: f"https://{h}{p}/default.aspx{q}",
    lambda h, p, q: f"https://{h}{p}{q}{'&' if q else '?'}amp=1",
]


@given(plain_links, plain_links, st.lists(st.sampled_from(range(len(EDITIONS))), min_size=1, max_size=3))
def test_canonical_link_editions_are_their_page_and_merge_nothing_else(
        a: tuple[str, list[str], list[tuple[str, str]]], b: tuple[str, list[str], list[tuple[str, str]]],
        which: list[int]) -> None:
    def parts(link: tuple[str, list[str], list[tuple[str, str]]]) -> tuple[str, str, str]:
        host, segs, qs = link
        return host, "/" + "/".join(segs), ("?" + "&".join(f"{k}={v}" for k, v in qs)) if qs else ""

    page = canonical_link("https://{}{}{}".format(*parts(a)))
    assert page is not None
    url = "https://{}{}{}".format(*parts(a))
    for i in which:  # editions of editions: an AMP page on a mobile host, with its index file...
        h, rest = url.removeprefix("https://").split("/", 1)
        p, _, q = ("/" + rest).partition("?")
        url = EDITIONS[i](h, p.rstrip("/") or "", f"?{q}" if q else "")
    assert canonical_link(url) == page, url
    assert canonical_link("https://" + page) == page
    other = canonical_link("https://{}{}{}".format(*parts(b)))
    ha, pa, qa = parts(a)
    hb, pb, qb = parts(b)
    assert (canonical_link(url) == other) == ((ha, pa, sorted(a[2])) == (hb, pb, sorted(b[2])))


def test_relink_key_gives_a_stored_link_key_its_current_form() -> None:
    assert relink_key("l:e.com/a/b/") == "l:e.com/a/b"
    assert relink_key("l:m.e.com/x/amp") == "l:e.com/x"
    assert relink_key("l:e.com/x?amp=1&id=2") == "l:e.com/x?id=2"
    assert relink_key("l:e.com:80/x/") == "l:e.com:80/x"  # an https URL on port 80 (http's 80 was dropped)
    assert relink_key("l:e.com:443/x/") == "l:e.com:443/x"
    assert relink_key("l:[::1]:8080/x/index.html") == "l:[::1]:8080/x"
    assert relink_key("g:1:https://e.com/x/") is None  # an id key is no link key


@given(st.sampled_from(["http", "https"]), st.sampled_from(["", "m.", "amp."]), hosts,
       st.sampled_from([None, 80, 443, 8080]), paths,
       st.sampled_from(["", "/", "/amp", "/index.html", ".amp"]), params)
def test_relink_key_of_an_earlier_form_is_the_current_key(scheme: str, edition: str, host: str, port: int | None,
                                                          path: str, tail: str,
                                                          qs: list[tuple[str, str]]) -> None:
    query = "&".join(f"{k}={v}" for k, v in sorted(qs))
    rest = (path + tail if path or tail != ".amp" else "/") + (f"?{query}" if query else "")
    netloc = edition + host + (f":{port}" if port else "")
    # the link as canonical links 1 wrote it: the host lower-cased, without www. or its scheme's default port
    port_part = f":{port}" if port and port != {"http": 80, "https": 443}[scheme] else ""
    earlier = edition + host + port_part + (rest if rest.startswith("/") else "/" + rest)
    current = relink_key(f"l:{earlier}")
    assert current == f"l:{canonical_link(f'{scheme}://{netloc}{rest}')}"
    if path:  # an edition's key is its page's
        assert current == relink_key(f"l:{host}{port_part}{path}" + (f"?{query}" if query else ""))


_texts = st.lists(st.sampled_from([*"abc de<>&;p/", "storm", " the ", "&amp;", "<p>", "</p>"]),
                  max_size=30).map("".join)


@given(_texts, _texts, _texts, _texts)
def test_texts_agree_is_symmetric_and_a_text_agrees_with_itself(s1: str, c1: str, s2: str, c2: str) -> None:
    a, b = (s1, c1), (s2, c2)
    assert texts_agree(a, b) == texts_agree(b, a)
    assert copy_of_other_source("morning briefing", a, b) == copy_of_other_source("morning briefing", b, a)
    if "storm" in (s1 or c1).replace("<p>", " ").replace("</p>", " ") and "<" not in (s1 or c1).replace(
            "<p>", "").replace("</p>", ""):
        assert texts_agree(a, a)  # a text with a word in it tells itself


@given(st.lists(st.sampled_from(["the", "morning", "briefing", "26", "november", "of", "a", "letters"]), max_size=8))
def test_a_title_of_generic_words_names_no_post(words: list[str]) -> None:
    assert not distinct_title(" ".join(words))
    assert distinct_title(" ".join([*words, "harbour", "crane", "collapse"]))


def test_texts_agree_reads_words_not_markup() -> None:
    lede = "The central bank held its rate at 4.5 per cent on Thursday"
    assert texts_agree((f"<p>{lede}, as expected.</p>", ""), ("", f"{lede} &amp; signalled cuts"))
    assert not texts_agree(("France votes on pensions", ""), ("Storm warning for the coast", ""))
    assert not texts_agree(("", ""), ("", ""))  # nothing said: the title decides


def test_a_cjk_title_counts_its_characters_not_its_spaces() -> None:
    # a Chinese or Japanese headline is one "word" to split(): its characters count (hiragana aside)
    assert distinct_title(normalise_title("日本央行宣布加息"))
    assert distinct_title(normalise_title("日本銀行が金利を引き上げ"))
    assert distinct_title(normalise_title("東京 harbour crane collapse"))
    # a column's name is still the kind of post: "daily news digest", "news roundup" (katakana + hiragana)
    assert not distinct_title(normalise_title("每日新闻摘要"))
    assert not distinct_title(normalise_title("ニュースまとめ"))
    assert not distinct_title(normalise_title("今日のニュースまとめ"))  # six characters besides its hiragana
    assert not distinct_title(normalise_title("東京都 morning briefing"))
    # Korean is spaced, but a syllable holds two or three letters: a two-syllable word is a word
    assert distinct_title(normalise_title("서울 시장 선거 결과"))  # Seoul mayoral election results
    assert not distinct_title(normalise_title("오늘의 주요 뉴스"))  # today's main news
    assert not distinct_title(normalise_title("아침 뉴스 브리핑"))  # morning news briefing


def test_cjk_texts_agree_by_their_pieces() -> None:
    # a wire story's two teasers: before, each clause up to a comma was one "word" and they shared one
    a = ("日本銀行は31日、金融政策決定会合で政策金利を引き上げることを決めた。", "")
    b = ("<p>日本銀行は31日、政策金利を0.5%に引き上げることを決めた。</p>", "")
    assert texts_agree(a, b)
    assert not texts_agree(a, ("東京株式市場で日経平均株価は大幅に下落した。", ""))
    # the lede is the first TEXT_WORDS pieces: what follows them says nothing
    tail = "".join(chr(0x4E00 + i) for i in range(200))
    assert texts_agree((a[0] + tail, ""), (a[0] + tail[::-1], ""))
