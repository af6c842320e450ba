"""What a mutation survey of feeds/serve.py found unpinned: each test talks to a real `python -m feeds.serve` on
127.0.0.1 over HTTP, asserts what a client sees, and names in its docstring the mutant it kills (a one-line change
to serve.py under which it fails and the rest of tests/test_serve.py passes)."""

from __future__ import annotations

import email.utils
import gzip
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_serve import _atom, _start, _stop, fetch

FIXED_MTIME = 1704164645  # Tue, 02 Jan 2024 03:04:05 GMT


@dataclass
class Site:
    port: int
    out: Path
    root: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("serve-gaps")
    out = root / "out"
    out.mkdir()
    (out / "tech.atom").write_text(_atom(50), encoding="utf-8")
    (out / "archive").mkdir()
    (out / "archive" / "tech-2024.atom").write_text(_atom(3), encoding="utf-8")
    (out / "café").mkdir()
    (out / "café" / "index.html").write_text("<!doctype html><title>café</title>", encoding="utf-8")
    for path in out.rglob("*"):
        if path.is_file():
            os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    proc, port = _start(out, root / "server.log")
    yield Site(port, out, root)
    assert _stop(proc) == 0


def _write(path: Path, data: bytes, mtime: float | None = None) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    tmp.write_bytes(data)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.replace(tmp, path)


# --------------------------------------------------------------------------- preconditions


def test_if_match_star_is_met_by_an_existing_document(site: Site) -> None:
    """Kills M03 (``_if_match``: ``*`` evaluates false). RFC 9110 13.1.1: ``If-Match: *`` is true whenever the
    target has a current representation; a 412 here tells a client the document it can fetch does not exist."""
    for method in ("GET", "HEAD"):
        resp = fetch(site.port, "/tech.atom", method=method, headers={"Accept-Encoding": "identity", "If-Match": "*"})
        assert resp.status == 200, method
    assert fetch(site.port, "/tech.atom", headers={"If-Match": "*"}).body == (site.out / "tech.atom").read_bytes()


def test_if_unmodified_since_is_ignored_when_if_match_is_present(site: Site) -> None:
    """Kills M10 (If-Unmodified-Since evaluated even when If-Match is present). RFC 9110 13.1.4: a recipient MUST
    ignore If-Unmodified-Since when the request has If-Match; the matching strong ETag is the better validator."""
    etag = fetch(site.port, "/tech.atom").headers["etag"]
    earlier = email.utils.formatdate(FIXED_MTIME - 3600, usegmt=True)
    resp = fetch(site.port, "/tech.atom", headers={"Accept-Encoding": "identity", "If-Match": etag,
                                                    "If-Unmodified-Since": earlier})
    assert resp.status == 200
    assert resp.body == (site.out / "tech.atom").read_bytes()
    # and a mismatching If-Match still fails whatever If-Unmodified-Since says
    later = email.utils.formatdate(FIXED_MTIME + 3600, usegmt=True)
    assert fetch(site.port, "/tech.atom", headers={"If-Match": '"other"', "If-Unmodified-Since": later}).status == 412


# --------------------------------------------------------------------------- the unsettled second


def test_a_document_is_not_dated_until_half_a_second_after_its_second(site: Site) -> None:
    """Kills M12 (``_MTIME_SETTLED`` 1.5 -> 1.0). docs/publishing.md: a document is served without Last-Modified
    "until its mtime's second has been over for half a second" (the file system's clock lags time.time()); at 1.0
    a document dated second S was dated as soon as S was over, and a rewrite stamped S a few ms late kept it."""
    target = site.out / "settle.atom"
    for _attempt in range(10):
        while not 0.05 <= time.time() % 1 <= 0.3:
            time.sleep(0.01)
        second = int(time.time())
        _write(target, _atom(2).encode(), mtime=second - 1)  # the previous second, over for less than 0.5 s
        resp = fetch(site.port, "/settle.atom")
        if time.time() < second + 0.5:  # answered within the margin (the machine may be slow)
            break
    else:
        pytest.skip("could not write and fetch within 0.45 s")
    assert resp.status == 200
    assert "last-modified" not in resp.headers and resp.headers["etag"]
    # once the margin is over the same document has its date, and it validates
    time.sleep(max(0.0, second + 0.6 - time.time()))
    date = email.utils.formatdate(second - 1, usegmt=True)
    assert fetch(site.port, "/settle.atom").headers["last-modified"] == date
    assert fetch(site.port, "/settle.atom", headers={"If-Modified-Since": date}).status == 304


def test_a_304_for_a_just_written_document_carries_no_last_modified(site: Site) -> None:
    """Kills M27 (Last-Modified dropped from the 200 of an unsettled document but kept on its 304). RFC 9111 4.3.4:
    a cache updates its stored headers from a 304, so a reader or proxy would store that second as the
    document's date and later revalidate with it alone, getting 304 for a version rewritten within it."""
    target = site.out / "fresh.atom"
    for _attempt in range(10):
        data = _atom(3).encode() + uuid.uuid4().hex.encode()
        _write(target, data)
        deadline = int(target.stat().st_mtime) + 1.5
        first = fetch(site.port, "/fresh.atom")
        again = fetch(site.port, "/fresh.atom", headers={"Accept-Encoding": "identity",
                                                          "If-None-Match": first.headers["etag"]})
        if time.time() < deadline:
            break
    else:
        pytest.skip("could not fetch twice within the unsettled second")
    assert (first.status, first.body) == (200, data)
    assert "last-modified" not in first.headers
    assert again.status == 304
    assert again.headers["etag"] == first.headers["etag"]
    assert "last-modified" not in again.headers


# --------------------------------------------------------------------------- gzip


@pytest.mark.parametrize("accept", ["gzip;q=0, *", "*, gzip;q=0", "x-gzip;q=0, *;q=1", "gzip;q=0, *;q=0.5"])
def test_gzip_refused_with_q0_is_not_sent_for_a_star(site: Site, accept: str) -> None:
    """Kills M17 (``gzip_q if gzip_q else star_q``: an explicit q=0 for gzip overridden by ``*``). RFC 9110 12.5.3:
    q=0 means not acceptable, and ``*`` only covers codings not listed; such a client cannot read gzip."""
    resp = fetch(site.port, "/tech.atom", headers={"Accept-Encoding": accept})
    assert resp.status == 200
    assert "content-encoding" not in resp.headers
    assert resp.body == (site.out / "tech.atom").read_bytes()


def test_the_gzip_bytes_of_a_strong_etag_do_not_change_between_servers(site: Site) -> None:
    """Kills M48 (``gzip.compress`` without ``mtime=0``: the gzip header carries the time of compression). The
    gzip variant's ETag is strong and depends only on the file, so its bytes must too (RFC 9110 8.8.1): a server
    restarted (or a cache entry rebuilt) a second later sent other bytes under the same strong ETag."""
    first = fetch(site.port, "/tech.atom", headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    time.sleep(1.1)
    proc, port = _start(site.out, site.root / "second.log")
    try:
        second = fetch(port, "/tech.atom", headers={"Accept-Encoding": "gzip"})
    finally:
        assert _stop(proc) == 0
    assert second.headers["etag"] == first.headers["etag"]
    assert second.body == first.body


# --------------------------------------------------------------------------- the cache


def test_a_document_rewritten_in_place_is_not_served_stale(site: Site) -> None:
    """Kills M39 (the file cache keyed without mtime_ns). A document rewritten in place (same inode, same size: an
    editor, ``cp`` over it, a restored backup) must not be served from the cache with its old bytes and ETag."""
    target = site.out / "inplace.atom"
    v1 = _atom(4).encode()
    v2 = v1.replace(b"Story 2<", b"Story Z<")
    assert len(v1) == len(v2) and v1 != v2
    _write(target, v1, mtime=FIXED_MTIME)
    first = fetch(site.port, "/inplace.atom")
    assert (first.status, first.body) == (200, v1)
    inode = target.stat().st_ino
    with open(target, "r+b") as f:
        f.write(v2)
    os.utime(target, (FIXED_MTIME + 60, FIXED_MTIME + 60))
    assert target.stat().st_ino == inode
    second = fetch(site.port, "/inplace.atom")
    assert (second.status, second.body) == (200, v2)
    assert second.headers["etag"] != first.headers["etag"]
    stale = fetch(site.port, "/inplace.atom", headers={"Accept-Encoding": "identity",
                                                        "If-None-Match": first.headers["etag"]})
    assert (stale.status, stale.body) == (200, v2)


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("path", ["/archive%2Ftech-2024.atom", "/archive%2F..%2Ftech.atom", "/%2Ftech.atom"])
def test_an_uppercase_encoded_slash_is_refused(site: Site, path: str) -> None:
    """Kills M40 (the raw-URI check for ``%2f``/``%5c``/``%00`` made case-sensitive). serve.py promises 400 for an
    encoded ``/``; decoded into a separator, ``%2F`` lets a request past a reverse proxy's rules for a path."""
    assert fetch(site.port, "/archive/tech-2024.atom").status == 200  # the file is there
    assert fetch(site.port, path).status == 400


def test_a_redirect_to_a_non_ascii_directory_is_percent_encoded(site: Site) -> None:
    """Kills M44 (the segments of a directory's redirect not quoted). Location must be a URI reference (RFC 9110
    10.2.2): ASCII, the same %-encoding the client sent, which the reader then follows to the directory's index."""
    resp = fetch(site.port, "/caf%C3%A9")
    assert resp.status == 301
    assert resp.headers["location"] == "/caf%C3%A9/"
    index = fetch(site.port, resp.headers["location"])
    assert (index.status, index.body) == (200, (site.out / "café" / "index.html").read_bytes())


def test_gzip_of_a_document_decodes_to_it(site: Site) -> None:
    """Guards the fixture: the big document is gzipped for a plain ``gzip`` (so the q=0 tests above test something)."""
    resp = fetch(site.port, "/tech.atom", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["content-encoding"] == "gzip"
    assert gzip.decompress(resp.body) == (site.out / "tech.atom").read_bytes()
