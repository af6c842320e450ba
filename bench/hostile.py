"""Cost of hostile input as it grows: each case run at three sizes, 4x apart, CPU seconds and the growth
ratio per step (about 4 is linear, about 16 quadratic). One command:

    python3 bench/hostile.py [--quick]

The cases are the ones a review of algorithmic costs found quadratic (docs/hardening.md):
* sanitize_html over a summary of many tags it removes (every publish of the entry paid it);
* sanitize_html and visible_text over one tag with a huge attribute list (lxml's HTML parser checks each
  attribute against those before it), and over a "<b" that a long run without ">" follows (the pattern
  that cuts such tags, made possessive);
* the fast parser over one <item> with a huge attribute list (lxml's items() looks each value up by name);
* StoryIndex.evict of one story whose reports all have the same time (undated items take the time read);
* StoryIndex.add of an item with a huge title;
* the fast parser over an RSS author name of one long word (the e-mail address search tried every start).
No target is asserted: the ratios are the figures (tests/ hold no timed assertions).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def cpu(fn: Callable[[], object]) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def sanitize_removed_tags(n: int) -> Callable[[], object]:
    from feeds.sanitize import sanitize_html

    html = "<foo>hello world</foo>" * n
    return lambda: sanitize_html(html)


def sanitize_comments(n: int) -> Callable[[], object]:
    from feeds.sanitize import sanitize_html

    html = "<!--c-->text" * n
    return lambda: sanitize_html(html)


def tag_attributes(n: int) -> Callable[[], object]:
    from feeds.sanitize import sanitize_html, visible_text

    html = "<p " + " ".join(f'a{i}="v"' for i in range(n)) + ">text</p>"
    return lambda: (sanitize_html(html), visible_text(html))


def unclosed_tag(n: int) -> Callable[[], object]:
    from feeds.sanitize import sanitize_html, visible_text

    html = "<p>Markets: a <b" + "x" * n + "</p>"  # a "<" and a long run that no ">" closes
    return lambda: (sanitize_html(html), visible_text(html))


def parse_attributes(n: int) -> Callable[[], object]:
    from feeds.parse import parse

    attrs = " ".join(f'a{i}="v"' for i in range(n))
    doc = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item {attrs}><title>x</title>'
           "<guid>g</guid></item></channel></rss>").encode()
    return lambda: parse(doc, "http://127.0.0.1/feed", "application/rss+xml")


def evict_same_time(n: int) -> Callable[[], object]:
    from feeds.stories import StoryConfig, StoryIndex

    ix = StoryIndex(StoryConfig())
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):  # one story: the same headline, read at one time
        ix.add(i, "Storm closes the coast road again", "", t0)
    return lambda: ix.evict(t0 + timedelta(days=30))


def huge_title(n: int) -> Callable[[], object]:
    from feeds.stories import StoryConfig, StoryIndex

    title = " ".join(f"word{i}" for i in range(n))
    ix = StoryIndex(StoryConfig())
    return lambda: ix.add(1, title, "", datetime(2026, 1, 1, tzinfo=UTC))


def long_author(n: int) -> Callable[[], object]:
    from feeds.parse import parse

    doc = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title>'
           f"<guid>g</guid><author>{'A' * n}</author></item></channel></rss>").encode()
    return lambda: parse(doc, "http://127.0.0.1/feed", "application/rss+xml")


CASES: list[tuple[str, Callable[[int], Callable[[], object]], int]] = [
    ("sanitize: removed tags", sanitize_removed_tags, 20_000),
    ("sanitize: comments", sanitize_comments, 20_000),
    ("sanitize+text: one tag's attributes", tag_attributes, 10_000),
    ("sanitize+text: an unclosed tag's run", unclosed_tag, 20_000),
    ("parse: one element's attributes", parse_attributes, 5_000),
    ("stories: evict one same-time story", evict_same_time, 2_000),
    ("stories: add a huge title", huge_title, 25_000),
    ("parse: an author of one long word", long_author, 20_000),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the first two sizes only")
    args = ap.parse_args(argv)
    steps = 2 if args.quick else 3
    print(f"{'case':38} {'sizes':>22}  {'CPU s':>22}  growth per 4x")
    for name, make, base in CASES:
        sizes = [base * 4 ** k for k in range(steps)]
        times = [cpu(make(n)) for n in sizes]
        ratios = [b / a if a > 0.001 else float("nan") for a, b in zip(times, times[1:], strict=False)]
        print(f"{name:38} {' / '.join(f'{n:,}' for n in sizes):>22}  "
              f"{' / '.join(f'{t:.3f}' for t in times):>22}  {' / '.join(f'{r:.1f}' for r in ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
