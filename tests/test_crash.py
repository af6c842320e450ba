"""`feeds run` killed with SIGKILL at random moments loses nothing and corrupts nothing.

A workload of 30 local sources x 40 items (changed between kills: new items, edited titles) is run
again and again in a subprocess that is killed at a seeded random moment. After every kill the store
passes `PRAGMA integrity_check` and every document in the output directory parses (the old one or the
new one, never half of one). After a last clean run, the published entries are exactly the items
the sources hold: none lost, none twice.

Output that cannot be written is covered too: an output directory whose path runs through a regular file
(which fails even for root) is a config error, exit 2 before anything is fetched or written; a document
path occupied by a directory fails that write only (exit 1, the reason on stderr), and in both cases the
previously published documents stay as they were.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

from lxml import etree
from lxml import html as lhtml
from test_faults import ROOT, run_feeds

from feeds.store import Store

SOURCES = 30
ITEMS = 40
KILLS = 50
MAX_ATTEMPTS = 120
FSYNC_KILLS = 15
WORDS = ("harbor", "senate", "orbit", "glacier", "tariff", "vaccine", "election", "drought", "reactor",
         "summit", "ferry", "museum", "quarry", "satellite", "festival", "pipeline", "border", "wildfire")


class Workload:
    """The sources' current contents, kept in memory and written as RSS files."""

    def __init__(self, root: Path, rng: random.Random, sources: int = SOURCES, items: int = ITEMS) -> None:
        self.root, self.rng, self.sources = root, rng, sources
        self.items: dict[int, list[tuple[str, str]]] = {}  # source -> [(guid, title)], newest first
        self.counter = 0
        for s in range(sources):
            self.items[s] = []
            for _ in range(items):
                self.add(s)
            self.write(s)

    def title(self, s: int) -> str:
        self.counter += 1
        w = self.rng.sample(WORDS, 3)
        return f"S{s} report {self.counter}: {w[0]} {w[1]} {w[2]}"

    def add(self, s: int) -> None:
        self.items[s].insert(0, (f"s{s}-item-{self.counter + 1}", self.title(s)))

    def edit(self, s: int) -> None:
        i = self.rng.randrange(len(self.items[s]))
        guid, _ = self.items[s][i]
        self.items[s][i] = (guid, self.title(s))

    def write(self, s: int) -> None:
        parts = ['<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>',
                 f"<title>Source {s}</title><link>https://s{s}.example/</link><description>d</description>"]
        for n, (guid, title) in enumerate(self.items[s]):
            parts.append(f"<item><title>{html.escape(title)}</title><guid isPermaLink=\"false\">{guid}</guid>"
                         f"<link>https://s{s}.example/{guid}</link>"
                         f"<description>&lt;p&gt;{html.escape(title)} body&lt;/p&gt;</description>"
                         f"<pubDate>{formatdate(1751000000 - 60 * n, usegmt=True)}</pubDate></item>")
        parts.append("</channel></rss>")
        path = self.root / f"s{s}.xml"
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(parts), encoding="utf-8")
        os.replace(tmp, path)  # the sources themselves change atomically: this test is about feeds, not them

    def change(self) -> None:
        for s in self.rng.sample(range(self.sources), min(4, self.sources)):
            for _ in range(self.rng.randint(1, 2)):
                self.add(s)
            if self.rng.random() < 0.5:
                self.edit(s)
            self.write(s)

    def titles(self) -> set[str]:
        return {t for items in self.items.values() for _, t in items}


def write_config(root: Path, sources: int = SOURCES) -> Path:
    """One channel per source (so a run republishes only what changed), two keyword channels and `all`
    (in every format)."""
    srcs = "".join(f'[[sources]]\nurl = "s{s}.xml"\nname = "Source {s}"\n\n' for s in range(sources))
    chans = "".join(f'[channels.src-{s}]\ntitle = "Source {s}"\nmatch_all = true\nsources = ["Source {s}"]\n\n'
                    for s in range(sources))
    cfg = root / "feeds.toml"
    cfg.write_text(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
entries = 100
formats = ["atom"]
[store]
path = "var/feeds.db"
[stories]
enabled = false
[dedup]
title_window = 0
{srcs}
[channels.all]
title = "All"
match_all = true
formats = ["atom", "json", "rss", "html"]
[channels.politics]
title = "Politics"
include = ["senate", "election", "tariff", "border"]
[channels.nature]
title = "Nature"
include = ["glacier", "drought", "wildfire"]
{chans}
""")
    return cfg


def check_documents(out: Path) -> int:
    """Every published document parses completely; returns how many there are. Temp files are skipped
    (they are never served: dot-named), complete or not."""
    n = 0
    if not out.exists():
        return 0
    for p in sorted(out.rglob("*")):
        if not p.is_file() or p.name.startswith("."):
            continue
        data = p.read_bytes()
        assert data, f"{p} is empty"
        if p.suffix in (".atom", ".rss", ".opml", ".xml"):
            etree.fromstring(data)  # raises on a half-written document
        elif p.suffix == ".json":
            json.loads(data)
        elif p.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), f"{p} is cut short"
            lhtml.fromstring(data)
        n += 1
    return n


def integrity(db: Path) -> str:
    if not db.exists():
        return "ok"
    with sqlite3.connect(db, timeout=10) as c:
        return str(c.execute("PRAGMA integrity_check").fetchone()[0])


def start(cfg: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop("FEEDS_CONFIG", None)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "feeds.cli", "--config", str(cfg), "run", "--all"], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, stdin=subprocess.DEVNULL)


def published_titles(path: Path) -> list[str]:
    root = etree.fromstring(path.read_bytes())
    return [e.findtext("{http://www.w3.org/2005/Atom}title") or "" for e in
            root.iter("{http://www.w3.org/2005/Atom}entry")]


class Zygote:
    """A process that has imported feeds once and forks a child per `feeds run`: each run then starts in
    milliseconds instead of the interpreter's half second, so the kills land inside the work. The child
    is an ordinary process running feeds.cli.main; SIGKILL ends it exactly as it would end `feeds run`."""

    CODE = """
import os, sys
import feeds.cli, feeds.run, feeds.publish, feeds.parse, feeds.fastparse, feeds.lock, feeds.store
import feeds.formats.atom, feeds.formats.jsonfeed, feeds.formats.rss, feeds.formats.html
import feedparser, requests, sqlalchemy, lxml.etree, feedgen.feed
for line in sys.stdin:
    cwd, at_fsync, *args = line.rstrip("\\n").split("\\0")
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.chdir(cwd)
        if int(at_fsync):  # die at the n-th os.fsync: inside a document write, before its rename
            real_fsync, calls = os.fsync, [0]
            def fsync(fd, real_fsync=real_fsync, calls=calls, n=int(at_fsync)):
                calls[0] += 1
                if calls[0] == n:
                    os.kill(os.getpid(), 9)
                real_fsync(fd)
            os.fsync = fsync
        try:
            rc = feeds.cli.main(args)
        except BaseException:
            import traceback
            with open("zygote-child-error.txt", "a") as f:
                traceback.print_exc(file=f)
            rc = 99
        os._exit(rc or 0)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(pid, status, flush=True)
"""

    def __init__(self) -> None:
        env = dict(os.environ)
        env.pop("FEEDS_CONFIG", None)
        env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, bufsize=0)
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.buf = b""

    def _line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(0.0, left))
            if not ready:
                return None
            chunk = os.read(self.fd, 4096)
            assert chunk, "the zygote died"
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def start(self, args: list[str], cwd: Path, at_fsync: int = 0) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\0".join([str(cwd), str(at_fsync), *args]).encode() + b"\n")
        line = self._line(60)
        assert line is not None
        return int(line)

    def wait(self, pid: int, timeout: float) -> int | None:
        """The child's wait status, or None when it is still running after `timeout` seconds."""
        line = self._line(timeout)
        if line is None:
            return None
        got, status = line.split()
        assert int(got) == pid
        return int(status)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def child_error(cwd: Path) -> str:
    p = cwd / "zygote-child-error.txt"
    return p.read_text() if p.exists() else "no traceback"


def test_sigkill_at_random_moments_loses_and_corrupts_nothing(tmp_path: Path) -> None:
    rng = random.Random(20250705)
    work = Workload(tmp_path, rng)
    cfg = write_config(tmp_path)
    db = tmp_path / "var" / "feeds.db"
    out = tmp_path / "out"

    killed = completed = attempts = 0
    zygote = Zygote()

    def attempt(delay: float, at_fsync: int = 0) -> float | None:
        """Start a run and SIGKILL it after `delay` s (or at its `at_fsync`-th fsync); returns how long it
        took when it finished first."""
        nonlocal killed, completed, attempts
        attempts += 1
        pid = zygote.start(["--config", str(cfg), "run", "--all"], tmp_path, at_fsync)
        began = time.monotonic()
        status = zygote.wait(pid, delay)
        try:
            if status is not None and os.WIFSIGNALED(status):  # it died at its fsync
                killed += 1
                return None
            if status is not None:
                completed += 1
                assert os.waitstatus_to_exitcode(status) == 0, child_error(tmp_path)
                return time.monotonic() - began
            with contextlib.suppress(ProcessLookupError):  # it may end between the wait and the kill
                os.kill(pid, signal.SIGKILL)
            status = zygote.wait(pid, 30)
            assert status is not None
            if not os.WIFSIGNALED(status):
                completed += 1
                assert os.waitstatus_to_exitcode(status) == 0, child_error(tmp_path)
                return time.monotonic() - began
            killed += 1
            return None
        finally:
            assert integrity(db) == "ok", f"store damaged after kill {killed}"
            check_documents(out)

    try:
        run_attempts(attempt, rng, work)
    finally:
        zygote.close()
    assert killed >= KILLS, f"only {killed} of {attempts} runs were killed mid-flight ({completed} finished first)"
    verify(cfg, tmp_path, work)


def run_attempts(attempt: Callable[..., float | None], rng: random.Random, work: Workload) -> None:
    """Two kills inside the fresh store's big first run (1200 items), one complete run to learn how long
    an incremental run takes, then kills at random moments inside runs (not after them), and kills at
    random document writes (a random moment seldom falls inside one: they take microseconds)."""
    for _ in range(2):
        attempt(rng.uniform(0.3, 1.5))
    span = attempt(120.0)
    assert span is not None
    killed = attempts = 0
    while killed < KILLS and attempts < MAX_ATTEMPTS:
        attempts += 1
        took = attempt(rng.uniform(0.05, 0.95) * span)
        if took is None:
            killed += 1
        else:
            span = min(span, took)  # runs got quicker: aim earlier
        if rng.random() < 0.7:
            work.change()
    print(f"{killed} killed in {attempts} attempts")
    for _ in range(FSYNC_KILLS):
        work.change()
        attempt(120.0, rng.randint(1, 12))


def verify(cfg: Path, tmp_path: Path, work: Workload) -> None:
    """A last clean run publishes exactly what the sources hold, once each, and leaves no temp file."""
    db = tmp_path / "var" / "feeds.db"
    out = tmp_path / "out"
    r = run_feeds("--config", str(cfg), "run", "--all", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert integrity(db) == "ok"
    assert check_documents(out) >= 9
    titles = [t for s in range(SOURCES) for t in published_titles(out / f"src-{s}.atom")]
    assert len(titles) == len(set(titles)), "an item was published twice"
    assert set(titles) == work.titles(), (
        f"lost: {sorted(work.titles() - set(titles))[:5]}, extra: {sorted(set(titles) - work.titles())[:5]}")
    assert max(len(v) for v in work.items.values()) <= 100  # every item fits its channel (output.entries)
    newest = {i["title"] for i in json.loads((out / "all.json").read_bytes())["items"]}
    assert len(newest) == 100 and newest <= work.titles()
    store = Store.open(db)
    try:
        assert store.duplicate_uids() == 0
        assert store.counts()["items"] == len(work.titles())
    finally:
        store.close()
    leftovers = [p.name for p in out.rglob(".*") if p.is_file() and p.name != ".feeds-store"]  # (which store)
    assert not leftovers, f"temp files left behind by killed runs: {leftovers[:5]}"


def test_a_failed_write_keeps_the_previous_feeds_and_exits_1(tmp_path: Path) -> None:
    rng = random.Random(7)
    work = Workload(tmp_path, rng, sources=5, items=10)
    cfg = write_config(tmp_path, sources=5)
    r = run_feeds("--config", str(cfg), "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert "all.atom" in before

    # point the output at a directory whose path runs through a regular file (mkdir, open and rename there
    # would fail with ENOTDIR even for root): the config check refuses it before anything is fetched or
    # written (exit 2); the old documents stay where they are
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    cfg.write_text(cfg.read_text().replace('dir = "out"', 'dir = "blocker/out"'))
    work.change()
    r = run_feeds("--config", str(cfg), "run", "--all", cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "output.dir" in r.stderr and "blocker/out" in r.stderr and "is a file" in r.stderr, r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert blocker.read_text() == "not a directory"

    # a document replaced by a directory of the same name: that one write fails, the others go ahead
    cfg.write_text(cfg.read_text().replace('dir = "blocker/out"', 'dir = "out"'))
    (out / "politics.atom").unlink()
    (out / "politics.atom").mkdir()
    stale = out / ".all.atom.999999999.tmp"  # as a run killed while writing leaves it
    stale.write_bytes(b"<?xml version='1.0'?><feed")
    (out / "archive" / "all").mkdir(parents=True, exist_ok=True)
    stale_archive = out / "archive" / "all" / ".1.atom.999999999.tmp"
    stale_archive.write_bytes(b"<feed")
    r = run_feeds("--config", str(cfg), "run", "--all", cwd=tmp_path)
    assert r.returncode == 1 and "politics.atom" in r.stderr, r.stderr
    assert {t for s in range(5) for t in published_titles(out / f"src-{s}.atom")} == work.titles()
    assert check_documents(out) >= 1
    assert not stale.exists() and not stale_archive.exists()  # what a killed run left is cleared
