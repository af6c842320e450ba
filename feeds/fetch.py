"""HTTP and local-file fetching -> FetchResult. Never raises for a source's fault.

One requests Session per fetcher; connect/read timeouts plus a total deadline per source; a body
cap enforced while streaming (on decoded bytes, so a gzip bomb stops early); conditional GET with
validators sent back exactly as received; redirects followed by hand so 301/308 can be told from
302/307; at most `per_host` requests to one host at once.

The total deadline is enforced by a watchdog, not only between reads: a server that drips a byte
now and then never trips the per-read timeout, so when the deadline passes the socket in use is shut
down and the blocked read returns (see `_Guard`).
"""

from __future__ import annotations

import contextlib
import heapq
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from feeds import USER_AGENT
from feeds.config import Fetch as FetchConfig
from feeds.dedup import body_hash

PERMANENT = (301, 308)
TEMPORARY = (302, 303, 307)


@dataclass(frozen=True)
class FetchResult:
    url: str  # what was requested (the source's current fetch URL)
    status: int | None = None  # final HTTP status; 200 for a local file read, 304 for unchanged
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    final_url: str | None = None
    permanent_redirect: str | None = None  # target when every hop was 301/308
    error: str | None = None  # set when the fetch failed; the reason in a few words
    error_kind: str | None = None  # timeout, connect, http, too-large, deadline, redirects, empty, io
    retry_after: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    elapsed: float = 0.0
    body_hash: str | None = None  # dedup.body_hash of the body (feed-level dates masked)
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304


class _TooLarge(Exception):
    pass


_local = threading.local()  # the _Guard of the fetch running in this thread, if any


class _Guard:
    """Ends a fetch at its deadline: the socket it reads from is shut down so a blocked read returns.

    The connection classes below attach each socket to the guard of the fetch running in the thread
    right before they wait for a response, so it covers slow headers, slow bodies and every redirect hop.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.expired = False
        self.cancelled = False
        _WATCHDOG.add(time.monotonic() + max(0.0, seconds), self)

    def attach(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                _shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            _shutdown(self._sock)

    def cancel(self) -> None:
        self.cancelled = True
        with self._lock:
            self._sock = None


class _Watchdog:
    """One daemon thread firing the guards whose deadline passed (a thread per fetch cost ~0.2 ms each).
    Cancelled guards are dropped when they reach the top of the heap."""

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)  # the thread does not survive a fork

    def _reset(self) -> None:
        self._cv = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Guard]] = []
        self._seq = 0
        self._thread: threading.Thread | None = None

    def add(self, when: float, guard: _Guard) -> None:
        with self._cv:
            heapq.heappush(self._heap, (when, self._seq, guard))
            self._seq += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="fetch-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is guard:
                self._cv.notify()  # a new earliest deadline

    def _loop(self) -> None:
        cv, heap = self._cv, self._heap
        while True:
            with cv:
                while heap and heap[0][2].cancelled:
                    heapq.heappop(heap)
                if not heap:
                    cv.wait()
                    continue
                delay = heap[0][0] - time.monotonic()
                if delay > 0:
                    cv.wait(delay)
                    continue
                guard = heapq.heappop(heap)[2]
            if not guard.cancelled:
                guard._fire()


_WATCHDOG = _Watchdog()


def _shutdown(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _guarded_pools() -> dict[str, type]:
    """urllib3 pool classes whose connections attach their socket to the running fetch's _Guard."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.response import BaseHTTPResponse

    class GuardedHTTPConnection(HTTPConnection):
        def getresponse(self) -> BaseHTTPResponse:  # type: ignore[override]
            guard = getattr(_local, "guard", None)
            if guard is not None:
                guard.attach(self.sock)
            return super().getresponse()

    class GuardedHTTPSConnection(HTTPSConnection):
        def getresponse(self) -> BaseHTTPResponse:  # type: ignore[override]
            guard = getattr(_local, "guard", None)
            if guard is not None:
                guard.attach(self.sock)
            return super().getresponse()

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class _Deadline(Exception):
    pass


def _hash(body: bytes) -> str:
    # the hash the pipeline compares (feed-level dates masked), taken here in the fetch thread: hashlib
    # releases the GIL on large buffers, so it runs beside the pipeline instead of on its thread
    return body_hash(body)


def redact(url: str) -> str:
    """A URL fit for logs: user:password removed."""
    try:
        p = urlsplit(url)
    except ValueError:
        return url
    if p.username or p.password:
        host = p.hostname or ""
        if p.port:
            host += f":{p.port}"
        return p._replace(netloc=f"***@{host}").geturl()
    return url


class Fetcher:
    def __init__(self, cfg: FetchConfig) -> None:
        import requests  # lazily: `feeds --help` stays fast

        self.cfg = cfg
        self._requests = requests
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=32, pool_maxsize=max(cfg.workers, 4),
                                                max_retries=0)
        adapter.poolmanager.pool_classes_by_scheme = _guarded_pools()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = cfg.user_agent or USER_AGENT
        self.session.headers["Accept"] = ("application/atom+xml, application/rss+xml, application/rdf+xml, "
                                          "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
        self.session.headers["Accept-Encoding"] = "gzip, deflate"
        self.session.trust_env = False  # no proxies or netrc from the environment: fetch what config says
        # see _prepare: a prepared request per set of extra headers, prepared URLs, an empty cookie jar
        # that is never written (copies of a prepared request get their own)
        self._templates: dict[tuple[tuple[str, str], ...], Any] = {}
        self._urls: dict[str, str] = {}
        self._no_cookies = requests.cookies.RequestsCookieJar()
        self._host_lock = threading.Lock()
        self._host_sems: dict[str, threading.BoundedSemaphore] = {}

    def close(self) -> None:
        self.session.close()

    def _prepare(self, url: str, extra: Mapping[str, str], etag: str | None, last_modified: str | None) -> Any:
        """The request `session.get(url, headers=extra + validators)` would send, without
        Session.prepare_request (~0.2 ms of CPU per request: settings merged through generic isinstance
        checks, every header checked again, a cookie jar built). A request prepared the Session's way
        (session headers, then the source's extra headers, checked once) is copied per set of extra
        headers; the copy gets the URL (prepared once per URL), the validators (checked as requests checks
        headers) and auth from the URL's user:password, as PreparedRequest.prepare would. While the
        session holds cookies (a server set one) the session prepares every request, as before."""
        rq = self._requests
        if self.session.cookies:
            headers = dict(extra)
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            return self.session.prepare_request(rq.Request("GET", url, headers=headers))
        key = tuple(extra.items())
        template = self._templates.get(key)
        if template is None:
            template = rq.PreparedRequest()
            template.prepare(method="GET", url="http://localhost/", params="", cookies=self._no_cookies,
                             headers=rq.sessions.merge_setting(dict(extra), self.session.headers,
                                                               dict_class=rq.structures.CaseInsensitiveDict))
            self._templates[key] = template
        prepared = template.copy()
        target = self._urls.get(url)
        if target is None:
            prepared.prepare_url(url, "")
            if len(self._urls) >= 50_000:
                self._urls.clear()
            self._urls[url] = prepared.url
        else:
            prepared.url = target
        check = rq.utils.check_header_validity
        if etag:
            check(("If-None-Match", etag))
            prepared.headers["If-None-Match"] = etag
        if last_modified:
            check(("If-Modified-Since", last_modified))
            prepared.headers["If-Modified-Since"] = last_modified
        if "@" in prepared.url:  # user:password in the URL: basic auth, as PreparedRequest.prepare does
            prepared.prepare_auth(None)
        return prepared

    def _sem(self, host: str) -> threading.BoundedSemaphore:
        with self._host_lock:
            sem = self._host_sems.get(host)
            if sem is None:
                sem = self._host_sems[host] = threading.BoundedSemaphore(self.cfg.per_host)
            return sem

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
              headers: Mapping[str, str] | None = None) -> FetchResult:
        start = time.monotonic()
        try:
            if url.startswith("file:"):
                return self._fetch_file(url, etag, start)
            return self._fetch_http(url, etag, last_modified, headers or {}, start)
        except Exception as e:  # a source's fault must never escape as an exception
            return FetchResult(url=url, error=f"{type(e).__name__}: {e}"[:500], error_kind="internal",
                               elapsed=time.monotonic() - start)

    # -- local files ---------------------------------------------------------------------------
    def _fetch_file(self, url: str, etag: str | None, start: float) -> FetchResult:
        path = Path(unquote(urlsplit(url).path))
        try:
            st = path.stat()
            validator = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
            if etag is not None and etag == validator:
                return FetchResult(url=url, status=304, etag=validator, elapsed=time.monotonic() - start)
            if st.st_size > self.cfg.max_bytes:
                return FetchResult(url=url, error=f"file larger than {self.cfg.max_bytes} bytes",
                                   error_kind="too-large", elapsed=time.monotonic() - start)
            body = path.read_bytes()
        except OSError as e:
            return FetchResult(url=url, error=f"cannot read {path.name}: {e.strerror or e}", error_kind="io",
                               elapsed=time.monotonic() - start)
        if not body.strip():
            return FetchResult(url=url, status=200, error="empty file", error_kind="empty",
                               elapsed=time.monotonic() - start)
        return FetchResult(url=url, status=200, body=body, etag=validator, final_url=url,
                           elapsed=time.monotonic() - start, body_hash=_hash(body))

    # -- HTTP ----------------------------------------------------------------------------------
    def _read_body(self, resp: object, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        cap = self.cfg.max_bytes
        raw = resp.raw  # type: ignore[attr-defined]
        # read decoded data in bounded pieces; urllib3 decodes gzip incrementally
        for chunk in _stream(raw, 64 * 1024):
            size += len(chunk)
            if size > cap:
                raise _TooLarge
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _Deadline
        return b"".join(chunks)

    def _fetch_http(self, url: str, etag: str | None, last_modified: str | None,
                    extra: Mapping[str, str], start: float) -> FetchResult:
        guard = _Guard(start + self.cfg.deadline - time.monotonic())
        _local.guard = guard
        try:
            res = self._fetch_hops(url, etag, last_modified, extra, start)
        finally:
            guard.cancel()
            _local.guard = None
        if guard.expired and res.error_kind != "deadline":
            # whatever the read made of a socket shut down under it (an error, or a close-delimited body
            # cut short that looks complete), the fetch ran out of time
            return FetchResult(url=url, status=res.status, error=f"deadline of {self.cfg.deadline:g}s passed",
                               error_kind="deadline", elapsed=time.monotonic() - start)
        return res

    def _fetch_hops(self, url: str, etag: str | None, last_modified: str | None,
                    extra: Mapping[str, str], start: float) -> FetchResult:
        rq = self._requests
        cfg = self.cfg
        deadline = start + cfg.deadline
        current = url
        permanent: str | None = None
        all_permanent = True
        hops = 0
        seen = {url}
        while True:
            host = urlsplit(current).hostname or ""
            sem = self._sem(host)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sem.acquire(timeout=remaining):
                return FetchResult(url=url, error=f"deadline of {cfg.deadline:g}s passed", error_kind="deadline",
                                   elapsed=time.monotonic() - start)
            try:
                try:
                    resp = self.session.send(self._prepare(current, extra, etag, last_modified), stream=True,
                                             allow_redirects=False,
                                             timeout=(cfg.connect_timeout, min(cfg.read_timeout,
                                                                               max(0.1, deadline - time.monotonic()))))
                except rq.exceptions.ConnectTimeout:
                    return self._fail(url, "connect timeout", "timeout", start)
                except rq.exceptions.ReadTimeout:
                    return self._fail(url, "read timeout", "timeout", start)
                except rq.exceptions.ConnectionError as e:
                    return self._fail(url, f"connection failed ({_short(e)})", "connect", start)
                except (rq.exceptions.InvalidURL, rq.exceptions.MissingSchema, rq.exceptions.InvalidSchema) as e:
                    return self._fail(url, f"invalid URL ({_short(e)})", "url", start)
                except rq.exceptions.RequestException as e:
                    return self._fail(url, f"request failed ({_short(e)})", "http", start)
                try:
                    status = resp.status_code
                    h = resp.headers
                    if status in PERMANENT + TEMPORARY and h.get("Location"):
                        resp.close()
                        hops += 1
                        target = urljoin(current, h["Location"])
                        if urlsplit(target).scheme not in ("http", "https"):
                            return self._fail(url, f"redirect to a non-HTTP URL {redact(target)}", "redirects",
                                              start, status)
                        if hops > cfg.max_redirects or target in seen:
                            why = "redirect loop" if target in seen else f"more than {cfg.max_redirects} redirects"
                            return self._fail(url, why, "redirects", start, status)
                        seen.add(target)
                        all_permanent = all_permanent and status in PERMANENT
                        if all_permanent:
                            permanent = target
                        current = target
                        continue
                    common = dict(
                        url=url, status=status, etag=h.get("ETag"), last_modified=h.get("Last-Modified"),
                        content_type=h.get("Content-Type"), final_url=current,
                        permanent_redirect=permanent if all_permanent else None,
                        retry_after=h.get("Retry-After"), cache_control=h.get("Cache-Control"),
                        expires=h.get("Expires"),
                    )
                    if status == 304:
                        _release(resp)
                        return FetchResult(**common, elapsed=time.monotonic() - start)  # type: ignore[arg-type]
                    if status >= 400 or status < 200 or status in (204, 205):
                        resp.close()
                        return FetchResult(**common, error=f"HTTP {status} {resp.reason or ''}".strip(),  # type: ignore[arg-type]
                                           error_kind="http", elapsed=time.monotonic() - start)
                    declared = h.get("Content-Length")
                    if declared and declared.isdigit() and int(declared) > cfg.max_bytes and \
                            not h.get("Content-Encoding"):
                        resp.close()
                        return FetchResult(**common, error=f"body larger than {cfg.max_bytes} bytes",  # type: ignore[arg-type]
                                           error_kind="too-large", elapsed=time.monotonic() - start)
                    try:
                        body = self._read_body(resp, deadline)
                    except _TooLarge:
                        resp.close()
                        return FetchResult(**common, error=f"body larger than {cfg.max_bytes} bytes",  # type: ignore[arg-type]
                                           error_kind="too-large", elapsed=time.monotonic() - start)
                    except _Deadline:
                        resp.close()
                        return FetchResult(**common, error=f"deadline of {cfg.deadline:g}s passed",  # type: ignore[arg-type]
                                           error_kind="deadline", elapsed=time.monotonic() - start)
                    except Exception as e:  # reset mid-body, truncated chunked body, bad gzip, read timeout
                        resp.close()
                        kind = "timeout" if "timed out" in str(e).lower() else "read"
                        return FetchResult(**common, error=f"body read failed ({_short(e)})",  # type: ignore[arg-type]
                                           error_kind=kind, elapsed=time.monotonic() - start)
                    if not body.strip():
                        return FetchResult(**common, error="empty body", error_kind="empty",  # type: ignore[arg-type]
                                           elapsed=time.monotonic() - start)
                    return FetchResult(**common, body=body, body_hash=_hash(body),  # type: ignore[arg-type]
                                       elapsed=time.monotonic() - start)
                finally:
                    resp.close()
            finally:
                sem.release()

    def _fail(self, url: str, why: str, kind: str, start: float, status: int | None = None) -> FetchResult:
        return FetchResult(url=url, status=status, error=why, error_kind=kind, elapsed=time.monotonic() - start)


def _stream(raw: object, size: int) -> Iterator[bytes]:
    """Decoded body pieces from a urllib3 response, each at most about `size` decoded bytes."""
    stream = getattr(raw, "stream", None)
    if stream is None:  # pragma: no cover - requests always gives urllib3 responses
        data = raw.read()  # type: ignore[attr-defined]
        yield data
        return
    yield from stream(size, decode_content=True)


def _release(resp: object) -> None:
    """Give the connection of a response without a body (304) back to the pool for the next request:
    closing an unread streamed response would drop the socket. The body is read only if it announces
    itself as empty (Content-Length: 0 or none, not chunked), so this never waits for a body."""
    raw = getattr(resp, "raw", None)
    h = getattr(resp, "headers", {})
    if raw is not None and h.get("Content-Length", "0") == "0" and "chunked" not in h.get("Transfer-Encoding", ""):
        with contextlib.suppress(Exception):
            raw.read(1)  # at the end already: marks the response complete and releases its connection
            raw.release_conn()
            return
    resp.close()  # type: ignore[attr-defined]


def _short(e: BaseException) -> str:
    text = str(e)
    # requests wraps urllib3 errors in long reprs; keep the end, which names the cause
    if len(text) > 160:
        text = "…" + text[-160:]
    return text
