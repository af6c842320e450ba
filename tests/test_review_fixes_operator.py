"""An operator's review, following README.md and docs/deploy.md literally: an export into the output directory,
`~` in configured paths, `status --check -q` and sources polled less often than --max-age, upgrading under the
daemon, files a run as root leaves behind, and two configs sharing one store."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest
from test_cli import ROOT, feeds

FEED = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Local</title><link>https://local.example/</link>"
        "<item><title>Harbour bridge reopens after repairs</title><link>https://local.example/1</link>"
        "<guid>l1</guid><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>")


def site(d: Path, *, store: str = "feeds.db", out: str = "out", feed: str = "feed.xml", extra: str = "",
         source_extra: str = "") -> Path:
    """A config in ``d`` with one local source (``feed``, relative to it) and one catch-all channel."""
    d.mkdir(parents=True, exist_ok=True)
    if not feed.startswith("~"):
        (d / feed).parent.mkdir(parents=True, exist_ok=True)
        (d / feed).write_text(FEED, encoding="utf-8")
    cfg = d / "feeds.toml"
    cfg.write_text(f"""
[output]
dir = "{out}"
base_url = "https://feeds.example.org/"
[store]
path = "{store}"
{extra}
[[sources]]
url = "{feed}"
name = "local"
{source_extra}
[channels.news]
title = "News"
match_all = true
""", encoding="utf-8")
    return cfg


# -- 1. an export never goes into the output directory ------------------------------------------------------

def test_an_export_into_the_output_directory_is_refused_and_the_published_opml_stays(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    assert feeds("-c", str(cfg), "run", cwd=tmp_path).returncode == 0
    published = (tmp_path / "out" / "index.opml").read_bytes()
    for target in ("out/index.opml", "out/subs.opml", "out/archive/x.opml", "./out/../out/index.opml"):
        r = feeds("-c", str(cfg), "export", target, cwd=tmp_path)
        assert r.returncode == 2, (target, r.stderr)
        assert "inside the output directory" in r.stderr and "nothing written" in r.stderr, r.stderr
    assert (tmp_path / "out" / "index.opml").read_bytes() == published
    assert not (tmp_path / "out" / "subs.opml").exists()
    # the earlier refusals stand, and an export elsewhere is written
    assert feeds("-c", str(cfg), "export", "feeds.toml", cwd=tmp_path).returncode == 1
    (tmp_path / "notes.txt").write_text("mine")
    assert feeds("-c", str(cfg), "export", "notes.txt", cwd=tmp_path).returncode == 1
    r = feeds("-c", str(cfg), "export", "subs.opml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert b"<opml" in (tmp_path / "subs.opml").read_bytes()


# -- 2. ~ in a configured path is the home directory -----------------------------------------------------------

def test_a_tilde_in_configured_paths_is_the_home_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "feeds").mkdir(parents=True)
    (home / "feeds" / "feed.xml").write_text(FEED, encoding="utf-8")
    cfg = site(tmp_path / "conf", store="~/feeds/feeds.db", out="~/feeds/out", feed="~/feeds/feed.xml",
               extra='[daemon]\nlog_file = "~/feeds/daemon.log"\n')
    env = {"HOME": str(home)}
    r = feeds("-c", str(cfg), "run", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert (home / "feeds" / "feeds.db").is_file() and (home / "feeds" / "out" / "news.atom").is_file()
    assert b"Harbour bridge" in (home / "feeds" / "out" / "news.atom").read_bytes()
    assert not any(p.name == "~" for p in tmp_path.rglob("*"))
    from feeds.config import load_config

    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        loaded = load_config(cfg)
    finally:
        if old is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = old
    assert loaded.daemon.log_file == home / "feeds" / "daemon.log"
    # ~user of no user: a config error naming the key, nothing made
    bad = site(tmp_path / "bad", store="~no-such-user-feeds-test/feeds.db")
    r = feeds("-c", str(bad), "check", cwd=tmp_path, env=env)
    assert r.returncode == 2 and "store.path" in r.stderr and "home directory" in r.stderr, r.stderr


# -- 3. status --check: -q is silent on success; sources polled less often than --max-age ------------------------

def _age(db: Path, hours: float) -> None:
    """Every source's stored fetch times ``hours`` earlier (as if the last run were that long ago)."""
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE sources SET last_attempt = last_attempt - ?, last_success = last_success - ?, "
                    "next_due = next_due - ?", (hours * 3600,) * 3)
        con.execute("UPDATE runs SET started = started - ?, finished = finished - ?", (hours * 3600,) * 2)
    con.close()


def test_status_check_quiet_prints_nothing_on_success(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    assert feeds("-c", str(cfg), "run", cwd=tmp_path).returncode == 0
    r = feeds("-c", str(cfg), "status", "--check", "-q", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", (r.stdout, r.stderr)
    r = feeds("-c", str(cfg), "-q", "status", "--check", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "", r.stdout
    r = feeds("-c", str(cfg), "status", "--check", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("OK: ")
    _age(tmp_path / "feeds.db", 5)  # the default interval (30m) is long past: a problem, -q or not
    r = feeds("-c", str(cfg), "status", "--check", "-q", cwd=tmp_path)
    assert r.returncode == 3 and "CHECK FAILED" in r.stdout, r.stdout


def test_status_check_passes_for_sources_polled_less_often_than_max_age(tmp_path: Path) -> None:
    """A healthy config whose sources poll every 6 hours failed every check 2h after its runs."""
    cfg = site(tmp_path, source_extra='interval = "6h"', extra='[schedule]\njitter = 0\n')
    assert feeds("-c", str(cfg), "run", cwd=tmp_path).returncode == 0
    _age(tmp_path / "feeds.db", 3)  # fetched 3h ago, next due in 3h
    r = feeds("-c", str(cfg), "status", "--check", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    _age(tmp_path / "feeds.db", 4.5)  # 7.5h ago: due 1.5h ago, not fetched (within --max-age 2h)
    assert feeds("-c", str(cfg), "status", "--check", cwd=tmp_path).returncode == 0
    _age(tmp_path / "feeds.db", 1)  # due 2.5h ago and not fetched: nothing polls
    r = feeds("-c", str(cfg), "status", "--check", cwd=tmp_path)
    assert r.returncode == 3, r.stdout
    assert "due for longer than --max-age 2h and not fetched" in r.stdout and "cron or the daemon" in r.stdout
    assert "last successful fetch was 8h30m ago" in r.stdout


def test_status_check_fails_when_the_last_fetch_of_a_rarely_polled_source_failed(tmp_path: Path) -> None:
    cfg = site(tmp_path, source_extra='interval = "6h"', extra='[schedule]\njitter = 0\n')
    assert feeds("-c", str(cfg), "run", cwd=tmp_path).returncode == 0
    _age(tmp_path / "feeds.db", 3)
    con = sqlite3.connect(tmp_path / "feeds.db")
    with con:  # a fetch failed a moment ago: the success 3h old is all there is
        con.execute("UPDATE sources SET last_attempt = ?, last_error = 'boom', consecutive_failures = 1",
                    (time.time() - 60,))
    con.close()
    r = feeds("-c", str(cfg), "status", "--check", cwd=tmp_path)
    assert r.returncode == 3 and "last successful fetch was 3h ago" in r.stdout, r.stdout



def test_a_daily_source_waiting_does_not_hide_the_others_failing() -> None:
    """(A diff review) three hourly sources failing for a day (in backoff: never overdue) and one daily source
    that worked 20h ago and waits for its next poll: the check passed; every fetch tried within --max-age
    failed, which is an outage."""
    from feeds.status import check

    now = time.time()
    hourly = [{"name": f"h{i}", "state": "backoff", "last_success": now - 30 * 3600, "last_attempt": now - 300,
               "next_due": now + 600, "last_error": "connection refused"} for i in range(3)]
    daily = {"name": "d", "state": "ok", "last_success": now - 20 * 3600, "last_attempt": now - 20 * 3600,
             "next_due": now + 4 * 3600, "last_error": None}
    data = {"now": now, "sources": [*hourly, daily], "store_exists": True, "store": "feeds.db"}
    result = check(data, timedelta(hours=2), 0.5)
    assert not result.ok and any("every fetch since failed (3 tried within it)" in p for p in result.problems)
    # the daily source alone, waiting: fine
    assert check({**data, "sources": [daily]}, timedelta(hours=2), 0.5).ok


# -- 4. an older store under a running daemon: restart it -------------------------------------------------------

def test_an_older_store_says_to_restart_the_daemon(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    assert feeds("-c", str(cfg), "run", cwd=tmp_path).returncode == 0
    con = sqlite3.connect(tmp_path / "feeds.db")
    with con:
        con.execute("UPDATE meta SET value = '8' WHERE key = 'schema_version'")
    con.close()
    r = feeds("-c", str(cfg), "status", "--check", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "run `feeds run` first" in r.stderr and "or restart the daemon" in r.stderr, r.stderr
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    upgrade = text[text.index("**Upgrade:**"):text.index("**Moving the site**")]
    assert "restart" in upgrade and "daemon" in upgrade


# -- 6. files a run as root makes go to their directory's owner ---------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")
def test_a_run_as_root_leaves_the_store_and_its_lock_to_the_directorys_owner(tmp_path: Path) -> None:
    srv = tmp_path / "srv"
    cfg = site(srv, extra='[daemon]\nlog_file = "var/feeds.log"\n')
    os.chown(srv, 12345, 12345)
    assert feeds("-c", str(cfg), "run", cwd=srv).returncode == 0
    made = [srv / n for n in ("feeds.db", "feeds.db.lock", "feeds.db-wal", "feeds.db-shm") if (srv / n).exists()]
    assert {srv / "feeds.db", srv / "feeds.db.lock"} <= set(made)
    assert {(p.stat().st_uid, p.stat().st_gid) for p in made} == {(12345, 12345)}
    # a store left root's by an older feeds (or a run killed before it let go) is given back by the next run
    os.chown(srv / "feeds.db", 0, 0)
    assert feeds("-c", str(cfg), "run", cwd=srv).returncode == 0
    assert (srv / "feeds.db").stat().st_uid == 12345
    # another user's file is left as it is
    os.chown(srv / "feeds.db", 777, 777)
    assert feeds("-c", str(cfg), "run", cwd=srv).returncode == 0
    assert (srv / "feeds.db").stat().st_uid == 777
    # the daemon's log file, made before the daemon starts (which stops at once here: the store is locked)
    from feeds.lock import StoreLock

    with StoreLock(srv / "feeds.db").acquire():
        r = feeds("-c", str(cfg), "daemon", cwd=srv)
    assert r.returncode == 75, r.stderr
    log = srv / "var" / "feeds.log"
    assert (log.stat().st_uid, log.parent.stat().st_uid) == (12345, 12345)
    assert "another feeds process" in log.read_text()



@pytest.mark.skipif(os.geteuid() != 0, reason="giving files away needs root")
def test_a_hard_link_or_a_symlink_beside_the_store_is_not_given_away_nor_followed(tmp_path: Path) -> None:
    """(A diff review) a root file hard-linked as feeds.db-journal by the directory's owner was given to them;
    a feeds.db.lock symlinked to a root file was truncated by a run as root."""
    from feeds.errors import StoreError
    from feeds.lock import StoreLock, give_to_directory_owner

    srv = tmp_path / "srv"
    srv.mkdir()
    secret = tmp_path / "secret"
    secret.write_text("root only")
    secret.chmod(0o600)
    os.chown(srv, 12345, 12345)
    os.link(secret, srv / "feeds.db-journal")
    give_to_directory_owner([srv / "feeds.db-journal"])
    assert secret.stat().st_uid == 0
    os.symlink(secret, srv / "feeds.db.lock")
    with pytest.raises(StoreError):
        StoreLock(srv / "feeds.db").acquire()
    assert secret.read_text() == "root only"


def test_a_read_only_store_names_the_file_and_its_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The service user's run after a run as root: "attempt to write a readonly database" said nothing of who
    owns what. (Run in-process: root may write anything, so the store's refusal is simulated.)"""
    import sqlalchemy.exc

    from feeds import cli

    cfg = site(tmp_path)
    assert feeds("-c", str(cfg), "run", cwd=tmp_path).returncode == 0
    os.chown(tmp_path / "feeds.db", 4321, 4321)
    store = str(tmp_path / "feeds.db")

    def refused(*_a: object, **_k: object) -> None:
        raise sqlalchemy.exc.OperationalError("UPDATE sources", {}, sqlite3.OperationalError(
            "attempt to write a readonly database"))

    log = logging.getLogger("feeds")  # cli.main() sets the logger up: put it back as it was afterwards
    monkeypatch.setattr(log, "handlers", list(log.handlers))
    monkeypatch.setattr(log, "level", log.level)
    monkeypatch.setattr(log, "propagate", log.propagate)
    real_access = os.access
    monkeypatch.setattr("feeds.run.run_once", refused)
    monkeypatch.setattr(os, "access", lambda p, mode: os.fspath(p) != store and real_access(p, mode))
    assert cli.main(["-c", str(cfg), "run"]) == 1
    err = capsys.readouterr().err
    assert "attempt to write a readonly database" in err and f"{store} is owned by uid 4321" in err, err
    assert "chown" in err and "feeds.db.lock" in err


def test_a_lock_file_that_cannot_be_opened_names_its_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from feeds.errors import StoreError
    from feeds.lock import StoreLock

    lock = tmp_path / "feeds.db.lock"
    lock.write_text("1\n")
    os.chown(lock, 4321, 4321)
    real_open = os.open

    def denied(path: str, *a: int) -> int:
        if os.fspath(path) == str(lock):
            raise PermissionError(13, "Permission denied", str(lock))
        return real_open(path, *a)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(StoreError) as e:
        StoreLock(tmp_path / "feeds.db").acquire()
    assert "cannot open the store's lock file (Permission denied" in str(e.value)
    assert f"{lock} is owned by uid 4321" in str(e.value) and "chown" in str(e.value)



def test_a_second_config_on_one_store_is_refused_until_it_takes_the_store(tmp_path: Path) -> None:
    a = site(tmp_path / "a", store="../shared.db", out="out")
    b = site(tmp_path / "b", store="../shared.db", out="out", feed="other.xml")
    assert feeds("-c", str(a), "run", cwd=tmp_path).returncode == 0
    for cmd in (["run"], ["check"]):
        r = feeds("-c", str(b), *cmd, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert "store.path" in r.stderr and str(a) in r.stderr and str(b) in r.stderr, r.stderr
        assert "--take-store" in r.stderr
    assert not (tmp_path / "b" / "out").exists()  # nothing touched
    r = feeds("-c", str(b), "run", "--take-store", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "now this config's" in r.stderr  # said (a warning)
    r = feeds("-c", str(a), "run", cwd=tmp_path)
    assert r.returncode == 2 and str(b) in r.stderr, r.stderr
    # a config that names another store now lets go of it
    a.write_text(a.read_text().replace("../shared.db", "own.db").replace('dir = "out"', 'dir = "own-out"'))
    assert feeds("-c", str(a), "run", cwd=tmp_path).returncode == 0
    b.write_text(b.read_text().replace('dir = "out"', 'dir = "out2"'))
    assert feeds("-c", str(b), "run", cwd=tmp_path).returncode == 0
    # a variant of the same site (another config beside it, the same store and the same output) is no second site
    variant = tmp_path / "b" / "trimmed.toml"
    variant.write_text(b.read_text().replace('url = "other.xml"', 'url = "feed.xml"'))
    shutil.copy(tmp_path / "a" / "feed.xml", tmp_path / "b" / "feed.xml")
    r = feeds("-c", str(variant), "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert feeds("-c", str(b), "run", cwd=tmp_path).returncode == 0
    # (a diff review) the variant leaves the record to the site's config: once the variant is deleted, a third
    # config with another output is still refused, and the site's own config still runs
    assert feeds("-c", str(variant), "run", cwd=tmp_path).returncode == 0
    variant.unlink()
    c = site(tmp_path / "c", store="../shared.db", out="out3")
    r = feeds("-c", str(c), "run", cwd=tmp_path)
    assert r.returncode == 2 and str(b) in r.stderr, r.stderr
    assert feeds("-c", str(b), "run", cwd=tmp_path).returncode == 0


def test_a_site_moved_with_its_store_and_a_restored_backup_run_without_friction(tmp_path: Path) -> None:
    cfg = site(tmp_path / "srv")
    assert feeds("-c", str(cfg), "run", cwd=tmp_path).returncode == 0
    # a backup, run where it is (its config names its own store copy): the original config names another store
    assert feeds("-c", str(cfg), "backup", str(tmp_path / "bk"), cwd=tmp_path).returncode == 0
    shutil.copy(tmp_path / "srv" / "feed.xml", tmp_path / "bk" / "feed.xml")
    r = feeds("-c", str(tmp_path / "bk" / "feeds.toml"), "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # restored over the live site: the store records the live config (or the backup's, which names another store)
    shutil.copy(tmp_path / "bk" / "feeds.db", tmp_path / "srv" / "feeds.db")
    assert feeds("-c", str(cfg), "run", cwd=tmp_path).returncode == 0
    # the whole site moved (mv), config and store together, its sources edited on the way
    shutil.move(tmp_path / "srv", tmp_path / "moved")
    moved = tmp_path / "moved" / "feeds.toml"
    moved.write_text(moved.read_text().replace('name = "local"', 'name = "local"\ninterval = "1h"'))
    r = feeds("-c", str(moved), "-v", "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "now this config's" in r.stderr
    # copied (cp -r) instead: the old config names its own store, the copy runs too, and so does the original
    shutil.copytree(tmp_path / "moved", tmp_path / "copy")
    assert feeds("-c", str(tmp_path / "copy" / "feeds.toml"), "run", cwd=tmp_path).returncode == 0
    assert feeds("-c", str(moved), "run", cwd=tmp_path).returncode == 0
