"""`feeds status`: every source's state and why it is or is not due, every channel's size.

Read-only: it never takes the store lock and never creates a store. The decision (state, next
due, reason) is recomputed from the stored history with the current config, exactly as the next
`feeds run` or daemon tick will make it. `--check` turns this into a monitoring probe: exit 3, saying why,
when a source has been due for longer than `--max-age` without being fetched (nothing polls), when no
source fetched successfully within `--max-age` (a source polled less often whose last fetch worked and whose
next poll is not `--max-age` overdue counts as fresh), when too many sources are broken, or when publishing (writing
the output documents) has been failing for longer than `--max-age` (one failed publish that the next run's
publish mends never counts). With -q it prints nothing when all is well.
URL credentials are never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from feeds.config import Config
from feeds.logs import escape_controls

EXIT_OK, EXIT_USAGE, EXIT_CHECK = 0, 2, 3
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)", re.IGNORECASE)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def parse_duration(text: str) -> timedelta:
    """ "2h", "90m", "1h30m", "45s", "1d"; a bare number is minutes (as in the config). ValueError else."""
    t = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        try:
            return timedelta(minutes=float(t))
        except OverflowError:
            raise ValueError(f"too long a duration: {text!r} (at most {timedelta.max.days} days)") from None
    parts = _DURATION_PART.findall(t)
    if not t or not parts or _DURATION_PART.sub("", t).strip():
        raise ValueError(f'not a duration: {text!r} (try "2h", "90m", "1h30m", "45s", "1d")')
    try:
        return timedelta(seconds=sum(float(n) * _UNIT[u.lower()] for n, u in parts))
    except OverflowError:
        raise ValueError(f"too long a duration: {text!r} (at most {timedelta.max.days} days)") from None


def scrub(text: str | None) -> str | None:
    """Error text with any URL's user:password removed."""
    if text is None:
        return None
    from feeds.fetch import redact

    return _URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text)


def fmt_duration(delta: timedelta) -> str:
    total = int(abs(delta.total_seconds()))
    if total < 60:
        return f"{total}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts[:2])


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ago(ts: float | None, now: datetime) -> str:
    if ts is None:
        return "never"
    delta = now - datetime.fromtimestamp(ts, UTC)
    if delta < timedelta(0):  # written under a clock set ahead (or this one is behind)
        return f"{fmt_duration(-delta)} in the future"
    return f"{fmt_duration(delta)} ago"


def _until(ts: float | None, now: datetime) -> str:
    if ts is None:
        return "never"
    delta = datetime.fromtimestamp(ts, UTC) - now
    return "now" if delta <= timedelta(0) else f"in {fmt_duration(delta)}"


@dataclass(frozen=True)
class Check:
    ok: bool
    problems: tuple[str, ...]
    last_success: float | None
    broken: int
    total: int


def collect(cfg: Config, now: datetime | None = None) -> dict[str, Any]:
    """Everything `status` shows, as plain JSON-ready data (times as epoch seconds here)."""
    from feeds import schedule
    from feeds.fetch import redact
    from feeds.run import PUBLISH_FAILING_KEY, history_of, policy_for, publish_failure

    now = now or datetime.now(UTC)
    rows: dict[str, Any] = {}
    host_retry: dict[str, float] = {}
    channel_states: dict[str, dict[str, Any]] = {}
    last_run: dict[str, Any] | None = None
    pruned_at: str | None = None
    failing: dict[str, Any] | None = None
    store_exists = cfg.store_path.exists()
    if store_exists:
        store = _open_readonly(cfg.store_path)  # no lock, no migration, nothing written
        try:
            rows = {r.url: r for r in store.sources()}
            host_retry = store.host_retry_after()
            channel_states = store.channel_states()
            pruned_at = store.meta_value("pruned_at")
            failing = publish_failure(store.meta_value(PUBLISH_FAILING_KEY))
            runs = store.last_runs(1)
            last_run = runs[0] if runs else None
            if last_run is not None and not last_run.get("finished"):
                # unfinished: running now (the lock's holder is alive), or killed
                from feeds.lock import holder

                last_run = dict(last_run, running=holder(cfg.store_path))
            if last_run is not None and not last_run.get("sources"):
                # a cron run with nothing due says little: the last run that fetched too
                fetched = store.last_runs(1, fetching=True)
                if fetched:
                    last_run = dict(last_run, last_fetching=fetched[0])
        finally:
            store.close()
    sources = []
    for src in cfg.sources:
        row = rows.get(src.url)
        policy = policy_for(cfg, src.interval)
        entry: dict[str, Any] = {"name": src.name, "url": redact(src.url), "fetch_url": None, "state": "new",
                                 "last_attempt": None, "last_success": None, "http_status": None, "items": 0,
                                 "last_new": 0, "failures": 0, "next_due": now.timestamp(), "due": True,
                                 "reason": "never fetched", "last_error": None, "redirect": None}
        if row is not None:
            d = schedule.decide(history_of(row, host_retry), policy, key=row.url, now=now)
            reason = d.reason
            if row.fetch_url and row.fetch_url != row.url:
                reason += f"; fetched at {redact(row.fetch_url)} (moved permanently, or the feed its page names)"
            if row.redirect_target:
                reason += (f"; permanent redirect to {redact(row.redirect_target)} seen {row.redirect_count}x "
                           f"(moves after {policy.redirect_persist_count}x over "
                           f"{fmt_duration(policy.redirect_persist_age)})")
                entry["redirect"] = {"target": redact(row.redirect_target), "count": row.redirect_count,
                                     "first_seen": row.redirect_first_seen}
            entry.update(
                fetch_url=redact(row.fetch_url) if row.fetch_url else None, state=d.state,
                last_attempt=row.last_attempt, last_success=row.last_success, http_status=row.last_status,
                items=row.items_total, last_new=row.last_new, failures=row.consecutive_failures,
                next_due=None if d.state == "gone" else d.next_due.timestamp(), due=schedule.is_due(d, now),
                reason=reason, last_error=scrub(row.last_error),
            )
        if not src.enabled:  # never fetched, whatever its schedule says
            entry.update(state="disabled", next_due=None, due=False,
                         reason="enabled = false in the config: not fetched; what it gave stays published")
        sources.append(entry)
    channels = []
    for ch in cfg.channels:
        st = channel_states.get(ch.slug, {})
        channels.append({"slug": ch.slug, "title": ch.title, "entries": int(st.get("entries") or 0),
                         "last_change": st.get("last_change"), "pending": bool(st.get("dirty", False))})
    return {"now": now.timestamp(), "config": str(cfg.path), "store": str(cfg.store_path), "store_exists": store_exists,
            "last_run": last_run, "publish_failure": failing, "sources": sources, "channels": channels,
            "keep": cfg.store_keep.total_seconds() if cfg.store_keep is not None else None,
            "pruned_at": float(pruned_at) if pruned_at is not None else None,
            "sizes": _sizes(cfg.store_path, cfg.output.dir)}


def _open_readonly(path: Path) -> Any:
    """Store.open_readonly; a store older than this feeds names the way to upgrade it whoever holds it: `feeds
    run` upgrades it, but exits 75 while a daemon holds the store (an operator review, upgrading under the
    daemon): the daemon restarted upgrades it."""
    from feeds.errors import StoreError
    from feeds.store import Store

    try:
        return Store.open_readonly(path)
    except StoreError as e:
        if "is older than this feeds" not in str(e):
            raise
        from feeds.lock import holder

        pid = holder(path)
        held = f"a feeds process (pid {pid}) holds the store now: " if pid else ""
        raise StoreError(f"{e} (or restart the daemon: {held}a daemon started before the upgrade runs the old "
                         "code, and `feeds run` waits for it, exit 75; the restarted daemon upgrades the store)") from e


def _sizes(store: Path, output: Path) -> dict[str, int]:
    """Bytes on disk: the store, its write-ahead log, the output directory (an operator watching growth)."""
    def size(p: Path) -> int:
        try:
            return p.stat().st_size
        except OSError:
            return 0

    total = 0
    with contextlib.suppress(OSError):
        for root, _dirs, files in os.walk(output):
            total += sum(size(Path(root) / f) for f in files)
    return {"store": size(store), "wal": size(Path(f"{store}-wal")), "output": total}


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def check(data: dict[str, Any], max_age: timedelta, max_broken: float) -> Check:
    now = datetime.fromtimestamp(data["now"], UTC)
    sources = [s for s in data["sources"] if s["state"] != "disabled"]  # (enabled = false: not fetched)
    successes = [s["last_success"] for s in sources if s["last_success"] is not None]
    last = max(successes) if successes else None
    problems = []
    if not sources:
        problems.append("every source is disabled (enabled = false)" if data["sources"] else "no sources configured")
    elif last is None:
        problems.append("no source has ever been fetched successfully"
                        + ("" if data["store_exists"] else f" (no store yet at {data['store']})"))
    elif now - datetime.fromtimestamp(last, UTC) > max_age:
        # a source polled less often than --max-age (a ttl or sy:updatePeriod raising its interval, up to
        # schedule.max_interval) whose last fetch worked and whose next poll is not --max-age overdue is healthy
        # (an operator review: a config whose sources all poll daily failed every check); but a fetch tried within
        # --max-age that failed, with none working since, is an outage whatever waits (a diff review: a daily
        # source hid three hourly ones failing for a day)
        tried = [s for s in sources if s["last_attempt"] is not None
                 and now - datetime.fromtimestamp(s["last_attempt"], UTC) <= max_age]
        if tried:
            problems.append(f"last successful fetch was {_ago(last, now)}, longer than --max-age "
                            f"{fmt_duration(max_age)}: every fetch since failed ({len(tried)} tried within it)")
        elif not any(_waiting(s, now, max_age) for s in sources):
            problems.append(f"last successful fetch was {_ago(last, now)}, longer than --max-age "
                            f"{fmt_duration(max_age)} (and no source whose last fetch worked waits for its next "
                            "poll)")
    # a source left unfetched for longer than --max-age after it was due: nothing polls (cron or the daemon is not
    # running, or a run hangs), whatever the sources' intervals
    overdue = sorted((s for s in sources if s["state"] != "gone" and s["next_due"] is not None
                      and now - datetime.fromtimestamp(s["next_due"], UTC) > max_age), key=lambda s: s["next_due"])
    if overdue:
        problems.append(f"{len(overdue)} of {len(sources)} sources due for longer than --max-age "
                        f"{fmt_duration(max_age)} and not fetched ({escape_controls(overdue[0]['name'])} was due "
                        f"{_ago(overdue[0]['next_due'], now)}): is cron or the daemon running?")
    # a fetch dated further ahead than --max-age: stored under a clock set ahead that was put right since (a machine
    # booted with a bad real-time clock), and nothing has fetched it since. The schedule makes such a source due
    # now at every check, so it never counts as due for longer than --max-age, and its success dated ahead never
    # ages: without this the check said OK until the real time reached those dates (a day ahead: a day; a
    # mutation survey). The next run or daemon tick fetches it, dated by this clock; a smaller step needs no rule:
    # the rules above fire within --max-age of the dates it left
    ahead = sorted((s for s in sources if s["last_attempt"] is not None and s["state"] != "gone"  # (never again)
                    and datetime.fromtimestamp(s["last_attempt"], UTC) - now > max_age),
                   key=lambda s: -s["last_attempt"])
    if ahead:
        # such a source is due now, unless its host asked to wait under the clock ahead (a hold is kept for as long
        # as it was asked, so it lasts that much longer by this clock): then no run fetches it yet
        held = [s["next_due"] for s in ahead if s["next_due"] is not None and s["next_due"] > now.timestamp()]
        why = ("is cron or the daemon running?" if not held else
               f"{'they are' if len(held) == len(ahead) else f'{len(held)} of them'} held for "
               f"{fmt_duration(datetime.fromtimestamp(max(held), UTC) - now)} more by a host's Retry-After answered "
               "under the clock ahead (`feeds run --all` asks them now)")
        problems.append(f"{len(ahead)} of {len(sources)} sources last fetched {_ago(ahead[0]['last_attempt'], now)} "
                        f"({escape_controls(ahead[0]['name'])}), more than --max-age {fmt_duration(max_age)} ahead: "
                        f"the clock was set back since, and nothing has fetched them by this clock: {why}")
    # a gone source (410) is polled no more: a dead subscription counts as broken, not as fine
    broken = [s for s in sources if s["state"] in ("broken", "gone")]
    if sources and len(broken) / len(sources) > max_broken:
        names = ", ".join(s["name"] for s in broken[:5]) + (", ..." if len(broken) > 5 else "")
        what = "broken or gone" if any(s["state"] == "gone" for s in broken) else "broken"
        problems.append(f"{len(broken)} of {len(sources)} sources {what} ({100 * len(broken) / len(sources):.0f}%), "
                        f"more than --max-broken {max_broken:g}: {names}")
    # a config problem found only at run time (a semantic model file that does not load) holds every source
    # with something new back: a problem at once, not after the days a source takes to count as broken
    misconfigured = [s for s in sources if (s["last_error"] or "").startswith("config error")]
    if misconfigured:
        problems.append(f"{len(misconfigured)} sources skipped for a config error: "
                        f"{escape_controls(misconfigured[0]['last_error'])}")
    # the last publish failed (the output directory not writable, a full disk), and every one since the first
    # that failed: readers' feeds are not updated. Within --max-age it is no problem yet: one failure that the
    # next run's publish mends must not page
    failing = data.get("publish_failure")
    if failing is not None and now - datetime.fromtimestamp(failing["since"], UTC) > max_age:
        problems.append(f"publishing failing since {_ago(failing['since'], now)}, longer than --max-age "
                        f"{fmt_duration(max_age)}: {_publish_error(failing)}; the published feeds are not updated")
    return Check(not problems, tuple(problems), last, len(broken), len(sources))


def _publish_error(failing: dict[str, Any]) -> str:
    """The recorded publish failure's first error, and how many more documents failed."""
    more = failing["errors"] - 1
    return escape_controls(failing["error"]) + (f" (and {more} more)" if more > 0 else "")


def _waiting(s: dict[str, Any], now: datetime, max_age: timedelta) -> bool:
    """Whether a source's last fetch worked and its next poll is not more than ``max_age`` overdue."""
    ok = s["last_success"] is not None and s["last_success"] >= (s["last_attempt"] or 0)
    return ok and s["next_due"] is not None and now - datetime.fromtimestamp(s["next_due"], UTC) <= max_age


def _width(text: str) -> int:
    """Columns a text takes on a terminal: East Asian wide and fullwidth characters (CJK, most emoji) two,
    combining marks and zero-width characters none, the rest one."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _table(headers: list[str], rows: list[list[str]], wrap_last: int = 100) -> str:
    """Columns aligned by their width on a terminal (a CJK name takes two columns a character)."""
    rows = [r[:-1] + [r[-1] if len(r[-1]) <= wrap_last else r[-1][:wrap_last - 1] + "…"] for r in rows]
    widths = [max(_width(h), *(_width(r[i]) for r in rows)) if rows else _width(h) for i, h in enumerate(headers)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _fmt_keep(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} days" if days >= 1 else f"{seconds / 3600:g} hours"


def render(data: dict[str, Any]) -> str:
    now = datetime.fromtimestamp(data["now"], UTC)
    sizes = data.get("sizes") or {}
    out = [f"store: {data['store']}" + (f" ({_mb(sizes.get('store', 0))}, write-ahead log {_mb(sizes.get('wal', 0))}; "
                                        f"output {_mb(sizes.get('output', 0))})" if data["store_exists"]
                                        else " (not created yet: run `feeds run`)")]
    run = data["last_run"]
    if run:
        out.append(f"last run: {run['mode']} {_ago(run['started'], now)}, {run['sources']} fetched, {run['ok']} ok, "
                   f"{run['failed']} failed, {run['new_items']} new items"
                   + ("" if run.get("finished") else f" (running now, pid {run['running']})" if run.get("running")
                      else " (did not finish)"))
        f = run.get("last_fetching")
        if f:
            out.append(f"last run that fetched: {f['mode']} {_ago(f['started'], now)}, {f['sources']} fetched, "
                       f"{f['ok']} ok, {f['failed']} failed, {f['new_items']} new items")
    failing = data.get("publish_failure")
    if failing is not None:
        out.append(f"publishing failing since {_ago(failing['since'], now)}: {_publish_error(failing)}")
    if data["keep"] is None:
        out.append("keeps: every item ([store] keep is not set)")
    else:
        out.append(f"keeps: stories of the last {_fmt_keep(data['keep'])}; old ones last looked for "
                   f"{_ago(data['pruned_at'], now) if data['pruned_at'] is not None else 'never'}")
    out.append("")
    rows = []
    for s in data["sources"]:
        # errors and moved addresses are servers' texts: no terminal escapes on the operator's screen
        note = escape_controls(f"{s['last_error']}; {s['reason']}" if s["last_error"] else s["reason"])
        rows.append([s["name"], s["state"], _ago(s["last_attempt"], now),
                     "-" if s["http_status"] is None else str(s["http_status"]), str(s["items"]),
                     _until(s["next_due"], now), note])
    out.append(_table(["SOURCE", "STATE", "LAST FETCH", "HTTP", "ITEMS", "NEXT DUE", "LAST ERROR / REASON"], rows,
                      wrap_last=160))
    out.append("")
    crow = [[c["slug"], str(c["entries"]), _ago(c["last_change"], now), "yes" if c["pending"] else ""]
            for c in data["channels"]]
    out.append(_table(["CHANNEL", "ENTRIES", "LAST CHANGE", "PENDING"], crow))
    return "\n".join(out)


def _json_ready(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data, now=_iso(data["now"]))
    for key in ("last_attempt", "last_success", "next_due"):
        for s in out["sources"]:
            s[key] = _iso(s[key])
    for s in out["sources"]:
        if s["redirect"]:
            s["redirect"]["first_seen"] = _iso(s["redirect"]["first_seen"])
    for c in out["channels"]:
        c["last_change"] = _iso(c["last_change"])
    if out["last_run"]:
        run = dict(out["last_run"])
        run["started"], run["finished"] = _iso(run["started"]), _iso(run.get("finished"))
        if run.get("last_fetching"):
            f = dict(run["last_fetching"])
            f["started"], f["finished"] = _iso(f["started"]), _iso(f.get("finished"))
            run["last_fetching"] = f
        out["last_run"] = run
    out["pruned_at"] = _iso(out["pruned_at"])
    if out.get("publish_failure"):
        out["publish_failure"] = dict(out["publish_failure"], since=_iso(out["publish_failure"]["since"]))
    return out


def status_main(cfg: Config, args: argparse.Namespace, *, now: datetime | None = None) -> int:
    want_check = bool(getattr(args, "check", False))
    raw_age = getattr(args, "max_age", "2h")
    try:
        max_age = raw_age if isinstance(raw_age, timedelta) else parse_duration(str(raw_age))
    except ValueError as e:
        print(f"feeds status: --max-age: {e}", file=sys.stderr)
        return EXIT_USAGE
    max_broken = float(getattr(args, "max_broken", 0.5))
    if not 0 <= max_broken <= 1:
        print(f"feeds status: --max-broken: expected a share from 0 to 1, got {max_broken:g}", file=sys.stderr)
        return EXIT_USAGE
    data = collect(cfg, now)
    result = check(data, max_age, max_broken)
    if getattr(args, "json", False):
        doc = _json_ready(data)
        if want_check:
            doc["check"] = {"ok": result.ok, "problems": list(result.problems), "max_age": max_age.total_seconds(),
                            "max_broken": max_broken, "broken": result.broken, "sources": result.total,
                            "last_success": _iso(result.last_success)}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    elif want_check:
        now = datetime.fromtimestamp(data["now"], UTC)
        if result.ok and not getattr(args, "quiet", False):  # -q: only problems (a cron monitor mails output)
            gone = any(x["state"] == "gone" for x in data["sources"])  # (counted with the broken ones)
            failing = data.get("publish_failure")  # (not yet longer than --max-age)
            print(f"OK: last successful fetch {_ago(result.last_success, now)}, "
                  f"{result.broken} of {result.total} sources {'broken or gone' if gone else 'broken'}"
                  + (f"; publishing failing since {_ago(failing['since'], now)} (a problem once longer than "
                     f"--max-age {fmt_duration(max_age)}): {_publish_error(failing)}" if failing else ""))
        for p in result.problems:
            print(f"CHECK FAILED: {p}")
    else:
        print(render(data))
    return EXIT_CHECK if want_check and not result.ok else EXIT_OK
