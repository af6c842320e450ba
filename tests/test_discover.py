"""Feed autodiscovery: a web page given as a source (a site's address, as readers accept) is read through
the feed its ``<link rel="alternate">`` names, against a real loopback server and a real store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_scheduling_pipeline import (
    FeedServer,
    Reply,
    Rig,
    conditional,
    feed_reply,
    feeds_cli,
    rig_factory,
    server,
    write_config,
)

from feeds.discover import feed_links, is_html_page

__all__ = ["rig_factory", "server"]  # fixtures, imported for pytest


def page(*links: str, base: str = "", doctype: bool = True) -> bytes:
    head = "".join(links) + (f'<base href="{base}">' if base else "")
    return (("<!DOCTYPE html>\n" if doctype else "") +
            f"<html><head><title>A site</title>{head}</head><body><h1>A site</h1></body></html>").encode()


def alt(href: str, kind: str = "application/rss+xml", title: str = "", rel: str = "alternate") -> str:
    return f'<link rel="{rel}" type="{kind}" title="{title}" href="{href}">'


def html_reply(body: bytes) -> Reply:
    return Reply(200, body, {"Content-Type": "text/html; charset=utf-8"})


# -- the pure part --------------------------------------------------------------------------------


def test_a_page_is_told_from_a_feed_by_its_first_element_not_its_content_type() -> None:
    assert is_html_page(page())
    assert is_html_page(page(doctype=False))
    assert is_html_page(b"\xef\xbb\xbf  <!-- c --><?xml version='1.0'?>\n<HTML lang=en><body>x</body></HTML>")
    assert is_html_page("<!doctype html><title>x</title>".encode("utf-16"))
    assert not is_html_page(b'<?xml version="1.0"?>\n<!-- <html> --><rss version="2.0"><channel/></rss>')
    assert not is_html_page(b'<feed xmlns="http://www.w3.org/2005/Atom"><title>html</title></feed>')
    assert not is_html_page(b'<rdf:RDF xmlns:rdf="x"><html/></rdf:RDF>')
    assert not is_html_page(b'{"version": "https://jsonfeed.org/version/1.1", "items": []}')
    assert not is_html_page(b"")


def test_feed_links_are_absolute_in_page_order_with_comments_feeds_last() -> None:
    body = page(alt("/comments/feed/", title="Site » Comments Feed"),
                alt("/feed/", title="Site » Feed"),
                alt("https://cdn.example.org/atom.xml", "application/atom+xml"),
                alt("/feed/"),  # named twice: once
                alt("/wp-json/wp/v2/pages/1", "application/json"),  # WordPress's REST API, not a feed
                alt("/oembed", "application/json+oembed"),
                alt("/x.rss", rel="stylesheet"),
                alt("javascript:alert(1)"),
                alt("/feed.json", "application/feed+json"),
                '<link rel="Alternate Home" type="Application/RSS+XML; charset=utf-8" href="other.rss">')
    assert feed_links(body, "https://example.org/blog/post") == [
        "https://example.org/feed/", "https://cdn.example.org/atom.xml", "https://example.org/feed.json",
        "https://example.org/blog/other.rss", "https://example.org/comments/feed/"]


def test_feed_links_follow_the_pages_base() -> None:
    assert feed_links(page(alt("rss.xml"), base="https://mirror.example.net/news/"), "https://example.org/") == [
        "https://mirror.example.net/news/rss.xml"]


def test_a_utf8_page_without_a_charset_is_read_as_utf8() -> None:
    # lxml reads a page that declares no charset as Latin-1: "café" in an href came back as "cafÃ©"
    body = '<html><head><link rel="alternate" type="application/rss+xml" href="/café/feed.xml"></head></html>'
    assert feed_links(body.encode(), "https://example.org/") == ["https://example.org/café/feed.xml"]
    declared = "<?xml version='1.0' encoding='utf-8'?>" + body
    assert feed_links(declared.encode(), "https://example.org/") == ["https://example.org/café/feed.xml"]
    latin1 = body.replace("<head>", '<head><meta charset="iso-8859-1">').encode("latin-1")
    assert feed_links(latin1, "https://example.org/") == ["https://example.org/café/feed.xml"]


def test_a_page_naming_no_feed_names_none() -> None:
    assert feed_links(page(), "https://example.org/") == []
    assert feed_links(b"", "https://example.org/") == []
    assert feed_links(b"\x00\xff\xfe garbage <<<", "https://example.org/") == []


@given(st.binary(max_size=300))
def test_sniffing_and_link_finding_never_raise(data: bytes) -> None:
    is_html_page(data)
    assert all(u.startswith(("http://", "https://")) for u in feed_links(data, "https://example.org/"))


# -- in the pipeline ------------------------------------------------------------------------------


def test_a_site_address_is_read_through_the_feed_its_page_names(rig_factory: Callable[..., Rig],
                                                                 server: FeedServer) -> None:
    server.routes["/"] = lambda req: html_reply(page(alt("/comments.xml", title="Comments"), alt("/feed.xml")))
    server.routes["/feed.xml"] = conditional("site", lambda: 3)
    rig = rig_factory([("site", server.url("/"))])
    outcome = rig.pipe.run()
    assert not outcome.failed and outcome.new_items == 3
    row = rig.row("site")
    assert (row.url, row.fetch_url, row.last_error) == (server.url("/"), server.url("/feed.xml"), None)
    assert (server.count("/"), server.count("/feed.xml"), server.count("/comments.xml")) == (1, 1, 0)
    # from now on the feed itself is fetched, with its validators: the page is not asked again
    rig.clock.advance(timedelta(hours=1))
    again = rig.pipe.run(force_all=True)
    assert not again.failed and again.new_items == 0
    assert (server.count("/"), server.count("/feed.xml")) == (1, 2)
    assert server.requests("/feed.xml")[-1].headers.get("If-None-Match") == '"site-v3"'


def test_a_feed_served_as_text_html_is_still_a_feed(rig_factory: Callable[..., Rig], server: FeedServer) -> None:
    server.routes["/f"] = lambda req: Reply(200, feed_reply("f", [1, 2]).body, {"Content-Type": "text/html"})
    rig = rig_factory([("f", server.url("/f"))])
    assert rig.pipe.run().new_items == 2
    assert rig.row("f").fetch_url is None


def test_a_page_naming_no_feed_fails_saying_so(rig_factory: Callable[..., Rig], server: FeedServer) -> None:
    server.routes["/"] = lambda req: html_reply(page(alt("/style.css", "text/css", rel="stylesheet")))
    rig = rig_factory([("site", server.url("/"))])
    outcome = rig.pipe.run()
    assert outcome.all_failed
    err = rig.row("site").last_error or ""
    assert err.startswith("a web page, not a feed, and it names no feed"), err
    assert rig.row("site").fetch_url is None


def test_a_page_whose_feed_link_leads_to_another_page_fails(rig_factory: Callable[..., Rig],
                                                            server: FeedServer) -> None:
    server.routes["/"] = lambda req: html_reply(page(alt("/feed")))
    server.routes["/feed"] = lambda req: html_reply(page(alt("/")))
    rig = rig_factory([("site", server.url("/"))])
    assert rig.pipe.run().all_failed
    assert "is a web page too" in (rig.row("site").last_error or "")
    assert (server.count("/"), server.count("/feed")) == (1, 1)  # no loop
    assert rig.row("site").fetch_url is None


def test_a_dead_feed_link_is_a_failure_and_the_page_is_asked_again(rig_factory: Callable[..., Rig],
                                                                   server: FeedServer) -> None:
    server.routes["/"] = lambda req: html_reply(page(alt("/feed.xml")))
    rig = rig_factory([("site", server.url("/"))])
    assert rig.pipe.run().all_failed
    assert (rig.row("site").last_error or "").startswith("HTTP 404")
    assert rig.row("site").fetch_url is None  # never moved to a dead URL
    server.routes["/feed.xml"] = conditional("site", lambda: 1)
    rig.until_due("site")
    assert rig.pipe.run().new_items == 1
    assert server.count("/") == 2


def test_when_the_found_feed_goes_away_the_page_is_read_again(rig_factory: Callable[..., Rig],
                                                              server: FeedServer) -> None:
    where = {"feed": "/feed.xml"}
    server.routes["/"] = lambda req: html_reply(page(alt(where["feed"])))
    server.routes["/feed.xml"] = conditional("site", lambda: 2)
    rig = rig_factory([("site", server.url("/"))])
    assert rig.pipe.run().new_items == 2
    assert rig.row("site").fetch_url == server.url("/feed.xml")
    # the site moves its feed and says so on its page; the old feed URL now answers 404 (or 410)
    where["feed"] = "/new/atom.xml"
    server.routes["/new/atom.xml"] = server.routes.pop("/feed.xml")
    server.routes["/feed.xml"] = lambda req: Reply(410, b"gone")
    rig.clock.advance(timedelta(hours=2))
    outcome = rig.pipe.run(force_all=True)
    assert not outcome.failed, rig.row("site").last_error
    row = rig.row("site")
    assert (row.fetch_url, row.gone, row.consecutive_failures) == (server.url("/new/atom.xml"), False, 0)
    assert outcome.new_items == 0  # the same items, known by their ids


def test_a_moved_source_whose_new_url_is_gone_goes_back_to_its_configured_url(
        rig_factory: Callable[..., Rig], server: FeedServer) -> None:
    server.routes["/f"] = conditional("f", lambda: 2)
    rig = rig_factory([("f", server.url("/f"))])
    rig.pipe.run()
    with rig.store.tx() as c:  # as a permanent redirect that persisted left it
        rig.store.update_source(c, rig.row("f").id, fetch_url=server.url("/moved"))
    rig.clock.advance(timedelta(hours=2))
    assert rig.pipe.run(force_all=True).all_failed  # one 404 may pass: the source stays where it moved
    assert rig.row("f").fetch_url == server.url("/moved") and server.count("/f") == 1
    rig.clock.advance(timedelta(hours=2))
    assert not rig.pipe.run(force_all=True).failed  # a second 404 in a row: the configured URL is read again
    assert rig.row("f").fetch_url is None
    assert (server.count("/moved"), server.count("/f")) == (2, 2)


def test_credentials_go_only_to_the_pages_own_origin(rig_factory: Callable[..., Rig], server: FeedServer,
                                                     tmp_path: Path) -> None:
    other = FeedServer("127.0.0.2")
    try:
        server.routes["/"] = lambda req: html_reply(page(alt(other.url("/feed.xml"))))
        other.routes["/feed.xml"] = conditional("o", lambda: 1)
        url = server.url("/")
        rig = rig_factory([("site", url)], edit=lambda t: t.replace(
            f'url = "{url}"\n', f'url = "{url}"\nheaders = {{ Authorization = "Bearer s3cret" }}\n'))
        assert rig.pipe.run().new_items == 1
        assert server.requests("/")[0].headers.get("Authorization") == "Bearer s3cret"
        assert "Authorization" not in other.requests("/feed.xml")[0].headers
        # and on every later fetch of the found feed, fetched directly: the credentials went there from the
        # second run on
        rig.clock.advance(timedelta(hours=2))
        rig.pipe.run(force_all=True)
        assert len(other.requests("/feed.xml")) == 2
        assert all("Authorization" not in r.headers for r in other.requests("/feed.xml"))
    finally:
        other.close()


def test_a_page_reached_through_a_redirect_to_another_site_moves_nothing(rig_factory: Callable[..., Rig],
                                                                         server: FeedServer) -> None:
    """A working feed answers once with a temporary redirect to another site's page (a captive portal, a
    hijacked redirect) naming a feed of its own: that one response moved the source there for good."""
    portal = FeedServer("127.0.0.3")
    try:
        state = {"portal": False}
        feed = conditional("real", lambda: 1)
        server.routes["/feed"] = lambda req: (Reply(302, b"", {"Location": portal.url("/portal")}) if state["portal"]
                                              else feed(req))
        portal.routes["/portal"] = lambda req: html_reply(page(alt("/evil.xml")))
        portal.routes["/evil.xml"] = conditional("evil", lambda: 3)
        rig = rig_factory([("real", server.url("/feed"))])
        assert rig.pipe.run().new_items == 1
        state["portal"] = True
        rig.clock.advance(timedelta(hours=2))
        assert rig.pipe.run(force_all=True).all_failed
        err = rig.row("real").last_error or ""
        assert "a web page on another site" in err and rig.row("real").fetch_url is None
        assert portal.count("/evil.xml") == 0
        state["portal"] = False
        rig.clock.advance(timedelta(hours=2))
        assert not rig.pipe.run(force_all=True).failed
        assert rig.row("real").fetch_url is None and server.count("/feed") == 3
    finally:
        portal.close()


def test_legacy_validators_do_not_go_to_the_found_feed(rig_factory: Callable[..., Rig], server: FeedServer) -> None:
    # a store from before schema 5 records no URL for its validators: they belong to the URL fetched then,
    # not to the feed a page names
    server.routes["/"] = lambda req: Reply(503, b"busy")
    server.routes["/feed.xml"] = conditional("site", lambda: 1)
    rig = rig_factory([("site", server.url("/"))])
    rig.pipe.run()  # the source's row, not moved yet
    with rig.store.tx() as c:  # as an upgraded store has it: validators from the page, their URL unknown
        rig.store.update_source(c, rig.row("site").id, etag='"site-v1"', validators_url=None)
    server.routes["/"] = lambda req: html_reply(page(alt("/feed.xml")))
    rig.clock.advance(timedelta(hours=2))
    rig.pipe.run(force_all=True)
    assert "If-None-Match" not in server.requests("/feed.xml")[0].headers
    assert rig.row("site").fetch_url == server.url("/feed.xml")


def test_feeds_run_on_a_site_address_publishes_its_feed(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/blog/"] = lambda req: html_reply(page(alt("atom.xml", "application/atom+xml")))
    server.routes["/blog/atom.xml"] = conditional("blog", lambda: 2)
    cfg = write_config(tmp_path, [("blog", server.url("/blog/"))])
    done = feeds_cli(cfg, "run")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # quiet under cron: the move is said only with -v
    parsed = feedparser.parse((tmp_path / "out" / "all.atom").read_bytes())
    assert len(parsed.entries) == 2
    status = feeds_cli(cfg, "status")
    assert server.url("/blog/atom.xml") in status.stdout


def test_a_page_whose_base_is_no_url_fails_its_source_only(rig_factory: Callable[..., Rig],
                                                           server: FeedServer) -> None:
    """`<base href="http://[oops/">` made the link finder raise in the fetch thread, out of the run: every
    run stopped there, the healthy sources after it never stored (found by the final review)."""
    assert feed_links(page(alt("/feed.xml"), base="http://[oops/"), "https://example.org/") == [
        "https://example.org/feed.xml"]  # no base: the page's own address
    server.routes["/page"] = lambda req: html_reply(page(alt("/feed.xml"), base="http://[oops/"))
    server.routes["/feed.xml"] = conditional("site", lambda: 1)
    server.routes["/ok"] = conditional("ok", lambda: 2)
    rig = rig_factory([("page", server.url("/page")), ("ok", server.url("/ok"))])
    report = rig.pipe.run()
    assert report.new_items == 3 and not report.failed


def test_the_link_finder_never_raises_on_hostile_markup() -> None:
    for base in ("http://[oops/", "http://a:99999999/", "\x00", "javascript:alert(1)", "//", "http://" + "a" * 5000):
        for href in ("/f.xml", "http://[::1", "\\\\evil", "%zz", ""):
            got = feed_links(page(alt(href), base=base), "https://example.org/p")
            assert all(u.startswith(("http://", "https://")) for u in got)


def test_whatever_reading_a_page_raises_is_that_sources_failure(rig_factory: Callable[..., Rig], server: FeedServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import feeds.discover

    def broken(body: bytes, page_url: str) -> list[str]:
        raise RuntimeError("a bug reading this page")

    monkeypatch.setattr(feeds.discover, "feed_links", broken)
    server.routes["/page"] = lambda req: html_reply(page(alt("/feed.xml")))
    server.routes["/ok"] = conditional("ok", lambda: 2)
    rig = rig_factory([("page", server.url("/page")), ("ok", server.url("/ok"))])
    report = rig.pipe.run()
    assert report.new_items == 2 and [o.name for o in report.failed] == ["page"]
    assert "internal error reading the page (RuntimeError: a bug reading this page)" in (rig.row("page").last_error
                                                                                          or "")
