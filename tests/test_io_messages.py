"""What an operator reads on a bad day (an I/O review of messages, 2026-11-28): a full disk under the store, a
backup whose destination fills, a store in a directory this user may not write, a log file that cannot be
written. Each is made to happen for real: a small tmpfs in a mount namespace of its own (ENOSPC: where the
machine allows one), SQLite's own page limit (max_page_count: the "database or disk is full" SQLite raises on a
full disk, anywhere), a file size limit (RLIMIT_FSIZE: a write cut short, then EFBIG), /dev/full (every write:
"No space left on device"), root without its override of permissions (setpriv). Real files, real SQLite."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import feedparser
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from test_daemon import Daemon, daemons  # noqa: F401  (daemons: a fixture)
from test_review_fixes_cli import CONFIG, NO_DAC, _can_drop_dac, env, feeds, one_line_error, site

from feeds.config import Config, load_config
from feeds.daemon import Daemon as FeedsDaemon
from feeds.daemon import log_handler
from feeds.run import Pipeline, run_once
from feeds.store import Store
from feeds.store.failure import store_failure

ITEMS = 400


def big_feed(n: int = ITEMS) -> bytes:
    """An RSS feed of ``n`` items of ~1.4 kB each (~575 kB): a first run writes well over 1 MB to the store."""
    items = "".join(
        f"<item><title>Story number {i} about things {i * 7}</title><link>https://wire.example/{i}</link>"
        f"<guid>https://wire.example/{i}</guid><description>{f'lorem ipsum dolor sit amet {i} ' * 40}"
        "</description><pubDate>Mon, 03 Jun 2024 10:00:00 GMT</pubDate></item>" for i in range(n))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            f"<link>https://wire.example/</link>{items}</channel></rss>").encode()


def big_site(tmp_path: Path, extra: str = "") -> Path:
    cfg = site(tmp_path, CONFIG + extra)
    (cfg.parent / "feed.xml").write_bytes(big_feed())
    return cfg


def limited(limit: int, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`feeds *args` with no file of its own to grow past ``limit`` bytes (RLIMIT_FSIZE, SIGXFSZ ignored: a
    write past it comes up short, then fails with EFBIG; SQLite says "disk I/O error"). stderr is a pipe (a
    pipe has no size limit)."""
    code = ("import resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
            "from feeds import cli\n"
            "sys.exit(cli.main(sys.argv[1:]))\n")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env(), stdin=subprocess.DEVNULL)


def stored(db: Path, query: str | None = None) -> Any:
    """The store's integrity check, its items and its distinct guids (or the first value of ``query``)."""
    con = sqlite3.connect(db)
    try:
        if query is not None:
            return con.execute(query).fetchone()[0]
        return (con.execute("PRAGMA integrity_check").fetchone()[0],
                con.execute("SELECT count(*) FROM items").fetchone()[0],
                con.execute("SELECT count(DISTINCT guid) FROM items").fetchone()[0])
    finally:
        con.close()


def full_message(store: Path, doing: str) -> str:
    return (f"{store}: the disk is full while {doing} (database or disk is full); nothing stored is lost, SQLite "
            f"rolled that write back: free space on the store's filesystem ({store.parent}) and run again")


# -- 1. a full disk under the store -----------------------------------------------------------------------------

def full_store(cfg: Config, room: int = 50) -> Store:
    """The store of ``cfg``, whose database can grow by ``room`` pages (4 kB each) only: SQLite's own
    "database or disk is full" (max_page_count), raised by SQLite where a full disk raises it."""
    store = Store.open(cfg.store_path)
    pages = stored(cfg.store_path, "PRAGMA page_count")
    store.engine.dispose()  # (its connections made from here on have the limit)
    event.listen(store.engine, "connect",
                 lambda con, _rec: con.execute(f"PRAGMA max_page_count={int(pages) + room}"))
    return store


def test_a_store_that_fills_says_which_file_what_was_written_that_nothing_is_lost_and_what_to_do(
        tmp_path: Path) -> None:
    # it said "feeds: <store>: the store failed: database or disk is full": no phase, no fix, no word of the data
    # (the CLI's own line: test_a_store_on_a_filesystem_that_fills_for_real)
    cfg = load_config(big_site(tmp_path))
    store = full_store(cfg)
    try:
        with pytest.raises(OperationalError) as e:
            Pipeline(cfg, store).run()
    finally:
        store.close()
    assert store_failure(cfg.store_path, e.value) == full_message(cfg.store_path, "writing the run's items")
    # nothing lost: the store is whole, and the next run (with room) stores every item once
    assert stored(cfg.store_path) == ("ok", 0, 0)
    assert run_once(cfg).new_items == ITEMS
    assert stored(cfg.store_path) == ("ok", ITEMS, ITEMS)


def _mount_namespaces() -> bool:
    """A tmpfs can be mounted in a mount namespace of a process's own (root, util-linux's unshare; the mount
    goes with the process)."""
    if shutil.which("unshare") is None:
        return False
    d = tempfile.mkdtemp()
    try:
        probe = subprocess.run(["unshare", "-m", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d],
                               capture_output=True)
        return probe.returncode == 0
    finally:
        os.rmdir(d)


TMPFS = pytest.mark.skipif(not _mount_namespaces(), reason="needs unshare -m and a tmpfs mount (root)")


@TMPFS
def test_a_store_on_a_filesystem_that_fills_for_real(tmp_path: Path) -> None:
    """The same on a real full filesystem (ENOSPC): a tmpfs of 64 kB under the store while it is created,
    1 MB while the run's items are written, then 64 MB."""
    cfg = big_site(tmp_path)
    var = cfg.parent / "var"
    var.mkdir()
    store = var / "feeds.db"
    py = f"{sys.executable} -m feeds.cli -c {cfg} run"
    script = (f"mount -t tmpfs -o size=64k tmpfs {var} || exit 99\n"
              f"{py} 2>{tmp_path}/create.err; echo $? >{tmp_path}/create.rc\n"
              f"rm -f {var}/*; mount -o remount,size=1m {var}\n"
              f"{py} 2>{tmp_path}/items.err; echo $? >{tmp_path}/items.rc\n"
              f"mkdir {tmp_path}/items; cp {var}/feeds.db {var}/feeds.db-wal {tmp_path}/items/\n"
              f"mount -o remount,size=64m {var}\n"
              f"{py} 2>{tmp_path}/again.err; echo $? >{tmp_path}/again.rc\n"
              f"cp {store} {tmp_path}/after.db\n")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=cfg.parent, env=env(), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr

    def said(name: str) -> tuple[int, str]:
        return int((tmp_path / f"{name}.rc").read_text()), (tmp_path / f"{name}.err").read_text()

    assert said("create") == (1, f"feeds: {full_message(store, 'creating the store')}\n")
    assert said("items") == (1, f"feeds: {full_message(store, 'writing the run' + chr(39) + 's items')}\n")
    assert stored(tmp_path / "items" / "feeds.db")[0] == "ok"  # (the store as the failed run left it)
    assert said("again")[0] == 0, said("again")
    assert stored(tmp_path / "after.db") == ("ok", ITEMS, ITEMS)


def test_a_daemon_whose_store_fills_says_it_in_its_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A tick failing on a full disk: its line says what the CLI says (then the traceback, the first time),
    with "the next tick tries again" for "run again"."""
    cfg_path = big_site(tmp_path)
    cfg = load_config(cfg_path)
    d = FeedsDaemon(cfg_path, cfg)
    d.pipeline = Pipeline(cfg, full_store(cfg))
    try:
        with caplog.at_level(logging.INFO, logger="feeds"):
            d.tick()
            d.tick()
    finally:
        d.pipeline.close()
        d.pipeline.store.close()
    said = full_message(cfg.store_path, "writing the run's items").replace(" and run again",
                                                                          "; the next tick tries again")
    failed = [(r.getMessage(), bool(r.exc_info)) for r in caplog.records if "tick failed" in r.getMessage()]
    assert failed == [(f"tick failed: {said}", True),
                      (f"tick failed again (2 in a row; the traceback was logged at the first): {said}", False)]


def test_a_store_that_fills_during_its_first_publish_has_claimed_its_output(tmp_path: Path) -> None:
    """(A known limit until then) the output marker was written after the publish: a store that filled while
    its first publish recorded what it wrote left its documents unclaimed, and the next run warned that it
    "takes it over ... its documents replace those there, archive pages from page 1" -- its own output. The
    marker is written before the documents: the next run says nothing and publishes what was left. SQLite's
    "database or disk is full" is raised by a real store at the first write of that phase after a document
    is written (a page limit cannot be aimed at one phase)."""
    cfg_path = big_site(tmp_path)
    cfg = load_config(cfg_path)
    store = Store.open(cfg.store_path)

    def fill(_con: Any, _cur: Any, statement: str, *_: Any) -> None:
        if store.doing == "recording the published feeds" and (cfg.output.dir / "all.atom").exists() \
                and not statement.lstrip().upper().startswith("SELECT"):
            raise sqlite3.OperationalError("database or disk is full")

    event.listen(store.engine, "before_cursor_execute", fill)
    try:
        with pytest.raises(OperationalError) as e:
            Pipeline(cfg, store).run()
    finally:
        store.close()
    assert store_failure(cfg.store_path, e.value) == full_message(cfg.store_path, "recording the published feeds")
    assert not (cfg.output.dir / "index.opml").exists()  # the publish stopped half-way
    r = feeds("-c", str(cfg_path), "run", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, "")
    assert stored(cfg.store_path)[0] == "ok"
    assert (cfg.output.dir / "index.opml").is_file()
    feed = feedparser.parse((cfg.output.dir / "all.atom").read_bytes())
    assert not feed.bozo and len(feed.entries) == cfg.output.entries


# -- 2. a backup whose destination fills ------------------------------------------------------------------------

def test_a_backup_whose_destination_fills_names_it_and_says_the_live_store_is_untouched(tmp_path: Path) -> None:
    # it said "<live store>: cannot back the store up (database or disk is full)", as if the store were at fault
    cfg = site(tmp_path)
    assert feeds("-c", str(cfg), "run", cwd=cfg.parent).returncode == 0
    store = cfg.parent / "var" / "feeds.db"
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    assert store.stat().st_size > 50_000  # (the config and the output fit under the limit; the store does not)
    dest = tmp_path / "bk"
    r = limited(50_000, "-c", str(cfg), "backup", str(dest), cwd=cfg.parent)
    assert r.returncode == 1, r.stderr
    # (a file size limit makes SQLite's write fail as "disk I/O error"; a full disk: the next test)
    assert one_line_error(r) == (
        f"feeds: {dest}: cannot write the backup's copy of the store (disk I/O error); the live store {store} is "
        "untouched and the unfinished backup was removed: back up to another place")
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before and stored(store)[0] == "ok"
    assert not dest.exists() and [p.name for p in tmp_path.iterdir()] == ["site"]
    assert feeds("-c", str(cfg), "backup", str(dest), cwd=cfg.parent).returncode == 0  # with room: it works


@TMPFS
def test_a_backup_onto_a_filesystem_that_fills_for_real(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    assert feeds("-c", str(cfg), "run", cwd=cfg.parent).returncode == 0
    store = cfg.parent / "var" / "feeds.db"
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    dest = mnt / "bk"
    script = (f"mount -t tmpfs -o size=100k tmpfs {mnt} || exit 99\n"
              f"{sys.executable} -m feeds.cli -c {cfg} backup {dest} 2>{tmp_path}/backup.err; "
              f"echo $? >{tmp_path}/backup.rc; ls -A {mnt} >{tmp_path}/left\n")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=cfg.parent, env=env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "backup.rc").read_text() == "1\n"
    assert (tmp_path / "backup.err").read_text() == (
        f"feeds: {dest}: cannot write the backup's copy of the store (database or disk is full); the live store "
        f"{store} is untouched and the unfinished backup was removed: free space on its filesystem, or back up "
        "to another place\n")
    assert (tmp_path / "left").read_text() == ""
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before


# -- 3. a store in a directory this user may not write --------------------------------------------------------------

@pytest.mark.skipif(not _can_drop_dac(), reason="needs setpriv to drop root's override of permissions")
def test_a_store_whose_directory_is_not_writable_says_so_and_how_to_fix_it(tmp_path: Path) -> None:
    # SQLite makes the store's -wal and -shm beside it: in a directory it may not write, the store (and its
    # lock file, both writable) could not be opened, and the message was "cannot open the store
    # (OperationalError: attempt to write a readonly database)"
    cfg = site(tmp_path)
    assert feeds("-c", str(cfg), "run", cwd=cfg.parent).returncode == 0
    var = cfg.parent / "var"
    store = var / "feeds.db"
    assert sorted(p.name for p in var.iterdir()) == ["feeds.db", "feeds.db.lock"]  # (no -wal, no -shm)
    var.chmod(0o555)
    try:
        r = feeds("-c", str(cfg), "run", cwd=cfg.parent, prefix=NO_DAC)
        if os.geteuid() == 0:  # another user's directory: run feeds as its owner, or chown
            os.chown(var, 4321, 4321)
            other = feeds("-c", str(cfg), "run", cwd=cfg.parent, prefix=NO_DAC)
            os.chown(var, 0, 0)
    finally:
        var.chmod(0o755)
    me = _user(os.geteuid())
    assert r.returncode == 1, r.stderr
    assert one_line_error(r) == (
        f"feeds: {store}: writing failed while opening the store (attempt to write a readonly database): the "
        f"directory {var} is not writable by this user ({me}; its mode is 555), and SQLite makes the store's -wal "
        f"and -shm files there: chmod u+w {var}")
    if os.geteuid() == 0:
        assert other.returncode == 1, other.stderr
        assert one_line_error(other).endswith(
            f"the directory {var} is not writable by this user ({me}; it is uid 4321's, mode 555), and SQLite "
            "makes the store's -wal and -shm files there: run feeds as its owner, or give it (and feeds.db, its "
            "-wal and -shm and feeds.db.lock) to this user with chown"), other.stderr
    assert sorted(p.name for p in var.iterdir()) == ["feeds.db", "feeds.db.lock"]
    assert feeds("-c", str(cfg), "run", cwd=cfg.parent).returncode == 0  # the fix said: it runs


def _user(uid: int) -> str:
    from feeds.lock import _user as user

    return user(uid)


# -- 4. a log file that cannot be written -----------------------------------------------------------------------

def test_a_log_file_that_cannot_be_written_says_so_once_and_once_again_when_it_works(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Python's logging printed a "--- Logging error ---" block, traceback and all, to stderr for every record
    log = tmp_path / "feeds.log"
    log.symlink_to("/dev/full")  # every write: ENOSPC, "No space left on device"
    cfg = site(tmp_path, CONFIG + f'[daemon]\nlog_file = "{log}"\n')
    handler = log_handler(load_config(cfg))  # the daemon's own handler
    logger = logging.getLogger("feeds.test_io_messages")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for i in range(3):
            logger.info("lost %d", i)
        said = (f"feeds: cannot write the log {log}: No space left on device; log lines are dropped until it works "
                "again\n")
        assert capsys.readouterr().err == said
        log.unlink()
        log.write_text("")  # room again (a file of its own)
        logger.info("kept")
        lines = log.read_text().splitlines()
        assert [line.split(" ", 3)[2:] for line in lines] == [
            ["WARNING", f"the log {log} works again; 3 log lines were dropped while it could not be written"],
            ["INFO", "kept"]], lines
        assert capsys.readouterr().err == ""
        # failing again: said again, once
        log.unlink()
        log.symlink_to("/dev/full")
        logger.info("lost again")
        logger.info("and again")
        assert capsys.readouterr().err == said
    finally:
        logger.handlers[:] = []
        handler.close()


def test_a_log_write_cut_short_leaves_the_next_line_whole(tmp_path: Path) -> None:
    """A filesystem that fills mid-line keeps half a line; the line that says the log works again starts on
    a line of its own. (A file size limit cuts the write short, as a full disk does.)"""
    log = tmp_path / "feeds.log"
    code = ("import logging, resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "from feeds.logs import LogFile\n"
            f"h = LogFile({str(log)!r})\n"
            "h.setFormatter(logging.Formatter('%(levelname)s %(message)s'))\n"
            "log = logging.getLogger('feeds.cut')\n"
            "log.handlers[:] = [h]\n"
            "log.propagate = False\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (130, resource.RLIM_INFINITY))\n"
            "for i in range(4):\n"
            "    log.warning('record number %d, padded to forty-odd bytes', i)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
            "log.warning('after')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env())
    assert r.returncode == 0, r.stderr
    assert r.stderr == (f"feeds: cannot write the log {log}: File too large; log lines are dropped until it works "
                        "again\n")
    lines = log.read_text().splitlines()
    assert lines[:2] == [f"WARNING record number {i}, padded to forty-odd bytes" for i in range(2)]
    assert lines[2] == "WARNING record number 2, pad"  # the third: cut where the limit fell (130 bytes)
    assert lines[3:] == [f"WARNING the log {log} works again; 2 log lines were dropped while it could not be "
                         "written", "WARNING after"], lines


def test_a_daemon_whose_log_cannot_be_written_says_one_line_on_stderr(tmp_path: Path,
                                                                      daemons: list[Daemon]) -> None:  # noqa: F811
    log = tmp_path / "site" / "feeds.log"
    cfg = site(tmp_path, CONFIG + '[daemon]\ntick = "1s"\nlog_file = "feeds.log"\n')
    log.symlink_to("/dev/full")
    d = Daemon(cfg, "-v", "-v")  # a line or two at every tick
    daemons.append(d)
    d.wait_for(lambda: "cannot write the log" in d.log(), "the log's failure")
    log.unlink()
    log.write_text("")
    d.wait_for(lambda: "works again" in log.read_text() and "tick:" in log.read_text(), "the log working again")
    rc, _ = d.terminate()
    assert rc == 0, d.log()
    assert d.log() == (f"feeds: cannot write the log {log}: No space left on device; log lines are dropped until "
                       "it works again\n")
    first = log.read_text().splitlines()[0]
    assert "WARNING the log" in first and "log lines were dropped while it could not be written" in first

