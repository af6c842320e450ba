"""Serve the published output directory over HTTP (``feeds serve``).

The application is plain WSGI (no framework) and runs under waitress.  It serves only regular
files that really live inside the output directory, answers conditional requests with 304, and
gzips text documents for clients that accept it.  File contents, their ETags and the gzip bytes
are kept in a small bounded cache keyed by (real path, device, inode, mtime_ns, size); the
publisher replaces documents by atomic rename, so a new inode or mtime invalidates an entry
without any explicit signal.

Confinement: request paths with ``.``/``..``/empty segments, backslashes, control characters or an
encoded ``/``, ``\\`` or NUL are refused with 400; hidden (dot) names, symlinks resolving outside
the directory or onto a hidden name, directories without ``index.html`` and non-regular files get
404.  The inode opened is compared with the one checked, so a file swapped in between is resolved
again rather than served.  A hard link placed inside the directory is indistinguishable from a
regular file and is served like one.

Run directly with ``python -m feeds.serve DIR [--host H] [--port P] [--max-age N]``; the bound
address is printed on stdout as ``listening on http://HOST:PORT/``.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import email.utils
import gzip
import hashlib
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from feeds.errors import FeedsError
from feeds.logs import escape_controls

__all__ = ["LOGGER_NAME", "main", "make_app", "serve"]

LOGGER_NAME = "feeds.serve"

_CONTENT_TYPES: dict[str, str] = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css",
    ".xml": "application/xml",
}
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Only text documents are worth compressing; everything else is sent as is.
_COMPRESSIBLE = frozenset(_CONTENT_TYPES)
_GZIP_MIN_SIZE = 256
_GZIP_LEVEL = 6

_CACHE_MAX_ENTRIES = 128
_CACHE_MAX_BYTES = 64 * 1024 * 1024
_CACHE_MAX_FILE = 8 * 1024 * 1024

_RESOLVE_ATTEMPTS = 3

# Last-Modified counts whole seconds: a file replaced twice within one second keeps it, and a client
# revalidating with it alone would get 304 for bytes it never saw. Until its mtime's second is over (by
# a margin: the file system's clock is coarser than time.time(), a write may be dated a few ms back), a
# file is served without Last-Modified and If-Modified-Since is not honoured for it; its ETag validates.
_MTIME_SETTLED = 1.5

# Connections. waitress's defaults (at most 100 connections, an idle one closed after 120 s) let 100
# idle or slow clients stop the server answering anyone for minutes. The limit is what the process's
# open-file limit leaves after a headroom for its other files (the store and its journal, logs, the
# files being served, waitress's own), at most _CONNECTIONS_MAX; a connection silent for
# _CHANNEL_TIMEOUT seconds (idle, or stopped in the middle of its request) is closed, which waitress
# checks every _CLEANUP_INTERVAL seconds.
_CONNECTIONS_MAX = 4096
_FD_HEADROOM = 128
_CHANNEL_TIMEOUT = 20
_CLEANUP_INTERVAL = 5

_ALLOW = "GET, HEAD"
_REASONS: dict[int, str] = {
    200: "OK",
    301: "Moved Permanently",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    500: "Internal Server Error",
}

Headers = tuple[tuple[str, str], ...]
_CacheKey = tuple[str, int, int, int, int]


# --------------------------------------------------------------------------- cache


@dataclass(frozen=True, slots=True)
class _Variant:
    """One representation of a file (identity or gzip) with its ready-made headers."""

    body: bytes
    etag: str
    headers: Headers  # for 200 (and HEAD)
    not_modified_headers: Headers  # for 304 / 412


@dataclass(frozen=True, slots=True)
class _Entry:
    mtime: int  # whole seconds, what Last-Modified says
    identity: _Variant
    gzipped: _Variant | None

    @property
    def cost(self) -> int:
        return len(self.identity.body) + (len(self.gzipped.body) if self.gzipped else 0)


class _FileCache:
    """A small thread-safe LRU of file entries, bounded by entry count and total bytes."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: OrderedDict[_CacheKey, _Entry] = OrderedDict()
        self._by_path: dict[str, _CacheKey] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def get(self, key: _CacheKey) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: _CacheKey, entry: _Entry) -> None:
        if entry.cost > self._max_bytes:
            return
        with self._lock:
            # A newer version of the same path makes the older one useless: drop it now.
            old_key = self._by_path.get(key[0])
            if old_key is not None:
                self._drop(old_key)
            self._drop(key)
            self._entries[key] = entry
            self._by_path[key[0]] = key
            self._bytes += entry.cost
            while self._entries and (len(self._entries) > self._max_entries or self._bytes > self._max_bytes):
                oldest = next(iter(self._entries))
                self._drop(oldest)

    def _drop(self, key: _CacheKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= entry.cost
        if self._by_path.get(key[0]) == key:
            del self._by_path[key[0]]


# --------------------------------------------------------------------------- header parsing


def _parse_etags(value: str) -> list[tuple[bool, str]] | None:
    """Parse an If-Match / If-None-Match value into (weak, "opaque") pairs; None means ``*``."""
    text = value.strip()
    if text == "*":
        return None
    tags: list[tuple[bool, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        if i >= n:
            break
        weak = False
        if text.startswith("W/", i):
            weak = True
            i += 2
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                break
            tags.append((weak, text[i : end + 1]))
            i = end + 1
        else:  # malformed member: skip it
            end = text.find(",", i)
            i = n if end < 0 else end + 1
    return tags


def _none_match(value: str, etag: str) -> bool:
    """If-None-Match evaluation with weak comparison (RFC 9110 13.1.2)."""
    tags = _parse_etags(value)
    if tags is None:
        return True
    return any(opaque == etag for _weak, opaque in tags)


def _if_match(value: str, etag: str) -> bool:
    """If-Match evaluation with strong comparison (RFC 9110 13.1.1)."""
    tags = _parse_etags(value)
    if tags is None:
        return True
    return any(not weak and opaque == etag for weak, opaque in tags)


def _parse_http_date(value: str) -> int | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" style: treat as UTC
        return calendar.timegm(parsed.timetuple())
    return int(parsed.timestamp())


def _accepts_gzip(value: str | None) -> bool:
    """Whether Accept-Encoding lets us send gzip (q-values honoured, ``*`` understood)."""
    if not value:
        return False
    gzip_q: float | None = None
    star_q: float | None = None
    identity_q: float | None = None
    for member in value.split(","):
        coding, *params = member.split(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(raw.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:  # also rejects nan
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            gzip_q = q if gzip_q is None else max(gzip_q, q)
        elif coding == "*":
            star_q = q
        elif coding == "identity":
            identity_q = q
    effective = gzip_q if gzip_q is not None else star_q
    if not effective:
        return False
    return identity_q is None or identity_q <= effective


def _without_last_modified(headers: Headers) -> Headers:
    return tuple(h for h in headers if h[0] != "Last-Modified")


def _printable(text: str) -> str:
    return escape_controls(text, also='"')  # a quoted field of the access log


# --------------------------------------------------------------------------- the application


class _BadRequest(Exception):
    pass


class _NotFound(Exception):
    pass


class _Changed(Exception):
    """The file opened is not the one resolved and checked."""


class _Redirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


def _has_hidden_part(path: str, root: str) -> bool:
    rel = os.path.relpath(path, root)
    return rel != "." and any(part.startswith(".") for part in rel.split(os.sep))


def _request_segments(environ: WSGIEnvironment) -> tuple[list[str], bool]:
    """Validated path segments of the request and whether it ended with a slash."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if isinstance(raw, str):
        raw_path = raw.split("?", 1)[0].split("#", 1)[0].lower()
        # An encoded separator or NUL cannot be told apart from a real one once decoded.
        if "%2f" in raw_path or "%5c" in raw_path or "%00" in raw_path:
            raise _BadRequest
    path_info = environ.get("PATH_INFO") or "/"
    try:
        path = str(path_info).encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise _BadRequest from None
    if not path.startswith("/"):
        raise _BadRequest
    if any(ch == "\\" or not ch.isprintable() for ch in path):
        raise _BadRequest
    parts = path[1:].split("/")
    trailing_slash = parts[-1] == ""
    segments = parts[:-1] if trailing_slash else parts
    for segment in segments:
        if segment in ("", ".", ".."):
            raise _BadRequest
        if segment.startswith("."):
            raise _NotFound
    return segments, trailing_slash


def _status_line(status: int) -> str:
    return f"{status} {_REASONS[status]}"


def _plain(status: int, extra: Sequence[tuple[str, str]] = ()) -> tuple[int, Headers, bytes]:
    body = f"{status} {_REASONS[status]}\n".encode()
    headers = (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
        *extra,
    )
    return status, headers, body


class _OutputApp:
    """WSGI application serving the files of one output directory."""

    def __init__(self, output_dir: Path, max_age: int, access_log: logging.Logger) -> None:
        if max_age < 0:
            raise ValueError("max_age must be >= 0")
        self._root = os.path.abspath(os.fspath(output_dir))
        self._cache_control = f"public, max-age={max_age}"
        self._log = access_log
        self.cache = _FileCache(_CACHE_MAX_ENTRIES, _CACHE_MAX_BYTES)
        self._root_cache: tuple[tuple[int, int], str] | None = None

    # -- WSGI entry point

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        method = str(environ.get("REQUEST_METHOD", "GET"))
        try:
            status, headers, body = self._respond(environ, method)
        except Exception:
            self._log.exception("error serving %s", _printable(str(environ.get("PATH_INFO", ""))))
            status, headers, body = _plain(500)
        start_response(_status_line(status), list(headers))
        if method == "HEAD" or status == 304:
            body = b""
        if self._log.isEnabledFor(logging.INFO):
            self._access(environ, method, status, len(body), started)
        return [body]

    def _access(self, environ: WSGIEnvironment, method: str, status: int, size: int, started: float) -> None:
        target = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        if not isinstance(target, str):
            target = quote(str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "")))
            if environ.get("QUERY_STRING"):
                target += "?" + str(environ["QUERY_STRING"])
        when = time.strftime("%d/%b/%Y:%H:%M:%S %z")
        self._log.info(
            '%s - - [%s] "%s %s %s" %d %d %.1fms',
            environ.get("REMOTE_ADDR", "-"),
            when,
            _printable(method),
            _printable(target),
            _printable(str(environ.get("SERVER_PROTOCOL", "HTTP/1.0"))),
            status,
            size,
            (time.perf_counter() - started) * 1000.0,
        )

    # -- request handling

    def _respond(self, environ: WSGIEnvironment, method: str) -> tuple[int, Headers, bytes]:
        if method not in ("GET", "HEAD"):
            return _plain(405, (("Allow", _ALLOW),))
        try:
            segments, trailing_slash = _request_segments(environ)
            entry = self._lookup(segments, trailing_slash)
        except _BadRequest:
            return _plain(400)
        except _NotFound:
            return _plain(404)
        except _Redirect as redirect:
            script_name = str(environ.get("SCRIPT_NAME", "")).rstrip("/")
            prefix = quote(script_name.encode("latin-1", "replace"))
            return _plain(301, (("Location", prefix + redirect.location),))

        variant = entry.identity
        if entry.gzipped is not None and _accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING")):
            variant = entry.gzipped

        headers, not_modified = variant.headers, variant.not_modified_headers
        settled = time.time() >= entry.mtime + _MTIME_SETTLED  # decided per request: entries are cached
        if not settled:
            headers, not_modified = _without_last_modified(headers), _without_last_modified(not_modified)
        precondition = self._preconditions(environ, variant.etag, entry.mtime, settled)
        if precondition == 304:
            return 304, not_modified, b""
        if precondition == 412:
            status, plain_headers, body = _plain(412)
            return status, plain_headers + not_modified, body
        return 200, headers, variant.body

    @staticmethod
    def _preconditions(environ: WSGIEnvironment, etag: str, mtime: int, settled: bool = True) -> int | None:
        """RFC 9110 section 13.2.2 order, for GET/HEAD on an existing representation."""
        if_match = environ.get("HTTP_IF_MATCH")
        if if_match is not None:
            if not _if_match(str(if_match), etag):
                return 412
        else:
            unmodified = environ.get("HTTP_IF_UNMODIFIED_SINCE")
            if unmodified is not None:
                limit = _parse_http_date(str(unmodified))
                if limit is not None and mtime > limit:
                    return 412
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match is not None:
            return 304 if _none_match(str(if_none_match), etag) else None
        modified = environ.get("HTTP_IF_MODIFIED_SINCE")
        if modified is not None and settled:  # else the file may change again within the second it names
            since = _parse_http_date(str(modified))
            # only the date this file was served with (as nginx's default, `if_modified_since exact`): a
            # document rewritten after the clock was set back has an older mtime than one served before, and
            # "not modified since" a later date answered 304 for it until the clock caught up (a review)
            if since is not None and mtime == since:
                return 304
        return None

    def _real_root(self) -> str:
        """Real path of the output directory, resolved again whenever what it names changes."""
        try:
            st = os.stat(self._root)
        except OSError:
            raise _NotFound from None
        identity = (st.st_dev, st.st_ino)
        cached = self._root_cache
        if cached is not None and cached[0] == identity:
            return cached[1]
        real = os.path.realpath(self._root)
        self._root_cache = (identity, real)
        return real

    @staticmethod
    def _walk(root: str, base: str, segments: Sequence[str]) -> tuple[str, os.stat_result]:
        """Real path and stat of ``base/segments`` (symlinks followed), confined to ``root``.

        One lstat per segment; only when a symlink turns up is the rest resolved with realpath
        and the result checked to stay inside the root and off hidden files.
        """
        path = base
        for index, segment in enumerate(segments):
            path = os.path.join(path, segment)
            try:
                st = os.lstat(path)
            except OSError:
                raise _NotFound from None
            if stat.S_ISLNK(st.st_mode):
                path = os.path.realpath(os.path.join(path, *segments[index + 1 :]))
                if not _inside(path, root) or _has_hidden_part(path, root):
                    raise _NotFound
                break
        else:
            if segments:
                return path, st
        try:
            return path, os.stat(path)
        except OSError:
            raise _NotFound from None

    def _lookup(self, segments: list[str], trailing_slash: bool) -> _Entry:
        for _attempt in range(_RESOLVE_ATTEMPTS):
            real, st = self._resolve(segments, trailing_slash)
            try:
                return self._load(real, st)
            except _Changed:
                continue
        raise _NotFound

    def _resolve(self, segments: list[str], trailing_slash: bool) -> tuple[str, os.stat_result]:
        """Real path and stat of the regular file to serve, confined to the output directory."""
        root = self._real_root()
        real, st = self._walk(root, root, segments)
        if stat.S_ISDIR(st.st_mode):
            if not trailing_slash:
                if os.path.isfile(os.path.join(real, "index.html")):
                    raise _Redirect("/".join(quote(s) for s in ["", *segments, ""]))
                raise _NotFound
            real, st = self._walk(root, real, ["index.html"])
        elif trailing_slash:
            raise _NotFound
        if not stat.S_ISREG(st.st_mode):
            raise _NotFound
        return real, st

    def _load(self, real: str, st: os.stat_result) -> _Entry:
        key: _CacheKey = (real, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        entry = self.cache.get(key)
        if entry is not None:
            return entry
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        flags |= getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(real, flags)
        except OSError:
            raise _Changed from None  # gone or swapped since resolved: resolve again
        try:
            fst = os.fstat(fd)
            if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
                # The path now names another file than the one checked (replaced meanwhile,
                # or a directory swapped for a symlink): never serve what was not checked.
                raise _Changed
            if not stat.S_ISREG(fst.st_mode):
                raise _NotFound
            chunks: list[bytes] = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        except OSError:
            raise _NotFound from None
        finally:
            os.close(fd)
        data = b"".join(chunks)
        entry = self._build(real, fst, data)
        if len(data) <= _CACHE_MAX_FILE and len(data) == fst.st_size:
            self.cache.put((real, fst.st_dev, fst.st_ino, fst.st_mtime_ns, fst.st_size), entry)
        return entry

    def _build(self, real: str, st: os.stat_result, data: bytes) -> _Entry:
        suffix = os.path.splitext(real)[1].lower()
        content_type = _CONTENT_TYPES.get(suffix, _DEFAULT_CONTENT_TYPE)
        mtime = int(st.st_mtime)
        last_modified = email.utils.formatdate(mtime, usegmt=True)
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()

        compressed: bytes | None = None
        if suffix in _COMPRESSIBLE and len(data) >= _GZIP_MIN_SIZE:
            compressed = gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
            if len(compressed) >= len(data):
                compressed = None
        vary: Headers = (("Vary", "Accept-Encoding"),) if compressed is not None else ()

        def variant(body: bytes, etag: str, encoding: Headers) -> _Variant:
            validators: Headers = (
                ("ETag", etag),
                ("Last-Modified", last_modified),
                ("Cache-Control", self._cache_control),
                *vary,
            )
            headers: Headers = (
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                *encoding,
                *validators,
                ("X-Content-Type-Options", "nosniff"),
            )
            return _Variant(body, etag, headers, validators)

        identity = variant(data, f'"{digest}"', ())
        gzipped = None
        if compressed is not None:
            gzipped = variant(compressed, f'"{digest}-gz"', (("Content-Encoding", "gzip"),))
        return _Entry(mtime, identity, gzipped)


def make_app(output_dir: Path, *, max_age: int = 300, access_log: logging.Logger | None = None) -> WSGIApplication:
    """A WSGI application serving the published documents in ``output_dir``.

    ``max_age`` goes into ``Cache-Control: public, max-age=N``; one access-log line per request
    is written at INFO to ``access_log`` (default: the ``feeds.serve`` logger).
    """
    return _OutputApp(output_dir, max_age, access_log or logging.getLogger(LOGGER_NAME))


# --------------------------------------------------------------------------- the server


class _Stop(SystemExit):
    """Raised from the signal handler; waitress's run loop treats SystemExit as 'shut down'."""


class ListenError(FeedsError):
    """The server cannot listen where it was asked to; exit 2 when the host or port itself is invalid."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.exit_code = 2 if usage else 1


def _listen_addresses(server: Any) -> list[tuple[str, int]]:
    listen = getattr(server, "effective_listen", None)
    if listen is not None:  # several sockets (e.g. "localhost" on IPv4 and IPv6)
        return [(str(item[0]), int(item[1])) for item in listen]
    return [(str(server.effective_host), int(server.effective_port))]


def _url(host: str, port: int) -> str:
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _connection_limit() -> int:
    """How many connections to hold at once: the open-file limit less a headroom, at most _CONNECTIONS_MAX."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # pragma: no cover - no such limit here
        return _CONNECTIONS_MAX
    if soft == resource.RLIM_INFINITY:
        return _CONNECTIONS_MAX
    return max(1, min(_CONNECTIONS_MAX, soft - _FD_HEADROOM if soft > 2 * _FD_HEADROOM else soft // 2))


def serve(
    output_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    max_age: int = 300,
    threads: int = 4,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve ``output_dir`` with waitress until SIGTERM or SIGINT, then return normally.

    Prints ``listening on http://HOST:PORT/`` on stdout once the socket is bound (useful
    with ``port=0``), and tells ``announce`` the same line (the daemon logs it).  Signal handlers are only
    installed when called from the main thread.
    Connections are bounded by the open-file limit and closed after ``_CHANNEL_TIMEOUT`` seconds
    of silence; waitress has no deadline for a whole request's headers, so a server facing the
    internet belongs behind a reverse proxy (docs/publishing.md).
    """
    from waitress import wasyncore
    from waitress.server import create_server

    app = make_app(output_dir, max_age=max_age)
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="feeds",
                               connection_limit=_connection_limit(), channel_timeout=_CHANNEL_TIMEOUT,
                               cleanup_interval=_CLEANUP_INTERVAL,
                               asyncore_use_poll=True)  # select() cannot watch descriptors past 1023
    except ValueError as e:  # waitress: a host that is no address and does not resolve, a port out of range
        raise ListenError(f"cannot listen on {_url(host, port)}: not a valid host and port ({e})", usage=True) from e
    except OSError as e:  # address in use, not an address of this machine, a privileged port
        raise ListenError(f"cannot listen on {_url(host, port)}: {e.strerror or e}") from e

    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise _Stop(0)

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        with contextlib.suppress(_Stop):
            for bound_host, bound_port in _listen_addresses(server):
                line = f"listening on {_url(bound_host, bound_port)}"
                print(line, flush=True)
                if announce is not None:
                    announce(line)
            server.run()  # returns by itself after catching SystemExit/KeyboardInterrupt
    finally:
        stopping = True
        try:
            server.task_dispatcher.shutdown()
            sock_map = getattr(server, "_map", None)
            if sock_map is None:
                sock_map = getattr(server, "map", None)
            if sock_map is not None:
                wasyncore.close_all(sock_map)
            else:
                server.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m feeds.serve", description="Serve the output directory.")
    parser.add_argument("directory", type=Path, help="output directory to serve")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind; 0 picks a free one")
    parser.add_argument("--max-age", type=int, default=300, help="Cache-Control max-age in seconds")
    parser.add_argument("--threads", type=int, default=4, help="worker threads (default 4)")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        parser.error(f"{args.directory} is not a directory")
    if args.max_age < 0:
        parser.error("--max-age must be >= 0")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        serve(args.directory, args.host, args.port, max_age=args.max_age, threads=args.threads)
    except ListenError as e:
        print(f"feeds: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
