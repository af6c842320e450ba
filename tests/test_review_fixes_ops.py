"""Operations after a review of crashes, full disks and permissions (each test failed before its fix):
`feeds backup` while a run writes and when killed part way, `feeds init --force` on a full disk, and one
`feeds run` as root in a service user's output directory. The real command in a child process."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from feedgen_util import rss
from loopback import Loopback, Response, static
from test_cli import ROOT, _config, feeds


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    assert feeds("run", cwd=tmp_path).returncode == 0
    return tmp_path


def test_a_backup_leaves_out_the_writers_temporary_files(demo: Path) -> None:
    """A writer's `.NAME.PID.tmp` renamed away between copytree's listing and its copy failed the whole backup
    (about 1 in 10 during a publish); they are a writer's own, of no use to a restore."""
    from feeds.cli import _copy_if_there

    (demo / "output" / ".ukraine.atom.99999.tmp").write_bytes(b"half")
    r = feeds("backup", str(demo / "bk"), cwd=demo)
    assert r.returncode == 0, r.stderr
    assert (demo / "bk" / "output" / "ukraine.atom").is_file()
    assert not (demo / "bk" / "output" / ".ukraine.atom.99999.tmp").exists()
    _copy_if_there(str(demo / "gone.atom"), str(demo / "copy.atom"))  # a file gone meanwhile: nothing, no error
    assert not (demo / "copy.atom").exists()


def test_a_backup_killed_part_way_does_not_look_finished(demo: Path) -> None:
    """Killed after the store's snapshot, before it was made restorable: the directory held the config, the
    output and a whole feeds.db that a restore would trust (its archive marks not rewound: entries lost)."""
    code = ("import os, signal, sys\n"
            "from feeds import cli\n"
            "cli._restorable = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
            "sys.exit(cli.main(sys.argv[1:]))\n")
    r = subprocess.run([sys.executable, "-c", code, "backup", str(demo / "bk")], cwd=demo, capture_output=True,
                       text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == -9, r.stderr
    assert not (demo / "bk").exists()
    # what is left is a hidden partial directory beside it, never a backup's name; a later backup works
    assert [p.name.split(".partial-")[0] for p in demo.iterdir() if ".partial-" in p.name] == [".bk"]
    r = feeds("backup", str(demo / "bk"), cwd=demo)
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(demo / "bk" / "feeds.db")
    try:
        assert con.execute("SELECT count(*) FROM channels WHERE dirty = 0").fetchone()[0] == 0
    finally:
        con.close()


def test_a_backup_into_an_empty_directory_given(demo: Path) -> None:
    """An empty directory given is filled in place (the diff review: renaming over it failed for ".", a symlink,
    a mount point and a directory inside one the user may not write)."""
    for name, how in (("bk", "dir"), ("here", "cwd"), ("link", "symlink")):
        target = demo / name
        if how == "symlink":
            (demo / "real").mkdir(mode=0o755)
            target.symlink_to(demo / "real")
        else:
            target.mkdir(mode=0o755)
        r = feeds("--config", str(demo / "config" / "feeds.toml"), "backup", "." if how == "cwd" else str(target),
                  cwd=target if how == "cwd" else demo)
        assert r.returncode == 0, (how, r.stderr)
        assert sorted(p.name for p in target.iterdir()) == ["feeds.db", "feeds.toml", "output"], how
        # the directory keeps the mode its owner gave it (a shared backup mount); what holds credentials is 0600
        assert oct(target.stat().st_mode & 0o777) == "0o755", how
        assert {oct((target / n).stat().st_mode & 0o777) for n in ("feeds.db", "feeds.toml")} == {"0o600"}, how
    assert target.is_symlink()
    assert not [p for p in demo.rglob("*") if ".partial-" in p.name]


def test_init_force_on_a_full_disk_keeps_the_config(tmp_path: Path) -> None:
    """`init --force` truncated the config, then failed to write it: a cut config (exit 2 for every command)."""
    cfg = tmp_path / "feeds.toml"
    assert feeds("--config", str(cfg), "init", cwd=tmp_path).returncode == 0
    before = cfg.read_bytes()
    cfg.write_bytes(before + b"\n# mine\n")
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))\n"
            "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "from feeds import cli\n"
            "sys.exit(cli.main(sys.argv[1:]))\n")
    r = subprocess.run([sys.executable, "-c", code, "--config", str(cfg), "init", "--force"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 1, r.stderr
    assert str(cfg) in r.stderr and "nothing written" in r.stderr
    assert cfg.read_bytes() == before + b"\n# mine\n"
    assert [p.name for p in tmp_path.iterdir()] == ["feeds.toml"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_run_as_root_leaves_its_directories_to_the_outputs_owner(tmp_path: Path) -> None:
    """One `feeds run` as root created archive/<slug>/ owned by root: the service user's runs then failed to
    write those channels' pages for good (every run exit 1, the live feeds stale)."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    cfg = tmp_path / "config" / "feeds.toml"
    cfg.write_text(cfg.read_text().replace("entries = 100", "entries = 2"))
    out = tmp_path / "output"
    out.mkdir()
    os.chown(out, 12345, 12345)
    assert feeds("run", cwd=tmp_path).returncode == 0
    made = [p for p in out.rglob("*")]
    assert any(p.is_dir() for p in made) and any(p.parent != out for p in made)  # archive pages were written
    assert {(p.stat().st_uid, p.stat().st_gid) for p in made} == {(12345, 12345)}


def test_a_source_failing_alone_in_a_run_while_the_others_work_exits_0(tmp_path: Path) -> None:
    """Backoff gives a failing source runs of its own: such a run exited 1, "all 1 sources failed", while every
    other source's last fetch had worked (a review: 5 of 1,152 cron runs over four simulated days). Exit 1 is
    for runs where nothing works; the source's warning still says what failed."""
    srv = Loopback()
    try:
        srv.routes["/good"] = static(rss([{"title": "Hello", "guid": "1", "link": "https://a.example/1"}]),
                                     etag='"v1"')
        srv.routes["/500"] = lambda req: Response(500, b"boom")
        cfg = _config(tmp_path, [srv.url("/good"), srv.url("/500")])
        env = {"FEEDS_TEST_POLICY": "backoff_base=1,min_interval=1,jitter=0"}
        r = feeds("--config", str(cfg), "run", cwd=tmp_path, env=env)
        assert r.returncode == 0 and "HTTP 500" in r.stderr, r.stderr
        time.sleep(1.5)  # the failing source's backoff (1 s) is over; the good one is due in 15 minutes
        r = feeds("--config", str(cfg), "run", cwd=tmp_path, env=env)
        assert len(srv.hits("/500")) == 2 and len(srv.hits("/good")) == 1
        assert r.returncode == 0 and "s1" in r.stderr and "HTTP 500" in r.stderr, r.stderr
        assert "failed, and no other" not in r.stderr
        # the good source's success two hours back says nothing of now: an outage is exit 1 within the hour
        con = sqlite3.connect(tmp_path / "feeds.db")
        with con:
            con.execute("UPDATE sources SET last_success = last_success - 7200 WHERE name = 's0'")
        con.close()
        time.sleep(2.5)  # the failing source's backoff (2 s after its second failure) is over
        r = feeds("--config", str(cfg), "run", cwd=tmp_path, env=env)
        assert len(srv.hits("/500")) == 3 and len(srv.hits("/good")) == 1
        assert r.returncode == 1 and "the one due source failed, and no other source fetched successfully lately" \
            in r.stderr, r.stderr
        # a source polled every three hours whose success is two hours old still tells that fetching works
        cfg.write_text(cfg.read_text().replace('name = "s0"\n', 'name = "s0"\ninterval = "3h"\n'))
        now = time.time()
        con = sqlite3.connect(tmp_path / "feeds.db")
        with con:
            con.execute("UPDATE sources SET last_success = ?, last_attempt = ?, next_due = ? WHERE name = 's0'",
                        (now - 7200, now - 7200, now + 3600))
            con.execute("UPDATE sources SET last_attempt = ? WHERE name = 's1'", (now - 600,))
        con.close()
        r = feeds("--config", str(cfg), "run", cwd=tmp_path, env=env)
        assert len(srv.hits("/500")) == 4 and len(srv.hits("/good")) == 1
        assert r.returncode == 0 and "HTTP 500" in r.stderr, r.stderr
    finally:
        srv.close()


def test_status_tells_a_run_in_progress_from_one_that_was_killed(tmp_path: Path) -> None:
    """A run busy fetching was shown as "(did not finish)" with "0 fetched", as a crashed one is."""
    srv = Loopback()
    release = threading.Event()  # the fetch is answered once status has looked (a fixed delay raced a slow machine)
    try:
        body = rss([{"title": "Hello", "guid": "1", "link": "https://a.example/1"}])

        def slow(req: object) -> Response:
            release.wait(60)
            return Response(200, body)

        srv.routes["/slow"] = slow
        cfg = _config(tmp_path, [srv.url("/slow")])
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("FEEDS_CONFIG", None)
        for _ in range(2):
            asked = len(srv.hits("/slow"))
            run = subprocess.Popen([sys.executable, "-m", "feeds.cli", "--config", str(cfg), "run", "--all"],
                                   cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 30
            while len(srv.hits("/slow")) == asked and time.monotonic() < deadline:  # the run is fetching
                time.sleep(0.05)
            time.sleep(0.3)
            busy = feeds("--config", str(cfg), "status", cwd=tmp_path)
            assert f"(running now, pid {run.pid})" in busy.stdout, busy.stdout
            if _ == 0:
                release.set()
                assert run.wait(30) == 0
                done = feeds("--config", str(cfg), "status", cwd=tmp_path)
                assert "running now" not in done.stdout and "did not finish" not in done.stdout
            else:  # killed: no process holds the lock any more
                run.kill()
                run.wait(30)
                dead = feeds("--config", str(cfg), "status", cwd=tmp_path)
                assert "(did not finish)" in dead.stdout and "running now" not in dead.stdout
            assert run.stderr is not None
            run.stderr.close()
            release.clear()
    finally:
        release.set()
        srv.close()


def test_changing_base_url_is_silent_under_cron(demo: Path) -> None:
    """A deliberate config change (the site moved) put a WARNING on stderr of a successful run: cron mailed it."""
    cfg = demo / "config" / "feeds.toml"
    cfg.write_text(cfg.read_text().replace('base_url = "http://127.0.0.1:8080/"', 'base_url = "https://news.example/"'))
    r = feeds("run", cwd=demo)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stderr


def test_a_daemon_that_cannot_open_its_store_says_so_in_its_log_file(tmp_path: Path) -> None:
    cfg = _config(tmp_path, ["https://a.example/feed"])
    cfg.write_text(cfg.read_text() + '\n[daemon]\nlog_file = "d.log"\n')
    (tmp_path / "feeds.db").write_bytes(b"garbage, not a database" * 100)
    r = feeds("--config", str(cfg), "daemon", cwd=tmp_path, timeout=60)
    assert r.returncode == 1 and "cannot open the store" in r.stderr, r.stderr
    assert "cannot open the store" in (tmp_path / "d.log").read_text()
