"""Review fixes: what a host's answer leaves a source with (Retry-After on a host a source is sent on to, a
host named in Unicode, a validator folded over lines, a max-age read from a cache's aged copy).

Real HTTP servers on loopback addresses (test_scheduling_pipeline's FeedServer), a real store file."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from test_review_fixes_sched import NOW, _sql
from test_scheduling_pipeline import FeedServer, Reply, Rig, Seen, feed_reply, rig_factory, server, server2

from feeds import schedule
from feeds.fetch import _prepare, host_key

__all__ = ["rig_factory", "server", "server2"]  # fixtures of test_scheduling_pipeline


def _limited(name: str, on: dict[str, bool]) -> Callable[[Seen], Reply]:
    """A feed that answers 429 with Retry-After: 3600 while on["on"]."""
    return lambda req: Reply(429, b"slow down", {"Retry-After": "3600"}) if on["on"] else feed_reply(name, [1])


def test_a_source_sent_on_to_a_waiting_host_is_due_again_when_the_wait_ends(
        rig_factory: Callable[..., Rig], server: FeedServer, server2: FeedServer) -> None:
    # "redir" on 127.0.0.2 redirects (302) to 127.0.0.1, whose other feed answers 429 Retry-After: an hour
    on = {"on": False}
    server.routes["/limited"] = _limited("limited", on)
    server.routes["/target"] = lambda req: feed_reply("target", [1])
    server2.routes["/redir"] = lambda req: Reply(302, b"", {"Location": server.url("/target")})
    rig = rig_factory([("limited", server.url("/limited")), ("redir", server2.url("/redir"))])
    rig.pipe.run()
    on["on"] = True
    rig.clock.advance(timedelta(minutes=15))
    rig.pipe.run()
    until = rig.store.host_retry_after()["127.0.0.1"]
    before = server2.count("/redir")
    for _ in range(45):  # cron every minute, all inside the hour
        rig.clock.advance(timedelta(minutes=1))
        rig.pipe.run()
    # each request to its own host is an attempt: it is asked on its own schedule (every 15 minutes), the
    # waiting host never; a review found "redir" due at every run, its own host asked 45 times here
    assert 2 <= server2.count("/redir") - before <= 4
    row = rig.row("redir")
    assert row.next_due == row.last_attempt + 15 * 60
    assert server.count("/target") <= 2  # the first run's (and the second's, if it came before the 429)
    reached = server.count("/target")
    on["on"] = False
    rig.clock.t = rig.clock.t + timedelta(seconds=until - rig.clock.t.timestamp() + 1)
    rig.pipe.run()
    assert server.count("/target") == reached + 1
    assert rig.row("redir").state == "ok"


def test_a_host_named_in_unicode_is_held_under_the_name_its_requests_go_to(
        rig_factory: Callable[..., Rig], server: FeedServer, server2: FeedServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:  # the IDN host is this loopback server
        return real("127.0.0.1" if host == "xn--bcher-kva.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    def idn(path: str) -> str:
        return f"http://Bücher.test:{server.port}{path}"

    on = {"on": True}
    server.routes["/limited"] = _limited("limited", on)
    server.routes["/target"] = lambda req: feed_reply("target", [1])
    server2.routes["/redir"] = lambda req: Reply(302, b"", {"Location": idn("/target")})
    rig = rig_factory([("limited", idn("/limited")), ("redir", server2.url("/redir"))])
    rig.pipe.run()  # "redir" may reach /target before the 429 arrives: the next run is the one that counts
    assert rig.store.host_retry_after().keys() == {"xn--bcher-kva.test"}  # not "bücher.test"
    reached = server.count("/target")
    rig.clock.advance(timedelta(minutes=20))
    report = rig.pipe.run()
    assert server.count("/target") == reached  # a review found the stored hold missed it: the request went
    assert report.held == 1


@pytest.mark.parametrize("url", ["http://Bücher.test/feed", "https://EXAMPLE.org:8443/a?b", "http://user:pw@Ünï.test/",
                                 "http://127.0.0.1:8080/x", "http://[::1]:8080/"])
def test_host_key_is_the_host_requests_go_to(url: str) -> None:
    assert host_key(url) == _prepare(url).host


def test_host_key_of_a_url_without_a_usable_host() -> None:
    assert host_key("http://[::1/feed") == ""  # a malformed netloc: no host, no exception
    assert host_key("file:///tmp/x") == ""


def test_a_validator_folded_over_lines_is_unfolded_and_sent(rig_factory: Callable[..., Rig],
                                                            server: FeedServer) -> None:
    # obs-fold (RFC 9112 5.2) in the ETag and Last-Modified of a 200
    lm = "Wed, 01 May 2024 10:00:00 GMT"
    folded = {"ETag": '"v1\r\n "', "Last-Modified": "Wed, 01 May\r\n\t2024 10:00:00 GMT"}
    server.routes["/f"] = lambda req: (Reply(304, b"") if req.headers.get("If-None-Match") == '"v1 "'
                                       else feed_reply("f", [1], **folded))
    rig = rig_factory([("f", server.url("/f"))])
    rig.pipe.run()
    row = rig.row("f")
    assert (row.etag, row.last_modified) == ('"v1 "', lm)
    rig.until_due("f")
    report = rig.pipe.run()
    # a review found the folded value stored as it came, and every later fetch refused to send it: the source
    # went to backoff and then broken without asking the server again
    assert [o.not_modified for o in report.outcomes] == [True]
    assert server.requests("/f")[-1].headers.get("If-Modified-Since") == lm
    assert rig.row("f").consecutive_failures == 0


def test_a_stored_validator_that_cannot_be_sent_is_left_out(rig_factory: Callable[..., Rig],
                                                            server: FeedServer) -> None:
    # stored before validators were unfolded: a folded one is sent unfolded, one with a bare CR is left out
    # (the request goes unconditional and its answer replaces it)
    server.routes["/f"] = lambda req: feed_reply("f", [1], ETag='"v2"')
    rig = rig_factory([("f", server.url("/f"))])
    rig.pipe.run()
    _sql(rig.cfg.store_path, "UPDATE sources SET etag = '\"v1\r\n \"'")
    rig.until_due("f")
    report = rig.pipe.run()
    assert [o.error for o in report.outcomes] == [None]
    assert server.requests("/f")[-1].headers.get("If-None-Match") == '"v1 "'
    _sql(rig.cfg.store_path, "UPDATE sources SET etag = '\"v1\r\"'")
    rig.until_due("f")
    report = rig.pipe.run()
    assert [o.error for o in report.outcomes] == [None]
    assert "If-None-Match" not in server.requests("/f")[-1].headers
    assert rig.row("f").etag == '"v2"'


@pytest.mark.parametrize(("cache_control", "age", "want"), [
    ("max-age=3600", None, 3600),
    ("max-age=3600", "600", 3000),  # RFC 9111 4.2.3: a cache's copy ten minutes old is fresh 50 more
    ("max-age=3600", "7200", 0),  # stale already: no hint (the configured interval)
    ("max-age=3600", "soon", 3600),  # not delta-seconds: no age
    ("max-age=3600", "-5", 3600),
    ("public", "600", None),
])
def test_max_age_is_what_the_age_leaves_of_it(cache_control: str, age: str | None, want: int | None) -> None:
    assert schedule.freshness_hints(cache_control, None, NOW, age=age) == (want, None)


def test_a_cached_copy_with_an_age_is_polled_when_it_goes_stale(rig_factory: Callable[..., Rig],
                                                                server: FeedServer) -> None:
    # max-age=3600 on a copy a CDN has held 30 minutes: due in 30 minutes, not an hour
    server.routes["/f"] = lambda req: feed_reply("f", [1], **{"Cache-Control": "max-age=3600", "Age": "1800"})
    rig = rig_factory([("f", server.url("/f"))])
    rig.pipe.run()
    row = rig.row("f")
    assert (row.max_age, row.next_due) == (1800, rig.clock.t.timestamp() + 1800)
