"""Pure scheduling and HTTP-manners decisions: when to fetch a source next, and why.

Everything here is a pure function of its arguments. Nothing reads the clock (``now`` is always
passed in), nothing does I/O, and nothing keeps state between calls, so a cron run and a daemon
reading the same store make the same decisions.

Datetimes are timezone-aware UTC. To stay forgiving, naive datetimes are taken to be UTC and
aware ones in another zone are converted; results are always aware UTC.

Main entry points:

* :func:`decide` turns a source's :class:`History` and a :class:`Policy` into a :class:`Decision`
  (``next_due``, ``state``, a human ``reason`` for ``feeds status``); :func:`is_due` tests it.
* :func:`freshness_hints` (built on :func:`parse_cache_control_max_age` and :func:`parse_expires`),
  :func:`parse_retry_after` and :func:`ttl_from_feed` turn response headers and feed hints into
  the numbers ``History`` holds. They never raise: garbage in gives ``None``.
* :func:`observe_redirect` and :func:`should_move` implement the rule "only rewrite a source's
  URL after a permanent redirect has been seen consistently for a while".
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

__all__ = [
    "MAX_HINT",
    "NEVER",
    "RETRY_AFTER_CAP",
    "Decision",
    "History",
    "Policy",
    "RedirectSeen",
    "State",
    "decide",
    "freshness_hints",
    "holds",
    "is_due",
    "observe_redirect",
    "parse_cache_control_max_age",
    "parse_expires",
    "parse_retry_after",
    "server_offset",
    "should_move",
    "ttl_from_feed",
]

State = Literal["new", "ok", "backoff", "broken", "gone"]

NEVER: datetime = datetime.max.replace(tzinfo=UTC)
"""Sentinel ``next_due`` of a source that must never be polled again (HTTP 410 Gone).

It compares later than every real time, so ``is_due`` is always false for it. Do not add to it
(that overflows); test ``decision.state == "gone"`` or ``next_due == NEVER`` instead.
"""

_DAWN: datetime = datetime.min.replace(tzinfo=UTC)  # the other end, for saturating arithmetic

RETRY_AFTER_CAP = timedelta(days=7)
"""Retry-After values further away than this are treated as this (a server asking for a month of
silence is more likely broken than sincere, and the user can still see the reason)."""

CLOCK_SLACK = timedelta(minutes=5)
"""How far after ``now`` a recorded attempt may lie before :func:`decide` takes it as made under a clock
set ahead of this one (set back since: a restored snapshot, NTP correcting a clock that ran ahead, a
backup restored on a machine whose clock is behind): when that attempt really was is unknown, so the
source is due now. Closer than this (clocks of several machines, a small correction) counts as now."""

BROKEN_MIN_FAILURES = 3
"""A source is ``broken`` only after this many failures in a row: two failures days apart (a laptop
asleep in between, its network not up yet at waking) are no evidence of a broken source."""

MAX_HINT = timedelta(days=365)
"""Upper bound on any freshness hint a parser returns (max-age, Expires, ttl), to keep numbers sane.
``decide`` caps hints much lower, at ``Policy.max_interval``."""

_MAX_HINT_SECONDS = int(MAX_HINT.total_seconds())
_MAX_DELAY_SECONDS = float(timedelta(days=36500).total_seconds())  # arithmetic guard, ~100 years

_PERMANENT_REDIRECTS = frozenset({301, 308})


# --------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Policy:
    """How often to poll and how to back off. One per store (or per source, if configured).

    ``backoff_base`` of ``None`` means "the configured interval". Raises ``ValueError`` on values
    that make no sense (non-positive durations, jitter outside ``[0, 1)``).
    """

    interval: timedelta = timedelta(minutes=15)
    min_interval: timedelta = timedelta(minutes=1)  # a configured interval below this is raised
    max_interval: timedelta = timedelta(hours=24)  # cap on what sources ask for (ttl, max-age, Expires)
    jitter: float = 0.1  # +/- fraction of the delay, derived from the source key
    backoff_base: timedelta | None = None  # first retry delay after a failure; None = interval
    backoff_cap: timedelta = timedelta(hours=24)
    broken_after: timedelta = timedelta(days=3)  # continuous failure for this long -> broken
    broken_retry: timedelta = timedelta(hours=24)  # delay between tries once broken
    redirect_persist_count: int = 3
    redirect_persist_age: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        positive = {
            "interval": self.interval,
            "min_interval": self.min_interval,
            "max_interval": self.max_interval,
            "backoff_cap": self.backoff_cap,
            "broken_after": self.broken_after,
            "broken_retry": self.broken_retry,
        }
        if self.backoff_base is not None:
            positive["backoff_base"] = self.backoff_base
        for name, value in positive.items():
            if value <= timedelta(0):
                raise ValueError(f"Policy.{name} must be positive, got {value}")
        if self.redirect_persist_age < timedelta(0):
            raise ValueError(
                f"Policy.redirect_persist_age must not be negative, got {self.redirect_persist_age}"
            )
        if not (isinstance(self.jitter, int | float) and 0.0 <= self.jitter < 1.0):
            raise ValueError(f"Policy.jitter must be a fraction in [0, 1), got {self.jitter!r}")
        if self.redirect_persist_count < 1:
            raise ValueError(
                f"Policy.redirect_persist_count must be at least 1, got {self.redirect_persist_count}"
            )

    @property
    def configured_interval(self) -> timedelta:
        """The configured interval, raised to ``min_interval`` if below it."""
        return max(self.interval, self.min_interval)

    @property
    def effective_backoff_base(self) -> timedelta:
        return self.backoff_base if self.backoff_base is not None else self.configured_interval


@dataclass(frozen=True)
class History:
    """What the store knows about one source's fetches. ``History()`` is a never-fetched source.

    ``ttl`` and ``max_age`` are seconds; ``retry_after`` is the latest Retry-After for the source's
    *host* (the caller looks up the host-wide value). ``consecutive_failures`` counts failed
    attempts since the last success; ``first_failure_at`` is when that run of failures began.
    """

    last_attempt: datetime | None = None
    last_success: datetime | None = None
    consecutive_failures: int = 0
    first_failure_at: datetime | None = None
    last_status: int | None = None
    ttl: int | None = None
    max_age: int | None = None
    expires: datetime | None = None
    retry_after: datetime | None = None
    gone: bool = False


@dataclass(frozen=True)
class Decision:
    """When a source is next due, which state it is in, and a short sentence saying why."""

    next_due: datetime
    state: State
    reason: str


@dataclass(frozen=True)
class RedirectSeen:
    """A permanent redirect observed on consecutive fetches: where to, since when, how many times."""

    target: str
    first_seen: datetime
    count: int


# --------------------------------------------------------------------------------------------
# Small helpers


def _utc(value: datetime) -> datetime:
    """Aware UTC version of ``value``; naive means UTC. Clamps instead of overflowing."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return NEVER if value.replace(tzinfo=None) > datetime(2000, 1, 1) else _DAWN


def _opt_utc(value: object) -> datetime | None:
    return _utc(value) if isinstance(value, datetime) else None


def _add(when: datetime, delta: timedelta) -> datetime:
    """``when + delta`` that saturates at the ends of the calendar instead of raising."""
    try:
        return when + delta
    except OverflowError:
        return NEVER if delta > timedelta(0) else _DAWN


def _td(seconds: float) -> timedelta:
    """A timedelta of ``seconds``, clamped to a sane range (never raises for finite floats)."""
    if math.isnan(seconds):
        seconds = 0.0
    return timedelta(seconds=min(max(seconds, -_MAX_DELAY_SECONDS), _MAX_DELAY_SECONDS))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hint_seconds(value: object) -> int | None:
    """A positive whole number of seconds from a History hint field, or None."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return min(value, _MAX_HINT_SECONDS)


def _fmt_duration(delta: timedelta) -> str:
    """Compact human duration: 45s, 15m, 1h30m, 2d, 1d6h (two largest non-zero units)."""
    total = int(delta.total_seconds())
    if total <= 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts[:2])


def _fmt_time(when: datetime, now: datetime) -> str:
    """12:05Z when on the same UTC day as ``now``, else 2024-05-02 12:05Z; seconds only if non-zero."""
    clock = when.strftime("%H:%M:%S" if when.second else "%H:%M")
    if when.date() == now.date():
        return f"{clock}Z"
    return f"{when.strftime('%Y-%m-%d')} {clock}Z"


def _key_fraction(key: str) -> float:
    """A stable number in [-1, 1) derived from ``key`` (not Python's salted ``hash``)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**63 - 1.0


def _jittered(delay: timedelta, policy: Policy, key: str) -> timedelta:
    """``delay`` scaled by ``1 + jitter * f(key)``, rounded to whole seconds (tidier in the store)."""
    factor = 1.0 + policy.jitter * _key_fraction(key)
    return _td(round(min(delay.total_seconds() * factor, _MAX_DELAY_SECONDS)))


# --------------------------------------------------------------------------------------------
# The decision


def _ok_interval(history: History, policy: Policy, last_attempt: datetime) -> tuple[timedelta, str]:
    """Effective polling interval of a healthy source and the phrase explaining it."""
    configured = policy.configured_interval
    if policy.interval < policy.min_interval:
        label = f"interval {_fmt_duration(policy.interval)} raised to minimum {_fmt_duration(configured)}"
    else:
        label = f"interval {_fmt_duration(configured)}"

    hints: list[tuple[str, timedelta]] = []
    ttl = _hint_seconds(history.ttl)
    if ttl is not None:
        hints.append(("ttl", timedelta(seconds=ttl)))
    max_age = _hint_seconds(history.max_age)
    if max_age is not None:
        hints.append(("max-age", timedelta(seconds=max_age)))
    # Expires counts only without a max-age (RFC 9111 5.3), even max-age=0
    expires = _opt_utc(history.expires) if not _is_int(history.max_age) else None
    if expires is not None and expires > last_attempt:
        try:
            hints.append(("Expires", min(expires - last_attempt, MAX_HINT)))
        except OverflowError:
            hints.append(("Expires", MAX_HINT))

    if not hints:
        return configured, label
    name, hint = max(hints, key=lambda h: h[1])  # first of equals wins: ttl, max-age, Expires
    if hint <= configured:
        return configured, label  # a source can never make us poll faster than configured
    if hint <= policy.max_interval:
        return hint, f"{label} raised to {name} {_fmt_duration(hint)}"
    if policy.max_interval <= configured:
        return configured, label
    return (
        policy.max_interval,
        f"{label} raised to {name} {_fmt_duration(hint)}, capped at {_fmt_duration(policy.max_interval)}",
    )


def _backoff_delay(failures: int, policy: Policy) -> timedelta:
    """``backoff_base * 2**(failures-1)`` capped at ``backoff_cap``, without overflowing."""
    base = policy.effective_backoff_base.total_seconds()
    cap = policy.backoff_cap.total_seconds()
    exponent = max(failures - 1, 0)
    if exponent >= 64 or base * 2.0**exponent >= cap:
        return policy.backoff_cap
    return _td(base * 2.0**exponent)


def _http_status(status: object) -> str | None:
    """ "HTTP 503" for an HTTP status, None when there is none (e.g. a network error)."""
    if isinstance(status, int) and not isinstance(status, bool):
        return f"HTTP {status}"
    return None


def decide(history: History, policy: Policy, *, key: str, now: datetime) -> Decision:
    """Decide when the source described by ``history`` is next due, as of ``now``.

    Rules, in order:

    * ``gone`` (a 410 was seen): state ``gone``, ``next_due`` is :data:`NEVER`; the source is not
      polled again until someone resets its history.
    * Never fetched: state ``new``, due ``now``.
    * Failing (``consecutive_failures > 0``): if the failures observed so far span at least
      ``broken_after`` (from ``first_failure_at`` to ``last_attempt``), state ``broken``, retried
      every ``broken_retry``; otherwise state ``backoff`` with delay
      ``backoff_base * 2**(n-1)`` capped at ``backoff_cap``.
    * Otherwise state ``ok``: the configured interval, raised (never lowered) by the largest of
      ``ttl``, ``max_age`` and ``expires - last_attempt``, with that raise capped at
      ``max_interval``. ``expires`` counts only when there is no ``max_age`` (any, even 0): as in
      RFC 9111 5.3, Cache-Control max-age overrides Expires. (A response with ``no-cache`` or
      ``no-store`` leaves neither: see :func:`freshness_hints`.)

    The delay of ``ok``/``backoff``/``broken`` gets a jitter of up to +/- ``policy.jitter`` of it,
    derived from ``key`` (a hash, so the same key always gets the same offset and different
    sources spread out). The result is never earlier than ``last_attempt + min_interval``. A
    host-wide ``retry_after`` later than ``now`` then pushes ``next_due`` to at least it, whatever
    the state (one further than :data:`RETRY_AFTER_CAP` from now is none: `holds`). A ``last_attempt``
    more than :data:`CLOCK_SLACK` after ``now`` was recorded under a clock set back since: the source is
    due now (a host's hold within the cap still counts, as it does for the run's fetches). ``broken``
    needs :data:`BROKEN_MIN_FAILURES` failures too.
    Never raises for any ``History``.
    """
    now = _utc(now)
    retry_after = _opt_utc(history.retry_after)
    last_attempt = _opt_utc(history.last_attempt)
    failures = history.consecutive_failures if isinstance(history.consecutive_failures, int) else 0

    state: State
    if history.gone:
        return Decision(NEVER, "gone", "gone (HTTP 410); never polled again")
    ahead = None  # how far the last attempt lies after now, when the clock was set back since
    if last_attempt is not None and last_attempt > _add(now, CLOCK_SLACK):
        ahead = last_attempt - now
    if not holds(retry_after, now):
        retry_after = None
    if last_attempt is None:
        state, due, reason = "new", now, "never fetched"
    elif failures > 0:
        first_failure = _opt_utc(history.first_failure_at) or last_attempt
        try:
            failing_for = last_attempt - first_failure
        except OverflowError:
            failing_for = timedelta(0)
        failed = f"{failures} {'failure' if failures == 1 else 'failures'}"
        http = _http_status(history.last_status)
        if failing_for >= policy.broken_after and failures >= BROKEN_MIN_FAILURES:
            state = "broken"
            delay = policy.broken_retry
            details = f"{failed}, last {http}" if http else failed
            reason = (
                f"broken: failing for {_fmt_duration(failing_for)} ({details}), "
                f"retried every {_fmt_duration(delay)}"
            )
        else:
            state = "backoff"
            delay = _backoff_delay(failures, policy)
            details = f" (last {http})" if http else ""
            reason = f"backoff after {failed}{details}, retry in {_fmt_duration(delay)}"
        due = _add(last_attempt, _jittered(delay, policy, key))
    else:
        state = "ok"
        delay, reason = _ok_interval(history, policy, last_attempt)
        due = _add(last_attempt, _jittered(delay, policy, key))

    if last_attempt is not None:
        due = max(due, _add(last_attempt, policy.min_interval))
    if ahead is not None:
        due = now
        reason = f"{reason}; last attempt recorded {_fmt_duration(ahead)} ahead of the clock (set back since): due now"
    if retry_after is not None and retry_after > now and retry_after > due:
        due = retry_after
        reason = f"{reason}; Retry-After from host until {_fmt_time(retry_after, now)}"
    return Decision(due, state, reason)


def holds(until: datetime | float | None, now: datetime) -> bool:
    """Whether a host's recorded hold (Retry-After, until ``until``: aware UTC or POSIX seconds) is one to
    honour at ``now``: one further than :data:`RETRY_AFTER_CAP` ahead was recorded under a clock set ahead
    (no hold is longer when recorded), so it is no hold: capped instead, it would slide with the clock and
    hold the host for as long as the clock was wrong (a review of time)."""
    if until is None:
        return False
    limit = _add(_utc(now), RETRY_AFTER_CAP)
    if isinstance(until, datetime):
        return _utc(until) <= limit
    return until <= limit.timestamp()


def is_due(decision: Decision, now: datetime) -> bool:
    """True when the source should be fetched at ``now``. Never true for a ``gone`` source."""
    if decision.state == "gone":
        return False
    return decision.next_due <= _utc(now)


# --------------------------------------------------------------------------------------------
# Header and feed-hint parsers (forgiving: garbage gives None, never an exception)


_DIRECTIVE = re.compile(r'\s*([^\s=,]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,]*))?\s*(?:,|$)')
_DIGITS = re.compile(r"[0-9]+")


def _cache_directives(value: str) -> list[tuple[str, str | None]]:
    """Split a Cache-Control value into (lower-case name, unquoted value or None), skipping junk."""
    out: list[tuple[str, str | None]] = []
    pos = 0
    while pos < len(value):
        m = _DIRECTIVE.match(value, pos)
        if m is None or m.end() == pos:
            nxt = value.find(",", pos)  # skip an unparseable chunk up to the next comma
            if nxt < 0:
                break
            pos = nxt + 1
            continue
        name, arg = m.group(1).lower(), m.group(2)
        if arg is not None:
            arg = arg.strip()
            if len(arg) >= 2 and arg[0] == arg[-1] == '"':
                arg = arg[1:-1]
        out.append((name, arg))
        pos = m.end()
    return out


def parse_cache_control_max_age(value: str | None) -> int | None:
    """Seconds of ``max-age`` from a Cache-Control header, or None.

    ``no-store`` or ``no-cache`` anywhere gives None (the server wants no caching, so the value is
    no hint about how often to poll). ``s-maxage`` is for shared caches and is ignored. With
    several ``max-age`` directives the first valid one wins. The result is bounded to
    :data:`MAX_HINT`; ``max-age=0`` gives 0 (which :func:`decide` treats as no hint).
    """
    if not isinstance(value, str):
        return None
    try:
        directives = _cache_directives(value)
    except Exception:  # pragma: no cover - belt and braces: never raise on a header
        return None
    names = {name for name, _ in directives}
    if "no-store" in names or "no-cache" in names:
        return None
    for name, arg in directives:
        if name == "max-age" and arg is not None and _DIGITS.fullmatch(arg):
            return _MAX_HINT_SECONDS if len(arg) > 12 else min(int(arg), _MAX_HINT_SECONDS)
    return None


def _cache_names(value: str) -> set[str]:
    try:
        return {name for name, _ in _cache_directives(value)}
    except Exception:  # pragma: no cover - belt and braces: never raise on a header
        return set()


def freshness_hints(
    cache_control: str | None,
    expires: str | None,
    now: datetime,
    *,
    stored: tuple[int | None, datetime | None] | None = None,
    offset: timedelta = timedelta(0),
    age: str | None = None,
) -> tuple[int | None, datetime | None]:
    """The ``(max_age, expires)`` hints a successful response leaves a source with (RFC 9111).

    ``cache_control`` and ``expires`` are the response's headers (None when absent). ``no-cache``
    or ``no-store`` means no freshness hint at all: both None, whatever ``Expires`` says. A
    ``max-age`` makes ``Expires`` irrelevant (5.3): ``expires`` is then None.

    For a full response ``stored`` is None: a missing header is no hint. For a 304 pass the stored
    pair: a header the 304 carries replaces the stored one and one it does not carry keeps it
    (4.3.4), so a 304 with only an ETag keeps the stored max-age and Expires. The stored values
    are what the response they came from left (no-cache stored both as None). ``offset``: how far the local
    clock is ahead of the server's (`server_offset`; Expires is read on the local clock). ``age``: the
    response's Age header: a max-age it carries is what is left of it, max-age less Age (RFC 9111 4.2.3: a
    cache's copy 50 minutes old with max-age=3600 is fresh for 10 more minutes), at least 0. Never raises.
    """
    max_age, when = stored if stored is not None else (None, None)
    if isinstance(cache_control, str):
        names = _cache_names(cache_control)
        if "no-store" in names or "no-cache" in names:
            return None, None
        max_age = parse_cache_control_max_age(cache_control)
        if max_age is not None:
            max_age = max(0, max_age - _age_seconds(age))
    if isinstance(expires, str):
        when = parse_expires(expires, now, offset)
    if _is_int(max_age):
        when = None
    return max_age, when


def _http_date(value: str) -> datetime | None:
    """An HTTP-date (IMF-fixdate, RFC 850 or asctime) as aware UTC, or None."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except Exception:  # ValueError, TypeError, IndexError, OverflowError from odd input
        return None
    return _utc(parsed)


def _age_seconds(age: str | None) -> int:
    """An Age header's seconds (RFC 9111 5.1: delta-seconds), 0 when absent or not a number."""
    held = age.strip() if isinstance(age, str) else ""
    return int(held) if _DIGITS.fullmatch(held) and len(held) <= 10 else 0


def server_offset(date: str | None, now: datetime, age: str | None = None) -> timedelta:
    """How far the local clock (``now``) is ahead of the server's, by the response's ``Date`` header (and
    ``Age``: a cache's copy carries the origin's Date of that long ago, RFC 9111 4.2.3); zero without a
    usable Date. A date the server gives (Expires, a Retry-After date) is its clock's: moved by this, it is
    read on ours (RFC 9111 4.2.1 computes freshness as Expires minus Date)."""
    server = _http_date(date) if isinstance(date, str) else None
    if server is None:
        return timedelta(0)
    held = _age_seconds(age)
    if held:
        server = _add(server, timedelta(seconds=held))
    try:
        return _utc(now) - server
    except OverflowError:  # pragma: no cover - _http_date gives real dates
        return timedelta(0)


def parse_expires(value: str | None, now: datetime, offset: timedelta = timedelta(0)) -> datetime | None:
    """The Expires header as aware UTC, or None; read on the local clock, ``offset`` ahead of the server's
    (`server_offset`).

    Garbage (including the common ``0`` and ``-1``) and dates not after ``now`` give None: an
    already-expired response is no hint to wait. Dates beyond ``now +`` :data:`MAX_HINT` are clamped.
    """
    if not isinstance(value, str):
        return None
    when = _http_date(value)
    if when is None:
        return None
    when = _add(when, offset)
    now = _utc(now)
    if when <= now:
        return None
    return min(when, _add(now, MAX_HINT))


def parse_retry_after(value: str | None, now: datetime, offset: timedelta = timedelta(0)) -> datetime | None:
    """Retry-After (delta-seconds or HTTP-date) as the aware UTC time until which to wait, or None; an
    HTTP-date is read on the local clock, ``offset`` ahead of the server's (`server_offset`: a server two
    hours fast asking for two minutes held its host two hours).

    Values further than :data:`RETRY_AFTER_CAP` from ``now`` are clamped to it; ``0`` and dates in
    the past give ``now`` (a valid header meaning "you may retry now"); garbage, including negative
    or fractional numbers, gives None.
    """
    if not isinstance(value, str):
        return None
    now = _utc(now)
    limit = _add(now, RETRY_AFTER_CAP)
    text = value.strip()
    if _DIGITS.fullmatch(text):
        if len(text) > 12 or int(text) >= RETRY_AFTER_CAP.total_seconds():
            return limit
        return _add(now, timedelta(seconds=int(text)))
    when = _http_date(text)
    if when is None:
        return None
    when = _add(when, offset)
    return min(max(when, now), limit)


_PERIOD_SECONDS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}
_NUMBER = re.compile(r"[0-9]{1,12}(?:\.[0-9]*)?")


def _positive_number(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if number > 0 else None


def ttl_from_feed(
    ttl_minutes: str | None, update_period: str | None, update_frequency: str | None
) -> int | None:
    """Seconds between updates the feed itself suggests, or None.

    ``ttl_minutes`` is RSS ``<ttl>``. ``update_period``/``update_frequency`` are the Syndication
    module's ``sy:updatePeriod`` (hourly, daily, weekly, monthly = 30 days, yearly = 365 days) and
    ``sy:updateFrequency`` (times per period). As that module specifies, a missing period means
    daily and a missing (or unusable) frequency means 1; if neither is present there is no sy hint.
    When both ``<ttl>`` and sy give a value, the larger (politer) one is used. Bounded to
    :data:`MAX_HINT`.
    """
    candidates: list[int] = []

    minutes = _positive_number(ttl_minutes)
    if minutes is not None:
        candidates.append(int(minutes * 60))

    has_period = isinstance(update_period, str) and update_period.strip() != ""
    has_frequency = isinstance(update_frequency, str) and update_frequency.strip() != ""
    if has_period or has_frequency:
        period_name = update_period.strip().lower() if has_period and update_period else "daily"
        period = _PERIOD_SECONDS.get(period_name)
        if period is not None:
            frequency = _positive_number(update_frequency) or 1.0
            candidates.append(max(int(period / frequency), 1))

    candidates = [c for c in candidates if c > 0]
    if not candidates:
        return None
    return min(max(candidates), _MAX_HINT_SECONDS)


# --------------------------------------------------------------------------------------------
# Permanent redirects


def observe_redirect(
    prev: RedirectSeen | None, status: int, target: str | None, now: datetime
) -> RedirectSeen | None:
    """Fold one fetch outcome into the permanent-redirect record of a source.

    A 301/308 to the same target as before increments the count (keeping ``first_seen``); one to a
    different target starts over at 1. Any other outcome (a 200 without redirect, a temporary
    302/303/307, an error) clears the record, as does a permanent status with no usable target.
    Targets are compared exactly after stripping surrounding whitespace.
    """
    if status not in _PERMANENT_REDIRECTS or not isinstance(target, str) or not target.strip():
        return None
    target = target.strip()
    now = _utc(now)
    if prev is not None and prev.target == target:
        return RedirectSeen(target=target, first_seen=prev.first_seen, count=prev.count + 1)
    return RedirectSeen(target=target, first_seen=now, count=1)


def should_move(seen: RedirectSeen | None, policy: Policy, now: datetime) -> bool:
    """True when the source's URL should be rewritten to ``seen.target``: the same permanent
    redirect was seen at least ``redirect_persist_count`` times over at least
    ``redirect_persist_age``."""
    if seen is None:
        return False
    try:
        age = _utc(now) - _utc(seen.first_seen)
    except OverflowError:
        return False
    return seen.count >= policy.redirect_persist_count and age >= policy.redirect_persist_age
