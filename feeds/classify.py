"""Channel rules compiled once into one matcher; item -> channels. Pure."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from feeds.config import Channel, compile_patterns
from feeds.sanitize import visible_text as visible_text  # read here (run.py, tests) as before

_ASCII_WORD = re.compile(r"[0-9a-z]+")
_WORD = re.compile(r"[^\W_]+")  # letters and digits (\w without the underscore)
# Latin letters that have no decomposition, so NFKD leaves their stroke or ligature: folded as readers
# fold them when they type without the letter (Wrocław ~ Wroclaw, Søren ~ Soren, Æsir ~ Aesir). The
# modifier apostrophe (U+02BC, a letter to Unicode) is an apostrophe, as U+2019 is: a word break.
_LETTERS = {"Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ø": "O", "ø": "o", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d",
            "Ð": "D", "ð": "d", "Þ": "TH", "þ": "th", "Ħ": "H", "ħ": "h", "Ŧ": "T", "ŧ": "t", "ı": "i", "ȷ": "j",
            "\u02bc": "'"}
# kana voicing marks are kept: they tell different syllables apart (カ ka, ガ ga), they are no accent
_KEEP_MARKS = frozenset("\u3099\u309a")
# marks that show nothing (variation selectors, the combining grapheme joiner): dropped as format characters
_INVISIBLE_MARKS = frozenset(["\u034f", *map(chr, range(0xFE00, 0xFE10)), *map(chr, range(0xE0100, 0xE01F0))])
_JAMO = re.compile("[\u1100-\u11ff]+")
# Scripts written without spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Myanmar), and Korean
# syllables (spaced, but particles attach to their words): each of their letters is a word of its own (with
# the marks that follow it), so a keyword in them matches wherever its letters stand together in the text,
# inside longer words too (a phrase of letters).
_NO_SPACE_BLOCKS = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1100, 0x11FF), (0x1780, 0x17FF), (0x3005, 0x3007),
                    (0x3021, 0x3029), (0x3031, 0x3035), (0x303B, 0x303C), (0x3040, 0x31FF), (0x3400, 0x4DBF),
                    (0x4E00, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F))
_NO_SPACE_PLANES = "\U00020000-\U0003ffff"  # ideographs, extension B on: letters all


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped (but kana voicing marks), format
    characters (soft hyphen, zero-width space and joiners, bidi marks) dropped, ł ø æ œ đ ð þ ħ ŧ ı as
    l o ae oe d d th h t i, case-folded; Hangul syllables recomposed."""
    if text.isascii():  # NFKD leaves ASCII alone and it has no combining marks
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    # what to drop or replace is found among the text's distinct characters, then done in C (a character
    # at a time in Python took ~7 ms on a 50 kB article)
    drop: list[str] = []
    swap: list[str] = []
    jamo = False
    for ch in set(decomposed):
        if ch < "\x80":
            continue
        if unicodedata.combining(ch):
            if ch not in _KEEP_MARKS:
                drop.append(ch)
        elif ch in _LETTERS:
            swap.append(ch)
        elif unicodedata.category(ch) == "Cf" or ch in _INVISIBLE_MARKS:
            drop.append(ch)
        elif "\u1100" <= ch <= "\u11ff":
            jamo = True
    if len(drop) <= 8:
        for ch in drop:
            decomposed = decomposed.replace(ch, "")
    else:
        decomposed = re.sub(f"[{''.join(map(re.escape, drop))}]+", "", decomposed)
    for ch in swap:
        decomposed = decomposed.replace(ch, _LETTERS[ch])
    folded = decomposed.casefold()
    if jamo:  # NFKD took Hangul syllables apart into letters (jamo): "바다" must not match inside "바닥"
        folded = _JAMO.sub(lambda m: unicodedata.normalize("NFC", m.group()), folded)
    return folded


def _ranges(points: list[int]) -> str:
    out: list[str] = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        out.append(f"\\U{points[i]:08x}" if i == j else f"\\U{points[i]:08x}-\\U{points[j]:08x}")
        i = j + 1
    return "".join(out)


@functools.cache
def _word_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(a word of folded text that may hold marks or letters of scripts without spaces, the test for
    either). Built once, on first use, from the Unicode database (20-50 ms). Only the marks of the first 65,536
    characters: re matches those with a bitmap, while each range above them is one more test for every
    character of every text (the marks of historic scripts up there split their words, in keywords as in
    texts)."""
    category = unicodedata.category
    marks = [cp for cp in range(0x10000) if category(chr(cp)) in ("Mn", "Mc", "Me")]
    letters = [cp for lo, hi in _NO_SPACE_BLOCKS for cp in range(lo, hi + 1) if chr(cp).isalpha()]
    mk, ns = _ranges(marks), _ranges(letters) + _NO_SPACE_PLANES
    word = re.compile(f"(?:[^\\W_{ns}]|[{mk}])+|[{ns}][{mk}]*")
    return word, re.compile(f"[{mk}{ns}]")


def tokens(text: str) -> list[str]:
    """Words of folded text: runs of letters, digits and marks, split on anything else; in scripts
    written without spaces, each letter (with its marks) is a word."""
    folded = fold(text)
    if folded.isascii():
        return _ASCII_WORD.findall(folded)
    word, special = _word_patterns()
    if special.search(folded) is None:
        return _WORD.findall(folded)
    return word.findall(folded)


def keyword_words(keyword: str) -> tuple[tuple[str, ...], bool]:
    """A keyword's words, and whether its last word is a prefix (the keyword ends with '*')."""
    keyword = keyword.rstrip()
    prefix = keyword.endswith("*")
    return tuple(tokens(keyword.rstrip("*"))), prefix


def keyword_problem(keyword: str) -> str | None:
    """Why a channel keyword could never match as written, as a config error's "expected" (None: it can)."""
    words, prefix = keyword_words(keyword)
    if not words:
        return ("a keyword with at least one letter or digit (punctuation, symbols and spaces only "
                "separate words, so this one has no word to match)")
    head = keyword.rstrip()[:-1] if prefix else keyword
    if "*" in head or (prefix and not fold(head).endswith(words[-1])):
        return ('a keyword with "*" only as its last character, right after a letter or digit: it makes the '
                'last word a prefix ("Zelensk*" matches Zelensky and Zelenskyy; no "*" inside a keyword, '
                'as in "Ukrain* war": a phrase\'s earlier words match whole)')
    return None


@dataclass(frozen=True, slots=True)
class _Phrase:
    words: tuple[str, ...]
    prefix: bool  # last word ends with '*' in the rule: matches as a prefix
    rule: int


@dataclass(frozen=True)
class _ChannelRule:
    slug: str
    include: frozenset[int]
    exclude: frozenset[int]
    regex: re.Pattern[str] | None
    exclude_regex: re.Pattern[str] | None
    sources: frozenset[str] | None
    match_all: bool
    fallback: bool


class Matcher:
    """All channels' keywords in one token-indexed table, scanned once per item."""

    def __init__(self, channels: Sequence[Channel], source_aliases: dict[str, str] | None = None) -> None:
        aliases = source_aliases or {}  # source URL -> name: a channel may name its sources either way
        names = set(aliases.values())
        self._by_first: dict[str, list[_Phrase]] = {}
        self._prefix_first: list[_Phrase] = []
        rule_ids: dict[tuple[tuple[str, ...], bool], int] = {}
        self.channels: list[_ChannelRule] = []

        def rule_of(keyword: str) -> int | None:
            words, prefix = keyword_words(keyword)
            if not words:  # config refuses such a keyword (keyword_problem)
                return None
            key = (words, prefix)
            if key not in rule_ids:
                rid = rule_ids[key] = len(rule_ids)
                phrase = _Phrase(words, prefix, rid)
                if prefix and len(words) == 1:
                    self._prefix_first.append(phrase)
                else:
                    self._by_first.setdefault(words[0], []).append(phrase)
            return rule_ids[key]

        for ch in channels:
            inc = frozenset(r for r in map(rule_of, ch.include) if r is not None)
            exc = frozenset(r for r in map(rule_of, ch.exclude) if r is not None)
            srcs = frozenset(s if s in names else aliases.get(s, s) for s in ch.sources) if ch.sources else None
            self.channels.append(_ChannelRule(
                slug=ch.slug, include=inc, exclude=exc,
                regex=compile_patterns(ch.regex) if ch.regex else None,
                exclude_regex=compile_patterns(ch.exclude_regex) if ch.exclude_regex else None,
                sources=srcs, match_all=ch.match_all, fallback=ch.fallback,
            ))
        self._order = {ch.slug: i for i, ch in enumerate(self.channels)}
        # single-word prefix rules by their first character: a word is checked only against those
        self._prefix_by_char: dict[str, list[_Phrase]] = {}
        for p in self._prefix_first:
            self._prefix_by_char.setdefault(p.words[0][0], []).append(p)
        self._firsts = frozenset(self._by_first)

    def hits(self, words: Sequence[str]) -> set[int]:
        """Rule ids whose phrase occurs in the word sequence (word boundaries respected).

        Set operations first: only the distinct words that start some rule are looked at, and a
        multi-word phrase is checked only at the positions of its first word."""
        found: set[int] = set()
        present = set(words)
        n = len(words)
        for first in present & self._firsts:
            at: list[int] | None = None
            for p in self._by_first[first]:
                k = len(p.words)
                if k == 1 and not p.prefix:
                    found.add(p.rule)
                    continue
                if at is None:
                    at = [i for i, w in enumerate(words) if w == first]
                for i in at:
                    if i + k > n:
                        continue
                    if p.prefix:
                        if tuple(words[i:i + k - 1]) == p.words[:-1] and words[i + k - 1].startswith(p.words[-1]):
                            found.add(p.rule)
                            break
                    elif tuple(words[i:i + k]) == p.words:
                        found.add(p.rule)
                        break
        if self._prefix_by_char:
            prefix_by_char = self._prefix_by_char
            for w in present:
                if w:
                    for p in prefix_by_char.get(w[0], ()):
                        if w.startswith(p.words[0]):
                            found.add(p.rule)
        # only a phrase's last word can be a prefix: config refuses a '*' anywhere else (keyword_problem)
        return found

    def classify(self, title: str, summary_text: str, categories: Iterable[str], source: str) -> list[str]:
        """Slugs of the channels an item belongs to, in config order."""
        # each field on its own: a phrase or a regex never runs from the end of the title into the summary or a
        # category ("… in Gaza" + "Ceasefire talks …" is no "Gaza ceasefire"); "" between fields is a word no
        # keyword has
        fields = [title, summary_text, *categories]
        words: list[str] = []
        for f in fields:
            if f:
                if words:
                    words.append("")
                words += tokens(f)
        found = self.hits(words)
        out: list[str] = []
        fallbacks: list[str] = []
        took = False
        for ch in self.channels:
            if ch.sources is not None and source not in ch.sources:
                continue
            if ch.exclude & found:
                continue
            if ch.exclude_regex is not None and _search(ch.exclude_regex, fields):
                continue
            if ch.fallback and not ch.include and ch.regex is None:
                fallbacks.append(ch.slug)
                continue
            matched = bool(ch.include & found)
            if not matched and ch.regex is not None:
                matched = _search(ch.regex, fields)
            if matched:
                took = True
                out.append(ch.slug)
            elif ch.match_all:
                out.append(ch.slug)
        if not took:
            out.extend(fallbacks)
        return sorted(out, key=self._order.__getitem__)


def _search(pattern: re.Pattern[str], fields: Sequence[str]) -> bool:
    """Whether the pattern matches in one of the fields (title, summary text, each category), each searched
    on its own: ``^`` and ``$`` are a field's start and end, and no match spans two fields."""
    return any(pattern.search(f) for f in fields if f)
