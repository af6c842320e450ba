"""Feed bytes -> ParsedFeed. feedparser is the reference parser; it never sees the network."""

from __future__ import annotations

import calendar
import codecs
import contextlib
import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from feeds.models import Enclosure, Entry, ParsedFeed
from feeds.sanitize import public_url, safe_url
from feeds.schedule import ttl_from_feed

_WS_RE = re.compile(r"\s+")
# Characters that are not allowed in XML 1.0 documents (we publish XML): C0 controls but tab/LF/CR,
# plus lone surrogates and the two non-characters.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# A numeric character reference to a code point no string can hold (a surrogate, or past U+10FFFF) makes
# feedparser's loose parser raise, which would lose the whole document for one bad reference.
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")


def _drop_impossible_charrefs(data: bytes) -> bytes:
    def repl(m: re.Match[bytes]) -> bytes:
        digits = (m.group(1) or m.group(2)).lstrip(b"0")
        if len(digits) > 8:
            return b""
        value = int(digits or b"0", 16 if m.group(1) else 10)
        return b"" if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else m.group(0)

    return _CHARREF.sub(repl, data) if b"&#" in data else data


# -- authors ------------------------------------------------------------------------------------------
MAX_AUTHORS = 10  # names kept per entry
MAX_AUTHOR_CHARS = 200  # of one name

# An e-mail address standing where a name should ("Caleb (noreply@blogger.com)", "hello@example.co.uk (Simone
# Silvestroni)", "Dana <dana@example.org>", "mailto:dana@example.org"): never published (most are noreply
# addresses or personal ones). A handle ("@dana") or "Team@Home" has no dotted domain: a name.
_EMAIL = re.compile(r"(?:mailto:)?[^\s@()<>\[\]{},;:\"]+@[^\s@()<>\[\]{},;:\"'.]+(?:\.[^\s@()<>\[\]{},;:\"'.]+)+",
                    re.IGNORECASE)
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|<\s*>|\[\s*\]|\{\s*\}")
_WRAPPED = ("()", "<>", "[]", "{}")


_MAILTO = re.compile(r"(?i)\bmailto:\S*")
_DANGLING = re.compile(r"(?:[\s,;:|/&+\u2013\u2014-]|\s(?:and|und|et|y|e|i)$)+$", re.IGNORECASE)
_UNMATCHED_END = re.compile(r"\s*[(<\[]\s*$|^\s*[)>\]]\s*")


def author_name(value: str) -> str:
    """A person's name as feeds publishes it: plain text without e-mail addresses ("Caleb
    (noreply@blogger.com)" and "hello@example.co.uk (Simone Silvestroni)" are "Caleb" and "Simone
    Silvestroni"); "" when nothing of a name is left (an address alone, punctuation). At most
    MAX_AUTHOR_CHARS characters: a longer one (a paper's list of forty authors) is cut at a space, without the
    separator left dangling ("Benkova, E.," or "Smith and"), and "…" says names were left out (a single word
    of that length is only cut)."""
    text = clean_text(value)
    if "@" in text or ":" in text:
        text = _MAILTO.sub(" ", text)  # "mailto:" left by an address taken out ("mailto:x@y" as a name)
        text = clean_text(_EMPTY_BRACKETS.sub(" ", _EMAIL.sub(" ", text))).strip(" ,;:|/-\u2013\u2014")
        while len(text) >= 2 and text[0] + text[-1] in _WRAPPED:
            text = text[1:-1].strip()
    if "(" in text or "<" in text or "[" in text or ")" in text or ">" in text or "]" in text:
        text = _UNMATCHED_END.sub("", text).strip(" ,;:|/-\u2013\u2014")  # feedparser's "Bob and Ann ("
    if not any(ch.isalnum() for ch in text):
        return ""
    if len(text) > MAX_AUTHOR_CHARS:
        # the names cut off: "Solano, R., Ecker, J. R." is "Solano, R.…", never "Solano, R.,"; one endless word
        # has no names to mark as left out
        cut = text[:MAX_AUTHOR_CHARS - 1]
        text = _DANGLING.sub("", cut.rsplit(" ", 1)[0]) + "\u2026" if " " in cut else text[:MAX_AUTHOR_CHARS]
    return text


def author_names(names: Iterable[object]) -> tuple[str, ...]:
    """The names to publish of these authors (in order, each once, at most MAX_AUTHORS): see author_name."""
    out: list[str] = []
    for raw in names:
        name = author_name(raw) if isinstance(raw, str) else ""
        if name and name not in out:
            out.append(name)
            if len(out) == MAX_AUTHORS:
                break
    return tuple(out)


# feedparser reads at most four letters of an address's top-level domain ("editor@pod.example" as
# "editor@pod.exam"): the rest stays in the name it makes of an author string, "ple (Pat Editor" of
# "editor@pod.example (Pat Editor)", "Pat Editor (ple" of "Pat Editor (editor@pod.example)", "Pat <ple>" of
# "Pat <editor@pod.example>". Such a name is mended when its address ends in four letters.
_CUT_ADDRESS = re.compile(r"@[^@]*\.[A-Za-z]{4}$")
_TAIL_BEFORE = re.compile(r"[A-Za-z]+ *\(([^()]*)")
_TAIL_AFTER = re.compile(r"([^()]*?) *\([A-Za-z]+")
_TAIL_ANGLE = re.compile(r" *<[A-Za-z]+>")


def person_names(people: Iterable[tuple[object, object]]) -> tuple[str, ...]:
    """author_names of (name, e-mail address) pairs as feedparser gives them, a name feedparser cut from an
    address it read short mended first (see _CUT_ADDRESS). Entities in a name are decoded, as in a title:
    feedparser's loose parser (an ill-formed document) gives "Eve &lt;i&gt;" for ``Eve &amp;lt;i&amp;gt;``'s
    text "Eve <i>", which published as "Eve &amp;lt;i&amp;gt;"; the fast path reads what its strict parser
    does, and the same decoding keeps the two paths alike."""
    names: list[object] = []
    for name, email in people:
        if isinstance(name, str) and "&" in name:  # plain text, as titles are (see plain_text)
            name = _decode_references(name)
        if isinstance(name, str) and isinstance(email, str) and _CUT_ADDRESS.search(email):
            m = _TAIL_BEFORE.fullmatch(name) or _TAIL_AFTER.fullmatch(name)
            name = m.group(1) if m else _TAIL_ANGLE.sub("", name)
        names.append(name)
    return author_names(names)


# -- enclosures and thumbnails -----------------------------------------------------------------------------
MAX_ENCLOSURES = 5  # media files kept per entry: a hostile or careless feed cannot bloat every document
MAX_MEDIA_URL = 2048  # characters of a media URL (longer: dropped)
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
# media types by a URL's file extension, for a file whose feed names none (or names text/html, what feedparser
# gives an Atom link without a type): a small fixed table, the same on every machine (mimetypes reads the
# system's files)
_BY_EXTENSION = {
    "mp3": "audio/mpeg", "m4a": "audio/mp4", "aac": "audio/aac", "oga": "audio/ogg", "ogg": "audio/ogg",
    "opus": "audio/ogg", "flac": "audio/flac", "wav": "audio/wav", "mp4": "video/mp4", "m4v": "video/mp4",
    "mov": "video/quicktime", "webm": "video/webm", "ogv": "video/ogg", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "png": "image/png", "gif": "image/gif", "webp": "image/webp", "avif": "image/avif", "pdf": "application/pdf",
    "epub": "application/epub+zip",
}
_MEDIA_KINDS = ("audio/", "video/")  # what a podcast app plays

# what a feed gives of a media file: (url, type, length) of an RSS enclosure, an Atom enclosure link or a JSON
# Feed attachment; (url, type, medium, size) of a media:content
RawEnclosure = tuple[object, object, object]
RawMedia = tuple[object, object, object, object]


def media_url(raw: object, base: str | None) -> str | None:
    """An absolute http(s) URL of a media file (relative: against ``base``), through the sanitiser's URL
    safety (never javascript: or data:), at most MAX_MEDIA_URL characters; None otherwise. A Gravatar
    avatar (WordPress.com lists its authors' as media:content) is the author's picture, not the item's."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_MEDIA_URL:
        return None
    # an absolute URL stands on its own (a base that does not parse would refuse it); a relative one needs one
    url = safe_url(raw, None) or (safe_url(raw, base) if base and base.startswith(("http://", "https://")) else None)
    if url is None or len(url) > MAX_MEDIA_URL or public_url(url) is None:
        # not http(s), or a private feed's per-subscriber file (?token=): never published
        return None
    if "/avatar/" in url and "gravatar.com" in url.lower():
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            return None
        if host == "gravatar.com" or host.endswith(".gravatar.com"):
            return None
    return url


def media_type(raw: object, url: str) -> str:
    """The media type the feed gives (lower-case, without parameters), else the one the URL's file extension
    names, else ""."""
    declared = raw.split(";", 1)[0].strip().lower() if isinstance(raw, str) else ""
    if declared != "text/html" and _MEDIA_TYPE.fullmatch(declared):
        return declared
    path = urlsplit(url).path
    ext = path.rsplit(".", 1)[1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return _BY_EXTENSION.get(ext, "")


def media_length(raw: object) -> int | None:
    """A length in bytes: a positive whole number (the string of one, as feeds write it), else None (0, what
    many feeds write for "unknown", is None too)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str):
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 16:
            return None
        raw = int(raw)
    return raw if isinstance(raw, int) and 0 < raw < 2**53 else None


def entry_media(enclosures: Sequence[RawEnclosure], media: Sequence[RawMedia], thumbnails: Sequence[object],
                artwork: object, base: str | None) -> tuple[tuple[Enclosure, ...], str | None]:
    """An entry's media files and thumbnail from what its feed gives, the same on every parse path.

    Enclosures (RSS, Atom, JSON Feed attachments: whatever their type, the publisher chose them), then the
    audio and video media:content (by type or medium; its images are a post's pictures, already in its
    text, and Flash players and the like are nothing to play), each URL once (a later copy fills in a type or
    length the first lacked), at most MAX_ENCLOSURES; only what media_url accepts. The thumbnail: the first
    media:thumbnail, else the itunes:image (an episode's artwork) or JSON Feed image, else the first image
    media:content, else the first image enclosure."""
    if not (enclosures or media or thumbnails or artwork):  # nearly every entry of a news feed
        return (), None
    found: dict[str, tuple[str, int | None]] = {}  # url -> type, length

    def add(url: str | None, mtype: str, length: int | None) -> None:
        if url is None:
            return
        if url in found:
            old_type, old_length = found[url]
            found[url] = (old_type or mtype, old_length if old_length is not None else length)
        elif len(found) < MAX_ENCLOSURES:
            found[url] = (mtype, length)

    for raw, kind, size in enclosures:
        url = media_url(raw, base)
        if url is not None:
            add(url, media_type(kind, url), media_length(size))
    images: list[str] = []
    for raw, kind, medium, size in media:
        url = media_url(raw, base)
        if url is None:
            continue
        mtype = media_type(kind, url)
        medium = medium.strip().lower() if isinstance(medium, str) else ""
        if mtype.startswith(_MEDIA_KINDS) or (not mtype and medium in ("audio", "video")):
            add(url, mtype, media_length(size))
        elif mtype.startswith("image/") or (not mtype and medium == "image"):
            images.append(url)
    pictures = images + [url for url, (mtype, _length) in found.items() if mtype.startswith("image/")]
    image = next((u for u in (media_url(t, base) for t in thumbnails) if u), None) or media_url(artwork, base)
    return tuple(Enclosure(url, mtype, length) for url, (mtype, length) in found.items()), \
        image or next(iter(pictures), None)


class ParseFailed(Exception):
    """The bytes are not a feed feedparser can read (kept inside the parse boundary)."""


def clean_text(value: str) -> str:
    """Strip characters XML cannot carry and collapse whitespace."""
    # Common case first: every character XML cannot carry and every whitespace character but the space
    # is non-printable, so a printable string without a double space only needs its ends stripped.
    if value.isprintable() and "  " not in value:
        return value.strip()
    return _WS_RE.sub(" ", _XML_BAD.sub("", value)).strip()


def html_to_text(value: str) -> str:
    """Turn an HTML fragment (an HTML title) into one line of the text a reader sees: read as the summaries
    are (:func:`feeds.sanitize.visible_text`): words run on across inline tags ("H<sub>2</sub>O"), blocks and
    line breaks separate them, a "<" that opens no tag is text ("3 < 5"), entities decoded once, and a tag
    hides nothing ("Styling <select> boxes": no title holds a form or a script). Without a
    "<" (nearly every title) there is no markup to read: entities are only decoded."""
    if "<" not in value:
        return clean_text(html.unescape(value)) if "&" in value else clean_text(value)
    from feeds.sanitize import visible_text  # lxml, imported on the first title with markup

    return clean_text(visible_text(value, headline=True))


# Month names and abbreviations of the languages whose feeds write RFC 822 dates in their own words
# ("Seg, 24 Set 2018 19:42:40 -0300"): feedparser reads English names only, and such an item was taken as
# undated (its first-seen time: a 2018 article on top of the channel as if new). Portuguese, Spanish,
# French, Italian, German, Dutch; accents folded before lookup. A name two languages share means the same
# month in both; no name of one language is another month in another.
_LOCAL_MONTHS = {name: month for month, names in enumerate((
    ("jan", "janeiro", "ene", "enero", "janv", "janvier", "gen", "gennaio", "januar", "jaenner", "januari"),
    ("fev", "fevereiro", "feb", "febrero", "fevr", "fevrier", "febbraio", "februar", "februari"),
    ("mar", "marco", "marzo", "mars", "maerz", "marz", "mrz", "maart", "mrt"),
    ("abr", "abril", "avr", "avril", "apr", "aprile", "april"),
    ("mai", "maio", "may", "mayo", "mag", "maggio", "mei"),
    ("jun", "junho", "junio", "juin", "giu", "giugno", "juni"),
    ("jul", "julho", "julio", "juil", "juillet", "lug", "luglio", "juli"),
    ("ago", "agosto", "aout", "aug", "august", "augustus"),
    ("set", "setembro", "sep", "sept", "septiembre", "septembre", "settembre", "september"),
    ("out", "outubro", "oct", "octubre", "octobre", "ott", "ottobre", "okt", "oktober"),
    ("nov", "novembro", "noviembre", "novembre", "november"),
    ("dez", "dezembro", "dic", "diciembre", "dec", "decembre", "dicembre", "dezember", "december"),
), start=1) for name in names}
# Russian, Ukrainian and Arabic (the single-word names: Egyptian and Levantine), folded as a date's name is
# ("май" -> "маи"); found by a review with feeds in eight languages: such items were "first seen" and topped
# the channel above newer news
_LOCAL_MONTHS.update({"".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)): month
                      for month, names in enumerate((
    ("янв", "январь", "января", "січ", "січень", "січня", "يناير"),
    ("фев", "февр", "февраль", "февраля", "лют", "лютий", "лютого", "فبراير", "شباط"),
    ("мар", "март", "марта", "бер", "берез", "березень", "березня", "مارس", "آذار"),
    ("апр", "апрель", "апреля", "квіт", "кві", "квітень", "квітня", "أبريل", "ابريل", "إبريل", "نيسان"),
    ("май", "мая", "трав", "тра", "травень", "травня", "مايو", "أيار"),
    ("июн", "июнь", "июня", "черв", "чер", "червень", "червня", "يونيو", "يونيه", "حزيران"),
    ("июл", "июль", "июля", "лип", "липень", "липня", "يوليو", "يوليه", "تموز"),
    ("авг", "август", "августа", "серп", "сер", "серпень", "серпня", "أغسطس", "اغسطس", "آب"),
    ("сен", "сент", "сентябрь", "сентября", "вер", "верес", "вересень", "вересня", "سبتمبر", "أيلول"),
    ("окт", "октябрь", "октября", "жовт", "жов", "жовтень", "жовтня", "أكتوبر", "اكتوبر"),
    ("ноя", "нояб", "ноябрь", "ноября", "лист", "лис", "листопад", "листопада", "نوفمبر"),
    ("дек", "декабрь", "декабря", "груд", "гру", "грудень", "грудня", "ديسمبر"),
), start=1) for name in names})
# "2026年11月27日 01:18:56 +0900" (Japanese and Chinese feeds)
# ("2026年11月27日", "… 10:18", "… 午後10時18分", "… (金) 10:18:56 +09:00", "… GMT+9", "… (JST)"); a date
# that looks like one (CJK_LIKE) but is none of these is no date at all, on both paths
_CJK_DATE = re.compile(
    r"(\d{4}) ?年 ?(\d{1,2}) ?月 ?(\d{1,2}) ?日(?: ?[(（][^\W\d_]{1,3}[)）])?"
    r"(?: ?(午前|午後)? ?(\d{1,2})(?:[:：]|時) ?(\d{2}) ?分?(?:[:：](\d{2}) ?秒?)?)?"
    r"(?: ?[(（]?(z|gmt|utc|ut|jst|cst|[+-]\d{2}(?::?\d{2})?|(?:gmt|utc)[+-]\d{1,2})[)）]?"
    r"(?: ?[(（][a-z]{2,4}[)）])?)?", re.IGNORECASE)  # "+0900 (JST)": the name beside the offset
CJK_LIKE = re.compile(r"\d{4} ?年 ?\d{1,2} ?月").search
_CJK_ZONES = {"jst": "+0900", "cst": "+0800"}  # (in a CJK date: China Standard Time)
# matched against the text with its spaces collapsed (one space at most between parts: no backtracking over
# runs of white space) and at most _LOCAL_DATE_MAX characters long
_LOCAL_DATE = re.compile(
    r"(?:[^\W\d_]+\.?[,،]? )?(\d{1,2})\.? ([^\W\d_]+)\.? (\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"(?: ?(z|gmt|utc|ut|[+-]\d{2}:?\d{2}))?", re.IGNORECASE)
_LOCAL_DATE_MAX = 64


def localized_date(value: str) -> datetime | None:
    """An RFC 822 date written with another language's day and month names ("Seg, 24 Set 2018 19:42:40 -0300",
    "Mo, 03 Mär 2025 08:00:00 +0100", "mer. 5 févr. 2025 10:00 +0100"), as UTC; None for anything else. A
    zone left out is UTC. Only for what feedparser could not read."""
    value = " ".join(value.split())
    if len(value) > _LOCAL_DATE_MAX:
        return None
    m = _LOCAL_DATE.fullmatch(value)
    if m is not None:
        d, name, y, hh, mi, ss, tz = m.groups()
        folded = unicodedata.normalize("NFKD", name.casefold())
        month = _LOCAL_MONTHS.get("".join(c for c in folded if not unicodedata.combining(c)))
        if month is None:
            return None
    else:
        return cjk_date(value)
    return _stamp(y, month, d, hh, mi, ss, tz)


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}")  # (a primary subtag of 2-3 letters)


def language_tag(value: Any) -> str | None:
    """A document's declared language as a BCP 47 tag ("en-us", "ar"), or None for anything else (empty,
    "English", a sentence)."""
    if not isinstance(value, str):
        return None
    tag = value.strip().replace("_", "-")
    return tag if _LANGUAGE_TAG.fullmatch(tag) else None


def cjk_date(value: str) -> datetime | None:
    """A Japanese or Chinese feed's date ("2026年11月27日 01:18:56 +0000", "2026年11月27日(金) 10:18 JST") as
    UTC; None for anything else. feedparser reads such a date as the first of its month (one of its Korean
    formats), so both parse paths ask this first."""
    if "年" not in value:
        return None
    value = " ".join(value.split())
    c = _CJK_DATE.fullmatch(value) if len(value) <= _LOCAL_DATE_MAX else None
    if c is None:
        return None
    y, mo, d, ampm, hh, mi, ss, tz = c.groups()
    if hh is None:  # a date alone: its midnight (the zone's, when one is given)
        hh, mi = "0", "00"
    elif ampm is not None:
        h = int(hh) % 12 + (12 if ampm == "午後" else 0)
        hh = str(h)
    if tz:
        low = tz.lower()
        tz = _CJK_ZONES.get(low) or tz
        if low[:3] in ("gmt", "utc") and len(low) > 3:  # GMT+9
            tz = f"{low[3]}{int(low[4:]):02d}00"
        elif tz[0] in "+-" and len(tz) == 3:  # +09
            tz += "00"
    return _stamp(y, int(mo), d, hh, mi, ss, tz)


def _stamp(y: str, month: int, d: str, hh: str, mi: str, ss: str | None, tz: str | None) -> datetime | None:
    """The UTC moment of a date's parts (its zone as written: "+0300", "-03:00", "gmt"; none is UTC)."""
    offset = 0
    if tz and tz[0] in "+-":
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 14 or minutes > 59:  # no zone is further from UTC
            return None
        offset = (hours * 60 + minutes) * (-1 if tz[0] == "-" else 1)
    try:
        if not 1900 <= int(y) <= 9000:
            return None
        stamp = datetime(int(y), month, int(d), int(hh), int(mi), int(ss or 0), tzinfo=UTC)
    except ValueError:
        return None
    return stamp - timedelta(minutes=offset)


def plain_text(value: str) -> str:
    """A category or a name as plain text, as a title without markup is read: entities decoded once (feedparser's
    loose parser returns ``&lt;`` and ``&amp;`` in them as they were written, its strict one decoded: both paths
    store the text a reader sees, which publishing escapes once), whitespace collapsed. Only references ended by
    ";" are decoded: "Cut&copy" and "Bugs&notes" are words (html.unescape made them "Cut©", "Bugs¬es")."""
    return clean_text(_decode_references(value)) if "&" in value else clean_text(value)


# a character reference ended by ";", as XML writes one
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _decode_references(value: str) -> str:
    return _REFERENCE.sub(lambda m: html.unescape(m.group()), value)


def _dt(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def text_of(detail: tuple[str, str] | None, fallback: str) -> str:
    """Reduce a text construct to plain text: ``detail`` is (type, value) of the last one seen."""
    if detail is not None and detail[0] in ("text/html", "application/xhtml+xml"):
        return html_to_text(detail[1] or "")
    return clean_text(html.unescape(fallback)) if "&" in fallback else clean_text(fallback)


def _text_of(detail: Any, fallback: str) -> str:
    """feedparser gives text constructs with a type; reduce them to plain text."""
    if isinstance(detail, dict):
        return text_of((str(detail.get("type") or ""), detail.get("value", "") or ""), fallback)
    return text_of(None, fallback)


def _entry_date(raw: Any, parsed: Any) -> datetime | None:
    """An entry's date on the feedparser path: a CJK date by cjk_date alone (feedparser reads it as the first
    of its month; one that matches no form is no date), else feedparser's reading, else localized_date."""
    if isinstance(raw, str) and "年" in raw and CJK_LIKE(raw):
        return cjk_date(raw.strip())
    return _dt(parsed) or _local(raw)


def _local(raw: Any) -> datetime | None:
    return localized_date(raw.strip()) if isinstance(raw, str) and raw.strip() else None


def _has_authors(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj.get("authors"))


def _names(obj: Any) -> tuple[str, ...]:
    """The names of feedparser's ``authors`` of an entry, its source or its feed (see person_names)."""
    authors = obj.get("authors") if isinstance(obj, dict) else None
    return person_names((a.get("name"), a.get("email")) for a in authors or () if isinstance(a, dict))


def _raw_media(e: Any) -> tuple[list[RawEnclosure], list[RawMedia], list[object], object]:
    """An entry's enclosures (RSS enclosure, Atom link rel=enclosure: feedparser's ``enclosures``),
    media:content, media:thumbnail URLs and itunes:image, as feedparser gives them."""
    enclosures = [(x.get("href"), x.get("type"), x.get("length")) for x in e.get("enclosures", None) or ()
                  if isinstance(x, dict)]
    media = [(x.get("url"), x.get("type"), x.get("medium"), x.get("filesize") or x.get("length"))
             for x in e.get("media_content", None) or () if isinstance(x, dict)]
    thumbs = [x.get("url") for x in e.get("media_thumbnail", None) or () if isinstance(x, dict)]
    art = e.get("image", None)
    return enclosures, media, thumbs, art.get("href") if isinstance(art, dict) else None


def _plain_as_html(detail: Any, value: str) -> str:
    """A summary or content feedparser gives as plain text (an Atom text construct that does not look like
    HTML to it), as the HTML the pipeline keeps summaries in: escaped, so that "x<y in Kyiv" is not read as a
    tag (cutting its words from what is published and matched). The fast path leaves such a value, when it
    holds "<" or "&", to this path."""
    if isinstance(detail, dict) and detail.get("type") == "text/plain" and ("<" in value or "&" in value):
        return html.escape(value, quote=False)
    return value


def _entry(e: Any, url: str = "", feed_authors: tuple[str, ...] = ()) -> Entry:
    title = _text_of(e.get("title_detail"), e.get("title", "") or "")
    summary = _XML_BAD.sub("", e.get("summary", "") or "")
    content = raw = ""
    for c in e.get("content", None) or ():
        value = c.get("value", "") if isinstance(c, dict) else ""
        if value:
            raw = _XML_BAD.sub("", value)
            content = _plain_as_html(c, raw)
            break
    # (an entry with content and no summary has its content as summary, without a summary_detail of its own)
    summary = content if summary and summary == raw else _plain_as_html(e.get("summary_detail"), summary)
    if summary and content and summary == content:
        content = ""
    cats: list[str] = []
    for t in e.get("tags", None) or ():
        term = plain_text((t.get("term") or t.get("label") or "") if isinstance(t, dict) else "")
        if term and term not in cats:
            cats.append(term)
    guid = clean_text(e.get("id", "") or "") or None
    link = clean_text(e.get("link", "") or "") or None
    # every author's name; an entry without authors has its source's, else its feed's (RFC 4287 4.2.1); one
    # whose authors have no name (an address alone) has none
    source = e.get("source", None)
    authors = _names(e) if _has_authors(e) else _names(source) if _has_authors(source) else feed_authors
    base = url if url.startswith(("http://", "https://")) else link
    enclosures, image = entry_media(*_raw_media(e), base)
    # FeedParserDict answers a missing updated_parsed with published_parsed (and a warning); a date feedparser
    # could not read may be one in another language's words (as the fast path's parse_date falls back too)
    published = _entry_date(dict.get(e, "published"), e.get("published_parsed"))
    if dict.__contains__(e, "updated"):
        updated = _entry_date(dict.get(e, "updated"), e.get("updated_parsed"))
    else:
        updated = published
    return Entry(
        guid=guid,
        link=link,
        title=title,
        summary=summary.strip(),
        content=content.strip(),
        authors=authors,
        categories=tuple(cats),
        published=published or updated,
        updated=updated,
        enclosures=enclosures,
        image=image,
    )


_ROOT_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|rdf)\s*>", re.IGNORECASE)
_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>"
                        rb"|<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?:\s[^<>]*)?/>", re.IGNORECASE)


def _cut_short(data: bytes, entries: int) -> bool:
    """Whether a document feedparser read with an error was cut off inside its last entry (a half-written
    file, a generator that died mid-output): its root never ends, and fewer entries end than feedparser
    found. That entry is a fragment, left out whatever was reached: when the cut comes before its link or date,
    storing it would edit the stored item with what is missing (a review: a report lost its link; a new one
    kept the wrong date for good); when its title, link, guid and date were all complete and only its body is
    cut (fastfeedparser/osm-pl.xml: cut inside an ``<img src>``), storing it would publish a broken body until
    the next fetch brings the whole entry, which would then count as an edit of it (its hash changes: the
    item edited, its ``updated`` moved). Left out, the entry arrives whole one fetch later, as new."""
    if b"\x00" in data[:512] or _ROOT_END.search(data, max(0, len(data) - 4096)):
        return False  # (UTF-16 or -32: tags are not these bytes; left as read)
    return len(_ENTRY_END.findall(data)) < entries


def parse_feedparser(data: bytes, url: str = "", content_type: str | None = None) -> ParsedFeed:
    """Parse with feedparser; raises ParseFailed when the bytes hold no feed at all."""
    import feedparser  # imported lazily: keeps `feeds --help` fast

    headers: dict[str, str] = {}
    if url:
        headers["content-location"] = url
    if content_type:
        headers["content-type"] = content_type
    data = _drop_impossible_charrefs(data)
    try:
        d = feedparser.parse(data, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    except Exception as e:  # its loose parser meeting stray end tags (</height>: int(None)), odd encoding names
        raise ParseFailed(f"not a feed (feedparser failed: {type(e).__name__}: {e})") from e
    if not d.get("version") and not d.entries:
        from feeds.discover import root_element

        root = root_element(data)
        if root is not None and root.rpartition(":")[2].lower() == "opml":
            # what it is, whatever its content type made feedparser say ("NonXMLContentType: application/octet-stream
            # is not an XML media type", "CharacterEncodingOverride")
            raise ParseFailed("not a feed (an OPML subscription list, not a feed: add its feeds with `feeds import`)")
        exc = d.get("bozo_exception")
        if exc is not None:
            raise ParseFailed(f"not a feed ({type(exc).__name__}: {exc})")
        raise ParseFailed(f"not a feed (a document whose root element is <{root}>, not RSS, Atom or RDF)" if root
                          else "not a feed (no RSS, Atom, RDF or JSON Feed in it)")
    feed = d.get("feed", {})
    feed_authors = _names(feed)
    found = d.entries
    if d.get("bozo") and found and _cut_short(data, len(found)):
        found = found[:-1]
    entries = tuple(_entry(e, url, feed_authors) for e in found)
    bozo = None
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        bozo = f"{type(exc).__name__}: {exc}"[:300]
    title = _text_of(feed.get("title_detail"), feed.get("title", "") or "")
    if not entries and not any(feed.get(k) for k in _SAYS) and _ill_formed(d.get("bozo_exception")):
        # ill-formed XML from which nothing was read, not even a channel's link or description (a garbage or
        # truncated body under an <rss> root, which feedparser takes for a version; a document of prefixed
        # elements it reads only stray names from): a failure the source's status shows, not "200, 0 new" (a
        # soak test of the daemon); not a complaint about the content type or the encoding, nor an undefined
        # entity in a channel that says something
        raise ParseFailed(f"not a feed (ill-formed, nothing read: {bozo})")
    return ParsedFeed(
        title=title,
        link=clean_text(feed.get("link", "") or ""),
        entries=entries,
        ttl_seconds=ttl_from_feed(feed.get("ttl"), feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")),
        bozo=bozo,
        language=language_tag(feed.get("language")),
    )


_SAYS = ("title", "link", "links", "subtitle", "updated", "published", "language", "image", "author")  # a channel


def _ill_formed(exc: object) -> bool:
    """Whether feedparser's complaint is the XML parser's: the document is not well-formed XML."""
    from xml.sax import SAXException

    return isinstance(exc, SAXException)


def parse(data: bytes, url: str = "", content_type: str | None = None) -> ParsedFeed:
    """The one entry point the pipeline calls: the fast extractor, else feedparser; JSON Feed apart.

    :func:`feeds.fastparse.fast_parse` handles ordinary well-formed RSS/Atom/RDF documents and gives
    the same ids, titles, links and dates as feedparser; for anything else (ill-formed XML, DOCTYPEs,
    unusual encodings or constructs) it returns None and feedparser parses the bytes. A document that
    starts with a JSON object (no XML feed does) is read as JSON Feed (:mod:`feeds.jsonparse`), which
    feedparser does not read; if it is no JSON Feed but holds markup further on, the XML path gets it.
    """
    from feeds.jsonparse import looks_like_json, parse_json_feed

    if looks_like_json(data):
        try:
            return parse_json_feed(data, url)
        except ParseFailed:
            if b"<" in data:  # no JSON Feed, but markup further on: what an XML parser finds there, if any
                with contextlib.suppress(ParseFailed):
                    got = _parse_xml(data, url, content_type)
                    if got.entries:
                        return got
            raise  # else the JSON complaint
    return _parse_xml(data, url, content_type)


_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARED = re.compile(rb"""\A(\xef\xbb\xbf<\?xml\s[^>]*?encoding\s*=\s*)(["'])([A-Za-z0-9._:-]+)\2""")
_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([^;\"'\s]+)[\"']?", re.IGNORECASE)
_UTF8 = frozenset({"utf-8", "utf8"})


def _bom_first(data: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """A UTF-8 document by its byte order mark, whatever its XML declaration or the HTTP charset say (RFC 7303
    3.3: the BOM takes precedence; a BOM is written by the encoder, a declaration is often a template's):
    the declaration's encoding and a charset parameter saying otherwise are set to UTF-8 for both parsers.
    A feed saved as UTF-8 that still declares windows-1251 was published as mojibake."""
    if not data.startswith(_UTF8_BOM):
        return data, content_type
    try:  # a stray BOM on bytes in another encoding (a UTF-8 file included in a windows-1251 one) says nothing
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data, content_type
    m = _DECLARED.match(data)
    if m and m.group(3).lower().decode("ascii") not in _UTF8:
        data = m.group(1) + m.group(2) + b"utf-8" + m.group(2) + data[m.end():]
    if content_type:
        c = _CHARSET.search(content_type)
        if c and c.group(1).lower() not in _UTF8:
            content_type = content_type[:c.start()] + "; charset=utf-8" + content_type[c.end():]
    return data, content_type


# The charsets of one byte a character (windows-125x, iso-8859-x, koi8, Mac, DOS code pages, ASCII), by the
# name Python's codecs give them: a body that is valid UTF-8 is almost never text in one of these (cp1252's
# "Ã©" would have to stand where UTF-8 has "é", for every non-ASCII character of the document).
_SINGLE_BYTE = ("cp125", "iso8859-", "latin", "koi8", "mac-", "ascii", "cp4", "cp7", "cp8", "tis-620", "hp-roman8",
                "ptcp154", "kz1048")
_XML_DECLARATION = re.compile(rb"\A\s*<\?xml\s[^>]*?\?>")
_ENCODING_ATTR = re.compile(rb"""encoding\s*=\s*(["'])([A-Za-z0-9._:-]*)\1""")


def _single_byte(charset: str) -> bool:
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        return False
    return name.startswith(_SINGLE_BYTE)


def _utf8_over_charset(data: bytes, content_type: str | None) -> str | None:
    """The content type to read a body by: a UTF-8 document served with a single-byte charset (``text/html;
    charset=windows-1252`` on a feed that says UTF-8, as real servers send it) is read as UTF-8 by both parsers,
    its charset parameter set to UTF-8. The rule: the HTTP charset is a single-byte one, the document declares
    UTF-8 (its XML declaration's encoding, or no encoding declared: XML's default), and the bytes are valid
    UTF-8 holding non-ASCII characters. Otherwise the header stands, so a body really in windows-1252 or
    latin-1 (whose accented letters are not valid UTF-8) is read as such. The decision depends on the whole
    body being valid UTF-8, not on which bytes the single-byte charset can decode, so it does not flip when
    an item with a byte windows-1252 leaves undefined (0x81, 0x8d, 0x8f, 0x90, 0x9d: in UTF-8's "Á", "Ł", "Ý")
    arrives: feedparser then fell back to UTF-8 for that fetch only, and every stored title "changed"."""
    if not content_type:
        return content_type
    c = _CHARSET.search(content_type)
    if c is None or not _single_byte(c.group(1)) or data.isascii():
        return content_type
    d = _XML_DECLARATION.match(data)
    if d:
        enc = _ENCODING_ATTR.search(d.group(0))
        if enc and enc.group(2).lower().decode("ascii") not in _UTF8 | {"utf_8", "u8"}:
            return content_type  # the document says it is in another encoding: the header and it may agree
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return content_type
    return content_type[:c.start()] + "; charset=utf-8" + content_type[c.end():]


def _parse_xml(data: bytes, url: str, content_type: str | None) -> ParsedFeed:
    from feeds.fastparse import fast_parse

    data, content_type = _bom_first(data, content_type)
    content_type = _utf8_over_charset(data, content_type)
    fast = fast_parse(data, url, content_type)
    if fast is not None:
        return fast
    return parse_feedparser(data, url, content_type)


__all__ = ["MAX_AUTHORS", "MAX_ENCLOSURES", "ParseFailed", "author_name", "author_names", "clean_text", "entry_media",
           "html_to_text", "media_url", "parse", "parse_feedparser", "person_names", "plain_text", "text_of"]
