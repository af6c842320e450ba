"""What a security review of the round found, each test failing before its fix: secrets in published
source URLs, terminal escapes from servers in logs and `feeds status`. (Autodiscovery's own findings are
in test_discover.py; a served output directory holding the store in test_config.py.)"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from feedgen_util import rss
from test_scheduling_pipeline import feeds_cli

from feeds.logs import escape_controls
from feeds.sanitize import public_url


def raw_server(response: bytes) -> tuple[socket.socket, int]:
    """A loopback server answering every request with these bytes, as they are (a status line no HTTP library
    would write); close the socket to stop it."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(response)

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


@pytest.mark.parametrize(("url", "public"), [
    ("https://example.org/feed.xml", True),
    ("https://example.org/index.php?feed=rss2&cat=3", True),
    ("https://example.org/feed?private_token=SEKRIT", False),
    ("https://example.org/feed?format=rss&key=abc", False),
    ("https://example.org/feed?API_KEY=abc", False),
    ("https://example.org/f?auth=x", False),
    ("https://example.org/f?sig=x;a=b", False),
    ("https://example.org/f?%74oken=x", False),  # percent-encoded name
    ("https://user:pw@example.org/f", False),
    ("file:///srv/feeds/a.xml", False),
    ("ftp://example.org/f", False),
])
def test_public_url_publishes_no_credentials(url: str, public: bool) -> None:
    assert (public_url(url) == url) is public


def test_a_source_url_with_a_token_is_not_published(tmp_path: Path) -> None:
    """A private feed's key in its query string (?private_token=) was published in RSS <source url> and
    JSON Feed's feed_url to every reader."""
    body = rss([{"title": "A post of a private feed", "guid": "1", "link": "https://p.example/1"}])
    srv, port = raw_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    try:
        url = f"http://127.0.0.1:{port}/feed?private_token=SEKRIT"
        (tmp_path / "feeds.toml").write_text(
            f'[output]\ndir = "out"\nformats = ["atom", "rss", "json", "html"]\n[store]\npath = "feeds.db"\n'
            f'[[sources]]\nname = "Private"\nurl = "{url}"\n[channels.all]\ntitle = "All"\nmatch_all = true\n')
        r = feeds_cli(tmp_path / "feeds.toml", "run")
        assert r.returncode == 0, r.stderr
    finally:
        srv.close()
    out = tmp_path / "out"
    for name in ("all.atom", "all.rss", "all.json", "all.html", "index.opml"):
        if (out / name).exists():
            assert "SEKRIT" not in (out / name).read_text(), name
    assert len(feedparser.parse((out / "all.rss").read_bytes()).entries) == 1
    assert json.loads((out / "all.json").read_text())["items"]


def test_escape_controls_writes_every_control_character_visibly() -> None:
    assert escape_controls("plain text, é and 東京") == "plain text, é and 東京"
    assert escape_controls("Busy\x1b[2J\x1b]0;pwn\x07") == "Busy\\x1b[2J\\x1b]0;pwn\\x07"
    assert escape_controls("a\nfeeds: WARNING: forged\r\x9b") == "a\\x0afeeds: WARNING: forged\\x0d\\x9b"


@pytest.fixture
def hostile_server() -> Iterator[int]:
    """Answers every request with a status line whose reason carries terminal escapes."""
    srv, port = raw_server(b"HTTP/1.1 503 Busy\x1b[2J\x1b]0;pwn\x07\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    yield port
    srv.close()


def test_a_servers_terminal_escapes_reach_neither_the_log_nor_status(tmp_path: Path, hostile_server: int) -> None:
    (tmp_path / "feeds.toml").write_text(
        f'[output]\ndir = "out"\n[store]\npath = "feeds.db"\n[[sources]]\nname = "h"\n'
        f'url = "http://127.0.0.1:{hostile_server}/f"\n[channels.all]\ntitle = "All"\nmatch_all = true\n')
    r = feeds_cli(tmp_path / "feeds.toml", "run")
    assert r.returncode == 1 and "503" in r.stderr
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr
    s = feeds_cli(tmp_path / "feeds.toml", "status")
    assert "503" in s.stdout and "\x1b" not in s.stdout and "\x07" not in s.stdout, s.stdout
