"""What a mutation survey of feeds/daemon.py and feeds/lock.py found unpinned: the lock file naming its holder alone
after a longer pid, a live process that is not feeds taken for no holder, the lock file given to the directory's
owner as soon as a run as root takes it, the ownership hint naming the store's directory; the daemon's first tick at
start, APScheduler's own lines kept out of its log, a SIGTERM telling the running tick to stop and waiting for it no
longer than shutdown_timeout, a reload moving the ticks and the stall watch to a new tick, refusing another store,
logging to a new log file, an idle tick quiet at INFO, a tick's publish errors logged, no stall seen just after a
tick or while a long one runs, and the levels of -q and -v. The lock tests take real locks on store files under
tmp_path, in this process or a child (the holder `feeds status` sees), and run `feeds run` with root's override of
permissions dropped (setpriv, as test_review_fixes_cli does); the daemon tests run `feeds daemon` as a subprocess
against a loopback HTTP server (test_daemon's rig) or an in-process daemon over a real store and pipeline
(test_review_fixes_sched's `_daemon_at`) with a real, paused APScheduler scheduler; one swaps in, as a reload does,
a pipeline that does not heed its stop."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from test_daemon import Daemon as DaemonProcess
from test_daemon import daemon_config, daemons
from test_review_fixes_cli import NO_DAC, _can_drop_dac, feeds, site
from test_review_fixes_io import _Failing
from test_review_fixes_sched import _close, _daemon_at
from test_scheduling_pipeline import FeedServer, Reply, cli_env, conditional, server, write_config

from feeds.config import load_config
from feeds.daemon import JOB_ID, Daemon, setup_logging
from feeds.lock import StoreLock, holder
from feeds.run import TEST_POLICY_ENV, RunReport

__all__ = ["daemons", "server"]  # fixtures of test_daemon, test_scheduling_pipeline


# -- the lock ---------------------------------------------------------------------------------------------------

def test_the_lock_file_names_its_holder_alone_after_a_longer_pid(tmp_path: Path) -> None:
    """Mutant: `os.ftruncate(fd, 0)` dropped in StoreLock.acquire(). The new holder's pid was written over the
    last holder's: a shorter pid left the longer one's tail ("1234\\n4999\\n"), and `feeds status` (holder())
    could no longer tell the run in progress from one that was killed."""
    store = tmp_path / "feeds.db"
    lock = StoreLock(store).path
    lock.write_text("4194304999\n")  # a last holder's pid longer than any this machine hands out
    code = ("import sys\nfrom feeds.lock import StoreLock\nStoreLock(sys.argv[1]).acquire()\n"
            "print('held', flush=True)\nsys.stdin.read()\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(store)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=cli_env())
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        assert lock.read_text() == f"{child.pid}\n"
        assert holder(store) == child.pid
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)
        assert child.stdout is not None
        child.stdout.close()


def test_a_live_process_that_is_not_feeds_is_no_holder(tmp_path: Path) -> None:
    """Mutant: `return pid if b"feeds" in cmdline else None` -> `return pid` in holder(). The lock file keeps
    the pid of its last holder after it ended; a pid handed out again to another program is no feeds run, and
    `feeds status` must say "(did not finish)", not "(running now, pid N)"."""
    sleep = shutil.which("sleep")
    assert sleep is not None
    other = subprocess.Popen([sleep, "600"])
    try:
        store = tmp_path / "feeds.db"
        StoreLock(store).path.write_text(f"{other.pid}\n")
        assert holder(store) is None
    finally:
        other.kill()
        other.wait(30)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")
def test_a_lock_taken_as_root_is_the_directorys_owners_while_it_is_held(tmp_path: Path) -> None:
    """Mutant: `self.give_away()` dropped from StoreLock.acquire() (kept in release()). A run as root killed
    while it held the lock (SIGKILL, the OOM killer) never lets go: the lock file it made stayed root's, and
    the service user's runs could not open it again."""
    srv = tmp_path / "srv"
    srv.mkdir()
    os.chown(srv, 12345, 12345)
    lock = StoreLock(srv / "feeds.db").acquire()
    try:
        st = lock.path.stat()
        assert (st.st_uid, st.st_gid) == (12345, 12345)
    finally:
        lock.release()


@pytest.mark.skipif(os.geteuid() != 0 or not _can_drop_dac(),
                    reason="needs root and setpriv: a directory of another user, and root's override dropped")
def test_a_lock_file_that_cannot_be_made_names_the_directorys_owner(tmp_path: Path) -> None:
    """Mutant: `for p in (path, path.parent)` -> `for p in (path,)` in ownership_hint(). The lock file not made
    yet, the store's directory another user's: the error must say whose it is and who feeds runs as, as it does
    for a lock file of another user's."""
    cfg = site(tmp_path)
    var = cfg.parent / "var"
    var.mkdir()
    os.chown(var, 4321, 4321)
    r = feeds("-c", str(cfg), "run", cwd=cfg.parent, prefix=NO_DAC)
    assert r.returncode == 1, r.stderr
    assert "cannot open the store's lock file (Permission denied" in r.stderr, r.stderr
    assert f"{var} is owned by uid 4321 and this feeds runs as root (uid 0)" in r.stderr, r.stderr
    assert not (var / "feeds.db.lock").exists()


# -- the daemon: as a process -----------------------------------------------------------------------------------

def test_the_first_tick_runs_at_start_and_apschedulers_own_lines_stay_out_of_the_log(
        tmp_path: Path, daemons: list[DaemonProcess], server: FeedServer) -> None:
    """Mutants: `next_run_time=datetime.now(UTC)` dropped from the tick job (the first tick a whole tick after
    the start: up to an hour with nothing fetched), and `aps.setLevel(logging.ERROR)` -> `logging.INFO` in
    setup_logging() (APScheduler's "Running job ..." at every tick, and its start-up lines, in the daemon's log)."""
    server.routes["/f"] = conditional("f", lambda: 1)
    config = daemon_config(tmp_path, [("f", server.url("/f"))])
    config.write_text(config.read_text().replace('tick = "1s"', 'tick = "1h"'))
    d = DaemonProcess(config)
    daemons.append(d)
    d.wait_for(lambda: " tick: " in d.log(), "the first tick")
    assert server.count("/f") == 1
    rc, _ = d.terminate()
    assert rc == 0, d.log()
    log = d.log()
    assert "daemon started" in log and "daemon stopped after 1 ticks" in log
    assert "Running job" not in log and "Scheduler started" not in log and "Added job" not in log, log


def test_a_sigterm_tells_the_running_tick_to_stop_and_the_daemon_closes_the_store(
        tmp_path: Path, daemons: list[DaemonProcess], server: FeedServer) -> None:
    """Mutants: `stop=self.stopping.is_set` -> `stop=lambda: False` in Daemon.tick() (the running tick never told
    to stop), and `self._running.acquire(timeout=timeout)` -> `timeout=0` in _shutdown() (no wait for the tick at
    all). Either way a tick with a fetch hanging was abandoned: the store left open, the lock kept to the
    process's end, "the running tick did not finish" in the log at every restart. Told to stop, the tick drops
    the fetch still in flight and ends within shutdown_timeout (2 s), and the daemon stops cleanly."""
    server.routes["/hang"] = lambda req: Reply(200, b"", delay=60)  # answers only after a minute
    d = DaemonProcess(daemon_config(tmp_path, [("hang", server.url("/hang"))]))
    daemons.append(d)
    d.wait_for(lambda: server.count("/hang") >= 1, "the fetch to hang")
    rc, _ = d.terminate()
    assert rc == 0, d.log()
    log = d.log()
    assert "stopped early" in log and "daemon stopped after 1 ticks" in log, log
    assert "did not finish" not in log, log


# -- the daemon: in this process --------------------------------------------------------------------------------

@pytest.fixture
def idle_scheduler() -> Iterator[BackgroundScheduler]:
    """A real, paused scheduler holding the daemon's tick job (1s), whose next run is a day away."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(lambda: None, "interval", seconds=1, id=JOB_ID, misfire_grace_time=1,
                      next_run_time=datetime.now(UTC) + timedelta(days=1))
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


@pytest.fixture
def one_source(tmp_path: Path, server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The config (in tmp_path) of one source, "f" on the loopback server, due every 15 minutes (no test policy)."""
    monkeypatch.delenv(TEST_POLICY_ENV, raising=False)
    server.routes["/f"] = conditional("f", lambda: 1)
    return write_config(tmp_path, [("f", server.url("/f"))])


def test_a_reload_that_changes_the_tick_moves_the_ticks_and_the_stall_watch(
        tmp_path: Path, idle_scheduler: BackgroundScheduler) -> None:
    """Mutants: `if new.daemon.tick != old.daemon.tick` -> `if False` in Daemon.reload() (the ticks kept the old
    interval), and `self._tick_s = tick` dropped there (the stall watch kept the old tick: four quiet seconds,
    nothing amiss for an 8s tick, were taken for a stall and the job rescheduled at the old 1s)."""
    config = daemon_config(tmp_path, [])
    d = _daemon_at(config)
    d.scheduler = idle_scheduler
    try:
        config.write_text(config.read_text().replace('tick = "1s"', 'tick = "8s"'))
        assert d.reload() is True
        job = idle_scheduler.get_job(JOB_ID)
        assert job.trigger.interval == timedelta(seconds=8) and job.misfire_grace_time == 8
        d._last_tick -= 4  # four seconds with no tick: half an 8s tick
        assert d._unstall() is False
        assert idle_scheduler.get_job(JOB_ID).trigger.interval == timedelta(seconds=8)
    finally:
        _close(d)


def test_a_reload_that_moves_the_store_is_refused(tmp_path: Path, one_source: Path, server: FeedServer,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Mutant: the `store.path changed` check in Daemon.reload() dropped (`if False:`). The daemon holds the lock
    of the store it started on: a reload onto another store would write to it unlocked (a cron run on that
    store at the same time), so it is refused, the old config kept, and the old store still written."""
    path = one_source
    d = _daemon_at(path)
    try:
        old = d.cfg
        path.write_text(path.read_text().replace('path = "var/feeds.db"', 'path = "other/feeds.db"'))
        caplog.set_level(logging.INFO, logger="feeds")
        assert d.reload() is False
        assert d.cfg is old and d._pending is None
        assert "reload refused, keeping the previous config" in caplog.text and "store.path changed" in caplog.text
        d.tick()
        assert server.count("/f") == 1 and d.store.sources()[0].last_status == 200
        assert not (tmp_path / "other").exists()
    finally:
        _close(d)


def test_a_tick_with_nothing_to_do_is_quiet_at_info(one_source: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Mutant: the tick line's level made INFO always in Daemon.tick(). A tick that fetched nothing and wrote
    nothing says so at DEBUG only: at INFO (the default) a 30s tick put a line in the log every 30 s, day and
    night, burying the lines that say something."""
    d = _daemon_at(one_source)
    try:
        with caplog.at_level(logging.DEBUG, logger="feeds"):
            d.tick()  # the source fetched, the channel published
            d.tick()  # nothing due for 15 minutes, nothing to write
    finally:
        _close(d)
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.getMessage().startswith("tick: ")]
    assert [level for level, _ in lines] == [logging.INFO, logging.DEBUG], lines
    assert lines[1][1].startswith("tick: 0 due, 0 ok, 0 failed, 0 new items, 0 files written"), lines


def test_a_ticks_publish_errors_are_logged(tmp_path: Path, one_source: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Mutant: the `for err in report.publish_errors: log.error(...)` loop dropped from Daemon.tick(). A channel
    document that cannot be written fails no tick (the next one tries again), so its error is the only word of
    it in the daemon's log."""
    (tmp_path / "out" / "all.atom").mkdir(parents=True)  # where the channel's document must go: its write fails
    d = _daemon_at(one_source)
    try:
        with caplog.at_level(logging.INFO, logger="feeds"):
            d.tick()
    finally:
        _close(d)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "all.atom" in errors[0], errors
    assert "tick failed" not in caplog.text


def test_no_stall_is_seen_just_after_a_tick_nor_while_a_long_one_runs(tmp_path: Path,
                                                                      idle_scheduler: BackgroundScheduler) -> None:
    """Mutants: `self._last_tick = time.monotonic()` dropped from Daemon.tick()'s finally (every watch more than
    two ticks after the start took the ticks for stalled: "the clock was set back" and a reschedule at each
    tick, for ever), and `or self._running.locked()` dropped from _unstall() (a tick running longer than two
    ticks was taken for a stall, and the next tick rescheduled to now, behind it); and `quiet <= 2 * tick + 1` ->
    `quiet <= tick` there (a tick a little late, as ticks are, said "the clock was set back" and was rescheduled)."""
    d = _daemon_at(daemon_config(tmp_path, []))
    d.scheduler = idle_scheduler
    try:
        d._last_tick -= 1.5  # a tick half a tick late (a slow tick, the scheduler's own lateness): no stall yet
        assert d._unstall() is False
        d._last_tick -= 4  # started four 1s ticks ago ...
        d.tick()  # ... and a tick has just ended
        assert d._unstall() is False
        d._last_tick -= 4  # four quiet seconds again, but a tick is running all along
        assert d._running.acquire(blocking=False)
        try:
            assert d._unstall() is False
        finally:
            d._running.release()
        assert d._unstall() is True  # (the rig does see a stall: no tick running, none ended for four ticks)
    finally:
        _close(d)

def test_a_different_failure_after_a_failed_tick_logs_its_traceback(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Mutant: `self._failure[0] == what` dropped from Daemon.tick() (any failure after a failed tick taken for the
    same one). A tick failing anew after a full disk, here on a store missing a table, was logged as "tick failed
    again (2 in a row ...)" with the full disk's one line and no traceback: the new failure's cause was never
    told. The first failure is test_review_fixes_io's full disk; the second a real SQLite error."""
    d = _daemon_at(daemon_config(tmp_path, []))
    real = d.pipeline
    try:
        d.pipeline = _Failing(1)
        with caplog.at_level(logging.INFO, logger="feeds"):
            d.tick()
            d.pipeline = real
            with sqlite3.connect(d.cfg.store_path) as con:
                con.execute("DROP TABLE sources")
            d.tick()
    finally:
        d.pipeline = real
        _close(d)
    failed = [(r.getMessage(), bool(r.exc_info)) for r in caplog.records if "tick failed" in r.getMessage()]
    assert [traced for _, traced in failed] == [True, True], failed
    assert "disk is full" in failed[0][0] and "no such table: sources" in failed[1][0], failed
    assert not any(message.startswith("tick failed again") for message, _ in failed), failed



class _Stuck:
    """A tick's pipeline that does not heed its stop (as a tick held up by a store write would not): it runs until
    released."""

    def __init__(self) -> None:
        self.running, self.release = threading.Event(), threading.Event()

    def run(self, **_kw: object) -> RunReport:
        self.running.set()
        self.release.wait(120)
        return RunReport(started=datetime.now(UTC))

    def close(self) -> None:
        pass


def test_a_tick_that_does_not_stop_is_abandoned_after_shutdown_timeout(tmp_path: Path) -> None:
    """Mutant: `self.scheduler.shutdown(wait=False)` -> `wait=True` in Daemon._control(). Waiting for the
    scheduler's running tick there held the daemon for as long as the tick took, not `[daemon] shutdown_timeout`
    (2 s here): a service manager's stop timed out and killed it. The daemon is real (its scheduler, threads and
    store); its pipeline is swapped, as a reload swaps it, for one that does not heed the stop."""
    config = daemon_config(tmp_path, [])
    d = Daemon(config, load_config(config))
    stuck = _Stuck()
    d._pending = stuck  # taken up by the first tick, as a reload's pipeline is
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(d.run()), daemon=True)
    runner.start()
    try:
        assert stuck.running.wait(30), "the first tick never ran"
        d._on_signal(signal.SIGTERM, None)  # as the handler queues it
        runner.join(30)
        assert not runner.is_alive(), "the daemon waited for a tick that does not stop"
        assert codes == [0] and d.abandoned
    finally:
        stuck.release.set()
        runner.join(30)
        assert d._running.acquire(timeout=30)  # the abandoned tick has ended: its store can be closed
        d.store.close()


@pytest.fixture
def feeds_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The "feeds" and "apscheduler" loggers put back as they were after a test that sets them up (setup_logging,
    a reload); the handlers it left on them closed."""
    loggers = [logging.getLogger(name) for name in ("feeds", "apscheduler")]
    for logger in loggers:
        monkeypatch.setattr(logger, "handlers", list(logger.handlers))
        monkeypatch.setattr(logger, "level", logger.level)
        monkeypatch.setattr(logger, "propagate", logger.propagate)
    yield
    for logger in loggers:
        for handler in logger.handlers:
            handler.close()


def test_the_daemons_log_levels(tmp_path: Path, feeds_logging: None) -> None:
    """Mutants: in setup_logging(), -q's WARNING made ERROR, and DEBUG from one -v (not -vv). `feeds daemon -q`
    still logs the warnings (a failing source, a long tick); -v alone is the INFO of the default."""
    cfg = load_config(daemon_config(tmp_path, []))
    levels = {}
    for verbose, quiet in ((0, True), (0, False), (1, False), (2, False)):
        setup_logging(cfg, verbose, quiet)
        levels[(verbose, quiet)] = logging.getLogger("feeds").level
    assert levels == {(0, True): logging.WARNING, (0, False): logging.INFO, (1, False): logging.INFO,
                      (2, False): logging.DEBUG}


def test_a_reload_that_names_another_log_file_logs_there(tmp_path: Path, feeds_logging: None) -> None:
    """Mutant: `if new.daemon.log_file != old.daemon.log_file` -> `if False` in Daemon.reload(). A reload that
    moves `[daemon] log_file` (or sets one) was accepted and said "reloaded", but the daemon went on logging
    where it did before, until a restart."""
    config = daemon_config(tmp_path, [])
    d = _daemon_at(config)
    try:
        config.write_text(config.read_text().replace("shutdown_timeout = 2",
                                                     'shutdown_timeout = 2\nlog_file = "logs/new.log"'))
        assert d.reload() is True
        logging.getLogger("feeds.daemon").warning("after the reload")
    finally:
        _close(d)
    lines = (tmp_path / "logs" / "new.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and " INFO reloaded " in lines[0] and lines[1].endswith(" WARNING after the reload")
