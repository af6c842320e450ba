"""Smoke test of the performance harness (bench/): a tiny, untimed run on 3 sources x 5 items.

Asserts that the harness produces figures and passes its own checks, and that the loopback feed
server honours conditional GET in each of its modes. No timing is asserted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402
import run as bench_run  # noqa: E402

SPEC = corpus.Spec(3, 5, seed=7, base=datetime(2025, 3, 4, 5, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def server() -> Iterator[bench_run.FeedServer]:
    with bench_run.FeedServer(spec=SPEC, lifetime=300, start_timeout=60) as srv:
        yield srv


def test_corpus_is_deterministic_and_mixed() -> None:
    a = [corpus.render(f, SPEC.base) for f in corpus.feeds(SPEC)]
    b = [corpus.render(f, SPEC.base) for f in corpus.feeds(SPEC)]
    assert a == b
    feeds = list(corpus.feeds(SPEC))
    assert {f.kind for f in feeds} == {"rss", "atom"}
    assert all(len(f.items) == 5 for f in feeds)
    big = corpus.Spec(20, 20, seed=7, base=SPEC.base)
    links: dict[str, set[int]] = {}
    for f in corpus.feeds(big):
        for it in f.items:
            links.setdefault(it.link, set()).add(f.index)
            assert 400 <= len(it.summary) <= 900
    shared = sum(1 for srcs in links.values() if len(srcs) > 1)
    assert 0 < shared < 0.3 * len(links)  # some items syndicated across sources, not most


def test_server_serves_the_generated_bytes(server: bench_run.FeedServer) -> None:
    feed = next(iter(corpus.feeds(SPEC)))
    status, headers, body = server.get(feed.path)
    assert status == 200
    assert body == corpus.render(feed, SPEC.base)
    assert headers["content-type"].startswith("application/")


def test_server_honours_conditional_get(server: bench_run.FeedServer) -> None:
    path = next(iter(corpus.feeds(SPEC))).path
    server.mode("normal")
    status, h, body = server.get(path)
    assert status == 200 and h.get("etag") and h.get("last-modified")
    status, h304, body304 = server.get(path, {"If-None-Match": h["etag"]})
    assert (status, body304) == (304, b"") and h304["etag"] == h["etag"]
    assert server.get(path, {"If-Modified-Since": h["last-modified"]})[0] == 304
    assert server.get(path, {"If-None-Match": '"something-else"'})[0] == 200
    # If-None-Match wins over a matching If-Modified-Since
    assert server.get(path, {"If-None-Match": '"x"', "If-Modified-Since": h["last-modified"]})[0] == 200

    server.mode("build-date")
    s1, h1, b1 = server.get(path, {"If-None-Match": h["etag"]})
    s2, h2, b2 = server.get(path, {"If-None-Match": h1["etag"]})
    assert s1 == s2 == 200 and h1["etag"] != h2["etag"] and b1 != b2
    assert len(b1) == len(b2) == len(body)
    diff = [i for i, (x, y) in enumerate(zip(b1, b2, strict=True)) if x != y]
    date_at = body.index(b"<lastBuildDate>") if b"<lastBuildDate>" in body else body.index(b"<updated>")
    assert date_at < diff[0] and diff[-1] < date_at + 50  # only the build date differs

    server.mode("no-validators")
    s3, h3, b3 = server.get(path, {"If-None-Match": h["etag"], "If-Modified-Since": h["last-modified"]})
    assert s3 == 200 and b3 == body and "etag" not in h3 and "last-modified" not in h3

    # new-items: feed 0 (one in NEW_EVERY) has one more item, newest first, and a new ETag; others are as
    # in normal mode (304 to their validators)
    server.mode("new-items")
    feeds = list(corpus.feeds(SPEC))
    s4, h4, b4 = server.get(feeds[0].path, {"If-None-Match": h["etag"]})
    assert s4 == 200 and h4["etag"] != h["etag"] and b4 != body
    assert b4.count(b"<item>") + b4.count(b"<entry>") == len(feeds[0].items) + 1
    new = corpus.with_new_item(SPEC, feeds[0]).items[0]
    assert new.published == SPEC.base and new.link.encode() in b4 and new.link.encode() not in body
    _, h1, _ = server.get(feeds[1].path)
    assert server.get(feeds[1].path, {"If-None-Match": h1["etag"]})[0] == 304
    server.mode("normal")


def test_harness_produces_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = bench_run.main(["--sources", "3", "--items", "5", "--scenario", "g200", "--results-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc in (0, 1), out  # 1: a pipeline correctness check failed; the figures are still there
    data = json.loads((tmp_path / "latest.json").read_text())
    by_name = {r["scenario"]: r for r in data["results"]}
    assert set(by_name) == {"g200-cold", "g200-warm-304", "g200-warm-same", "g200-warm-builddate", "g200-warm-new"}
    cold = by_name["g200-cold"]
    assert cold["sources"] == 3 and cold["items"] == 15 and cold["new_items"] > 0
    for r in data["results"]:
        assert r["wall_s"] > 0 and r["peak_rss_mb"] > 0 and r["baseline_s"] > 0 and r["vs_baseline"] > 0
        assert r["targets"], r["scenario"]
    assert by_name["g200-warm-304"]["extra"]["not_modified"] == 3
    assert by_name["g200-warm-304"]["extra"]["server"].get("304") == 3
    assert by_name["g200-warm-same"]["extra"]["unchanged_body"] == 3
    # warm-new: source 0 has one new item (stored, published), the other two answer 304
    new = by_name["g200-warm-new"]
    assert new["new_items"] == 1 and new["extra"]["not_modified"] == 2
    assert {c["name"]: c["ok"] for c in new["checks"]}["one new item in each changed source, the rest 304"]
    for name in ("g200-warm-304", "g200-warm-same", "g200-warm-builddate", "g200-warm-new"):
        runs = by_name[name]["extra"]["runs_ms_per_source"]  # three runs, the median one reported
        assert len(runs) == 3 and sorted(runs)[1] == pytest.approx(by_name[name]["ms_per_source"])
    for name in ("g200-warm-304", "g200-warm-same", "g200-warm-builddate"):
        extra = by_name[name]["extra"]
        assert isinstance(extra["output_changed"], list) and isinstance(extra["writes_beyond_validators"], dict)
        assert {c["name"] for c in by_name[name]["checks"]} >= {"output/ unchanged (mtimes, sizes)"}
    assert "items/s" in out and ("PASS" in out or "FAIL" in out)


def test_median_run_keeps_one_runs_figures_and_every_failed_check() -> None:
    def result(wall: float, ok: bool) -> bench_run.Result:
        r = bench_run.Result("g200-warm-304", 10, 100, wall, wall, wall, 50.0)
        r.checks.append(bench_run.Check("output/ unchanged (mtimes, sizes)", ok, "" if ok else "1 changed"))
        return r

    runs = [result(0.9, True), result(0.3, False), result(0.5, True)]
    r = bench_run.Bench._median_run(runs)
    assert r is runs[2] and r.ms_per_source == 50.0
    assert [c.name for c in r.checks if not c.ok] == ["output/ unchanged (mtimes, sizes) (run 2)"]
    assert r.extra["runs_ms_per_source"] == [90.0, 30.0, 50.0]


def test_fill_store_for_publish(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "feeds.db"
    bench_run.fill_store(db, 200, n_sources=10)
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT count(*) FROM items").fetchone()[0] == 200
        stories = con.execute("SELECT count(*), sum(size) FROM stories").fetchone()
        assert stories[1] == 200 and stories[0] < 200
        orphans = con.execute("SELECT count(*) FROM items WHERE story_id NOT IN (SELECT id FROM stories)").fetchone()
        assert orphans[0] == 0
        assert con.execute("SELECT count(DISTINCT channel) FROM story_channels").fetchone()[0] == 20
    finally:
        con.close()


def test_story_bench_real_feed_figures_on_the_bundled_feeds() -> None:
    # bench/stories.py's real-feed line on the feeds copied into tests/data: the blog among them (a
    # "TMIL:" column with one summary opening) joins its own posts without its feed's template weighed down
    import stories as bench_stories

    from feeds.stories import StoryConfig

    corpus_dir = Path(__file__).parent / "data" / "corpus" / "perf-real"
    n, joins, own = bench_stories.run_real_feeds(corpus_dir, StoryConfig(), profiles=False)
    n2, joins2, own2 = bench_stories.run_real_feeds(corpus_dir, StoryConfig(), profiles=True)
    assert n == n2 > 100
    assert 0 <= own <= joins and 0 <= own2 <= joins2
    assert own2 < own


def test_story_bench_update_rule_line_counts_joined_pairs_both_ways() -> None:
    import stories as bench_stories

    from feeds.stories import StoryConfig

    pairs = [(5.0, "Earthquake kills 20 in Turkey", "Quake kills 20 in Turkey"),
             (2.0, "Earthquake kills 20 in Turkey", "Earthquake kills 20 in Turkey as Erdogan visits ruined towns"),
             (0.0, "Earthquake kills 20 in Turkey", "Lakers win the NBA final")]
    rf, rn, df, dn = bench_stories.run_update_rule(pairs, StoryConfig())
    assert (rn, rf) == (2, 0.0)  # the rewording joins both ways and is never a development
    # the longer report joins both ways (the unrelated pair never does), and brings news one way only
    assert (dn, df) == (2, 0.5)


def test_story_ab_runs_two_commits_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # bench/ab_stories.py: HEAD's package (git archive) against the working tree, on a tiny UCI-like file;
    # the two make the same stories (the working tree's story code is HEAD's)
    import shutil
    import subprocess

    import ab_stories

    repo = Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"],
                                                     capture_output=True).returncode != 0:
        pytest.skip("needs git and a git checkout (it compares two commits)")
    titles = ["Fed raises rates again", "Apple unveils new iPhone", "Storm hits Japan coast",
              "Oil prices fall on supply fears", "Senate passes budget bill", "Quake strikes off Chile"]
    csv = tmp_path / "uci.csv"
    csv.write_text("TITLE,STORY\n" + "".join(f'"{t}",s{i}\n' for i, t in enumerate(titles)), encoding="utf-8")
    assert ab_stories.main(["HEAD", "--items", "200", "--pairs", "1", "--window", "spliced", "--data", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "spliced   pair 1:" in out and "median ratio" in out and "(same stories)" in out
    with pytest.raises(SystemExit, match="not found"):
        ab_stories.main(["HEAD", "--data", str(tmp_path / "missing.csv")])
