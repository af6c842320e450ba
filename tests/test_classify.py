"""Channel rules: word boundaries, case and accent folding, exclusion, sources, fallback, regex."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from feeds.classify import Matcher, fold, tokens
from feeds.config import Channel


def ch(slug: str, **kw: object) -> Channel:
    return Channel(slug=slug, title=slug, **kw)  # type: ignore[arg-type]


CHANNELS = [
    ch("ukraine", include=("Ukraine", "Kyiv", "Zelensky*"), exclude=("Ukraine International Airlines",)),
    ch("gaza", include=("Gaza", "West Bank")),
    ch("us", include=("Trump", "White House"), exclude=("Ukraine",)),
    ch("science", regex=(r"\bCERN\b|particle physics",)),
    ch("wire", include=("Ukraine",), sources=("Wire",)),
    ch("all", match_all=True, exclude=("sponsored",)),
    ch("rest", fallback=True),
]
M = Matcher(CHANNELS)


def classify(title: str, summary: str = "", cats: tuple[str, ...] = (), source: str = "Other") -> list[str]:
    return M.classify(title, summary, cats, source)


def test_keywords_match_whole_words_case_and_accent_insensitively() -> None:
    assert classify("KYIV under attack") == ["ukraine", "all"]
    assert classify("Kyïv under attack") == ["ukraine", "all"]
    assert classify("Kyivstar shares rise") == ["all", "rest"]  # no match inside a longer word
    assert classify("Zelenskyy speaks") == ["ukraine", "all"]  # prefix rule
    assert classify("Kyiv's mayor") == ["ukraine", "all"]


def test_phrases_match_as_word_sequences() -> None:
    assert classify("Settlers in the West Bank") == ["gaza", "all"]
    assert classify("West of the river, a bank") == ["all", "rest"]


def test_exclude_and_multi_channel() -> None:
    assert classify("Ukraine International Airlines resumes flights") == ["all", "rest"]
    assert classify("Trump calls Ukraine") == ["ukraine", "all"]  # us excludes "Ukraine"
    assert classify("Trump calls Kyiv") == ["ukraine", "us", "all"]  # ...but not "Kyiv"
    assert classify("Trump on Gaza") == ["gaza", "us", "all"]
    assert classify("Sponsored: Gaza travel") == ["gaza"]


def test_summary_and_categories_count() -> None:
    assert classify("Quiet night", summary="Shelling near Kyiv") == ["ukraine", "all"]
    assert classify("Quiet night", cats=("Gaza",)) == ["gaza", "all"]


def test_regex_and_source_limited_channels() -> None:
    assert classify("New results from CERN") == ["science", "all"]
    assert classify("Ukraine latest", source="Wire") == ["ukraine", "wire", "all"]
    assert classify("Ukraine latest", source="Other") == ["ukraine", "all"]


def test_fallback_only_when_no_rule_channel_took_it() -> None:
    assert classify("Weather is nice") == ["all", "rest"]
    assert "rest" not in classify("Gaza talks")


def test_fold_and_tokens() -> None:
    assert fold("Ärger ÉTÉ") == "arger ete"
    assert tokens("U.S.-backed, Kyiv's") == ["u", "s", "backed", "kyiv", "s"]


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60)
       | st.text(alphabet="aeiouAEIOU \u0301\u0300\u0308\u0327\u0303\u0323\u0302\u030c\u0328\u0304\u0306"
                          "\u0331\u20d7ÄéüñçŞǅﬁ²", max_size=60))
@example("Tiếng Việt: ḕ ǘ ṏ ȁ ẫ ǖ ợ ự ằ ỡ ǚ x̱ a⃗")  # more than eight distinct marks
def test_fold_drops_every_combining_mark_after_nfkd(text: str) -> None:
    # the reference: NFKD, every character of a non-zero combining class dropped, case-folded (the marks
    # are removed in C, one way for a few distinct marks, another for more than eight)
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text)
    assert fold(text) == "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäéü", min_size=2, max_size=8)


@given(st.lists(words, min_size=1, max_size=3), st.lists(words, max_size=6), st.lists(words, max_size=6))
def test_a_keyword_always_matches_when_embedded_between_other_words(kw: list[str], before: list[str],
                                                                   after: list[str]) -> None:
    phrase = " ".join(kw)
    m = Matcher([ch("c", include=(phrase,))])
    text = " ".join([*before, phrase.upper(), *after])
    assert m.classify(text, "", (), "s") == ["c"]


@given(st.lists(words, min_size=1, max_size=3), words)
def test_a_keyword_never_matches_glued_to_another_word(kw: list[str], glue: str) -> None:
    phrase = " ".join(kw)
    m = Matcher([ch("c", include=(phrase,))])
    glued = phrase + glue
    if tokens(glued) != tokens(phrase) and not any(
            tokens(glued)[i:i + len(tokens(phrase))] == tokens(phrase) for i in range(len(tokens(glued)))):
        assert m.classify(glued, "", (), "s") == []


# -- the matcher against a plain scan --------------------------------------------------------------

RULE_WORDS = ["war", "kyiv", "gaza", "west", "bank", "white", "house", "trump", "zelensk", "peace"]
rule_phrases = st.lists(st.sampled_from(RULE_WORDS), min_size=1, max_size=3).map(" ".join)
rules = st.lists(st.tuples(rule_phrases, st.booleans()), min_size=1, max_size=6)
texts = st.lists(st.sampled_from([*RULE_WORDS, "zelensky", "warsaw", "banks", "the"]), max_size=14)


def plain_scan(phrase: str, prefix: bool, words: list[str]) -> bool:
    """Does the rule occur in words: every position, every word compared (the obvious way)."""
    want = phrase.split()
    k = len(want)
    for i in range(len(words) - k + 1):
        got = words[i:i + k]
        if got[:-1] == want[:-1] and (got[-1].startswith(want[-1]) if prefix else got[-1] == want[-1]):
            return True
    return False


@given(rules, texts)
def test_matcher_hits_agree_with_a_plain_scan(rs: list[tuple[str, bool]], words: list[str]) -> None:
    chans = [ch(f"c{i}", include=(phrase + ("*" if prefix else ""),)) for i, (phrase, prefix) in enumerate(rs)]
    got = Matcher(chans).classify(" ".join(words), "", (), "s")
    assert got == [f"c{i}" for i, (phrase, prefix) in enumerate(rs) if plain_scan(phrase, prefix, words)]
