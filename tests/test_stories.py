"""Story de-duplication (feeds.stories): seed clustering, properties, explain, update rule."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feeds.stories as stories_mod
from feeds.stories import (
    StoryConfig,
    StoryIndex,
    StoryMatch,
    explain,
    is_significant_update,
    normalize_text,
    terms,
)

DATA = Path(__file__).parent / "data" / "stories"
T0 = datetime(2025, 7, 4, 12, 0, tzinfo=UTC)


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


def test_terms_stem_alias_and_entities() -> None:
    keys = [t.key for t in terms("Syrian troops pushed into Syria as the U.S. and USA watch")]
    assert keys[:3] == ["syria", "armi", "push"]  # troops -> army (synonym table), Porter stems
    assert "america" in keys and "the" not in keys
    ents = {t.key: t.entity for t in terms("Police say 19 hurt in New Orleans shooting")}
    assert ents["19"] and ents["orlean"] and not ents["polic"]


def test_possessive_keeps_a_name_and_a_contraction_stays_a_stopword() -> None:
    keys = [t.key for t in terms("South Korea's president says it's over")]
    assert keys == [t.key for t in terms("South Korea president says over")]
    assert "southkorea" in keys and "it" not in keys
    assert [t.key for t in terms("Who's afraid of WHO")] == ["afraid", "who"]  # only the acronym is WHO


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


def test_synonyms_numbers_and_acronyms_meet() -> None:
    assert key_set("quake") == key_set("earthquakes")
    assert key_set("two soldiers") == key_set("2 soldier")
    assert key_set("Mandela in hospital for 3rd day") == key_set("Mandela in hospital for third day")
    assert key_set("Prime Minister") == key_set("PM")
    assert key_set("United Nations") == key_set("U.N.") == key_set("UN")
    assert key_set("NATO") == key_set("Nato")


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


def brute_best(ix: StoryIndex, vec: dict[str, float], ts: float) -> tuple[int | None, float]:
    """Score every live story in the window, as _best would without the inverted index."""
    cfg = ix.config
    qspec = [(t, w) for t, w in vec.items() if stories_mod._specific(t)]
    best, best_score = None, 0.0
    for sid in sorted(ix._stories):
        story = ix._stories[sid]
        if abs(ts - story.latest) > ix._window_s or story.norm == 0.0:  # termless items: nothing to share
            continue
        dot = sum(w * story.centroid.get(t, 0.0) for t, w in vec.items())
        score = dot / (story.norm * story.factor)
        if qspec and story.spec2 > 0:
            score *= 1 - cfg.conflict_penalty * stories_mod._conflict(qspec, story.centroid, story.spec2, story.norm2)
        if score > best_score + 1e-12:
            best, best_score = sid, score
    return best, best_score


def check_invariants(ix: StoryIndex) -> None:
    thr = ix.config.threshold
    df: dict[str, int] = defaultdict(int)
    for sid, story in ix._stories.items():
        for t in story.centroid:
            df[t] += 1
        assert story.head <= story.centroid.keys()
        tail2 = sum(v * v for t, v in story.centroid.items() if t not in story.head)
        assert abs(tail2 - story.tail2) < 1e-6
        # a story sharing only tail terms with an item cannot reach the threshold
        assert tail2 ** 0.5 < thr * story.norm * story.factor + 1e-9
        for t in story.head:
            assert ix._postings[t][sid] is story
    assert dict(df) == ix._df
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
