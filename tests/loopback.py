"""A small threaded HTTP server on 127.0.0.1 for tests: routes map a path to a handler.

Responses are written in one send (headers + body) with TCP_NODELAY, so keep-alive clients do not
stall on Nagle's algorithm. Every request is recorded with its headers.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    at: float


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]



class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a fetcher with 32 workers on a loaded machine overflowed
    # it, and the dropped SYNs came back after the kernel's 1 s retry, past a test's 0.5 s connect timeout
    request_queue_size = 128

class Loopback:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                              time.monotonic())
                outer.requests.append(req)
                handler = outer.routes.get(self.path.split("?")[0])
                resp = handler(req) if handler else Response(404, b"not found")
                head = [f"HTTP/1.1 {resp.status} X"]
                hdrs = {"Content-Length": str(len(resp.body)), **resp.headers}
                head += [f"{k}: {v}" for k, v in hdrs.items()]
                data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
                if self.command != "HEAD":
                    data += resp.body
                self.wfile.write(data)
                self.wfile.flush()

            do_GET = _serve
            do_HEAD = _serve

        self.server = _Server(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def static(body: bytes, *, etag: str | None = None, last_modified: str | None = None,
           content_type: str = "application/rss+xml", extra: dict[str, str] | None = None) -> Handler:
    """A resource honouring conditional GET."""

    def handle(req: Request) -> Response:
        if etag and req.headers.get("if-none-match") == etag:
            return Response(304, b"", {"ETag": etag})
        if last_modified and not etag and req.headers.get("if-modified-since") == last_modified:
            return Response(304, b"", {"Last-Modified": last_modified})
        h = {"Content-Type": content_type, **(extra or {})}
        if etag:
            h["ETag"] = etag
        if last_modified:
            h["Last-Modified"] = last_modified
        return Response(200, body, h)

    return handle
