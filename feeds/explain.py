"""`feeds explain A B`: why two headlines (or two stored items) are or are not one story."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from feeds.config import Config


def story_config(cfg: Config) -> object:
    from feeds import stories

    if cfg.stories.threshold is not None:
        return stories.StoryConfig(window=cfg.stories.window, threshold=cfg.stories.threshold)
    return stories.StoryConfig(window=cfg.stories.window)


def _resolve(store: object, text: str) -> tuple[str, str, str]:
    """An entry id (urn:uuid:…) names a stored item; anything else is a headline."""
    if store is not None and text.startswith("urn:uuid:"):
        from sqlalchemy import select

        from feeds.store import Store
        from feeds.store import schema as S

        assert isinstance(store, Store)
        with store.engine.connect() as c:
            row = c.execute(select(S.items.c.title, S.items.c.summary).where(S.items.c.uid == text)).first()
        if row is not None:
            return str(row[0]), str(row[1]), f"stored item {text}"
    return text, "", "headline"


def explain_main(cfg: Config, args: argparse.Namespace) -> int:
    from feeds import stories

    scfg = story_config(cfg)
    assert isinstance(scfg, stories.StoryConfig)
    store = None
    index = None
    if cfg.store_path.exists():
        from feeds.store import Store

        store = Store.open(cfg.store_path)
        # weigh terms as the pipeline does now: with the current window's document frequencies
        index = stories.StoryIndex(scfg)
        since = (datetime.now(UTC) - scfg.window).timestamp()
        for item_id, title, summary, published, story_id in store.window_items(since):
            index.add_known(item_id, title, summary, datetime.fromtimestamp(published, UTC), story_id)
    a_title, a_summary, a_kind = _resolve(store, args.a)
    b_title, b_summary, b_kind = _resolve(store, args.b)
    ex = stories.explain(a_title, a_summary, b_title, b_summary, scfg, index)
    if getattr(args, "json", False):
        print(json.dumps({"score": ex.score, "same_story": ex.same_story, "threshold": scfg.threshold,
                          "shared": ex.shared, "only_a": ex.only_a, "only_b": ex.only_b}, indent=2))
    else:
        print(f"a ({a_kind}): {a_title}")
        print(f"b ({b_kind}): {b_title}")
        for line in ex.lines:
            print(line)
    if store is not None:
        store.close()
    return 0
