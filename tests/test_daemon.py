"""`feeds daemon` in a subprocess against loopback HTTP servers, on a second-scale schedule.

The config refuses intervals under a minute, so these tests set $FEEDS_TEST_POLICY (see
docs/deploy.md): interval 2s, backoff from 1s, no jitter, a redirect moves after 3 sightings.
Every wait is a bounded loop with a generous timeout; the only time assertions are lower bounds
the scheduler guarantees (a source is never fetched before it is due).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from test_scheduling_pipeline import FeedServer, Reply, Seen, cli_env, conditional, feed_reply, feeds_cli

from feeds.store import Store

POLICY = ("interval=2,min_interval=1,jitter=0,backoff_base=1,backoff_cap=30,"
          "redirect_persist_count=3,redirect_persist_age=0")
EPS = 0.01  # float slack on lower bounds only


def daemon_config(tmp: Path, sources: list[tuple[str, str]], daemon: str = "", extra: str = "") -> Path:
    srcs = "".join(f'[[sources]]\nname = "{n}"\nurl = "{u}"\n' for n, u in sources)
    path = tmp / "feeds.toml"
    path.write_text(f"""
[output]
dir = "out"
base_url = "http://127.0.0.1:8080/"
[store]
path = "var/feeds.db"
[fetch]
connect_timeout = 5
read_timeout = 30
deadline = 60
[daemon]
tick = "1s"
shutdown_timeout = 2
{daemon}
{extra}
{srcs}
[channels.all]
title = "All"
match_all = true
""", encoding="utf-8")
    return path


class Daemon:
    """A `feeds daemon` subprocess; stderr (and stdout) go to files the test can read while it runs."""

    def __init__(self, config: Path, *args: str, name: str = "daemon", policy: str = POLICY) -> None:
        self.err = config.parent / f"{name}.err"
        self.out = config.parent / f"{name}.out"
        with self.err.open("wb") as err, self.out.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "feeds.cli", "-c", str(config), "daemon", *args],
                                         stdout=out, stderr=err, env=cli_env(FEEDS_TEST_POLICY=policy),
                                         cwd=config.parent)

    def log(self, extra: Path | None = None) -> str:
        text = self.err.read_text(encoding="utf-8", errors="replace")
        if extra is not None and extra.exists():
            text += extra.read_text(encoding="utf-8", errors="replace")
        return text

    def wait_for(self, cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited ({self.proc.returncode}) while waiting for {what}:\n{self.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}:\n{self.log()}")
            time.sleep(0.05)

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> tuple[int, float]:
        start = time.monotonic()
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        return rc, time.monotonic() - start

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.kill()


def gaps(reqs: list[Seen]) -> list[float]:
    return [b.at - a.at for a, b in zip(reqs, reqs[1:], strict=False)]


def test_daemon_fetches_each_source_when_due_and_not_before(tmp_path: Path, daemons: list[Daemon]) -> None:
    s1, s2 = FeedServer("127.0.0.1"), FeedServer("127.0.0.2")
    try:
        _run_scenario(tmp_path, daemons, s1, s2)
    finally:
        s1.close()
        s2.close()


def _run_scenario(tmp_path: Path, daemons: list[Daemon], s1: FeedServer, s2: FeedServer) -> None:
    # fast: a new item every second 200, 304 in between; slow: max-age=5; failing: 500 (backoff);
    # moved: 301 for ever (moves after 3); temp: 302 (never moves); gone: 410; on the second host,
    # limited answers 503 Retry-After: 4 once, which must hold back its sibling too.
    s1.routes["/fast"] = conditional("fast", lambda: 1 + (s1.count("/fast") - 1) // 2)
    s1.routes["/slow"] = conditional("slow", lambda: 1, {"Cache-Control": "max-age=5"})
    s1.routes["/failing"] = lambda req: Reply(500, b"boom")
    s1.routes["/old"] = lambda req: Reply(301, b"", {"Location": s1.url("/new")})
    s1.routes["/new"] = conditional("new", lambda: 1)
    s1.routes["/temp"] = lambda req: Reply(302, b"", {"Location": s1.url("/temp-target")})
    s1.routes["/temp-target"] = conditional("temp", lambda: 1)
    s1.routes["/gone"] = lambda req: Reply(410, b"gone")
    s2.routes["/limited"] = lambda req: (Reply(503, b"busy", {"Retry-After": "4"}) if s2.count("/limited") == 1
                                         else feed_reply("limited", [1]))
    s2.routes["/sibling"] = conditional("sibling", lambda: 1)
    paths = {"fast": "/fast", "slow": "/slow", "failing": "/failing", "moved": "/old", "temp": "/temp",
             "gone": "/gone"}
    sources = [(n, s1.url(p)) for n, p in paths.items()]
    sources += [("limited", s2.url("/limited")), ("sibling", s2.url("/sibling"))]
    config = daemon_config(tmp_path, sources)
    d = Daemon(config)
    daemons.append(d)

    def enough() -> bool:
        return (s1.count("/fast") >= 3 and s1.count("/slow") >= 2 and s1.count("/failing") >= 3
                and s1.count("/new") > s1.count("/old") and s2.count("/limited") >= 2 and s2.count("/sibling") >= 2)

    d.wait_for(enough, "every source fetched a few times", timeout=30)

    # not before it is due: each source's gaps are at least its interval (tick granularity only adds)
    assert all(g >= 2 - EPS for g in gaps(s1.requests("/fast")))
    assert all(g >= 2 - EPS for g in gaps(s1.requests("/temp")))
    assert all(g >= 5 - EPS for g in gaps(s1.requests("/slow")))
    failing = gaps(s1.requests("/failing"))
    assert all(g >= 2 ** i - EPS for i, g in enumerate(failing)), failing  # 1s, 2s, 4s, ...
    limited = s2.requests("/limited")
    for r in s2.requests():  # the whole host waits out the Retry-After
        assert r.at <= limited[0].at + 0.5 or r.at >= limited[0].at + 4 - EPS, (r, limited[0])
    # repeat fetches are conditional
    for r in s1.requests("/fast")[1:]:
        assert r.headers.get("If-None-Match", "").startswith('"fast-v') and r.headers.get("If-Modified-Since")
    assert s1.count("/gone") == 1
    assert s1.count("/old") == 3  # recorded three times, then moved
    # a 302 never moves the source: every fetch starts at /temp and follows it to /temp-target (the
    # last one may be cut short by the shutdown, after its first hop)
    temp, target = s1.requests("/temp"), s1.requests("/temp-target")
    assert len(temp) - 1 <= len(target) <= len(temp)
    assert all(t.at >= f.at for f, t in zip(temp, target, strict=False))

    # everything fetched reaches the published channel
    atom = tmp_path / "out" / "all.atom"
    singles = {"slow", "new", "temp", "limited", "sibling"}

    def published() -> bool:
        if not atom.exists():
            return False
        links = [e.link for e in feedparser.parse(atom.read_bytes()).entries]
        return (all(f"https://example.org/{n}/1" in links for n in singles)
                and sum("/fast/" in x for x in links) >= 2)

    d.wait_for(published, "every source's items in all.atom")
    window = time.time() - min(r.at for r in s1.requests() + s2.requests())
    counts = {"fast": (2, s1.count("/fast")), "temp": (2, s1.count("/temp")), "moved": (2, s1.count("/new")),
              "slow": (5, s1.count("/slow")), "failing": (0, s1.count("/failing")), "gone": (0, s1.count("/gone")),
              "limited": (2, s2.count("/limited")), "sibling": (2, s2.count("/sibling"))}
    rc, _ = d.terminate(signal.SIGINT)  # SIGINT stops it like SIGTERM (which the next test times)
    assert rc == 0, d.log()
    log = d.log()
    assert "daemon stopped" in log
    assert "INFO fast: 200, 1 new" in log and "INFO fast: 304 not modified" in log
    assert "WARNING failing: HTTP 500" in log and "gone (HTTP 410); never polled again" in log
    assert "moved permanently to" in log

    entries = feedparser.parse(atom.read_bytes()).entries
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)) and len({e.title for e in entries}) == len(entries)
    fast = sorted(int(e.link.rsplit("/", 1)[1]) for e in entries if "/fast/" in e.link)
    assert fast == list(range(1, len(fast) + 1))  # each item once, none lost
    store = Store.open(tmp_path / "var" / "feeds.db")
    try:
        assert store.duplicate_uids() == 0
        rows = {r.name: r for r in store.sources()}
        assert rows["moved"].fetch_url == s1.url("/new") and rows["temp"].fetch_url is None
        assert (rows["gone"].state, rows["failing"].state, rows["fast"].state) == ("gone", "backoff", "ok")
        assert rows["failing"].consecutive_failures == s1.count("/failing")
    finally:
        store.close()

    # a source fetched n times at least `interval` apart spans (n-1)*interval, inside the window
    print(f"\nrequests per source over a {window:.1f}s window (tick 1s; failing: backoff 1s doubling; gone: 410):")
    for name, (interval, n) in counts.items():
        cap = f"at most {1 + int(window // interval)}" if interval else "-"
        print(f"  {name:8} interval {interval or '-'}s: {n} requests ({cap})")
        if interval:
            assert n <= 1 + window // interval


def test_daemon_lock_reload_serve_and_prompt_shutdown(tmp_path: Path, daemons: list[Daemon]) -> None:
    server = FeedServer("127.0.0.1")
    try:
        _lock_reload_scenario(tmp_path, daemons, server)
    finally:
        server.close()


def _lock_reload_scenario(tmp_path: Path, daemons: list[Daemon], server: FeedServer) -> None:
    server.routes["/ok"] = conditional("ok", lambda: 1)
    server.routes["/hang"] = lambda req: Reply(200, b"", delay=60)  # answers only after a minute
    logfile = tmp_path / "logs" / "daemon.log"
    serve = '[serve]\nport = 0\n'
    config = daemon_config(tmp_path, [("ok", server.url("/ok"))], daemon='log_file = "logs/daemon.log"',
                           extra=serve)
    d = Daemon(config, "--serve")
    daemons.append(d)
    d.wait_for(lambda: "daemon started" in d.log(logfile) and server.count("/ok") >= 1, "the first fetch")

    # one writer per store: a second daemon and a cron run both leave with 75
    second = Daemon(config, name="second")
    daemons.append(second)
    cron = feeds_cli(config, "run")
    assert cron.returncode == 75 and "another feeds process" in cron.stderr
    assert second.proc.wait(timeout=30) == 75
    assert "another feeds process is running on this store" in second.log()

    # --serve: the output directory is served while the daemon runs
    d.wait_for(lambda: "listening on http://" in d.out.read_text(), "--serve to listen")
    url = d.out.read_text().split("listening on ", 1)[1].split()[0]
    assert f"serve: listening on {url}" in d.log(logfile)  # the bound port (port = 0) in the log file too
    d.wait_for(lambda: (tmp_path / "out" / "index.opml").exists(), "the first publish")
    with urllib.request.urlopen(url + "index.opml", timeout=10) as resp:  # noqa: S310 - loopback
        assert resp.status == 200 and b"<opml" in resp.read()

    # SIGHUP with a broken config: logged with file and key, old config kept, still fetching
    good = config.read_text()
    config.write_text(good.replace("[channels.all]", '[schedule]\ninterval = "soon"\n[channels.all]'))
    n = server.count("/ok")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: "reload failed" in d.log(logfile), "the reload error")
    line = next(ln for ln in d.log(logfile).splitlines() if "reload failed" in ln)
    assert "schedule.interval" in line and str(config) in line and "ERROR" in line
    d.wait_for(lambda: server.count("/ok") >= n + 1, "fetches to go on with the old config")

    # SIGHUP with a good config that adds a source whose server never answers in time
    config.write_text(good.replace("[channels.all]", f'[[sources]]\nname = "hang"\nurl = "{server.url("/hang")}"\n'
                                                     "[channels.all]"))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: server.count("/hang") >= 1, "the reloaded config's new source to be fetched")
    assert "reloaded" in d.log(logfile)

    # SIGTERM with that fetch in flight: stop within shutdown_timeout (2s), exit 0
    rc, took = d.terminate()
    assert rc == 0, d.log(logfile)
    assert took < 2 + 8, took
    log = d.log(logfile)
    assert "stopping" in log
    assert not d.err.read_text().strip()  # everything went to the log file


def test_a_reload_that_changes_the_tick_changes_its_misfire_grace(tmp_path: Path, daemons: list[Daemon]) -> None:
    # a tick may run up to one tick late (a suspended machine, a stopped process); a reload from 1s to
    # 8s kept the 1s grace, so a tick 1.3 s late was dropped and the next came 8 s after it
    (tmp_path / "feed.xml").write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                                       "<link>http://example.org/</link><description>d</description>"
                                       "</channel></rss>", encoding="utf-8")
    config = daemon_config(tmp_path, [("local", "feed.xml")])  # due every 2s: every tick logs a line

    def ticks() -> int:
        return d.log().count(" tick: ")

    d = Daemon(config)
    daemons.append(d)
    d.wait_for(lambda: ticks() >= 1, "the first tick")
    config.write_text(config.read_text().replace('tick = "1s"', 'tick = "8s"'))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: "reloaded" in d.log(), "the reload")
    reloaded = time.monotonic()  # the next tick is due 8 s after the reload, at the latest now + 8
    time.sleep(1)
    d.proc.send_signal(signal.SIGSTOP)  # the process is held up past that tick ...
    try:
        time.sleep(max(0.0, reloaded + 9.3 - time.monotonic()))
        before = ticks()
    finally:
        d.proc.send_signal(signal.SIGCONT)  # ... by 1.3 s: within the 8s tick's grace, not the 1s one's
    # it runs on resuming; dropped, the next tick would have come 6.7 s later
    d.wait_for(lambda: ticks() > before, "the late tick", timeout=4)
    rc, _ = d.terminate()
    assert rc == 0, d.log()


def test_daemon_serve_on_a_busy_port_stops_with_exit_1(tmp_path: Path, daemons: list[Daemon]) -> None:
    """A daemon asked to serve that cannot listen stops (exit 1) instead of going on without serving:
    a service manager restarts it, and nobody is left with feeds that are not served."""
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        config = daemon_config(tmp_path, [], extra=f"[serve]\nport = {busy.getsockname()[1]}\n")
        d = Daemon(config, "--serve")
        daemons.append(d)
        rc = d.proc.wait(timeout=30)
        assert rc == 1, d.log()
        assert "--serve failed" in d.log() and "Traceback" not in d.log()
    finally:
        busy.close()


def test_ticks_start_again_after_the_wall_clock_was_set_back(tmp_path: Path) -> None:
    # APScheduler plans ticks on the wall clock and waits for them on the monotonic one: after the wall clock
    # was set back a day, the next tick was planned a day ahead and none came for a day. The state a step
    # back leaves (the tick's next run a day ahead) on a real scheduler; the daemon's watch starts it again.
    from apscheduler.schedulers.background import BackgroundScheduler

    from feeds.config import load_config
    from feeds.daemon import JOB_ID
    from feeds.daemon import Daemon as InProcess

    config = daemon_config(tmp_path, [])
    d = InProcess(config, load_config(config))
    ran: list[float] = []
    d.scheduler = BackgroundScheduler(timezone=UTC)
    d.scheduler.add_job(lambda: ran.append(time.monotonic()), "interval", seconds=1, id=JOB_ID,
                        next_run_time=datetime.now(UTC) + timedelta(days=1))
    d.scheduler.start()
    try:
        assert not d._unstall()  # a tick came lately (the daemon just started): nothing to do
        time.sleep(1.2)
        assert not ran
        d._last_tick -= 4  # no tick for over two ticks
        assert d._unstall()
        deadline = time.monotonic() + 5
        while len(ran) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(ran) >= 2, ran  # at once, then on the interval again
    finally:
        d.scheduler.shutdown(wait=False)
