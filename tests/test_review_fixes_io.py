"""Fixes from a review of full disks and failing writes (2026-11-28): what it found, pinned."""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_daemon import daemon_config

from feeds.cli import _readonly_hint
from feeds.config import load_config
from feeds.daemon import Daemon
from feeds.run import RunReport


class _Failing:
    """A tick's pipeline whose run fails as a full disk makes SQLite fail, then works."""

    def __init__(self, failures: int) -> None:
        self.left = failures

    def run(self, **_kw: Any) -> RunReport:
        if self.left:
            self.left -= 1
            raise sqlite3.OperationalError("database or disk is full\n[SQL: INSERT INTO items ...]")
        return RunReport(started=datetime.now(UTC))


def test_a_daemon_failing_every_tick_logs_the_traceback_once(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    # a full disk made every tick fail, and each logged ~57 lines of traceback, SQL and rows (onto that disk)
    cfg = load_config(daemon_config(tmp_path, []))
    d = Daemon(tmp_path / "feeds.toml", cfg)
    d.pipeline = _Failing(4)
    with caplog.at_level(logging.INFO, logger="feeds"):
        for _ in range(5):
            d.tick()
    failed = [r for r in caplog.records if "tick failed" in r.getMessage()]
    assert len(failed) == 4 and sum(1 for r in failed if r.exc_info) == 1, [r.getMessage() for r in failed]
    assert "tick failed again (4 in a row" in failed[-1].getMessage()
    assert "database or disk is full" in failed[-1].getMessage() and "[SQL" not in failed[-1].getMessage()
    assert any("tick worked again, after 4 failed" in r.getMessage() for r in caplog.records)
    # another failure after that: its traceback again
    d.pipeline = _Failing(1)
    d.tick()
    assert sum(1 for r in caplog.records if "tick failed" in r.getMessage() and r.exc_info) == 2


def test_a_store_file_its_own_user_may_not_write_is_told_to_chmod_not_chown(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # a store made read-only for a while left its -shm 0444 (SQLite gives it the database's mode): the hint said
    # to chown files this user already owns. (os.access stands in for a user without root's override.)
    store = tmp_path / "feeds.db"
    store.write_bytes(b"")
    shm = Path(f"{store}-shm")
    shm.write_bytes(b"")
    shm.chmod(0o444)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: os.fspath(p) != str(shm) and real_access(p, mode))
    hint = _readonly_hint(store)
    assert f"{shm} is this user's but its mode 444" in hint and f"chmod u+w {shm}" in hint and "chown" not in hint
