"""Two `feeds run` on one store at once: one proceeds, the other leaves with 75 or waits (--wait); a
holder killed with SIGKILL leaves no stale lock; nothing is corrupted or stored twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from feedgen_util import rss
from loopback import Loopback, Request, Response
from test_faults import ROOT, published_titles, write_config

from feeds.store import Store

SLOW = 2.5  # seconds the slow source takes to answer: how long a run holds the lock at least


@pytest.fixture
def sources() -> Iterator[tuple[Loopback, threading.Event]]:
    srv = Loopback()
    release = threading.Event()

    def slow(req: Request) -> Response:
        release.wait(SLOW)
        return Response(200, rss([{"title": "Slow item", "guid": "slow-1"}]))

    srv.routes["/slow"] = slow
    srv.routes["/fast"] = lambda req: Response(200, rss([{"title": f"Fast item {i}", "guid": f"f{i}"}
                                                         for i in range(20)]))
    yield srv, release
    release.set()
    srv.close()


def start(cfg: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("FEEDS_CONFIG", None)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "feeds.cli", "--config", str(cfg), "run", "--all", *extra],
                            cwd=cfg.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)


def wait_for_lock_holder(lock: Path, pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if lock.read_text().strip() == str(pid):
                return
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never took the lock")


def check_store(db: Path) -> list[tuple[float, float | None]]:
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        runs = [(a, b) for a, b in c.execute("SELECT started, finished FROM runs ORDER BY id")]
    store = Store.open(db)
    try:
        assert store.duplicate_uids() == 0
    finally:
        store.close()
    return runs


def config(tmp: Path, srv: Loopback) -> Path:
    return write_config(tmp, [("slow", srv.url("/slow")), ("fast", srv.url("/fast"))],
                        fetch="read_timeout = 10\ndeadline = 20\n")


def test_a_second_run_leaves_with_75_while_the_first_holds_the_store(
        tmp_path: Path, sources: tuple[Loopback, threading.Event]) -> None:
    srv, release = sources
    cfg = config(tmp_path, srv)
    first = start(cfg)
    wait_for_lock_holder(tmp_path / "feeds.db.lock", first.pid)
    t = time.monotonic()
    second = start(cfg)
    out2, err2 = second.communicate(timeout=30)
    assert second.returncode == 75, (second.returncode, err2)
    assert "another feeds process" in err2
    assert first.poll() is None, "the first run ended before the second was turned away: no overlap tested"
    assert time.monotonic() - t < SLOW + 5  # it left rather than waited
    out1, err1 = first.communicate(timeout=60)
    assert first.returncode == 0, err1
    titles = published_titles(tmp_path / "out" / "news.atom")
    assert sorted(titles) == sorted(["Slow item"] + [f"Fast item {i}" for i in range(20)])
    assert len(check_store(tmp_path / "feeds.db")) == 1  # the turned-away run recorded nothing


def test_with_wait_the_second_run_goes_after_the_first(tmp_path: Path,
                                                       sources: tuple[Loopback, threading.Event]) -> None:
    srv, release = sources
    cfg = config(tmp_path, srv)
    first = start(cfg)
    wait_for_lock_holder(tmp_path / "feeds.db.lock", first.pid)
    waiters = [start(cfg, "--wait", "60") for _ in range(3)]
    results = [first.communicate(timeout=90)]
    release.set()  # the waiters' own runs need not be slow
    results += [p.communicate(timeout=90) for p in waiters]
    codes = [p.returncode for p in (first, *waiters)]
    assert codes == [0, 0, 0, 0], (codes, [e for _, e in results])
    runs = check_store(tmp_path / "feeds.db")
    assert len(runs) == 4
    spans = sorted((a, b or 0.0) for a, b in runs)
    for (_, end), (begin, _) in zip(spans, spans[1:], strict=False):
        assert begin >= end, "two runs overlapped on the store"
    titles = published_titles(tmp_path / "out" / "news.atom")
    assert len(titles) == len(set(titles)) == 21


def test_a_killed_lock_holder_leaves_no_stale_lock(tmp_path: Path, sources: tuple[Loopback, threading.Event]) -> None:
    srv, release = sources
    cfg = config(tmp_path, srv)
    first = start(cfg)
    wait_for_lock_holder(tmp_path / "feeds.db.lock", first.pid)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    release.set()  # the next run need not wait for the slow source
    second = start(cfg)
    _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    check_store(tmp_path / "feeds.db")
    assert len(published_titles(tmp_path / "out" / "news.atom")) == 21


def test_two_paths_to_one_store_share_its_lock(tmp_path: Path) -> None:
    """A store reached through a symlink (another config naming it so) is locked by the lock of its real
    path: the two writers cannot run at once (a review's suspicion, confirmed by this test failing before)."""
    from feeds.errors import LockedError
    from feeds.lock import StoreLock

    real = tmp_path / "data" / "feeds.db"
    real.parent.mkdir()
    Store.open(real).close()
    (tmp_path / "link.db").symlink_to(real)
    (tmp_path / "dir").symlink_to(real.parent)
    with StoreLock(real).acquire():
        for other in (tmp_path / "link.db", tmp_path / "dir" / "feeds.db"):
            with pytest.raises(LockedError):
                StoreLock(other).acquire()
    with StoreLock(tmp_path / "link.db").acquire():  # and released, it is free again
        pass


def test_a_store_path_that_is_a_symlink_loop_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "feeds.db").symlink_to(tmp_path / "feeds.db")
    (tmp_path / "feeds.toml").write_text('[store]\npath = "feeds.db"\n[[sources]]\nurl = "x.xml"\n'
                                         '[channels.all]\ntitle = "All"\nmatch_all = true\n')
    (tmp_path / "x.xml").write_bytes(rss([]))
    env = {k: v for k, v in os.environ.items() if k != "FEEDS_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-m", "feeds", "-c", str(tmp_path / "feeds.toml"), "run"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "internal error" not in r.stderr and "feeds.db" in r.stderr
