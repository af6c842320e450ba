"""Loopback feed server for the benchmark, run in its own process.

    python3 bench/server.py --sources 200 --items 50 --seed 1 --base 1735689600 [--real DIR] [--lifetime 3600]

Prints ``port N`` on stdout once it listens on 127.0.0.1 (an ephemeral port), then serves:

* ``/g/<i>.xml`` and ``/g/<i>.atom``: generated feed i (bench/corpus.py, same seed and base time);
* ``/r/<name>``: file <name> of the real corpus directory given with --real;
* ``/_mode/<mode>``: switch every feed's behaviour (answers ``ok``):
    - ``normal``: strong ETag and Last-Modified; If-None-Match / If-Modified-Since answer 304;
    - ``build-date``: every request gets a new lastBuildDate (RSS) or feed <updated> (Atom), so the
      body differs from the last one only in that element, with a new ETag and Last-Modified;
    - ``no-validators``: always 200 with the same bytes, no ETag or Last-Modified, and request
      validators are ignored;
    - ``new-items``: as ``normal``, but one generated feed in NEW_EVERY has one more item (published at
      the base time, first in the feed), so it has a new ETag and answers 200 -- a run where a little changed;
* ``/_stats``: JSON counters (connections accepted, requests, responses by status), ``/_stats/reset`` zeroes them.

Responses are written in one send (headers and body together) on sockets with TCP_NODELAY, so
keep-alive clients never wait out a delayed ACK. The server leaves by itself when its parent dies,
when its stdin closes, or after --lifetime seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

MODES = ("normal", "build-date", "no-validators", "new-items")
NEW_EVERY = 20  # new-items mode: feeds 0, 20, 40, ... have one more item


@dataclass
class Doc:
    body: bytes
    etag: str
    last_modified: str
    modified_at: datetime
    content_type: str
    prefix: bytes = b""  # build-date mode: prefix + date + suffix
    suffix: bytes = b""
    kind: str = ""  # "rss" / "atom" for generated feeds; "" for real files (no build-date rewriting)


def _etag(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


class State:
    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.new_docs: dict[str, Doc] = {}  # new-items mode: path -> the feed with one more item
        self.mode = "normal"
        self.lock = threading.Lock()
        self.counter = 0
        self.stats: dict[str, int] = {}
        self.clock = corpus.default_base()

    def count(self, key: str) -> None:
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1

    def next_tick(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter


def _doc(feed: corpus.Feed, when: datetime) -> Doc:
    prefix, suffix = corpus.template(feed)
    body = prefix + corpus.build_date(feed, when) + suffix
    return Doc(body=body, etag=_etag(body), last_modified=format_datetime(when, usegmt=True), modified_at=when,
               content_type=feed.content_type, prefix=prefix, suffix=suffix, kind=feed.kind)


def load_generated(state: State, spec: corpus.Spec) -> None:
    for feed in corpus.feeds(spec):
        state.docs[feed.path] = _doc(feed, spec.base)
        if feed.index % NEW_EVERY == 0:
            state.new_docs[feed.path] = _doc(corpus.with_new_item(spec, feed), spec.base + timedelta(minutes=1))


def load_real(state: State, directory: Path) -> None:
    modified = datetime(2025, 1, 1, tzinfo=UTC)
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.upper().startswith("LICENSE"):
            continue
        body = path.read_bytes()
        state.docs[f"/r/{path.name}"] = Doc(body=body, etag=_etag(body),
                                            last_modified=format_datetime(modified, usegmt=True),
                                            modified_at=modified, content_type="application/xml")


def _not_modified(doc: Doc, inm: str | None, ims: str | None) -> bool:
    if inm is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
        return any(t.strip() in (doc.etag, "*") for t in inm.split(","))
    if ims is not None:
        try:
            return doc.modified_at <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "feeds-bench"
        sys_version = ""

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            state.count("connections")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                     f"Date: {self.date_time_string()}", "Server: feeds-bench",
                     f"Content-Length: {len(body)}"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            self.wfile.write(head + body if self.command != "HEAD" else head)
            state.count(str(status))

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            state.count("requests")
            path = self.path.split("?", 1)[0]
            if path.startswith("/_"):
                self._control(path)
                return
            doc = state.docs.get(path)
            if doc is None:
                self._send(404, b"not found\n", {"Content-Type": "text/plain"})
                return
            mode = state.mode
            if mode == "no-validators":
                self._send(200, doc.body, {"Content-Type": doc.content_type})
                return
            if mode == "build-date" and doc.kind:
                tick = state.next_tick()
                when = state.clock + timedelta(seconds=tick)
                body = doc.prefix + (corpus.atom_date(when) if doc.kind == "atom" else corpus.rss_date(when)).encode() \
                    + doc.suffix
                self._send(200, body, {"Content-Type": doc.content_type, "ETag": f'"b{tick}-{doc.etag[1:-1]}"',
                                       "Last-Modified": format_datetime(when, usegmt=True)})
                return
            if mode == "new-items":
                doc = state.new_docs.get(path, doc)
            if _not_modified(doc, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")):
                self._send(304, b"", {"ETag": doc.etag, "Last-Modified": doc.last_modified})
                return
            self._send(200, doc.body, {"Content-Type": doc.content_type, "ETag": doc.etag,
                                       "Last-Modified": doc.last_modified})

        def _control(self, path: str) -> None:
            if path.startswith("/_mode/") and path[7:] in MODES:
                state.mode = path[7:]
                self._send(200, b"ok\n", {"Content-Type": "text/plain"})
            elif path == "/_stats":
                with state.lock:
                    data = json.dumps(dict(state.stats, mode=state.mode, docs=len(state.docs))).encode()
                self._send(200, data, {"Content-Type": "application/json"})
            elif path == "/_stats/reset":
                with state.lock:
                    state.stats.clear()
                self._send(200, b"ok\n", {"Content-Type": "text/plain"})
            else:
                self._send(404, b"unknown control\n", {"Content-Type": "text/plain"})

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def _watchdog(server: Server, parent: int, lifetime: float) -> None:
    """Stop when the parent is gone, stdin closes or the lifetime is over (bounded: checks every 0.2 s)."""
    deadline = time.monotonic() + lifetime

    def stdin_closed() -> None:
        try:
            while sys.stdin.buffer.read(1024):
                pass
        except (OSError, ValueError):
            pass
        server.shutdown_requested = True  # type: ignore[attr-defined]

    threading.Thread(target=stdin_closed, daemon=True).start()
    while time.monotonic() < deadline:
        if os.getppid() != parent or getattr(server, "shutdown_requested", False):
            break
        time.sleep(0.2)
    server.shutdown()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="loopback feed server for bench/run.py")
    ap.add_argument("--sources", type=int, default=0)
    ap.add_argument("--items", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base", type=float, default=None, help="corpus base time, epoch seconds (default: this hour)")
    ap.add_argument("--real", type=Path, default=None, help="directory of real feed files to serve under /r/")
    ap.add_argument("--lifetime", type=float, default=3600.0, help="leave after this many seconds")
    ap.add_argument("--mode", choices=MODES, default="normal")
    a = ap.parse_args(argv)
    parent = os.getppid()
    state = State()
    state.mode = a.mode
    if a.sources and a.items:
        base = datetime.fromtimestamp(a.base, UTC) if a.base is not None else corpus.default_base()
        load_generated(state, corpus.Spec(a.sources, a.items, a.seed, base))
    if a.real is not None:
        load_real(state, a.real)
    server = Server(("127.0.0.1", 0), make_handler(state))
    threading.Thread(target=_watchdog, args=(server, parent, a.lifetime), daemon=True).start()
    print(f"port {server.server_address[1]} docs {len(state.docs)}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
