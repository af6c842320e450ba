"""Command line. Maps errors to exit codes; quiet on success so cron mails only problems.

Exit codes: 0 success; 1 every due source failed, or a feed could not be written; 2 bad config or
usage; 3 `status --check` found a problem; 75 another feeds process holds the store (cron may
simply try again next time); 130 interrupted.
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
from typing import Any

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
    r.add_argument("--all", action="store_true", help="fetch every source, due or not")
    r.add_argument("--wait", type=_seconds, default=0.0, metavar="SECONDS",
                   help="wait this long for a running feeds to finish instead of leaving at once")
    i = sub.add_parser("init", help="write a starter config")
    i.add_argument("path", nargs="?", type=Path, default=None, help="where (default: the --config path)")
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    sub.add_parser("check", help="validate the config and exit")
    s = sub.add_parser("status", help="sources and channels, and why each source is or is not due")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--check", action="store_true", help="exit 3 when the last success is too old or too many "
                                                        "sources are broken")
    s.add_argument("--max-age", type=_duration, default="2h",
                   help="with --check: oldest acceptable last success (default 2h)")
    s.add_argument("--max-broken", type=_share, default=0.5,
                   help="with --check: largest acceptable share of broken sources (default 0.5)")
    d = sub.add_parser("daemon", help="run continuously, fetching sources when due")
    d.add_argument("--serve", action="store_true", help="also serve the output directory")
    sv = sub.add_parser("serve", help="serve the output directory over HTTP")
    sv.add_argument("--host", default=None)
    sv.add_argument("--port", type=_port, default=None, help="0 to 65535 (0: any free port)")
    e = sub.add_parser("explain", help="why two headlines are or are not one story")
    e.add_argument("a", help="first headline, or an item's entry id")
    e.add_argument("b", help="second headline, or an item's entry id")
    e.add_argument("--json", action="store_true", help="machine-readable output")
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


def _common(p: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted before or after the command (`feeds -v run` and `feeds run -v`)."""
    d = {} if top else {"default": argparse.SUPPRESS}
    p.add_argument("--config", "-c", type=Path, help="config file (default: $FEEDS_CONFIG or config/feeds.toml)",
                   **({"default": None} if top else d))
    p.add_argument("-v", "--verbose", action="count", help="log each fetch (repeat for debug)",
                   **({"default": 0} if top else d))
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display, only errors",
                   **({"default": False} if top else d))


def _config_path(args: argparse.Namespace) -> Path:
    if args.config is not None:
        return Path(args.config)
    env = os.environ.get("FEEDS_CONFIG")
    return Path(env) if env else Path("config/feeds.toml")


def _setup_logging(verbose: int, quiet: bool, log_file: Path | None = None) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"
                                           if log_file else "feeds: %(levelname)s: %(message)s"))
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
        reason = _store_error(e)
        if reason is None:  # a bug in feeds: said as such, with the traceback to report
            print(f"feeds: internal error ({type(e).__name__}: {e}); this is a bug in feeds, please report it "
                  "with the traceback below", file=sys.stderr)
            traceback.print_exc()
            return EXIT_INTERNAL
        where = getattr(args, "store_path", None)
        print(f"feeds: {f'{where}: ' if where else ''}the store failed: {reason}", file=sys.stderr)
        return EXIT_FAILED


def _os_error(e: OSError) -> str:
    """An OSError as one line naming the file(s) involved."""
    what = e.strerror or str(e) or e.__class__.__name__
    if e.filename is not None:
        target = f" -> {os.fsdecode(e.filename2)}" if e.filename2 is not None else ""
        return f"{os.fsdecode(e.filename)}{target}: {what}"
    return what


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
    cfg = _load(args)
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
    text = "# feeds configuration: see README.md for every key.\n" + tomli_w.dumps(starter_config())
    parse_config(text, path)  # what we write must load
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return EXIT_OK


class _Progress:
    """Sources done / total and new items, redrawn in place; only on a terminal."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, done: int, total: int, new: int) -> None:
        sys.stderr.write(f"\r{done}/{total} sources, {new} new items ")
        sys.stderr.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def cmd_run(args: argparse.Namespace) -> int:
    from feeds.lock import StoreLock
    from feeds.run import run_once

    cfg = _load(args)
    progress = _Progress() if (sys.stderr.isatty() and not args.quiet and not args.verbose) else None
    with StoreLock(cfg.store_path).acquire(wait=args.wait):
        try:
            report = run_once(cfg, force_all=args.all, progress=progress)
        finally:
            if progress:
                progress.finish()
    for err in report.publish_errors:
        print(f"feeds: {err}", file=sys.stderr)
    if args.verbose:
        print(f"{report.due} due, {len(report.outcomes) - len(report.failed)} ok, {len(report.failed)} failed, "
              f"{report.new_items} new items, {len(report.published)} files written")
    if report.publish_errors:
        return EXIT_FAILED
    if report.all_failed:
        print(f"feeds: all {len(report.outcomes)} sources failed", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from feeds.status import status_main

    return int(status_main(_load(args), args))


def cmd_daemon(args: argparse.Namespace) -> int:
    from feeds.daemon import daemon_main

    return int(daemon_main(_config_path(args), args))


def cmd_serve(args: argparse.Namespace) -> int:
    from feeds.serve import serve

    cfg = _load(args)
    serve(cfg.output.dir, args.host or cfg.serve.host, args.port if args.port is not None else cfg.serve.port,
          max_age=cfg.serve.max_age)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from feeds.explain import explain_main

    return int(explain_main(_load(args), args))


if __name__ == "__main__":
    sys.exit(main())
