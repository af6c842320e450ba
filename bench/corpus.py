"""Deterministic synthetic feed corpus: N sources x M items, RSS 2.0 and Atom mixed.

Every item is a pure function of (seed, source, index), so the loopback server (its own process)
and the benchmark (which parses the same bytes for the feedparser baseline) build identical bytes
without passing them around. Given the same seed and base time the output is byte-identical.

* titles are news-like ("Regulators in Brevania probe Solvari over 14 bn deal"), drawn from word
  pools plus a synthetic proper name and a number so that accidental near-duplicates stay rare;
* summaries are ~600 bytes of HTML (paragraphs, a link, emphasis): sentences of words drawn with
  Zipf weights from 60 common words and 20,000 synthetic rarer ones, so items share common words but
  rarely their specific ones, as news text does;
* about ``syndicated`` (default 10%) of each source's items are copies of another source's item
  (same link, same title: the same story syndicated), which the pipeline must record as sightings;
* every third source is Atom 1.0, the rest RSS 2.0; dates fall in the 36 hours before ``base``.

    python3 bench/corpus.py --sources 3 --items 5 --out /tmp/corpus   # write files to look at
"""

from __future__ import annotations

import argparse
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

SYLLABLES = ("ka", "lo", "ri", "ven", "dor", "sa", "mi", "tal", "bre", "no", "vi", "zan", "tor", "el", "ma",
             "qui", "ros", "fen", "li", "da", "gor", "un", "pe", "sol", "var", "ith", "an", "ber", "cy", "mon")
PLACES = ("Ukraine", "Kyiv", "Gaza", "Israel", "Germany", "France", "Brazil", "India", "Japan", "Kenya",
          "Canada", "Mexico", "Poland", "Spain", "Nigeria", "Egypt", "Turkey", "Chile", "Vietnam", "Norway",
          "Australia", "Indonesia", "Argentina", "Sweden", "Ghana", "Peru", "Taiwan", "Iran", "Texas", "Ohio")
ACTORS = ("Government", "Parliament", "Regulators", "Central bank", "Prime minister", "Court", "Police",
          "Union leaders", "Investors", "Scientists", "Doctors", "Farmers", "Voters", "Senate", "Congress",
          "Protesters", "Officials", "Ministers", "Rescuers", "Researchers", "Airline", "Startup", "Automaker",
          "Chipmaker", "Energy firm", "Football club", "Coach", "Opposition", "Mayor", "Health agency")
VERBS = ("announces", "rejects", "approves", "delays", "probes", "backs", "warns over", "unveils", "cuts",
         "raises", "suspends", "extends", "blocks", "launches", "signs", "drops", "defends", "questions",
         "weighs", "confirms", "denies", "expands", "halts", "restores", "proposes", "targets", "wins", "loses")
OBJECTS = ("budget plan", "interest rates", "AI rules", "chip exports", "climate deal", "peace talks",
           "wage deal", "housing reform", "tax bill", "election date", "trade tariffs", "drug prices",
           "ceasefire terms", "pension reform", "rail strike", "data law", "bank merger", "oil output",
           "vaccine rollout", "transfer fee", "stadium deal", "water rationing", "border controls",
           "satellite launch", "battery plant", "grain exports", "software update", "inflation target")
TAILS = ("amid growing pressure", "after overnight talks", "as markets slide", "despite criticism",
         "in surprise move", "ahead of key vote", "after record losses", "as talks stall", "for second time",
         "under new rules", "after court ruling", "as inflation eases", "in landmark case", "", "", "")
WORDS = ("the", "officials", "said", "on", "tuesday", "that", "new", "measures", "would", "take", "effect",
         "next", "month", "while", "critics", "argued", "plan", "could", "affect", "millions", "of", "people",
         "across", "region", "analysts", "expect", "markets", "to", "react", "cautiously", "report", "also",
         "noted", "earlier", "decision", "was", "widely", "anticipated", "by", "investors", "and", "unions",
         "statement", "spokesperson", "confirmed", "details", "remain", "unclear", "talks", "continue",
         "government", "budget", "growth", "forecast", "percent", "inflation", "energy", "prices", "rose")
CATEGORIES = ("World", "Politics", "Business", "Technology", "Science", "Sport", "Health", "Climate")


@dataclass(frozen=True, slots=True)
class Item:
    guid: str
    link: str
    title: str
    summary: str  # HTML
    published: datetime
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Feed:
    index: int
    name: str
    kind: str  # "rss" or "atom"
    title: str
    site: str
    items: tuple[Item, ...]

    @property
    def path(self) -> str:
        return f"/g/{self.index}.{'atom' if self.kind == 'atom' else 'xml'}"

    @property
    def content_type(self) -> str:
        return "application/atom+xml; charset=utf-8" if self.kind == "atom" else "application/rss+xml; charset=utf-8"


@dataclass(frozen=True)
class Spec:
    sources: int
    items: int
    seed: int = 1
    base: datetime = datetime(2025, 1, 1, tzinfo=UTC)
    syndicated: float = 0.10

    @property
    def host(self) -> str:
        return "news.example"


def default_base() -> datetime:
    """Now, floored to the hour: recent enough for the pipeline's time windows, stable within an hour."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _rng(*parts: object) -> random.Random:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _name(r: random.Random, syllables: int) -> str:
    return "".join(r.choice(SYLLABLES) for _ in range(syllables)).capitalize()


def _vocabulary() -> tuple[tuple[str, ...], list[float]]:
    """Common words first, then 20,000 synthetic rarer ones; Zipf weights (1/rank) as cumulative weights."""
    r = random.Random(20250101)
    rare: dict[str, None] = {}
    while len(rare) < 20000:
        rare["".join(r.choice(SYLLABLES) for _ in range(r.randint(2, 4)))] = None
    words = tuple(dict.fromkeys(WORDS)) + tuple(w for w in rare if w not in WORDS)
    cum, total = [], 0.0
    for rank in range(len(words)):
        total += 1.0 / (rank + 1)
        cum.append(total)
    return words, cum


VOCAB, VOCAB_CUM = _vocabulary()


def _summary(r: random.Random, title: str, link: str, target: int = 600) -> str:
    """About `target` bytes of HTML: the title in bold, Zipf-distributed words in sentences, a link."""
    head = f"<p><b>{escape(title)}</b>. "
    tail = (f"</p><p>Read more at <a href={quoteattr(link)}>the full report</a>; "
            f"<em>updated {r.randint(1, 59)} minutes ago</em>.</p>")
    budget = target - len(head) - len(tail)
    words = r.choices(VOCAB, cum_weights=VOCAB_CUM, k=max(8, budget // 6))
    parts: list[str] = []
    size = i = 0
    while i < len(words) and size < budget:
        n = r.randint(8, 16)
        sentence = " ".join(words[i:i + n]).capitalize() + ". "
        parts.append(sentence)
        size += len(sentence)
        i += n
    return head + "".join(parts) + tail


def original_item(spec: Spec, source: int, index: int) -> Item:
    """Item `index` of source `source` as that source first published it."""
    r = _rng(spec.seed, source, index)
    tail = r.choice(TAILS)
    title = (f"{r.choice(ACTORS)} in {r.choice(PLACES)} {r.choice(VERBS)} {_name(r, r.randint(2, 3))} "
             f"{r.choice(OBJECTS)} worth {r.randint(2, 990)} bn" + (f" {tail}" if tail else ""))
    slug = f"{source}-{index}-{r.getrandbits(32):08x}"
    link = f"https://{_site(source)}/news/{slug}.html"
    published = spec.base - timedelta(seconds=r.randint(60, 36 * 3600))
    cats = tuple(sorted(set(r.sample(CATEGORIES, r.randint(1, 2)))))
    return Item(guid=link, link=link, title=title, summary=_summary(r, title, link), published=published,
                categories=cats)


def _site(source: int) -> str:
    return f"www.source{source}.example"


def feed_items(spec: Spec, source: int) -> tuple[Item, ...]:
    """The items of one source: originals, with ~`syndicated` of them replaced by other sources' items."""
    r = _rng(spec.seed, "syndication", source)
    out = []
    for j in range(spec.items):
        if spec.sources > 1 and r.random() < spec.syndicated:
            other = (source + r.randint(1, spec.sources - 1)) % spec.sources
            orig = original_item(spec, other, r.randrange(spec.items))
            # the syndicating outlet keeps link and title, uses its own date and puts its own credit line
            out.append(Item(guid=orig.link, link=orig.link, title=orig.title,
                            summary=orig.summary.replace("</p>", f" (via {_site(other)})</p>", 1),
                            published=orig.published + timedelta(minutes=r.randint(1, 90)),
                            categories=orig.categories))
        else:
            out.append(original_item(spec, source, j))
    out.sort(key=lambda it: it.published, reverse=True)  # newest first, as feeds are
    return tuple(out)


def make_feed(spec: Spec, source: int) -> Feed:
    r = _rng(spec.seed, "feed", source)
    name = f"{_name(r, 2)} {r.choice(('Times', 'Post', 'Wire', 'Daily', 'Herald', 'News', 'Courier'))} {source}"
    kind = "atom" if source % 3 == 2 else "rss"
    return Feed(index=source, name=name, kind=kind, title=name, site=f"https://{_site(source)}/",
                items=feed_items(spec, source))


def with_new_item(spec: Spec, feed: Feed) -> Feed:
    """The feed with one more original item, published at the base time (newer than the feed's own
    originals; syndicated copies can be dated up to 90 minutes later)."""
    new = original_item(spec, feed.index, spec.items)
    new = Item(guid=new.guid, link=new.link, title=new.title, summary=new.summary, published=spec.base,
               categories=new.categories)
    return Feed(index=feed.index, name=feed.name, kind=feed.kind, title=feed.title, site=feed.site,
                items=(new, *feed.items))


def feeds(spec: Spec) -> Iterator[Feed]:
    for i in range(spec.sources):
        yield make_feed(spec, i)


BUILD_MARK = b"\x00BUILD\x00"  # where the feed-level build date goes (lastBuildDate / feed updated)


def rss_date(d: datetime) -> str:
    return format_datetime(d, usegmt=True)


def atom_date(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def template(feed: Feed) -> tuple[bytes, bytes]:
    """The document split around its build date: prefix + date + suffix is the whole body."""
    if feed.kind == "atom":
        head = [
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n',
            f"  <id>{escape(feed.site)}</id>\n  <title>{escape(feed.title)}</title>\n",
            f"  <link rel=\"alternate\" href={quoteattr(feed.site)}/>\n  <updated>",
        ]
        body = ["</updated>\n"]
        for it in feed.items:
            cats = "".join(f"<category term={quoteattr(c)}/>" for c in it.categories)
            body.append(
                f"  <entry>\n    <id>{escape(it.guid)}</id>\n    <title>{escape(it.title)}</title>\n"
                f"    <link rel=\"alternate\" href={quoteattr(it.link)}/>\n"
                f"    <published>{atom_date(it.published)}</published>\n"
                f"    <updated>{atom_date(it.published)}</updated>\n"
                f"    <author><name>{escape(feed.name)} staff</name></author>\n    {cats}\n"
                f"    <summary type=\"html\">{escape(it.summary)}</summary>\n  </entry>\n")
        body.append("</feed>\n")
    else:
        head = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">\n<channel>\n',
            f"  <title>{escape(feed.title)}</title>\n  <link>{escape(feed.site)}</link>\n",
            f"  <description>Latest news from {escape(feed.name)}</description>\n  <language>en</language>\n",
            "  <lastBuildDate>",
        ]
        body = ["</lastBuildDate>\n"]
        for it in feed.items:
            cats = "".join(f"<category>{escape(c)}</category>" for c in it.categories)
            body.append(
                f"  <item>\n    <title>{escape(it.title)}</title>\n    <link>{escape(it.link)}</link>\n"
                f"    <guid isPermaLink=\"true\">{escape(it.guid)}</guid>\n"
                f"    <pubDate>{rss_date(it.published)}</pubDate>\n    {cats}\n"
                f"    <description><![CDATA[{it.summary}]]></description>\n  </item>\n")
        body.append("</channel>\n</rss>\n")
    return "".join(head).encode(), "".join(body).encode()


def build_date(feed: Feed, when: datetime) -> bytes:
    return (atom_date(when) if feed.kind == "atom" else rss_date(when)).encode()


def render(feed: Feed, when: datetime) -> bytes:
    prefix, suffix = template(feed)
    return prefix + build_date(feed, when) + suffix


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=3)
    ap.add_argument("--items", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    spec = Spec(a.sources, a.items, a.seed, default_base())
    a.out.mkdir(parents=True, exist_ok=True)
    for f in feeds(spec):
        (a.out / f.path.rsplit("/", 1)[1]).write_bytes(render(f, spec.base))
    print(f"wrote {spec.sources} feeds to {a.out}")


if __name__ == "__main__":
    main()
