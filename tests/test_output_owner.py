"""One output directory, one store: a second config publishing into another store's output directory is
refused (exit 2, naming the file and output.dir) before it touches anything; the store's own moves,
backups and a deliberate take-over are not."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

from test_cli import demo, feeds  # noqa: F401  (demo: a fixture)
from test_daemon import Daemon, daemon_config, daemons  # noqa: F401  (daemons: a fixture)
from test_publish import snapshot

from feeds.publish import OWNER_FILE


def second_config(demo: Path, store: str = "../var/other.db") -> Path:  # noqa: F811
    """A copy of the demo config with a store of its own and the same output directory."""
    shutil.copytree(demo / "config", demo / "other")
    cfg = demo / "other" / "feeds.toml"
    text = cfg.read_text(encoding="utf-8")
    assert 'path = "../var/feeds.db"' in text and 'dir = "../output"' in text
    cfg.write_text(text.replace('path = "../var/feeds.db"', f'path = "{store}"'), encoding="utf-8")
    return cfg


def test_a_second_config_sharing_the_output_directory_is_refused_before_touching_anything(demo: Path) -> None:  # noqa: F811
    assert feeds("run", cwd=demo).returncode == 0
    out = demo / "output"
    assert (out / OWNER_FILE).is_file()
    before = snapshot(out)
    other = second_config(demo)
    for command in ("run", "check"):
        r = feeds("-c", str(other), command, cwd=demo)
        assert r.returncode == 2, (command, r.stderr)
        assert f"{other}: output.dir: expected a directory no other store publishes to" in r.stderr, r.stderr
        # the store that publishes there is still in its place: named, with how to move a store, and the marker
        # kept (an operator review: "delete the marker" made a new empty store rewrite the archive pages)
        assert "is published from the store at" in r.stderr and "which is still there" in r.stderr, r.stderr
        assert f"do not delete {out / OWNER_FILE}" in r.stderr
    assert not (demo / "var" / "other.db").exists()  # nothing created ...
    assert snapshot(out) == before  # ... nor written
    # the config that publishes there goes on as before
    r = feeds("run", "--all", cwd=demo)
    assert r.returncode == 0, r.stderr
    assert (out / OWNER_FILE).read_bytes() == before[OWNER_FILE][0]


def test_a_store_made_again_where_it_was_takes_its_output_over_and_says_so(demo: Path) -> None:  # noqa: F811
    # the demo reset by deleting its store, an ephemeral store beside an output that is kept: not another config
    assert feeds("run", cwd=demo).returncode == 0
    out = demo / "output"
    first = (out / OWNER_FILE).read_text()
    for p in (demo / "var").glob("feeds.db*"):
        p.unlink()
    r = feeds("run", cwd=demo)
    assert r.returncode == 0, r.stderr
    assert "made again since" in r.stderr  # said (cron mails it)
    assert (out / OWNER_FILE).read_text() != first  # the new store's id
    r = feeds("run", "--all", cwd=demo)
    assert r.returncode == 0 and "made again" not in r.stderr, r.stderr
    # the marker names no machine path (the output may be served)
    assert str(demo) not in (out / OWNER_FILE).read_text() and "var" not in (out / OWNER_FILE).read_text()
    # a config whose store is elsewhere is still refused, and told how to take over
    other = second_config(demo)
    assert feeds("-c", str(other), "run", cwd=demo).returncode == 2
    (out / OWNER_FILE).unlink()  # what the message says to do
    r = feeds("-c", str(other), "run", cwd=demo)
    assert r.returncode == 0, r.stderr


def test_a_moved_store_and_a_restored_backup_keep_publishing_their_output(demo: Path) -> None:  # noqa: F811
    assert feeds("run", cwd=demo).returncode == 0
    cfg = demo / "config" / "feeds.toml"
    # moved: the store's id goes with it
    (demo / "db").mkdir()
    shutil.move(demo / "var" / "feeds.db", demo / "db" / "feeds.db")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('path = "../var/feeds.db"', 'path = "../db/feeds.db"'),
                   encoding="utf-8")
    r = feeds("run", "--all", cwd=demo)
    assert r.returncode == 0, r.stderr
    # backed up, lost, restored: the copies carry the same id
    r = feeds("backup", str(demo / "bk"), cwd=demo)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(demo / "output")
    for p in (demo / "db").glob("feeds.db*"):
        p.unlink()
    shutil.copytree(demo / "bk" / "output", demo / "output")
    shutil.copy2(demo / "bk" / "feeds.db", demo / "db" / "feeds.db")
    r = feeds("run", "--all", cwd=demo)
    assert r.returncode == 0, r.stderr


def test_the_daemon_will_not_start_on_or_reload_into_another_stores_output(tmp_path: Path,
                                                                         daemons: list[Daemon]) -> None:  # noqa: F811
    (tmp_path / "feed.xml").write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                                       "<link>http://example.org/</link><description>d</description>"
                                       "<item><title>One</title><link>http://example.org/1</link></item>"
                                       "</channel></rss>", encoding="utf-8")
    config = daemon_config(tmp_path, [("local", "feed.xml")])
    text = config.read_text(encoding="utf-8")
    r = feeds("-c", str(config), "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / OWNER_FILE).is_file()
    # a second config, its own store, the same output: the daemon stops at once with exit 2
    (tmp_path / "b").mkdir()
    other = tmp_path / "b" / "feeds.toml"
    other.write_text(text.replace('dir = "out"', 'dir = "../out"').replace('url = "feed.xml"', 'url = "../feed.xml"'),
                     encoding="utf-8")
    d = Daemon(other, name="other")
    daemons.append(d)
    assert d.proc.wait(timeout=30) == 2
    assert "output.dir" in d.log() and not (tmp_path / "b" / "var" / "feeds.db").exists()
    # its own output at first; a reload that points it at the other store's output is refused
    other.write_text(text.replace('url = "feed.xml"', 'url = "../feed.xml"'), encoding="utf-8")
    d = Daemon(other, name="other2")
    daemons.append(d)
    d.wait_for(lambda: (tmp_path / "b" / "out" / OWNER_FILE).is_file(), "its first publish")
    owner = (tmp_path / "out" / OWNER_FILE).read_bytes()
    other.write_text(text.replace('dir = "out"', 'dir = "../out"').replace('url = "feed.xml"', 'url = "../feed.xml"'),
                     encoding="utf-8")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: "reload failed" in d.log(), "the refused reload")
    assert "output.dir" in d.log()
    rc, _ = d.terminate()
    assert rc == 0, d.log()
    assert (tmp_path / "out" / OWNER_FILE).read_bytes() == owner


def test_a_store_path_changed_with_the_old_store_gone_takes_the_output_over_and_says_so(demo: Path) -> None:  # noqa: F811
    """(An operator review) with the marker deleted, a new store took the output over without a word; and
    while the old store is in its place, the refusal says so and how to move it."""
    assert feeds("run", cwd=demo).returncode == 0
    out = demo / "output"
    cfg = demo / "config" / "feeds.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('path = "../var/feeds.db"', 'path = "../var/moved.db"'),
                   encoding="utf-8")
    r = feeds("run", cwd=demo)
    assert r.returncode == 2 and "which is still there" in r.stderr and "move" in r.stderr, r.stderr
    (demo / "var" / "feeds.db").unlink()  # gone for good: the message says to delete the marker only then
    r = feeds("run", cwd=demo)
    assert r.returncode == 2 and "Only if that store is gone for good, delete" in r.stderr, r.stderr
    (out / OWNER_FILE).unlink()
    r = feeds("run", cwd=demo)
    assert r.returncode == 0, r.stderr
    assert "takes it over at its next publish" in r.stderr, r.stderr
    r = feeds("run", "--all", cwd=demo)
    assert r.returncode == 0 and "takes it over" not in r.stderr, r.stderr  # said once
    # (a diff review) the marker deleted under a store that published there: no warning, and written back by the
    # next run even when it publishes nothing, so nothing is said at every run
    (out / OWNER_FILE).unlink()
    for _ in range(2):
        r = feeds("run", cwd=demo)
        assert r.returncode == 0 and "takes it over" not in r.stderr, r.stderr
        assert (out / OWNER_FILE).is_file()


def test_a_store_from_before_the_output_marker_upgrades_without_a_takeover_warning(demo: Path) -> None:  # noqa: F811
    """(An upgrade review) a store of schema 7 or earlier published its output without a marker: the first run
    of this feeds said the store "takes it over … archive pages from page 1", alarming, under -q too, at every
    upgrade. Its channels' digests show it published there: nothing is said, and the marker is written."""
    import sqlite3

    from feeds.publish import OWNER_KEY

    assert feeds("run", cwd=demo).returncode == 0
    out = demo / "output"
    con = sqlite3.connect(demo / "var" / "feeds.db")
    with con:
        con.execute("DELETE FROM meta WHERE key = ?", (OWNER_KEY,))  # as a store from before the marker
    con.close()
    (out / OWNER_FILE).unlink()
    before = snapshot(out)
    for command in ("check", "run"):
        r = feeds("-q", command, cwd=demo)
        assert r.returncode == 0 and r.stderr == "", (command, r.stderr)
    assert (out / OWNER_FILE).is_file()
    assert {k: v for k, v in snapshot(out).items() if k != OWNER_FILE} == before  # nothing rewritten
    # a new store beside that output, one that never published, is still said (once)
    for p in (demo / "var").glob("feeds.db*"):
        p.unlink()
    (out / OWNER_FILE).unlink()
    r = feeds("run", cwd=demo)
    assert r.returncode == 0 and r.stderr.count("takes it over at its next publish") == 1, r.stderr


def test_the_daemon_says_a_takeover_once(tmp_path: Path, daemons: list[Daemon]) -> None:  # noqa: F811
    # (an upgrade review) the daemon checked the output directory twice before it started, saying it twice
    (tmp_path / "feed.xml").write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                                       "<link>http://example.org/</link><description>d</description>"
                                       "<item><title>One</title><link>http://example.org/1</link></item>"
                                       "</channel></rss>", encoding="utf-8")
    # (and said before the daemon's log was set up: with `[daemon] log_file`, on stderr instead of in the log)
    config = daemon_config(tmp_path, [("local", "feed.xml")], daemon='log_file = "logs/daemon.log"')
    assert feeds("-c", str(config), "run", cwd=tmp_path).returncode == 0
    for p in (tmp_path / "var").glob("feeds.db*"):
        p.unlink()
    (tmp_path / "out" / OWNER_FILE).unlink()
    d = Daemon(config)
    daemons.append(d)
    d.wait_for(lambda: (tmp_path / "out" / OWNER_FILE).is_file(), "its first publish")
    rc, _ = d.terminate()
    assert rc == 0, d.log()
    logged = (tmp_path / "logs" / "daemon.log").read_text(encoding="utf-8")
    assert logged.count("takes it over at its next publish") == 1, logged
    assert "takes it over" not in d.log(), d.log()
