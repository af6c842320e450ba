"""Make a version-5 store (run with the code of commit ddaaf63): a podcast and a blog, as feeds stored them
before it kept media files and authors' names.

    PYTHONPATH=<a checkout of ddaaf63> python3 tests/data/store-v5/make_v5.py DIR    # writes DIR/feeds.db
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(tmp: Path) -> None:
    from feeds.config import parse_config
    from feeds.run import Pipeline
    from feeds.store import Store
    from feeds.store import schema as S

    assert S.SCHEMA_VERSION == 5
    tmp.mkdir(parents=True, exist_ok=True)
    srcs = ""
    for name, file in (("Pod", "podcast.xml"), ("Blog", "blog.atom")):
        shutil.copy(HERE / file, tmp / file)
        srcs += f'[[sources]]\nurl = "{file}"\nname = "{name}"\n'
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
