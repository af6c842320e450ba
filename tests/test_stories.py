"""Story de-duplication (feeds.stories): seed clustering, properties, explain, update rule."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.xfail(strict=True, reason="known miss: kyiv-strike, drone-frontline and bill-passed reworded "
                   "too freely for word overlap at the default threshold (docs/stories.md)")
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
