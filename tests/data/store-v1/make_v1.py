"""Make a version-1 store (run with the code of commit f453cc5): seed headlines over three sources.

    python3 tests/data/store-v1/make_v1.py DIR    # writes DIR/feeds.db (and the feed files it read)
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(tmp: Path) -> None:
    sys.path.insert(0, str(HERE.parent.parent))
    from feedgen_util import rss

    from feeds.config import parse_config
    from feeds.run import Pipeline
    from feeds.store import Store
    from feeds.store import schema as S

    assert S.SCHEMA_VERSION == 1
    tmp.mkdir(parents=True, exist_ok=True)
    lines = (HERE.parent / "seed-headlines.tsv").read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    feeds: dict[str, list[dict[str, object]]] = {"a": [], "b": [], "c": []}
    for i, (ts, story, theme, title) in enumerate(rows):
        d = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        feeds["abc"[i % 3]].append({"title": title, "guid": f"g{i}", "link": f"https://site{i % 3}.example/{i}",
                                    "date": d, "summary": f"{story} / {theme}"})
    feeds["c"].append(dict(feeds["a"][0], guid="repost-a0"))  # an exact re-post: a sighting
    srcs = ""
    for name, items in feeds.items():
        (tmp / f"{name}.xml").write_bytes(rss(items))
        srcs += f'[[sources]]\nurl = "{name}.xml"\nname = "{name}"\n'
    text = (f'[output]\ndir = "out"\nbase_url = "https://feeds.example.org/"\n[store]\npath = "feeds.db"\n{srcs}\n'
            '[channels.all]\ntitle = "All"\nmatch_all = true\n')
    cfg = parse_config(text, tmp / "feeds.toml")
    store = Store.open(cfg.store_path)
    pipe = Pipeline(cfg, store, now=lambda: datetime(2025, 7, 5, 12, 0, tzinfo=UTC))
    r = pipe.run(force_all=True)
    print("new", r.new_items, store.counts())
    pipe.close()
    store.close()
    db = sqlite3.connect(cfg.store_path)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("VACUUM")
    db.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
