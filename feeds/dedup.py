"""Identity of items: canonical links, normalised titles and the keys that make a re-post one item.

Pure: no I/O and no clock; callers pass `now` where time matters.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, quote, unquote_plus, urlencode, urlsplit, urlunsplit

from feeds.models import Entry

# Query parameters that only track the reader and never select content.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_ga", "_gl",
    "twclid", "li_fat_id", "wt.mc_id", "wt_mc_id", "cmpid", "ocid", "ncid", "sr_share", "at_medium",
    "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4", "rss", "ref_src", "ito", "spm",
    "__twitter_impression", "s_cid", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "hsctatracking", "cmp",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "__hs", "_hs")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The rules canonical_link follows, by version: link keys (l:<canonical link>) stored under another are
# rewritten once (feeds.run, Pipeline._follow_link_form). 1: host, port, www., fragment, tracking
# parameters, sorted query. 2: also mobile and AMP editions, index files and trailing slashes. 3: a query's
# bytes kept as they are (not UTF-8 ones had all become U+FFFD), a hash-bang or router fragment kept (#!/x,
# #/x: it names the page), percent escapes in one form (unreserved characters decoded, hex upper-cased, an
# IRI's non-ASCII path UTF-8 escaped), an IDNA host in Unicode, and the `CMP` tracker.
LINK_FORM = "3"
# The rules stored title keys (items.title_key: normalise_title of the item's title) were made under: a store
# that records none (from before this) has its keys made again from the stored titles once (feeds.run,
# Pipeline._follow_title_form). A feeds before the edit of an item rewrote its title key kept the old title's
# key with the corrected title, and the next read of that item took the key's difference for a new correction.
TITLE_FORM = "1"
ITEM_NS = uuid.UUID("6f1bd6c2-4a58-4c1e-9a33-0e6f0c0a5b10")


def _is_tracking(name: str) -> bool:
    n = name.lower()
    return n in TRACKING_PARAMS or n.startswith(TRACKING_PREFIXES)


# The switches that ask for a page's AMP edition (name, value; compared lower-cased). ``amp`` with any other
# value (``amp=0``, ``amp=5``) is kept: it is no AMP convention, and a parameter that may select content
# must not be dropped.
_AMP_SWITCHES = frozenset({("amp", ""), ("amp", "1"), ("amp", "true"), ("outputtype", "amp")})
# First host labels that name the mobile or AMP edition of the site the rest names (m.bbc.co.uk: bbc.co.uk).
_EDITION_HOSTS = ("m.", "mobile.", "amp.")
# Second-level labels of country domains (co.uk, com.au) and common hosting domains: under them the next
# label is somebody's own site, not an edition (m.github.io is the site of a user "m", not github.io's).
_SHARED_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "go", "gob", "gov", "int", "ltd", "mil", "ne",
                                  "net", "nic", "nom", "or", "org", "plc", "sch"})
_SHARED_HOSTS = frozenset({
    "github.io", "gitlab.io", "blogspot.com", "wordpress.com", "medium.com", "substack.com", "tumblr.com",
    "netlify.app", "vercel.app", "pages.dev", "workers.dev", "web.app", "firebaseapp.com", "appspot.com",
    "herokuapp.com", "azurewebsites.net", "cloudfront.net", "readthedocs.io", "neocities.org", "glitch.me",
    "wixsite.com", "weebly.com", "livejournal.com", "typepad.com", "bearblog.dev", "micro.blog",
})
# Last path segments a server answers for their directory (/a/b/index.html is /a/b); compared lower-cased.
_INDEX_FILES = frozenset({"index.html", "index.htm", "index.php", "default.aspx", "default.htm", "default.html"})
_INDEX_ENDINGS = tuple(sorted(_INDEX_FILES))
_INDEX_TAIL = max(map(len, _INDEX_FILES))
_AMP_SUFFIX = re.compile(r"\.amp(\.[A-Za-z0-9]+)?$")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# What a path keeps unescaped when its non-ASCII characters are escaped (RFC 3987 3.1): the path's own
# delimiters and escapes; a space or a quote becomes its escape, as a browser sends it.
_PATH_SAFE = "/:@!$&'()*+,;=%"
_PATH_UNSAFE = re.compile(r'[^\x21-\x7e]|["<>\\^`{|}]')  # what a URI's path may not hold as written


def _escape(m: re.Match[str]) -> str:
    ch = chr(int(m.group(1), 16))
    return ch if ch in _UNRESERVED else f"%{m.group(1).upper()}"


def _path_form(path: str) -> str:
    """A path's escapes in one form (RFC 3986 6.2.2): non-ASCII characters (and spaces, quotes) UTF-8
    escaped (an IRI and the URI a server gives for it are one page), unreserved characters unescaped (%7E
    is ~), hex digits upper-case."""
    if _PATH_UNSAFE.search(path):
        path = quote(path, safe=_PATH_SAFE, errors="surrogateescape")
    return _PERCENT.sub(_escape, path) if "%" in path else path


def _unicode_host(host: str) -> str:
    """A host's IDNA labels (xn--) in Unicode, so that bücher.example and xn--bcher-kva.example are one
    host. A label whose decoding is no IDNA label stays as written: one that does not decode, or decodes to
    ASCII, a surrogate or a control character (xn--x-qc4g is "\ud800x": no store could write it; a joiner,
    as Persian names have, is kept), or that does not encode back to itself (xn--abc- would be "abc")."""
    labels = host.split(".")
    for n, label in enumerate(labels):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError, ValueError):
                text = label[4:].encode("ascii").decode("punycode").lower()
                if (text and not text.isascii()
                        and not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)
                        and "xn--" + text.encode("punycode").decode("ascii") == label):
                    labels[n] = text
    return ".".join(labels)


def _edition_host(host: str) -> str:
    """The host without first labels m., mobile., amp. (and a www. they uncover), while at least two
    labels remain and they are not a domain whose sites are other people's (m.co.uk, m.github.io stay)."""
    while True:
        if host.startswith("www."):
            host = host[4:]
            continue
        if not host.startswith(_EDITION_HOSTS):
            return host
        rest = host.partition(".")[2]
        head, dot, tld = rest.partition(".")
        if not dot or rest in _SHARED_HOSTS or (head in _SHARED_SECOND_LEVEL and len(tld) == 2):
            return host
        host = rest


def _site_path(path: str) -> str:
    """The path without trailing slashes (/a/b/ is /a/b; the root stays /), without its directory's index
    file (/a/b/index.html is /a/b) and without AMP markers, until none is left: a last segment ``amp``
    (/x/amp, /x/amp/), a leading one (/amp/x), ``.amp`` before the extension or at the end (/x.amp.html,
    /x.amp). An AMP marker never leaves the root (/amp stays), and ``amp`` inside the path (/x/amp/y) or
    inside a segment (/campaign/amp-stadium) is no marker. Segments are compared as written (paths are
    case-sensitive), index files in any case (default.aspx is Default.aspx on the servers that use it)."""
    while True:
        path = path.rstrip("/")
        if not path:
            return "/"
        head, _, last = path.rpartition("/")
        if last.lower() in _INDEX_FILES or (last == "amp" and head and not head.endswith("/")):  # /x/amp
            path = head
        elif (m := _AMP_SUFFIX.search(last)) and m.start() > 0:  # /x.amp, /x.amp.html
            path = f"{head}/{last[:m.start()]}{m.group(1) or ''}"
        elif path.startswith("/amp/") and len(path) > 5:  # /amp/x
            path = path[4:]
        else:
            return path


@functools.lru_cache(maxsize=8192)
def canonical_link(url: str) -> str | None:
    """A comparable form of an article URL, or None if it is not an absolute http(s) URL.

    Lower-cased scheme and host (IDNA labels in Unicode), no default port, no `www.`, no fragment (but a
    hash-bang or route: ``#!x``, ``#/x``), no tracking parameters, remaining parameters sorted, percent escapes
    in one form, and http/https treated alike (the key drops the scheme). The mobile and
    AMP editions of a page are the page: no first host label ``m.``, ``mobile.`` or ``amp.`` (see
    _edition_host), no AMP marker in the path (see _site_path) or the query (_AMP_SWITCHES). A
    directory's index file is the directory, and no trailing slash: ``/a/b/``, ``/a/b/index.html`` and
    ``/a/b`` are one page (the root stays ``/``).
    """
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not host:
        return None
    if "xn--" in host:
        host = _unicode_host(host)
    if host.startswith("www."):
        host = host[4:]
    if host.startswith(_EDITION_HOSTS):
        host = _edition_host(host)
    if ":" in host:  # an IPv6 literal keeps its brackets, or the key would not read back as a URL
        host = f"[{host}]"
    if port and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    try:
        key = _canonical_rest(parts, host)
        if not key.isascii():
            key.encode("utf-8")  # a lone surrogate (in a host): no store can write it
        return key
    except UnicodeError:  # a lone surrogate that no escape can write (parsing drops them from feeds' text)
        return None


def _canonical_rest(parts: SplitResult, host: str) -> str:
    query = ""
    if parts.query:
        # surrogateescape both ways: escaped bytes that are not UTF-8 (a Latin-1 or EUC-JP query) stay
        # those bytes, where the default would make every such query U+FFFD
        query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True,
                                                              errors="surrogateescape")
                                 if not _is_tracking(k) and (k.lower(), v.lower()) not in _AMP_SWITCHES),
                          errors="surrogateescape")
    path = parts.path or "/"
    if "%" in path or _PATH_UNSAFE.search(path):
        path = _path_form(path)
    # _site_path only where it may change something (a cheap test; "amp" in "example" is a false alarm)
    if (path[-1] == "/" and path != "/") or "amp" in path or path[-_INDEX_TAIL:].lower().endswith(_INDEX_ENDINGS):
        path = _site_path(path)
    # a fragment is where the reader is on the page, unless it names the page: a hash-bang (#!topic/x) or a
    # client-side route (#/post/1) of a page whose articles all have one URL before the #
    frag = parts.fragment if parts.fragment[:1] in ("!", "/") and len(parts.fragment) > 1 else ""
    return urlunsplit(("", host, path, query, frag)).lstrip("/")


def relink_key(key: str) -> str | None:
    """A stored link key (``l:`` and a canonical link made under earlier rules) in the current form, or None
    for a key that is not one. Such a link lacks its scheme: a port 80 in it was an https URL's (http's
    default port was dropped), any other link reads the same under either scheme."""
    if not key.startswith("l:"):
        return None
    link = key[2:]
    scheme = "https" if link.partition("/")[0].endswith(":80") else "http"
    canon = canonical_link(f"{scheme}://{link}")
    return f"l:{canon}" if canon else None


def clean_link(url: str) -> str:
    """The published form of a link: the original minus its tracking parameters. The rest of the query
    is kept as written (``?12345``, ``?/archives/12``, ``?id=1;lang=en`` are addresses, not key=value
    lists to re-encode); only the ``&``-separated pieces whose name is a tracker are taken out."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https"):
        return url
    query = parts.query
    if query:
        def tracker(piece: str) -> bool:
            return bool(piece) and _is_tracking(unquote_plus(piece.partition("=")[0]))

        pieces = [p.split(";") for p in query.split("&")]  # ";" separates parameters too (old CGI style)
        if any(tracker(sub) for p in pieces for sub in p):
            query = "&".join(x for x in (";".join(sub for sub in p if not tracker(sub)) for p in pieces) if x)
    userinfo, at, host = parts.netloc.rpartition("@")  # the host is case-insensitive, credentials are not
    return urlunsplit((parts.scheme.lower(), userinfo + at + host.lower(), parts.path or "/", query,
                       parts.fragment))


_PUNCT_CATEGORIES = ("P", "S")
# ASCII fast path of normalise_title: the same mapping, as one table (an ASCII character's category
# never changes): punctuation, symbols and controls become spaces, the apostrophe disappears.
_ASCII_TITLE = str.maketrans({chr(c): ("" if chr(c) == "'" else " ") for c in range(128)
                              if unicodedata.category(chr(c))[0] in ("P", "S", "C")})


def normalise_title(title: str) -> str:
    """NFKC, case-folded, punctuation, symbols and quotes removed, whitespace collapsed."""
    if title.isascii():  # NFKC leaves ASCII as it is
        return " ".join(title.lower().translate(_ASCII_TITLE).split())
    return _normalise_title_any(title)


def _normalise_title_any(title: str) -> str:
    """normalise_title for any text, character by character."""
    text = unicodedata.normalize("NFKC", title).casefold()
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in _PUNCT_CATEGORIES or cat[0] == "C":
            # keep apostrophes inside words from gluing words together: drop them entirely
            out.append("" if ch in "'\u2019\u02bc" else " ")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


# Words that say nothing of which post a title is: function words and what a recurring post is called
# ("Morning Briefing", "Weeknotes", "Open thread", "Letters to the editor, Monday"; and Korean's, which counts
# two-syllable words: 오늘의 주요 뉴스, "today's main news"). A title with fewer than
# DISTINCT_TITLE_WORDS other words is generic: two outlets may both use it for different posts.
_GENERIC_TITLE_WORDS = frozenset("""
the and for with from that this are was were has have had not but you your our its his her their they them
what when where why how who all any can will into over after about than then there here also just more most
new news today daily weekly monthly tonight morning evening night edition episode podcast live update updates
digest roundup round links link notes weeknotes week weekend open thread letters letter editor editors
briefing brief newsletter review recap highlights summary part post first hello world welcome about contact
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december
뉴스 오늘 오늘의 속보 주요 브리핑 주간 일간 아침 저녁 모닝 레터 뉴스레터 요약 정리
소식 업데이트 라이브 종합 헤드라인 이번주 주말
""".split())  # noqa: SIM905 - a word list reads best as words
DISTINCT_TITLE_WORDS = 3
# Scripts written without spaces between words (Chinese, Japanese): their titles are one "word" to split().
# A title counts their characters instead, hiragana aside (particles and endings, no name): CJK_CHARS_PER_3_WORDS
# of them count as DISTINCT_TITLE_WORDS words (a Chinese word is about two characters; eight leave out a column's
# name like 每日新闻摘要, "daily news digest", and keep a headline, mostly 10 to 25 characters).
CJK_CHARS_PER_3_WORDS = 8
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]+")
_HIRAGANA = re.compile(r"[\u3040-\u309f]")
_HANGUL = re.compile(r"[\uac00-\ud7a3]+")
# How much two reports' texts must share to be one post told twice: the share of their first TEXT_WORDS
# words (as sets) that they have in common (Jaccard). A wire story's copies carry the same lede; two
# outlets' "Morning Briefing" posts do not.
TEXT_WORDS = 40
TEXT_AGREEMENT = 0.5
_TAG_RE = re.compile(r"<[^>]*>")
_WORD_RE = re.compile(r"\w+")


def distinct_title(title_key: str) -> bool:
    """Whether a normalised title (`normalise_title`) names one post rather than a kind of post: at least
    DISTINCT_TITLE_WORDS words of three letters or more that are neither numbers nor generic words."""
    n = 0  # words x CJK_CHARS_PER_3_WORDS, CJK characters x DISTINCT_TITLE_WORDS
    bar = DISTINCT_TITLE_WORDS * CJK_CHARS_PER_3_WORDS
    for w in title_key.split() if title_key.isascii() else _unspaced(title_key.split()):
        if w[0] == "\0":  # a CJK run: its characters but hiragana
            n += (len(w) - 1 - len(_HIRAGANA.findall(w))) * DISTINCT_TITLE_WORDS
        elif (len(w) >= 3 or (len(w) == 2 and _HANGUL.fullmatch(w))) and not w.isdigit() \
                and w not in _GENERIC_TITLE_WORDS:  # (a Korean syllable is two or three letters: 서울 is a word)
            n += CJK_CHARS_PER_3_WORDS
        if n >= bar:
            return True
    return False


def _unspaced(words: list[str]) -> list[str]:
    """Words with their CJK runs apart, each marked with a leading NUL; the letters around them as words."""
    out: list[str] = []
    for w in words:
        last = 0
        for m in _CJK_RUN.finditer(w):
            if m.start() > last:
                out.append(w[last:m.start()])
            out.append("\0" + m.group())
            last = m.end()
        if last < len(w):
            out.append(w[last:])
    return out


def _words(text: str, limit: int | None = None) -> list[str]:
    """The words of a sanitised HTML text, lower-cased (tags and entities read loosely), the first ``limit``."""
    import html

    if "<" in text:
        text = _TAG_RE.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    words: list[str] = []
    cjk = not text.isascii() and _CJK_RUN.search(text) is not None
    for m in _WORD_RE.finditer(text.lower()):
        if cjk and _CJK_RUN.search(m.group()):  # written without spaces: its two-character pieces are its words
            for w in _unspaced([m.group()]):
                if w[0] == "\0":
                    run = w[1:]
                    words += [run] if len(run) == 1 else [run[k:k + 2] for k in range(len(run) - 1)]
                else:
                    words.append(w)
        else:
            words.append(m.group())
        if limit is not None and len(words) >= limit:
            return words[:limit]
    return words


def _lede_words(text: str) -> set[str]:
    """The first TEXT_WORDS words of a sanitised HTML text, lower-cased (tags and entities read loosely:
    only the words matter)."""
    return set(_words(text, TEXT_WORDS))


def texts_agree(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether two reports' (summary, content) tell the same text: their ledes (the summary, or the
    content when there is none) share at least TEXT_AGREEMENT of their words. An empty text agrees with
    nothing: it says nothing either way."""
    wa, wb = _lede_words(a[0] or a[1]), _lede_words(b[0] or b[1])
    if not wa or not wb:
        return False
    return len(wa & wb) >= TEXT_AGREEMENT * len(wa | wb)


def texts_agree_but_numbers(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """`texts_agree` with numbers set aside: one post's text as its feed rewrites it on every fetch ("12 points,
    3 comments", "1,234 views") agrees with itself; two texts of numbers only agree; an empty one with an
    empty one only."""
    wa = {w for w in _lede_words(a[0] or a[1]) if not w.isdigit()}
    wb = {w for w in _lede_words(b[0] or b[1]) if not w.isdigit()}
    if not wa or not wb:
        return not wa and not wb and bool(a[0] or a[1]) == bool(b[0] or b[1])
    return len(wa & wb) >= TEXT_AGREEMENT * len(wa | wb)


def copy_of_other_source(title_key: str, a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether another source's report with the same normalised title (within the title window) is a copy
    of this one (a syndicated or re-posted story): its title names one post (`distinct_title`), or its text
    agrees (`texts_agree`). Two outlets' "Morning Briefing" or "Weeknotes" with their own texts are two
    posts; a wire headline is one story however its teaser was cut."""
    return distinct_title(title_key) or texts_agree(a, b)


@dataclass(frozen=True, slots=True)
class Keys:
    """The ways an incoming entry may already be known."""

    guid_key: str  # source-scoped id key: g:<source>:<guid or fallback>
    link_key: str | None  # l:<canonical link>, shared across sources
    title_key: str | None  # normalised title; matched only within the time window
    # an untitled entry's fallback id key without its words (the form before them): the note stored under it,
    # if its text agrees (numbers aside), is this one -- stored by an earlier version, or this note with a
    # counter or a correction in its text
    legacy_key: str | None = None

    def exact(self) -> tuple[str, ...]:
        return (self.guid_key,) if self.link_key is None else (self.guid_key, self.link_key)


def _hashes_words(entry: Entry) -> bool:
    """Whether an entry's fallback id hashes its words: untitled, and no time of day -- a date of the day alone
    is midnight in its own zone, which in UTC is a whole quarter of an hour (+05:30, +05:45 too)."""
    published = entry.published
    return not entry.title and (published is None or (published.minute % 15 == 0 and not published.second))


def fallback_id(entry: Entry, *, use_link: bool = True, words: bool = True) -> str:
    """An id for an entry without one: its link without tracking parameters (a link whose `utm_*` change
    on every fetch is still one item), else (no link, or a link the document's entries share, which
    identifies nothing) a hash of title + date, and of its text when it has neither a title nor a time of day
    (a feed of untitled notes, undated or dated by the day -- any whole quarter of an hour, as a day in another
    zone is: the text is all that tells one note from another; a note dated otherwise keeps the id it always
    had, so its text can be corrected)."""
    if entry.link and use_link:
        return clean_link(entry.link)
    stamp = entry.published.isoformat() if entry.published else ""
    ident = f"{entry.title}\x00{stamp}"
    if words and _hashes_words(entry):
        # its words, not its markup: how a later version cleans HTML must not change it
        ident = f"{ident}\x00{' '.join(_words(entry.summary or entry.content))}"
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"sha256:{digest}"


def keys_for(entry: Entry, source_id: int, *, use_link: bool = True) -> Keys:
    guid = (entry.guid or "").strip() or fallback_id(entry, use_link=use_link)
    legacy = None
    if guid.startswith("sha256:") and _hashes_words(entry) and not (entry.guid or "").strip():
        legacy = f"g:{source_id}:{fallback_id(entry, use_link=use_link, words=False)}"
    link_key = None
    if use_link and entry.link:
        canon = canonical_link(entry.link)
        link_key = f"l:{canon}" if canon else None
    title = normalise_title(entry.title)
    return Keys(guid_key=f"g:{source_id}:{guid}", link_key=link_key, title_key=title or None, legacy_key=legacy)


def item_uid(first_key: str) -> str:
    """The Atom entry id of an item: stable for ever, derived from the key it was first stored under."""
    return f"urn:uuid:{uuid.uuid5(ITEM_NS, first_key)}"


def content_hash(entry: Entry) -> str:
    """Changes when what a reader sees of the entry changes (an edit)."""
    h = hashlib.blake2b(digest_size=12)
    for part in (entry.title, entry.summary, entry.content, entry.link or "", entry.author, *entry.categories):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    if entry.enclosures or entry.image:  # its media files (a podcast moving its episodes to another host);
        # only when it has some, so an entry without media keeps the hash it was stored with
        h.update(b"\x01media")
        for x in entry.enclosures:
            h.update(f"{x.url}\x00{x.type}\x00{x.length}\x00".encode("utf-8", "surrogatepass"))
        h.update((entry.image or "").encode("utf-8", "surrogatepass"))
    return h.hexdigest()


_SPACE_RE = re.compile(r"\s+")


def shared_links(entries: tuple[Entry, ...], site: str | None = None) -> frozenset[str]:
    """Links that several distinct entries of one document share (a feed pointing every item at its
    home page), and the document's own site link (``site``: a one-item feed pointing its item at its home
    page): such links identify nothing and must not merge items."""
    seen: dict[str, str] = {}
    shared: set[str] = set()
    if site and (home := canonical_link(site)):
        shared.add(home)
    for e in entries:
        if not e.link:
            continue
        canon = canonical_link(e.link) or e.link
        ident = e.guid or normalise_title(e.title)
        if canon in seen and seen[canon] != ident:
            shared.add(canon)
        seen.setdefault(canon, ident)
    return frozenset(shared)


# Feed-level dates that change on every rebuild of a feed while nothing else does: the channel's
# lastBuildDate / pubDate (RSS), the feed's <updated> (Atom), dc:date. Only the part of the document
# before the first item / entry is searched, so an item's own dates always count.
_FIRST_ENTRY = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
_FEED_DATE = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?(?:lastBuildDate|pubDate|updated|date))(?:\s[^>]*)?>[^<]*</\1\s*>")
_HEAD_SCAN = 65536


def body_hash(body: bytes) -> str:
    """Hash of a feed document with its feed-level dates masked: a feed that only says it was rebuilt
    hashes the same, so it is not parsed again. Any other change (an item, a title) changes the hash."""
    m = _FIRST_ENTRY.search(body, 0, _HEAD_SCAN)
    end = m.start() if m else min(len(body), _HEAD_SCAN)
    # SHA-256 (128 bits of it): with the CPU's SHA extensions 2.5x faster than blake2b here, and the
    # whole body of every fetched feed goes through it (a changed scheme reparses each source once)
    h = hashlib.sha256(b"feeds-body-v3\n")
    h.update(_FEED_DATE.sub(b"", body[:end]))
    h.update(body[end:])
    return h.hexdigest()[:32]
