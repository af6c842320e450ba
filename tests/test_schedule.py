"""Tests for feeds.schedule: pure scheduling decisions and header parsers, with a fixed ``now``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.schedule import (
    CLOCK_SLACK,
    MAX_HINT,
    NEVER,
    RETRY_AFTER_CAP,
    Decision,
    History,
    Policy,
    RedirectSeen,
    decide,
    freshness_hints,
    holds,
    is_due,
    observe_redirect,
    parse_cache_control_max_age,
    parse_expires,
    parse_retry_after,
    server_offset,
    should_move,
    ttl_from_feed,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

EXACT = Policy(jitter=0.0)  # default policy without jitter, for exact arithmetic
ONE_SECOND = timedelta(seconds=1)  # jittered delays are rounded to whole seconds


def fetched(**changes: object) -> History:
    """A source fetched successfully at NOW, with ``changes`` applied."""
    return replace(History(last_attempt=NOW, last_success=NOW), **changes)  # type: ignore[arg-type]


def failing(n: int, since: timedelta, **changes: object) -> History:
    """A source whose last ``n`` attempts failed, the first one ``since`` before the last (at NOW)."""
    return replace(
        History(last_attempt=NOW, consecutive_failures=n, first_failure_at=NOW - since, last_status=503),
        **changes,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------------------------
# Policy


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval": timedelta(0)},
        {"min_interval": -MIN},
        {"max_interval": timedelta(0)},
        {"backoff_base": timedelta(0)},
        {"backoff_cap": timedelta(0)},
        {"broken_after": timedelta(0)},
        {"broken_retry": -HOUR},
        {"redirect_persist_age": -HOUR},
        {"redirect_persist_count": 0},
        {"jitter": -0.1},
        {"jitter": 1.0},
        {"jitter": float("nan")},
    ],
)
def test_policy_rejects_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Policy"):
        Policy(**kwargs)  # type: ignore[arg-type]


def test_policy_defaults() -> None:
    p = Policy()
    assert (p.interval, p.min_interval, p.max_interval, p.jitter) == (15 * MIN, MIN, DAY, 0.1)
    assert p.effective_backoff_base == 15 * MIN  # backoff_base None -> the configured interval
    assert (p.backoff_cap, p.broken_after, p.broken_retry) == (DAY, 3 * DAY, DAY)
    assert (p.redirect_persist_count, p.redirect_persist_age) == (3, DAY)
    assert Policy(interval=timedelta(seconds=10)).configured_interval == MIN


# --------------------------------------------------------------------------------------------
# decide: new, ok, cap/floor interactions


def test_never_fetched_is_new_and_due_now() -> None:
    d = decide(History(), Policy(), key="k", now=NOW)
    assert d == Decision(NOW, "new", "never fetched")
    assert is_due(d, NOW)


@pytest.mark.parametrize(
    ("history", "policy", "delay", "reason"),
    [
        (fetched(), EXACT, 15 * MIN, "interval 15m"),
        # ttl above the interval raises it
        (fetched(ttl=3600), EXACT, HOUR, "interval 15m raised to ttl 1h"),
        # ttl below the configured interval never lowers it
        (fetched(ttl=60), EXACT, 15 * MIN, "interval 15m"),
        (fetched(ttl=0), EXACT, 15 * MIN, "interval 15m"),
        (fetched(ttl=-5), EXACT, 15 * MIN, "interval 15m"),
        # ttl above the cap is capped at max_interval
        (fetched(ttl=3 * 86400), EXACT, DAY, "interval 15m raised to ttl 3d, capped at 1d"),
        # Cache-Control max-age and Expires are hints too; the largest wins
        (fetched(max_age=7200), EXACT, 2 * HOUR, "interval 15m raised to max-age 2h"),
        (fetched(expires=NOW + 3 * HOUR), EXACT, 3 * HOUR, "interval 15m raised to Expires 3h"),
        (fetched(expires=NOW - HOUR), EXACT, 15 * MIN, "interval 15m"),  # expired: no hint
        (
            fetched(ttl=3600, max_age=5400, expires=NOW + 30 * MIN),
            EXACT,
            90 * MIN,
            "interval 15m raised to max-age 1h30m",
        ),
        # ties: ttl named first
        (fetched(ttl=3600, max_age=3600), EXACT, HOUR, "interval 15m raised to ttl 1h"),
        # configured interval below the minimum is raised to it
        (
            fetched(),
            Policy(interval=timedelta(seconds=20), jitter=0.0),
            MIN,
            "interval 20s raised to minimum 1m",
        ),
        # a configured interval above max_interval is kept; hints cannot lower it
        (
            fetched(ttl=3600),
            Policy(interval=2 * DAY, jitter=0.0),
            2 * DAY,
            "interval 2d",
        ),
        # a hint over the cap when configured == cap: nothing to raise
        (fetched(ttl=5 * 86400), Policy(interval=DAY, jitter=0.0), DAY, "interval 1d"),
        # custom cap
        (
            fetched(ttl=6 * 3600),
            Policy(max_interval=2 * HOUR, jitter=0.0),
            2 * HOUR,
            "interval 15m raised to ttl 6h, capped at 2h",
        ),
    ],
)
def test_ok_interval(history: History, policy: Policy, delay: timedelta, reason: str) -> None:
    d = decide(history, policy, key="k", now=NOW)
    assert d == Decision(NOW + delay, "ok", reason)


def test_ok_uses_last_attempt_not_now() -> None:
    h = fetched(last_attempt=NOW - 10 * MIN, last_success=NOW - 10 * MIN)
    d = decide(h, EXACT, key="k", now=NOW)
    assert d.next_due == NOW + 5 * MIN
    assert not is_due(d, NOW)
    assert is_due(d, NOW + 5 * MIN)
    assert is_due(decide(h, EXACT, key="k", now=NOW + HOUR), NOW + HOUR)


# --------------------------------------------------------------------------------------------
# Jitter


@pytest.mark.parametrize("key", ["https://a.example/feed", "b", "", "ü😀", "\ud800"])
@pytest.mark.parametrize("delay_history", [fetched(), fetched(ttl=7200), failing(2, HOUR)])
def test_jitter_within_bounds_and_deterministic(key: str, delay_history: History) -> None:
    exact = decide(delay_history, EXACT, key=key, now=NOW).next_due - NOW
    policy = Policy(jitter=0.1)
    d1 = decide(delay_history, policy, key=key, now=NOW)
    d2 = decide(delay_history, policy, key=key, now=NOW)
    assert d1 == d2
    got = d1.next_due - NOW
    assert exact * 0.9 - ONE_SECOND <= got <= exact * 1.1 + ONE_SECOND


def test_jitter_spreads_different_keys() -> None:
    policy = Policy(jitter=0.1)
    keys = [f"https://site{i}.example/feed" for i in range(300)]
    offsets = [
        (decide(fetched(), policy, key=k, now=NOW).next_due - NOW - 15 * MIN).total_seconds() for k in keys
    ]
    assert all(-90 <= o <= 90 for o in offsets)  # +/-10% of 15m
    assert len(set(offsets)) > 100  # whole seconds: at most 181 distinct values
    # roughly uniform: each third of the +/-90s window gets a fair share
    thirds = [sum(1 for o in offsets if lo <= o < hi) for lo, hi in ((-91, -30), (-30, 30), (30, 91))]
    assert min(thirds) >= 60, thirds


def test_jitter_zero_means_exact() -> None:
    assert {decide(fetched(), EXACT, key=k, now=NOW).next_due for k in "abcdef"} == {NOW + 15 * MIN}


def test_jitter_does_not_go_below_min_interval() -> None:
    policy = Policy(interval=MIN, jitter=0.9)
    for i in range(100):
        assert decide(fetched(), policy, key=str(i), now=NOW).next_due >= NOW + MIN


def test_jitter_pinned_value() -> None:
    """The offset comes from a real hash (blake2b), not Python's per-process salted hash(): the
    value is the same in every process. Pinned, because changing it reshuffles every schedule."""
    d = decide(fetched(), Policy(), key="https://example.com/feed.xml", now=NOW)
    assert d.next_due == datetime(2024, 5, 1, 12, 13, 37, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Failures: backoff and broken


@pytest.mark.parametrize(
    ("n", "delay"),
    [
        (1, 15 * MIN),
        (2, 30 * MIN),
        (3, HOUR),
        (4, 2 * HOUR),
        (5, 4 * HOUR),
        (6, 8 * HOUR),
        (7, 16 * HOUR),
        (8, DAY),  # 32h capped at 24h
        (9, DAY),
        (1000, DAY),
        (10**30, DAY),
    ],
)
def test_backoff_sequence(n: int, delay: timedelta) -> None:
    d = decide(failing(n, HOUR), EXACT, key="k", now=NOW)
    assert d.state == "backoff"
    assert d.next_due == NOW + delay


@pytest.mark.parametrize(
    ("policy", "n", "delay"),
    [
        (Policy(jitter=0.0, backoff_base=MIN), 1, MIN),
        (Policy(jitter=0.0, backoff_base=MIN), 4, 8 * MIN),
        (Policy(jitter=0.0, backoff_base=MIN, backoff_cap=5 * MIN), 4, 5 * MIN),
        (Policy(jitter=0.0, interval=HOUR), 2, 2 * HOUR),  # base defaults to the interval
    ],
)
def test_backoff_custom_policy(policy: Policy, n: int, delay: timedelta) -> None:
    assert decide(failing(n, timedelta(0)), policy, key="k", now=NOW).next_due == NOW + delay


@pytest.mark.parametrize(
    ("history", "reason"),
    [
        (failing(1, timedelta(0)), "backoff after 1 failure (last HTTP 503), retry in 15m"),
        (failing(3, HOUR), "backoff after 3 failures (last HTTP 503), retry in 1h"),
        (failing(2, HOUR, last_status=None), "backoff after 2 failures, retry in 30m"),
    ],
)
def test_backoff_reason(history: History, reason: str) -> None:
    assert decide(history, EXACT, key="k", now=NOW).reason == reason


def test_backoff_ignores_source_hints() -> None:
    # a failing source keeps its ttl from the last success, but backoff follows its own sequence
    d = decide(failing(1, timedelta(0), ttl=6 * 3600), EXACT, key="k", now=NOW)
    assert (d.state, d.next_due) == ("backoff", NOW + 15 * MIN)


@pytest.mark.parametrize(
    ("since", "state", "delay"),
    [
        (timedelta(0), "backoff", HOUR),
        (2 * DAY, "backoff", HOUR),
        (3 * DAY - timedelta(seconds=1), "backoff", HOUR),
        (3 * DAY, "broken", DAY),
        (30 * DAY, "broken", DAY),
    ],
)
def test_broken_after_continuous_failure(since: timedelta, state: str, delay: timedelta) -> None:
    d = decide(failing(3, since), EXACT, key="k", now=NOW)
    assert (d.state, d.next_due) == (state, NOW + delay)


def test_broken_reason_and_custom_retry() -> None:
    policy = Policy(jitter=0.0, broken_after=DAY, broken_retry=12 * HOUR)
    d = decide(failing(9, 4 * DAY, last_status=500), policy, key="k", now=NOW)
    assert d == Decision(
        NOW + 12 * HOUR, "broken", "broken: failing for 4d (9 failures, last HTTP 500), retried every 12h"
    )


def test_broken_measured_by_observed_failures_not_wall_clock() -> None:
    # failures seen over one day only; the daemon was then down for a week: still backoff, due long ago
    h = failing(5, DAY)
    d = decide(h, EXACT, key="k", now=NOW + 7 * DAY)
    assert d.state == "backoff"
    assert is_due(d, NOW + 7 * DAY)


def test_failure_without_first_failure_at_is_backoff() -> None:
    d = decide(failing(4, DAY, first_failure_at=None), EXACT, key="k", now=NOW)
    assert (d.state, d.next_due) == ("backoff", NOW + 2 * HOUR)


def test_recovery_returns_to_ok() -> None:
    d = decide(fetched(consecutive_failures=0, first_failure_at=None), EXACT, key="k", now=NOW)
    assert d.state == "ok"


# --------------------------------------------------------------------------------------------
# Retry-After and gone


@pytest.mark.parametrize(
    ("history", "state"),
    [
        (History(), "new"),
        (fetched(), "ok"),
        (failing(1, timedelta(0)), "backoff"),
        (failing(9, 5 * DAY), "broken"),
    ],
)
def test_retry_after_pushes_every_state(history: History, state: str) -> None:
    until = NOW + 2 * DAY + 5 * MIN
    d = decide(replace(history, retry_after=until), EXACT, key="k", now=NOW)
    assert (d.state, d.next_due) == (state, until)
    assert d.reason.endswith("; Retry-After from host until 2024-05-03 12:05Z")


def test_retry_after_same_day_reason() -> None:
    d = decide(fetched(retry_after=NOW + 65 * MIN), EXACT, key="k", now=NOW)
    assert d == Decision(NOW + 65 * MIN, "ok", "interval 15m; Retry-After from host until 13:05Z")
    d = decide(fetched(retry_after=NOW + timedelta(minutes=65, seconds=30)), EXACT, key="k", now=NOW)
    assert d.reason.endswith("until 13:05:30Z")


@pytest.mark.parametrize(
    "retry_after",
    [
        NOW + 5 * MIN,  # in the future but before the regular due time: no effect
        NOW - HOUR,  # in the past: no effect
        NOW,
    ],
)
def test_retry_after_that_does_not_push(retry_after: datetime) -> None:
    d = decide(fetched(retry_after=retry_after), EXACT, key="k", now=NOW)
    assert d == Decision(NOW + 15 * MIN, "ok", "interval 15m")


def test_retry_after_for_new_source_in_past_is_due_now() -> None:
    assert decide(History(retry_after=NOW - MIN), EXACT, key="k", now=NOW).next_due == NOW


@pytest.mark.parametrize("history", [History(gone=True), fetched(gone=True), failing(3, DAY, gone=True)])
def test_gone_is_never_polled(history: History) -> None:
    d = decide(replace(history, retry_after=NOW + HOUR), Policy(), key="k", now=NOW)
    assert d == Decision(NEVER, "gone", "gone (HTTP 410); never polled again")
    assert not is_due(d, NOW)
    assert not is_due(d, NEVER)
    assert NEVER.tzinfo is UTC


def test_is_due_boundaries() -> None:
    d = Decision(NOW, "ok", "")
    assert is_due(d, NOW)
    assert is_due(d, NOW + timedelta(microseconds=1))
    assert not is_due(d, NOW - timedelta(microseconds=1))
    assert is_due(d, NOW.replace(tzinfo=None))  # naive is taken as UTC


def test_timezones_are_normalised() -> None:
    plus2 = timezone(timedelta(hours=2))
    h = fetched(last_attempt=NOW.astimezone(plus2))
    d = decide(h, EXACT, key="k", now=NOW.astimezone(plus2))
    assert d.next_due == NOW + 15 * MIN
    assert d.next_due.tzinfo is UTC
    naive = decide(fetched(last_attempt=NOW.replace(tzinfo=None)), EXACT, key="k", now=NOW)
    assert naive.next_due == NOW + 15 * MIN


def test_overflow_saturates() -> None:
    h = fetched(last_attempt=datetime.max.replace(tzinfo=UTC) - MIN)
    assert decide(h, EXACT, key="k", now=datetime.max.replace(tzinfo=UTC) - 2 * MIN).next_due == NEVER


# --------------------------------------------------------------------------------------------
# Header parsers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=300", 300),
        ("public, max-age=3600", 3600),
        ("Public, Max-Age=60, must-revalidate", 60),
        ('max-age="120"', 120),
        ("max-age = 90", 90),
        ("s-maxage=600", None),  # shared caches only: ignored
        ("s-maxage=600, max-age=30", 30),
        ("max-age=0", 0),
        ("max-age=60, max-age=120", 60),  # first wins
        ('private="Set-Cookie, max-age=5", max-age=77', 77),  # commas inside quotes
        ("no-store", None),
        ("max-age=3600, no-cache", None),
        ("NO-CACHE, max-age=3600", None),
        ('no-cache="Set-Cookie", max-age=3600', None),
        ("max-age=99999999999999999999999", int(MAX_HINT.total_seconds())),
        ("max-age=31536001", int(MAX_HINT.total_seconds())),
        # garbage
        (None, None),
        ("", None),
        ("   ", None),
        (",,,", None),
        ("max-age", None),
        ("max-age=", None),
        ("max-age=-5", None),
        ("max-age=1.5", None),
        ("max-age=abc", None),
        ("max-age=1e3", None),
        ('max-age="', None),
        ("=, =60, max-age=10", 10),
        ("\x00\xff max-age=5", None),
        ("max-age=٣", None),  # non-ASCII digit
        (b"max-age=5", None),
        (42, None),
    ],
)
def test_parse_cache_control_max_age(value: object, expected: int | None) -> None:
    assert parse_cache_control_max_age(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Wed, 01 May 2024 13:00:00 GMT", NOW + HOUR),
        ("Wednesday, 01-May-24 13:00:00 GMT", NOW + HOUR),  # RFC 850
        ("Wed May  1 13:00:00 2024", NOW + HOUR),  # asctime (naive -> UTC)
        ("Wed, 01 May 2024 15:00:00 +0200", NOW + HOUR),  # offsets normalised to UTC
        ("  Wed, 01 May 2024 13:00:00 GMT  ", NOW + HOUR),
        ("Wed, 01 May 2024 12:00:00 GMT", None),  # == now: already expired
        ("Tue, 30 Apr 2024 12:00:00 GMT", None),  # past
        ("Fri, 01 Jan 2100 00:00:00 GMT", NOW + MAX_HINT),  # clamped
        ("0", None),
        ("-1", None),
        ("", None),
        (None, None),
        ("tomorrow", None),
        ("Wed, 31 Feb 2024 13:00:00 GMT", None),
        ("Mon, 01 Jan 99999 00:00:00 GMT", None),
        (17, None),
    ],
)
def test_parse_expires(value: object, expected: datetime | None) -> None:
    got = parse_expires(value, NOW)  # type: ignore[arg-type]
    assert got == expected
    assert got is None or got.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + 2 * MIN),
        (" 3600 ", NOW + HOUR),
        ("0", NOW),
        ("Wed, 01 May 2024 12:05:00 GMT", NOW + 5 * MIN),
        ("Wed, 01 May 2024 11:00:00 GMT", NOW),  # past date: may retry now
        (str(int(RETRY_AFTER_CAP.total_seconds())), NOW + RETRY_AFTER_CAP),
        ("99999999", NOW + RETRY_AFTER_CAP),  # absurd: capped at 7 days
        ("9" * 400, NOW + RETRY_AFTER_CAP),
        ("Fri, 01 Jan 2100 00:00:00 GMT", NOW + RETRY_AFTER_CAP),
        # garbage
        ("-5", None),
        ("1.5", None),
        ("", None),
        ("soon", None),
        ("120 seconds", None),
        (None, None),
        (b"120", None),
    ],
)
def test_parse_retry_after(value: object, expected: datetime | None) -> None:
    got = parse_retry_after(value, NOW)  # type: ignore[arg-type]
    assert got == expected
    assert got is None or got.tzinfo is UTC


@pytest.mark.parametrize(
    ("ttl", "period", "frequency", "expected"),
    [
        ("60", None, None, 3600),
        (" 30 ", None, None, 1800),
        ("1.5", None, None, 90),
        (None, "hourly", None, 3600),
        (None, "hourly", "2", 1800),
        (None, "daily", "4", 21600),
        (None, " Weekly ", "1", 7 * 86400),
        (None, "monthly", "2", 15 * 86400),
        (None, "yearly", "1", 365 * 86400),
        (None, None, "4", 21600),  # period defaults to daily
        (None, "daily", "0", 86400),  # unusable frequency -> 1
        (None, "daily", "lots", 86400),
        (None, "hourly", "100000", 1),  # never rounds to zero
        ("60", "daily", "1", 86400),  # both: the larger (politer) one
        ("1440", "hourly", "1", 86400),
        ("0", None, None, None),
        ("-10", None, None, None),
        ("soon", None, None, None),
        (None, "fortnightly", "1", None),
        (None, "", "", None),
        (None, None, None, None),
        ("", "  ", None, None),
        ("99999999999999", None, None, None),  # absurd digits count as garbage
        ("9999999", None, None, int(MAX_HINT.total_seconds())),
        ("garbage", "hourly", None, 3600),
    ],
)
def test_ttl_from_feed(
    ttl: str | None, period: str | None, frequency: str | None, expected: int | None
) -> None:
    assert ttl_from_feed(ttl, period, frequency) == expected


@settings(deadline=None)
@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
def test_parsers_never_raise(a: str | None, b: str | None, c: str | None) -> None:
    cc = parse_cache_control_max_age(a)
    assert cc is None or 0 <= cc <= MAX_HINT.total_seconds()
    exp = parse_expires(a, NOW)
    assert exp is None or NOW < exp <= NOW + MAX_HINT
    ra = parse_retry_after(a, NOW)
    assert ra is None or NOW <= ra <= NOW + RETRY_AFTER_CAP
    ttl = ttl_from_feed(a, b, c)
    assert ttl is None or 1 <= ttl <= MAX_HINT.total_seconds()


# --------------------------------------------------------------------------------------------
# Permanent redirects


NEW_URL = "https://new.example/feed"


@pytest.mark.parametrize(
    ("prev", "status", "target", "expected"),
    [
        (None, 301, NEW_URL, RedirectSeen(NEW_URL, NOW, 1)),
        (None, 308, NEW_URL, RedirectSeen(NEW_URL, NOW, 1)),
        (None, 301, f"  {NEW_URL}\n", RedirectSeen(NEW_URL, NOW, 1)),
        (RedirectSeen(NEW_URL, NOW - DAY, 2), 301, NEW_URL, RedirectSeen(NEW_URL, NOW - DAY, 3)),
        (RedirectSeen(NEW_URL, NOW - DAY, 2), 308, NEW_URL, RedirectSeen(NEW_URL, NOW - DAY, 3)),
        # a different target starts over
        (
            RedirectSeen(NEW_URL, NOW - DAY, 5),
            301,
            "https://other.example/",
            RedirectSeen("https://other.example/", NOW, 1),
        ),
        # anything not permanent clears
        (RedirectSeen(NEW_URL, NOW - DAY, 5), 200, None, None),
        (RedirectSeen(NEW_URL, NOW - DAY, 5), 302, NEW_URL, None),
        (RedirectSeen(NEW_URL, NOW - DAY, 5), 307, NEW_URL, None),
        (RedirectSeen(NEW_URL, NOW - DAY, 5), 304, None, None),
        (RedirectSeen(NEW_URL, NOW - DAY, 5), 503, None, None),
        # a permanent status without a usable target clears too
        (RedirectSeen(NEW_URL, NOW - DAY, 5), 301, None, None),
        (RedirectSeen(NEW_URL, NOW - DAY, 5), 301, "  ", None),
        (None, 200, None, None),
    ],
)
def test_observe_redirect(
    prev: RedirectSeen | None, status: int, target: str | None, expected: RedirectSeen | None
) -> None:
    assert observe_redirect(prev, status, target, NOW) == expected


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        (None, False),
        (RedirectSeen(NEW_URL, NOW - DAY, 3), True),
        (RedirectSeen(NEW_URL, NOW - 5 * DAY, 30), True),
        (RedirectSeen(NEW_URL, NOW - DAY, 2), False),  # not enough times
        (RedirectSeen(NEW_URL, NOW - DAY + MIN, 3), False),  # not long enough
        (RedirectSeen(NEW_URL, NOW - HOUR, 100), False),  # many quick retries are not persistence
    ],
)
def test_should_move(seen: RedirectSeen | None, expected: bool) -> None:
    assert should_move(seen, Policy(), NOW) is expected


def test_redirect_sequence_until_move() -> None:
    policy = Policy()
    seen: RedirectSeen | None = None
    times = [NOW, NOW + 12 * HOUR, NOW + DAY]
    moves = []
    for t in times:
        seen = observe_redirect(seen, 301, NEW_URL, t)
        moves.append(should_move(seen, policy, t))
    assert moves == [False, False, True]
    # one direct 200 resets the evidence
    seen = observe_redirect(seen, 200, None, NOW + 2 * DAY)
    assert not should_move(seen, policy, NOW + 2 * DAY)
    assert observe_redirect(seen, 301, NEW_URL, NOW + 3 * DAY) == RedirectSeen(NEW_URL, NOW + 3 * DAY, 1)


# --------------------------------------------------------------------------------------------
# Properties


_aware = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
_any_dt = st.one_of(
    st.none(),
    st.datetimes(timezones=st.none() | st.just(UTC) | st.timezones()),
)
_seconds = st.one_of(st.none(), st.integers(min_value=-(10**20), max_value=10**20))

_policies = st.builds(
    Policy,
    interval=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3650)),
    min_interval=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30)),
    max_interval=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3650)),
    jitter=st.floats(min_value=0.0, max_value=0.99),
    backoff_base=st.none() | st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30)),
    backoff_cap=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3650)),
    broken_after=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3650)),
    broken_retry=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3650)),
)


@settings(max_examples=300, deadline=None)
@given(
    last_attempt=_aware,
    now=_aware,
    failures=st.integers(min_value=-3, max_value=10**6),
    first_failure=st.one_of(st.none(), _aware),
    ttl=_seconds,
    max_age=_seconds,
    expires=st.one_of(st.none(), _aware),
    retry_after=st.one_of(st.none(), _aware),
    policy=_policies,
    key=st.text(),
)
def test_fetched_source_never_due_before_min_interval(
    last_attempt: datetime,
    now: datetime,
    failures: int,
    first_failure: datetime | None,
    ttl: int | None,
    max_age: int | None,
    expires: datetime | None,
    retry_after: datetime | None,
    policy: Policy,
    key: str,
) -> None:
    h = History(
        last_attempt=last_attempt,
        consecutive_failures=failures,
        first_failure_at=first_failure,
        ttl=ttl,
        max_age=max_age,
        expires=expires,
        retry_after=retry_after,
    )
    d = decide(h, policy, key=key, now=now)
    assert d.state in {"ok", "backoff", "broken"}
    ahead = last_attempt - now > CLOCK_SLACK  # recorded under a clock set back since: due now
    try:
        floor = now if ahead else last_attempt + policy.min_interval
    except OverflowError:
        floor = NEVER
    assert d.next_due >= floor
    assert d.next_due.tzinfo is UTC
    # a hold counts unless it is further ahead than any hold can be
    if retry_after is not None and holds(retry_after, now) and retry_after > now:
        assert d.next_due >= retry_after
    assert d == decide(h, policy, key=key, now=now)  # pure: same inputs, same answer


@settings(max_examples=300, deadline=None)
@given(
    history=st.builds(
        History,
        last_attempt=_any_dt,
        last_success=_any_dt,
        consecutive_failures=st.integers(),
        first_failure_at=_any_dt,
        last_status=st.none() | st.integers(),
        ttl=_seconds,
        max_age=_seconds,
        expires=_any_dt,
        retry_after=_any_dt,
        gone=st.booleans(),
    ),
    policy=_policies,
    now=st.datetimes(timezones=st.none() | st.just(UTC) | st.timezones()),
    key=st.text(),
)
def test_decide_never_raises(history: History, policy: Policy, now: datetime, key: str) -> None:
    d = decide(history, policy, key=key, now=now)
    assert d.next_due.tzinfo is UTC
    assert d.state in {"new", "ok", "backoff", "broken", "gone"}
    assert d.reason
    is_due(d, now)
    if history.gone:
        assert d.state == "gone" and d.next_due == NEVER
    elif history.last_attempt is None:
        assert d.state == "new"


# --------------------------------------------------------------------------------------------
# The clock set back or asleep (a review of time): recorded times after now are not trusted


@pytest.mark.parametrize("back", [timedelta(minutes=6), DAY, 365 * DAY])
@pytest.mark.parametrize("history", [fetched(), fetched(ttl=6 * 3600), failing(1, timedelta(0)), failing(9, 5 * DAY)])
def test_a_last_attempt_recorded_ahead_of_the_clock_makes_the_source_due_now(back: timedelta,
                                                                              history: History) -> None:
    # one run under a clock a year ahead, then the clock put right: no source was fetched again for a year
    d = decide(history, EXACT, key="k", now=NOW - back)
    assert d.next_due == NOW - back and is_due(d, NOW - back), d
    assert "ahead of the clock" in d.reason


def test_a_last_attempt_a_little_ahead_counts_as_now() -> None:
    d = decide(fetched(), EXACT, key="k", now=NOW - 4 * MIN)  # within CLOCK_SLACK: the interval still counts
    assert d.next_due == NOW + 15 * MIN and not is_due(d, NOW - 4 * MIN)


def test_a_hold_further_ahead_than_any_hold_is_no_hold() -> None:
    # a Retry-After recorded by a clock a day ahead lasts until that clock's date, as the run's fetches hold
    # the host (a hold within the cap counts: moved back by the step, it slid with every call)
    d = decide(fetched(retry_after=NOW + 2 * MIN), EXACT, key="k", now=NOW - DAY)
    assert d.next_due == NOW + 2 * MIN
    # a host's hold further than any hold can be (recorded by a clock far ahead) is none; capped, it slid
    for later in (0, 8, 200):
        now = NOW + later * DAY
        d = decide(fetched(last_attempt=now - HOUR, retry_after=NOW + 400 * DAY), EXACT, key="k", now=now)
        assert d.next_due == now - HOUR + 15 * MIN, later
    assert holds(NOW + RETRY_AFTER_CAP, NOW) and not holds(NOW + RETRY_AFTER_CAP + MIN, NOW)
    assert holds((NOW + HOUR).timestamp(), NOW) and not holds((NOW + 8 * DAY).timestamp(), NOW)
    assert not holds(None, NOW)


def test_two_failures_days_apart_are_not_broken_yet() -> None:
    # a failure, the laptop asleep four days, a failure at waking (the network not up yet): backoff, not broken
    d = decide(failing(2, 4 * DAY), EXACT, key="k", now=NOW)
    assert (d.state, d.next_due) == ("backoff", NOW + 30 * MIN)
    assert decide(failing(3, 4 * DAY), EXACT, key="k", now=NOW).state == "broken"


def test_a_servers_dates_are_read_on_its_own_clock() -> None:
    fast = NOW + 2 * HOUR  # the server's clock, two hours fast
    date = format_datetime(fast, usegmt=True)
    off = server_offset(date, NOW)
    assert off == -2 * HOUR
    assert parse_retry_after(format_datetime(fast + 2 * MIN, usegmt=True), NOW, off) == NOW + 2 * MIN
    assert parse_retry_after("120", NOW, off) == NOW + 2 * MIN  # seconds are no date
    assert parse_expires(format_datetime(fast + HOUR, usegmt=True), NOW, off) == NOW + HOUR
    assert freshness_hints(None, format_datetime(fast + HOUR, usegmt=True), NOW, offset=off) == (None, NOW + HOUR)
    # a cache's copy: the origin's Date of Age seconds ago (RFC 9111 4.2.3): an hour of freshness less that
    assert server_offset(date, NOW, "600") == -2 * HOUR - 10 * MIN
    assert parse_expires(format_datetime(fast + HOUR, usegmt=True), NOW, server_offset(date, NOW, "600")) == (
        NOW + HOUR - 10 * MIN)
    assert server_offset(date, NOW, "soon") == off
    # without a usable Date the local clock reads them, as before
    for no_date in (None, "", "yesterday"):
        assert server_offset(no_date, NOW) == timedelta(0)
