"""`feeds daemon`: the cron pipeline on a timer, in one long-lived process.

An APScheduler ``BlockingScheduler`` runs one interval job every ``[daemon] tick``
(``max_instances=1``, ``coalesce=True``): each tick is ``Pipeline.run()``, which fetches only the
sources the store says are due and publishes only what changed. The store lock is held for the
whole life of the process, so a second daemon or a cron ``feeds run`` on the same store leaves
with exit 75.

Signals are only queued by their handlers; a control thread acts on them:

* SIGTERM / SIGINT: stop scheduling, tell the running tick to stop (``Pipeline.run``'s ``stop``
  callback: fetch results not yet stored are dropped), wait for it up to
  ``[daemon] shutdown_timeout``, close the store, exit 0. A tick that does not end in time is
  abandoned (every source it finished is already committed: one transaction per source).
* SIGHUP: reload the config file. A bad config is logged (file, key, what was expected) and the
  old one kept; a changed ``store.path`` is refused (restart for that), and so is a ``log_file``
  that cannot be opened. The new pipeline is built before the reload is accepted; the next tick
  swaps it in. A control action that fails in any other way is logged; the daemon goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from feeds.config import Config
from feeds.logs import EscapeControls, LogFile

log = logging.getLogger("feeds.daemon")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 75
JOB_ID = "tick"
_STOP, _RELOAD = "stop", "reload"


def misfire_grace(tick: float) -> int:
    """How late a tick may start and still run (the machine suspended, the process stopped or starved):
    up to one tick. A tick later than that is dropped and the next one comes on the interval. Set at
    start, and again by a reload that changes the tick."""
    return max(1, int(tick))


def log_handler(cfg: Config) -> logging.Handler:
    """The handler of ``[daemon] log_file`` (logrotate-safe; its directory is made), or of stderr.
    Raises OSError when the file cannot be opened."""
    handler: logging.Handler
    if cfg.daemon.log_file is not None:
        cfg.daemon.log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = LogFile(cfg.daemon.log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(EscapeControls())  # servers' texts in messages: no terminal escapes, no forged lines
    return handler


def setup_logging(cfg: Config, verbose: int = 0, quiet: bool = False, handler: logging.Handler | None = None) -> None:
    """INFO (one line per fetch) by default, to stderr or ``[daemon] log_file`` (``handler`` if already
    made by log_handler). Raises OSError when the log file cannot be opened."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose >= 2 else logging.INFO
    if handler is None:
        handler = log_handler(cfg)
    root = logging.getLogger("feeds")
    old = list(root.handlers)
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    for h in old:
        h.close()
    # APScheduler logs every job start at INFO, and at WARNING each tick skipped behind a long one;
    # the daemon reports long ticks itself
    aps = logging.getLogger("apscheduler")
    aps.handlers[:] = [handler]
    aps.setLevel(logging.ERROR)
    aps.propagate = False


class Daemon:
    def __init__(self, config_path: Path, cfg: Config, *, verbose: int = 0, quiet: bool = False) -> None:
        self.config_path = config_path
        self.cfg = cfg
        self.verbose, self.quiet = verbose, quiet
        self.stopping = threading.Event()
        self.started = threading.Event()
        self.signals: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._pending: Any = None  # the Pipeline of a reloaded config, taken up by the next tick
        self._pending_lock = threading.Lock()
        self._running = threading.Lock()  # held by a tick; taken by shutdown so no tick starts after
        self.scheduler: Any = None
        self.store: Any = None
        self.pipeline: Any = None
        self.ticks = 0
        self._last_tick = time.monotonic()  # when the last tick ended (or the daemon started): see _unstall
        self._tick_s = cfg.daemon.tick.total_seconds()  # the tick the job is scheduled with
        self._schedule_lock = threading.Lock()  # a reload's reschedule and _unstall's, one at a time
        self.abandoned = False  # the running tick did not end within shutdown_timeout
        self.exit_code = EXIT_OK  # what the daemon exits with once stopped (1: --serve could not serve)
        self._failure: tuple[str, int] | None = None  # the last tick's failure (its first line) and how many in a row

    # -- signals -------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # only a queue put here: SimpleQueue.put is safe to call from a signal handler
        self.signals.put(_RELOAD if signum == signal.SIGHUP else _STOP)

    def fail(self, code: int) -> None:
        """Stop the daemon, to exit with ``code`` (a part of it that cannot go on: --serve on a busy port)."""
        self.exit_code = code
        self.signals.put(_STOP)

    def install_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _control(self) -> None:
        """Acts on queued signals once the scheduler runs (signals before that wait in the queue)."""
        self.started.wait()
        while True:
            what = self.signals.get()
            try:
                if what == _STOP:
                    if not self.stopping.is_set():
                        log.info("stopping: no new ticks; the running one has %gs to finish",
                                 self.cfg.daemon.shutdown_timeout)
                    self.stopping.set()
                    with contextlib.suppress(Exception):  # already shut down: a second signal
                        self.scheduler.shutdown(wait=False)
                elif what == _RELOAD:
                    self.reload()
            except Exception:  # this thread must live on: it is what acts on the next SIGTERM
                log.exception("%s failed", "stopping" if what == _STOP else "reload")

    # -- config reload -------------------------------------------------------------------------
    def reload(self) -> bool:
        from feeds.errors import ConfigError
        from feeds.run import Pipeline

        try:
            new = _checked_config(self.config_path)
        except ConfigError as e:
            log.error("reload failed, keeping the previous config: %s", e)
            return False
        if new.store_path.resolve() != self.cfg.store_path.resolve():
            log.error("reload refused, keeping the previous config: %s: store.path changed from %s to %s; "
                      "restart the daemon to switch stores", self.config_path, self.cfg.store_path, new.store_path)
            return False
        old = self.cfg
        # everything that can fail is made before anything changes: the new pipeline, the new log file
        try:
            pipeline = Pipeline(new, self.store, keep_index=True)
        except Exception:
            log.exception("reload failed, keeping the previous config: %s: the pipeline could not be built",
                          self.config_path)
            return False
        if new.daemon.log_file != old.daemon.log_file:
            try:
                handler = log_handler(new)
            except OSError as e:
                pipeline.close()
                log.error("reload failed, keeping the previous config: %s",
                          ConfigError(str(self.config_path), "daemon.log_file",
                                      f"a file that can be opened for appending ({e})", str(new.daemon.log_file)))
                return False
            setup_logging(new, self.verbose, self.quiet, handler)
        if new.daemon.tick != old.daemon.tick:
            tick = new.daemon.tick.total_seconds()
            with self._schedule_lock:
                try:  # the grace goes with the tick: a reschedule alone kept the old tick's
                    self.scheduler.reschedule_job(JOB_ID, trigger="interval", seconds=tick)
                    self.scheduler.modify_job(JOB_ID, misfire_grace_time=misfire_grace(tick))
                    self._tick_s = tick
                    self._last_tick = time.monotonic()  # (the next tick is a new tick away: no stall to see)
                except Exception as e:  # noqa: BLE001 - the scheduler is shutting down: the rest of the reload holds
                    log.warning("reload: the tick interval could not be changed (%s)", e)
        if new.serve != old.serve or new.output.dir != old.output.dir:
            log.warning("reload: [serve] and output.dir changes take effect for --serve after a restart")
        with self._pending_lock:
            replaced, self._pending = self._pending, pipeline
        if replaced is not None:  # a reload no tick took up yet
            replaced.close()
        self.cfg = new
        log.info("reloaded %s: %d sources, %d channels, tick %gs", self.config_path, len(new.sources),
                 len(new.channels), new.daemon.tick.total_seconds())
        return True

    def _take_pending(self) -> None:
        """Swap in the pipeline a reload built (the old one is closed only once the new one exists)."""
        with self._pending_lock:
            new, self._pending = self._pending, None
        if new is not None:
            old, self.pipeline = self.pipeline, new
            old.close()

    # -- the tick ------------------------------------------------------------------------------
    def tick(self) -> None:
        if self.stopping.is_set() or not self._running.acquire(blocking=False):
            return
        try:
            if self.stopping.is_set():
                return
            self._take_pending()
            started = time.monotonic()
            report = self.pipeline.run(mode="daemon", stop=self.stopping.is_set)
            took = time.monotonic() - started
            if self._failure is not None:
                log.warning("tick worked again, after %d failed", self._failure[1])
                self._failure = None
            self.ticks += 1
            level = logging.INFO if report.outcomes or report.published or report.stopped else logging.DEBUG
            log.log(level, "tick: %d due, %d ok, %d failed, %s%d new items, %d files written%s (%.1fs)",
                    report.due, len(report.outcomes) - len(report.failed), len(report.failed),
                    f"{report.held} held back (Retry-After), " if report.held else "", report.new_items,
                    len(report.published), ", stopped early" if report.stopped else "", took)
            for err in report.publish_errors:
                log.error("%s", err)
            tick = self._tick_s
            if took > tick:
                log.log(logging.WARNING if took > 2 * tick else logging.INFO,
                        "tick took %.1fs, longer than the %gs tick; the ticks in between were skipped", took, tick)
        except Exception as e:
            # one bad tick (a store error, a bug) must not end the daemon; the next tick tries again. The traceback
            # once, then one line a tick while the same failure repeats (an I/O review: a full disk logged ~57
            # lines of traceback, SQL and rows at every tick, onto that disk)
            from feeds.store.failure import store_failure

            what = store_failure(self.cfg.store_path, e, then="; the next tick tries again") or (
                f"{type(e).__name__}: {e}".splitlines() or [""])[0][:300]
            if self._failure is not None and self._failure[0] == what:
                self._failure = (what, self._failure[1] + 1)
                log.error("tick failed again (%d in a row; the traceback was logged at the first): %s",
                          self._failure[1], what)
            else:
                self._failure = (what, 1)
                log.exception("tick failed: %s", what)
        finally:
            self._last_tick = time.monotonic()
            self._running.release()

    def _unstall(self) -> bool:
        """Start the ticks again when none has come for over two ticks while none runs: the scheduler plans
        ticks on the wall clock and waits for them on the monotonic one, so a wall clock set back by D (NTP
        correcting a clock that ran ahead, a restored snapshot) held every tick back by D (a review of time).
        The tick is scheduled afresh from now. True when it was."""
        with self._schedule_lock:
            tick = self._tick_s
            quiet = time.monotonic() - self._last_tick
            if quiet <= 2 * tick + 1 or self._running.locked() or self.stopping.is_set():
                return False
            try:
                self.scheduler.reschedule_job(JOB_ID, trigger="interval", seconds=tick)
                self.scheduler.modify_job(JOB_ID, next_run_time=datetime.now(UTC))
            except Exception as e:  # noqa: BLE001 - shutting down: nothing to start again
                log.debug("could not start the ticks again (%s)", e)
                return False
            self._last_tick = time.monotonic()
        log.warning("no tick for %.0fs (tick %gs): the clock was set back; ticking again from now", quiet, tick)
        return True

    def _watch(self) -> None:
        """Checks every tick that ticks still come (`_unstall`)."""
        self.started.wait()
        while not self.stopping.wait(self._tick_s):
            try:
                self._unstall()
            except Exception:  # this thread must live on
                log.exception("the tick watch failed")

    # -- lifetime ------------------------------------------------------------------------------
    def run(self) -> int:
        from apscheduler.events import EVENT_SCHEDULER_STARTED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler

        from feeds.run import TEST_POLICY_ENV, Pipeline
        from feeds.store import Store

        cfg = self.cfg
        self.store = Store.open(cfg.store_path)
        self.pipeline = Pipeline(cfg, self.store, keep_index=True)
        if os.environ.get(TEST_POLICY_ENV):
            log.warning("$%s is set: scheduling policy overridden (%s); for tests only",
                        TEST_POLICY_ENV, os.environ[TEST_POLICY_ENV])
        tick = self._tick_s
        self.scheduler = BlockingScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(1)})
        self.scheduler.add_job(self.tick, "interval", seconds=tick, id=JOB_ID, max_instances=1, coalesce=True,
                               misfire_grace_time=misfire_grace(tick), next_run_time=datetime.now(UTC))
        self.scheduler.add_listener(lambda _event: self.started.set(), EVENT_SCHEDULER_STARTED)
        threading.Thread(target=self._control, name="signals", daemon=True).start()
        threading.Thread(target=self._watch, name="tick-watch", daemon=True).start()
        log.info("daemon started (pid %d): %d sources, %d channels, tick %gs, store %s", os.getpid(),
                 len(cfg.sources), len(cfg.channels), tick, cfg.store_path)
        try:
            self.scheduler.start()  # blocks until the control thread shuts it down
        finally:
            self.stopping.set()
        return self._shutdown()

    def _shutdown(self) -> int:
        timeout = self.cfg.daemon.shutdown_timeout
        finished = self._running.acquire(timeout=timeout)
        if finished:
            self.pipeline.close()
            with self._pending_lock:
                pending, self._pending = self._pending, None
            if pending is not None:
                pending.close()
            self.store.close()
            log.info("daemon stopped after %d ticks", self.ticks)
        else:
            self.abandoned = True
            log.warning("the running tick did not finish within %gs; abandoning it (sources it finished are "
                        "committed, the rest are fetched next time)", timeout)
        return self.exit_code


def _leave(code: int) -> None:
    """Exit now if threads would hold the interpreter (fetches abandoned on shutdown wait for timeouts)."""
    lingering = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon
                 and t.is_alive()]
    if lingering:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _checked_config(config_path: Path, warn: bool = True) -> Config:
    """The config, with what the daemon checks before using it: the scheduling policy each source makes,
    and an output directory no other store publishes (``warn``: say a takeover, `check_output_owner`).
    ConfigError otherwise."""
    from feeds.config import load_config
    from feeds.publish import check_output_owner
    from feeds.run import policy_for

    cfg = load_config(config_path)
    for s in cfg.sources:
        policy_for(cfg, s.interval)
    check_output_owner(cfg, warn)
    return cfg


def daemon_main(config_path: Path, args: argparse.Namespace) -> int:
    from feeds.errors import ConfigError, LockedError
    from feeds.lock import StoreLock

    cfg = _checked_config(config_path, warn=False)  # ConfigError: the CLI prints it and exits 2
    verbose, quiet = int(getattr(args, "verbose", 0) or 0), bool(getattr(args, "quiet", False))
    try:
        setup_logging(cfg, verbose, quiet)
    except OSError as e:
        raise ConfigError(str(config_path), "daemon.log_file", f"a file that can be opened for appending ({e})",
                          str(cfg.daemon.log_file)) from e
    from feeds.publish import check_output_owner

    check_output_owner(cfg)  # again, now that the log is set up: a takeover is said there (`[daemon] log_file`)
    lock = StoreLock(cfg.store_path)
    try:
        lock.acquire()
    except LockedError as e:
        msg = f"feeds daemon: {e}"
        print(msg, file=sys.stderr)
        if cfg.daemon.log_file is not None:
            log.error("%s", msg)
        return EXIT_LOCKED
    d = Daemon(config_path, cfg, verbose=verbose, quiet=quiet)
    d.install_signals()
    if getattr(args, "serve", False):
        from feeds.serve import ListenError, serve

        def serving() -> None:
            # a daemon asked to serve that cannot stops, exit 1 (a service manager restarts it; a daemon that
            # went on without serving would leave the readers' feeds unserved and nobody told)
            try:
                serve(cfg.output.dir, cfg.serve.host, cfg.serve.port, max_age=cfg.serve.max_age,
                      announce=lambda line: log.info("serve: %s", line))  # the bound port in the log too
            except ListenError as e:  # a busy port: one line, not a traceback
                log.error("--serve failed (%s); stopping the daemon", e)
                d.fail(EXIT_FAILED)
            except Exception:
                log.exception("--serve failed; stopping the daemon")
                d.fail(EXIT_FAILED)

        cfg.output.dir.mkdir(parents=True, exist_ok=True)
        threading.Thread(target=serving, name="serve", daemon=True).start()
    try:
        code = d.run()
    except Exception as e:
        # what stops the daemon (a store that cannot be opened) goes to its log file too, as a held lock does:
        # the CLI prints it to stderr, which a service manager may not keep (a review)
        if cfg.daemon.log_file is not None:
            from feeds.errors import FeedsError

            if isinstance(e, FeedsError):
                log.error("feeds daemon: %s", e)
            else:
                log.exception("feeds daemon: stopped by an internal error")
        raise
    finally:
        if not d.abandoned:  # an abandoned tick may still write: the lock goes with the process, at its exit
            lock.release()
    _leave(code)
    return code
