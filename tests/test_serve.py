"""Tests for feeds.serve: the server runs in a subprocess and is spoken to over loopback HTTP."""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import http.client
import io
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from feeds.serve import _FileCache, make_app

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MAX_AGE = 123
FIXED_MTIME = 1704164645  # Tue, 02 Jan 2024 03:04:05 GMT
FIXED_HTTP_DATE = "Tue, 02 Jan 2024 03:04:05 GMT"
SECRET = f"SECRET-{uuid.uuid4().hex}"
HIDDEN = f"HIDDEN-{uuid.uuid4().hex}"


# --------------------------------------------------------------------------- helpers


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    out: Path
    secret_path: Path


def _atom(entries: int) -> str:
    items = "".join(
        f"<entry><id>urn:x:{i}</id><title>Story {i}</title><updated>2024-01-02T03:04:05Z</updated>"
        f"<summary>Summary of story number {i}, long enough to make gzip worthwhile.</summary></entry>\n"
        for i in range(entries)
    )
    return f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n{items}</feed>\n'


def _start(directory: Path, log_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "feeds.serve", str(directory), "--host", HOST, "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=REPO_ROOT,
            env=env,
        )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline().decode() if ready else ""
    match = re.fullmatch(rf"listening on http://{re.escape(HOST)}:(\d+)/\n", line)
    if match is None:
        _stop(proc)
        pytest.fail(f"server did not start: {line!r}; log: {log_path.read_text(errors='replace')}")
    return proc, int(match.group(1))


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int | None:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return None
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


def fetch(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Response:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        # http.client sends the target exactly as given (no dot-segment normalisation).
        conn.request(method, path, headers=headers or {"Accept-Encoding": "identity"})
        resp = conn.getresponse()
        body = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes and read everything until the server closes the connection."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def split_raw(data: bytes) -> tuple[str, dict[str, str], bytes]:
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, data
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers, rest


# --------------------------------------------------------------------------- fixtures


def _build_site(root: Path) -> tuple[Path, Path]:
    out = root / "out"
    (out / "archive").mkdir(parents=True)
    (out / "empty").mkdir()
    secret_path = root / "secret.txt"
    secret_path.write_text(SECRET)

    files = {
        "tech.atom": _atom(100),
        "tech.json": '{"version": "https://jsonfeed.org/version/1.1", "title": "tech", "items": []}',
        "tech.rss": "<rss version='2.0'><channel><title>tech</title></channel></rss>",
        "index.opml": "<opml version='2.0'><body/></opml>",
        "index.html": "<!doctype html><title>index</title><p>channels</p>",
        "tech.html": "<!doctype html><title>tech</title>",
        "style.css": "body { color: black }",
        "sitemap.xml": "<urlset/>",
        "notes.txt": "plain notes",
        "café.atom": "<feed>café</feed>",
        "archive/index.html": "<!doctype html><title>archive</title>",
        "archive/tech-2024.atom": _atom(3),
        ".tech.atom.tmp": HIDDEN,
        "archive/.hidden.atom": HIDDEN,
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    (out / "data.bin").write_bytes(bytes(range(256)))
    for path in out.rglob("*"):
        if path.is_file():
            os.utime(path, (FIXED_MTIME, FIXED_MTIME))

    (out / "leak.atom").symlink_to(secret_path)  # file symlink pointing outside
    (out / "outside").symlink_to(root)  # directory symlink pointing outside
    (out / "alias.atom").symlink_to("tech.atom")  # symlink staying inside: allowed
    (out / "to-hidden.atom").symlink_to(".tech.atom.tmp")  # resolves to a dot-file
    return out, secret_path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("serve")
    out, secret_path = _build_site(root)
    log_path = root / "server.log"
    proc, port = _start(out, log_path, "--max-age", str(MAX_AGE))
    yield Server(proc, port, log_path, out, secret_path)
    assert _stop(proc) == 0


# --------------------------------------------------------------------------- basic GET / 304


def test_get_returns_file_with_validators(server: Server) -> None:
    resp = fetch(server.port, "/tech.atom")
    assert resp.status == 200
    assert resp.body == (server.out / "tech.atom").read_bytes()
    assert resp.headers["content-length"] == str(len(resp.body))
    etag = resp.headers["etag"]
    assert re.fullmatch(r'"[^"]+"', etag), etag  # strong and quoted
    assert resp.headers["last-modified"] == FIXED_HTTP_DATE
    assert resp.headers["cache-control"] == f"public, max-age={MAX_AGE}"
    assert "content-encoding" not in resp.headers


def test_a_query_names_the_same_file(server: Server) -> None:
    # the live feed links the open archive page with the archive's size as a query (`3.atom?n=237`)
    plain = fetch(server.port, "/archive/tech-2024.atom")
    queried = fetch(server.port, "/archive/tech-2024.atom?n=237")
    assert plain.status == queried.status == 200
    assert queried.body == plain.body == (server.out / "archive/tech-2024.atom").read_bytes()
    assert queried.headers["etag"] == plain.headers["etag"]


def test_if_none_match_gives_304(server: Server) -> None:
    etag = fetch(server.port, "/tech.atom").headers["etag"]
    for header in (etag, f"W/{etag}", f'"nope", {etag}', f'"a,b", W/"x" ,{etag}', "*"):
        resp = fetch(server.port, "/tech.atom", headers={"If-None-Match": header})
        assert resp.status == 304, header
        assert resp.body == b""
        assert resp.headers["etag"] == etag
        assert resp.headers["cache-control"] == f"public, max-age={MAX_AGE}"
        assert "content-type" not in resp.headers
    for header in ('"nope"', etag[:-2] + '"', f'"{etag}"'):
        resp = fetch(server.port, "/tech.atom", headers={"If-None-Match": header})
        assert resp.status == 200, header
        assert resp.body == (server.out / "tech.atom").read_bytes()


def test_if_modified_since(server: Server) -> None:
    def status(**headers: str) -> int:
        return fetch(server.port, "/tech.rss", headers={k.replace("_", "-"): v for k, v in headers.items()}).status

    later = email.utils.formatdate(FIXED_MTIME + 3600, usegmt=True)
    earlier = email.utils.formatdate(FIXED_MTIME - 86400, usegmt=True)
    assert status(If_Modified_Since=FIXED_HTTP_DATE) == 304
    # a later date is not this file's: 200 (a file rewritten after the clock was set back is older than a
    # date it was served with before; the date it is served with is the one a reader sends back)
    assert status(If_Modified_Since=later) == 200
    assert status(If_Modified_Since="Tuesday, 02-Jan-24 03:04:05 GMT") == 304  # obsolete RFC 850 form
    assert status(If_Modified_Since=earlier) == 200
    assert status(If_Modified_Since="not a date") == 200
    # If-None-Match takes precedence: a mismatching tag means 200 even though not modified.
    assert status(If_Modified_Since=FIXED_HTTP_DATE, If_None_Match='"nope"') == 200


def test_if_match_and_if_unmodified_since(server: Server) -> None:
    etag = fetch(server.port, "/tech.rss").headers["etag"]
    assert fetch(server.port, "/tech.rss", headers={"If-Match": etag}).status == 200
    assert fetch(server.port, "/tech.rss", headers={"If-Match": '"other"'}).status == 412
    assert fetch(server.port, "/tech.rss", headers={"If-Match": f"W/{etag}"}).status == 412  # strong
    earlier = email.utils.formatdate(FIXED_MTIME - 10, usegmt=True)
    assert fetch(server.port, "/tech.rss", headers={"If-Unmodified-Since": earlier}).status == 412
    assert fetch(server.port, "/tech.rss", headers={"If-Unmodified-Since": FIXED_HTTP_DATE}).status == 200


# --------------------------------------------------------------------------- gzip


def test_gzip_variant(server: Server) -> None:
    original = (server.out / "tech.atom").read_bytes()
    plain = fetch(server.port, "/tech.atom", headers={"Accept-Encoding": "identity"})
    zipped = fetch(server.port, "/tech.atom", headers={"Accept-Encoding": "gzip"})
    assert zipped.status == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in zipped.headers["vary"].lower()
    assert "accept-encoding" in plain.headers["vary"].lower()
    assert len(zipped.body) < len(original)
    assert int(zipped.headers["content-length"]) == len(zipped.body)
    assert gzip.decompress(zipped.body) == original
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert zipped.headers["content-type"] == plain.headers["content-type"]

    gz_tag, id_tag = zipped.headers["etag"], plain.headers["etag"]
    gz_304 = fetch(server.port, "/tech.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": gz_tag})
    assert gz_304.status == 304
    assert gz_304.headers["etag"] == gz_tag
    assert "accept-encoding" in gz_304.headers["vary"].lower()
    id_304 = fetch(server.port, "/tech.atom", headers={"Accept-Encoding": "identity", "If-None-Match": id_tag})
    assert id_304.status == 304
    assert id_304.headers["etag"] == id_tag
    # A validator of the other variant does not validate the selected one.
    crossed = fetch(server.port, "/tech.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": id_tag})
    assert crossed.status == 200 and gzip.decompress(crossed.body) == original
    crossed = fetch(server.port, "/tech.atom", headers={"Accept-Encoding": "identity", "If-None-Match": gz_tag})
    assert crossed.status == 200 and crossed.body == original


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("*;q=0", False),
        ("identity", False),
        ("br", False),
        ("", False),
        ("gzip;q=0.2, identity;q=0.8", False),
        ("gzip;q=bogus", False),
    ],
)
def test_accept_encoding_negotiation(server: Server, accept: str, gzipped: bool) -> None:
    resp = fetch(server.port, "/tech.atom", headers={"Accept-Encoding": accept})
    assert resp.status == 200
    assert (resp.headers.get("content-encoding") == "gzip") is gzipped
    body = gzip.decompress(resp.body) if gzipped else resp.body
    assert body == (server.out / "tech.atom").read_bytes()


def test_tiny_and_binary_files_are_not_gzipped(server: Server) -> None:
    for path in ("/index.html", "/data.bin"):
        resp = fetch(server.port, path, headers={"Accept-Encoding": "gzip"})
        assert resp.status == 200
        assert "content-encoding" not in resp.headers, path


# --------------------------------------------------------------------------- HEAD, types, directories


def test_head_has_get_headers_and_no_body(server: Server) -> None:
    for accept in ("identity", "gzip"):

        def request(method: str, accept: str = accept) -> bytes:
            head = f"{method} /tech.atom HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {accept}\r\n"
            return raw_exchange(server.port, (head + "Connection: close\r\n\r\n").encode())

        get_status, get_headers, get_body = split_raw(request("GET"))
        head_status, head_headers, head_body = split_raw(request("HEAD"))
        assert get_status == head_status == "HTTP/1.1 200 OK"
        assert head_body == b""  # nothing at all after the header block
        assert int(get_headers["content-length"]) == len(get_body) > 0
        get_headers.pop("date", None)
        head_headers.pop("date", None)
        assert head_headers == get_headers


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/tech.atom", "application/atom+xml; charset=utf-8"),
        ("/tech.rss", "application/rss+xml; charset=utf-8"),
        ("/tech.json", "application/feed+json; charset=utf-8"),
        ("/index.opml", "text/x-opml; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/tech.html", "text/html; charset=utf-8"),
        ("/style.css", "text/css"),
        ("/sitemap.xml", "application/xml"),
        ("/data.bin", "application/octet-stream"),
        ("/notes.txt", "application/octet-stream"),
        ("/archive/tech-2024.atom", "application/atom+xml; charset=utf-8"),
        ("/caf%C3%A9.atom", "application/atom+xml; charset=utf-8"),
    ],
)
def test_content_types(server: Server, path: str, content_type: str) -> None:
    resp = fetch(server.port, path)
    assert resp.status == 200
    assert resp.headers["content-type"] == content_type


def test_root_and_directory_indexes(server: Server) -> None:
    root = fetch(server.port, "/")
    assert root.status == 200
    assert root.body == (server.out / "index.html").read_bytes()
    assert root.headers["content-type"] == "text/html; charset=utf-8"
    archive = fetch(server.port, "/archive/")
    assert archive.status == 200
    assert archive.body == (server.out / "archive" / "index.html").read_bytes()
    redirect = fetch(server.port, "/archive")
    assert redirect.status == 301
    assert redirect.headers["location"] == "/archive/"
    assert fetch(server.port, "/archive/?page=2").status == 200  # query strings are ignored
    for path in ("/empty/", "/empty", "/tech.atom/", "/missing.atom", "/archive/missing.atom"):
        assert fetch(server.port, path).status == 404, path


def test_symlink_inside_directory_is_served(server: Server) -> None:
    resp = fetch(server.port, "/alias.atom")
    assert resp.status == 200
    assert resp.body == (server.out / "tech.atom").read_bytes()


# --------------------------------------------------------------------------- confinement


TRAVERSALS = [
    "/../secret.txt",
    "/../../secret.txt",
    "/archive/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/archive%2f..%2f..%2fsecret.txt",
    "/%252e%252e/secret.txt",
    "//etc/passwd",
    "/etc/passwd",
    "{abs}",
    "/{abs}",
    "/..\\secret.txt",
    "/..%5csecret.txt",
    "/%5c..%5csecret.txt",
    "/tech.atom%00.html",
    "/%00",
    "/%ff.atom",
    "/leak.atom",
    "/outside/secret.txt",
    "/outside/out/../secret.txt",
    "/.tech.atom.tmp",
    "/%2etech.atom.tmp",
    "/archive/.hidden.atom",
    "/to-hidden.atom",
    "/./tech.atom",
    "http://127.0.0.1/../secret.txt",
]


@pytest.mark.parametrize("template", TRAVERSALS)
def test_traversal_is_refused(server: Server, template: str) -> None:
    assert SECRET in server.secret_path.read_text()  # the bait really exists
    path = template.format(abs=server.secret_path)
    for method in ("GET", "HEAD"):
        resp = fetch(server.port, path, method=method, headers={"Accept-Encoding": "identity"})
        assert resp.status in (400, 404), (path, resp.status)
        assert SECRET.encode() not in resp.body
        assert HIDDEN.encode() not in resp.body
        assert b"root:" not in resp.body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/leak.atom", 404),
        ("/outside/secret.txt", 404),
        ("/.tech.atom.tmp", 404),
        ("/to-hidden.atom", 404),
        ("/%2e%2e%2fsecret.txt", 400),
        ("/../secret.txt", 400),
        ("/..\\secret.txt", 400),
        ("/tech.atom%00", 400),
        ("/archive%2ftech-2024.atom", 400),  # an encoded slash is refused even when harmless
        ("/archive%5ctech-2024.atom", 400),
    ],
)
def test_refusal_status(server: Server, path: str, status: int) -> None:
    assert fetch(server.port, path).status == status


def test_raw_request_line_traversal(server: Server) -> None:
    for target in ("/../secret.txt", "/..%2f..%2fsecret.txt", "/archive/..\\..\\secret.txt"):
        data = raw_exchange(server.port, f"GET {target} HTTP/1.0\r\n\r\n".encode())
        status_line, _, body = split_raw(data)
        assert status_line.split()[1] in ("400", "404"), (target, status_line)
        assert SECRET.encode() not in data


# --------------------------------------------------------------------------- methods, replacement, log


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(server: Server, method: str) -> None:
    before = (server.out / "tech.json").read_bytes()
    conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
    try:
        conn.request(method, "/tech.json", body=b"payload", headers={"Content-Type": "text/plain"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 405
        allow = {m.strip() for m in (resp.getheader("Allow") or "").split(",")}
        assert allow == {"GET", "HEAD"}
    finally:
        conn.close()
    assert (server.out / "tech.json").read_bytes() == before


def _replace(target: Path, data: bytes, mtime_ns: int | None = None) -> None:
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    tmp.write_bytes(data)
    if mtime_ns is not None:
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
    os.replace(tmp, target)


def test_atomic_replace_gets_new_etag(server: Server) -> None:
    target = server.out / "replace.atom"
    first = _atom(5).encode()
    _replace(target, first)
    resp1 = fetch(server.port, "/replace.atom")
    assert resp1.status == 200 and resp1.body == first
    # Same size and same mtime: only the inode tells the versions apart.
    second = first.replace(b"Story 1<", b"Story X<")
    assert len(second) == len(first) and second != first
    _replace(target, second, mtime_ns=target.stat().st_mtime_ns)
    resp2 = fetch(server.port, "/replace.atom")
    assert resp2.status == 200 and resp2.body == second
    assert resp2.headers["etag"] != resp1.headers["etag"]
    stale = fetch(server.port, "/replace.atom", headers={"If-None-Match": resp1.headers["etag"]})
    assert stale.status == 200 and stale.body == second
    fresh = fetch(server.port, "/replace.atom", headers={"If-None-Match": resp2.headers["etag"]})
    assert fresh.status == 304
    # Different size and mtime, gzip variant too.
    third = _atom(20).encode()
    _replace(target, third)
    resp3 = fetch(server.port, "/replace.atom", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(resp3.body) == third
    assert resp3.headers["etag"] not in (resp1.headers["etag"], resp2.headers["etag"])


def test_access_log_lines(server: Server) -> None:
    marker = f"/log-{uuid.uuid4().hex}.atom"
    assert fetch(server.port, marker).status == 404
    assert fetch(server.port, "/tech.json").status == 200
    pattern = re.compile(
        r'^127\.0\.0\.1 - - \[[^\]]+\] "GET (?P<path>\S+) HTTP/1\.1" (?P<status>\d{3}) (?P<size>\d+) '
        r"(?P<ms>\d+\.\d)ms$"
    )
    deadline_reads = 50
    found: dict[str, re.Match[str]] = {}
    for _ in range(deadline_reads):  # the line is written before the response, but be lenient
        for line in server.log_path.read_text(errors="replace").splitlines():
            m = pattern.match(line)
            if m and m["path"] in (marker, "/tech.json"):
                found[m["path"]] = m
        if len(found) == 2:
            break
        select.select([], [], [], 0.1)
    assert found[marker]["status"] == "404"
    assert found["/tech.json"]["status"] == "200"
    assert int(found["/tech.json"]["size"]) == (server.out / "tech.json").stat().st_size


# --------------------------------------------------------------------------- shutdown


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_server_cleanly(tmp_path: Path, sig: int) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.atom").write_text(_atom(2))
    proc, port = _start(tmp_path / "out", tmp_path / "log")
    try:
        # Keep an idle keep-alive connection open while stopping.
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        conn.request("GET", "/a.atom")
        assert conn.getresponse().read() == (tmp_path / "out" / "a.atom").read_bytes()
        assert proc.poll() is None
    finally:
        code = _stop(proc, sig)
        conn.close()
    assert code == 0, (tmp_path / "log").read_text()


def test_cli_rejects_missing_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "feeds.serve", str(tmp_path / "nope"), "--port", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert b"not a directory" in result.stderr


# --------------------------------------------------------------------------- in-process units


def _call(
    app: Any, path: str, method: str = "GET", SCRIPT_NAME: str = "", **headers: str
) -> tuple[str, dict[str, str], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = status
        captured["headers"] = dict(response_headers)
        return lambda data: None

    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": SCRIPT_NAME,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(),
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    }
    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


def test_make_app_uses_given_logger_and_max_age(tmp_path: Path) -> None:
    (tmp_path / "a.rss").write_text("<rss/>")
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(f"test.serve.{uuid.uuid4().hex}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(Collect())
    app = make_app(tmp_path, max_age=7, access_log=logger)
    status, headers, body = _call(app, "/a.rss")
    assert status == "200 OK" and body == b"<rss/>"
    assert headers["Cache-Control"] == "public, max-age=7"
    assert len(records) == 1
    line = records[0].getMessage()
    assert '"GET /a.rss HTTP/1.1" 200 6 ' in line and line.startswith("127.0.0.1 ")


def test_default_logger_is_feeds_serve(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a.rss").write_text("<rss/>")
    with caplog.at_level(logging.INFO, logger="feeds.serve"):
        _call(make_app(tmp_path), "/missing.rss")
    assert [r.name for r in caplog.records] == ["feeds.serve"]
    assert " 404 " in caplog.records[0].getMessage()


def test_wsgi_path_info_confinement(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "secret.txt").write_text(SECRET)
    (out / "ok.atom").write_text("<feed/>")
    app = make_app(out)
    assert _call(app, "/ok.atom")[0] == "200 OK"
    for path in ("/../secret.txt", "/x/../../secret.txt", "/..\\secret.txt", "/ok.atom\x00", ""):
        status, _, body = _call(app, path)
        if path == "":  # empty PATH_INFO means the root, which has no index here
            assert status == "404 Not Found"
        else:
            assert status in ("400 Bad Request", "404 Not Found"), path
        assert SECRET.encode() not in body
    assert _call(app, "/ok.atom", method="get")[0].startswith("405")


def test_directory_redirect_keeps_script_name(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "index.html").write_text("<p>archive</p>")
    app = make_app(tmp_path)
    status, headers, _ = _call(app, "/archive", SCRIPT_NAME="/feeds")
    assert status == "301 Moved Permanently"
    assert headers["Location"] == "/feeds/archive/"


def test_file_cache_is_bounded() -> None:
    from feeds.serve import _Entry, _Variant

    def entry(size: int) -> _Entry:
        return _Entry(0, _Variant(b"x" * size, '"t"', (), ()), None)

    cache = _FileCache(max_entries=3, max_bytes=100)
    for i in range(10):
        cache.put((f"/f{i}", 0, i, 0, 10), entry(10))
    assert len(cache) == 3
    assert cache.get(("/f9", 0, 9, 0, 10)) is not None
    assert cache.get(("/f0", 0, 0, 0, 10)) is None
    cache.put(("/big", 0, 99, 0, 60), entry(60))
    cache.put(("/big2", 0, 98, 0, 60), entry(60))
    assert cache.total_bytes <= 100
    cache.put(("/huge", 0, 97, 0, 500), entry(500))  # larger than the whole cache: not kept
    assert cache.get(("/huge", 0, 97, 0, 500)) is None
    # A new version of a path evicts the old one at once.
    cache.put(("/p", 0, 1, 1, 5), entry(5))
    cache.put(("/p", 0, 2, 2, 5), entry(5))
    assert cache.get(("/p", 0, 1, 1, 5)) is None
    assert cache.get(("/p", 0, 2, 2, 5)) is not None


def test_cached_responses_do_not_reread_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.atom").write_text(_atom(10))
    app = make_app(tmp_path)
    first = _call(app, "/a.atom")
    opened: list[IO[bytes] | str] = []
    real_open = os.open

    def counting_open(path: str, *args: Any, **kwargs: Any) -> int:
        opened.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting_open)
    assert _call(app, "/a.atom") == first
    assert _call(app, "/a.atom", if_none_match=first[1]["ETag"])[0] == "304 Not Modified"
    assert opened == []


def test_file_swapped_between_check_and_open_is_rechecked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "secret.txt").write_text(SECRET)
    (out / "a.atom").write_text("<feed>old</feed>")
    (out / "b.atom").write_text("<feed>b</feed>")
    app = make_app(out)
    real_open = os.open
    calls: list[str] = []

    def swapping_open(path: str, *args: Any, **kwargs: Any) -> int:
        calls.append(os.path.basename(path))
        if len(calls) == 1:
            if path.endswith("a.atom"):  # replaced by a new file after the checks
                _replace(out / "a.atom", b"<feed>new</feed>")
            else:  # replaced by a symlink leading outside after the checks
                tmp_link = out / ".swap"
                tmp_link.symlink_to(tmp_path / "secret.txt")
                os.replace(tmp_link, out / "b.atom")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", swapping_open)
    status, _, body = _call(app, "/a.atom")
    assert (status, body) == ("200 OK", b"<feed>new</feed>")
    assert calls == ["a.atom", "a.atom"]
    calls.clear()
    status, _, body = _call(app, "/b.atom")
    assert status == "404 Not Found"
    assert SECRET.encode() not in body


# --------------------------------------------------------------------------- connections


def test_idle_connections_neither_lock_others_out_nor_stay_open(tmp_path: Path) -> None:
    # waitress's defaults: at most 100 connections, an idle one closed after 120 s; 100 clients sending
    # half a request each made the server answer no one else for two minutes
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.atom").write_text(_atom(2))
    proc, port = _start(tmp_path / "out", tmp_path / "log")
    idle: list[socket.socket] = []
    try:
        for _ in range(150):
            sock = socket.create_connection((HOST, port), timeout=10)
            sock.sendall(b"GET /a.atom HTTP/1.1\r\n")  # a request that never ends
            idle.append(sock)
        resp = fetch(port, "/a.atom")  # within fetch's 10 s timeout
        assert resp.status == 200 and resp.body == (tmp_path / "out" / "a.atom").read_bytes()
        # and the silent ones are closed by the server (after 20 s of silence, checked every 5 s)
        started = time.monotonic()
        for sock in idle:
            sock.settimeout(max(0.1, started + 60 - time.monotonic()))
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1024) == b""
    finally:
        for sock in idle:
            sock.close()
        assert _stop(proc) == 0


def test_the_connection_limit_leaves_room_for_the_other_files(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    from feeds import serve

    for soft, limit in [(20000, 4096), (1024, 896), (256, 128), (64, 32), (resource.RLIM_INFINITY, 4096)]:
        monkeypatch.setattr(resource, "getrlimit", lambda _which, soft=soft: (soft, resource.RLIM_INFINITY))
        assert serve._connection_limit() == limit, soft


def test_a_file_replaced_twice_within_one_second_is_not_validated_by_that_second(tmp_path: Path) -> None:
    # Last-Modified counts whole seconds: version 1 and version 2 written within one second had the same,
    # and a reader revalidating version 1 with If-Modified-Since alone got 304 for version 2
    app = make_app(tmp_path)
    target = tmp_path / "a.atom"
    v1, v2 = b"<feed>version 1</feed>", b"<feed>version 2, a new story</feed>"
    for _attempt in range(5):
        while time.time() % 1 > 0.5:  # the first half of a second
            time.sleep(0.01)
        second = int(time.time())
        _replace(target, v1)
        status, headers, body = _call(app, "/a.atom")
        _replace(target, v2)
        if int(target.stat().st_mtime) == second == int(time.time()):
            break
    else:
        pytest.fail("could not write twice and read within one second")
    assert (status, body) == ("200 OK", v1)
    assert "Last-Modified" not in headers and headers["ETag"]  # it may change again within this second
    date = email.utils.formatdate(second, usegmt=True)  # as a client might send it anyway (a Date, say)
    assert _call(app, "/a.atom", if_modified_since=date)[::2] == ("200 OK", v2)
    # once the second is over, the same (cached) entry has its Last-Modified, and it is honoured
    time.sleep(max(0.0, second + 1.6 - time.time()))
    status, headers, body = _call(app, "/a.atom")
    assert (status, body, headers["Last-Modified"]) == ("200 OK", v2, date)
    assert _call(app, "/a.atom", if_modified_since=date)[0] == "304 Not Modified"


def test_a_file_rewritten_after_the_clock_was_set_back_is_not_answered_304(tmp_path: Path) -> None:
    # version 1 served with its Last-Modified; the clock then set back a day and version 2 written: its mtime
    # is older than the date the reader sends back, which answered 304 (If-Modified-Since alone) for a day
    app = make_app(tmp_path)
    target = tmp_path / "a.atom"
    v1, v2 = b"<feed>version 1</feed>", b"<feed>version 2, a new story</feed>"
    _replace(target, v1)
    old = time.time() - 10
    os.utime(target, (old, old))
    status, headers, body = _call(app, "/a.atom")
    assert (status, body) == ("200 OK", v1)
    served = headers["Last-Modified"]
    _replace(target, v2)
    os.utime(target, (old - 86400, old - 86400))
    assert _call(app, "/a.atom", if_modified_since=served)[::2] == ("200 OK", v2)
    assert _call(app, "/a.atom", if_modified_since=_call(app, "/a.atom")[1]["Last-Modified"])[0] == "304 Not Modified"
