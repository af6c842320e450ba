"""Fixes from a soak test of the daemon (2026-11-28): 30 loopback sources changing every few seconds for 36
minutes; what it found wrong, pinned."""

from __future__ import annotations

from pathlib import Path

import pytest
from loopback import Loopback, Response, static
from test_cli import _config, feeds

from feeds.parse import ParseFailed, parse

GARBAGE = b"<?xml version='1.0'?><rss><chann\x00\xff garbage <<<"


def test_an_ill_formed_document_with_nothing_in_it_is_a_failure_not_an_empty_feed() -> None:
    # an <rss> root makes feedparser report a version: the garbage body was "200, 0 new" and the source "ok"
    with pytest.raises(ParseFailed, match=r"not a feed \(ill-formed, nothing read: .*not well-formed"):
        parse(GARBAGE)
    with pytest.raises(ParseFailed, match="ill-formed, nothing read"):
        parse(b"<rss>")
    # a real feed of prefixed elements after a doubled declaration: feedparser reads only stray names from it
    data = Path(__file__).parent / "data" / "corpus" / "real-feeds" / "fastfeedparser" / "malformed_rss_namespaced.xml"
    with pytest.raises(ParseFailed, match="ill-formed, nothing read"):
        parse(data.read_bytes())
    # what still reads: an empty feed, well-formed; an ill-formed one that names itself (a title), whose items
    # were cut off (the next fetch brings them); an ill-formed one with items
    assert parse(b"<rss version='2.0'><channel></channel></rss>").entries == ()
    # (a diff review) an empty channel with an undefined entity still reads: it says something (its link); junk
    # after an empty root is ill-formed with nothing read, as garbage is
    assert parse(b"<rss version='2.0'><channel><description>a&nbsp;b</description><link>http://x/</link>"
                 b"</channel></rss>").entries == ()
    with pytest.raises(ParseFailed, match="ill-formed, nothing read"):
        parse(b"<rss version='2.0'><channel></channel></rss>\x00junk")
    cut = parse(b"<rss version='2.0'><channel><title>Wire</title><item><title>Half")
    assert cut.title == "Wire" and cut.entries == () and cut.bozo
    loose = parse(b"<rss version='2.0'><channel><title>W</title><item><title>A &nbsp; B</title>"
                  b"<link>https://a.example/1</link></item></channel></rss>")
    assert [e.title for e in loose.entries] == ["A B"] and loose.bozo


def test_a_source_serving_garbage_shows_as_failing(tmp_path: Path) -> None:
    from feedgen_util import rss

    srv = Loopback()
    try:
        srv.routes["/good"] = static(rss([{"title": "Hello", "guid": "1", "link": "https://a.example/1"}]))
        srv.routes["/garbage"] = lambda req: Response(200, GARBAGE, {"Content-Type": "application/rss+xml"})
        cfg = _config(tmp_path, [srv.url("/garbage"), srv.url("/good")])
        r = feeds("--config", str(cfg), "run", cwd=tmp_path)
        assert r.returncode == 0 and "s0" in r.stderr and "ill-formed, nothing read" in r.stderr, r.stderr
        status = feeds("--config", str(cfg), "status", cwd=tmp_path)
        row = next(line for line in status.stdout.splitlines() if line.startswith("s0"))
        assert row.split()[1] == "backoff" and "not a feed (ill-formed, nothing read" in row, status.stdout
        r = feeds("--config", str(cfg), "run", cwd=tmp_path)  # (the good one is not due; the garbage one backs off)
        assert r.returncode == 0, r.stderr
    finally:
        srv.close()
