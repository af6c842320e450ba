"""Command line. Maps errors to exit codes; quiet on success so cron mails only problems.

Exit codes: 0 success; 1 every due source failed and no other source fetched successfully lately (within
the hour, or two of its intervals), or a feed could not be written; 2 bad config or usage; 3 `status
--check` found a problem; 75 another feeds process holds the store (cron may simply try again next time);
130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imports stay lazy (`feeds --help`)
    from feeds.config import Config

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_CHECK, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 75, 130
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in feeds


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="feeds",
        description="Collect RSS/Atom sources, collapse duplicate stories, publish themed Atom channels.",
        epilog="Exit codes: 0 ok, 1 all sources failed or a write failed, 2 bad config, "
               "3 status --check failed, 70 internal error (a bug in feeds), 75 store busy (another run), "
               "130 interrupted.")
    _common(p, top=True)
    common = argparse.ArgumentParser(add_help=False)
    _common(common, top=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    _add = sub.add_parser

    def add(name: str, **kw: Any) -> argparse.ArgumentParser:
        return _add(name, parents=[common], **kw)

    sub.add_parser = add  # type: ignore[method-assign]
    r = sub.add_parser("run", help="fetch due sources once and publish (for cron)")
    r.add_argument("--all", action="store_true", help="fetch every source, due or not (but those gone: 410)")
    r.add_argument("--retry-gone", action="store_true",
                   help="also ask the sources gone (410) once more; one that answers is polled again")
    r.add_argument("--wait", type=_seconds, default=0.0, metavar="SECONDS",
                   help="wait this long for a running feeds to finish instead of leaving at once")
    r.add_argument("--take-store", action="store_true",
                   help="make the store this config's even though another config still names it (that config's "
                        "runs are refused from then on)")
    i = sub.add_parser("init", help="write a starter config")
    i.add_argument("path", nargs="?", type=Path, default=None, help="where (default: the --config path)")
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    sub.add_parser("check", help="validate the config and exit")
    s = sub.add_parser("status", help="sources and channels, and why each source is or is not due")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--check", action="store_true",
                   help="exit 3 when a source is overdue by more than --max-age (nothing polls), no source "
                        "fetched successfully within --max-age (those polled less often, waiting for their next "
                        "poll, count unless a fetch tried within it failed), too many sources are broken, or "
                        "publishing has been failing for longer than --max-age; prints OK on success (nothing "
                        "with -q)")
    s.add_argument("--max-age", type=_duration, default="2h",
                   help="with --check: longest a due source may wait, oldest acceptable last success, and "
                        "longest publishing may fail (default 2h; more than cron's period)")
    s.add_argument("--max-broken", type=_share, default=0.5,
                   help="with --check: largest acceptable share of broken or gone sources (default 0.5)")
    d = sub.add_parser("daemon", help="run continuously, fetching sources when due")
    d.add_argument("--serve", action="store_true", help="also serve the output directory")
    sv = sub.add_parser("serve", help="serve the output directory over HTTP")
    sv.add_argument("--host", default=None)
    sv.add_argument("--port", type=_port, default=None, help="0 to 65535 (0: any free port)")
    e = sub.add_parser("explain", help="why two headlines are or are not one story")
    e.add_argument("a", help="first headline, an item's entry id, or a report's link (as an entry publishes it)")
    e.add_argument("b", help="second headline, entry id or link")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    im = sub.add_parser("import", help="add the feeds of an OPML file (another reader's export) to the config")
    im.add_argument("file", type=Path, metavar="FILE.opml", help="the OPML file (- for standard input)")
    im.add_argument("--dry-run", "-n", action="store_true", help="print what would be added; write nothing")
    im.add_argument("--interval", type=_interval, default=None,
                    help='interval for the imported sources, as in the config ("30m", "2h")')
    bk = sub.add_parser("backup", help="copy the config, the output and a consistent snapshot of the store into "
                                       "a new directory (safe while feeds runs)")
    bk.add_argument("dir", type=Path, metavar="DIR", help="a new (or empty) directory")
    ex = sub.add_parser("export", help="write the sources as an OPML subscription list (for another reader, "
                                       "or a backup)")
    ex.add_argument("file", nargs="?", type=Path, default=Path("-"), metavar="FILE.opml",
                    help="where (default: standard output)")
    return p


def _bounded(cast: Callable[[str], float], noun: str, lo: float, hi: float, expected: str) -> Callable[[str], Any]:
    """An argparse type: `cast` of the text, between lo and hi (NaN refused: it compares false)."""
    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{expected}, got {text}")
        return value
    return parse


_port = _bounded(int, "a port number", 0, 65535, "a port is from 0 to 65535")
_seconds = _bounded(float, "a number of seconds", 0, math.inf, "a number of seconds from 0 up")  # nan waited for ever
_share = _bounded(float, "a number", 0, 1, "a share from 0 to 1")


def _duration(text: str) -> Any:
    from feeds.status import parse_duration

    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _interval(text: str) -> str:
    """A source interval as the config takes it (checked by the config's own rules)."""
    import tomli_w

    from feeds.config import parse_config
    from feeds.errors import ConfigError

    try:
        parse_config(tomli_w.dumps({"sources": [{"url": "https://example.org/", "interval": text}]}), Path("x"))
    except ConfigError as e:
        raise argparse.ArgumentTypeError(f"expected {e.expected}, got {text!r}") from None
    return text


def _common(p: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted before or after the command (`feeds -v run` and `feeds run -v`)."""
    d = {} if top else {"default": argparse.SUPPRESS}
    p.add_argument("--config", "-c", type=Path, help="config file (default: $FEEDS_CONFIG or config/feeds.toml)",
                   **({"default": None} if top else d))
    p.add_argument("-v", "--verbose", action="count", help="log each fetch (repeat for debug)",
                   **({"default": 0} if top else d))
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress display or success lines; a run that finds the store busy leaves without a "
                        "word (exit 75); warnings and errors still print",
                   **({"default": False} if top else d))


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config) if args.config is not None else _default_config()


def _default_config() -> Path:
    """The config `feeds` reads without --config: $FEEDS_CONFIG, else config/feeds.toml."""
    env = os.environ.get("FEEDS_CONFIG")
    return Path(env) if env else Path("config/feeds.toml")


def _setup_logging(verbose: int, quiet: bool, log_file: Path | None = None) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    from feeds.logs import EscapeControls, LogFile

    handler: logging.Handler = LogFile(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"
                                           if log_file else "feeds: %(levelname)s: %(message)s"))

    handler.addFilter(EscapeControls())  # servers' texts in messages: no terminal escapes, no forged lines
    root = logging.getLogger("feeds")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("feeds: error: a command is required (feeds --help lists them)", file=sys.stderr)
        return EXIT_CONFIG
    from feeds.errors import ConfigError, FeedsError

    _setup_logging(args.verbose, args.quiet)
    try:
        handler = globals()[f"cmd_{args.command}"]
        code = int(handler(args))
        sys.stdout.flush()  # here, so that a reader that quit is seen now and not at exit
        return code
    except ConfigError as e:
        print(f"feeds: config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except FeedsError as e:
        if not (args.quiet and e.exit_code == EXIT_LOCKED):  # -q: an overlapping cron run is not a problem to mail
            print(f"feeds: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("feeds: interrupted", file=sys.stderr)
        _leave(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of our output went away (`feeds status | head -1`): leave quietly; stdout goes to
        # devnull so that the interpreter's flush at exit does not complain (Python's signal docs)
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except OSError as e:
        print(f"feeds: {_os_error(e)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:
        if isinstance(e, ModuleNotFoundError) and e.name and e.name.split(".")[0] != "feeds":
            # a package feeds needs (or one of theirs: tzlocal, dateutil, ...) is not where this Python looks
            # (another user's site-packages, another venv): the environment's fault, not a bug in feeds (an
            # operations review: exit 70 misled cron mail); any other import error (a name a package lacks,
            # feeds' own modules) is a bug, below
            print(f"feeds: a package feeds needs cannot be imported ({e}); install feeds for this Python and user "
                  f"(pip install -e . in its checkout, or activate the environment it was installed in): "
                  f"{sys.executable}", file=sys.stderr)
            return EXIT_FAILED
        reason = _store_error(e)
        if reason is None:  # a bug in feeds: said as such, with the traceback to report
            print(f"feeds: internal error ({type(e).__name__}: {e}); this is a bug in feeds, please report it "
                  "with the traceback below", file=sys.stderr)
            traceback.print_exc()
            return EXIT_INTERNAL
        where = getattr(args, "store_path", None)
        if where:  # a full disk, a store SQLite may not write: what was being written, and what to do
            from feeds.store.failure import store_failure

            said = store_failure(Path(where), e)
            if said:
                print(f"feeds: {said}", file=sys.stderr)
                return EXIT_FAILED
        print(f"feeds: {f'{where}: ' if where else ''}the store failed: {reason}", file=sys.stderr)
        return EXIT_FAILED


def _os_error(e: OSError) -> str:
    """An OSError as one line naming the file(s) involved."""
    what = e.strerror or str(e) or e.__class__.__name__
    if e.filename is not None:
        target = f" -> {os.fsdecode(e.filename2)}" if e.filename2 is not None else ""
        return f"{os.fsdecode(e.filename)}{target}: {what}"
    return what


def _readonly_hint(store: Path) -> str:
    """Why SQLite found the store read-only, as " (...)" (feeds.store.failure.readonly_hint)."""
    from feeds.store.failure import readonly_hint

    return readonly_hint(store)


def _store_error(e: Exception) -> str | None:
    """A database error (SQLAlchemy's) as one line; None for any other exception."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is None or not isinstance(e, sqlalchemy_exc.SQLAlchemyError):
        return None
    from feeds.store.sql import driver_reason

    reason = driver_reason(e)
    if "locked" in reason or "busy" in reason:
        reason += " (another program holds a lock on the store; try again later)"
    return reason


def _leave(code: int) -> None:
    """After Ctrl-C: exit now rather than wait for fetch threads left behind (the interpreter joins them at
    exit, up to fetch.deadline; a second Ctrl-C there printed a traceback). Only when such threads remain."""
    lingering = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon
                 and t.is_alive()]
    if lingering:
        logging.shutdown()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)


def _load(args: argparse.Namespace) -> Any:
    from feeds.config import load_config

    cfg = load_config(_config_path(args))
    args.store_path = cfg.store_path  # for messages about the store
    return cfg


def cmd_check(args: argparse.Namespace) -> int:
    from feeds.publish import check_output_owner

    cfg = _load(args)
    check_output_owner(cfg)
    check_store_owner(cfg)
    if cfg.stories.enabled and cfg.stories.semantic:
        # the model is loaded at the first new item only; a check loads it now (a corrupt model file or
        # vocabulary is a config error here, not a run that skips every source with something new)
        from feeds.run import story_embedder

        embedder = story_embedder(cfg)
        if embedder is not None:
            embedder.load()
    if args.verbose:
        print(f"{cfg.path}: ok: {len(cfg.sources)} sources, {len(cfg.channels)} channels")
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    import tomli_w

    from feeds.config import parse_config, starter_config

    path = args.path or _config_path(args)
    if path.is_dir():
        print(f"feeds: {path} is a directory; give the config file's path", file=sys.stderr)
        return EXIT_CONFIG
    if path.exists() and not args.force:
        print(f"feeds: {path} exists; use --force to overwrite", file=sys.stderr)
        return EXIT_CONFIG
    starter = starter_config()
    sources = starter.pop("sources")
    # the sources as [[sources]] tables (tomli-w writes short tables inline, sources = [{...}], which
    # `feeds import` cannot append to), after the rest
    text = ("# feeds configuration: see README.md for every key.\n" + tomli_w.dumps(starter)
            + "".join("\n[[sources]]\n" + tomli_w.dumps(src) for src in sources))
    cfg = parse_config(text, path)  # what we write must load
    path.parent.mkdir(parents=True, exist_ok=True)
    # atomically: a full disk or a kill while --force rewrites it must not leave a cut config (a review)
    _replace_file(path, None, text.encode("utf-8"))
    # where its relative paths land (against the config's directory, not the current one: `feeds init` writes
    # config/feeds.toml, so its store and output are under config/ unless edited)
    import shlex

    same = os.path.abspath(path) == os.path.abspath(_default_config())  # what `feeds run` reads without --config
    run = "feeds run" if same else f"feeds --config {shlex.quote(str(path))} run"
    print(f"wrote {path}: its store will be {_shown(cfg.store_path)} and its documents {_shown(cfg.output.dir)}/ "
          "(relative paths resolve against the config's directory); put your feeds in [[sources]] and your "
          f"rules in [channels], then `{run}`")
    return EXIT_OK


def _shown(p: Path) -> str:
    """``p`` relative to the current directory when it lies under it, else as it is."""
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


class _Progress(logging.Filter):
    """Sources done / total and new items, redrawn in place; only on a terminal. As a filter of the log
    handlers it clears its line before a message is written (a warning was glued onto "39/80 sources, 788
    new items"); the next progress call draws it again under the message."""

    def __init__(self) -> None:
        super().__init__()
        self.shown = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.shown:
            sys.stderr.write("\r\x1b[K")  # back to the line's start, erase it
            self.shown = False
        return True

    def __call__(self, done: int, total: int, new: int) -> None:
        sys.stderr.write(f"\r{done}/{total} sources, {new} new items ")
        sys.stderr.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def cmd_run(args: argparse.Namespace) -> int:
    from feeds.lock import StoreLock
    from feeds.publish import check_output_owner
    from feeds.run import run_once

    cfg = _load(args)
    check_output_owner(cfg)  # another store's output directory: exit 2 before anything is touched
    if not args.take_store:
        check_store_owner(cfg)  # another config's store: exit 2 before anything is touched
    progress = _Progress() if (sys.stderr.isatty() and not args.quiet and not args.verbose) else None
    handlers = list(logging.getLogger("feeds").handlers) if progress is not None else []
    for h in handlers:
        h.addFilter(progress)  # type: ignore[arg-type]  # (not None: handlers is empty otherwise)
    with StoreLock(cfg.store_path).acquire(wait=args.wait):
        claim_store(cfg, taken=args.take_store)
        try:
            report = run_once(cfg, force_all=args.all, progress=progress, retry_gone=args.retry_gone)
        finally:
            if progress is not None:
                for h in handlers:
                    h.removeFilter(progress)
                progress.finish()
    for err in report.publish_errors:
        print(f"feeds: {err}", file=sys.stderr)
    if args.verbose:
        print(f"{report.due} due, {len(report.outcomes) - len(report.failed)} ok, {len(report.failed)} failed, "
              + (f"{report.held} held back (Retry-After), " if report.held else "")
              + f"{report.new_items} new items, {len(report.published)} files written")
    config_errors = [o for o in report.failed if (o.error or "").startswith("config error")]
    if config_errors:
        # found only at run time (a semantic model file that does not load): the sources with something new
        # were skipped and back off; the run is a config failure, not a success
        print(f"feeds: {len(config_errors)} of {len(report.outcomes)} sources skipped: {config_errors[0].error}",
              file=sys.stderr)
        return EXIT_CONFIG
    if report.publish_errors:
        return EXIT_FAILED
    if report.all_failed and not report.others_ok:
        # nothing works (the network, the machine): a source failing alone in a run (its backoff gives it runs
        # of its own) while the others' last fetches worked is that source's trouble, told by its warning
        n = len(report.outcomes)
        print(f"feeds: {'the one due source' if n == 1 else f'all {n} due sources'} failed, and no other source "
              "fetched successfully lately", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from feeds.status import status_main

    return int(status_main(_load(args), args))


def cmd_daemon(args: argparse.Namespace) -> int:
    from feeds.daemon import daemon_main

    _make_log_file(args)
    _claim_for_daemon(args)
    return int(daemon_main(_config_path(args), args))


# Which config uses a store: the config file's resolved path, in the store's meta (STORE_CONFIG_KEY). Two configs
# sharing one store mix each other's sources into their channels (an operator review): a run, `feeds check` or
# the daemon of another config that the recorded one does not hand the store over to is refused (exit 2) before
# anything is touched. Another config that publishes the same output directory is the same site (a variant: a
# trimmed config beside the first), not refused. The recorded config hands its store over when it no longer
# names it: the file is gone
# (the site moved with its store, a backup restored on another machine or in another directory) or its
# store.path names another store (a copy of the site); then the config that runs records itself (said with -v).
# `feeds run --take-store` takes a store another config still names (that config is refused from then on).
STORE_CONFIG_KEY = "config.path"


def _recorded_user(cfg: Config) -> tuple[Path | None, bool]:
    """(The config file other than ``cfg``'s that the store records and that still names this store, whether it
    publishes ``cfg``'s output directory too); (None, False) when the store records none, ``cfg``'s own, or one
    that no longer uses it (moved, restored elsewhere, gone)."""
    from feeds.config import parse_config
    from feeds.errors import ConfigError, StoreError
    from feeds.store.sql import peek_meta

    try:
        recorded = peek_meta(cfg.store_path, STORE_CONFIG_KEY)
    except StoreError:  # the command itself says what is wrong with the store
        return None, False
    if not recorded:
        return None, False
    other = Path(recorded)
    try:
        if other.resolve() == cfg.path.resolve() or not other.is_file():
            return None, False
        text = other.read_text(encoding="utf-8")
    except (OSError, RuntimeError, UnicodeDecodeError):  # unreadable: it names the store as far as we know
        return other, False
    try:
        theirs = parse_config(text, other)
    except ConfigError:  # broken now, but it may be mended: it keeps its store
        return other, False
    if os.path.realpath(theirs.store_path) != os.path.realpath(cfg.store_path):
        return None, False
    return other, os.path.realpath(theirs.output.dir) == os.path.realpath(cfg.output.dir)


def check_store_owner(cfg: Config) -> bool:
    """ConfigError (naming store.path and both config files) when the store is another config's: one that still
    names this store for another output directory. Returns whether the store records a variant of this site (a
    config that publishes the same output directory from it, a trimmed config for a test run: what the store
    holds is published in one place either way, and the record stays that config's)."""
    from feeds.errors import ConfigError

    other, same_site = _recorded_user(cfg)
    if other is not None and not same_site:
        raise ConfigError(
            str(cfg.path), "store.path",
            f"a store no other config uses: {cfg.store_path} is the store of {other}, which still names it; two "
            "configs sharing a store mix each other's sources into their channels. Give this config a store.path "
            f"of its own, or, if {other} is no longer run, hand the store over with `feeds run --take-store` "
            f"(with -c {cfg.path}; stop the daemon first)")
    return same_site


def claim_store(cfg: Config, *, taken: bool = False) -> None:
    """Record, under the store lock, that ``cfg``'s config uses its store (a write only when that changes)."""
    from feeds.store import Store

    mine = str(cfg.path.resolve())
    # under the lock: another config may have recorded the store since the check before it (a diff review); a
    # variant of the site (same store, same output) leaves the record to the config it names
    if not taken and check_store_owner(cfg):
        return
    store = Store.open(cfg.store_path)
    try:
        recorded = store.meta_value(STORE_CONFIG_KEY)
        if recorded != mine:
            if recorded is not None:
                logging.getLogger("feeds").log(
                    logging.WARNING if taken else logging.INFO,
                    "%s: the store of %s is now this config's (%s)", cfg.store_path, recorded,
                    "--take-store" if taken else "that config no longer names it: moved, or restored elsewhere")
            store.set_meta(STORE_CONFIG_KEY, mine)
    finally:
        store.close()


def _claim_for_daemon(args: argparse.Namespace) -> None:
    """The daemon's config checked against its store's recorded config (exit 2), then recorded, under the
    lock, before the daemon starts; a held lock or a config the daemon refuses is left to the daemon to say."""
    from feeds.daemon import _checked_config
    from feeds.errors import ConfigError, FeedsError
    from feeds.lock import StoreLock

    try:
        # (another store's output directory refused: nothing made; a takeover is said once, in the daemon's log)
        cfg = _checked_config(_config_path(args), warn=False)
    except ConfigError:
        return
    check_store_owner(cfg)
    try:
        lock = StoreLock(cfg.store_path).acquire()
    except FeedsError:
        return
    try:
        claim_store(cfg)
    except ConfigError:
        raise  # (another config recorded the store since the check before the lock)
    except Exception:  # noqa: BLE001 (a store that cannot be opened: the daemon says so, in its log file too)
        pass
    finally:
        lock.release()


def _make_log_file(args: argparse.Namespace) -> None:
    """Run as root, the daemon's log file (and the directories made for it) is made first, the owner of its
    directory's: a daemon started once as root must not leave a log the service user's daemon cannot open (an
    operator review). Best effort: the daemon reports a config or log file it cannot use itself."""
    if os.geteuid() != 0:
        return
    from feeds.config import load_config
    from feeds.lock import give_to_directory_owner
    from feeds.publish import _make_dirs

    try:
        log_file = load_config(_config_path(args)).daemon.log_file
        if log_file is None:
            return
        if log_file.exists():  # one left root's by an earlier daemon as root is given back, as the store is
            give_to_directory_owner([log_file])
            return
        _make_dirs(log_file.parent)
        os.close(os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o644))
        give_to_directory_owner([log_file])
    except Exception:  # noqa: BLE001 (said by the daemon, which loads the config again)
        return


def cmd_serve(args: argparse.Namespace) -> int:
    from feeds.serve import serve

    cfg = _load(args)
    serve(cfg.output.dir, args.host or cfg.serve.host, args.port if args.port is not None else cfg.serve.port,
          max_age=cfg.serve.max_age)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from feeds.explain import explain_main

    return int(explain_main(_load(args), args))


def cmd_import(args: argparse.Namespace) -> int:
    """Append the OPML file's feeds that the config lacks as [[sources]] tables; the file's own text is
    kept byte for byte, the new text is loaded by the config parser first, and written atomically."""
    import json
    from datetime import UTC, datetime
    from functools import partial

    from feeds.config import parse_config
    from feeds.errors import ConfigError
    from feeds.opml import parse_opml, plan_import, redact, render_sources

    path = _config_path(args)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "an existing config file (create one with `feeds init` first)") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "", "a config file (it is a directory)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), "", f"a readable UTF-8 file ({e})") from None
    cfg = parse_config(text, path)
    source = "standard input" if str(args.file) == "-" else str(args.file)
    plan = plan_import(parse_opml(_read_opml(args.file), source), [(s.url, s.name) for s in cfg.sources],
                       moved=_moved_sources(cfg), own_base=cfg.output.base_url)

    if plan.added:  # a dry run checks the new text too: what it says would be added, a real run adds
        newline = "\r\n" if "\r\n" in text else "\n"
        # one blank line between the file's last line and the new tables (a last line without its line end
        # gets one)
        sep = "" if not text or text.endswith(newline * 2) else newline if text.endswith("\n") else newline * 2
        header = f"imported from {Path(source).name} by `feeds import` on {datetime.now(UTC):%Y-%m-%d}"
        new_text = text + sep + render_sources(plan.added, interval=args.interval, header=header, newline=newline)
        try:
            new_cfg = parse_config(new_text, path)
        except ConfigError as e:
            if e.expected.startswith("valid TOML"):  # e.g. sources = [...] written inline: it cannot grow
                raise ConfigError(str(path), "sources", "sources written as [[sources]] tables, so that imported "
                                  "ones can be appended (is it an inline array, sources = [...]?); nothing "
                                  "written", None) from None
            raise ConfigError(str(path), e.key, f"{e.expected} (in the config with the imported sources; "
                              "nothing written)", e.got) from None
        old, new = cfg.sources, new_cfg.sources
        if new[:len(old)] != old or [(s.url, s.name) for s in new[len(old):]] != [(a.url, a.name)
                                                                                   for a in plan.added]:
            raise RuntimeError("the config with the imported sources does not list them as planned")
        if not args.dry_run:
            _replace_file(path, raw, new_text.encode("utf-8"))

    n_added, n_present, n_skipped = len(plan.added), len(plan.present), len(plan.skipped)
    verb = "would add" if args.dry_run else "added"
    print(f"{source}: {verb} {n_added}, already present {n_present}, skipped {n_skipped} (config {path})")
    quoted = partial(json.dumps, ensure_ascii=False)
    for a in plan.added:
        print(f"+ {quoted(a.name)} {redact(a.url)}" + (f"  [{' / '.join(a.folder)}]" if a.folder else "")
              + ("  (a site's address, no feed URL given: the feed its page names is read)" if a.site else ""))
    for p in plan.present:  # with -v, or when the URL is written differently in the config
        if args.verbose or p.url != p.configured_url:
            print(f"= {redact(p.url)} already present as {quoted(p.name)}"
                  + (f" (configured as {redact(p.configured_url)}, moved here permanently)" if p.moved
                     else f" ({redact(p.configured_url)})" if p.url != p.configured_url else ""))
    for k in plan.skipped:
        print(f"- {f'line {k.line}: ' if k.line else ''}{k.what}: {k.reason}")
    if plan.present and plan.missing:  # the file overlaps the config (a newer export?): what it no longer lists
        print(f"{len(plan.missing)} configured sources are not in this file (import only adds; take out by hand "
              "what you unsubscribed from)" + (": " + ", ".join(map(quoted, plan.missing)) if args.verbose else
                                               "; -v lists them"))
    folders = plan.folders() if plan.added else {}
    if folders:
        print("OPML folders are not channels (a channel needs rules of its own); to make one of a folder, add "
              "[channels.<slug>] with a title, a rule (match_all = true, or include = [...]) and its sources:")
        for folder, names in folders.items():
            print(f"  {' / '.join(folder)}: sources = [{', '.join(map(quoted, names))}]")
    if args.dry_run:
        print("dry run: nothing written")
    elif plan.added:
        print("the next `feeds run` fetches the new sources (a running `feeds daemon` reads the config on SIGHUP)")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """The configured sources as OPML 2.0: each at the URL it is fetched from now (a move the store
    recorded applied), without credentials; a channel that names its sources is a folder of them. Local
    files are left out. What is left out is said on stderr."""
    from datetime import UTC, datetime
    from email.utils import format_datetime

    from feeds.errors import FeedsError
    from feeds.opml import Subscription, render_subscriptions

    log = logging.getLogger("feeds")

    cfg = _load(args)
    try:
        rows = _stored_sources(cfg)
    except FeedsError as e:
        rows = {}
        log.warning("the store's moves and site links are not used (%s)", e)
    from feeds.publish import atomic_write
    from feeds.sanitize import public_url

    target = None if str(args.file) == "-" else args.file
    if target is not None:
        _refuse_to_overwrite(cfg, target)
    subs: list[Subscription] = []
    local: list[str] = []
    secret: list[str] = []
    keyed: list[str] = []
    seen: dict[str, str] = {}
    shared: list[str] = []
    for src in cfg.sources:
        if src.is_local:
            local.append(src.name)
            continue
        row = rows.get(src.url)
        url = (row.fetch_url if row is not None and row.fetch_url else None) or src.url
        bare = _without_userinfo(url)
        if bare != url or src.headers:
            secret.append(src.name)
        if public_url(bare) is None:  # a key in the query (?token=...) is the feed's address: kept, said
            keyed.append(src.name)
        if bare in seen:
            shared.append(f"{seen[bare]} / {src.name}")
        seen.setdefault(bare, src.name)
        site = row.site_link if row is not None and row.site_link else (src.url if url != src.url else None)
        subs.append(Subscription(src.name, bare, _without_userinfo(site) if site else None))
    folders = [(ch.title, ch.sources) for ch in cfg.channels if ch.sources]
    data = render_subscriptions(subs, folders, title=f"{cfg.output.title}: subscriptions",
                                created=format_datetime(datetime.now(UTC), usegmt=True))
    if target is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        atomic_write(target, data)  # whole or not at all, with the mode a new file gets
    if local:
        log.warning("left out %d local file sources (no reader subscribes to a file): %s", len(local),
                    ", ".join(local))
    if secret:
        log.warning("exported without their credentials (user:password in the URL, or headers): %s", ", ".join(secret))
    if keyed:
        log.warning("exported with what looks like a key in the address's query (the feed's own address: keep "
                    "the file private): %s", ", ".join(keyed))
    if shared:
        log.warning("one address once the credentials are cut (another reader gets one subscription): %s",
                    "; ".join(shared))
    return EXIT_OK


def _refuse_to_overwrite(cfg: Config, target: Path) -> None:
    """An export goes to a new file or over an OPML file; never over the config, the store or another file,
    and never into the output directory (an operator review: `feeds export output/index.opml` replaced the
    published index.opml with the subscription list, keys in queries and all, served to the world, and no
    later run put it back)."""
    from feeds.config import _inside
    from feeds.errors import FeedsError

    try:
        resolved = target.resolve()
        if resolved in (cfg.path.resolve(), cfg.store_path.resolve()):
            raise FeedsError(f"{target}: is this config's own {'config' if resolved == cfg.path.resolve() else 'store'}"
                             " file; nothing written (give the export a file of its own)")
        if _inside(target, cfg.output.dir):
            refused = FeedsError(f"{target}: is inside the output directory ({cfg.output.dir}), whose files are "
                                 "published: the list would be served to anyone (with any key in a feed's address) "
                                 "and could replace a published file (index.opml); nothing written (give the "
                                 "export a place outside it)")
            refused.exit_code = EXIT_CONFIG  # a usage error
            raise refused
        if target.exists():
            with target.open("rb") as f:
                head = f.read(4096)
            if b"<opml" not in head.lower():
                raise FeedsError(f"{target}: exists and is not an OPML file; nothing written")
    except OSError as e:
        raise FeedsError(f"{target}: cannot write ({e.strerror or e})") from e


def cmd_backup(args: argparse.Namespace) -> int:
    """A backup a restore can trust: the config file, then the output directory, then the store as one
    consistent snapshot (SQLite's online backup: safe while a run or the daemon writes; copying feeds.db with
    cp misses what is still in its write-ahead log). The output is copied before the store, so the store is
    never behind its pages (an output ahead of its store would have full archive pages written over); the
    pages it is ahead of are written again at the first run after a restore (_restorable)."""
    import shutil

    from feeds.errors import FeedsError

    cfg = _load(args)
    dest: Path = args.dir
    try:
        out_dir, target = cfg.output.dir.resolve(), dest.resolve()
        if target == out_dir or out_dir in target.parents or target in out_dir.parents:
            # (inside it, the copy would copy itself, and the config and store, credentials and all, would be
            # served; around it, the output would hold its own backup)
            raise FeedsError(f"{dest}: is the output directory, inside it or around it ({cfg.output.dir}); "
                             "nothing written: give the backup a place of its own")
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise FeedsError(f"{dest}: exists and is not an empty directory; nothing written")
        dest.parent.mkdir(parents=True, exist_ok=True)
        # a backup killed part way (after the store's snapshot, before it was made restorable) must not look
        # finished (a review): a new directory is built beside its name and renamed to it when whole; an empty
        # directory given (the working directory, a symlink, a mount point, one in a directory the user may not
        # write) is built inside, in a hidden directory whose pieces are moved out when whole, the store last
        inside = dest.is_dir()  # (its mode is the user's: the pieces that hold credentials are 0600)
        partial = (dest if inside else dest.parent) / f".{dest.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(mode=0o700)  # the store and config hold credentials
    except OSError as e:
        raise FeedsError(f"{dest}: cannot write the backup ({e.strerror or e})") from e
    try:
        _backup_into(cfg, partial, dest)
        if inside:
            store = partial / cfg.store_path.name
            for piece in sorted(partial.iterdir(), key=lambda x: x == store):
                os.replace(piece, dest / piece.name)
            partial.rmdir()
        else:
            os.replace(partial, dest)  # (over the empty directory given, if any)
    except BaseException as e:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(e, OSError):
            raise FeedsError(f"{dest}: cannot write the backup ({e.strerror or e})") from e
        raise
    if not args.quiet:
        print(f"backed up to {dest}: {cfg.path.name}, {'output/, ' if (dest / 'output').exists() else ''}"
              f"{cfg.store_path.name if (dest / cfg.store_path.name).exists() else '(no store yet)'}")
    return EXIT_OK


def _copy_if_there(src: str, dst: str) -> None:
    """shutil.copy2, for a file a writer may rename away meanwhile (one gone is not copied)."""
    import shutil

    with contextlib.suppress(FileNotFoundError):
        shutil.copy2(src, dst)


def _backup_into(cfg: Config, dest: Path, named: Path) -> None:
    """cmd_backup's copies, into the new directory `dest` (to be renamed `named`: the name errors give)."""
    import shutil
    import sqlite3

    from feeds.errors import FeedsError
    from feeds.publish import _TEMP_RE

    try:
        shutil.copy2(cfg.path, dest / cfg.path.name)
        os.chmod(dest / cfg.path.name, 0o600)  # it may hold credentials (headers, URLs with tokens)
        out_copy = dest / "output"
        if cfg.output.dir.is_dir():  # without the writers' temporary files, which come and go as it copies
            shutil.copytree(cfg.output.dir, out_copy, symlinks=True, copy_function=_copy_if_there,
                            ignore=lambda _d, names: [n for n in names if _TEMP_RE.match(n)])
        store_copy = dest / cfg.store_path.name
        if cfg.store_path.exists():
            from feeds.store.sql import ro_uri

            src = sqlite3.connect(ro_uri(cfg.store_path), uri=True)
            fd = os.open(store_copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            dst = sqlite3.connect(store_copy)
            try:
                with dst:
                    src.backup(dst)  # one step: one read transaction, one consistent snapshot
                dst.execute("PRAGMA journal_mode=DELETE")  # a single file, nothing beside it
                if dst.execute("PRAGMA integrity_check").fetchone() != ("ok",) or not dst.execute(
                        "SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                    raise FeedsError(f"{cfg.store_path}: the copy of the store is not whole; the backup is not "
                                     f"to be used ({named})")
                _restorable(dst, out_copy)
            finally:
                dst.close()
                src.close()
    except sqlite3.Error as e:
        raise FeedsError(_store_copy_failed(cfg.store_path, named, e)) from e
    except shutil.Error as e:  # what copytree gathered: the first file and its error
        first = e.args[0][0] if e.args and isinstance(e.args[0], list) and e.args[0] else None
        what = f"{first[0]}: {first[2]}" if first and len(first) == 3 else str(e)
        raise FeedsError(f"{named}: cannot write the backup ({what})") from e
    except OSError as e:
        raise FeedsError(f"{named}: cannot write the backup ({e.strerror or e})") from e


# the errors of SQLite's that only a write makes: in a backup, the copy's (the live store is opened read-only)
_WRITE_ERRORS = ("SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_IOERR_DIR_FSYNC",
                 "SQLITE_IOERR_TRUNCATE", "SQLITE_IOERR_DELETE")


def _store_copy_failed(store: Path, named: Path, e: Exception) -> str:
    """A backup's snapshot of the store that failed, as one line: the backup named when its copy could not be
    written (a full disk there; an I/O review: the message named the live store, as if it were at fault), the
    live store when it could not be read."""
    from feeds.store.failure import is_full

    if str(getattr(e, "sqlite_errorname", "")) in _WRITE_ERRORS or is_full(e):
        fix = "free space on its filesystem, or back up to another place" if is_full(e) else "back up to another place"
        return (f"{named}: cannot write the backup's copy of the store ({e}); the live store {store} is untouched "
                f"and the unfinished backup was removed: {fix}")
    return f"{store}: cannot back the store up ({e}); nothing written"


def _restorable(dst: Any, out_copy: Path) -> None:
    """The backup's store, told what its output copy holds. The output was copied a moment before the store,
    so the page still open in the copy may have filled since (a review: a restored page stayed short for good):
    each channel's pages from the last one in the copy are rendered again at the first run after a restore
    (written where their bytes differ) and every channel is published; the full pages before it are final
    and stay as they are."""
    from feeds.publish import ARCHIVE_PAGE_SIZE

    cols = {row[1] for row in dst.execute("PRAGMA table_info(archive_marks)")}
    with dst:
        if "written" in cols:  # (a store before schema 4 has none: its upgrade renders its pages once anyway)
            for slug, written in dst.execute("SELECT channel, written FROM archive_marks").fetchall():
                pages = [int(p.stem) for p in (out_copy / "archive" / str(slug)).glob("*.atom") if p.stem.isdigit()]
                last = max(pages, default=1)
                dst.execute("UPDATE archive_marks SET written = ? WHERE channel = ?",
                            (min(int(written or 0), (last - 1) * ARCHIVE_PAGE_SIZE), slug))
        dst.execute("UPDATE channels SET dirty = 1")


def _without_userinfo(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _stored_sources(cfg: Config) -> dict[str, Any]:
    """The store's source rows by configured URL, read without a lock (nothing written); none when there is no
    store yet. FeedsError when it cannot be read."""
    if not cfg.store_path.exists():
        return {}
    from feeds.store import Store

    store = Store.open_readonly(cfg.store_path)
    try:
        return {r.url: r for r in store.sources()}
    finally:
        store.close()


def _moved_sources(cfg: Config) -> list[tuple[str, str]]:
    """(URL fetched now, source name) of the configured sources the store says moved (a permanent redirect,
    or the feed a site's page names): an export from another reader lists the new URL. Nothing when the
    store cannot be read (import needs only the config)."""
    from feeds.errors import FeedsError

    try:
        rows = _stored_sources(cfg)
    except FeedsError:
        return []
    return [(rows[s.url].fetch_url, s.name) for s in cfg.sources if s.url in rows and rows[s.url].fetch_url]


def _read_opml(file: Path) -> bytes:
    """The OPML file's bytes, at most MAX_OPML_BYTES (more is refused without reading it all)."""
    from feeds.opml import MAX_OPML_BYTES, OpmlError

    try:
        if str(file) == "-":
            data: bytes = sys.stdin.buffer.read(MAX_OPML_BYTES + 1)
        else:
            with file.open("rb") as f:
                data = f.read(MAX_OPML_BYTES + 1)
    except FileNotFoundError:
        raise OpmlError(str(file), "no such file") from None
    except IsADirectoryError:
        raise OpmlError(str(file), "is a directory, not an OPML file") from None
    except OSError as e:
        raise OpmlError(str(file), f"cannot be read ({e.strerror or e})") from None
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(str(file), f"is larger than {MAX_OPML_BYTES // (1024 * 1024)} MiB: refused "
                                   "(no subscription list is that large)")
    return data


def _replace_file(path: Path, old: bytes | None, data: bytes) -> None:
    """Replace `path` (whose bytes were `old`; None: a file written anew, `feeds init`) by `data` atomically: a
    temporary file in the same directory, fsynced, with the file's permission bits (and owner, where allowed),
    then os.replace and an fsync of the directory. A symlink is followed (the file it points to is replaced,
    the link kept). The file is compared with `old` just before the swap: an edit made meanwhile is not lost
    (nothing is written). A failure (a full disk) names the file and leaves it as it was."""
    import stat
    import tempfile

    from feeds.errors import FeedsError

    target = Path(os.path.realpath(path))
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:
        raise FeedsError(f"{path}: cannot write ({e.strerror or e}); nothing written") from e
    tmp = Path(tmp_name)
    try:
        try:
            if st is None:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(fd, 0o666 & ~umask)  # as a file created with open() would be
            else:
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
                if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                    with contextlib.suppress(OSError):  # only root may give a file away: the owner stays ours
                        os.fchown(fd, st.st_uid, st.st_gid)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if old is not None and target.read_bytes() != old:
            raise FeedsError(f"{path}: changed while importing; nothing written (run the import again)")
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise FeedsError(f"{path}: cannot write ({e.strerror or e}); nothing written") from e
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


if __name__ == "__main__":
    sys.exit(main())
