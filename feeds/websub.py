"""WebSub (W3C) publisher side: tell the hub which topics changed.

After a publish, every subscription document whose bytes changed is announced to ``output.hub`` with
a form POST ``hub.mode=publish&hub.url=<the document's self URL>``: one request per topic. Nothing is
sent when nothing changed. A ping the hub did not accept (network error, timeout, non-2xx answer) is
logged on the ``feeds.websub`` logger and remembered in the store (``websub_pending``); every later
publish retries the pending topics along with its own, until the hub accepts them.

The time the hub can take is bounded, whatever it sends: each socket operation has its timeout (3 s to
connect, 5 s for a read), each ping a deadline of the two together (8 s: connecting, sending, the
status line and headers), and all the pings of one publish three pings' deadlines in all (24 s). Only
the status matters: a ping reads the status line and headers, never a body (a connection whose answer
has no body is kept for the next ping; any other is closed). A ping runs in a thread of its own; at its
deadline the caller stops waiting and shuts the ping's socket down, which ends a blocked connect, send
or read. Once the hub is unreachable (no connection) the remaining topics of that publish are not tried
(they are marked pending at once), so a dead hub costs one ping per publish, never more, and never
stops the documents from being written: pinging happens after all writes. A hub that takes the
connection and then gives no status in time (a read timeout, the ping's deadline) fails that topic
only: the next one is tried. Topics go least tried first (then the oldest), and those the publish's
deadline leaves untried stay pending with no attempt counted, so a topic the hub is slow on goes
behind the others and cannot keep them from the hub publish after publish.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlencode, urlsplit

from feeds import __version__
from feeds.store import Store

log = logging.getLogger("feeds.websub")
TIMEOUT = (3.05, 5.0)  # connect, read (seconds): each socket operation; a ping's deadline is their sum
PINGS_PER_PUBLISH = 3  # all the pings of one announce() have this many pings' deadlines in all


@dataclass
class AnnounceResult:
    accepted: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


class _Unreachable(Exception):
    """No connection to the hub: the remaining topics of the publish are not tried."""


class _NotConnectedInTime(_Unreachable):
    """No connection within the time the ping was given (which the publish's deadline may have cut)."""


class _Failed(Exception):
    """The hub took the connection but gave no status for this topic in time (a read timeout, the ping's
    deadline, a connection dropped): this topic's failure only, the next topic is tried."""


class _Exchange:
    """One POST on one connection, in a thread of its own so that the caller can stop waiting at the
    ping's deadline (`finish`): the socket is then shut down, which ends whatever the thread waits for."""

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.conn = conn
        self.status: tuple[int, str] | None = None
        self.error: Exception | None = None
        self.reusable = False
        self.connected = conn.sock is not None  # a kept connection
        self._lock = threading.Lock()
        self._done = self._abandoned = False

    def run(self, target: str, body: bytes, headers: dict[str, str], read_timeout: float) -> None:
        conn = self.conn
        try:
            if conn.sock is None:
                conn.connect()  # within the connect timeout the connection was made with
            with self._lock:
                if self._abandoned:
                    return
                self.connected = True
            conn.sock.settimeout(read_timeout)
            conn.request("POST", target, body=body, headers=headers)
            resp = conn.getresponse()  # the status line and headers; a body is never read
            if resp.length == 0 and not resp.will_close:  # nothing to read: the connection serves the next ping
                resp.read()
                self.reusable = True
            self.status = (resp.status, resp.reason)
        except Exception as e:  # handed to the caller
            self.error = e
        finally:
            with self._lock:
                self._done = True
                keep = self.reusable and not self._abandoned
            if not keep:
                conn.close()

    def finish(self) -> bool:
        """Whether the exchange has ended; if not, it is abandoned and its socket shut down."""
        with self._lock:
            if self._done:
                return True
            self._abandoned = True
            sock = self.conn.sock  # None while connecting; the plain socket during a TLS handshake
            if sock is not None:
                with contextlib.suppress(OSError):  # the socket's own shutdown, not SSLSocket's unwrap
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
            return False


class _Hub:
    """The pings of one announce() to one hub, one connection kept while the hub's answers allow it."""

    def __init__(self, url: str, timeout: tuple[float, float]) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.error: str | None = None
        try:  # always given: without one, http.client would read a port out of a bare IPv6 host ("::1")
            self.port: int | None = parts.port or (443 if self.https else 80)
        except ValueError as e:  # a port that is no number: every ping fails at once
            self.port, self.error = None, f"{type(e).__name__}: {e}"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.target = quote(target, safe="!#$%&'()*+,/:;=?@[]~")  # what is not ASCII, percent-encoded
        self.headers = {"User-Agent": f"feeds/{__version__} (WebSub publisher)",
                        "Content-Type": "application/x-www-form-urlencoded"}
        if parts.username is not None:  # Basic auth from the URL's user:password
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode("latin-1", "replace")
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        self.timeout = timeout
        self._tls: ssl.SSLContext | None = None
        self._idle: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        conn, self._idle = self._idle, None
        if conn is not None:
            if conn.sock is not None and not _readable(conn.sock):  # not closed by the hub meanwhile
                return conn
            conn.close()
        if not self.https:
            return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout[0])
        if self._tls is None:
            self._tls = _tls_context()
        return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout[0], context=self._tls)

    def ping(self, topic: str, seconds: float) -> tuple[int, str]:
        """The hub's status and reason for one publish ping, within `seconds` in all."""
        if self.error is not None:
            raise _Unreachable(self.error)
        try:
            conn = self._connection()
        except Exception as refused:  # noqa: BLE001 - what http.client refuses in the hub's address: no hub
            raise _Unreachable(f"{type(refused).__name__}: {refused}") from refused
        exchange = _Exchange(conn)
        body = urlencode({"hub.mode": "publish", "hub.url": topic}).encode("ascii")
        thread = threading.Thread(target=exchange.run, args=(self.target, body, self.headers, self.timeout[1]),
                                  name="websub-ping", daemon=True)
        thread.start()
        thread.join(max(0.0, seconds))
        if not exchange.finish():
            if exchange.connected:
                raise _Failed(f"no answer within {seconds:g}s")
            raise _NotConnectedInTime(f"no connection within {seconds:g}s")
        if exchange.error is not None or exchange.status is None:
            e = exchange.error
            raise (_Failed if exchange.connected else _Unreachable)(f"{type(e).__name__}: {e}")
        if exchange.reusable:
            self._idle = conn
        return exchange.status

    def close(self) -> None:
        if self._idle is not None:
            self._idle.close()
            self._idle = None


def _readable(sock: socket.socket) -> bool:
    """An idle keep-alive connection with something to read has been closed (or broken) by the hub."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _tls_context() -> ssl.SSLContext:
    """Verified TLS with certifi's roots (what requests, which sent the pings before, used), else the system's."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi is a dependency
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def announce(store: Store, hub: str, changed: Sequence[str], *,
             timeout: tuple[float, float] = TIMEOUT, published: Collection[str] | None = None) -> AnnounceResult:
    """Ping `hub` for the changed topics and for the ones still pending from earlier publishes.

    `timeout` is (connect, read) for each socket operation; a ping has their sum in all, and the
    whole announce `PINGS_PER_PUBLISH` times that. ``published``: the subscription documents the config
    publishes now; a pending topic not among them (a channel or format taken out, another base URL) is
    dropped, not pinged (a hub would refuse it at every publish, and cron mail the warning each time)."""
    result = AnnounceResult()
    try:
        pending = store.websub_pending()
        if published is not None and (gone := [u for u in pending if u not in published]):
            store.clear_websub_pending(gone)
            pending = {u: v for u, v in pending.items() if u in published}
    except Exception as e:  # the store is not the hub's business: never fail the publish over it
        log.error("cannot read pending WebSub pings: %s", e)
        pending = {}
    # the least tried first (then the oldest): a topic the hub fails on goes behind the others, so that
    # no topic, however slow the hub is on it, keeps the others from being tried within the deadline
    now = time.time()
    topics = sorted(dict.fromkeys([*changed, *sorted(pending)]),
                    key=lambda u: (pending[u]["attempts"], pending[u]["since"]) if u in pending else (0, now))
    if not topics:
        return result
    per_ping = timeout[0] + timeout[1]
    total = PINGS_PER_PUBLISH * per_ping
    deadline = time.monotonic() + total
    failed: dict[str, str] = {}
    untried: list[str] = []  # the publish's deadline passed before them: no attempt counted
    unreachable: str | None = None
    out_of_time = False  # a ping's connect was cut short by the publish's deadline
    from feeds.fetch import redact

    shown = redact(hub)  # for logs: no credentials
    h = _Hub(hub, timeout)
    try:
        for url in topics:
            if unreachable is not None:
                failed[url] = unreachable
                continue
            left = deadline - time.monotonic()
            if left <= 0 or out_of_time:
                untried.append(url)
                continue
            try:
                status, reason = h.ping(url, min(per_ping, left))
            except _NotConnectedInTime as e:
                if left < per_ping:  # the publish's deadline, not the hub, cut it short: it and the rest untried
                    out_of_time = True
                    untried.append(url)
                    continue
                unreachable = str(e)[:300]
                failed[url] = unreachable
                continue
            except _Unreachable as e:
                unreachable = str(e)[:300]
                failed[url] = unreachable
                continue
            except _Failed as e:
                failed[url] = str(e)[:300]
                continue
            if 200 <= status < 300:
                result.accepted.append(url)
                log.debug("hub %s accepted %s (%d)", shown, url, status)
            else:
                failed[url] = f"HTTP {status} {reason or ''}".strip()
    finally:
        h.close()
    accepted = set(result.accepted)
    result.pending = [u for u in topics if u not in accepted]
    try:
        store.clear_websub_pending([u for u in result.accepted if u in pending])
        now = time.time()
        for url, err in failed.items():
            store.set_websub_pending(url, hub, err, now)
        for url in untried:
            if url not in pending:
                store.add_websub_pending(url, hub, now)
    except Exception as e:
        log.error("cannot record WebSub ping state: %s", e)
    if result.pending:
        first = next(iter(failed.values()), f"the deadline of {total:g}s for this publish's pings passed")
        log.warning("hub %s did not take %d of %d ping(s) (%s%s); retrying at the next publish", shown,
                    len(result.pending), len(topics), first, f"; {len(untried)} not tried in time" if untried else "")
    return result
