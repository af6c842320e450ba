"""A story published in several channels renders to the same entry in each (same id, same bytes) as
long as its generation is the same there: publish renders and serialises it once for all of them. The
documents must be exactly those written when every channel renders its own entries."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_publish import T0, Fill, assert_valid, make_config

import feeds.publish
from feeds.formats.model import RenderEntry
from feeds.publish import publish
from feeds.store import Store

CHANNELS = """
[channels.news]
title = "News"
match_all = true

[channels.world]
title = "World"
include = ["world"]

[channels.alt]
title = "Alt"
include = ["alt"]
"""
PAGE = 20
BUILD_ENTRIES = feeds.publish.build_entries


def fill(store: Store, n: int, start: int = 0) -> list[int]:
    f = Fill(store)
    f.next_id = 10_000 + start
    chans = (["news", "world"], ["news", "world", "alt"], ["alt"], ["news"])
    return [f.story(chans[i % 4], ("Alpha Wire", "Beta Post")[i % 2], f"Story {i} & more", T0 + 60 * i,
                    others=[("Gamma Daily", f"Other take on {i}", T0 + 60 * i + 5)] if i % 3 == 0 else [],
                    summary=f'<p>About {i} <a href="/a/{i}">link</a></p>')
            for i in range(start, start + n)]


def tree(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def run(tmp: Path, monkeypatch: pytest.MonkeyPatch, max_shared: int) -> tuple[dict[str, bytes], list[Counter[Any]]]:
    """Publish 120 stories, then 30 more and a development of an archived story in three channels; return
    the output tree and, per publish, how many times each (story, generation) was rendered."""
    monkeypatch.setattr(feeds.publish, "MAX_SHARED", max_shared)
    rendered: list[Counter[Any]] = []
    real = BUILD_ENTRIES

    def counting(*args: Any, **kw: Any) -> list[RenderEntry]:
        entries = real(*args, **kw)
        rendered[-1].update((e.story_id, e.gen) for e in entries)
        return entries

    monkeypatch.setattr(feeds.publish, "build_entries", counting)
    tmp.mkdir()
    cfg = make_config(tmp, entries=10, channels=CHANNELS)
    store = Store.open(cfg.store_path)
    try:
        ids = fill(store, 120)
        rendered.append(Counter())
        assert not publish(cfg, store, page_size=PAGE, ping=False).errors
        fill(store, 30, start=120)
        Fill(store).touch(ids[1], ["news", "world", "alt"], T0 + 60 * 500)
        rendered.append(Counter())
        assert not publish(cfg, store, page_size=PAGE, ping=False).errors
    finally:
        store.close()
    assert_valid(cfg.output.dir)
    return tree(cfg.output.dir), rendered


def test_shared_entries_render_once_and_write_the_same_bytes(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    shared, once = run(tmp_path / "shared", monkeypatch, 5000)
    alone, per_channel = run(tmp_path / "alone", monkeypatch, 0)
    assert shared == alone
    assert {name.split("/")[1] for name in shared if name.startswith("archive/")} == {"news", "world", "alt"}
    for publish_once, publish_alone in zip(once, per_channel, strict=True):
        assert set(publish_once) == set(publish_alone)  # the same entries...
        assert max(publish_once.values()) == 1  # ...each rendered once
    assert sum(per_channel[0].values()) == 30 * 2 + 30 * 3 + 30 + 30 and sum(once[0].values()) == 120
    # the development of story 1: generation 2 where it was archived, and rendered once for those channels
    dev = ids_key(per_channel[1], 2)
    assert per_channel[1][dev] == 3 and once[1][dev] == 1


def ids_key(rendered: Counter[Any], gen: int) -> Any:
    (key,) = [k for k in rendered if k[1] == gen]
    return key
