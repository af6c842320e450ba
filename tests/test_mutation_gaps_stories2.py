"""What a second mutation survey of feeds/stories.py found unpinned: the tie-breaks the index documents (a report
scoring exactly alike against two stories goes to the lower story id, in lexical and semantic mode, whatever order
the stories came in; its `matched_item` among equally close members is the most recent by published time, then
id), the place/date/number conflict being the smaller of its two sides, a feed's own report anywhere among a
story's latest reports keeping its next post off the headline route, a story's several headlines relaxing the
headline score by their cohesion, the oldest of the latest HEADLINE_MEMBERS reports still counted, `evict`
keeping a report exactly a window old, a late report moving its story's start back, a re-listed entry counting at
its earliest time in `source_profile`, a report joining at exactly the threshold (`add`, `novelty_over`) or
bringing exactly `update_novelty`, a summary's head that ends inside a name, explain at a threshold of 0, and the
prior of years and numbers by length. Every test drives a real `StoryIndex` (pure: no I/O, no clock) with real
headlines at injected times, reusing tests/test_stories.py's texts and its fake embedder for the semantic mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_stories import _BLOG, OFF_TOPIC, fake_embedder

from feeds.stories import (
    HEADLINE_MEMBERS,
    SEMANTIC_THRESHOLD,
    SUMMARY_HEAD_CHARS,
    StoryConfig,
    StoryIndex,
    StoryMatch,
    explain,
    is_significant_update,
)

T0 = datetime(2025, 7, 4, 12, tzinfo=UTC)
WINDOW = StoryConfig().window
# three rare words of one band: every report of this headline has the same unit vector, however many stories
# hold it, so two stories of it score exactly alike against a third report
SAME = "Zorblat quintrex vandemoor"


@pytest.mark.parametrize("semantic", [False, True])
def test_a_report_scoring_alike_against_two_stories_goes_to_the_earlier(semantic: bool) -> None:
    """Mutants: `sid < best.story_id` -> `sid > best.story_id` in `StoryIndex._best`, and the tie-break dropped
    from `StoryIndex._best_semantic` (the first story scored then wins): ties go to the lower story id, whatever
    order the stories came in (item ids are the caller's: a story read later may have the lower id)."""
    ix = StoryIndex(StoryConfig(threshold=SEMANTIC_THRESHOLD), fake_embedder()) if semantic else StoryIndex()
    ix.add(10, SAME, "", T0)
    assert ix.add(5, SAME, "", T0 + timedelta(minutes=1), exclude=[10]).story_id == 5  # kept apart: a sibling
    m = ix.add(20, SAME, "", T0 + timedelta(minutes=2))
    assert m.joined and m.score == 1.0 and m.story_id == 5


def test_the_matched_report_among_equally_close_members_is_the_most_recent() -> None:
    """Mutants: `if s > best` -> `if s >= best` in `StoryIndex._closest_member`, and `reversed(st.recent)` ->
    `st.recent` in `StoryIndex._latest` (its latest reports newest first): either makes the oldest of two
    members alike the matched one. And `key=lambda m: (items[m].ts, m)` -> `key=lambda m: items[m].ts` in
    `StoryIndex._insert`: reports of one time (undated ones all take the time they were read) are the latest
    by id, not by the order they came in (which a restart does not keep)."""
    ix = StoryIndex()
    ix.add(1, SAME, "", T0)
    assert ix.add(2, SAME, "", T0 + timedelta(minutes=1)).matched_item == 1
    m = ix.add(3, SAME, "", T0 + timedelta(minutes=2))
    assert m.story_id == 1 and m.matched_item == 2
    one_time = StoryIndex()
    one_time.add(5, SAME, "", T0)
    one_time.add(3, SAME, "", T0)
    m = one_time.add(9, SAME, "", T0)
    assert m.story_id == 5 and m.matched_item == 5


def test_a_conflict_is_the_smaller_of_its_two_sides() -> None:
    """Mutant: `min(qa, max(spec2 - shared, 0.0) / norm2)` -> the story's side alone in `_conflict`. A report
    naming a place the story lacks (Thailand, light) comes to a story naming a number it lacks (200, heavier):
    the penalty is the lighter side's, and the re-report joins (0.579; 0.500 with the story's side)."""
    ix = StoryIndex()
    ix.add(1, "Fire at Bangkok market destroys 200 stalls", "", T0)
    m = ix.add(2, "Thai fire destroys Bangkok weekend market", "", T0 + timedelta(hours=1))
    assert m.joined and m.story_id == 1


_VACUUM = ("Tuning autovacuum thresholds in Postgres",
           "Large tables bloat because the default scale factor waits too long; lowering it per table and raising "
           "the cost limit keeps dead tuples in check without hurting the nightly batch jobs.")
_WORKERS = ("Monitoring autovacuum workers in Postgres",
            "A dashboard of pg_stat_progress_vacuum shows which worker is stuck, how far it got, and whether a long "
            "transaction on a replica is holding back cleanup for the whole cluster.")
_LINKED = (_VACUUM[0], "This week's reading list links the post.")


def test_a_feeds_own_report_anywhere_among_the_latest_keeps_its_next_post_off_the_headline_route() -> None:
    """Mutant: `all(items[m].src != source for m in self._latest(st))` checked against the newest report only
    in `StoryIndex._best`. A reading list relinks the blog's post (the newest report of the story); the blog's next
    post on the subject shares its headline's words but must join through its full text, which it does not."""
    ix = StoryIndex()
    ix.add(1, *_VACUUM, T0, source="blog")
    assert ix.add(2, *_LINKED, T0 + timedelta(hours=1), source="digest").joined
    assert not ix.add(3, *_WORKERS, T0 + timedelta(days=1), source="blog").joined
    # from another outlet the headlines decide
    other = StoryIndex()
    other.add(1, *_VACUUM, T0, source="blog")
    other.add(2, *_LINKED, T0 + timedelta(hours=1), source="digest")
    assert other.add(3, *_WORKERS, T0 + timedelta(days=1), source="elsewhere").story_id == 1


def test_a_storys_diverse_headlines_relax_the_headline_score_as_they_do_the_full_one() -> None:
    """Mutant: `cfg.cohesion_factor(norm, k)` -> `cfg.cohesion_factor(norm, 1)` in `StoryIndex._headline_score`
    (the cohesion of the story's k latest headlines). Against two headlines that word the event differently, a
    third report's headline scores 0.735 relaxed by their cohesion (0.520 without), its off-topic summary
    nothing: it joins on its headline."""
    ix = StoryIndex()
    ix.add_known(1, "Storm floods Lisbon harbour", "Fishing boats were torn from moorings overnight.", T0, 1)
    ix.add_known(2, "Ferry service halted as gale batters Portuguese coast",
                 "Operators cancelled crossings until Friday.", T0 + timedelta(hours=1), 1)
    m = ix.add(3, "Lisbon harbour ferry cancelled", OFF_TOPIC, T0 + timedelta(hours=2), source="wire")
    assert m.joined and m.story_id == 1 and 0.7 < m.score < 0.8


def test_the_oldest_of_the_latest_headline_members_reports_is_still_matched() -> None:
    """Mutant: `len(recent) > HEADLINE_MEMBERS` -> `>=` in `StoryIndex._insert` (a story's latest reports one
    short). A story of exactly HEADLINE_MEMBERS reports: a repeat of its first is matched to that first."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
             "lima", "mike", "november", "oscar"]
    assert len(words) == HEADLINE_MEMBERS - 1
    ix = StoryIndex()
    ix.add_known(1, "Storm hits Japan coast", "", T0, 1)
    for k, w in enumerate(words, start=2):
        ix.add_known(k, f"Storm hits Japan coast {w}", "", T0 + timedelta(minutes=k), 1)
    m = ix.add(100, "Storm hits Japan coast", "", T0 + timedelta(hours=1))
    assert m.story_id == 1 and m.matched_item == 1


def test_a_report_exactly_a_window_old_is_not_evicted() -> None:
    """Mutant: `heap[0][0] < cutoff` -> `<=` in `StoryIndex.evict` ("drop items published before now -
    window"): a report published exactly a window ago stays, and a re-report published then joins it."""
    ix = StoryIndex()
    ix.add(1, "Volcano erupts in Iceland near Grindavik", "", T0)
    ix.evict(T0 + WINDOW)
    assert len(ix) == 1 and ix.story_of(1) == 1
    assert ix.add(2, "Volcano erupts in Iceland near Grindavik", "", T0 + WINDOW).story_id == 1
    ix.evict(T0 + WINDOW + timedelta(seconds=1))
    assert ix.story_of(1) is None and ix.story_of(2) == 1


def test_a_late_report_that_joins_moves_its_storys_start_back() -> None:
    """Mutant: `if ts < st.first: st.first = ts` dropped from `StoryIndex._insert`. A report published before
    a story's first comes in later and joins: the story now began with it, and a report published more than
    the window after it starts its own story, however close it is to the story's other reports."""
    ix = StoryIndex()
    ix.add(1, "Stocks close higher on Wall Street", "", T0 + timedelta(hours=10))
    assert ix.add(2, "Stocks close higher on Wall Street", "", T0).story_id == 1  # read late, published first
    m = ix.add(3, "Stocks close higher on Wall Street", "", T0 + WINDOW + timedelta(hours=5))
    assert not m.joined and m.story_id == 3


def test_an_entry_listed_again_counts_at_its_earliest_time_whichever_listing_comes_first() -> None:
    """Mutant: `elif ts < when[text]: when[text] = ts` dropped from `StoryIndex.source_profile` (an entry then
    counts at the time it was first given). A document of posts an hour apart whose first post is given first
    with a time ten windows later: its posts do not span more than the window, so they have no template."""
    window = WINDOW.total_seconds()
    burst = [(t, s, T0.timestamp() + 3600 * i) for i, (t, s) in enumerate(_BLOG)]
    ix = StoryIndex()
    assert ix.source_profile([(*burst[0][:2], T0.timestamp() + 10 * window), *burst]).factors == {}


def test_a_report_bringing_exactly_the_update_novelty_is_a_significant_update() -> None:
    """Mutant: `match.novelty >= cfg.update_novelty` -> `>` in `is_significant_update` ("at least
    update_novelty of its squared term weight")."""
    cfg = StoryConfig()
    assert is_significant_update(StoryMatch(1, True, 0.9, 1, cfg.update_novelty), cfg)
    assert not is_significant_update(StoryMatch(1, True, 0.9, 1, cfg.update_novelty - 1e-9), cfg)


def test_a_summarys_head_that_ends_inside_a_name_is_not_read_for_its_terms() -> None:
    """Mutant: `len(got) == n + _SUMMARY_MARGIN` -> `len(got) >= n` in `StoryIndex._item_terms`. A long
    summary whose head (the first SUMMARY_HEAD_CHARS characters, cut at a space) holds its first
    summary_terms terms but ends on "Prime" of "Prime Minister": the head has too few terms past them to trust
    the last, so the terms are the whole summary's ("Prime Minister" is "premier"), not the head's ("prime")."""
    words = ["harbour", "ferry", "gale", "storm", "lisbon", "crossing", "fishing", "boats", "moorings", "coastguard",
             "rescue", "pier", "tide", "surge", "dock", "wharf", "anchor", "hull", "sailors"]
    assert len(words) == StoryConfig().summary_terms - 1
    head = " ".join(words)
    end = SUMMARY_HEAD_CHARS - 1 - len(" Prime")  # the space before "Minister" is the last the head can cut at
    head += " a" * ((end - len(head)) // 2) + " " * ((end - len(head)) % 2)  # (one-letter words are no terms)
    vec = StoryIndex().vector("Resignation in Portugal", head + " Prime Minister resigned over the harbour scandal.")
    assert "premier" in vec and "prime" not in vec


def test_novelty_over_agrees_with_add_at_the_threshold_itself() -> None:
    """Mutant: `score < self.config.threshold` -> `<=` in `StoryIndex.novelty_over`. Under a threshold set to
    exactly a re-report's score, it joins (`add`: at or above the threshold), so what it brings over the report
    is its share on new terms, as `add` read it, not the 1.0 of a report that would not join."""
    first, again = "Storm hits Japan coast", "Storm batters Japan coast as thousands lose power"
    probe = StoryIndex()
    probe.add(1, first, "", T0)
    score = probe.add(2, again, "", T0 + timedelta(hours=1)).score
    ix = StoryIndex(StoryConfig(threshold=score))
    ix.add(1, first, "", T0)
    m = ix.add(2, again, "", T0 + timedelta(hours=1))
    assert m.joined and m.score == score and 0.0 < m.novelty < 1.0
    assert ix.novelty_over(2, 1) == pytest.approx(m.novelty)


def test_at_a_threshold_of_zero_reports_sharing_no_term_are_still_two_stories() -> None:
    """Mutant: `score >= cfg.threshold and bool(shared)` -> `score >= cfg.threshold` in `explain`. The config
    accepts a threshold of 0; the index never joins two reports that share no term, and explain says so."""
    cfg = StoryConfig(threshold=0.0)
    ix = StoryIndex(cfg)
    ix.add(1, "Storm hits Japan coast", "", T0)
    assert not ix.add(2, "Parliament passes budget", "", T0 + timedelta(hours=1)).joined
    why = explain("Parliament passes budget", "", "Storm hits Japan coast", "", cfg)
    assert not why.shared and not why.same_story


def test_a_last_century_year_and_a_two_digit_number_are_common_a_longer_number_rare() -> None:
    """Mutants in `_prior_df`: `key[:2] in ("19", "20")` -> `in ("20",)` (a 1990s year weighed as a rare
    number), and `len(key) <= 2` -> `<= 3` (a three-digit figure as common as a small number). A year of either
    century weighs alike; a casualty figure of three or four digits is a rarer, heavier term than 12."""
    vec = StoryIndex().vector("Records of 1998 and 2024 compared")
    assert vec["1998"] == vec["2024"]
    vec = StoryIndex().vector("Flood toll rises to 12, then 120 and 1200")
    assert vec["120"] == vec["1200"] > vec["12"]
