"""Scheduling in the pipeline against real loopback HTTP servers and real SQLite stores.

In-process tests inject a clock (`Pipeline(now=...)`), so hours of schedule pass in milliseconds;
`feeds run` is also run as a subprocess for only-due and `--all`. The server helpers here are
shared with test_daemon.py and test_status.py.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from feeds.config import Config, parse_config
from feeds.run import TEST_POLICY_ENV, Pipeline
from feeds.store import SourceRow, Store

REPO = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------------------------
# Loopback HTTP server


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float  # time.time() when the request line arrived
    host: str


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (interrupted when the server stops)


Route = Callable[[Seen], Reply]


class FeedServer:
    """Threaded HTTP/1.1 server on a loopback address; records every request with headers and time.

    Each response (headers and body) goes out in one write with TCP_NODELAY set.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                req = Seen(self.path, {k: v for k, v in self.headers.items()}, time.time(), host)
                with outer.lock:
                    outer.seen.append(req)
                route = outer.routes.get(self.path.split("?")[0])
                reply = route(req) if route else Reply(404, b"not found")
                if reply.delay and outer.closing.wait(reply.delay):
                    return
                head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('X',))[0]}",
                        f"Content-Length: {len(reply.body)}"]
                head += [f"{k}: {v}" for k, v in reply.headers.items()]
                data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body
                with contextlib.suppress(OSError):
                    self.wfile.write(data)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def requests(self, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [r for r in self.seen if path is None or r.path == path]

    def count(self, path: str) -> int:
        return len(self.requests(path))

    def close(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    s = FeedServer("127.0.0.1")
    yield s
    s.close()


@pytest.fixture
def server2() -> Iterator[FeedServer]:
    """A second host (127.0.0.2 is loopback too on Linux): Retry-After is per host name."""
    s = FeedServer("127.0.0.2")
    yield s
    s.close()


# --------------------------------------------------------------------------------------------
# Feeds and configs


def words(seed: str, n: int = 4) -> str:
    """A title of made-up words, unlike any other seed's (so story clustering keeps items apart)."""
    rnd = random.Random(seed)
    return " ".join("".join(rnd.choice(string.ascii_lowercase) for _ in range(8)).capitalize() for _ in range(n))


def atom(name: str, ids: list[int]) -> bytes:
    """An Atom feed of items `ids` (newest first); item i always has the same id, title and date."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    entries = "".join(
        f"<entry><id>urn:test:{escape(name)}:{i}</id><title>{escape(words(f'{name}-{i}'))}</title>"
        f"<link href=\"https://example.org/{escape(name)}/{i}\"/>"
        f"<updated>{(base + timedelta(minutes=i)).isoformat().replace('+00:00', 'Z')}</updated>"
        f"<summary>{escape(words(f'{name}-{i}-summary', 12))}</summary></entry>"
        for i in sorted(ids, reverse=True))
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(name)}</title><id>urn:test:{escape(name)}</id><updated>2024-01-01T00:00:00Z</updated>"
            f"{entries}</feed>").encode()


def feed_reply(name: str, ids: list[int], **headers: str) -> Reply:
    return Reply(200, atom(name, ids), {"Content-Type": "application/atom+xml", **headers})


def conditional(name: str, version: Callable[[], int], extra: dict[str, str] | None = None) -> Route:
    """A well-behaved feed: ETag/Last-Modified per version, 304 when the client's validator matches.
    Version v has items 1..v."""

    def route(req: Seen) -> Reply:
        v = version()
        etag = f'"{name}-v{v}"'
        lm = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(1_700_000_000 + v * 60))
        headers = {"ETag": etag, "Last-Modified": lm, **(extra or {})}
        if req.headers.get("If-None-Match") == etag:
            return Reply(304, b"", headers)
        return feed_reply(name, list(range(1, v + 1)), **headers)

    return route


def config_text(sources: list[tuple[str, str]], extra: str = "") -> str:
    srcs = "".join(f'[[sources]]\nname = "{n}"\nurl = "{u}"\n' for n, u in sources)
    return f"""
[output]
dir = "out"
base_url = "http://127.0.0.1:8080/"
[store]
path = "var/feeds.db"
[schedule]
interval = "15m"
jitter = 0
[fetch]
connect_timeout = 5
read_timeout = 10
deadline = 20
{extra}
{srcs}
[channels.all]
title = "All"
match_all = true
"""


def write_config(tmp: Path, sources: list[tuple[str, str]], extra: str = "") -> Path:
    path = tmp / "feeds.toml"
    path.write_text(config_text(sources, extra), encoding="utf-8")
    return path


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FEEDS_CONFIG", TEST_POLICY_ENV)}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def feeds_cli(config: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "feeds.cli", "-c", str(config), *args], capture_output=True,
                          text=True, timeout=timeout, env=cli_env(**env), cwd=config.parent)


class Clock:
    def __init__(self) -> None:
        self.t = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, delta: timedelta) -> None:
        self.t += delta


@dataclass
class Rig:
    cfg: Config
    store: Store
    clock: Clock
    pipe: Pipeline

    def row(self, name: str) -> SourceRow:
        return next(r for r in self.store.sources() if r.name == name)

    def until_due(self, name: str) -> None:
        """Move the clock to when `name` is next due (as persisted by the last fetch)."""
        nd = self.row(name).next_due
        assert nd is not None
        self.clock.t = max(self.clock.t, datetime.fromtimestamp(nd, UTC))


@pytest.fixture
def rig_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Rig]]:
    monkeypatch.delenv(TEST_POLICY_ENV, raising=False)
    made: list[Rig] = []

    def make(sources: list[tuple[str, str]], extra: str = "", edit: Callable[[str], str] = lambda t: t) -> Rig:
        """A rig for these sources; `extra` is appended to the config text, `edit` rewrites it (e.g. a
        shorter read timeout in the [fetch] table it already has)."""
        cfg = parse_config(edit(config_text(sources, extra)), tmp_path / "feeds.toml")
        store = Store.open(cfg.store_path)
        clock = Clock()
        rig = Rig(cfg, store, clock, Pipeline(cfg, store, now=clock))
        made.append(rig)
        return rig

    yield make
    for r in made:
        r.pipe.close()
        r.store.close()


# --------------------------------------------------------------------------------------------
# feeds run: only due sources, --all forces


def test_feeds_run_fetches_only_due_sources_and_all_forces(tmp_path: Path, server: FeedServer) -> None:
    names = ["alpha", "beta", "gamma"]
    for n in names:
        server.routes[f"/{n}"] = conditional(n, lambda: 2)
    server.routes["/gone"] = lambda req: Reply(410, b"gone")
    cfg = write_config(tmp_path, [(n, server.url(f"/{n}")) for n in [*names, "gone"]])

    first = feeds_cli(cfg, "run")
    assert first.returncode == 0, first.stderr
    assert [server.count(f"/{n}") for n in [*names, "gone"]] == [1, 1, 1, 1]
    assert "410" in first.stderr

    again = feeds_cli(cfg, "run")  # nothing is due 15 minutes apart: no request at all
    assert again.returncode == 0, again.stderr
    assert len(server.requests()) == 4

    forced = feeds_cli(cfg, "run", "--all", "-v")
    assert forced.returncode == 0, forced.stderr
    assert [server.count(f"/{n}") for n in names] == [2, 2, 2]
    assert server.count("/gone") == 1  # --all never revives a gone source
    for n in names:  # the forced fetch is conditional, and the server answered 304
        repeat = server.requests(f"/{n}")[1]
        assert repeat.headers.get("If-None-Match") == f'"{n}-v2"'
        assert repeat.headers.get("If-Modified-Since")
    assert "3 due" in forced.stdout


# --------------------------------------------------------------------------------------------
# In-process, with an injected clock


def test_schedule_is_persisted_after_each_fetch(rig_factory: Callable[..., Rig], server: FeedServer) -> None:
    server.routes["/ok"] = conditional("ok", lambda: 3)
    server.routes["/hinted"] = conditional("hinted", lambda: 1, {"Cache-Control": "max-age=3600"})
    server.routes["/fail"] = lambda req: Reply(500, b"boom")
    rig = rig_factory([("ok", server.url("/ok")), ("hinted", server.url("/hinted")), ("fail", server.url("/fail"))])
    assert all(r.state is None and r.next_due is None for r in rig.store.sources())
    report = rig.pipe.run()
    assert report.due == 3
    t0 = rig.clock.t.timestamp()
    ok, hinted, fail = rig.row("ok"), rig.row("hinted"), rig.row("fail")
    assert (ok.state, ok.next_due, ok.items_total) == ("ok", t0 + 15 * 60, 3)
    assert (hinted.state, hinted.next_due) == ("ok", t0 + 3600)  # max-age raised the interval
    assert (fail.state, fail.next_due, fail.last_status) == ("backoff", t0 + 15 * 60, 500)
    assert fail.last_error and "500" in fail.last_error

    rig.clock.advance(timedelta(minutes=10))
    assert rig.pipe.run().due == 0  # not before
    rig.clock.advance(timedelta(minutes=5))
    report = rig.pipe.run()
    assert sorted(o.name for o in report.outcomes) == ["fail", "ok"]
    assert [o.not_modified for o in report.outcomes if o.name == "ok"] == [True]


def test_exponential_backoff_then_broken_then_rare_retries(rig_factory: Callable[..., Rig],
                                                           server: FeedServer) -> None:
    healthy = threading.Event()
    server.routes["/flaky"] = lambda req: (feed_reply("flaky", [1]) if healthy.is_set() else Reply(503, b"down"))
    rig = rig_factory([("flaky", server.url("/flaky"))])
    start = rig.clock.t
    attempts: list[datetime] = []
    states: list[str | None] = []
    for _ in range(40):  # bounded: three days of failures take about a dozen attempts
        rig.pipe.run()
        attempts.append(rig.clock.t)
        states.append(rig.row("flaky").state)
        if rig.clock.t - start > timedelta(days=5):
            break
        rig.until_due("flaky")
    gaps = [(b - a) for a, b in zip(attempts, attempts[1:], strict=False)]
    minutes = [g.total_seconds() / 60 for g in gaps]
    # 15m, 30m, 1h, 2h, ... doubling up to the 24h cap, then once a day once broken (after 3 days)
    assert minutes[:5] == [15, 30, 60, 120, 240]
    assert all(b >= a for a, b in zip(minutes, minutes[1:], strict=False))
    assert max(minutes) == 24 * 60
    assert "broken" in states and states[0] == "backoff"
    first_broken = states.index("broken")
    assert attempts[first_broken] - start >= timedelta(days=3)
    assert all(s == "broken" for s in states[first_broken:])
    assert len(server.requests("/flaky")) == len(attempts) < 20
    row = rig.row("flaky")
    assert row.consecutive_failures == len(attempts)

    healthy.set()  # still retried (rarely), and one success makes it ok again
    rig.until_due("flaky")
    rig.pipe.run()
    row = rig.row("flaky")
    assert (row.state, row.consecutive_failures, row.items_total) == ("ok", 0, 1)


def test_retry_after_holds_back_every_source_of_the_host(rig_factory: Callable[..., Rig], server: FeedServer,
                                                         server2: FeedServer) -> None:
    limited = {"on": True}
    server.routes["/limited"] = lambda req: (Reply(429, b"slow down", {"Retry-After": "3600"}) if limited["on"]
                                             else feed_reply("limited", [1]))
    server.routes["/sibling"] = conditional("sibling", lambda: 1)
    server2.routes["/other"] = conditional("other", lambda: 1)
    rig = rig_factory([("limited", server.url("/limited")), ("sibling", server.url("/sibling")),
                       ("other", server2.url("/other"))])
    rig.pipe.run()
    assert rig.store.host_retry_after() == {"127.0.0.1": pytest.approx(rig.clock.t.timestamp() + 3600)}
    assert rig.row("limited").state == "backoff"
    limited["on"] = False
    for minutes in (20, 20, 19):  # 20, 40, 59 minutes later: only the other host is fetched
        rig.clock.advance(timedelta(minutes=minutes))
        rig.pipe.run()
    # the sibling was fetched in the first run only if it had one of the host's two slots before the 429 came
    first = server.count("/sibling")
    assert (server.count("/limited"), first, server2.count("/other")) in ((1, 0, 4), (1, 1, 4))
    rig.clock.advance(timedelta(minutes=1))  # 60 minutes: the host may be asked again
    rig.pipe.run()
    assert (server.count("/limited"), server.count("/sibling")) == (2, first + 1)
    assert rig.row("limited").state == "ok"


def test_retry_after_holds_back_the_fetches_of_the_host_queued_in_the_same_run(
        rig_factory: Callable[..., Rig], server: FeedServer, server2: FeedServer) -> None:
    """A host's 429 with Retry-After held back only the next runs: the fetches of this run queued behind it
    went out all the same (found by a daemon soak: up to 10 requests to the host within 55 ms of its 503)."""
    limited = {"on": True}
    server.routes["/limited"] = lambda req: (Reply(429, b"slow down", {"Retry-After": "3600"}) if limited["on"]
                                             else feed_reply("limited", [1]))
    names = [f"s{i}" for i in range(19)]
    for n in names:  # slower than the 429, so most of them are still queued when it comes
        server.routes[f"/{n}"] = lambda req, n=n: Reply(200, atom(n, [1]), {"Content-Type": "application/atom+xml"},
                                                        delay=0.2)
    server2.routes["/other"] = conditional("other", lambda: 1)
    rig = rig_factory([("limited", server.url("/limited")), *[(n, server.url(f"/{n}")) for n in names],
                       ("other", server2.url("/other"))])
    report = rig.pipe.run()
    fetched = [n for n in names if server.count(f"/{n}")]
    assert len(fetched) <= 3  # those that had the host's slots before the 429 came (per_host = 2)
    assert report.held == len(names) - len(fetched) and server2.count("/other") == 1  # another host goes on
    run = rig.store.last_runs(1)[0]  # `feeds status`: "N fetched" counts the requests made, not the held
    assert (run["sources"], run["failed"]) == (len(fetched) + 2, 1)
    for n in names:
        row = rig.row(n)
        if n not in fetched:  # not fetched, not failed: due again once the host may be asked
            assert (row.last_attempt, row.consecutive_failures, row.last_error) == (None, 0, None)
    limited["on"] = False
    rig.clock.advance(timedelta(minutes=61))
    rig.pipe.run()
    assert {n: server.count(f"/{n}") for n in names} == {n: 2 if n in fetched else 1 for n in names}
    assert all(rig.row(n).state == "ok" for n in names)


def test_a_source_redirected_to_a_waiting_host_waits_in_later_runs_too(
        rig_factory: Callable[..., Rig], server: FeedServer, server2: FeedServer) -> None:
    """A source whose own host is another one is due on its own schedule; its redirect to a host that asked to
    wait went there again at its next run (found by the final review: only the run's own answers held a host)."""
    limited = {"on": True}
    server.routes["/limited"] = lambda req: (Reply(429, b"slow down", {"Retry-After": "3600"}) if limited["on"]
                                             else feed_reply("limited", [1]))
    server.routes["/target"] = lambda req: feed_reply("target", [1])
    server2.routes["/redir"] = lambda req: Reply(302, b"", {"Location": server.url("/target")})
    rig = rig_factory([("limited", server.url("/limited")), ("redir", server2.url("/redir"))])
    rig.pipe.run()
    first = server.count("/target")  # 1 only if "redir" got there before the 429 came back
    for minutes in (20, 20):  # "redir" is due on its own schedule; the host it leads to still asks to wait
        rig.clock.advance(timedelta(minutes=minutes))
        report = rig.pipe.run()
        assert report.held == 1
    assert server.count("/target") == first and server2.count("/redir") >= 2
    limited["on"] = False
    rig.clock.advance(timedelta(minutes=21))  # past the hour: the host may be asked
    rig.pipe.run()
    assert server.count("/target") == first + 1 and rig.row("redir").state == "ok"


def test_the_feed_a_page_names_on_a_waiting_host_waits_too(
        rig_factory: Callable[..., Rig], server: FeedServer, server2: FeedServer) -> None:
    """The fetch of the feed a page names went to its host even while that host asked to wait (found by the
    final review: only the source's own fetch was held)."""
    limited = {"on": True}
    server.routes["/limited"] = lambda req: (Reply(429, b"slow down", {"Retry-After": "3600"}) if limited["on"]
                                             else feed_reply("limited", [1]))
    server.routes["/feed"] = lambda req: feed_reply("feed", [1])
    page = (f'<html><head><link rel="alternate" type="application/atom+xml" href="{server.url("/feed")}">'
            "</head><body>A site</body></html>").encode()
    server2.routes["/site"] = lambda req: Reply(200, page, {"Content-Type": "text/html"})
    # "limited" asks its host to wait an hour, alone in its run: with "site" beside it, the page's feed could be
    # asked before the 429 came back, and "site" would then poll that feed itself, skipped (not held) while
    # its host waits (CI met that race once)
    rig_factory([("limited", server.url("/limited"))]).pipe.run()
    rig = rig_factory([("limited", server.url("/limited")), ("site", server2.url("/site"))])  # the same store
    for minutes in (0, 20, 20):  # "site" is due on its own schedule: its page is read, the feed it names waits
        rig.clock.advance(timedelta(minutes=minutes))
        assert rig.pipe.run().held == 1
    assert server.count("/feed") == 0 and server2.count("/site") >= 3
    limited["on"] = False
    rig.clock.advance(timedelta(minutes=21))
    rig.pipe.run()
    assert server.count("/feed") >= 1 and rig.row("site").state == "ok"


def test_a_moved_sources_configured_address_on_a_waiting_host_waits_too(
        rig_factory: Callable[..., Rig], server: FeedServer, server2: FeedServer) -> None:
    """A moved source whose new address is gone (410) falls back to its configured address; that fetch is
    held while the configured address's host asked to wait, like any other request to it, and the source is
    not taken for gone: the move is over, and the configured address is asked once its host is ready (the
    410 was the source's outcome: "gone, never polled again")."""
    limited = {"on": True}
    server.routes["/limited"] = lambda req: (Reply(429, b"slow down", {"Retry-After": "21600"}) if limited["on"]
                                             else feed_reply("limited", [1]))
    server.routes["/old"] = lambda req: feed_reply("old", [1])
    server2.routes["/new"] = lambda req: Reply(410, b"gone")
    # "limited" asks its host to wait six hours, alone in its run (so "mover" never races the 429)
    rig_factory([("limited", server.url("/limited"))]).pipe.run()
    rig = rig_factory([("limited", server.url("/limited")), ("mover", server.url("/old"))])  # the same store
    rows = rig.store.sync_sources([(server.url("/limited"), "limited"), (server.url("/old"), "mover")])
    with rig.store.tx() as c:  # moved (a permanent redirect persisted) to the other host
        rig.store.update_source(c, rows[server.url("/old")].id, fetch_url=server2.url("/new"))
    assert rig.pipe.run().held == 1
    row = rig.row("mover")
    assert (server2.count("/new"), server.count("/old")) == (1, 0)
    assert (row.gone, row.fetch_url) == (False, None)  # the move is over; its configured host waits
    for _ in range(3):  # due again only when the configured address's host is ready: nothing is asked
        rig.clock.advance(timedelta(hours=1))
        rig.pipe.run()
    assert (server2.count("/new"), server.count("/old")) == (1, 0)
    limited["on"] = False
    rig.clock.advance(timedelta(hours=3, minutes=1))
    rig.pipe.run()
    row = rig.row("mover")
    assert (server.count("/old"), row.state, row.gone, server2.count("/new")) == (1, "ok", False, 1)


def test_a_moved_sources_configured_address_failing_once_is_no_reason_to_give_up(
        rig_factory: Callable[..., Rig], server: FeedServer, server2: FeedServer) -> None:
    """A moved source whose new address is gone (410) while its configured address fails for a while (503)
    backs off like any failing source and comes back with its configured address (it was "gone, never polled
    again": the 410 of the ended move was taken for the source's)."""
    down = {"on": True}
    server.routes["/old"] = lambda req: Reply(503, b"down") if down["on"] else feed_reply("old", [1, 2])
    server2.routes["/new"] = lambda req: Reply(410, b"gone")
    rig = rig_factory([("mover", server.url("/old"))])
    rig.pipe.run()
    with rig.store.tx() as c:  # moved (a permanent redirect persisted) to the other host
        rig.store.update_source(c, rig.row("mover").id, fetch_url=server2.url("/new"))
    rig.until_due("mover")
    rig.pipe.run()
    row = rig.row("mover")
    assert (row.gone, row.fetch_url, row.last_status, row.consecutive_failures) == (False, None, 503, 2)
    assert server2.count("/new") == 1
    down["on"] = False
    rig.until_due("mover")
    assert rig.pipe.run().new_items == 2
    row = rig.row("mover")
    assert (row.state, row.fetch_url, server2.count("/new")) == ("ok", None, 1)


def test_gone_stops_polling_and_says_so(rig_factory: Callable[..., Rig], server: FeedServer) -> None:
    server.routes["/gone"] = lambda req: Reply(410, b"gone")
    rig = rig_factory([("gone", server.url("/gone"))])
    rig.pipe.run()
    row = rig.row("gone")
    assert (row.gone, row.state, row.next_due, row.last_status) == (True, "gone", None, 410)
    for _ in range(3):
        rig.clock.advance(timedelta(days=30))
        rig.pipe.run()
        rig.pipe.run(force_all=True)
    assert server.count("/gone") == 1


def test_a_gone_source_is_asked_again_only_when_told_and_comes_back_when_it_answers(
        rig_factory: Callable[..., Rig], server: FeedServer) -> None:
    """A 410 stopped a source for good, with no way back but taking it out of the config for a run (found by
    a migration review: a misconfigured site's one-off 410 is common). `run --retry-gone` asks it again."""
    back = {"yes": False}
    server.routes["/gone"] = lambda req: feed_reply("back", [1, 2]) if back["yes"] else Reply(410, b"gone")
    rig = rig_factory([("gone", server.url("/gone"))])
    rig.pipe.run()
    rig.clock.advance(timedelta(days=1))
    rig.pipe.run(force_all=True)
    assert server.count("/gone") == 1  # --all does not ask a gone source
    rig.pipe.run(retry_gone=True)
    row = rig.row("gone")
    assert server.count("/gone") == 2 and (row.gone, row.state, row.next_due) == (True, "gone", None)
    back["yes"] = True
    assert rig.pipe.run(retry_gone=True).new_items == 2
    row = rig.row("gone")
    assert (row.gone, row.state, row.consecutive_failures) == (False, "ok", 0) and row.next_due is not None
    rig.until_due("gone")
    rig.pipe.run()  # polled on its schedule again
    assert server.count("/gone") == 4


def test_permanent_redirect_moves_the_source_only_after_it_persisted(rig_factory: Callable[..., Rig],
                                                                     server: FeedServer) -> None:
    server.routes["/old"] = lambda req: Reply(301, b"", {"Location": server.url("/new")})
    server.routes["/new"] = conditional("new", lambda: 2)
    rig = rig_factory([("mover", server.url("/old"))])
    start = rig.clock.t
    for i in range(1, 4):  # three sightings within two hours: recorded, not yet applied (24h needed)
        rig.pipe.run(force_all=True)
        row = rig.row("mover")
        assert (row.redirect_target, row.redirect_count, row.fetch_url) == (server.url("/new"), i, None)
        rig.clock.advance(timedelta(hours=1))
    assert server.count("/old") == 3
    rig.clock.t = start + timedelta(hours=25)
    rig.pipe.run()
    row = rig.row("mover")
    assert (row.fetch_url, row.redirect_target, row.redirect_count) == (server.url("/new"), None, 0)
    assert server.count("/old") == 4
    rig.clock.advance(timedelta(hours=1))
    rig.pipe.run()
    assert server.count("/old") == 4  # fetched at the new URL directly, with its validators
    direct = server.requests("/new")[-1]
    assert direct.headers.get("If-None-Match") == '"new-v2"'
    assert rig.row("mover").url == server.url("/old")  # the configured identity is kept


def test_an_interrupted_permanent_redirect_starts_over(rig_factory: Callable[..., Rig], server: FeedServer) -> None:
    flip = {"redirect": True}
    server.routes["/old"] = lambda req: (Reply(301, b"", {"Location": server.url("/new")}) if flip["redirect"]
                                         else feed_reply("old", [1]))
    server.routes["/new"] = conditional("new", lambda: 1)
    rig = rig_factory([("mover", server.url("/old"))])
    rig.pipe.run()
    rig.clock.advance(timedelta(hours=13))
    flip["redirect"] = False
    rig.pipe.run()
    assert (rig.row("mover").redirect_target, rig.row("mover").redirect_count) == (None, 0)
    flip["redirect"] = True
    start = rig.clock.t  # sightings start over here: T+13h
    for hours in (1, 13, 24):  # three sightings, the last 23h after the restart (and 37h after the first ever)
        rig.clock.t = start + timedelta(hours=hours) - timedelta(minutes=1 if hours == 24 else 0)
        rig.pipe.run(force_all=True)
    row = rig.row("mover")
    assert (row.fetch_url, row.redirect_count) == (None, 3)
    rig.clock.t = start + timedelta(hours=25, minutes=1)  # 24h after the first sighting since the reset
    rig.pipe.run(force_all=True)
    assert rig.row("mover").fetch_url == server.url("/new")


def test_a_permanent_redirect_to_a_failing_url_never_moves_the_source(rig_factory: Callable[..., Rig],
                                                                      server: FeedServer) -> None:
    server.routes["/old"] = lambda req: Reply(301, b"", {"Location": server.url("/dead")})
    server.routes["/dead"] = lambda req: Reply(404, b"not here", {})
    rig = rig_factory([("mover", server.url("/old"))])
    for _ in range(5):  # over two days: long enough for a redirect whose target answers to move it
        rig.pipe.run(force_all=True)
        rig.clock.advance(timedelta(hours=12))
        row = rig.row("mover")
        assert (row.fetch_url, row.redirect_target, row.redirect_count) == (None, None, 0)
    assert (row.last_error or "").startswith("HTTP 404")


def test_validators_behind_a_temporary_redirect_go_to_the_url_that_gave_them(
        rig_factory: Callable[..., Rig], server: FeedServer) -> None:
    server.routes["/temp"] = lambda req: Reply(302, b"", {"Location": server.url("/target")})
    server.routes["/target"] = conditional("target", lambda: 1)
    rig = rig_factory([("temp", server.url("/temp"))])
    rig.pipe.run(force_all=True)
    row = rig.row("temp")
    assert (row.etag, row.validators_url) == ('"target-v1"', server.url("/target"))
    rig.clock.advance(timedelta(hours=1))
    rig.pipe.run(force_all=True)
    assert "If-None-Match" not in server.requests("/temp")[-1].headers  # not to the redirect
    assert server.requests("/target")[-1].headers.get("If-None-Match") == '"target-v1"'
    assert rig.row("temp").last_status == 304
    # the URL starts serving the feed itself: its validators are its own from then on
    server.routes["/temp"] = conditional("temp", lambda: 1)
    rig.clock.advance(timedelta(hours=1))
    rig.pipe.run(force_all=True)
    row = rig.row("temp")
    assert (row.etag, row.validators_url) == ('"temp-v1"', server.url("/temp"))


@pytest.mark.parametrize("status", [302, 307])
def test_temporary_redirects_never_move_the_source(rig_factory: Callable[..., Rig], server: FeedServer,
                                                   status: int) -> None:
    server.routes["/temp"] = lambda req: Reply(status, b"", {"Location": server.url("/target")})
    server.routes["/target"] = conditional("target", lambda: 1)
    rig = rig_factory([("temp", server.url("/temp"))])
    for _ in range(6):
        rig.pipe.run(force_all=True)
        rig.clock.advance(timedelta(hours=12))
    row = rig.row("temp")
    assert (row.fetch_url, row.redirect_target, row.redirect_count, row.state) == (None, None, 0, "ok")
    assert server.count("/temp") == server.count("/target") == 6


def test_validators_are_saved_even_when_the_body_is_unchanged(rig_factory: Callable[..., Rig], server: FeedServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import feeds.run

    parses: list[str] = []
    real_parse = feeds.run.parse  # type: ignore[attr-defined]

    def counting_parse(*args: Any, **kw: Any) -> Any:
        parses.append("x")
        return real_parse(*args, **kw)

    monkeypatch.setattr(feeds.run, "parse", counting_parse)
    n = {"i": 0}

    def sloppy(req: Seen) -> Reply:
        """Same body every time, new ETag every time, never a 304; the last answer is a 304 with an ETag."""
        n["i"] += 1
        if n["i"] == 4:
            return Reply(304, b"", {"ETag": '"e-final"'})
        return feed_reply("sloppy", [1, 2], ETag=f'"e{n["i"]}"', **{"Last-Modified": f"Mon, 0{n['i']} Jan 2024 "
                                                                                        "00:00:00 GMT"})

    server.routes["/sloppy"] = sloppy
    rig = rig_factory([("sloppy", server.url("/sloppy"))])
    for i in range(1, 5):
        rig.pipe.run(force_all=True)
        row = rig.row("sloppy")
        if i < 4:
            assert (row.etag, row.last_modified) == (f'"e{i}"', f"Mon, 0{i} Jan 2024 00:00:00 GMT")
    assert rig.row("sloppy").etag == '"e-final"'
    assert rig.row("sloppy").last_modified == "Mon, 03 Jan 2024 00:00:00 GMT"  # kept: the 304 sent none
    assert len(parses) == 1  # the same body hash is never parsed again
    sent = [r.headers.get("If-None-Match") for r in server.requests("/sloppy")]
    assert sent == [None, '"e1"', '"e2"', '"e3"']
    assert rig.row("sloppy").items_total == 2


def test_test_policy_override_is_validated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from feeds.errors import ConfigError
    from feeds.run import policy_for

    cfg = parse_config(config_text([("x", "http://127.0.0.1:9/x")]), tmp_path / "feeds.toml")
    monkeypatch.setenv(TEST_POLICY_ENV, "interval=2, min_interval=1, redirect_persist_count=2, jitter=0")
    p = policy_for(cfg)
    assert (p.interval, p.min_interval, p.redirect_persist_count, p.jitter) == (
        timedelta(seconds=2), timedelta(seconds=1), 2, 0.0)
    for bad in ("interval", "nosuch=1", "interval=-1", "jitter=2"):
        monkeypatch.setenv(TEST_POLICY_ENV, bad)
        with pytest.raises(ConfigError, match=TEST_POLICY_ENV):
            policy_for(cfg)


def test_legacy_validators_without_their_url_do_not_follow_a_move(rig_factory: Callable[..., Rig],
                                                                  server: FeedServer) -> None:
    """A store from before schema 5 holds validators without the URL that gave them (NULL: the fetch
    URL). A redirect target answering without validators must not make a move send them to it."""
    server.routes["/old"] = lambda req: Reply(301, b"", {"Location": server.url("/new")})
    server.routes["/new"] = lambda req: feed_reply("new", [1, 2])  # no ETag, no Last-Modified
    rig = rig_factory([("mover", server.url("/old"))])
    rig.pipe.run(force_all=True)
    with rig.store.tx() as c:  # as an upgraded store has it: validators from /old, their URL unknown
        rig.store.update_source(c, rig.row("mover").id, etag='"old-v9"', validators_url=None)
    start = rig.clock.t
    for hours in (1, 13, 25):
        rig.clock.t = start + timedelta(hours=hours)
        rig.pipe.run(force_all=True)
    assert rig.row("mover").fetch_url == server.url("/new")  # moved
    rig.clock.advance(timedelta(hours=1))
    rig.pipe.run(force_all=True)
    assert all("If-None-Match" not in r.headers for r in server.requests("/new"))


def test_a_gone_source_taken_out_of_the_config_and_put_back_starts_afresh(rig_factory: Callable[..., Rig],
                                                                          server: FeedServer) -> None:
    back = {"yes": False}
    server.routes["/gone"] = lambda req: feed_reply("back", [1]) if back["yes"] else Reply(410, b"gone")
    server.routes["/other"] = conditional("other", lambda: 1)
    both = [("gone", server.url("/gone")), ("other", server.url("/other"))]
    rig = rig_factory(both)
    rig.pipe.run()
    assert rig.row("gone").gone
    rig_factory(both[1:]).pipe.run(force_all=True)  # taken out of the config (the same store)
    back["yes"] = True
    again = rig_factory(both)  # and put back: due at once, polled like a new source
    assert again.pipe.run().new_items == 1
    row = again.row("gone")
    assert (row.gone, row.state, row.consecutive_failures, row.last_status) == (False, "ok", 0, 200)
    assert server.count("/gone") == 2
