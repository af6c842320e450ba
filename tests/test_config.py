"""Config loading and validation: every error names file, key path and what was expected."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from feeds.config import load_config, parse_config
from feeds.errors import ConfigError

GOOD = """
[output]
dir = "out"
base_url = "https://news.example.org/feeds"
entries = 50
[store]
path = "data/feeds.db"
[[sources]]
url = "https://www.example.com/world/rss.xml"
name = "Example World"
interval = "30m"
[[sources]]
url = "local/feed.xml"
[channels.ukraine]
title = "Ukraine"
include = ["Ukraine", "Kyiv", "Zelensky"]
exclude = ["Ukraine Airlines"]
[channels.rest]
title = "Everything else"
fallback = true
"""


def load(tmp_path: Path, text: str) -> object:
    p = tmp_path / "feeds.toml"
    p.write_text(text)
    return load_config(p)


def test_good_config_resolves_relative_paths_against_its_directory(tmp_path: Path) -> None:
    cfg = load(tmp_path, GOOD)
    assert cfg.output.dir == tmp_path / "out"  # type: ignore[attr-defined]
    assert cfg.store_path == tmp_path / "data" / "feeds.db"  # type: ignore[attr-defined]
    assert cfg.output.base_url == "https://news.example.org/feeds/"  # type: ignore[attr-defined]
    src = cfg.sources  # type: ignore[attr-defined]
    assert src[0].interval == timedelta(minutes=30)
    assert src[1].url == (tmp_path / "local" / "feed.xml").as_uri()
    assert src[1].name == "feed"
    assert [c.slug for c in cfg.channels] == ["ukraine", "rest"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("patch", "key", "expected"),
    [
        (("entries = 50", "entries = 0"), "output.entries", "integer from 1"),
        (("entries = 50", 'entries = "50"'), "output.entries", "integer"),
        (("entries = 50", "entriez = 50"), "output.entriez", "unknown key"),
        (('base_url = "https://news.example.org/feeds"', 'base_url = "news.example.org"'), "output.base_url",
         "absolute http(s) URL"),
        (('url = "https://www.example.com/world/rss.xml"', 'url = "ftp://example.com/x"'), "sources[0].url",
         "http(s) URL"),
        (('url = "https://www.example.com/world/rss.xml"', 'url = "https://"'), "sources[0].url", "host"),
        (('interval = "30m"', 'interval = "5 parsecs"'), "sources[0].interval", "duration"),
        (('interval = "30m"', 'interval = "10s"'), "sources[0].interval", "duration from 1m"),
        (("[channels.rest]", "[channels.Rest]"), "channels.Rest", "[a-z0-9-]"),
        (("[channels.rest]", '[channels."../etc"]'), "channels.../etc", "[a-z0-9-]"),
        (('include = ["Ukraine", "Kyiv", "Zelensky"]', "include = []"), "channels.ukraine.include",
         "at least one keyword"),
        (('include = ["Ukraine", "Kyiv", "Zelensky"]', 'include = ["Ukraine", ""]'), "channels.ukraine.include[1]",
         "non-empty string"),
        (('title = "Ukraine"', ""), "channels.ukraine.title", "required"),
        (('exclude = ["Ukraine Airlines"]', 'regex = ["(unclosed"]'), "channels.ukraine.regex[0]",
         "regular expression"),
        (('name = "Example World"', 'name = "feed"'), "sources[1].name", "not already used"),
        (("[store]", "[stor]"), "stor", "unknown key"),
    ],
)
def test_bad_config_names_file_key_and_expectation(tmp_path: Path, patch: tuple[str, str], key: str,
                                                   expected: str) -> None:
    old, new = patch
    assert old in GOOD
    with pytest.raises(ConfigError) as ei:
        load(tmp_path, GOOD.replace(old, new, 1))
    err = ei.value
    assert err.key == key
    assert expected in str(err)
    assert str(tmp_path / "feeds.toml") in str(err)


def test_duplicate_source_url_is_rejected(tmp_path: Path) -> None:
    text = GOOD + '\n[[sources]]\nurl = "https://www.example.com/world/rss.xml"\nname = "again"\n'
    with pytest.raises(ConfigError) as ei:
        load(tmp_path, text)
    assert ei.value.key == "sources[2].url"


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="valid TOML"):
        load(tmp_path, "[output\n")
    with pytest.raises(ConfigError, match="existing config file"):
        load_config(tmp_path / "nope.toml")


def test_channel_sources_must_name_configured_sources(tmp_path: Path) -> None:
    text = GOOD.replace('title = "Ukraine"', 'title = "Ukraine"\nsources = ["Nobody"]')
    with pytest.raises(ConfigError) as ei:
        load(tmp_path, text)
    assert ei.value.key == "channels.ukraine.sources[0]"
    ok = GOOD.replace('title = "Ukraine"', 'title = "Ukraine"\nsources = ["Example World"]')
    assert load(tmp_path, ok).channels[0].sources == ("Example World",)  # type: ignore[attr-defined]


def test_bundled_configs_are_valid() -> None:
    root = Path(__file__).resolve().parent.parent
    for name in ("feeds.toml", "world-news.toml"):
        cfg = load_config(root / "config" / name)
        assert cfg.channels and cfg.sources
    demo = load_config(root / "config" / "feeds.toml")
    assert demo.output.dir.resolve() == (root / "output").resolve()
    assert all(s.is_local for s in demo.sources)


def test_reserved_slugs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        parse_config(GOOD.replace("[channels.rest]", "[channels.index]"), tmp_path / "c.toml")
    assert ei.value.key == "channels.index"
