"""What a mutation survey of feeds/cli.py and feeds/logs.py found unpinned: the option bounds at their edges (port
65535 and 0, a share of 0 and 1, NaN refused) and --max-broken's documented default; $FEEDS_CONFIG and --config's
precedence over it; exit 1 for an OS error; no progress under -q on a terminal, and no "backed up" line under -q;
a store kept by a recorded config that is broken or unreadable; `serve --port 0` over a configured port; what
import says (folders, unlisted sources) only when it applies, a directory given to it, the 10 MiB limit at its
edge through the command; `check` loading no model for stories that are off; backup into a directory holding
files, its store moved in last, its copy one file (journal_mode DELETE); export's userinfo with an "@" in the
password, and no store warning before the first run; escape_controls' `also` characters; a record that cannot be
formatted left to logging. The tests call feeds.cli.main in this process with capsys, on real config files and
SQLite stores under tmp_path (test_review_fixes_cli's site, run for real; test_opml_import's config, OPML files and
logger fixture), a real pty for the terminal, `feeds serve` as a subprocess with a port held by the loopback
server, and parse exports back with parse_opml; the bounds are checked on the argparse layer alone."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import pty
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from loopback import Loopback
from test_opml_import import CONFIG as IMPORT_CONFIG
from test_opml_import import DATA, _feeds_logger_restored, cfg, feeds_import
from test_review_fixes_cli import CONFIG, env, site

from feeds import cli
from feeds.logs import LogFile, escape_controls
from feeds.opml import MAX_OPML_BYTES, parse_opml

__all__ = ["_feeds_logger_restored", "cfg"]  # fixtures shared with test_opml_import


def parsed(*argv: str) -> argparse.Namespace:
    """The namespace `feeds ARGV` parses to (the argparse layer alone: nothing is run)."""
    return cli._parser().parse_args(list(argv))


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """`feeds ARGV` is a usage error (exit 2, from the argparse layer, before anything runs; one that is not
    refused is not run either); returns what it said."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        parsed(*argv)
    assert e.value.code == 2
    return capsys.readouterr().err


# -- option bounds: their edges are in, NaN is out ------------------------------------------------------------------

def test_the_edges_of_each_bounded_option_are_accepted() -> None:
    """Mutants: `_bounded(int, "a port number", 0, 65535, ...)` -> `..., 0, 65534, ...` (the highest port
    refused) and `not lo <= value <= hi` -> `not lo < value <= hi` in _bounded() (`--port 0`, "any free port" in
    the README, refused, and `--max-broken 0`, `--wait 0` with it)."""
    assert parsed("serve", "--port", "65535").port == 65535
    assert parsed("serve", "--port", "0").port == 0
    assert parsed("status", "--max-broken", "0").max_broken == 0.0
    assert parsed("status", "--max-broken", "1").max_broken == 1.0
    assert parsed("run", "--wait", "0").wait == 0.0


@pytest.mark.parametrize("argv,says", [
    (("status", "--check", "--max-broken", "nan"), "a share from 0 to 1"),
    (("status", "--check", "--max-broken", "1.5"), "a share from 0 to 1"),
    (("run", "--wait", "nan"), "a number of seconds from 0 up"),
    (("run", "--wait", "-1"), "a number of seconds from 0 up"),
])
def test_nan_and_a_share_over_one_are_usage_errors(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                                                   says: str) -> None:
    """Mutants: `not lo <= value <= hi` -> `value < lo or value > hi` in _bounded() (NaN compares false both
    ways: `--max-broken nan` let any share of broken sources pass the check, `--wait nan` waited for ever) and
    `_share = _bounded(float, "a number", 0, 1, ...)` -> `..., 0, 2, ...` (a share of 1.5: a check that can never
    fail on broken sources)."""
    err = refused(capsys, *argv)
    assert says in err and "Traceback" not in err


def test_status_check_defaults_are_the_documented_ones() -> None:
    """Mutant: `--max-broken` `default=0.5` -> `default=0.6` (the README and `--help`: "default 0.5"; a cron
    `feeds status --check` without the option relies on it). (`--max-age`'s default 2h is pinned by
    test_review_fixes_operator.)"""
    args = parsed("status", "--check")
    assert args.max_broken == 0.5
    assert math.isclose(args.max_age.total_seconds(), 2 * 3600)


# -- which config: --config, else $FEEDS_CONFIG, else config/feeds.toml ---------------------------------------------

def test_feeds_config_names_the_config_and_config_option_beats_it(
        cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Mutants: `Path(env) if env else Path("config/feeds.toml")` -> `Path("config/feeds.toml")` in
    _config_path() ($FEEDS_CONFIG ignored: README, "default `$FEEDS_CONFIG`, else `config/feeds.toml`") and
    $FEEDS_CONFIG read before `--config` (the option no longer wins over the environment)."""
    monkeypatch.chdir(tmp_path)  # (no config/feeds.toml here)
    monkeypatch.setenv("FEEDS_CONFIG", str(cfg))
    capsys.readouterr()
    assert cli.main(["check", "-v"]) == 0
    assert capsys.readouterr().out == f"{cfg}: ok: 2 sources, 1 channels\n"
    monkeypatch.setenv("FEEDS_CONFIG", str(tmp_path / "missing.toml"))
    assert cli.main(["--config", str(cfg), "check", "-v"]) == 0
    assert capsys.readouterr().out.startswith(f"{cfg}: ok: ")


# -- exit codes, check, and what a terminal shows -------------------------------------------------------------------

def test_a_directory_that_cannot_be_created_is_one_line_and_exit_1(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Mutant: `return EXIT_FAILED` -> `return EXIT_CONFIG` after main()'s `except OSError` (the README: "a
    directory that cannot be created ... a line on stderr naming each file ..., exit 1", not a usage error)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, where `feeds init` wants a directory")
    capsys.readouterr()
    assert cli.main(["init", str(blocker / "feeds.toml")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"feeds: {blocker}: "), err
    assert blocker.is_file()


def test_check_loads_no_model_for_stories_that_are_off(cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Mutant: `if cfg.stories.enabled and cfg.stories.semantic:` -> `or` in cmd_check() (with stories off, `feeds
    check` loaded the semantic model anyway, and a model that is not there failed a config that runs)."""
    cfg.write_text(cfg.read_text().replace("[channels.news]", "[stories]\nenabled = false\nsemantic = true\n\n"
                                                              "[channels.news]"))
    monkeypatch.setenv("FEEDS_SEMANTIC_MODEL", str(tmp_path / "no-such-model.onnx"))
    capsys.readouterr()
    assert cli.main(["-c", str(cfg), "check"]) == 0, capsys.readouterr().err


def tty_stderr(argv: list[str]) -> tuple[int, str]:
    """`feeds ARGV` run in this process with stderr on a real terminal (a pty): the exit code and what the
    terminal received."""
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", encoding="utf-8") as tty, pytest.MonkeyPatch.context() as mp:
            mp.setattr(sys, "stderr", tty)
            code = cli.main(argv)
            tty.flush()
        got = b""
        with contextlib.suppress(OSError):  # (EIO once the terminal's other end is closed and read out)
            while chunk := os.read(master, 4096):
                got += chunk
    finally:
        os.close(master)
    return code, got.decode()


def test_quiet_shows_no_progress_on_a_terminal(tmp_path: Path) -> None:
    """Mutant: `sys.stderr.isatty() and not args.quiet and not args.verbose` -> without `not args.quiet` in
    cmd_run() (the README: `-q`, "no progress display"; a run from a terminal under -q drew its progress)."""
    config = str(site(tmp_path))
    code, shown = tty_stderr(["-c", config, "run", "--all"])
    assert code == 0 and "1/1 sources" in shown, shown  # (the rig: on a terminal, progress is drawn)
    code, shown = tty_stderr(["-q", "-c", config, "run", "--all"])
    assert (code, shown) == (0, "")


# -- whose store: a recorded config that is broken or unreadable keeps it -------------------------------------------

def test_a_store_whose_recorded_config_is_broken_or_unreadable_is_still_refused_to_another(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mutants: `return other, False` -> `return None, False` in _recorded_user() for a recorded config that
    does not parse now ("broken now, but it may be mended: it keeps its store") and for one that cannot be read
    (not UTF-8): either way another config (another output directory) took the store without a word, and its
    sources were mixed into the first site's channels."""
    first = site(tmp_path)
    second = first.with_name("second.toml")
    second.write_text(first.read_text().replace('dir = "out"', 'dir = "out-second"'))
    assert cli.main(["-c", str(first), "run"]) == 0  # the store records the first config
    for broken in (b"[output\n", b"\xff\xfe not UTF-8\n"):
        first.write_bytes(broken)
        capsys.readouterr()
        assert cli.main(["-c", str(second), "check"]) == 2
        err = capsys.readouterr().err
        assert "store.path" in err and f"is the store of {first}" in err, err


# -- serve: the options over [serve] --------------------------------------------------------------------------------

def test_serve_port_0_is_any_free_port_even_over_a_configured_one(tmp_path: Path) -> None:
    """Mutant: `args.port if args.port is not None else cfg.serve.port` -> `args.port or cfg.serve.port` in
    cmd_serve() (`--port 0`, "0: any free port" in the README, fell back to [serve] port: here a port in use, so
    the server did not start)."""
    busy = Loopback()
    try:
        config = site(tmp_path, CONFIG + f"[serve]\nport = {busy.port}\n")
        proc = subprocess.Popen([sys.executable, "-m", "feeds.cli", "-c", str(config), "serve", "--port", "0"],
                                cwd=config.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env(), stdin=subprocess.DEVNULL)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        assert line.startswith("listening on http://127.0.0.1:"), err
        assert f":{busy.port}/" not in line
        assert proc.returncode == 0, err
    finally:
        busy.close()


# -- logs: what is escaped, and whose error a record that cannot be formatted is ------------------------------------

def test_the_characters_asked_for_are_escaped_with_or_without_a_control_beside_them() -> None:
    """Mutants: `if text.isprintable() and not (also and any(ch in text for ch in also))` -> `if
    text.isprintable()` in escape_controls() (a printable text kept its `"`: a forged field in the access log's
    quoted request line) and `ch.isprintable() and ch not in also` -> `ch.isprintable()` (a `"` beside a
    control character kept)."""
    assert escape_controls('GET /" 200 "x', also='"') == "GET /\\x22 200 \\x22x"
    assert escape_controls('a"\nb', also='"') == "a\\x22\\x0ab"
    assert escape_controls('a"b') == 'a"b'  # (only those asked for)


def test_a_record_that_cannot_be_formatted_is_loggings_error_not_a_log_that_cannot_be_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mutant: the `if not isinstance(e, OSError): super().handleError(record); return` taken out of
    LogFile.handleError() (a record that cannot be formatted, a bug, was counted as a line the log could not
    take: no "--- Logging error ---" with its traceback, and the next record announced the log "works again")."""
    log = tmp_path / "feeds.log"
    handler = LogFile(log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    try:
        capsys.readouterr()
        handler.handle(logging.LogRecord("feeds.t", logging.WARNING, __file__, 0, "%d items", ("many",), None))
        assert "--- Logging error ---" in capsys.readouterr().err
        handler.handle(logging.LogRecord("feeds.t", logging.WARNING, __file__, 0, "%d items", (3,), None))
    finally:
        handler.close()
    assert log.read_text() == "WARNING 3 items\n"


# -- import: what it says only when it applies ----------------------------------------------------------------------

def test_import_names_what_the_file_lacks_only_when_it_overlaps_and_folders_only_when_it_adds(
        cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mutants: `if plan.present and plan.missing:` -> `if plan.missing:` in cmd_import() (a first import of
    another reader's list, sharing no feed with the config, told the user that every configured source "is not
    in this file ... take out by hand what you unsubscribed from") and `plan.folders() if plan.added else {}` ->
    `plan.folders()` (importing a file again, nothing added, repeated the folders-are-not-channels advice)."""
    code, out, err = feeds_import(capsys, cfg, str(DATA / "feedly.opml"))
    assert code == 0 and "added 3, already present 0" in out, err
    assert "not in this file" not in out
    assert feeds_import(capsys, cfg, str(DATA / "freshrss.opml"))[0] == 0
    code, out, err = feeds_import(capsys, cfg, str(DATA / "freshrss.opml"))
    assert code == 0 and "added 0, already present 5" in out, err
    assert "configured sources are not in this file" in out  # (it overlaps: what it lacks is said)
    assert "OPML folders" not in out and "sources = [" not in out


def test_importing_a_directory_is_a_usage_error_in_one_line(cfg: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Mutant: `raise OpmlError(str(file), "is a directory, not an OPML file") from None` -> `raise` in
    _read_opml() (`feeds import DIR` became an OS error, exit 1, where a wrong argument is a usage error, exit 2,
    as a missing file is)."""
    before = cfg.read_bytes()
    code, out, err = feeds_import(capsys, cfg, str(tmp_path))
    assert (code, out, err) == (2, "", f"feeds: {tmp_path}: is a directory, not an OPML file\n")
    assert cfg.read_bytes() == before

def test_an_opml_file_of_exactly_the_limit_is_imported_and_one_byte_more_is_refused_as_too_large(
        cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mutants: `len(data) > MAX_OPML_BYTES` -> `>=` in _read_opml() (a file of exactly 10 MiB refused; the README
    refuses one over it) and `f.read(MAX_OPML_BYTES + 1)` -> `f.read(MAX_OPML_BYTES)` (a larger file was cut at
    the limit and said to be broken XML, not too large). (test_mutation_gaps_websub_opml pins the parser's own
    limit, not the command's.)"""
    head = b'<opml version="2.0"><body><outline text="Big" xmlUrl="https://big.example/rss"/>\n'
    tail = b"</body></opml>\n"
    room = MAX_OPML_BYTES - len(head) - len(tail)
    pad = b"<!-- pad -->\n" * (room // 13)
    big = tmp_path / "big.opml"
    big.write_bytes(head + pad + b" " * (room - len(pad)) + tail)
    assert big.stat().st_size == MAX_OPML_BYTES
    code, out, err = feeds_import(capsys, cfg, "--dry-run", str(big))
    assert code == 0 and "would add 1, already present 0" in out, err
    big.write_bytes(big.read_bytes() + b" ")
    code, out, err = feeds_import(capsys, cfg, "--dry-run", str(big))
    assert (code, out) == (2, "") and err.startswith(f"feeds: {big}: is larger than 10 MiB: refused"), err

# -- backup: quiet under cron, never into a directory with something in it, the store moved in last -----------------

@pytest.fixture
def ran_here(tmp_path: Path) -> Path:
    """A site (test_review_fixes_cli's) whose store holds one run, run in this process; its config's path."""
    config = site(tmp_path)
    assert cli.main(["-c", str(config), "run"]) == 0
    return config


def test_backup_is_silent_under_quiet(ran_here: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mutants: `if not args.quiet:` -> `if True:` before cmd_backup()'s "backed up to" line (a nightly `feeds -q
    backup` from cron mailed its success every night; README: -q, "no success lines"), and `PRAGMA
    journal_mode=DELETE` taken out of _backup_into() (the copy stayed a WAL store: SQLite makes -wal and -shm
    files beside it whenever it is opened, where a backup is meant to be one file)."""
    capsys.readouterr()
    assert cli.main(["-q", "-c", str(ran_here), "backup", str(tmp_path / "quiet")]) == 0
    assert capsys.readouterr() == ("", "")
    with contextlib.closing(sqlite3.connect(tmp_path / "quiet" / "feeds.db")) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file, nothing beside it
    assert cli.main(["-c", str(ran_here), "backup", str(tmp_path / "loud")]) == 0
    assert capsys.readouterr().out.startswith(f"backed up to {tmp_path / 'loud'}: feeds.toml, output/, feeds.db")


def test_backup_refuses_a_directory_that_holds_anything(ran_here: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Mutant: `dest.exists() and (not dest.is_dir() or any(dest.iterdir()))` -> `dest.exists() and not
    dest.is_dir()` in cmd_backup() (a backup was moved into a directory of the user's, among their files)."""
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert cli.main(["-c", str(ran_here), "backup", str(dest)]) == 1
    assert f"{dest}: exists and is not an empty directory; nothing written" in capsys.readouterr().err
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt"]


def test_a_backup_into_an_empty_directory_that_fails_part_way_moves_the_store_in_last(
        ran_here: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutant: `key=lambda x: x == store` -> `key=lambda x: x != store` in cmd_backup() (the pieces built in a
    hidden directory inside an empty directory given are moved out with the store first: a backup that failed
    after it, here at its second move (the disk's error, injected), held a store beside a missing config or
    output and looked finished)."""
    dest = tmp_path / "empty"
    dest.mkdir()
    real_replace, moves = os.replace, []

    def second_fails(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        moves.append(Path(dst).name)
        if len(moves) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_fails)
    capsys.readouterr()
    assert cli.main(["-c", str(ran_here), "backup", str(dest)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert len(moves) == 2 and "feeds.db" not in moves
    assert not (dest / "feeds.db").exists()


# -- export: no credentials, no warning without a store -------------------------------------------------------------

def test_export_cuts_userinfo_whose_password_holds_an_at_sign(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Mutants: `netloc.rpartition("@")[2]` -> `netloc.partition("@")[2]` in _without_userinfo() (a password
    with an unescaped "@" in it, `jane:p@ss@host`, was exported as `ss@host`: part of it, to another reader), and
    the `if not cfg.store_path.exists(): return {}` taken out of _stored_sources() (an export before the first
    run warned that the store "cannot be read")."""
    config = tmp_path / "feeds.toml"
    private = '\n[[sources]]\nurl = "https://jane:p@ss@private.example.org/feed"\nname = "Private"\n'
    config.write_text(IMPORT_CONFIG + private, encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["-c", str(config), "export"]) == 0
    out, err = capsys.readouterr()
    assert [f.url for f in parse_opml(out.encode()).feeds] == [
        "https://lwn.net/headlines/rss", "https://old.example.org/ars", "https://private.example.org/feed"]
    assert "ss@" not in out
    assert err == "feeds: WARNING: exported without their credentials (user:password in the URL, or headers): Private\n"
