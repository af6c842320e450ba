"""Boundaries of schedule, classify and dedup that a mutation survey found no test pinned.

Each test pins one rule at its edge: the input sits exactly where a flipped comparison, a dropped clause
or a changed constant would give another answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feeds.classify import Matcher
from feeds.config import Channel
from feeds.dedup import (
    body_hash,
    canonical_link,
    distinct_title,
    shared_links,
    texts_agree,
    texts_agree_but_numbers,
)
from feeds.models import Entry
from feeds.schedule import MAX_HINT, History, Policy, decide

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
EXACT = Policy(jitter=0.0)  # default policy without jitter, for exact arithmetic


def fetched(**changes: object) -> History:
    """A source fetched successfully at NOW, with ``changes`` applied."""
    return History(last_attempt=NOW, last_success=NOW, **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# schedule.decide


@pytest.mark.parametrize("field", ["ttl", "max_age"])
def test_an_absurd_hint_in_seconds_is_clamped_not_an_overflow(field: str) -> None:
    # _hint_seconds clamps ttl / max-age to MAX_HINT: decide never raises for any History (10**15 s is
    # past what a timedelta holds), and the reason names the clamped hint
    d = decide(fetched(**{field: 10**15}), Policy(), key="k", now=NOW)
    assert d.state == "ok"
    assert "365d" in d.reason


@pytest.mark.parametrize(("field", "name"), [("ttl", "ttl"), ("max_age", "max-age")])
def test_a_hint_beyond_a_year_is_read_as_a_year(field: str, name: str) -> None:
    # MAX_HINT bounds a hint: a 400-day ttl / max-age reads as 365 days in the reason (then capped at
    # max_interval as ever)
    assert timedelta(days=365) == MAX_HINT
    d = decide(fetched(**{field: 400 * 86400}), EXACT, key="k", now=NOW)
    assert f"raised to {name} 365d" in d.reason
    assert "400d" not in d.reason
    assert d.next_due == NOW + EXACT.max_interval


def test_an_expires_beyond_a_year_is_read_as_a_year() -> None:
    # the Expires hint is bounded by MAX_HINT too (400 days ahead reads as 365d); with a max_interval above
    # a year the bound is what the source waits
    policy = Policy(jitter=0.0, max_interval=timedelta(days=500))
    d = decide(fetched(expires=NOW + timedelta(days=400)), policy, key="k", now=NOW)
    assert "raised to Expires 365d" in d.reason
    assert "400d" not in d.reason
    assert d.next_due == NOW + MAX_HINT


def test_a_retry_after_already_past_changes_nothing() -> None:
    # only a Retry-After later than now holds a source: one an hour past neither moves next_due nor shows
    # in the reason
    two_hours_ago = NOW - timedelta(hours=2)
    h = History(last_attempt=two_hours_ago, last_success=two_hours_ago, retry_after=NOW - timedelta(hours=1))
    d = decide(h, EXACT, key="k", now=NOW)
    assert d.next_due == NOW - timedelta(hours=1, minutes=45)  # last attempt + 15m interval
    assert "Retry-After" not in d.reason
    assert d.reason == "interval 15m"


def test_an_interval_equal_to_the_minimum_is_not_raised() -> None:
    # only an interval strictly below min_interval is "raised to minimum"
    d = decide(fetched(), Policy(jitter=0.0, interval=timedelta(minutes=1)), key="k", now=NOW)
    assert d.reason == "interval 1m"
    assert d.next_due == NOW + timedelta(minutes=1)


def test_a_ttl_equal_to_the_interval_raises_nothing() -> None:
    # a hint raises the interval only when it is longer than the configured one (15m = 900 s)
    d = decide(fetched(ttl=900), EXACT, key="k", now=NOW)
    assert d.reason == "interval 15m"
    assert "ttl" not in d.reason


def test_a_ttl_equal_to_max_interval_is_not_capped() -> None:
    # a hint up to and including max_interval is taken whole: "capped at" only for one beyond it
    assert EXACT.max_interval == DAY
    d = decide(fetched(ttl=86400), EXACT, key="k", now=NOW)
    assert d.reason == "interval 15m raised to ttl 1d"
    assert "capped" not in d.reason
    assert d.next_due == NOW + DAY


# --------------------------------------------------------------------------------------------
# classify


def ch(slug: str, **kw: object) -> Channel:
    return Channel(slug=slug, title=slug, **kw)  # type: ignore[arg-type]


def test_a_phrase_whose_last_word_has_a_star_matches_that_word_as_a_prefix() -> None:
    # "west war*": the earlier words match whole, the last one as a prefix (Warsaw)
    m = Matcher([ch("w", include=("west war*",))])
    assert m.classify("West Warsaw talks", "", (), "S") == ["w"]
    assert m.classify("West War ends", "", (), "S") == ["w"]
    assert m.classify("Western Warsaw talks", "", (), "S") == []  # the earlier word is whole
    assert m.classify("Warsaw West talks", "", (), "S") == []  # in order


def test_classify_lists_channels_in_config_order_not_as_found() -> None:
    # a fallback channel configured first comes first, although it is only added after the others are seen
    m = Matcher([ch("A", fallback=True), ch("B", match_all=True), ch("C", include=("Gaza",))])
    assert m.classify("Weather is nice", "", (), "S") == ["A", "B"]
    assert m.classify("Gaza talks", "", (), "S") == ["B", "C"]


# --------------------------------------------------------------------------------------------
# dedup: titles and texts


def test_distinct_title_counts_three_letter_words_non_numbers_and_needs_three() -> None:
    # a title names one post with DISTINCT_TITLE_WORDS (3) words of >= 3 letters that are no number nor
    # generic word
    assert distinct_title("fed cuts rates")  # "fed" has exactly three letters: it counts
    assert not distinct_title("us tax cuts")  # "us" has two: it does not
    assert not distinct_title("budget vote")  # two words are not enough
    assert not distinct_title("budget vote 2024")  # a number is no word of a title
    assert not distinct_title("week 12 2024 results")


def _w(prefix: str, n: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_texts_agree_at_exactly_the_agreement_share() -> None:
    # overlap / union >= TEXT_AGREEMENT (0.5, inclusive): {a b c} vs {a b d} share 2 of 4, exactly 0.5
    assert texts_agree(("a b c", ""), ("a b d", ""))
    assert not texts_agree(("a b c", ""), ("a d e", ""))  # 1 of 5


def test_texts_agree_reads_only_the_first_text_words() -> None:
    # only a lede's first TEXT_WORDS (40) words count: 20 shared then 20 of one's own each share 20 of 60
    # (no agreement), however much they share after that; 40 shared words agree whatever follows
    shared, rest = _w("s", 20), _w("t", 200)
    a, b = f"{shared} {_w('a', 20)}", f"{shared} {_w('b', 20)}"
    assert not texts_agree((a, ""), (b, ""))
    assert not texts_agree((f"{a} {rest}", ""), (f"{b} {rest}", ""))
    lede = _w("s", 40)
    assert texts_agree((f"{lede} {_w('a', 200)}", ""), (f"{lede} {_w('b', 200)}", ""))


def test_texts_agree_but_numbers_an_empty_text_agrees_only_with_an_empty_one() -> None:
    # numbers set aside: two texts of numbers only agree, an empty text agrees with an empty one only
    assert texts_agree_but_numbers(("", ""), ("", ""))
    assert texts_agree_but_numbers(("12", ""), ("13", ""))
    assert not texts_agree_but_numbers(("12 points", ""), ("", ""))
    assert not texts_agree_but_numbers(("12, 3", ""), ("", ""))  # numbers only, but not empty
    assert not texts_agree_but_numbers(("", ""), ("", "1,234"))
    assert not texts_agree_but_numbers(("12", ""), ("points", ""))  # numbers only vs words


# --------------------------------------------------------------------------------------------
# dedup: links, hashes, windows


def test_the_same_entry_twice_does_not_make_its_link_shared() -> None:
    # a link is shared only by *distinct* entries (other guid or title); one entry listed twice is one
    e = Entry(guid=None, link="https://e.com/story", title="Story")
    assert shared_links((e, e)) == frozenset()
    other = Entry(guid=None, link="https://e.com/story", title="Another story")
    assert shared_links((e, other)) == frozenset({"e.com/story"})


def test_body_hash_counts_an_items_date_after_a_long_channel_header() -> None:
    # only the head before the first item (looked for in the first 64 KiB) has its dates masked: an item
    # after a header longer than that keeps its own pubDate in the hash
    head = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
            b"<lastBuildDate>Wed, 01 May 2024 12:00:00 GMT</lastBuildDate>"
            b"<description>" + b"x" * 70000 + b"</description>")

    def doc(item_date: bytes) -> bytes:
        return (head + b"<item><title>A</title><link>https://e.com/a</link><pubDate>" + item_date
                + b"</pubDate></item></channel></rss>")

    assert len(head) > 65536
    assert body_hash(doc(b"Wed, 01 May 2024 10:00:00 GMT")) != body_hash(doc(b"Wed, 01 May 2024 11:00:00 GMT"))
    # the feed-level date of the head is still masked
    rebuilt = doc(b"Wed, 01 May 2024 10:00:00 GMT").replace(b"12:00:00 GMT</lastBuildDate>",
                                                            b"13:00:00 GMT</lastBuildDate>")
    assert body_hash(rebuilt) == body_hash(doc(b"Wed, 01 May 2024 10:00:00 GMT"))


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://m.go.com/x", "go.com/x"),  # "go" + a three-letter TLD is no country domain: m. is an edition
        ("https://m.bbc.co.uk/x", "bbc.co.uk/x"),
        ("https://m.co.uk/x", "m.co.uk/x"),  # under a country's second level, m is somebody's site
        ("https://ex.com/x/.amp", "ex.com/x/.amp"),  # ".amp" alone is a name, not the suffix of one
        ("https://ex.com/x.amp", "ex.com/x"),
        ("https://ex.com/x/amp", "ex.com/x"),
    ],
)
def test_canonical_link_edition_host_and_amp_suffix_boundaries(url: str, key: str) -> None:
    # the edition-host exception is only for two-letter country domains (co.uk); a .amp suffix folds only
    # after a real name
    assert canonical_link(url) == key
