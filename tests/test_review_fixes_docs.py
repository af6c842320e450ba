"""Fixes from a review of the docs against the behaviour (2026-11-28): what the docs promised and the code
did otherwise, where the code was the one to change."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest
from test_cli import ROOT, feeds

from feeds.errors import PublishError
from feeds.publish import atomic_write


def test_a_quiet_run_that_finds_the_store_busy_leaves_without_a_word(tmp_path: Path) -> None:
    # a cron `feeds -q run` that starts while the previous one (or the daemon) still holds the store: exit
    # 75 and nothing on stderr, so cron mails nothing every five minutes; without -q the line is there
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "var").mkdir()
    fd = os.open(tmp_path / "var" / "feeds.db.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        quiet = feeds("-q", "run", cwd=tmp_path)
        assert quiet.returncode == 75 and quiet.stderr == "" and quiet.stdout == "", quiet.stderr
        loud = feeds("run", cwd=tmp_path)
        assert loud.returncode == 75 and "another feeds process" in loud.stderr
        # -q after the command too, and other errors still print under -q
        assert feeds("run", "-q", cwd=tmp_path).stderr == ""
        bad = feeds("-q", "--config", "config/missing.toml", "run", cwd=tmp_path)
        assert bad.returncode == 2 and "missing.toml" in bad.stderr
    finally:
        os.close(fd)
    assert not (tmp_path / "output").exists()


def test_a_failed_write_says_whether_a_previous_file_was_kept(tmp_path: Path) -> None:
    path = tmp_path / "x.atom"
    # the temporary file's name taken by a directory: the write fails even for root, and nothing was there
    blocker = tmp_path / f".x.atom.{os.getpid()}.tmp"
    blocker.mkdir()
    with pytest.raises(PublishError, match=r"x\.atom: cannot write .*; nothing written$"):
        atomic_write(path, b"<feed/>")
    assert not path.exists() and blocker.is_dir()
    path.write_bytes(b"old")
    with pytest.raises(PublishError, match="previous file kept$"):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    # a path that runs through a file has no previous file either
    (tmp_path / "f").write_text("a file")
    with pytest.raises(PublishError, match="nothing written$"):
        atomic_write(tmp_path / "f" / "y.atom", b"<feed/>")
    blocker.rmdir()
    assert atomic_write(path, b"new") and path.read_bytes() == b"new"
