"""Channel rules compiled once into one matcher; item -> channels. Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from feeds.config import Channel, compile_patterns

_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, case-folded."""
    if text.isascii():  # NFKD leaves ASCII alone and it has no combining marks
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    # the marks are found among the text's distinct characters, then removed in C (a character at a time
    # in Python took ~7 ms on a 50 kB article)
    marks = [ch for ch in set(decomposed) if unicodedata.combining(ch)]
    if len(marks) <= 8:
        for ch in marks:
            decomposed = decomposed.replace(ch, "")
    else:
        decomposed = re.sub(f"[{''.join(map(re.escape, marks))}]+", "", decomposed)
    return decomposed.casefold()


def tokens(text: str) -> list[str]:
    """Words of folded text, split on anything that is not a letter or digit."""
    return [t for t in _NON_WORD.split(fold(text).replace("ß", "ss")) if t]


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
        aliases = source_aliases or {}
        self._by_first: dict[str, list[_Phrase]] = {}
        self._prefix_first: list[_Phrase] = []
        rule_ids: dict[tuple[tuple[str, ...], bool], int] = {}
        self.channels: list[_ChannelRule] = []

        def rule_of(keyword: str) -> int | None:
            prefix = keyword.rstrip().endswith("*")
            words = tuple(tokens(keyword.rstrip().rstrip("*")))
            if not words:
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
            srcs = frozenset(aliases.get(s, s) for s in ch.sources) if ch.sources else None
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
        # multi-word prefix phrases whose first word is itself a prefix are not supported: documented
        return found

    def classify(self, title: str, summary_text: str, categories: Iterable[str], source: str) -> list[str]:
        """Slugs of the channels an item belongs to, in config order."""
        text = " \n ".join([title, summary_text, *categories])
        words = tokens(text)
        found = self.hits(words)
        raw = None
        out: list[str] = []
        fallbacks: list[str] = []
        took = False
        for ch in self.channels:
            if ch.sources is not None and source not in ch.sources:
                continue
            if ch.exclude & found:
                continue
            if ch.exclude_regex is not None:
                raw = raw if raw is not None else text
                if ch.exclude_regex.search(raw):
                    continue
            if ch.fallback and not ch.include and ch.regex is None:
                fallbacks.append(ch.slug)
                continue
            matched = bool(ch.include & found)
            if not matched and ch.regex is not None:
                raw = raw if raw is not None else text
                matched = bool(ch.regex.search(raw))
            if matched:
                took = True
                out.append(ch.slug)
            elif ch.match_all:
                out.append(ch.slug)
        if not took:
            out.extend(fallbacks)
        return sorted(out, key=self._order.__getitem__)
