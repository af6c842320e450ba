"""`feeds status --check` notices a publish that fails: the store records the failure once, from the run that first
failed (meta `publish.failing`), and the first publish that works again deletes it; `status` says so, `--json`
carries it, `--check` reports it once it has lasted longer than `--max-age`. A run that publishes as the last one
did writes nothing."""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_history_costs import traced
from test_review_fixes_operator import site
from test_scheduling_pipeline import Clock

from feeds import cli
from feeds.config import load_config
from feeds.run import PUBLISH_FAILING_KEY, Pipeline
from feeds.status import status_main
from feeds.store import Store

RARE = {"source_extra": 'interval = "6h"', "extra": "[schedule]\njitter = 0\n"}  # fetched again in 6h, not before


@pytest.fixture(autouse=True)
def _feeds_logger_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """cli.main() sets up the "feeds" logger (its own handler on the captured stderr, no propagation): put it
    back as it was afterwards, or later tests' log capture breaks."""
    import logging

    log = logging.getLogger("feeds")
    monkeypatch.setattr(log, "handlers", list(log.handlers))  # a copy: main() edits it in place
    monkeypatch.setattr(log, "level", log.level)
    monkeypatch.setattr(log, "propagate", log.propagate)


def feeds(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["-c", str(cfg), *args])
    out, err = capsys.readouterr()
    return code, out, err


def meta(db: Path) -> dict[str, str]:
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT key, value FROM meta"))
    finally:
        con.close()


def check_at(cfg: Path, capsys: pytest.CaptureFixture[str], now: datetime, **kw: object) -> tuple[int, str]:
    """`feeds status --check` as the CLI runs it, at a given time."""
    capsys.readouterr()
    args = argparse.Namespace(**{"json": False, "check": True, "max_age": "2h", "max_broken": 0.5, **kw})
    code = status_main(load_config(cfg), args, now=now)
    return code, capsys.readouterr().out


def test_a_failing_publish_is_recorded_reported_by_check_after_max_age_and_cleared_when_it_works(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = site(tmp_path, **RARE)
    db, out = tmp_path / "feeds.db", tmp_path / "out"
    (out / "news.atom").mkdir(parents=True)  # where the channel's document must go (a write fails even as root)
    code, _, err = feeds(capsys, cfg, "run")
    assert code == 1 and f"{out / 'news.atom'}: cannot write (Is a directory)" in err, err
    recorded = meta(db)[PUBLISH_FAILING_KEY]
    failure = json.loads(recorded)
    assert failure["errors"] == 1 and failure["error"].startswith(f"{out / 'news.atom'}: cannot write")
    since = datetime.fromtimestamp(failure["since"], UTC)

    # said at once by `status` and its --json; --check within --max-age: OK, with the failure on its line
    code, text, _ = feeds(capsys, cfg, "status")
    assert code == 0 and re.search(rf"^publishing failing since \d+s ago: {re.escape(failure['error'])}$", text,
                                   re.MULTILINE), text
    code, text, _ = feeds(capsys, cfg, "status", "--json")
    doc = json.loads(text)["publish_failure"]
    assert code == 0 and doc["error"] == failure["error"] and doc["errors"] == 1 and doc["since"].endswith("Z")
    code, text, _ = feeds(capsys, cfg, "status", "--check")
    assert code == 0 and text.startswith("OK: ") and "publishing failing since" in text, text

    # a second failing run keeps the record as it was: failing since the first
    code, _, _ = feeds(capsys, cfg, "run")
    assert code == 1 and meta(db)[PUBLISH_FAILING_KEY] == recorded

    # three hours later, nothing fetched since (the source is polled every 6h: it waits, no problem of its own):
    # the failure is the one problem, named
    code, text = check_at(cfg, capsys, since + timedelta(hours=3))
    assert code == 3, text
    assert text.splitlines() == [f"CHECK FAILED: publishing failing since 3h ago, longer than --max-age 2h: "
                                 f"{failure['error']}; the published feeds are not updated"]
    code, text = check_at(cfg, capsys, since + timedelta(hours=3), json=True)
    assert code == 3 and any("publishing failing since 3h ago" in p for p in json.loads(text)["check"]["problems"])
    assert check_at(cfg, capsys, since + timedelta(hours=3), max_age="4h")[0] == 0  # --max-age is the grace

    # mended: the next run publishes, the record is gone, and the check is OK at once and three hours on
    (out / "news.atom").rmdir()
    code, _, err = feeds(capsys, cfg, "run")
    assert code == 0 and err == "", err
    assert b"Harbour bridge reopens" in (out / "news.atom").read_bytes()
    assert PUBLISH_FAILING_KEY not in meta(db)
    code, text, _ = feeds(capsys, cfg, "status", "--check")
    assert code == 0 and "publishing" not in text, text
    code, text = check_at(cfg, capsys, since + timedelta(hours=3))
    assert code == 0 and "publishing" not in text, text
    assert json.loads(feeds(capsys, cfg, "status", "--json")[1])["publish_failure"] is None

    # a run after it, with nothing changed, leaves the store's bookkeeping and the output as they were
    before = meta(db), {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    assert feeds(capsys, cfg, "run", "--all")[0] == 0
    assert (meta(db), {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}) == before


@pytest.fixture
def pipe(tmp_path: Path) -> Iterator[tuple[Pipeline, Store, Clock]]:
    """The daemon's pipeline over the site, at an injected time; its source polled every 6h."""
    cfg = load_config(site(tmp_path, **RARE))
    store = Store.open(cfg.store_path)
    clock = Clock()
    p = Pipeline(cfg, store, now=clock)
    yield p, store, clock
    p.close()
    store.close()


def writes(statements: list[str], table: str | None = None) -> list[str]:
    """The statements among ``statements`` that write (to ``table`` only, when given)."""
    return [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "REPLACE"))
            and (table is None or re.search(rf"\b{table}\b", s))]


def test_a_failing_publish_is_written_once_and_a_warm_tick_after_it_works_writes_nothing(
        pipe: tuple[Pipeline, Store, Clock]) -> None:
    p, store, clock = pipe
    out = p.cfg.output.dir
    (out / "news.atom").mkdir(parents=True)
    report = p.run(mode="daemon")
    assert len(report.publish_errors) == 1 and store.meta_value(PUBLISH_FAILING_KEY) is not None
    recorded = store.meta_value(PUBLISH_FAILING_KEY)
    clock.advance(timedelta(minutes=1))
    with traced(store) as seen:  # a tick with nothing due: the channel still to publish fails as before
        report = p.run(mode="daemon")
    assert report.due == 0 and len(report.publish_errors) == 1
    assert writes(seen, "meta") == [] and store.meta_value(PUBLISH_FAILING_KEY) == recorded

    (out / "news.atom").rmdir()
    clock.advance(timedelta(minutes=1))
    report = p.run(mode="daemon")
    assert report.publish_errors == [] and (out / "news.atom").is_file()
    assert store.meta_value(PUBLISH_FAILING_KEY) is None
    clock.advance(timedelta(minutes=1))
    with traced(store) as seen:  # the next tick: nothing due, nothing to publish, nothing written
        report = p.run(mode="daemon")
    assert report.due == 0 and report.published == [] and writes(seen) == []


def test_a_failed_site_document_is_tried_again_until_it_is_written(pipe: tuple[Pipeline, Store, Clock]) -> None:
    """index.opml failing, its previous file kept, leaves no channel to publish (theirs were written): the next
    runs publish anyway while a failure is recorded, so the stale index is written and the record cleared by the
    publish that works, not left to page for ever."""
    p, store, clock = pipe
    out = p.cfg.output.dir
    out.mkdir(parents=True)
    (out / "index.opml").write_text("an index of before")
    (out / f".index.opml.{os.getpid()}.tmp").mkdir()  # where the write goes first: it fails (even as root)
    report = p.run(mode="daemon")
    assert report.publish_errors == [f"{out / 'index.opml'}: cannot write (Is a directory); previous file kept"]
    assert (out / "news.atom").is_file() and store.meta_value(PUBLISH_FAILING_KEY) is not None
    (out / f".index.opml.{os.getpid()}.tmp").rmdir()
    clock.advance(timedelta(minutes=1))
    report = p.run(mode="daemon")
    assert report.due == 0 and report.publish_errors == [] and report.published == [str(out / "index.opml")]
    assert "<opml" in (out / "index.opml").read_text() and store.meta_value(PUBLISH_FAILING_KEY) is None


def test_a_failure_recorded_under_a_clock_set_ahead_counts_from_the_run_that_finds_it(
        pipe: tuple[Pipeline, Store, Clock]) -> None:
    """A failure recorded by a run whose clock was a day ahead would be "in the future" to the check for a day
    (never longer than --max-age): a failing run under the mended clock records its own time instead."""
    p, store, clock = pipe
    (p.cfg.output.dir / "news.atom").mkdir(parents=True)
    clock.advance(timedelta(days=1))
    p.run(mode="daemon")
    ahead = json.loads(store.meta_value(PUBLISH_FAILING_KEY) or "{}")["since"]
    assert ahead == clock.t.timestamp()
    clock.advance(timedelta(days=-1))
    p.run(mode="daemon")
    assert json.loads(store.meta_value(PUBLISH_FAILING_KEY) or "{}")["since"] == clock.t.timestamp()
