"""Story de-duplication (feeds.stories): seed clustering, properties, explain, update rule."""

from __future__ import annotations

import heapq
import itertools
import math
import random
import struct
import unittest.mock
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import feeds.stories as stories_mod
from feeds.stories import (
    StoryConfig,
    StoryIndex,
    StoryMatch,
    explain,
    is_significant_update,
    normalize_text,
    siblings,
    terms,
)

DATA = Path(__file__).parent / "data" / "stories"
T0 = datetime(2025, 7, 4, 12, 0, tzinfo=UTC)
# a summary that shares nothing with the news it is given with (another outlet's background, at its heaviest)
OFF_TOPIC = ("Schumer praised Thune; Democrats grumbled about Pentagon contractors, Boeing tankers, Lockheed jets, "
             "Raytheon missiles, shipyard bonuses, runway repairs, pipeline permits and munitions.")


def load_seed() -> list[tuple[datetime, str, str, str]]:
    rows = []
    for line in (DATA / "headlines.tsv").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        ts, story, theme, title = line.split("\t")
        rows.append((datetime.fromisoformat(ts.replace("Z", "+00:00")), story, theme, title))
    rows.sort(key=lambda r: r[0])
    return rows


def cluster_seed() -> list[tuple[int, str, str]]:
    ix = StoryIndex(StoryConfig())
    seed = load_seed()
    return [(ix.add(i, title, "", ts).story_id, story, theme) for i, (ts, story, theme, title) in enumerate(seed)]


# -- the seed -------------------------------------------------------------------------------------


def test_seed_never_mixes_themes_or_stories() -> None:
    themes: dict[int, set[str]] = defaultdict(set)
    stories: dict[int, set[str]] = defaultdict(set)
    for sid, story, theme in cluster_seed():
        themes[sid].add(theme)
        stories[sid].add(story)
    assert all(len(t) == 1 for t in themes.values())
    assert all(len(s) == 1 for s in stories.values())


def test_seed_taliban_reports_join() -> None:
    got = {sid for sid, story, _ in cluster_seed() if story == "taliban"}
    assert len(got) == 1


@pytest.mark.xfail(strict=True, reason="known miss: kyiv-strike (0.29), drone-frontline (0.37) and bill-passed "
                   "(pairs at 0.53 and 0.50, across the pairs 0.2) are reworded too freely for word overlap "
                   "from headlines alone (docs/stories.md)")
def test_seed_every_multi_headline_story_is_one_story() -> None:
    by_story: dict[str, set[int]] = defaultdict(set)
    for sid, story, _ in cluster_seed():
        by_story[story].add(sid)
    assert all(len(s) == 1 for s in by_story.values())


# -- normalisation --------------------------------------------------------------------------------


def test_normalize_strips_html_and_entities() -> None:
    assert normalize_text("<p>Fed&nbsp;<b>raises</b> rates &amp; more</p>") == "Fed raises rates more"
    assert normalize_text("&lt;script&gt;x") == "x"


def test_a_five_word_name_is_its_acronym() -> None:
    # the longest phrase in the table has five words: _terms tries spans that long (it stopped at four)
    assert [t.key for t in terms("National Aeronautics and Space Administration said")] == ["nasa", "say"]


def test_summary_head_cuts_at_a_space_or_tag_end_never_inside_a_tag() -> None:
    head = stories_mod._summary_head
    assert head("short text", 100) == "short text"
    assert head("abc def <a href=\"x y\">ghi</a> jkl", 16) == "abc def "  # not inside <a ...>
    # an escaped tag the cut would split: no cut (its '<' only appears once entities are decoded)
    assert head("abc def &lt;a href=\"x y\"&gt;ghi", 18) == "abc def &lt;a href=\"x y\"&gt;ghi"
    assert head("abc &#60;i t=&#34;u v&#34;&#62; def", 20) == "abc &#60;i t=&#34;u v&#34;&#62; def"
    # a bare '<' earlier strips everything up to the next '>' (here in the tag the cut would split): cut there
    assert head('alpha < storm flood <a href="x y">link</a> volcano', 30) == "alpha "
    assert head("one two <b>three</b>", 12) == "one two <b>"
    assert head("one\ntwo three", 9) == "one\ntwo"
    assert head("&amp;" * 20, 12) == "&amp;" * 20  # one unbroken run: no place to cut, the whole text


_PIECES = st.sampled_from([
    "storm", "floods", "the", "of", "and", "minister", "prime minister", "united states", "2,000", "part 2",
    "national aeronautics and space administration", "<p>", "</p>", '<a href="x y">', "</a>", "&amp;",
    "&lt;b c=\"d e\"&gt;", "&lt;", "<", ">", "\n", "it's", "u.s.", "café", "x", "rains", "toll", "rises", "--",
    "&#8217;", "<br/>", "&#60;i t=&#34;u v&#34;&#62;", "&lt;", "&gt;", '<span title="x &lt; y">', "</span>",
]) | st.text(alphabet="abcdefghijklmnoprstuvwy", min_size=3, max_size=9)  # words, mostly distinct


def assert_head_terms_are_the_whole_summarys(summary: str, n: int, chars: int) -> None:
    """The first n terms _item_terms reads with heads of `chars` characters are the whole summary's first n."""
    ix = StoryIndex(StoryConfig(summary_terms=n))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stories_mod, "SUMMARY_HEAD_CHARS", chars)
        mp.setattr(stories_mod, "SUMMARY_HEAD_CHARS_PER_TERM", 1)
        got = ix._item_terms("t", summary)[1]
    assert got == stories_mod._terms(summary, None, n, installments=False)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_PIECES, min_size=0, max_size=120), n=st.integers(1, 6), chars=st.integers(10, 400))
def test_a_summarys_terms_from_its_head_are_the_whole_summarys(pieces: list[str], n: int, chars: int) -> None:
    # lower-case text (what is judged on the head -- Title Case, all caps -- does not arise): the first n terms
    # read from the head are the whole summary's first n, however the cut falls among tags, escaped tags,
    # entities, phrases and numbers
    summary = " ".join(pieces)
    assert_head_terms_are_the_whole_summarys(summary, n, chars)


_WORD = st.text(alphabet="abcdefghijklmnoprstuvwy", min_size=3, max_size=9)
_WORDS = st.lists(_WORD, max_size=40, unique=True).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(a=st.lists(_WORD, max_size=4).map(" ".join), opener=st.sampled_from(["<", "&lt;", "&#60;", "&amp;lt;", ""]),
       b=st.lists(_WORD, min_size=8, max_size=40, unique=True).map(" ".join),  # distinct: enough terms
       tag=st.sampled_from(['<a href="x y">', '&lt;a href="x y"&gt;', '&#60;i t="u v"&#62;', "<br>", "<p\nclass=q>"]),
       c=_WORDS, n=st.integers(1, 4), k=st.integers(0, 25))
@example(a="alpha", opener="<", b="storm flood rain wind fire quake snow hail heat cold fog mist", tag='<a href="x y">',
         c="beta", n=2, k=5)
def test_a_summarys_head_never_reads_what_an_unclosed_bracket_strips(a: str, opener: str, b: str, tag: str,
                                                                     c: str, n: int, k: int) -> None:
    # the shape that defeats a naive cut: a bare or escaped '<' (which strips up to the next '>'), words,
    # then a tag with a space in it, where the head's end falls (k characters into the tag or after it)
    before = f"{a} {opener} {b} "
    summary = f"{before}{tag}link {c} > {c}"
    chars = len(before) + k
    assert_head_terms_are_the_whole_summarys(summary, n, chars)


def test_a_long_summarys_terms_are_read_from_its_head() -> None:
    # a whole article as the summary: its terms come from its first SUMMARY_HEAD_CHARS characters, and are
    # the whole text's
    words = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "klmnp"]  # 125 distinct words
    article = "<p>" + " ".join(words[i % len(words)] for i in range(5_000)) + "</p>"
    read: list[int] = []
    real = stories_mod._terms

    def spy(text: str, *args: object, **kw: object) -> list[tuple[str, bool]]:
        read.append(len(text))
        return real(text, *args, **kw)  # type: ignore[arg-type]

    ix = StoryIndex(StoryConfig())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stories_mod, "_terms", spy)
        got = ix._item_terms("Title", article)[1]
    assert len(article) > 20_000 and max(read) <= stories_mod.SUMMARY_HEAD_CHARS
    assert got == real(article, None, 20, installments=False)


def test_terms_stem_alias_and_entities() -> None:
    keys = [t.key for t in terms("Syrian troops pushed into Syria as the U.S. and USA watch")]
    assert keys[:3] == ["syria", "armi", "push"]  # troops -> army (synonym table), Porter stems
    assert "america" in keys and "the" not in keys
    assert {t.key for t in terms("accord pact agreement deal")} == {"deal"}
    assert [t.key for t in terms("probe inquiry row dispute")] == ["probe", "row"]
    ents = {t.key: t.entity for t in terms("Police say 19 hurt in New Orleans shooting")}
    assert ents["19"] and ents["orlean"] and not ents["polic"]


def test_british_ise_spellings_are_the_ize_terms_and_short_bases_stay() -> None:
    def keys(text: str) -> list[str]:
        return [t.key for t in terms(text)]

    assert keys("recognises organisation analysed criticising") == keys("recognizes organization analyzed criticizing")
    assert keys("praise praised") == [keys("praise")[0]] and keys("raise") == keys("raised")
    assert keys("rise rises") == ["rise"] and keys("wise") == ["wise"] and keys("crisis analysis") != keys("analyze")


def test_possessive_keeps_a_name_and_a_contraction_stays_a_stopword() -> None:
    keys = [t.key for t in terms("South Korea's president says it's over")]
    assert keys == [t.key for t in terms("South Korea president says over")]
    assert "southkorea" in keys and "it" not in keys
    assert [t.key for t in terms("Who's afraid of WHO")] == ["afraid", "who"]  # only the acronym is WHO


def test_a_capital_implies_its_country() -> None:
    keys = [t.key for t in terms("Drone attack on Kyiv, New Delhi and Brussels react")]
    assert keys[keys.index("kyiv") + 1] == "ukrain" and "india" in keys and "eu" in keys
    # a report naming the capital and one naming the country share the country, with no place conflict
    e = explain("Record drone attack on Kyiv overnight", "", "Record drone attack on Ukraine overnight", "")
    assert "ukrain" in {k for k, _ in e.shared} and e.conflict == 0.0 and e.same_story


_term_words = st.sampled_from([
    "Kyiv", "kyiv", "Ukraine", "New", "Delhi", "new", "delhi", "Moscow", "Fed", "U.S.", "prime", "minister",
    "South", "Korea", "Seoul", "says", "the", "19", "Attack", "attacks", "Brussels", "EU", "it's",
    "Part", "Vol.", "Season", "Episode", "ep.", "two", "II", "ii", "Xi", "01", "I", "IV", "No.", "3-1",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_term_words, min_size=0, max_size=12).map(" ".join), min_size=1, max_size=6),
       st.integers(1, 6), st.booleans())
def test_cached_terms_and_limits_agree_with_the_plain_extraction(texts: list[str], limit: int,
                                                                  installments: bool) -> None:
    # the index extracts terms through a per-index word cache and with a limit for summaries: both must
    # give what the uncached extraction gives (capitals, which add their country, are never cached;
    # installments are found before the cache is looked at)
    cache: dict[str, str] = {}
    for text in texts + texts:
        plain = stories_mod._terms(text, None, installments=installments)
        assert stories_mod._terms(text, cache, installments=installments) == plain
        assert stories_mod._terms(text, cache, limit, installments) == plain[:limit]


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@settings(max_examples=150, deadline=None)
@given(texts)
def test_normalize_idempotent(s: str) -> None:
    once = normalize_text(s)
    assert normalize_text(once) == once
    assert [t.key for t in terms(once)] == [t.key for t in terms(s)]


# -- index properties -----------------------------------------------------------------------------

words = st.sampled_from([
    "Fed", "raises", "rates", "Apple", "unveils", "iPhone", "storm", "hits", "coast", "Senate",
    "passes", "budget", "bill", "court", "rules", "against", "Google", "league", "final", "ends",
    "draw", "quake", "strikes", "Japan", "oil", "prices", "fall",
])
titles = st.lists(words, min_size=1, max_size=8).map(" ".join)
streams = st.lists(st.tuples(titles, st.integers(0, 200)), min_size=1, max_size=25)


def run(stream: list[tuple[str, int]]) -> list[StoryMatch]:
    ix = StoryIndex(StoryConfig())
    ordered = sorted(stream, key=lambda x: x[1])
    return [ix.add(i, title, "", T0 + timedelta(hours=h)) for i, (title, h) in enumerate(ordered)]


@settings(max_examples=40, deadline=None)
@given(streams)
def test_deterministic(stream: list[tuple[str, int]]) -> None:
    assert run(stream) == run(stream)


@settings(max_examples=40, deadline=None)
@given(streams, st.integers(0, 300))
def test_eviction_bounds_memory(stream: list[tuple[str, int]], now_h: int) -> None:
    cfg = StoryConfig(window=timedelta(hours=24))
    ix = StoryIndex(cfg)
    for i, (title, h) in enumerate(sorted(stream, key=lambda x: x[1])):
        ix.add(i, title, "", T0 + timedelta(hours=h))
    now = T0 + timedelta(hours=now_h)
    ix.evict(now)
    live = sum(1 for _, h in stream if T0 + timedelta(hours=h) >= now - cfg.window)
    assert len(ix) == live
    assert ix.story_count <= len(ix)
    ix.evict(now + timedelta(days=30))
    assert len(ix) == 0 and ix.story_count == 0 and not ix._postings and not ix._heap


@settings(max_examples=60, deadline=None)
@given(st.lists(titles, min_size=0, max_size=10), titles)
def test_identical_title_always_joins(background: list[str], title: str) -> None:
    if not terms(title):  # only stopwords ("against"): nothing to compare, see test_termless_item
        return
    ix = StoryIndex(StoryConfig())
    for i, t in enumerate(background):
        ix.add(100 + i, t, "", T0)
    first = ix.add(1, title, "", T0 + timedelta(minutes=1))
    again = ix.add(2, title, "", T0 + timedelta(minutes=2))
    assert again.joined and again.story_id == first.story_id
    assert not is_significant_update(again)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "epsilon"]), min_size=1, max_size=4),
       st.lists(st.sampled_from(["omega", "sigma", "kappa", "lambda", "theta"]), min_size=1, max_size=4))
def test_unrelated_never_join(a: list[str], b: list[str]) -> None:
    ix = StoryIndex(StoryConfig())
    ix.add(1, " ".join(a), "", T0)
    m = ix.add(2, " ".join(b), "", T0)
    assert not m.joined and m.story_id == 2 and m.score == 0.0


def test_window_limits_joining() -> None:
    ix = StoryIndex(StoryConfig(window=timedelta(hours=72)))
    ix.add(1, "Volcano erupts in Iceland, flights grounded", "", T0)
    assert not ix.add(2, "Volcano erupts in Iceland, flights grounded", "", T0 + timedelta(hours=80)).joined
    assert ix.add(3, "Volcano erupts in Iceland; flights grounded", "", T0 + timedelta(hours=81)).story_id == 2


def test_add_known_rebuilds_without_reclustering() -> None:
    ix = StoryIndex(StoryConfig())
    ix.add_known(5, "Volcano erupts in Iceland", "", T0, story_id=5)
    ix.add_known(6, "Completely different words", "", T0, story_id=5)  # kept as stored
    assert ix.members(5) == (5, 6)
    m = ix.add(7, "Iceland volcano erupts", "<p>Flights <b>grounded</b></p>", T0 + timedelta(hours=1))
    assert m.story_id == 5 and m.joined and m.matched_item == 5
    with pytest.raises(ValueError):
        ix.add_known(5, "again", "", T0, story_id=5)


def test_significant_update_rule() -> None:
    ix = StoryIndex(StoryConfig())
    first = ix.add(1, "Magnitude 7 earthquake strikes off Japan coast", "", T0)
    assert is_significant_update(first)  # a new story
    repeat = ix.add(2, "Magnitude 7 earthquake strikes off coast of Japan", "", T0 + timedelta(minutes=5))
    assert repeat.joined and not is_significant_update(repeat)
    news = ix.add(3, "Magnitude 7 earthquake off Japan coast: tsunami warning issued, 12 dead",
                  "", T0 + timedelta(hours=2))
    assert news.joined and news.novelty > repeat.novelty and is_significant_update(news)


# -- explain --------------------------------------------------------------------------------------


def test_explain_reports_shared_and_distinguishing_terms() -> None:
    e = explain("Netanyahu set to call early vote", "", "Israel's Netanyahu set to call early vote", "")
    assert e.same_story and e.score >= StoryConfig().threshold
    assert e.shared[0][0] == "netanyahu"
    assert [t for t, _ in e.only_b] == ["israel"] and e.only_a == ()
    assert abs(sum(c for _, c in e.shared) - e.score) < 1e-9
    text = str(e)
    assert "same story" in text and "netanyahu" in text and "only in b: israel" in text
    e2 = explain("Fed raises rates", "", "Storm hits coast", "")
    assert not e2.same_story and e2.score == 0.0 and e2.shared == () and "(none)" in str(e2)


def test_termless_item_starts_its_own_story() -> None:
    ix = StoryIndex(StoryConfig())
    assert not ix.add(1, "Against", "", T0).joined
    m = ix.add(2, "Against", "", T0 + timedelta(minutes=1))
    assert not m.joined and m.story_id == 2 and m.score == 0.0


# -- terms: stemming, synonyms, acronyms ----------------------------------------------------------


def key_set(text: str) -> set[str]:
    return {t.key for t in terms(text)}


def test_porter_stemmer_joins_related_forms() -> None:
    assert key_set("Controversy") == key_set("Controversial")
    assert key_set("resigns") == key_set("resignation") == key_set("resigned")
    assert key_set("retirement") == key_set("retires")
    assert key_set("news") != key_set("new")
    # Porter made "international" "intern" (an intern, internal) but "internationally" "internation"
    assert key_set("international") == key_set("internationally") == key_set("internationals")
    assert key_set("international") != key_set("intern") and key_set("international") != key_set("internal")
    # British and American spellings meet
    assert key_set("recognised") == key_set("recognizes")
    assert key_set("defence") == key_set("defense") and key_set("offences") == key_set("offense")
    assert key_set("centre") == key_set("center") and key_set("theatres") == key_set("theater")
    assert key_set("programme") == key_set("programs") and key_set("kilometres") == key_set("kilometer")
    # a list of British words, not a rule: "programmer" is not "program", French "votre" is not "voter", nor
    # "timbre" "timber"
    assert key_set("programmer") != key_set("program")
    assert key_set("votre") != key_set("voter") and key_set("timbre") != key_set("timber")


def test_synonyms_numbers_and_acronyms_meet() -> None:
    assert key_set("quake") == key_set("earthquakes")
    assert key_set("two soldiers") == key_set("2 soldier")
    assert key_set("Mandela in hospital for 3rd day") == key_set("Mandela in hospital for third day")
    assert key_set("Prime Minister") == key_set("PM")
    assert key_set("United Nations") == key_set("U.N.") == key_set("UN")
    assert key_set("NATO") == key_set("Nato")
    # people's roles as outlets name them (a review of a real news day)
    assert key_set("envoy") == key_set("ambassadors")
    assert key_set("lawmaker") == key_set("congressman") == key_set("congresswoman") == key_set("congressmen")
    assert key_set("soldiers") == key_set("troops") == key_set("military")
    # names as outlets transliterate them
    assert key_set("Zelenskyy") == key_set("Zelensky") == key_set("Zelenskiy")
    assert key_set("Hizbullah") == key_set("Hezbollah") and key_set("Mursi") == key_set("Morsi")
    assert key_set("ISIL") == key_set("ISIS") == key_set("Daesh")
    # not words of other senses: "legislator" would stem as "legislation", "ex" is also "Ex Machina",
    # "ex-dividend", and "FM" a radio band
    assert key_set("legislation") != key_set("lawmakers")
    assert key_set("ex-dividend") != key_set("former dividend")
    assert key_set("FM radio") != key_set("foreign minister radio")


def test_us_states_meet_their_abbreviations_adjectives_and_two_word_names() -> None:
    assert key_set("Colo. shooting") == key_set("Colorado shooting")
    assert key_set("Denver, Colo., shooting") == key_set("Denver Colorado shooting")  # the dot before a comma
    assert key_set("Calif. inmates") == key_set("California inmates") == key_set("Californian inmates")
    assert key_set("N.J. governor") == key_set("New Jersey governor")
    assert key_set("NYC mayor") == key_set("New York mayor")
    assert key_set("S.C. primary") == key_set("South Carolina primary")
    # an abbreviation is one only with its dot and capital: the same letters stay words ("colo", German
    # "mich", Swedish "kan", French "Mont"), and the all-caps "SC" is also a Supreme Court
    assert key_set("colo shooting") != key_set("Colorado shooting")
    assert key_set("Colo, shooting") != key_set("Colorado shooting")
    assert key_set("Er sah mich") != key_set("Er sah Michigan") and key_set("hon kan") != key_set("hon Kansas")
    assert key_set("Mont Blanc") != key_set("Montana Blanc") and key_set("Kenya SC") != key_set("Kenya South Carolina")
    # words and titles that are also abbreviations are left alone ("Mass.", "Miss."), as a Title Case headline
    # may end with them
    assert key_set("attended Mass.") != key_set("attended Massachusetts")
    assert key_set("Pope Falls Ill.") != key_set("Pope Falls Illinois")
    # the installment path reads them too ("Part 2" tokenises the text on its own), as whole words only (a diff
    # review: "Part 1: W.Va." met Virginia, "www.Pa.gov" and "Mo.-based" were states there)
    assert key_set("Calif. fires, Part 2") == key_set("California fires, Part 2")
    assert key_set("Part 1: W.Va. mine collapse") == key_set("Part 1: West Virginia mine collapse")
    assert key_set("W.Va. mine collapse") == key_set("West Virginia mine collapse")
    assert "pennsylvania" not in key_set("Part 1: Visit www.Pa.gov") | key_set("Visit www.Pa.gov")
    assert "missouri" not in key_set("Part 2: Mo.-based firm") | key_set("Mo.-based firm")
    # abbreviations other languages write with a dot are left out ("Md." Mohammad, German "Mo." Montag)
    assert "maryland" not in key_set("Md. Yunus meets envoy") and "missouri" not in key_set("Konzert: Mo., 12. Mai")
    # a phrase's term is its own stem, as the alias tables hold it ("New Jersey" meets "N.J.")
    assert all(stories_mod._stem(k) == k for k in stories_mod._PHRASES.values())


def test_a_state_is_not_a_place_conflict() -> None:
    # aliases only: a state's report and a national one are not in a place conflict (as places they cost
    # UCI recall on every seed)
    e = explain("Texas shooting suspect charged with murder", "", "US shooting suspect charged with murder", "")
    assert e.conflict == 0.0


@pytest.mark.parametrize("a, b", [
    ("Belgium accuses U.S. envoy of disinformation for antisemitism claim",
     "Trump's Ambassador to Belgium Is Summoned After Accusing Officials of Antisemitism"),
    ("Outrage over US Congressman's anti-Muslim remarks",
     '"Unrepentant Bigot": Democrats Slam US Lawmaker Over Anti-Muslim Remarks'),
    ("Nigeria says 100 more U.S. military personnel arrive to tackle Islamists",
     "US soldiers arrive in Nigeria to aid its fight against Islamist militants"),
])
def test_re_reports_naming_one_role_in_other_words_are_one_story(a: str, b: str) -> None:
    # two outlets' headlines of one event on a real news day: apart (0.41, 0.50, 0.54) until the role words met
    ix = StoryIndex()
    ix.add(1, a, "", T0)
    m = ix.add(2, b, "", T0 + timedelta(hours=1))
    assert m.joined and m.story_id == 1, m.score


def test_north_and_south_korea_are_different_places() -> None:
    assert key_set("North Korea") == key_set("N.Korea") == key_set("North Korean")
    assert key_set("South Korea") == key_set("S. Korea")
    assert key_set("North Korea") != key_set("South Korea")


def test_conflicting_places_and_numbers_lower_the_score() -> None:
    e = explain("Iran earthquake death toll rises", "", "Algeria hostage death toll rises", "")
    assert e.conflict > 0 and e.score < e.cosine and not e.same_story
    e = explain("Bangladesh building collapse death toll hits 359", "",
                "Indian building collapse death toll rises to 72", "")
    assert e.conflict > 0 and not e.same_story
    # one side adding a place or a number is an elaboration, not a conflict
    e = explain("Former Reagan spokesman dies", "", "Former Reagan spokesman Larry Speakes dies at 74", "")
    assert e.conflict == 0.0 and e.score == e.cosine


# -- the candidate filter is exact ----------------------------------------------------------------


def one_word(vec: dict[str, float], centroid: dict[str, float]) -> bool:
    """The rule of step 9, written out: the item and the story share one word (a capital and the country it
    implies being one), and one of them has more than it (a one-word text repeated joins)."""
    shared = {t for t in vec if t in centroid}
    words = {t for t in shared if not any(stories_mod._IMPLIES.get(o) == t for o in shared)}
    return len(words) == 1 and (set(vec) != shared or set(centroid) != shared)


def brute_best(ix: StoryIndex, vec: dict[str, float], ts: float) -> tuple[int | None, float]:
    """Score every live story in the window, as _best would without the inverted index."""
    cfg = ix.config
    qspec = [(t, w) for t, w in vec.items() if stories_mod._specific(t)]
    best, best_score = None, 0.0
    for sid in sorted(ix._stories):
        story = ix._stories[sid]
        if abs(ts - story.latest) > ix._window_s or ts - story.first > ix._window_s or story.norm == 0.0:
            # out of the window (a story spans at most it from its first report), or termless: nothing to share
            continue
        dot = sum(w * story.centroid.get(t, 0.0) for t, w in vec.items())
        score = dot / (story.norm * story.factor)
        if qspec and story.spec2 > 0:
            score *= 1 - cfg.conflict_penalty * stories_mod._conflict(qspec, story.centroid, story.spec2, story.norm2)
        if one_word(vec, story.centroid):  # one word in common is a subject, not an event (step 9)
            score = 0.0
        if score > best_score + 1e-12:
            best, best_score = sid, score
    return best, best_score


_centroids = st.dictionaries(st.sampled_from([f"t{i}" for i in range(12)]),
                             st.sampled_from([0.05, 0.1, 0.1, 0.2, 0.3, 0.3, 0.45, 0.7]), max_size=12)


@settings(max_examples=200, deadline=None)
@given(_centroids, st.sampled_from([0.0, 0.004, 0.01, 0.05, 0.2, 1.0]),
       st.dictionaries(st.sampled_from([f"t{i}" for i in range(15)]), st.floats(0.01, 1.0), max_size=8))
def test_a_cut_head_is_the_set_it_replaces(c: dict[str, float], budget: float, q: dict[str, float]) -> None:
    # a one-member story keeps its head as a cut in (weight, term) order (_CutHead): with tied weights
    # (the term decides), an empty head, a whole head, it must be the set _split_head gives in every use
    head, tail2 = stories_mod._split_head(c, budget)
    cut, tail2_cut = stories_mod._split_head(c, budget, cut=True)
    assert tail2_cut == tail2 and type(head) is set
    assert set(cut) == head and len(cut) == len(head) and cut == head and head == cut
    assert all((t in cut) == (t in head) for t in list(c) + ["t13", "x"])
    other = set(list(c)[:3]) | {"t14"}
    assert other - cut == other - head and cut - other == head - other and isinstance(cut - other, (set, frozenset))
    assert sorted(cut.squares(q)) == sorted(w * w for t, w in q.items() if t in head) if head else not cut


def check_invariants(ix: StoryIndex) -> None:
    thr = ix.config.threshold
    df: dict[str, int] = defaultdict(int)
    for sid, story in ix._stories.items():
        for t in story.centroid:
            df[t] += 1
        assert story.head <= story.centroid.keys()
        if story.counts is None and thr <= 1.0:  # one member since _start, which (threshold <= 1) chose
            # its head there and kept it as a cut over the story's own centroid
            assert type(story.head) is stories_mod._CutHead and story.head._c is story.centroid \
                if story.centroid else story.head == frozenset()
        if type(story.head) is not set:  # a cut: only until a second member joins
            assert story.counts is None
            nf0 = story.norm * story.factor
            cut = (stories_mod._HEAD_TARGET * (thr * nf0)) ** 2  # as _start computes it
            assert set(story.head) == stories_mod._split_head(story.centroid, cut)[0]
        tail2 = sum(v * v for t, v in story.centroid.items() if t not in story.head)
        assert abs(tail2 - story.tail2) < 1e-6
        # the running norm and specific-term weight follow the centroid (adds and evictions alike)
        assert abs(sum(v * v for v in story.centroid.values()) - story.norm2) < 1e-6
        spec2 = sum(v * v for t, v in story.centroid.items() if t in stories_mod._SPECIFIC or t[0].isdigit())
        assert abs(spec2 - story.spec2) < 1e-6
        # a story sharing only tail terms with an item cannot reach the threshold
        assert tail2 ** 0.5 < thr * story.norm * story.factor + 1e-9
        for t in story.head:
            assert ix._postings[t][sid] is story
        # postings hold c[t] / ref, ref an nf of the story's at most _RESCALE below the current one, so a
        # posting is never below c[t] / nf; each head term's bound is at least every c[t] / nf
        nf = ix._nf[sid]
        if nf > 0.0:
            ref = ix._ref[sid]
            assert ref <= nf <= stories_mod._RESCALE * ref
            assert ix._scale[sid] == (ref / nf, math.sqrt(story.tail2) / nf)  # as _refresh computes it
            assert story.tail2 ** 0.5 / nf < stories_mod._TAIL_MAX * thr
            for t in story.head:
                assert ix._weights[t][sid] == story.centroid[t] / ref
                assert ix._ub[t] >= story.centroid[t] / nf * (1 - 1e-12)
    assert dict(df) == ix._df
    # the high postings are exactly the postings >= _HIGH
    high = {t: {sid: v for sid, v in post.items() if v >= stories_mod._HIGH} for t, post in ix._weights.items()}
    assert ix._high == {t: h for t, h in high.items() if h}
    # the tailed set is exactly the stories with a tail bound (_candidates' first filter relies on it)
    assert ix._tailed == {sid for sid, (_, tn) in ix._scale.items() if tn > 0.0}
    assert ix._scale.keys() == ix._stories.keys()
    assert all(sid in ix._stories and t in ix._stories[sid].head for t, p in ix._postings.items() for sid in p)


@settings(max_examples=40, deadline=None)
@given(streams, st.integers(0, 250))
def test_best_matches_brute_force_and_invariants_hold(stream: list[tuple[str, int]], evict_h: int) -> None:
    ix = StoryIndex(StoryConfig(window=timedelta(hours=48)))
    ordered = sorted(stream, key=lambda x: x[1])
    for i, (title, h) in enumerate(ordered):
        when = T0 + timedelta(hours=h)
        if h >= evict_h:
            ix.evict(when)
        vec = ix.vector(title)
        want_sid, want = brute_best(ix, vec, when.timestamp())
        m = ix.add(i, title, "", when)
        if want >= ix.config.threshold:
            assert m.joined and m.story_id == want_sid and abs(m.score - want) < 1e-9
        else:
            assert not m.joined
        check_invariants(ix)


def brute_candidates(ix: StoryIndex, vec: dict[str, float], ts: float, threshold: float | None = None,
                     scan_cap: int | None = None) -> set[int]:
    """The stories in the window whose bound reaches the threshold (the index's, or ``threshold``) -- head dot
    product, plus the item's weight off the story's head times the story's tail -- by scoring every live story.
    ``scan_cap``: only the stories with one of the item's rarest terms in their head, the terms the fewest live
    stories have (ties: by term), up to that many stories together."""
    q = {t: w for t, w in vec.items() if t in ix._df}
    r2 = math.fsum(w * w for w in q.values())
    rare = set(q)
    if scan_cap is not None:
        heads = sorted((sum(t in story.centroid for story in ix._stories.values()), t) for t in q)
        total = 0
        rare = set()
        for n, t in heads:
            total += n
            if total > scan_cap:
                break
            rare.add(t)
    out = set()
    for sid, story in ix._stories.items():
        nf = ix._nf[sid]
        if abs(ts - story.latest) > ix._window_s or ts - story.first > ix._window_s or nf == 0.0:
            continue
        if not any(t in story.head for t in rare):
            continue
        shared = [t for t in q if t in story.head]
        a = math.fsum(q[t] * story.centroid[t] for t in shared) / nf
        rest2 = r2 - math.fsum(q[t] ** 2 for t in shared)
        if a + math.sqrt(max(rest2, 0.0) * story.tail2) / nf >= (threshold or ix.config.threshold) - 1e-9:
            out.add(sid)
    return out


@settings(max_examples=40, deadline=None)
@given(streams, st.integers(0, 250), st.sampled_from([0.35, 0.55, 0.7]))
def test_candidates_are_exactly_the_stories_whose_bound_reaches_the_threshold(
        stream: list[tuple[str, int]], evict_h: int, threshold: float) -> None:
    """Which stories are scored (and so a new story's reported score, the best of theirs) does not depend on
    how the inverted index finds them: the same set as a scan of every story's bound."""
    ix = StoryIndex(StoryConfig(window=timedelta(hours=48), threshold=threshold))
    for i, (title, h) in enumerate(sorted(stream, key=lambda x: x[1])):
        when = T0 + timedelta(hours=h)
        if h >= evict_h:
            ix.evict(when)
        vec = ix.vector(title)
        ts = when.timestamp()
        want = brute_candidates(ix, vec, ts)
        q = {t: w for t, w in vec.items() if t in ix._df}
        got = {story.story_id for story in ix._candidates(q, ts)} if q else set()
        assert got == want
        qspec = [(t, w) for t, w in vec.items() if stories_mod._specific(t)]
        best = max((0.0 if one_word(vec, ix._stories[sid].centroid) else ix._lexical_score(q, qspec, ix._stories[sid])
                    for sid in want), default=0.0)
        m = ix.add(i, title, "", when)
        assert m.score == best
        check_invariants(ix)


def test_candidates_match_brute_force_on_growing_stories() -> None:
    """Long runs of rewordings from a small vocabulary: stories grow without new terms, so their postings
    are left at an earlier nf (ref < nf) and their heads are rebuilt and evicted from; the candidates are
    still exactly the brute-force set and a new story's score the best of theirs."""
    import random

    rng = random.Random(5)
    vocab = ["Fed", "raises", "rates", "again", "Apple", "iPhone", "storm", "coast", "Japan", "quake", "oil"]
    ix = StoryIndex(StoryConfig(window=timedelta(hours=30)))
    lagging = 0
    for i in range(400):
        when = T0 + timedelta(minutes=10 * i)
        if i % 20 == 0:
            ix.evict(when)
        title = " ".join(rng.sample(vocab, rng.randint(2, 5)))
        vec = ix.vector(title)
        ts = when.timestamp()
        q = {t: w for t, w in vec.items() if t in ix._df}
        want = brute_candidates(ix, vec, ts)
        assert ({story.story_id for story in ix._candidates(q, ts)} if q else set()) == want
        qspec = [(t, w) for t, w in vec.items() if stories_mod._specific(t)]
        best = max((0.0 if one_word(vec, ix._stories[sid].centroid) else ix._lexical_score(q, qspec, ix._stories[sid])
                    for sid in want), default=0.0)
        assert ix.add(i, title, "", when).score == best
        lagging += any(ix._ref[sid] < ix._nf[sid] for sid in ix._stories)
        if i % 50 == 0:
            check_invariants(ix)
    check_invariants(ix)
    assert lagging > 100


@pytest.mark.parametrize(("threshold", "summary_weight"), [(0.45, 0.05), (0.55, 0.05), (0.55, 0.5)])
def test_candidates_match_brute_force_in_a_wide_window_of_common_words(threshold: float,
                                                                        summary_weight: float) -> None:
    """Many one-report stories over a common vocabulary (the case _candidates' filters are for: most
    stories reached share one or two common terms, most have no tail, and a story's non-essential terms
    are looked up from the largest bound down until the rest cannot lift it), and re-reports that need
    those terms to reach the threshold: the candidates are exactly the brute-force set."""
    import random

    rng = random.Random(11)
    common = ["market", "report", "update", "city", "council", "plan", "vote", "school", "budget", "police",
              "river", "bridge", "storm", "power", "water", "fire", "road", "train", "court", "health"]
    weights = [1.0 / (r + 1) for r in range(len(common))]
    letters = "abcdefghijklmnopqrstuvwxyz"
    ix = StoryIndex(StoryConfig(window=timedelta(hours=24), summary_weight=summary_weight, threshold=threshold))
    recent: list[str] = []
    found = joined = evicted = 0
    for i in range(1500):
        when = T0 + timedelta(minutes=2 * i)
        if recent and rng.random() < 0.5:  # a re-report: a recent title, one to three words dropped or added
            words = rng.choice(recent).split()
            for _ in range(rng.randint(1, 3)):
                r = rng.random()
                if len(words) > 2 and r < 0.4:
                    del words[rng.randrange(len(words))]
                else:
                    words.insert(rng.randrange(len(words) + 1), rng.choices(common, weights)[0] if r < 0.8
                                 else "".join(rng.choice(letters) for _ in range(6)))
        else:
            words = rng.choices(common, weights, k=rng.randint(2, 5))
            for _ in range(rng.randint(1, 2)):
                words.insert(rng.randrange(len(words) + 1),
                             "".join(rng.choice(letters) for _ in range(6)).capitalize())
            recent = (recent + [" ".join(words)])[-200:]
        title = " ".join(words)
        summary = " ".join(rng.choices(common, weights, k=12))  # light summary terms: some stories get tails
        vec = ix.vector(title, summary)
        ts = when.timestamp()
        q = {t: w for t, w in vec.items() if t in ix._df}
        want = brute_candidates(ix, vec, ts)
        assert ({story.story_id for story in ix._candidates(q, ts)} if q else set()) == want
        found += len(want)
        joined += ix.add(i, title, summary, when).joined
        if i % 100 == 0:
            before = ix.story_count
            ix.evict(when)
            evicted += before - ix.story_count
            check_invariants(ix)  # _tailed too, after evictions
    check_invariants(ix)
    assert found > 400 and joined > 300 and ix._tailed and evicted > 100


def _general_start(ix: StoryIndex, item_id: int, ts: float, vec: dict[str, float]) -> None:
    """A story started through the general path (_Story.add, then _refresh): what _start must equal."""
    story = stories_mod._Story(item_id)
    ix._stories[item_id] = story
    ix._items[item_id] = stories_mod._Item(item_id, ts, None)
    for t in story.add(vec.items()):
        ix._df[t] = ix._df.get(t, 0) + 1
    story.members[item_id] = None
    ix._refresh(story, vec)
    story.latest = story.first = ts


def _index_state(ix: StoryIndex) -> tuple[object, ...]:
    # orders that matter later (a centroid's becomes a member's term order, so a summation order) as lists
    return ({sid: (list(s.centroid.items()), s.counts, s.norm2, s.spec2, s.tail2, s.head, list(s.members),
                   s.latest, s.first, s.norm, s.factor) for sid, s in ix._stories.items()},
            {i: (it.story_id, it.ts, it.terms, it.weights) for i, it in ix._items.items()}, ix._heap, ix._seq,
            {t: list(p.items()) for t, p in ix._weights.items()}, {t: list(p.items()) for t, p in ix._high.items()},
            ix._df, ix._ub, ix._ub_stale, ix._nf, ix._ref, ix._scale, ix._tailed)


def _start_both_ways(texts: list[tuple[str, str]], cfg: StoryConfig) -> StoryIndex:
    """Start a story with each (title, summary) through _start and through the general path; the two
    indexes must be equal after each. Returns the first."""
    fast, general = StoryIndex(cfg), StoryIndex(cfg)
    for i, (title, summary) in enumerate(texts):
        vec = fast.vector(title, summary)
        assert general.vector(title, summary) == vec
        ts = (T0 + timedelta(minutes=i)).timestamp()
        fast._start(i, i, ts, dict(vec))
        _general_start(general, i, ts, dict(vec))
        general._seq += 1  # what _insert does after _refresh
        heapq.heappush(general._heap, (ts, general._seq - 1, i))
        assert _index_state(fast) == _index_state(general)
    check_invariants(fast)
    return fast


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(words, min_size=0, max_size=8).map(" ".join),
                          st.lists(words, min_size=0, max_size=30).map(" ".join)), min_size=1, max_size=12),
       st.sampled_from([0.3, 0.55, 1.0, 6.0]), st.sampled_from([0.5, 0.05]))
def test_a_first_item_leaves_the_state_the_general_path_leaves(texts: list[tuple[str, str]],
                                                               threshold: float, summary_weight: float) -> None:
    # _start is a shortcut for a story's first item: the same floats, postings and bounds as _Story.add +
    # _refresh (threshold 6: the head is not rebuilt at once, so _start hands over to _refresh)
    _start_both_ways(texts, StoryConfig(threshold=threshold, summary_weight=summary_weight))


def test_a_first_item_with_light_summary_terms_has_a_tail() -> None:
    # the case the property above must cover: terms left out of the head, a tail bound to get right
    texts = [("Storm hits coast of Japan", "Fed raises rates as oil prices fall and Senate passes budget bill"),
             ("Court rules against Google", "league final ends in a draw after quake strikes Japan coast")]
    ix = _start_both_ways(texts, StoryConfig(summary_weight=0.05))
    assert all(story.tail2 > 0.0 and ix._scale[sid][1] > 0.0 for sid, story in ix._stories.items())


def test_same_adds_same_stories_across_runs() -> None:
    rows = load_seed()

    def once() -> list[StoryMatch]:
        ix = StoryIndex(StoryConfig())
        out = []
        for k in range(3):  # the seed three times over, a day apart: reports join their earlier copies
            for i, (ts, _, _, title) in enumerate(rows):
                out.append(ix.add(k * 100 + i, title, "", ts + timedelta(hours=30 * k)))
            ix.evict(rows[-1][0] + timedelta(hours=30 * k))
        return out

    assert once() == once()


# -- semantic mode (an index given an embedder) ---------------------------------------------------
# A fake embedder made here (numpy only): each word is a mix of its topic's vector and its own, so
# reports of one topic are semantically close without sharing words. The real model is tested in
# tests/test_semantic.py.

TOPICS = {
    "fed": 0, "raises": 0, "rates": 0, "budget": 0, "oil": 0, "prices": 0, "fall": 0,
    "apple": 1, "unveils": 1, "iphone": 1, "google": 1,
    "storm": 2, "hits": 2, "coast": 2, "quake": 2, "strikes": 2, "japan": 2,
    "senate": 3, "passes": 3, "bill": 3, "court": 3, "rules": 3, "against": 3,
    "league": 4, "final": 4, "ends": 4, "draw": 4,
}


def fake_embedder(dim: int = 16):  # type: ignore[no-untyped-def]
    np = pytest.importorskip("numpy")
    import hashlib

    def unit(key: str):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little"))
        v = rng.normal(size=dim)
        return v / np.linalg.norm(v)

    def embed(texts):  # type: ignore[no-untyped-def]
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, text in enumerate(texts):
            v = unit("")
            for w in text.lower().split():
                v = v + 0.9 * unit(f"topic{TOPICS.get(w, w)}") + 0.45 * unit(w)
            out[i] = v / np.linalg.norm(v)
        return out

    return embed


def lexical_score(ix: StoryIndex, story: stories_mod._Story, vec: dict[str, float]) -> float:
    if story.norm == 0.0:
        return 0.0
    dot = sum(w * story.centroid.get(t, 0.0) for t, w in vec.items())
    score = dot / (story.norm * story.factor)
    qspec = [(t, w) for t, w in vec.items() if stories_mod._specific(t)]
    if qspec and story.spec2 > 0:
        score *= 1 - ix.config.conflict_penalty * stories_mod._conflict(qspec, story.centroid, story.spec2,
                                                                         story.norm2)
    return score


def brute_blend(ix: StoryIndex, embs: dict[int, object], vec: dict[str, float], e: object,
                ts: float) -> list[tuple[float, int]]:
    """(blended score, story id) of every live story in the window, best first, computed here from the
    members' embeddings (float64) and the lexical centroids, without the index's candidate generation."""
    import numpy as np

    cfg = ix.config
    w = cfg.semantic_weight
    out = []
    for sid, story in ix._stories.items():
        if abs(ts - story.latest) > ix._window_s or ts - story.first > ix._window_s:
            continue
        s = np.sum([np.asarray(embs[m], dtype=np.float64) for m in story.members], axis=0)
        norm = float(np.linalg.norm(s))
        factor = min(1.0, max(norm / len(story.members), cfg.min_cohesion)) ** cfg.cohesion_power
        sem = float(s @ np.asarray(e, dtype=np.float64)) / (norm * factor)
        out.append((w * lexical_score(ix, story, vec) + (1 - w) * sem, sid))
    out.sort(key=lambda x: (-x[0], x[1]))
    return out


def check_semantic_invariants(ix: StoryIndex, embs: dict[int, object]) -> None:
    import numpy as np

    sem = ix._sem
    assert sem is not None
    assert set(sem.row_of) == set(ix._stories) and set(sem.item_emb) == set(ix._items)
    for sid, row in sem.row_of.items():
        assert sem.sid_of[row] == sid
        want = np.sum([embs[m] for m in ix._stories[sid].members], axis=0)
        np.testing.assert_allclose(sem.mat[row], want, atol=1e-5)
    for row in sem.free:
        assert sem.sid_of[row] == -1 and not sem.mat[row].any() and sem.nf[row] == float("inf")


@settings(max_examples=40, deadline=None)
@given(streams, st.integers(0, 250), st.sampled_from([0.3, 0.5, 0.7]), st.sampled_from([0.55, 0.65, 0.75]))
def test_blended_best_matches_brute_force(stream: list[tuple[str, int]], evict_h: int, weight: float,
                                          threshold: float) -> None:
    """Candidates stay exact in semantic mode: the index joins the story a scan of every live story picks."""
    embed = fake_embedder()
    cfg = StoryConfig(window=timedelta(hours=48), threshold=threshold, semantic_weight=weight)
    ix = StoryIndex(cfg, embed)
    embs: dict[int, object] = {}
    for i, (title, h) in enumerate(sorted(stream, key=lambda x: x[1])):
        when = T0 + timedelta(hours=h)
        if h >= evict_h:
            ix.evict(when)
        vec = ix.vector(title)
        e = embed([title])[0]
        ranked = brute_blend(ix, embs, vec, e, when.timestamp())
        m = ix.add(i, title, "", when)
        embs[i] = e
        if ranked and ranked[0][0] >= threshold + 1e-6:
            tied = {sid for s, sid in ranked if s >= ranked[0][0] - 1e-6}
            assert m.joined and m.story_id in tied and abs(m.score - ranked[0][0]) < 1e-5
        elif not ranked or ranked[0][0] < threshold - 1e-6:
            assert not m.joined and m.story_id == i
        check_semantic_invariants(ix, embs)
        check_invariants(ix)
    ix.evict(T0 + timedelta(days=60))
    assert len(ix) == 0 and ix.story_count == 0 and not ix._sem.row_of and not ix._sem.item_emb  # type: ignore[union-attr]


def test_semantic_story_started_by_a_termless_item_can_lose_members() -> None:
    """Only the semantic mode lets an item join a story whose first item has no terms (a title of stopwords);
    that story keeps its per-term counts, so evicting its members works (found by the property above)."""
    ix = StoryIndex(StoryConfig(window=timedelta(hours=48), threshold=0.55, semantic_weight=0.3), fake_embedder())
    ix.add(0, "against", "", T0)
    m = ix.add(1, "Senate", "", T0)
    assert m.joined and m.story_id == 0
    check_invariants(ix)
    ix.evict(T0 + timedelta(days=60))
    assert len(ix) == 0 and ix.story_count == 0


def test_semantic_joins_what_words_alone_do_not() -> None:
    embed = fake_embedder()
    lexical = StoryIndex(StoryConfig(threshold=0.65))
    blended = StoryIndex(StoryConfig(threshold=0.65, semantic_weight=0.3), embed)
    for ix in (lexical, blended):
        ix.add(1, "storm hits coast", "", T0)
        ix.add(2, "court rules against bill", "", T0)
    # same topic as item 1, one shared word: the embeddings carry it over the threshold
    assert not lexical.add(3, "quake strikes coast Japan", "", T0).joined
    m = blended.add(3, "quake strikes coast Japan", "", T0)
    assert m.joined and m.story_id == 1 and m.matched_item == 1
    assert not blended.add(4, "league final ends draw", "", T0).joined
    ex = explain("storm hits coast", "", "quake strikes coast Japan", "", index=blended)
    assert ex.semantic is not None and ex.lexical is not None
    assert abs(ex.score - (0.3 * ex.lexical + 0.7 * ex.semantic)) < 1e-9
    assert any("semantic cosine" in line for line in ex.lines)


def test_semantic_rebuild_from_known_items_matches() -> None:
    embed = fake_embedder()
    cfg = StoryConfig(window=timedelta(hours=24), threshold=0.6)
    live = StoryIndex(cfg, embed)
    rows = ["storm hits coast", "quake strikes coast", "Fed raises rates", "Fed raises rates again",
            "court rules against bill", "Apple unveils iPhone", "storm hits Japan coast", "oil prices fall"]
    began: dict[int, datetime] = {}  # story -> its first report's time (the store's stories.published)
    for i, title in enumerate(rows):
        sid = live.add(i, title, "", T0 + timedelta(hours=i * 4)).story_id
        began.setdefault(sid, T0 + timedelta(hours=i * 4))
    live.evict(T0 + timedelta(hours=30))
    assert 0 < len(live) < len(rows)
    rebuilt = StoryIndex(cfg, embed)
    known = [(i, rows[i], "", T0 + timedelta(hours=i * 4), live.story_of(i)) for i in sorted(live._items)]
    rebuilt.add_known_many(iter(known), batch_size=2)
    for sid in {k[4] for k in known}:  # as load_story_index does: the stories begun before the window
        rebuilt.story_began(sid, began[sid])
    assert {i: rebuilt.story_of(i) for i, *_ in known} == {i: live.story_of(i) for i, *_ in known}
    a, b = live._sem, rebuilt._sem
    assert a is not None and b is not None and not b.pending
    for sid in live._stories:
        import numpy as np

        np.testing.assert_allclose(a.mat[a.row_of[sid]], b.mat[b.row_of[sid]], atol=1e-6)
        assert a.nf[a.row_of[sid]] == pytest.approx(b.nf[b.row_of[sid]])
    when = T0 + timedelta(hours=31)
    assert live.add(100, "storm hits Japan coast", "", when).story_id == rebuilt.add(
        100, "storm hits Japan coast", "", when).story_id


def test_precompute_batches_embeddings() -> None:
    calls: list[int] = []
    inner = fake_embedder()

    def embed(texts):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return inner(texts)

    ix = StoryIndex(StoryConfig(threshold=0.65), embed)
    titles = ["storm hits coast", "quake strikes coast", "storm hits coast"]
    ix.precompute(titles)
    for i, t in enumerate(titles):
        ix.add(i, t, "", T0)
    assert calls == [2]  # one batch of the distinct titles, nothing embedded one at a time
    ix.add(9, "oil prices fall", "", T0)
    assert calls == [2, 1]


def test_lexical_mode_never_imports_numpy() -> None:
    import subprocess
    import sys

    code = ("import sys; from datetime import datetime, UTC; from feeds.stories import StoryIndex, explain; "
            "ix = StoryIndex(); ix.add(1, 'Fed raises rates', '', datetime.now(UTC)); "
            "ix.add(2, 'Fed raises rates again', '', datetime.now(UTC)); explain('a b', '', 'a c', ''); "
            "ix.evict(datetime.now(UTC)); assert 'numpy' not in sys.modules, 'numpy imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_semantic_weight_must_be_inside_zero_one() -> None:
    with pytest.raises(ValueError, match="semantic_weight"):
        StoryIndex(StoryConfig(semantic_weight=1.0), fake_embedder())


# -- stored vectors -------------------------------------------------------------------------------

_term_keys = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_term_keys, st.floats(0.001, 1e6), max_size=40))
def test_vector_encoding_round_trips_exactly_and_in_order(raw: dict[str, float]) -> None:
    norm = math.sqrt(math.fsum(w * w for w in raw.values()))
    vec = {k: w / norm for k, w in raw.items()}  # unit vectors, as vector() gives
    back = stories_mod.decode_vector(stories_mod.encode_vector(vec))
    assert back == vec and list(back or {}) == list(vec)
    if vec:  # not a unit vector (damaged, or NaN): refused
        k = next(iter(vec))
        for w in (vec[k] * 2 + 1, math.nan, math.inf):
            assert stories_mod.decode_vector(stories_mod.encode_vector(dict(vec, **{k: w}))) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_decoding_any_bytes_gives_a_vector_or_none(blob: bytes) -> None:
    out = stories_mod.decode_vector(blob)
    assert out is None or (isinstance(out, dict) and all(out))


_stored = stories_mod.encode_vector({"storm": 0.6, "coast": 0.48, "japan": 0.64})


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_stored) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_decoding_a_damaged_vector_gives_a_vector_or_none(edits: list[tuple[int, int]]) -> None:
    # a real row with bytes overwritten: the format, the count, the weights or the terms
    blob = bytearray(_stored)
    for at, value in edits:
        blob[at] = value
    out = stories_mod.decode_vector(bytes(blob))
    assert out is None or (isinstance(out, dict) and all(out) and len(out) == 3)


def test_a_count_damaged_to_zero_is_not_the_empty_vector() -> None:
    # found by the test above: a count byte overwritten with 0 read the row as the empty vector, so the
    # item would have entered the index with no terms instead of having its vector computed again
    blob = bytearray(_stored)
    blob[1] = 0
    assert stories_mod.decode_vector(bytes(blob)) is None
    assert stories_mod.decode_vector(stories_mod.encode_vector({})) == {}


def test_decoding_weights_that_would_overflow_gives_none() -> None:
    # finite weights whose squares overflow a float: refused, not raised
    big = 1.2e154
    assert stories_mod.decode_vector(stories_mod.encode_vector({"a": big, "b": big})) is None
    assert stories_mod.decode_vector(stories_mod.encode_vector({"a": 1.0})) == {"a": 1.0}


def test_item_vector_is_the_vector_an_item_entered_with() -> None:
    ix = StoryIndex(StoryConfig())
    seed = load_seed()
    vecs = {}
    for i, (ts, _, _, title) in enumerate(seed):
        vecs[i] = ix.vector(title, "")
        ix.add(i, title, "", ts)
    # every item still returns its own vector, also after others joined its story
    assert any(len(ix.members(ix.story_of(i) or -1)) > 1 for i in vecs)
    assert all(ix.item_vector(i) == vecs[i] and list(ix.item_vector(i)) == list(vecs[i]) for i in vecs)
    assert all(ix.item_vector(i) == stories_mod.decode_vector(stories_mod.encode_vector(ix.item_vector(i)))
               for i in vecs)
    again = StoryIndex(StoryConfig())
    for i, (ts, _, _, title) in enumerate(seed):
        again.add_known(i, title, "", ts, ix.story_of(i) or i, vector=ix.item_vector(i))
    assert all(again.item_vector(i) == ix.item_vector(i) for i in vecs)


def test_a_vector_of_a_huge_text_is_stored_too() -> None:
    # a hostile feed's title can hold more distinct terms than a 16-bit count
    keys = [f"w{i}" for i in range(70_000)]
    vec = dict.fromkeys(keys, 1 / math.sqrt(len(keys)))
    back = stories_mod.decode_vector(stories_mod.encode_vector(vec))
    assert back is not None and list(back) == keys


# -- installments and a feed's template ------------------------------------------------------------


def test_installments_of_a_series_are_never_one_story() -> None:
    # in a title, a number right after a series word is its own term; two installments conflict outright
    assert [t.key for t in terms("Structuring my Sass 101, part 2.")] == ["structur", "sass", "101", "part", "2#part"]
    assert "23#vol" in {t.key for t in terms("Gilbert Vol. 23, No. 3 (2020)")}
    for a, b in [("Structuring my Sass 101, part 1.", "Structuring my Sass 101, part 2."),
                 ("MVC postback without JavaScript - Episode 2", "MVC postback without JavaScript - Episode 1"),
                 ("Gilbert Vol. 23 (2020)", "Gilbert Vol. 24 (2020)")]:
        for x, y in ((a, b), (b, a)):  # symmetric
            e = explain(x, "", y, "")
            assert e.conflict == 1.0 and e.score == 0.0 and not e.same_story
            ix = StoryIndex()
            ix.add(1, x, "", T0)
            assert not ix.add(2, y, "", T0 + timedelta(minutes=5)).joined
    # the same installment reworded (or written "Ep. 01"), or a series word without a number, still joins
    assert explain("Fed raises rates, part 2", "", "Fed raises rates again, part 2", "").same_story
    assert explain("Fed raises rates, part 2", "", "Fed raises rates again", "").same_story
    assert explain("Ep. 01 of the Daily", "", "Episode 1 of the Daily", "").same_story
    # however the number is written: digits, a word, a Roman numeral
    for t in ("Structuring Sass, Part 2", "Structuring Sass, Part Two", "Structuring Sass, part II"):
        assert "2#part" in {x.key for x in terms(t)}
    assert explain("Structuring Sass, Part Two", "", "Structuring Sass, Part III", "").score == 0.0
    # each series word keeps its own number, even when the numbers are the same
    assert [t.key for t in terms("Season 1, Episode 1: Pilot")] == ["season", "1#season", "episod", "1#episod",
                                                                    "pilot"]
    assert explain("The Daily Show Season 2 Episode 2", "", "The Daily Show Season 3 Episode 2", "").score == 0.0
    assert explain("Gilbert Vol. 3, Part 3", "", "Gilbert Vol. 4, Part 3", "").score == 0.0


def test_what_is_not_an_installment() -> None:
    # a ranking, a year after "post", a sentence that ends after "part", an ordinal, a summary's mention
    assert [t.key for t in terms("Sinner, world No. 1, wins")] == ["sinner", "world", "1", "win"]
    assert "2020" in {t.key for t in terms("Markets post 2020 gains")}
    assert "2" in {t.key for t in terms("He played a part. 2 people died")}
    assert not any("#" in t.key for t in terms("The part I liked"))  # one letter: not a numeral here
    assert not any("#" in t.key for t in terms("Part IIII of the saga"))  # not a valid numeral
    assert not any("#" in t.key for t in terms("Rocky IV review"))  # no series word
    assert not any("#" in t.key for t in terms("Book Xi Jinping's memoir"))  # a name, not XI
    # a score or a compound: "series 3-1" and "series 1-3" are one game seen from each side
    assert not any("#" in t.key for t in terms("Lakers lead series 3-1, book one-way flights"))
    assert explain("Lakers lead series 3-1", "", "Nuggets trail series 1-3", "").conflict < 1.0
    # the number right after "part" only: "a part. 2 people" is not part 2, the later "part 2" is
    assert [t.key for t in terms("He played a part. 2 people died, part 2")][-2:] == ["di", "2#part"]
    assert explain("Sinner, world No. 1, wins Australian Open final", "",
                   "No. 4 Zverev loses Australian Open final to Sinner", "").same_story
    # an installment term weighs what its number weighs: two unrelated "part 1" posts do not join on it
    assert not explain("My week, part 1", "", "Cooking tips, part 1", "").same_story
    assert not explain("Learning Rust in 2024, part 1", "", "Deploying Kubernetes in 2024, part 1", "").same_story
    # "in part 1 we..." in part 2's summary does not make it part 1: the later part 1 stays apart
    ix = StoryIndex()
    ix.add(1, "Structuring my Sass 101, part 2", "In part 1 we set up the folders; now the partials", T0)
    assert not ix.add(2, "Structuring my Sass 101, part 1", "Setting up the folders", T0).joined


# a blog whose posts share a column name in the title and boilerplate in the summary
_BLOG = [(f"TMIL: {topic} in React", f"Consolidated this concept while working on a website made in React. {more}")
         for topic, more in [("styling", "Colours and layout."), ("forms", "Inputs and validation."),
                             ("rendering arrays", "Keys and lists."), ("raw APIs", "createElement by hand."),
                             ("custom components", "Props and children."), ("using JSX", "Syntax sugar.")]]


# a daily column: one post a day, so the template recurs over more than the 72 h window
_BLOG_DOC = [(t, s, (T0 + timedelta(days=i)).timestamp()) for i, (t, s) in enumerate(_BLOG)]


def test_a_source_profile_weighs_down_what_a_feed_document_repeats() -> None:
    ix = StoryIndex()
    prof = ix.source_profile(_BLOG_DOC + _BLOG_DOC[:2])  # repeated entries count once
    assert set(prof.factors) >= {"tmil", "react", "consolid", "concept", "websit"}
    assert all(0.0 <= f < 1.0 for f in prof.factors.values())
    assert "style" not in prof.factors and "form" not in prof.factors  # one entry each: not the template
    assert ix.source_profile(_BLOG_DOC[:4]).factors == {}  # fewer than PROFILE_MIN_ENTRIES entries: no profile
    plain, weighed = ix.vector(*_BLOG[0]), ix.vector(*_BLOG[0], prof)
    assert weighed["tmil"] < plain["tmil"] and weighed["style"] > plain["style"]
    assert abs(math.fsum(w * w for w in weighed.values()) - 1.0) < 1e-9
    # the same posts within one window: what they share may be one event, so it is not a template
    burst = [(t, s, T0.timestamp() + 3600 * i) for i, (t, s) in enumerate(_BLOG)]
    assert ix.source_profile(burst).factors == {}


def test_a_template_needs_more_than_the_window_between_distinct_entries() -> None:
    ix = StoryIndex()
    window = StoryConfig().window.total_seconds()
    # exactly the window apart is not more than it
    edge = [(t, s, T0.timestamp() + window * (i % 2)) for i, (t, s) in enumerate(_BLOG)]
    assert ix.source_profile(edge).factors == {}
    edge[-1] = (*edge[-1][:2], edge[-1][2] + 1.0)
    assert "tmil" in ix.source_profile(edge).factors
    # one entry listed again later (another id, the same text) counts once, at its earliest time
    burst = [(t, s, T0.timestamp() + 3600 * i) for i, (t, s) in enumerate(_BLOG)]
    assert ix.source_profile(burst + [(*burst[0][:2], T0.timestamp() + 10 * window)]).factors == {}


def test_a_feeds_template_does_not_make_its_posts_one_story_but_other_outlets_still_join() -> None:
    plain, profiled = StoryIndex(), StoryIndex()
    prof = profiled.source_profile(_BLOG_DOC)
    for i, (title, summary, ts) in enumerate(_BLOG_DOC):
        published = datetime.fromtimestamp(ts, UTC)
        plain.add(i, title, summary, published)
        profiled.add(i, title, summary, published, prof)
    assert plain.story_count < len(_BLOG)  # without the profile the shared template joins posts
    assert profiled.story_count == len(_BLOG)
    # a re-report of the first post by another outlet (no template of its own) joins it
    m = profiled.add(100, "TMIL: styling in React explained", "Colours and layout in React.", T0 + timedelta(hours=1))
    assert m.joined and m.story_id == 0


# a news site's feed reporting one event three times in a night under reworded headlines (the seed's case),
# with other news around it over two days
_BILL = "The House of Representatives narrowly passed the president's tax and spending bill after a night of talks."
_NEWS = [("Trump Celebrates Legislative Win Amid Political Risks", _BILL, 10),
         ("Trump's 'Big, Beautiful Bill' Passes in Congress Amid Controversy", _BILL, 6),
         ("House Greenlights Trump's Controversial Domestic Policy Bill", _BILL, 0),
         ("Hamas consults Palestinian groups on Gaza ceasefire", "Talks in Cairo resumed on Friday.", 12),
         ("North Korea opens Wonsan Kalma beach resort", "Only domestic tourists are allowed for now.", -8),
         ("China silent as U.S. debt bill sparks questions", "Beijing holds over $700 billion of U.S. debt.", 9),
         ("Russia recognises Taliban government in Afghanistan", "Moscow is the first to do so.", 4)]


def test_one_event_a_feed_reports_several_times_is_not_its_template_and_its_reports_join() -> None:
    night = [(t, s, T0.timestamp() + 3600 * h) for t, s, h in _NEWS]
    week = [(t, s, T0.timestamp() + 86400 * 3 * i) for i, (t, s, _) in enumerate(_NEWS)]
    for doc, joins in ((night, True), (week, False)):
        ix = StoryIndex()
        prof = ix.source_profile(doc)
        # in one night, three entries sharing words report an event; spread over weeks, they are the template
        assert bool(prof.factors.keys() & {"hous", "pass", "trump"}) is not joins
        ix.add(2, *night[2][:2], datetime.fromtimestamp(night[2][2], UTC), prof)
        m = ix.add(1, *night[1][:2], datetime.fromtimestamp(night[1][2], UTC), prof)
        assert m.joined is joins  # "House Greenlights ... Bill" / "... Bill Passes in Congress ..."


# -- a series' siblings in one feed document --------------------------------------------------------

# posts of one series in real feeds (docs/stories.md): one frame of words, fillings with no term in common
_SIBLINGS = [
    ("Secure SSH Setup", "Secure User Setup"),
    ("SOLID Principles - OCP", "SOLID Principles - SRP"),
    ("Inside geoWrite \u2013 4: Zero Page", "Inside geoWrite \u2013 3: Font Management"),
    ("Configuring Consul DNS Forwarding in Alpine Linux", "Configuring Consul DNS Forwarding in Ubuntu 16.04"),
    ("Magazine solutions - February 27, 2026", "Magazine printables - February 27, 2026"),
    ("2026 Winter Olympics opening ceremony - as it happened", "2026 Winter Olympics: What you need to know"),
    ("Gilbert Vol. 23, No. 3 (2020)", "Gilbert Vol. 23, No. 2 (2019)"),  # numbers are terms
    ("MVC postback for users without JavaScript - Post 2", "MVC postback for users without JavaScript - Post 1"),
    # so one feed's successive figures of an event are two entries (each with other outlets' reports of it)
    ("Earthquake death toll rises to 40", "Earthquake death toll rises to 52"),
]
_NOT_SIBLINGS = [
    # the fillings share terms (Bangladesh, PM = prime minister): a feed's reworded follow-up
    ("Tarique Rahman sworn in as Bangladesh\u2019s PM after landslide election victory",
     "Tarique Rahman sworn in as Prime Minister of Bangladesh"),
    ("Tarique Rahman sworn in as PM", "Tarique Rahman sworn in as Prime Minister"),  # one term, read whole
    ("Trade talks with US resume", "Trade talks with United States resume"),
    ("Man charged over stabbing in Leeds", "Man charged after stabbing in Leeds"),  # stopwords only
    ("Apple to buy Beats for $3bn", "Apple will buy Beats for $3bn"),
    ("Unit Testing with Pulumi in F#", "Unit Testing with Pulumi in C#"),  # one letter each: no term
    ("US civil rights leader Jesse Jackson dies aged 84", "Civil rights leader Jesse Jackson dies, aged 84"),  # added
    ("Service Lookup", "Service Lookup Continued"),  # one title is the other with a word added
    ("Live: Kyiv live", "Live: Kyiv live: Kyiv live"),  # likewise, the frame's ends overlapping
    ("Docker Volumes", "Compose and Volumes"),  # a frame of one word
    ("Halo Infinite", "Halo Infinite"),  # the same title
    ("Fed raises rates, again", "Fed raises rates again"),  # the same words
    # British and American spelling of one word: one term
    ("Russia becomes first country to recognise the Taliban government in Afghanistan",
     "Russia Recognizes Taliban Government in Afghanistan"),
]


def test_posts_of_one_series_in_a_document_are_siblings() -> None:
    for a, b in _SIBLINGS:
        assert siblings([a, b, "Unrelated post about gardening"]) == {a: frozenset({b}), b: frozenset({a})}
        ix = StoryIndex()
        assert ix.source_profile([(a, "", 0.0), (b, "", 60.0)]).siblings == siblings([a, b])
    for a, b in _NOT_SIBLINGS:
        assert siblings([a, b]) == {}
    three = ["Secure SSH Setup", "Secure User Setup", "Secure Firewall Setup"]
    assert siblings(three) == {t: frozenset(three) - {t} for t in three}
    assert StoryIndex().source_profile([(t, "", 0.0) for t in three]).siblings == siblings(three)
    # a long series: every pair is found among 60 titles sharing the frame's words
    many = [f"Secure {w} Setup" for w in _words_n(60)]
    assert siblings(many) == {t: frozenset(many) - {t} for t in many}
    # beyond SIBLING_BUCKET titles only the first are compared: the profile gives them newest first, so a
    # feed listed oldest first still has its newest post compared
    n = stories_mod.SIBLING_BUCKET + 16
    doc = [(f"Weekly Podcast: {w}", "", T0.timestamp() + 86400 * i) for i, w in enumerate(_words_n(n))]
    newest = doc[-1][0]
    assert len(StoryIndex().source_profile(doc).siblings[newest]) == stories_mod.SIBLING_BUCKET - 1
    assert newest not in siblings(t for t, _, _ in doc)


def _words_n(n: int) -> list[str]:
    """n distinct words, each its own term."""
    return ["".join("bcdfghjklmnpqrstvwxz"[(i // 20**k) % 20] for k in range(3)) + "o" for i in range(n)]


def test_a_post_never_joins_the_story_of_its_sibling_but_other_reports_still_join() -> None:
    ocp, srp = "SOLID Principles - OCP", "SOLID Principles - SRP"
    assert explain(ocp, "", srp, "").same_story  # without the rule they would be one story
    ix = StoryIndex()
    prof = ix.source_profile([(ocp, "", 0.0), (srp, "", 0.0)])
    assert prof.siblings[srp] == {ocp}
    # what the pipeline passes as exclude: the items of the title's siblings (stored or new), not its own
    assert prof.sibling_items(srp, {ocp: [1, 4], srp: [3], "Other post": [5]}) == [1, 4]
    assert prof.sibling_items("Other post", {ocp: [1]}) == []
    ix.add(1, ocp, "", T0, prof)
    assert ix.add(2, "SOLID principles: OCP", "", T0 + timedelta(minutes=1)).story_id == 1  # another outlet
    m = ix.add(3, srp, "", T0 + timedelta(minutes=2), prof, exclude=[1])
    assert not m.joined and m.story_id == 3
    # a re-report of the second post joins it; ids not in the index are ignored
    assert ix.add(4, "SOLID principles: SRP", "", T0 + timedelta(minutes=3), exclude=[99]).story_id == 3
    assert ix.story_count == 2


def test_semantic_mode_keeps_a_post_out_of_its_siblings_story_too() -> None:
    ocp, srp = "SOLID Principles - OCP", "SOLID Principles - SRP"
    for exclude, joined in (([], True), ([1], False)):
        ix = StoryIndex(StoryConfig(semantic_weight=0.5, threshold=0.5), fake_embedder())
        ix.add(1, ocp, "", T0)
        m = ix.add(2, srp, "", T0 + timedelta(minutes=1), exclude=exclude)
        assert m.joined is joined and (m.story_id == 1) is joined


def _ref_siblings(titles: list[str]) -> dict[str, frozenset[str]]:
    """siblings() by brute force over every pair."""
    import os

    words = {t: stories_mod._TOKEN.findall(normalize_text(t)) for t in dict.fromkeys(titles) if t}
    out: dict[str, set[str]] = defaultdict(set)
    for a, b in itertools.combinations(words, 2):
        x, y = [w.lower() for w in words[a]], [w.lower() for w in words[b]]
        p = len(os.path.commonprefix([x, y]))
        s = len(os.path.commonprefix([x[p:][::-1], y[p:][::-1]]))
        fa, fb = words[a][p : len(x) - s], words[b][p : len(y) - s]
        if p + s < stories_mod.SIBLING_MIN_FRAME or not fa or not fb:
            continue
        if {t.key for w in fa for t in terms(w)} & {t.key for w in fb for t in terms(w)}:
            continue
        ka, kb = {t.key for t in terms(" ".join(fa))}, {t.key for t in terms(" ".join(fb))}
        if not ka or not kb or ka & kb:
            continue
        out[a].add(b)
        out[b].add(a)
    return {t: frozenset(v) for t, v in out.items()}


_title_words = st.sampled_from(["Secure", "secure", "SSH", "Setup", "user", "part", "the", "Fed", "rates",
                                "Kyiv", "Ukraine", "2", "3", "-", ":", "in", "Linux", "PM", "prime", "minister",
                                "Prime", "Minister", "over", "after", "US", "United", "States"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_title_words, min_size=1, max_size=6).map(" ".join), max_size=12))
def test_siblings_match_a_brute_force_over_every_pair(titles: list[str]) -> None:
    got = siblings(titles)
    assert got == _ref_siblings(titles)
    assert all(t not in sib and all(t in got[u] for u in sib) for t, sib in got.items())  # irreflexive, symmetric


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.lists(words, min_size=0, max_size=6).map(" ".join),
                          st.lists(words, min_size=0, max_size=12).map(" ".join),
                          st.integers(0, 24 * 8).map(lambda h: T0.timestamp() + 3600 * h)), min_size=0, max_size=14))
# found by a random run: an entry listed twice, 73 h apart, is one entry at its earlier time (not a template)
@example(document=[("", "", 1751630400.0), ("", "Fed", 1751630400.0), ("", "Fed", 1751893200.0),
                   ("", "Fed Fed", 1751630400.0), ("", "raises", 1751630400.0), ("Fed", "", 1751630400.0)])
def test_source_profile_properties(document: list[tuple[str, str, float]]) -> None:
    ix = StoryIndex()
    prof = ix.source_profile(document)
    distinct = list(dict.fromkeys((t, s) for t, s, _ in document))
    if len(distinct) < stories_mod.PROFILE_MIN_ENTRIES:
        assert prof.factors == {}
    df: dict[str, int] = defaultdict(int)
    times: dict[str, list[float]] = defaultdict(list)
    for title, summary in distinct:
        tt, ss = ix._item_terms(title, summary)
        for k in {k for k, _ in tt} | {k for k, _ in ss}:
            df[k] += 1
            # an entry listed twice counts once, at its earliest time (source_profile's docstring)
            times[k].append(min(ts for t, s, ts in document if (t, s) == (title, summary)))
    least = max(stories_mod.TEMPLATE_MIN_ENTRIES, stories_mod.TEMPLATE_MIN_SHARE * len(distinct))
    window = StoryConfig().window.total_seconds()

    def template(k: str) -> bool:
        return df[k] >= least and max(times[k]) - min(times[k]) > window

    assert all(template(k) and 0.0 < f <= 1.0 for k, f in prof.factors.items())
    if len(distinct) >= stories_mod.PROFILE_MIN_ENTRIES:
        assert set(prof.factors) == {k for k in df if template(k)}
    for title, summary in distinct:
        plain, weighed = ix.vector(title, summary), ix.vector(title, summary, prof)
        assert set(plain) == set(weighed)
        assert not weighed or abs(math.fsum(w * w for w in weighed.values()) - 1.0) < 1e-9
        # terms outside the template keep their proportions; template terms only lose weight relative to them
        rest = [k for k in plain if k not in prof.factors]
        for a, b in itertools.pairwise(rest):
            assert math.isclose(weighed[a] * plain[b], weighed[b] * plain[a], rel_tol=1e-9, abs_tol=1e-12)
        for k in prof.factors.keys() & plain.keys():
            for r in rest:
                assert weighed[k] * plain[r] <= plain[k] * weighed[r] * (1 + 1e-9)


def test_revision_markers_are_not_installments() -> None:
    w = stories_mod.without_revision
    assert w("UPDATE 2-Oil sinks on weak China data") == "Oil sinks on weak China data"
    assert w("Oil Futures Fall as China Signals Demand Concerns -- Update") == \
        "Oil Futures Fall as China Signals Demand Concerns"
    assert w("Merger deal agreed -- 2nd Update") == w("Merger deal agreed (Update 3)") == "Merger deal agreed"
    assert w("REFILE-Oil sinks") == "Oil sinks"
    # "update" as a word of the headline stays
    assert w("Titanfall requires day one patch update") == "Titanfall requires day one patch update"
    assert w("Pre-update notes for the release") == "Pre-update notes for the release"
    got = stories_mod.siblings(["Merger deal agreed by banana firms -- 2nd Update",
                                "Merger deal agreed by banana firms -- 3rd Update",
                                "Making sourdough bread, part 1: the starter",
                                "Making sourdough bread, part 2: the starter"])
    assert "Merger deal agreed by banana firms -- 2nd Update" not in got  # revisions: no siblings
    assert got["Making sourdough bread, part 1: the starter"] == {"Making sourdough bread, part 2: the starter"}


def test_revision_markers_with_a_colon_or_a_dash_are_taken_off() -> None:
    w = stories_mod.without_revision
    assert w("REFILE: Oil sinks on weak China data") == "Oil sinks on weak China data"
    assert w("CORRECTED: Oil sinks on weak China data") == "Oil sinks on weak China data"
    assert w("UPDATE 3\u2014Oil sinks") == "Oil sinks"


def test_a_huge_titles_terms_come_from_its_head() -> None:
    """A hostile title of megabytes cost seconds and hundreds of MB when read, and again at every run of the
    story window (its stored vector): its terms are read from its first MAX_TITLE_CHARS characters."""
    from feeds.stories import MAX_TITLE_CHARS

    head = " ".join(f"word{i}" for i in range(200))
    title = head + " " + "x" * (MAX_TITLE_CHARS - len(head)) + " zanzibar " + "filler " * 2000
    ix = StoryIndex(StoryConfig())
    vec = ix.vector(title)
    assert "word0" in vec and "word199" in vec
    assert not any("zanzibar" in t for t in vec) and len(vec) <= 202


def test_evicting_a_story_whose_reports_share_one_time_keeps_its_latest_time() -> None:
    import random

    rng = random.Random(5)
    ix = StoryIndex(StoryConfig())
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [t0 + timedelta(hours=rng.choice([0, 0, 0, 1, 2, 30, 60])) for _ in range(400)]
    for i, t in enumerate(sorted(times)):
        ix.add(i, rng.choice(["Storm closes the coast road", "Storm closes coast road again"]), "", t)
    for hours in (73, 74, 75, 103, 133):
        ix.evict(t0 + timedelta(hours=hours))
        for story in ix._stories.values():
            assert story.latest == max(ix._items[m].ts for m in story.members)


# ---------------------------------------------------------------------------------------------------
# headlines in other languages (found by a review with outlets in eight languages)


def _keys(text: str) -> list[str]:
    return [t.key for t in terms(text)]


def test_other_languages_function_words_elision_accents_and_cjk() -> None:
    """The English prior knew no other language's function words, so each weighed as a rare name; French
    elision glued the article on ("lassemblé"); accents kept "adopté" from "adopte"; a Japanese headline was
    one term per run between punctuation, so no two reports shared one."""
    assert _keys("Liveblog: Die Lage in der Ukraine am Donnerstag") == ["liveblog", "die", "lage", "ukrain",
                                                                        "donnerstag"]
    assert _keys("Що відомо про нові правила мобілізації") == ["відомо", "нові", "правила", "мобілізації"]
    assert _keys("L’Assemblée adopte la loi sur l’immigration")[::3] == ["assemble", "immigr"]
    assert _keys("México aprueba reforma") == _keys("Mexico aprueba reforma")
    assert _keys("日銀が追加利上げを決定") == ["日銀", "追加", "加利", "利上", "決定"]  # no piece with hiragana
    assert explain("L’Assemblée adopte la loi sur l’immigration", "", "Assemblée : la loi immigration adoptée",
                   "").same_story
    assert not explain("Ce que l'on sait de l'incendie à Marseille", "",
                       "Ce que l'on sait de la grève à la SNCF", "").same_story
    assert set(dict(explain("日銀が追加利上げを決定", "", "日銀、0.5%への利上げ決める", "").shared)) == {"日銀", "利上"}


@pytest.mark.parametrize(("text", "keys"), [
    ("Man killed in war zone, met by police", ["man", "kill", "war", "zone", "met", "polic"]),
    ("Los Angeles fires: It'll cost $399", ["la", "fire", "cost", "399"]),
    ("Neil Young's Pono Is Still Coming, and It'll Cost $399", ["neil", "young", "pono", "still", "come", "cost",
                                                               "399"]),
    ("Three die after car crash at Tian'anmen", ["3", "die", "car", "crash", "tiananmen"]),
    ("Al Gore in Las Vegas", ["al", "gore", "vega"]),  # "las" goes, as the Spanish article, on every side
    ("Uber Eats to deliver in Japan", ["uber", "eat", "deliv", "japan"]),  # (a diff review: "uber" was a stopword)
    ("Von der Leyen wins, Das and Che Guevara, Elle, Uno, Lo, Mas, Ser, Dem",
     ["von", "leyen", "win", "das", "che", "guevara", "ell", "uno", "lo", "mas", "ser", "dem"]),
])
def test_english_headlines_keep_their_words(text: str, keys: list[str]) -> None:
    """Other languages' function words that are English words ("man", "war", "met", "die", "al"), and
    apostrophes inside English words ("It'll", "Tian'anmen": no elision), are left alone: the terms are
    those of the version before."""
    assert _keys(text) == keys


def _news_day_report(name: str, headline: str, index: StoryIndex) -> tuple[Any, Any]:
    """An entry of one of the two news feeds captured the same day (tests/data/corpus/perf-real), with its
    feed document's profile, as the pipeline gives them to the index."""
    from feeds.parse import parse

    doc = parse((Path(__file__).parent / "data" / "corpus" / "perf-real" / name).read_bytes(), "https://example.com/")
    profile = index.source_profile((e.title, e.summary, e.published.timestamp()) for e in doc.entries if e.published)
    return next(e for e in doc.entries if e.title.startswith(headline)), profile


def test_a_headlines_places_and_numbers_decide_a_conflict_not_its_summarys() -> None:
    # Al Jazeera and Japan Today on one night's strikes (a review reading one real news day): their headlines
    # agree (11 killed, three strikes); Al Jazeera's summary gives the campaign's toll since September (145),
    # which counted as a conflict kept the two reports apart (0.526)
    ix = StoryIndex()
    a, pa = _news_day_report("3f9eeff5039a008d", "US kills 11 people in three strikes", ix)
    b, pb = _news_day_report("18138c717652f678", "Strikes on 3 more alleged drug boats kill 11", ix)
    ix.add(1, a.title, a.summary, a.published, pa)
    m = ix.add(2, b.title, b.summary, b.published, pb)
    assert m.joined and m.story_id == 1, m.score
    assert ix.title_keys(a.title, a.summary, pa) is not None
    # explain scores the pair as the index does
    assert explain(b.title, b.summary, a.title, a.summary, index=StoryIndex()).same_story


def test_a_headline_naming_no_place_or_number_leaves_the_conflict_to_its_summary() -> None:
    # a feed whose entries share one headline: the summaries' places and days tell the events apart
    a = ("Service changes", "Paris, Monday: 12 metro stations shut and 3 lines cut for track repairs.")
    b = ("Service changes", "Tokyo, Friday: 40 metro stations shut and 7 lines cut for track repairs.")
    ix = StoryIndex()
    assert ix.title_keys(*a) is None
    ix.add(1, *a, T0)
    assert not ix.add(2, *b, T0 + timedelta(hours=1)).joined
    assert not explain(*b, *a).same_story


# -- headlines alone ---------------------------------------------------------------------------------


def test_a_re_report_joins_on_its_headline_when_the_summaries_pull_it_apart() -> None:
    # Japan Today and Al Jazeera on Jesse Jackson's death (one real news day): the headlines agree (civil
    # rights, dies at 84), the summaries tell his life in other words: 0.55 with them, below the threshold
    ix = StoryIndex()
    a, pa = _news_day_report("18138c717652f678", "Jesse Jackson, civil rights leader", ix)
    b, pb = _news_day_report("3f9eeff5039a008d", "Tributes pour in after US civil rights icon Jesse Jackson", ix)
    ix.add(1, a.title, a.summary, a.published, pa)
    m = ix.add(2, b.title, b.summary, b.published, pb)
    assert m.joined and m.story_id == 1, m.score
    # the same two reports scored with their summaries only stay apart: it is the headline route that joins them
    off = StoryIndex(StoryConfig(headline_match=False))
    off.add(1, a.title, a.summary, a.published, pa)
    kept = off.add(2, b.title, b.summary, b.published, pb)
    assert not kept.joined and kept.score < m.score
    ex = explain(b.title, b.summary, a.title, a.summary, index=StoryIndex())
    assert ex.same_story and ex.headline is not None and ex.headline == ex.score
    assert not explain(b.title, b.summary, a.title, a.summary, StoryConfig(headline_match=False)).same_story


def test_a_vector_without_its_count_made_under_earlier_tables_keeps_its_headline() -> None:
    # a stored vector of format 6 has no headline term count, which is found from the title: under tables that
    # have changed since ("centre" was "centr", now spelt "center"), its first term is no term of the title
    ix = StoryIndex()
    vec = {"centr": 0.5, "close": 0.5, "flood": 0.5, "cellar": 0.5}  # "Centre closes" + its summary's terms
    assert ix._headline_count(vec, "Centre closes") == 2
    assert ix._headline_count({"center": 0.6, "close": 0.8}, "Centre closes") == 2
    assert ix._headline_count({"center": 1.0}, "Centre closes") == 1  # (at most all of it)
    assert ix._headline_count({"center": 0.6, "close": 0.6, "flood": 0.53}, "Centre closes") == 2


def test_one_shared_headline_word_is_not_one_story() -> None:
    # a review's false join: a story of two features on AI bots took "Will A.I. Kill Translation Jobs?" through
    # "AI" alone (0.577 on the headlines, the story's centroid all "AI")
    ix = StoryIndex()
    ix.add(1, "Are AI bots conspiring against us?",
           "A social network where only AI agents post has people asking whether the bots are plotting.", T0)
    ix.add(2, "Moltbook: The AI-only social network",
           "Moltbook lets AI agents talk to each other while humans watch; what the bots say about us.",
           T0 + timedelta(hours=1))
    assert ix.story_of(2) == 1
    m = ix.add(3, "Will A.I. Kill Translation Jobs?",
               "Translators say machine translation has cut their rates; publishers disagree on quality.",
               T0 + timedelta(hours=2))
    assert not m.joined, m.score
    # two shared words do carry it (the same headline terms with one more in common)
    m = ix.add(4, "Will AI bots kill social networks?",
               "Platforms fear automated accounts; researchers count how many posts are written by machines.",
               T0 + timedelta(hours=3))
    assert m.joined and m.story_id == 1


# two pairs of the 200 real feeds that the headline route joined through one shared name (TIME, The Week;
# Stratechery, TIME): their headlines alone scored 0.66-0.68 and 0.56-0.57, with their summaries 0.36-0.47
_ONE_NAME_PAIRS = [
    (("Where Are the Next Winter Olympics?",
      "The Winter Olympics are set to bring new triumphs and losses to more familiar ground in the years ahead."),
     ("Nordic combined: the Winter Olympics sport that bars women",
      "Female athletes excluded from participation in demanding double-discipline events at Milano-Cortina")),
    (("2026.06: SaaSmageddon and the Super Bowl",
      "The best Stratechery content from the week of February 2, 2025, including the future of software, "
      "SaaSmageddon and Super Bowl ads, and madness in basketball and football."),
     ("The Economics of the Super Bowl, By the Numbers",
      "Beyond its massive audience, the Super Bowl serves as a powerful economic engine for its host city and the "
      "country.")),
]


@pytest.mark.parametrize("pair", _ONE_NAME_PAIRS, ids=["winter-olympics", "super-bowl"])
@pytest.mark.parametrize("first", [0, 1])
def test_headlines_sharing_one_name_only_are_not_one_story(pair: Any, first: int) -> None:
    # like one shared word, one shared name ("Winter Olympics") is a subject, not an event
    a, b = pair[first], pair[1 - first]
    ix = StoryIndex()
    ix.add(1, *a, T0)
    m = ix.add(2, *b, T0 + timedelta(hours=1))
    assert not m.joined, m.score
    # their headlines share those two words and nothing else
    vec_a, n_a = ix._vector(*a)
    vec_b, n_b = ix._vector(*b)
    assert len(set(list(vec_a)[:n_a]) & set(list(vec_b)[:n_b])) == 2
    ex = explain(*a, *b)
    assert not ex.same_story and ex.headline is None
    assert any("share only two words that stand together" in line for line in ex.lines), ex.lines


def test_one_name_is_two_terms_next_to_each_other_in_every_headline_having_both() -> None:
    from feeds.stories import _one_name

    name = {"winter", "olymp"}
    assert _one_name(name, ["next", "winter", "olymp"], [["nordic", "combin", "winter", "olymp", "sport"]])
    assert _one_name(name, ["olymp", "winter", "host"], [["winter", "olymp"]])  # either order
    # a headline without both does not count, but one of the story's must have both
    assert _one_name(name, ["winter", "olymp", "host"], [["olymp", "medal"], ["winter", "olymp", "open"]])
    assert not _one_name(name, ["winter", "olymp"], [["olymp", "medal"], ["winter", "storm"]])
    assert not _one_name(name, ["winter", "olymp"], [])
    # apart in the new headline, or in any of the story's
    assert not _one_name(name, ["winter", "storm", "olymp"], [["winter", "olymp"]])
    assert not _one_name(name, ["winter", "olymp", "host"], [["winter", "olymp"], ["olymp", "host", "winter"]])
    # a two-term headline repeated word for word ("Bitcoin crashes") is a repeat, not a shared name
    assert not _one_name(name, ["winter", "olymp"], [["winter", "olymp"]])
    assert not _one_name(name, ["olymp", "winter"], [["winter", "olymp", "open"], ["winter", "olymp"]])
    assert _one_name(name, ["winter", "olymp"], [["winter", "olymp", "open"]])
    # but one word and the place it implies is one word, repeated or not ("Kyiv": kyiv, ukraine)
    assert _one_name({"kyiv", "ukrain"}, ["kyiv", "ukrain"], [["kyiv", "ukrain"]])


def test_a_two_term_headline_repeated_word_for_word_joins_on_its_headline() -> None:
    # its two terms always stand together: the one-name guard must not keep another outlet's same headline out
    ix = StoryIndex()
    ix.add(1, "Bitcoin crashes", "Traders sold through the night as exchanges halted withdrawals in Asia.", T0)
    m = ix.add(2, "Bitcoin crashes", "Pension funds that bought last year count their losses; regulators meet.",
               T0 + timedelta(hours=1))
    assert m.joined and m.story_id == 1, m.score
    # one word, though it gives two terms (the capital implies its country): a subject, repeated or not
    ix.add(3, "Kyiv", "Residents queued for water as the power went out across the city overnight.", T0)
    m = ix.add(4, "Kyiv", "The mayor opened the metro stations as shelters for families with children.",
               T0 + timedelta(hours=1))
    assert not m.joined, m.score


def test_the_route_reads_the_whole_headline_for_one_name() -> None:
    # "Flood hits Lisbon": its terms that some story has (flood, lisbon) stand together once "hit" is dropped,
    # but not in the headline: not one name, and its headline joins it
    ix = StoryIndex()
    ix.add(1, "Lisbon flood leaves streets under water",
           "Heavy rain overnight filled cellars and stopped the trams; firefighters pumped out the old town.", T0)
    m = ix.add(2, "Flood hits Lisbon", "Residents describe the night; the city council meets to count the damage.",
               T0 + timedelta(hours=1))
    assert m.joined and m.story_id == 1, m.score


def test_explain_names_the_shared_name_only_where_the_index_stops_at_it() -> None:
    (a_title, a_summary), (b_title, b_summary) = _ONE_NAME_PAIRS[0]
    # without summaries there is no headline route, so no word of the guard
    for later in (None, "a", "b"):
        ex = explain(a_title, "", b_title, "", later=later)
        assert not any("stand together" in line for line in ex.lines), ex.lines
        ex = explain(a_title, a_summary, b_title, b_summary, later=later)
        assert any("stand together, winter olymp" in line for line in ex.lines), ex.lines
        assert ex.one_name == ("winter", "olymp")
    # the summaries name other places and days: the route is closed before the headlines are read
    ex = explain(a_title, "The next Winter Olympics open in Japan on Monday with new events.",
                 b_title, "Athletes met in Norway on Friday to protest the ban on women.", later="b")
    assert not any("stand together" in line for line in ex.lines), ex.lines
    assert ex.one_name == ()
    assert not explain(a_title, a_summary, b_title, b_summary, same_feed=True).same_story


def test_two_shared_headline_words_apart_still_count() -> None:
    # the guard is for one name: two shared words that stand apart in either headline still give a headline score
    def headline_score(story: str, title: str) -> float:
        ix = StoryIndex()
        ix.add(1, story, "Heavy rain overnight filled cellars and stopped the trams; firefighters pumped out the "
                         "old town.", T0)
        vec, n = ix._vector(title, "Residents describe the night; the city council meets to count the damage.")
        hv = stories_mod._headline(vec, n)
        hq = {t: w for t, w in hv.items() if t in ix._df}
        assert set(hq) == {"lisbon", "flood"}
        return ix._headline_score(hq, [], ix._stories[1], hv)

    assert headline_score("Lisbon flood leaves streets under water", "Flood hits Lisbon") > 0.3
    assert headline_score("Lisbon streets under water after flood", "Lisbon flood: what we know") > 0.3
    assert headline_score("Lisbon flood leaves streets under water", "Lisbon flood: what we know") == 0.0


def test_a_report_joined_on_its_headline_is_read_for_news_in_its_headline() -> None:
    # a report that only its headline joins (its text with the summary stays under the threshold) is a
    # rewording of the story's headlines: its new summary words (another outlet's background) are not news
    ix = StoryIndex()
    ix.add(1, "Peru's Congress ousts interim President Jose Jeri",
           "Lawmakers voted on Tuesday to remove the interim leader over a corruption probe involving secret "
           "meetings with a businessman, after weeks of pressure from opposition parties and street marches.", T0)
    title = "Peru Congress removes interim President Jose Jeri"
    summary = ("Economists warn of a weaker sol, nervous bondholders, stalled copper shipments, idle mines, tourism "
               "cancellations and an early ballot; the vote caps months of turmoil across the Andean nation.")
    vec, n = ix._vector(title, summary)
    assert n < len(vec)
    story = ix._stories[1]
    before = set(story.centroid)
    assert ix._lexical_score({t: w for t, w in vec.items() if t in ix._df}, [], story) < ix.config.threshold
    m = ix.add(2, title, summary, T0 + timedelta(hours=1))
    assert m.joined and not is_significant_update(m), m.novelty
    # read over its whole vector, its summary's words would have made it a development
    assert sum(w * w for t, w in vec.items() if t not in before) >= ix.config.update_novelty


def test_a_report_its_full_text_joins_is_read_whole_for_news() -> None:
    # the same headline with a summary bringing a new toll: its full text joins the story (its headline
    # scores higher still), and the summary's news moves the story (a review: reading only the headline
    # of every report the headline scored higher missed it)
    ix = StoryIndex()
    ix.add(1, "Earthquake strikes eastern Turkey", "A strong earthquake shook eastern Turkey on Monday.", T0)
    m = ix.add(2, "Earthquake strikes eastern Turkey",
               "The death toll rose to 212 as rescuers pulled survivors from collapsed buildings in Malatya.",
               T0 + timedelta(hours=3))
    assert m.joined and is_significant_update(m), m


_summary_words = st.sampled_from([
    "officials", "said", "Monday", "Paris", "Tokyo", "12", "40", "talks", "vote", "protest", "police", "market",
    "Fed", "rates", "storm", "coast", "budget", "court", "league", "oil", "farmers", "drought", "museum", "opera",
    "pilots", "airline", "vaccine", "doctors", "bridge", "tunnel", "harvest", "festival", "glacier", "rescue",
])
_summaries = st.lists(_summary_words, min_size=0, max_size=30).map(" ".join)
# a few headlines told again with a word more or less (what the headline route is for), and free ones
_retold = st.tuples(st.sampled_from(["Storm hits Japan coast", "Senate passes budget bill", "Fed raises rates",
                                     "Apple unveils iPhone"]), st.lists(words, max_size=2)
                    ).map(lambda x: " ".join([x[0], *x[1]]))
_reports = st.lists(st.tuples(st.one_of(titles, _retold), _summaries, st.integers(0, 200)), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(st.one_of(titles, _retold), _summaries, st.one_of(titles, _retold), _summaries, st.booleans())
# (found with more examples) the headline names places, the summary's count too unless only the headline's do
@example("raises rates", "Paris protest league", "Storm hits Japan coast raises rates", "protest Paris league", False)
# one feed's two reports: the headline route is closed to them
@example("Macron holds defence talks with Modi", OFF_TOPIC, "Macron and Modi hold defence talks",
         "Farmers harvested saffron, cardamom, turmeric, mangoes, cashews and tea near monsoon-soaked villages.", True)
def test_novelty_over_another_report_is_what_add_reads(a_title: str, a_summary: str, b_title: str, b_summary: str,
                                                       one_feed: bool) -> None:
    """`novelty_over(b, a)` (the run's test of whether a report that began a story is a development over an
    earlier one that joined it) is what `add` gives b coming to a story of a alone: 1.0 when b would not join
    it, else its novelty, on its headline when only its headline joins (the final reviews: the first version
    read whole texts, then counted every place and number, the summary's too, and took b as joining)."""
    ix = StoryIndex()
    ix.add(1, a_title, a_summary, T0, source="a")
    m = ix.add(2, b_title, b_summary, T0 + timedelta(hours=1), source="a" if one_feed else "b")
    got = ix.novelty_over(2, 1)
    assert got is not None and abs(got - (m.novelty if m.joined else 1.0)) < 1e-12, (m, got)


def brute_headline_score(ix: StoryIndex, hv: dict[str, float], story: Any) -> float:
    """A headline's score against the headlines of a story's latest HEADLINE_MEMBERS reports, from the members'
    own vectors and headline counts (`item_vector`, `headline_terms`) rather than the index's arithmetic."""
    cfg = ix.config
    c: dict[str, float] = {}
    k = 0
    latest = sorted(story.members, key=lambda m: (ix._items[m].ts, m), reverse=True)[:stories_mod.HEADLINE_MEMBERS]
    heads = []
    for mid in latest:
        vec = ix.item_vector(mid)
        n = ix.headline_terms(mid)
        head = stories_mod._headline(vec, len(vec) if n is None else n)
        if not head:
            continue
        heads.append(head)
        k += 1
        for t, w in head.items():
            c[t] = c.get(t, 0.0) + w
    shared = [t for t in hv if t in c and t in ix._df]
    if len(shared) < 2:
        return 0.0
    if len(shared) == 2:  # one name ("Winter Olympics"): together in the headline and in every one of the
        # story's headlines having both (one at least), unless a two-term headline is repeated word for word
        a, b = shared
        order = list(hv)
        sides = [list(h) for h in heads if a in h and b in h]
        if (abs(order.index(a) - order.index(b)) == 1 and sides
                and all(abs(h.index(a) - h.index(b)) == 1 for h in sides)
                and not (len(order) == 2 and any(len(h) == 2 for h in sides)
                         and stories_mod._IMPLIES.get(a) != b and stories_mod._IMPLIES.get(b) != a)):
            return 0.0
    norm = math.sqrt(sum(w * w for w in c.values()))
    factor = min(1.0, max(norm / k, cfg.min_cohesion)) ** cfg.cohesion_power
    score = sum(hv[t] * c[t] for t in shared) / (norm * factor)
    spec = [(t, w) for t, w in hv.items() if stories_mod._specific(t)]
    spec2 = sum(w * w for t, w in c.items() if stories_mod._specific(t))
    if spec and spec2 > 0:
        score *= 1 - cfg.conflict_penalty * stories_mod._conflict(spec, c, spec2, norm * norm)
    return score


@settings(max_examples=60, deadline=None)
@given(_reports, st.integers(0, 250), st.sampled_from([stories_mod.HEADLINE_MEMBERS, 2]),
       st.sampled_from([stories_mod.HEADLINE_SCAN, 3, 1, 0]), st.randoms())
# two headlines sharing one name, "Fed raises", and nothing else (the one-name guard); a two-term headline
# repeated word for word (a review's finds: the oracle had no guard, the guard took repeats for names); and a
# one-word headline whose word implies a place (a second review: "Kyiv" is one word, repeated or not)
@example([("Fed raises rates", "", 0), ("Fed raises glacier", "officials", 0)], 0, stories_mod.HEADLINE_MEMBERS,
         stories_mod.HEADLINE_SCAN, random.Random(0))
@example([("Fed raises", "", 0), ("Fed raises", "officials", 0)], 0, stories_mod.HEADLINE_MEMBERS,
         stories_mod.HEADLINE_SCAN, random.Random(0))
@example([("Kyiv", "", 0), ("Kyiv", "officials", 0)], 0, stories_mod.HEADLINE_MEMBERS, stories_mod.HEADLINE_SCAN,
         random.Random(0))
def test_headline_route_matches_brute_force(reports: list[tuple[str, str, int]], evict_h: int, latest: int,
                                            scan: int, rnd: Any) -> None:
    """With summaries, a report joins the story whose better score (with its summary, or its headline alone
    against the headlines of the story's latest reports) is highest, among the stories within reach of
    either route: the index finds the same story and score as scoring every story would (also with
    only the latest 2 reports' headlines a story's, so that stories longer than that are met, and with the
    headline's search through its rarest terms capped at 3, 1 or 0 stories, so that the cap binds)."""
    ids = list(range(len(reports)))  # ids not in time order: reports of one hour come in another order than their ids
    rnd.shuffle(ids)
    with unittest.mock.patch.object(stories_mod, "HEADLINE_MEMBERS", latest), \
            unittest.mock.patch.object(stories_mod, "HEADLINE_SCAN", scan):
        _headline_route_matches_brute_force(reports, evict_h, ids, scan)


def _headline_route_matches_brute_force(reports: list[tuple[str, str, int]], evict_h: int, ids: list[int],
                                        scan: int = stories_mod.HEADLINE_SCAN) -> None:
    ix = StoryIndex(StoryConfig(window=timedelta(hours=48)))
    thr = ix.config.threshold
    for i, (title, summary, h) in zip(ids, sorted(reports, key=lambda x: x[2]), strict=True):
        when = T0 + timedelta(hours=h)
        if h >= evict_h:
            ix.evict(when)
        ts = when.timestamp()
        vec, n = ix._vector(title, summary)
        keys = ix.title_keys(title, summary)
        hv = stories_mod._headline(vec, n) if n < len(vec) else None
        full = brute_candidates(ix, vec, ts)
        near = brute_candidates(ix, hv or {}, ts, thr * stories_mod.HEADLINE_FLOOR, scan)
        hq = {t: w for t, w in (hv or {}).items() if t in ix._df}
        if hq:  # the headline's search finds exactly those (the cap as the brute force reads it)
            assert {st.story_id for st in ix._candidates(hq, ts, thr * stories_mod.HEADLINE_FLOOR, scan)} == near
        qspec = [(t, w) for t, w in vec.items() if stories_mod._specific(t) and (keys is None or t in keys)]
        want_sid, want = None, 0.0
        for sid in sorted(full | (near if hv else set())):
            story = ix._stories[sid]
            dot = sum(w * story.centroid.get(t, 0.0) for t, w in vec.items())
            score = dot / (story.norm * story.factor)
            conflict = (stories_mod._conflict(qspec, story.centroid, story.spec2, story.norm2)
                        if qspec and story.spec2 > 0 else 0.0)
            score *= 1 - ix.config.conflict_penalty * conflict
            if one_word(vec, story.centroid):  # its full text shares one word with the story: no score (step 9)
                score = 0.0
            if hv and (keys is not None or not conflict):
                score = max(score, brute_headline_score(ix, hv, story))
            if score > want + 1e-12:
                want_sid, want = sid, score
        m = ix.add(i, title, summary, when)
        if want >= thr:
            assert m.joined and m.story_id == want_sid and abs(m.score - want) < 1e-9, (m, want_sid, want)
        else:
            assert not m.joined
        check_invariants(ix)


def test_a_storys_headlines_are_its_latest_reports() -> None:
    # the headline side of a story is the sum of its latest HEADLINE_MEMBERS reports' headline vectors: an old
    # report's headline stops counting once that many later ones came, in whatever order they came
    def story(latest: int) -> StoryIndex:
        with unittest.mock.patch.object(stories_mod, "HEADLINE_MEMBERS", latest):
            ix = StoryIndex()
            ix.add_known(3, "Airline pilots strike", "The airline said the tunnel and bridge stay open.",
                         T0 + timedelta(hours=2), 1)
            ix.add_known(1, "Storm hits Japan coast", "Officials said rescue teams were ready.", T0, 1)
            ix.add_known(2, "Museum opera festival opens", "Farmers and doctors came to the harvest festival.",
                         T0 + timedelta(hours=1), 1)
        return ix

    vec, n = StoryIndex()._vector("Storm hits Japan coast again", "A glacier and a drought elsewhere.")
    hv = stories_mod._headline(vec, n)
    for latest, counts in ((16, True), (2, False)):  # the first report is among the latest 16, not the latest 2
        ix = story(latest)
        hq = {t: w for t, w in hv.items() if t in ix._df}
        assert (ix._headline_score(hq, [], ix._stories[1], hv) > 0.0) is counts
        with unittest.mock.patch.object(stories_mod, "HEADLINE_MEMBERS", latest):
            assert (brute_headline_score(ix, hv, ix._stories[1]) > 0.0) is counts


def test_the_matched_report_is_among_the_latest_reports() -> None:
    # StoryMatch.matched_item, the member most like the new item, is looked for among the story's latest
    # HEADLINE_MEMBERS reports by time (not the last ones inserted, which a restart puts in another order)
    vec = StoryIndex().vector("Storm hits Japan coast", "Officials said rescue teams were ready.")
    for latest, want in ((16, {1}), (2, {2, 3})):  # the earliest report is among the latest 16, not the latest 2
        with unittest.mock.patch.object(stories_mod, "HEADLINE_MEMBERS", latest):
            ix = StoryIndex()  # inserted 3, 1, 2: the last two inserted are 1 and 2, the latest two 3 and 2
            ix.add_known(3, "Airline pilots strike", "The airline said the tunnel and bridge stay open.",
                         T0 + timedelta(hours=2), 1)
            ix.add_known(1, "Storm hits Japan coast", "Officials said rescue teams were ready.", T0, 1)
            ix.add_known(2, "Museum opera festival opens", "Farmers and doctors came to the harvest festival.",
                         T0 + timedelta(hours=1), 1)
            assert ix._closest_member(ix._stories[1], vec) in want


def test_the_headline_search_goes_through_the_rarest_terms() -> None:
    # the headline route looks for stories through the postings of the headline's rarest terms, those the fewest
    # stories have, HEADLINE_SCAN stories together: a story that shares with the headline only words many stories
    # hold ("storm", "bridge", each in 4 stories here) is left to the full-text score once they are past the cap
    # (here patched to 2)
    others = [("Farmers count losses in the valley", "The storm tore roofs off barns and the old bridge over the "
               "river washed away, farmers said on Sunday."),
              ("School reopens after a week", "Pupils crossed the temporary bridge the army built after the storm, "
               "teachers said."),
              ("Insurers brace for claims", "Claims after the storm, which also shut a bridge, could top last "
               "year's, brokers warned.")]
    target = ("Storm batters bridge", "Waves up to nine metres high hit the coast overnight and the harbour authority "
              "closed every crossing until engineers can inspect cables and piers.")
    item = ("Storm bridge latest", "Ferry operators added sailings while the motorway link stays shut; commuters face "
            "long queues at the ports and rail companies expect crowded trains.")

    def add_item(cap: int) -> Any:
        with unittest.mock.patch.object(stories_mod, "HEADLINE_SCAN", cap):
            ix = StoryIndex()
            for i, report in enumerate(others):
                ix.add(i + 1, *report, T0 + timedelta(hours=i), source=f"outlet {i}")
            ix.add(10, *target, T0 + timedelta(hours=4), source="target")
            assert {t: ix._df[t] for t in ("storm", "bridg")} == {"storm": 4, "bridg": 4}
            return ix.add(11, *item, T0 + timedelta(hours=5), source="item")

    # fewest stories first, ties by term, up to the cap inclusive
    counts = {"b": 2, "a": 2, "c": 3, "d": 1}
    assert stories_mod._past_cap(counts, "abcd", 5) == ["c"]  # d, a, b: 5 stories
    assert stories_mod._past_cap(counts, "abcd", 4) == ["b", "c"]
    assert stories_mod._past_cap(counts, "abcd", 8) == []
    found = add_item(8)  # 8 stories: both terms are scanned, the headlines join
    assert found.joined and found.story_id == 10 and found.score >= StoryConfig().threshold
    assert not add_item(2).joined  # past the cap: the full text alone, 0.34, decides
    # with a term only the two hold, the story is found through it
    rare = ("Harbour storm bridge latest", item[1])
    with unittest.mock.patch.object(stories_mod, "HEADLINE_SCAN", 2):
        ix = StoryIndex()
        for i, report in enumerate(others):
            ix.add(i + 1, *report, T0 + timedelta(hours=i), source=f"outlet {i}")
        ix.add(10, *target, T0 + timedelta(hours=4), source="target")
        m = ix.add(11, *rare, T0 + timedelta(hours=5), source="item")
    assert m.joined and m.story_id == 10


def test_the_headline_cap_counts_terms_that_only_story_tails_have() -> None:
    # (a final review) the cap was counted over the terms with postings only: a term that only story tails have
    # (here "walrus", in one long summary's tail) was left out of the count, and which terms have postings
    # depends on how the heads were cut; the brute force counts every term the stories have
    ix = StoryIndex(StoryConfig(window=timedelta(hours=48)))
    animals = ["zebra", "yak", "walrus", "vulture", "urchin", "toucan", "salmon", "raven", "quail", "python", "otter",
               "newt", "mole", "lynx", "koala", "jaguar", "ibis", "heron", "gecko", "ferret", "eagle", "dingo",
               "cobra", "bison", "alpaca"]
    for i, animal in enumerate(animals):
        ix.add(i, "Storm batters harbour coast", f"Officials said {animal} sightings rose after the storm hit the "
               "harbour coast.", T0 + timedelta(minutes=i))
    ix.add(100, "Harbour ferry strike", "Ferry crews walked out at the harbour.", T0 + timedelta(minutes=30))
    ix.add(101, "Coast guard drill", "The coast guard held a drill.", T0 + timedelta(minutes=31))
    assert ix._df["walru"] == 1 and "walru" not in ix._weights  # only in a story's tail
    ts, bar = (T0 + timedelta(minutes=40)).timestamp(), ix.config.threshold * stories_mod.HEADLINE_FLOOR
    for title in ("walrus harbour coast", "zebra harbour coast storm", "zebra yak harbour"):
        vec, n = ix._vector(title, "x y z filler words here and there")
        hv = stories_mod._headline(vec, n)
        hq = {t: w for t, w in hv.items() if t in ix._df}
        for cap in range(5):
            got = {st.story_id for st in ix._candidates(hq, ts, bar, cap)}
            assert got == brute_candidates(ix, hv, ts, bar, cap), (title, cap)
    # walrus (1 story) and harbour (2) are 3 stories together: past a cap of 2, only walrus, which no head has
    vec, n = ix._vector("walrus harbour coast", "x y z filler words here and there")
    hq = {t: w for t, w in stories_mod._headline(vec, n).items() if t in ix._df}
    assert not ix._candidates(hq, ts, bar, 2) and ix._candidates(hq, ts, bar, 3)


def test_a_feeds_own_posts_do_not_join_on_their_headlines() -> None:
    # a blog's two posts on one subject share their headlines' words ("git rebase"; on the 200 real feeds: Sass
    # 3.3, git rebase, ASP.NET Identity posts) and their summaries tell them apart: a feed's own reports join
    # one story through their full text, the headline route is for other outlets' reports
    a = ("Fixing the branch source with git rebase",
         "Started work from the wrong starting point? The onto option moves those commits where they belong, keeps "
         "authorship intact, and avoids cherry picking every change by hand across repositories or forks.")
    b = ("Updating a branch with git rebase",
         "Pull the newest upstream changes into your topic work so reviewers see a clean linear history; resolve "
         "conflicts once, run tests again, then force push safely with lease to the shared remote server.")
    ix = StoryIndex()
    ix.add(1, *a, T0, source="blog")
    assert not ix.add(2, *b, T0 + timedelta(days=1), source="blog").joined
    other = StoryIndex()  # the same two from two outlets: the headlines decide
    other.add(1, *a, T0, source="blog")
    assert other.add(2, *b, T0 + timedelta(days=1), source="another").joined
    # and from a restarted index (its items put back with their sources)
    again = StoryIndex()
    again.add_known(1, *a, T0, 1, ix.item_vector(1), ix.headline_terms(1), "blog")
    assert not again.add(2, *b, T0 + timedelta(days=1), source="blog").joined
    # explain says the same of the pair
    assert explain(*b, *a).same_story and not explain(*b, *a, same_feed=True).same_story


def test_a_headline_repeated_word_for_word_joins_however_heavy_the_summaries() -> None:
    # (a diff review) the headline route's candidates were the stories the headline's terms carried at their
    # weights in the full vector: two long summaries full of names left the headline a fifth of the vector, and
    # the same headline (headline score 1.0) was never scored
    a = ("Senate passes budget bill",
         "Lawmakers approved spending for highways, veterans hospitals, wildfire crews, Medicaid clinics, "
         "drone patrols, NASA probes, Amtrak upgrades, tariff rebates and farm subsidies after weekend haggling.")
    b = ("Senate passes budget bill",
         "Schumer praised Thune; Democrats grumbled about Pentagon contractors, Boeing tankers, Lockheed jets, "
         "Raytheon missiles, shipyard bonuses, runway repairs, pipeline permits and munitions.")
    ix = StoryIndex()
    ix.add(1, *a, T0)
    vec, n = ix._vector(*b)
    assert sum(w * w for w in list(vec.values())[:n]) < 0.3  # the headline is under a third of the vector
    m = ix.add(2, *b, T0 + timedelta(hours=1))
    assert m.joined and m.story_id == 1 and m.score > 0.99
    assert explain(*b, *a).same_story


def test_a_restarted_index_scores_headlines_against_the_same_latest_reports() -> None:
    # (a diff review) a story's latest reports were the last inserted: a run inserts in fetch order, a restart
    # in published order, so the two scored a headline against different reports and decided differently
    core = "Iceland volcano erupts near Grindavik"
    summ = "Lava flows reached the edge of the town overnight, officials said, and residents were moved."
    live = StoryIndex()
    for i in range(1, 17):  # 16 reports, fetched in published order
        live.add(i, core, summ, T0 + timedelta(hours=i))
    # a source fetched later in the run had the event first: inserted 17th, the oldest by time
    live.add(17, "Iceland volcano erupts near Grindavik: Blue Lagoon closed, Reykjanes evacuated", summ,
             T0 + timedelta(minutes=30))
    assert {live.story_of(i) for i in range(1, 18)} == {1}
    again = StoryIndex()  # what load_story_index rebuilds: (published, id) order, stored vectors and counts
    for ts, i in sorted((it.ts, i) for i, it in live._items.items()):
        got = stories_mod.decode_stored(live.stored_vector(i))
        assert got is not None
        again.add_known(i, "", "", datetime.fromtimestamp(ts, UTC), live.story_of(i) or i, got[0], got[1])
    q = ("Iceland Grindavik Blue Lagoon",
         "Airline schedules at Keflavik were unaffected; geologists expect the fissure to keep widening for days.")
    a, b = live.add(100, *q, T0 + timedelta(hours=17)), again.add(100, *q, T0 + timedelta(hours=17))
    assert (a.joined, a.story_id) == (b.joined, b.story_id) and abs(a.score - b.score) < 1e-12


def test_a_format_6_vector_is_read_with_its_headline_found_from_its_title() -> None:
    # vectors stored before the headline count (format 6) are still used: their count is found from the title
    ix = StoryIndex()
    title, summary = "Storm hits Japan coast", "Officials said rescue teams were ready in Tokyo and Osaka."
    ix.add(1, title, summary, T0)
    vec = ix.item_vector(1)
    old = struct.pack("<BI", 6, len(vec)) + struct.pack(f"<{len(vec)}d", *vec.values()) + "\0".join(vec).encode()
    got = stories_mod.decode_stored(old)
    assert got == (vec, None)
    again = StoryIndex()
    again.add_known(1, title, summary, T0, 1, got[0], got[1])
    assert again.headline_terms(1) == ix.headline_terms(1) and ix.headline_terms(1) == len(ix._title_terms(title))


def test_explain_scores_a_pair_on_its_headlines_whichever_is_given_first() -> None:
    # (a diff review) explain tried the headline score only with a as the arriving report: a headline without a
    # summary given first was "different stories" from the same headline with one, which the run joins
    a = ("Senate passes budget bill", "")
    b = ("Senate passes budget bill", OFF_TOPIC)
    ix = StoryIndex()
    ix.add(1, *a, T0)
    assert ix.add(2, *b, T0 + timedelta(hours=1)).joined
    assert explain(*a, *b).same_story and explain(*b, *a).same_story


def test_explain_of_two_timed_reports_scores_the_later_one_as_the_run_did() -> None:
    # (a review) with times (two stored reports), explain tried the headline score both ways round: "same story"
    # for a pair the run kept apart, the later report having no summary (the headline route is for a report
    # with one)
    a = ("Senate passes budget bill", "")
    b = ("Senate passes budget bill", OFF_TOPIC)
    ix = StoryIndex()
    ix.add(1, *b, T0)
    assert not ix.add(2, *a, T0 + timedelta(hours=1)).joined  # a came later
    assert not explain(*a, *b, later="a").same_story and not explain(*b, *a, later="b").same_story
    assert explain(*a, *b, later="b").same_story and explain(*b, *a, later="a").same_story  # b later: the run joins
    assert explain(*a, *b).same_story  # without times: either way round


def test_explain_when_the_headlines_decide_shows_the_headlines_terms() -> None:
    # (a review) when the headline score counted, the shared and distinguishing terms, cosine and conflict shown
    # were the full texts': their numbers did not make the score shown
    a = ("Quake of magnitude 6 hits Chile coast, 2026", "Rescuers searched collapsed homes in Valparaiso overnight.")
    b = ("Chile coast hit by magnitude 6 quake in 2025", OFF_TOPIC)
    ex = explain(*a, *b)
    assert ex.headline is not None and ex.headline == ex.score
    cfg = StoryConfig()
    assert abs(sum(c for _, c in ex.shared) - ex.cosine) < 1e-12
    assert abs(ex.cosine * (1 - cfg.conflict_penalty * ex.conflict) - ex.score) < 1e-9
    assert ex.conflict > 0.0  # 2026 against 2025, in the headlines
    words = {t for t, _ in ex.shared + ex.only_a + ex.only_b}
    assert {"chile", "earthquak", "2026", "2025"} <= words and not words & {"rescuer", "schumer", "valparaiso"}
    assert any("the score is the headlines' alone" in line for line in ex.lines)
    assert any(line.startswith("only in b's headline: ") for line in ex.lines)


def test_a_threshold_of_zero_still_works() -> None:
    # (a diff review) an assertion on the headline route's lower bar failed every add at threshold 0, which the
    # config accepts
    ix = StoryIndex(StoryConfig(threshold=0.0))
    ix.add(1, "Storm hits Japan coast", "Officials said rescue teams were ready.", T0)
    assert ix.add(2, "Storm batters Japan coast", "Thousands lost power overnight.", T0 + timedelta(hours=1)).joined


@pytest.mark.parametrize(("a", "b", "same"), [
    ("Ukraine war", "Ukraine talks", False),  # one word in common: a subject (0.59 under the prior)
    ("Release notes", "Meeting notes", False),  # 0.59
    ("Kyiv strike", "Kyiv blackout", False),  # a capital and the country it implies are one word (0.57)
    ("Brexit vote", "Brexit deal", False),  # 0.68
    ("Fed", "Fed", True),  # a one-word headline repeated
    ("Kyiv", "Kyiv", True),
    ("Kyiv strike", "Ukraine strike", True),  # strike and Ukraine: two words
    ("Bitcoin crashes", "Bitcoin crashes again", True),
])
def test_one_word_in_common_is_a_subject_not_an_event(a: str, b: str, same: bool) -> None:
    """(A review of the published outputs: a feed's posts "Long link" and "mailto link" were one story through
    "link".) A report whose text shares one word with a story (a capital and its country being one) does not
    join it, however rare the word, unless that word is all either text says; `explain` says so."""
    ix = StoryIndex()
    ix.add(1, a, "", T0)
    m = ix.add(2, b, "", T0 + timedelta(minutes=5))
    assert m.joined is same
    ex = explain(a, "", b, "")
    assert ex.same_story is same
    assert ("share one word only" in "\n".join(ex.lines)) is (not same)
    if not same:
        assert ex.score == 0.0 and ex.shared and ex.cosine >= 0.55  # the cosine alone would have joined them
