"""End-to-end performance benchmark of the feeds pipeline (issue "Performance").

    python3 bench/run.py [--quick] [--scenario g200 real scale publish help] [--profile] [--real DIR]
                         [--warm-repeat N]

Scenario groups (each scenario in a fresh temp dir with its own generated config):

* ``g200``: 200 generated sources x 50 items on a loopback server (bench/server.py, own process):
  ``cold`` (empty store), then, each on a copy of the cold run's store and output: ``warm-304``
  (every source answers 304), ``warm-same`` (200 with unchanged bytes, no validators honoured),
  ``warm-builddate`` (200 where only lastBuildDate / feed <updated> changed), ``warm-new`` (one source in
  20 has one new item, the rest answer 304: a cron run where a little changed; no target in the issue);
  each warm scenario runs --warm-repeat times (default 3), each on its own copy of the cold store, and
  the run of median wall time is reported (the checks hold for every run; all runs' ms/source listed);
* ``real``: the 200 real feeds of ../shared/corpus/perf-real, cold;
* ``scale``: 10,000 sources x 10 items (1,000 with --quick), cold, warm-304 and warm-new;
* ``publish``: 20 channels rendered from a store filled directly with 10,000 vs 1,000,000 items
  (100,000 with --quick); the ratio is the figure;
* ``help``: ``feeds --help`` wall time, best of 5.

The pipeline runs in a child process (``feeds.config`` + ``feeds.run.Pipeline(...).run(force_all=True)``),
so its peak RSS (getrusage of the child itself) is not mixed with the harness's; wall and CPU times
are taken around the run inside the child (imports excluded; the child's whole lifetime is shown
too). Each scenario's baseline is measured in this run: ``feedparser.parse(bytes)`` over the same
bodies in this process; ``x base`` is baseline time / pipeline time (for cold runs: items/s vs
feedparser's items/s). Warm runs also check that nothing under output/ changed and that the store
gained no rows (only the sources' validators and the run log may change).

Fetch config in the generated configs: workers = 8 and per_host = 8. Every loopback source is on
127.0.0.1, while real sources are on as many hosts as there are sources, so the default per-host
limit of 2 would serialise the run in a way production never sees.

Results: a table on stdout and JSON under bench/results/ (gitignored). Exit status 1 when a
correctness check failed (warm run changed output or stored rows, a source failed); the timing
targets only print PASS/FAIL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import select
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402

DEFAULT_REAL = REPO.parent / "shared" / "corpus" / "perf-real"
RESULTS = BENCH / "results"
GROUPS = ("g200", "real", "scale", "publish", "help")
MB = 1024 * 1024

# a handful of keyword channels for the pipeline scenarios (the corpus's word pools hit all of them)
CHANNELS: dict[str, dict[str, Any]] = {
    "ukraine": {"title": "Ukraine", "include": ["Ukraine", "Kyiv", "Zelensky*", "Kremlin"]},
    "middle-east": {"title": "Middle East", "include": ["Gaza", "Israel*", "Iran*", "Hamas"]},
    "economy": {"title": "Economy", "include": ["interest rates", "inflation", "budget", "bank*", "tariff*"]},
    "tech": {"title": "Technology", "include": ["AI", "chip*", "software", "startup", "Chipmaker"],
             "exclude": ["potato chips"]},
    "politics": {"title": "Politics", "include": ["Parliament", "Senate", "Congress", "election*", "Opposition"]},
    "sport": {"title": "Sport", "include": ["football", "coach", "stadium", "transfer fee"]},
    "other": {"title": "Everything else", "fallback": True},
}
# 20 channels for the publish scenario
PUBLISH_CHANNELS = [f"ch{i:02d}" for i in range(20)]
PUBLISH_REPEAT = 7  # publishes per store; the first is reported apart, the figure is the best of the rest


def _toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string for what we write


def write_config(directory: Path, sources: Sequence[tuple[str, str]], channels: dict[str, dict[str, Any]],
                 *, workers: int = 8, per_host: int = 8, entries: int = 100, archive: bool = True) -> Path:
    lines = ["[output]", 'dir = "output"', 'base_url = "http://127.0.0.1:8080/"', f"entries = {entries}",
             f"archive = {'true' if archive else 'false'}",
             'title = "bench"', "", "[store]", 'path = "feeds.db"', "", "[fetch]", f"workers = {workers}",
             f"per_host = {per_host}", "connect_timeout = 10", "read_timeout = 60", "deadline = 300", ""]
    for url, name in sources:
        lines += ["[[sources]]", f"url = {_toml_str(url)}", f"name = {_toml_str(name)}", ""]
    for slug, ch in channels.items():
        lines.append(f"[channels.{slug}]")
        for k, v in ch.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, list):
                lines.append(f"{k} = [{', '.join(_toml_str(x) for x in v)}]")
            else:
                lines.append(f"{k} = {_toml_str(str(v))}")
        lines.append("")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "feeds.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# -- the loopback server ------------------------------------------------------------------------

def bench_server_new_every() -> int:
    """bench/server.py's new-items mode: every how many generated feeds one has a new item."""
    import server as bench_server

    return int(bench_server.NEW_EVERY)


class FeedServer:
    """bench/server.py in a child process; it leaves when we close its stdin or die."""

    def __init__(self, *, spec: corpus.Spec | None = None, real: Path | None = None, lifetime: float = 7200,
                 start_timeout: float = 600) -> None:
        cmd = [sys.executable, str(BENCH / "server.py"), "--lifetime", str(lifetime)]
        if spec is not None:
            cmd += ["--sources", str(spec.sources), "--items", str(spec.items), "--seed", str(spec.seed),
                    "--base", str(spec.base.timestamp())]
        if real is not None:
            cmd += ["--real", str(real)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], start_timeout)
        line = self.proc.stdout.readline().decode() if ready else ""
        m = re.match(r"port (\d+) docs (\d+)", line)
        if not m:
            self.close()
            raise RuntimeError(f"bench server did not start: {line!r}")
        self.port, self.docs = int(m.group(1)), int(m.group(2))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def mode(self, mode: str) -> None:
        status, _, _ = self.get(f"/_mode/{mode}")
        if status != 200:
            raise RuntimeError(f"cannot switch the bench server to {mode}")

    def stats(self, reset: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.get("/_stats")[2])
        if reset:
            self.get("/_stats/reset")
        return data

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- figures ------------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    value: float
    op: str  # "<=" or ">="
    limit: float
    unit: str = ""

    @property
    def passed(self) -> bool:
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    def __str__(self) -> str:
        return f"{self.name} {_num(self.value)}{self.unit} {self.op} {_num(self.limit)}{self.unit}: " \
               f"{'PASS' if self.passed else 'FAIL'}"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Result:
    scenario: str
    sources: int
    items: int  # items in the documents served (throughput is counted on these)
    wall_s: float  # pipeline (or publish) wall time inside the child
    cpu_s: float  # CPU time of the child over the same span (all threads)
    proc_s: float  # the child's whole lifetime as seen from here: interpreter start, imports, run
    peak_rss_mb: float
    baseline_s: float | None = None
    baseline_items: int | None = None
    new_items: int = 0
    failed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def items_per_s(self) -> float:
        if self.extra.get("timed_out"):
            return float(self.extra["items_per_s_partial"])
        return self.items / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def ms_per_source(self) -> float:
        if self.extra.get("timed_out"):
            return float(self.extra["ms_per_source_partial"])
        return self.wall_s * 1000 / self.sources if self.sources else 0.0

    @property
    def vs_baseline(self) -> float | None:
        return self.baseline_s / self.wall_s if self.baseline_s and self.wall_s > 0 else None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(items_per_s=self.items_per_s, ms_per_source=self.ms_per_source, vs_baseline=self.vs_baseline)
        d["targets"] = [dict(asdict(t), passed=t.passed) for t in self.targets]
        return d


def _num(v: float) -> str:
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


# -- baseline -----------------------------------------------------------------------------------

@dataclass
class Baseline:
    seconds: float
    cpu: float
    items: int
    docs: int
    empty: tuple[int, ...] = ()  # the documents (by position) feedparser reads no entry from


def baseline(bodies: Iterable[bytes]) -> Baseline:
    """feedparser alone over the same bytes, in this process."""
    import feedparser

    items = docs = 0
    empty: list[int] = []
    t0, c0 = time.perf_counter(), time.process_time()
    for body in bodies:
        n = len(feedparser.parse(body).entries)
        items += n
        if not n:
            empty.append(docs)
        docs += 1
    return Baseline(time.perf_counter() - t0, time.process_time() - c0, items, docs, tuple(empty))


def generated_bodies(spec: corpus.Spec) -> Iterable[bytes]:
    for f in corpus.feeds(spec):
        yield corpus.render(f, spec.base)


def real_files(directory: Path) -> list[Path]:
    return [p for p in sorted(directory.iterdir()) if p.is_file() and not p.name.upper().startswith("LICENSE")]


# -- snapshots for the warm-run checks ----------------------------------------------------------

def output_snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    out = {}
    if directory.exists():
        for p in sorted(directory.rglob("*")):
            if p.is_file():
                st = p.stat()
                out[str(p.relative_to(directory))] = (st.st_mtime_ns, st.st_size)
    return out


# every row of the tables a warm run must not touch (sources and runs may change: validators, run log)
STORE_PROBES = {
    "items": "SELECT id, uid, content_hash, title, updated, story_id, length(summary) FROM items ORDER BY id",
    "item_keys": "SELECT key, item_id FROM item_keys ORDER BY key",
    "sightings": "SELECT item_id, source_id, seen FROM sightings ORDER BY item_id, source_id",
    "item_channels": "SELECT item_id, channel FROM item_channels ORDER BY item_id, channel",
    "stories": "SELECT id, rep_item_id, size, published, updated FROM stories ORDER BY id",
    "story_channels": "SELECT channel, story_id, updated FROM story_channels ORDER BY channel, story_id",
    "channels": "SELECT slug, digest, last_change, entries, dirty FROM channels ORDER BY slug",
}


def store_snapshot(db: Path) -> dict[str, tuple[int, str]]:
    """Per table: row count and a digest of every row."""
    import hashlib

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = {}
        for t, q in STORE_PROBES.items():
            h = hashlib.blake2b(digest_size=12)
            n = 0
            for row in con.execute(q):
                h.update(repr(row).encode())
                n += 1
            out[t] = (n, h.hexdigest())
        return out
    finally:
        con.close()


# -- child processes ----------------------------------------------------------------------------

class ChildTimeout(Exception):
    def __init__(self, seconds: float, peak_rss_mb: float) -> None:
        super().__init__(f"bench child stopped after {seconds:.0f} s")
        self.seconds, self.peak_rss_mb = seconds, peak_rss_mb


def run_child(job: dict[str, Any], workdir: Path, timeout: float = 3600) -> tuple[dict[str, Any], float]:
    """Run a job in a child; its RSS is also sampled with psutil (the figure for a child we had to stop)."""
    import psutil

    path = workdir / f"job-{job['kind']}.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    out_path, err_path = workdir / "child.out", workdir / "child.err"
    t0 = time.perf_counter()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, str(BENCH / "run.py"), "--child", str(path)], cwd=workdir,
                                stdout=out, stderr=err, env=env, stdin=subprocess.DEVNULL)
        peak = 0
        try:
            ps = psutil.Process(proc.pid)
            while proc.poll() is None:
                if time.perf_counter() - t0 > timeout:
                    proc.kill()
                    proc.wait(timeout=30)
                    raise ChildTimeout(time.perf_counter() - t0, peak / MB)
                with contextlib.suppress(psutil.Error):
                    peak = max(peak, ps.memory_info().rss)
                time.sleep(0.1)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    elapsed = time.perf_counter() - t0
    lines = out_path.read_text(errors="replace").strip().splitlines()
    stderr = err_path.read_text(errors="replace")
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench child failed ({proc.returncode}): {stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["stderr_tail"] = stderr[-1500:]
    result["sampled_peak_rss_mb"] = peak / MB
    return result, elapsed


def _sql_counter(counts: dict[str, int]) -> Callable[[str], None]:
    word = re.compile(r"^\s*(\w+)")
    table = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)

    def trace(sql: str) -> None:
        m = word.match(sql)
        verb = m.group(1).upper() if m else "?"
        t = table.search(sql)
        key = f"{verb} {t.group(1)}" if t and verb in ("SELECT", "INSERT", "UPDATE", "DELETE") else verb
        counts[key] = counts.get(key, 0) + 1

    return trace


def child_main(job_path: Path) -> int:
    """Runs inside the child: one pipeline run or a publish, figures as one JSON line on stdout."""
    import resource

    job = json.loads(job_path.read_text(encoding="utf-8"))
    # What the pipeline imports lazily (so that `feeds --help` stays fast) is imported here, before the
    # clock starts, so that "imports excluded" holds; the child's whole life, imports included, is
    # `proc_s` in the JSON.
    import sqlalchemy.dialects.sqlite  # noqa: F401
    import urllib3  # noqa: F401
    from sqlalchemy import event

    import feeds.fastparse
    import feeds.formats.html
    import feeds.formats.jsonfeed
    import feeds.formats.rss
    import feeds.stories  # noqa: F401
    from feeds.config import load_config
    from feeds.publish import publish
    from feeds.run import Pipeline
    from feeds.store import Store

    rss_after_imports = _current_rss()
    cfg = load_config(Path(job["config"]))
    profiler = None
    thread_profiles: list[Any] = []
    if job.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
    out: dict[str, Any] = {"rss_after_imports_mb": rss_after_imports / MB}
    sql_counts: dict[str, int] = {}
    conns: list[sqlite3.Connection] = []

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        conns.append(dbapi_conn)
        if job.get("trace_sql", True):
            dbapi_conn.set_trace_callback(_sql_counter(sql_counts))

    t0, c0 = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    store = Store.open(cfg.store_path)
    store.engine.dispose()  # so that every connection the run uses comes through on_connect
    event.listen(store.engine, "connect", on_connect)
    if job["kind"] == "pipeline":
        pipe = Pipeline(cfg, store)
        if profiler:
            import cProfile

            fetch = pipe._fetch

            def profiled_fetch(row: Any) -> Any:  # cProfile sees one thread: give each fetch its own
                p = cProfile.Profile()
                try:
                    return p.runcall(fetch, row)
                finally:
                    thread_profiles.append(p)

            pipe._fetch = profiled_fetch  # type: ignore[method-assign]
        report = pipe.run(force_all=True)
        pipe.close()
        out.update(due=report.due, ok=len(report.outcomes) - len(report.failed), failed=len(report.failed),
                   new_items=report.new_items, reposts=sum(o.reposts for o in report.outcomes),
                   updated=sum(o.updated for o in report.outcomes),
                   not_modified=sum(o.not_modified for o in report.outcomes),
                   unchanged_body=sum(o.unchanged_body for o in report.outcomes),
                   published=len(report.published), publish_errors=report.publish_errors[:5],
                   errors=[f"{o.name}: {o.error}" for o in report.failed][:5],
                   failed_names=[[o.name, o.error or ""] for o in report.failed])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    else:
        times, cpus = [], []
        for _ in range(int(job.get("repeat", 3))):
            t, tc = time.perf_counter(), time.process_time()
            pub = publish(cfg, store)
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - tc)
            out.setdefault("written_first", len(pub.written))
            out["errors"] = pub.errors[:5]
        out.update(times=times, cpus=cpus)
        wall, cpu = min(times[1:] or times), time.process_time() - c0  # steady state: runs after the first
    if profiler:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler)
        for p in thread_profiles:
            stats.add(p)
        stats.dump_stats(job["profile"])
    out["total_changes"] = sum(c.total_changes for c in conns)
    store.close()
    out.update(wall_s=wall, cpu_s=cpu, sql=sql_counts,
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB)
    print(json.dumps(out))
    return 0


def _current_rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


# -- scenarios ----------------------------------------------------------------------------------

@dataclass
class Options:
    quick: bool
    real: Path
    profile: bool
    g_sources: int = 200
    g_items: int = 50
    scale_sources: int = 10_000
    scale_items: int = 10
    publish_small: int = 10_000
    publish_large: int = 1_000_000
    seed: int = 1
    keep: bool = False
    profile_dir: Path | None = None
    profile_only: bool = False  # profile the scenarios themselves instead of timing them and then profiling
    timeout: float = 900.0  # a pipeline child still running after this long is stopped (and reported)
    warm_repeat: int = 3  # g200's warm runs, each from a fresh copy of the cold store: the median is reported


class Bench:
    def __init__(self, opts: Options, root: Path) -> None:
        self.opts = opts
        self.root = root
        self.results: list[Result] = []
        self.profiles: dict[str, str] = {}

    def fresh(self, name: str, like: Path | None = None) -> Path:
        d = self.root / name
        if like is not None:
            shutil.copytree(like, d)
        else:
            d.mkdir(parents=True)
        return d

    def log(self, msg: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def pipeline(self, name: str, workdir: Path, *, sources: int, items: int, base: Baseline,
                 warm: bool = False, profile: bool = False, server: FeedServer | None = None,
                 may_fail: Collection[str] = ()) -> Result:
        """One pipeline run in a child process, timed and checked. ``may_fail``: the names of sources allowed to
        fail as ill-formed with nothing read (documents feedparser reads nothing from either)."""
        out_dir, db = workdir / "output", workdir / "feeds.db"
        before_out = output_snapshot(out_dir) if warm else {}
        before_db = store_snapshot(db) if warm else {}
        if server is not None:
            server.stats(reset=True)
        job: dict[str, Any] = {"kind": "pipeline", "config": str(workdir / "feeds.toml")}
        if profile:
            assert self.opts.profile_dir is not None
            job["profile"] = str(self.opts.profile_dir / f"{name}.prof")
        self.log(f"{name}: running {sources} sources{' (profiled)' if profile else ''}")
        try:
            child, proc_s = run_child(job, workdir, timeout=self.opts.timeout)
        except ChildTimeout as e:
            return self._timed_out(name, workdir, sources, items, base, e)
        res = Result(name, sources, items, child["wall_s"], child["cpu_s"], proc_s, child["peak_rss_mb"],
                     base.seconds, base.items, child["new_items"], child["failed"])
        res.extra = {k: child[k] for k in ("due", "ok", "reposts", "updated", "not_modified", "unchanged_body",
                                           "published", "publish_errors", "errors", "sql", "total_changes",
                                           "rss_after_imports_mb")}
        res.extra["baseline_cpu_s"] = base.cpu
        if server is not None:
            res.extra["server"] = server.stats()
        # (a source allowed to fail only as ill-formed with nothing read: a valid empty feed must still read)
        failed = [n for n, err in child.get("failed_names", []) if n not in may_fail or "nothing read" not in err]
        res.checks.append(Check("no source failed" + (" (but those feedparser reads nothing from)" if may_fail else ""),
                                not failed and not child["publish_errors"],
                                "; ".join(child["errors"] + child["publish_errors"])[:300]))
        if warm:
            after_out = output_snapshot(out_dir)
            changed = sorted(k for k in set(before_out) | set(after_out) if before_out.get(k) != after_out.get(k))
            res.checks.append(Check("output/ unchanged (mtimes, sizes)", not changed,
                                    f"{len(changed)} changed: {', '.join(changed[:5])}" if changed else
                                    f"{len(after_out)} files untouched"))
            after_db = store_snapshot(db)
            diff = {t: (before_db[t], after_db[t]) for t in STORE_PROBES if before_db[t] != after_db[t]}
            res.checks.append(Check("store: no rows added or changed beyond validators", not diff,
                                    "; ".join(f"{t}: {a[0]}->{b[0]} rows" + ("" if a[0] != b[0] else " (values)")
                                              for t, (a, b) in diff.items()) or "items, keys, stories, channels "
                                                                                 "unchanged"))
            writes = _writes_beyond_validators(child["sql"], sources)
            res.extra["writes_beyond_validators"] = writes
            res.extra["output_changed"] = changed
            res.extra["store_diff"] = {t: [a, b] for t, (a, b) in diff.items()}
        return res

    def _timed_out(self, name: str, workdir: Path, sources: int, items: int, base: Baseline,
                   e: ChildTimeout) -> Result:
        """A run stopped at --timeout: how far it got (sources done, items stored) is the figure."""
        con = sqlite3.connect(f"file:{workdir / 'feeds.db'}?mode=ro", uri=True)
        try:
            done = con.execute("SELECT count(*) FROM sources WHERE last_success IS NOT NULL").fetchone()[0]
            stored = con.execute("SELECT count(*) FROM items").fetchone()[0]
        finally:
            con.close()
        self.log(f"{name}: stopped after {e.seconds:.0f} s with {done}/{sources} sources done")
        r = Result(name, sources, items, e.seconds, 0.0, e.seconds, e.peak_rss_mb, base.seconds, base.items)
        r.extra = {"timed_out": True, "sources_done": done, "items_stored": stored,
                   "items_per_s_partial": stored / e.seconds, "ms_per_source_partial": e.seconds * 1000 / max(done, 1)}
        r.checks.append(Check(f"finished within --timeout {self.opts.timeout:.0f} s", False,
                              f"{done}/{sources} sources, {stored} items stored; the figures are lower bounds"))
        return r

    def prime(self, workdir: Path, spec: corpus.Spec) -> None:
        """Give every source the validators the server sends and publish once, so that a warm run after a
        cold run that was stopped at --timeout still sees a store that has seen every source."""
        import server as bench_server

        last_modified = bench_server.format_datetime(spec.base, usegmt=True)
        con = sqlite3.connect(workdir / "feeds.db")
        try:
            with con:
                for f in corpus.feeds(spec):
                    body = corpus.render(f, spec.base)
                    con.execute("UPDATE sources SET etag = ?, last_modified = ?, last_success = coalesce("
                                "last_success, 0) WHERE url LIKE ? AND etag IS NULL",
                                (bench_server._etag(body), last_modified, f"%{f.path}"))
        finally:
            con.close()
        run_child({"kind": "publish", "config": str(workdir / "feeds.toml"), "repeat": 1}, workdir,
                  timeout=self.opts.timeout)

    # -- g200 -----------------------------------------------------------------------------------
    def group_generated(self, label: str, n: int, m: int, *, warm_kinds: Sequence[str],
                        rss_limit: float, warm_repeat: int = 1) -> None:
        spec = corpus.Spec(n, m, self.opts.seed, corpus.default_base())
        self.log(f"{label}: starting the loopback server for {n} x {m}")
        with FeedServer(spec=spec) as server:
            self.log(f"{label}: server on port {server.port}; feedparser baseline over the same bodies")
            base = baseline(generated_bodies(spec))
            items = base.items
            sources = [(server.url(f.path), f.name) for f in _feed_heads(spec)]
            cold_dir = self.fresh(f"{label}-cold")
            write_config(cold_dir, sources, CHANNELS)
            server.mode("normal")
            inline = self.opts.profile_only
            cold = self.pipeline(f"{label}-cold", cold_dir, sources=n, items=items, base=base, server=server,
                                 profile=inline)
            if cold.extra.get("timed_out"):
                self.log(f"{label}: priming the stopped cold run's store for the warm runs")
                self.prime(cold_dir, spec)
            else:
                cold.checks.append(Check("cold run stored items", cold.new_items > 0, f"{cold.new_items} new"))
            if label == "g200":
                cold.targets += [Target("items/s", cold.items_per_s, ">=", 10_000),
                                 Target("x baseline", cold.vs_baseline or 0, ">=", 7, "x")]
            cold.targets.append(Target("peak RSS", cold.peak_rss_mb, "<=", rss_limit, " MB"))
            self.results.append(cold)
            mode_of = {"warm-304": "normal", "warm-same": "no-validators", "warm-builddate": "build-date",
                       "warm-new": "new-items"}
            limit_of = {"warm-304": 1.5, "warm-same": 1.5, "warm-builddate": 3.0}
            for kind in warm_kinds:
                # warm-new (a few sources have one new item each) is expected to add rows and publish
                unchanged = kind != "warm-new"
                runs: list[Result] = []
                expect = {"warm-304": ("not_modified", "304"), "warm-same": ("unchanged_body", "200")}.get(kind)
                for k in range(1 if inline else warm_repeat):  # each from a fresh copy of the cold store
                    d = self.fresh(f"{label}-{kind}" + (f"-{k + 1}" if k else ""), like=cold_dir)
                    server.mode(mode_of[kind])
                    run = self.pipeline(f"{label}-{kind}", d, sources=n, items=items, base=base, warm=unchanged,
                                        server=server, profile=inline)
                    if expect:  # checked on every run (_median_run keeps the failures of the others)
                        got = run.extra[expect[0]]
                        run.checks.append(Check(f"every source {expect[0]}", got == n, f"{got}/{n}"))
                    if kind == "warm-new":
                        fresh = len(range(0, n, bench_server_new_every()))
                        run.checks.append(Check("one new item in each changed source, the rest 304",
                                                run.new_items == fresh and run.extra["not_modified"] == n - fresh,
                                                f"{run.new_items} new, {run.extra['not_modified']}/{n - fresh} "
                                                f"not modified"))
                    runs.append(run)
                r = self._median_run(runs)
                if kind in limit_of:
                    r.targets.append(Target("ms/source", r.ms_per_source, "<=", limit_of[kind], " ms"))
                # the largest peak of the runs
                r.targets.append(Target("peak RSS", max(x.peak_rss_mb for x in runs), "<=", rss_limit, " MB"))
                self.results.append(r)
            if inline:
                for kind in ("cold", *warm_kinds):
                    self.profiles[f"{label}-{kind}"] = str(self.opts.profile_dir / f"{label}-{kind}.prof")  # type: ignore[operator]
            elif self.opts.profile:
                server.mode("normal")
                d = self.fresh(f"{label}-cold-profiled")
                write_config(d, sources, CHANNELS)
                self.pipeline(f"{label}-cold", d, sources=n, items=items, base=base, profile=True)
                self.profiles[f"{label}-cold"] = str(self.opts.profile_dir / f"{label}-cold.prof")  # type: ignore[operator]
                for kind in warm_kinds:
                    d = self.fresh(f"{label}-{kind}-profiled", like=cold_dir)
                    server.mode(mode_of[kind])
                    self.pipeline(f"{label}-{kind}", d, sources=n, items=items, base=base, warm=True, profile=True)
                    self.profiles[f"{label}-{kind}"] = str(self.opts.profile_dir / f"{label}-{kind}.prof")  # type: ignore[operator]
            if not self.opts.keep:
                shutil.rmtree(cold_dir, ignore_errors=True)

    @staticmethod
    def _median_run(runs: list[Result]) -> Result:
        """The run of median wall time (the figures of one real run, not a mix), carrying the others'
        failed checks and every run's ms/source."""
        if len(runs) == 1:
            return runs[0]
        r = sorted(runs, key=lambda x: x.wall_s)[(len(runs) - 1) // 2]  # the lower median of an even count
        for i, other in enumerate(runs, 1):
            if other is not r:
                r.checks += [Check(f"{c.name} (run {i})", c.ok, c.detail) for c in other.checks if not c.ok]
        r.extra["runs_ms_per_source"] = [x.ms_per_source for x in runs]
        r.checks.append(Check(f"median of {len(runs)} runs", True,
                              "ms/source " + ", ".join(f"{x.ms_per_source:.2f}" for x in runs)))
        return r

    # -- real -----------------------------------------------------------------------------------
    def group_real(self) -> None:
        files = real_files(self.opts.real)
        self.log(f"real: {len(files)} files from {self.opts.real}; feedparser baseline")
        base = baseline(p.read_bytes() for p in files)
        with FeedServer(real=self.opts.real) as server:
            d = self.fresh("real-cold")
            write_config(d, [(server.url(f"/r/{p.name}"), f"real {p.name}") for p in files], CHANNELS)
            nothing = {f"real {files[i].name}" for i in base.empty}
            r = self.pipeline("real-cold", d, sources=len(files), items=base.items, base=base, server=server,
                              may_fail=nothing)
            r.extra["bytes"] = sum(p.stat().st_size for p in files)
            if self.opts.profile:
                d = self.fresh("real-cold-profiled")
                write_config(d, [(server.url(f"/r/{p.name}"), f"real {p.name}") for p in files], CHANNELS)
                self.pipeline("real-cold", d, sources=len(files), items=base.items, base=base, profile=True)
                self.profiles["real-cold"] = str(self.opts.profile_dir / "real-cold.prof")  # type: ignore[operator]
        r.targets.append(Target("peak RSS", r.peak_rss_mb, "<=", 150, " MB"))
        self.results.append(r)

    # -- publish --------------------------------------------------------------------------------
    def group_publish(self) -> None:
        """20 channels from a 10k and a 1M (100k) store; `archive = false` for the ratio, since the archive's
        first build walks the whole history once (reported separately, on the small store)."""
        figures: dict[int, Result] = {}
        runs = [(self.opts.publish_small, True), (self.opts.publish_small, False), (self.opts.publish_large, False)]
        for n, archive in runs:
            name = f"publish-{_short_n(n)}" + ("+archive" if archive else "")
            d = self.fresh(name)
            cfg = write_config(d, [], {s: {"title": f"Channel {s}", "include": [f"kw{s}"]} for s in PUBLISH_CHANNELS},
                               archive=archive)
            self.log(f"{name}: filling a store with {n:,} items")
            t = time.perf_counter()
            fill_store(d / "feeds.db", n)
            fill_s = time.perf_counter() - t
            # the fill writes up to ~1.6 GB unsynced; flush it first so the kernel's writeback of the set-up
            # does not compete with the timed runs (it did: the 1M ratio swung 0.99-1.34x between runs)
            os.sync()
            self.log(f"{name}: filled in {fill_s:.1f} s; publishing 20 channels {PUBLISH_REPEAT} times")
            try:
                child, proc_s = run_child({"kind": "publish", "config": str(cfg), "repeat": PUBLISH_REPEAT}, d,
                                          timeout=self.opts.timeout)
            except ChildTimeout as e:
                r = Result(name, 0, 20 * 100, e.seconds, 0.0, e.seconds, e.peak_rss_mb)
                r.extra = {"timed_out": True, "store_items": n}
                r.checks.append(Check(f"finished within --timeout {self.opts.timeout:.0f} s", False))
                self.results.append(r)
                continue
            r = Result(name, 0, 20 * 100, child["wall_s"], child["cpu_s"], proc_s, child["peak_rss_mb"])
            r.extra = {"store_items": n, "fill_s": fill_s, "times": child["times"], "cpus": child["cpus"],
                       "first_s": child["times"][0],
                       "sql": child["sql"], "written_first": child.get("written_first"), "archive": archive,
                       "db_mb": (d / "feeds.db").stat().st_size / MB}
            r.checks.append(Check("publish wrote 20 channels", child.get("written_first", 0) >= 20 and
                                  not child["errors"], "; ".join(child["errors"])[:300]))
            if not archive:
                figures[n] = r
            self.results.append(r)
            if not self.opts.keep:
                shutil.rmtree(d, ignore_errors=True)
        small, large = figures.get(self.opts.publish_small), figures.get(self.opts.publish_large)
        if small and large:
            ratio = large.wall_s / small.wall_s if small.wall_s else 0.0
            large.extra["ratio_vs_small"] = ratio
            large.extra["first_ratio_vs_small"] = large.extra["first_s"] / small.extra["first_s"]
            # CPU of the steady runs (best of), beside the wall ratio: on a shared machine it is the steadier one
            large.extra["cpu_ratio_vs_small"] = min(large.extra["cpus"][1:]) / min(small.extra["cpus"][1:])
            large.targets.append(Target(f"time {_short_n(self.opts.publish_large)} / "
                                        f"{_short_n(self.opts.publish_small)}", ratio, "<=", 1.2, "x"))

    # -- help -----------------------------------------------------------------------------------
    def group_help(self) -> None:
        exe = Path(sys.executable).parent / "feeds"
        cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "feeds.cli", "--help"]
        times = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run(cmd, cwd=REPO, capture_output=True, check=True, timeout=60)
            times.append(time.perf_counter() - t)
        bare = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-S", "-c", "pass"], capture_output=True, check=True, timeout=60)
            bare.append(time.perf_counter() - t)
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "feeds.cli", "--help"], cwd=REPO,
                              capture_output=True, timeout=60)
        r = Result("feeds --help", 0, 0, min(times), 0.0, min(times), 0.0)
        r.extra = {"command": " ".join(cmd), "times": times, "bare_python_s": min(bare),
                   "slowest_imports": _importtime(proc.stderr.decode(errors="replace"))}
        r.targets.append(Target("wall", r.wall_s, "<=", 0.3, " s"))
        self.results.append(r)


def _feed_heads(spec: corpus.Spec) -> Iterable[corpus.Feed]:
    # names and paths only; make_feed is deterministic, so these match what the server serves
    return corpus.feeds(spec)


def _short_n(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _writes_beyond_validators(sql: dict[str, int], sources: int) -> dict[str, int]:
    """Write statements other than the per-source validator update and the run log."""
    skip = {"UPDATE sources", "INSERT runs", "UPDATE runs"}
    return {k: v for k, v in sql.items() if k.split()[0] in ("INSERT", "UPDATE", "DELETE") and k not in skip}


def _importtime(text: str, top: int = 8) -> list[tuple[str, float]]:
    rows = []
    for line in text.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m and len(m.group(3)) <= 3:  # top-level imports only (cumulative)
            rows.append((m.group(4), int(m.group(2)) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


# -- filling a store for the publish scenario ---------------------------------------------------

def fill_store(db: Path, n_items: int, n_sources: int = 1000, seed: int = 1) -> None:
    """Items, stories, channels and sightings written straight into a fresh store with sqlite3.

    Item ids grow with time over a year of history; about one item in five joins the previous
    item's story; each story is in one or two of the 20 channels; 2% of items have a sighting.
    item_keys are not filled: publishing never reads them.
    """
    from feeds.store import Store

    Store.open(db).close()  # the schema, exactly as the pipeline creates it
    import random

    r = random.Random(seed)
    spec = corpus.Spec(8, 8, seed, corpus.default_base())
    pool = [it for f in corpus.feeds(spec) for it in f.items]
    now = corpus.default_base().timestamp()
    span = 365 * 86400.0
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-200000")
    nch = len(PUBLISH_CHANNELS)
    try:
        with con:
            con.executemany("INSERT INTO sources (id, url, name, active, consecutive_failures, gone, "
                            "redirect_count, items_total, last_new, site_link) VALUES (?, ?, ?, 1, 0, 0, 0, 0, 0, ?)",
                            ((k, f"http://127.0.0.1:9/{k}.xml", f"Source {k}", f"https://www.source{k}.example/")
                             for k in range(1, n_sources + 1)))

            def story_of(i: int) -> int:
                return i - 1 if i % 5 == 0 and i > 1 else i

            def items() -> Iterable[tuple[Any, ...]]:
                for i in range(1, n_items + 1):
                    it = pool[i % len(pool)]
                    pub = now - span * (n_items - i) / n_items
                    sid = i % n_sources + 1
                    link = f"https://www.source{sid}.example/news/{i}.html"
                    title = f"{it.title} ({i})"
                    yield (i, f"{i:032x}", sid, link, link, title, it.summary, "", "", "\t".join(it.categories),
                           pub, pub, pub, title.lower(), f"{i:032x}", story_of(i))

            con.executemany("INSERT INTO items (id, uid, source_id, guid, link, title, summary, content, author, "
                            "categories, published, updated, first_seen, title_key, content_hash, story_id) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", items())

            def stories() -> Iterable[tuple[Any, ...]]:
                for i in range(1, n_items + 1):
                    if story_of(i) == i:
                        pub = now - span * (n_items - i) / n_items
                        joined = i + 1 <= n_items and story_of(i + 1) == i
                        upd = now - span * (n_items - i - 1) / n_items if joined else pub
                        yield (i, i, 2 if joined else 1, pub, upd)

            con.executemany("INSERT INTO stories (id, rep_item_id, size, published, updated) VALUES (?, ?, ?, ?, ?)",
                            stories())

            def channels_of(story: int) -> tuple[str, ...]:
                a, b = PUBLISH_CHANNELS[story % nch], PUBLISH_CHANNELS[(story * 7 + 3) % nch]
                return (a, b) if story % 3 == 0 and a != b else (a,)

            con.executemany("INSERT INTO story_channels (channel, story_id, updated) "
                            "SELECT ?, id, updated FROM stories WHERE id = ?",
                            ((ch, s) for s in range(1, n_items + 1) if story_of(s) == s for ch in channels_of(s)))
            con.executemany("INSERT INTO item_channels (item_id, channel) VALUES (?, ?)",
                            ((i, ch) for i in range(1, n_items + 1)
                             for ch in channels_of(story_of(i))))
            con.executemany("INSERT OR IGNORE INTO sightings (item_id, source_id, link, title, seen) "
                            "VALUES (?, ?, ?, ?, ?)",
                            ((i, (i + 7) % n_sources + 1, f"https://www.source{(i + 7) % n_sources + 1}.example/s/{i}",
                              None, now) for i in range(1, n_items + 1) if r.random() < 0.02))
            con.executemany("INSERT INTO channels (slug, dirty, entries) VALUES (?, 1, 0)",
                            ((s,) for s in PUBLISH_CHANNELS))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


# -- output -------------------------------------------------------------------------------------

HEADER = (f"{'scenario':<20} {'sources':>7} {'items':>8} {'wall s':>7} {'cpu s':>7} {'items/s':>8} "
          f"{'ms/src':>7} {'RSS MB':>7} {'base s':>7} {'x base':>7}  targets")


def table(results: Sequence[Result]) -> str:
    lines = [HEADER, "-" * len(HEADER)]
    for r in results:
        if r.scenario.startswith("publish") or r.scenario == "feeds --help":
            row = (f"{r.scenario:<20} {'':>7} {'':>8} {r.wall_s:>7.3f} {r.cpu_s:>7.2f} {'':>8} {'':>7} "
                   f"{r.peak_rss_mb:>7.0f} {'':>7} {'':>7}")
        else:
            vb = f"{r.vs_baseline:.2f}" if r.vs_baseline else ""
            name = r.scenario + (" [stopped]" if r.extra.get("timed_out") else "")
            if r.extra.get("timed_out"):
                vb = f"<{vb}"
            row = (f"{name:<20} {r.sources:>7} {r.items:>8} {r.wall_s:>7.2f} {r.cpu_s:>7.2f} "
                   f"{r.items_per_s:>8.0f} {r.ms_per_source:>7.2f} {r.peak_rss_mb:>7.0f} "
                   f"{(r.baseline_s or 0):>7.2f} {vb:>7}")
        lines.append(row + "  " + "; ".join(str(t) for t in r.targets))
    lines.append("")
    for r in results:
        for c in r.checks:
            detail = f" ({c.detail})" if c.detail else ""
            lines.append(f"  {'ok  ' if c.ok else 'FAIL'} {r.scenario}: {c.name}{detail}")
        if "writes_beyond_validators" in r.extra:
            w = r.extra["writes_beyond_validators"]
            lines.append(f"       {r.scenario}: write statements beyond validators/run log: "
                         f"{sum(w.values())} {dict(sorted(w.items())) if w else ''}".rstrip())
        if "first_s" in r.extra:
            also = " and building the archive" if r.extra["archive"] else ""
            lines.append(f"       {r.scenario}: publish runs {', '.join(f'{t:.2f}' for t in r.extra['times'])} s "
                         f"(first includes writing every file{also}); store {r.extra['db_mb']:.0f} MB, "
                         f"filled in {r.extra['fill_s']:.0f} s")
        if "ratio_vs_small" in r.extra:
            lines.append(f"       {r.scenario}: publish time ratio vs small store = {r.extra['ratio_vs_small']:.2f} "
                         f"(steady, best of runs), {r.extra['first_ratio_vs_small']:.2f} (first run), "
                         f"CPU {r.extra['cpu_ratio_vs_small']:.2f}")
        if r.scenario == "feeds --help":
            lines.append(f"       feeds --help: {r.extra['command']}; bare `python -S -c pass` "
                         f"{r.extra['bare_python_s']:.3f} s; slowest imports: "
                         + ", ".join(f"{m} {s * 1000:.0f} ms" for m, s in r.extra["slowest_imports"][:5]))
    return "\n".join(lines)


def profile_summary(path: str, top: int = 25) -> str:
    import io
    import pstats

    buf = io.StringIO()
    st = pstats.Stats(path, stream=buf)
    st.strip_dirs().sort_stats("tottime").print_stats(top)
    buf.write("\n-- by cumulative time --\n")
    st.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def environment() -> dict[str, Any]:
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"), "nproc": os.cpu_count(),
            "loadavg": os.getloadavg(), "python": platform.python_version(), "platform": platform.platform(),
            "commit": git.stdout.strip()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller scale (1,000 sources) and publish (100,000 items)")
    ap.add_argument("--scenario", nargs="+", choices=GROUPS, default=list(GROUPS), help="groups to run")
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL, help="directory of real feeds (perf-real)")
    ap.add_argument("--profile", action="store_true", help="also run cProfile'd copies and print the hotspots")
    ap.add_argument("--profile-only", action="store_true",
                    help="profile the scenarios instead of timing them (figures then include cProfile overhead)")
    ap.add_argument("--sources", type=int, default=200, help="sources of the g200 group (default 200)")
    ap.add_argument("--items", type=int, default=50, help="items per source of the g200 group (default 50)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="stop a pipeline run after this many seconds and report how far it got "
                         "(default 900, 300 with --quick)")
    ap.add_argument("--warm-repeat", type=int, default=3,
                    help="runs of each g200 warm scenario, each from the cold store; the median is reported")
    ap.add_argument("--results-dir", type=Path, default=RESULTS)
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child_main(a.child)
    opts = Options(quick=a.quick, real=a.real, profile=a.profile or a.profile_only, g_sources=a.sources,
                   g_items=a.items, keep=a.keep, profile_only=a.profile_only, warm_repeat=max(1, a.warm_repeat))
    opts.timeout = a.timeout or (300.0 if a.quick else 900.0)
    if a.quick:
        opts.scale_sources, opts.publish_large = 1_000, 100_000
    root = Path(tempfile.mkdtemp(prefix="feeds-bench-"))
    opts.profile_dir = a.results_dir / "profiles" if opts.profile else None
    if opts.profile_dir:
        opts.profile_dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    bench = Bench(opts, root)
    t0 = time.perf_counter()
    try:
        if "g200" in a.scenario:
            bench.group_generated("g200", opts.g_sources, opts.g_items,
                                  warm_kinds=("warm-304", "warm-same", "warm-builddate", "warm-new"), rss_limit=150,
                                  warm_repeat=opts.warm_repeat)
        if "real" in a.scenario:
            bench.group_real()
        if "scale" in a.scenario:
            bench.group_generated("scale", opts.scale_sources, opts.scale_items, warm_kinds=("warm-304", "warm-new"),
                                  rss_limit=500)
        if "publish" in a.scenario:
            bench.group_publish()
        if "help" in a.scenario:
            bench.group_help()
    finally:
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    env["loadavg_after"] = os.getloadavg()
    env["total_s"] = time.perf_counter() - t0
    text = table(bench.results)
    print(f"feeds bench: nproc {env['nproc']}, load {env['loadavg'][0]:.1f} -> {env['loadavg_after'][0]:.1f}, "
          f"python {env['python']}, commit {env['commit']}{', quick' if a.quick else ''}; "
          f"total {env['total_s']:.0f} s")
    print(text)
    for name, path in bench.profiles.items():
        print(f"\n== profile {name} ({path}) ==")
        print(profile_summary(path))
    a.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    data = {"env": env, "args": {k: str(v) for k, v in vars(a).items()},
            "results": [r.as_dict() for r in bench.results], "profiles": bench.profiles}
    out = a.results_dir / f"bench-{stamp}.json"
    out.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    (a.results_dir / "latest.json").write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    print(f"\nresults: {out}")
    return 0 if all(c.ok for r in bench.results for c in r.checks) else 1


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Bench", "FeedServer", "Options", "Result", "baseline", "fill_store", "main", "write_config"]
