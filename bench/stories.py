"""Quality and speed benchmark of story de-duplication (feeds.stories).

    python3 bench/stories.py [--quick] [--data ../shared/datasets] [--threshold T] [--seed N]
                             [--semantic [--weight W] [--cache FILE]] [--real DIR]

Quality:
  * UCI News Aggregator dev split: B-cubed precision/recall of the stories formed against STORY.
    UCI timestamps leak the answer (one story's items are fractions of a second apart), so each
    item gets a time drawn uniformly (seeded) within --spread hours and items are fed in that order.
  * STS-B headlines (train and dev separately): each pair is a 2-item index, add a then b; the share
    of pairs where b joins a, among pairs scored >= 4 and among pairs scored <= 1.
  * The update rule (is_significant_update) on the STS-B pairs that join, both ways round: how often the
    second headline counts as a development, among rewordings (scored >= 4) and the other pairs.
  * Real feeds (--real, unlabelled): joins, and joins of an item to a story holding an item of its own
    feed (a blog's "part 1" and "part 2"), with the feeds' templates (SourceProfile) and series siblings
    (`siblings`), without the siblings, and without either.
Speed: items/s of add() (CPU time of the process, wall time beside it; evict every 100 adds) with 10,000
and 100,000 items in the window, synthesised from UCI titles (times spread so everything stays inside the
window): ``resampled`` (titles recur, a word dropped half the time: few, huge stories), ``varied`` (words
dropped/swapped, random rare tokens added: many more, smaller stories, but each UCI title still recurs
~26 times in 100k items, so every head term has long postings of near-identical stories) and ``spliced``
(the first half of one UCI title joined to the second half of another plus one or two random rare names,
so most items are the only report of their event, as in a real window; a quarter are re-reports of a
recent spliced headline with a word dropped or swapped: ~57,000 stories in 100k items).

``--semantic`` measures the same figures for the semantic mode (the `semantic` extra installed): the index
is given the sentence embedder (threshold 0.65 and weight 0.5 unless --threshold/--weight). Every title is
embedded once, in batches, before it is used (--cache keeps them in an .npz between runs), so the speed
line times the blended index with the embeddings given, and prints beside it the embedding rate (CPU,
batches of 32) and the two combined (what a pipeline that embeds in batches would do).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feeds.stories import (  # noqa: E402
    SEMANTIC_THRESHOLD,
    SourceProfile,
    StoryConfig,
    StoryIndex,
    is_significant_update,
)

BASE = datetime(2024, 1, 1, tzinfo=UTC)


class CachedEmbedder:
    """The semantic model's embed() behind a text -> row cache: ``prepare(texts)`` embeds the ones not seen
    yet in one batched call (timed: ``cpu`` seconds for ``count`` texts); calls then read the cache."""

    def __init__(self, model: Any, cache: Path | None = None) -> None:
        import numpy as np

        self.np, self.model, self.path = np, model, cache
        self.rows: dict[str, Any] = {}
        self.cpu = 0.0
        self.count = 0
        if cache is not None and cache.is_file():
            z = np.load(cache, allow_pickle=False)
            if str(z["model"]) == model.name:
                self.rows = dict(zip(z["texts"].tolist(), z["emb"], strict=True))

    def prepare(self, texts: Sequence[str]) -> None:
        new = list(dict.fromkeys(t for t in texts if t not in self.rows))
        if not new:
            return
        c0 = time.process_time()
        emb = self.model.embed(new)
        self.cpu += time.process_time() - c0
        self.count += len(new)
        self.rows.update(zip(new, emb, strict=True))

    def save(self) -> None:
        if self.path is not None:
            texts = list(self.rows)
            self.np.savez(self.path, model=self.np.array(self.model.name), texts=self.np.array(texts),
                          emb=self.np.stack([self.rows[t] for t in texts]))

    def __call__(self, texts: Sequence[str]) -> Any:
        self.prepare(texts)
        return self.np.stack([self.rows[t] for t in texts])


def load_uci(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [(r["TITLE"], r["STORY"]) for r in csv.DictReader(f)]


def load_stsb(path: Path) -> list[tuple[float, str, str]]:
    out = []
    with path.open(encoding="utf-8") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                out.append((float(parts[0]), parts[1], parts[2]))
    return out


def bcubed(pred: Sequence[int], gold: Sequence[str]) -> tuple[float, float]:
    by_pred: dict[int, list[int]] = defaultdict(list)
    by_gold: dict[str, list[int]] = defaultdict(list)
    for i, (p, g) in enumerate(zip(pred, gold, strict=True)):
        by_pred[p].append(i)
        by_gold[g].append(i)
    # count of items sharing both pred and gold cluster with item i
    both: dict[tuple[int, str], int] = defaultdict(int)
    for p, g in zip(pred, gold, strict=True):
        both[(p, g)] += 1
    prec = rec = 0.0
    for p, g in zip(pred, gold, strict=True):
        b = both[(p, g)]
        prec += b / len(by_pred[p])
        rec += b / len(by_gold[g])
    n = len(pred)
    return prec / n, rec / n


def run_uci(rows: list[tuple[str, str]], cfg: StoryConfig, seed: int, spread_h: float,
            embedder: CachedEmbedder | None = None) -> tuple[float, float, int]:
    rng = random.Random(seed)
    timed = [(BASE + timedelta(seconds=rng.uniform(0, spread_h * 3600)), i) for i in range(len(rows))]
    timed.sort()
    ix = StoryIndex(cfg, embedder)
    pred: list[int] = [0] * len(rows)
    for ts, i in timed:
        pred[i] = ix.add(i, rows[i][0], "", ts).story_id
    p, r = bcubed(pred, [g for _, g in rows])
    return p, r, len(set(pred))


def run_stsb(pairs: list[tuple[float, str, str]], cfg: StoryConfig,
             embedder: CachedEmbedder | None = None) -> tuple[float, int, float, int]:
    hi = hi_m = lo = lo_m = 0
    for score, a, b in pairs:
        ix = StoryIndex(cfg, embedder)
        ix.add(1, a, "", BASE)
        joined = ix.add(2, b, "", BASE + timedelta(minutes=5)).joined
        if score >= 4:
            hi += 1
            hi_m += joined
        elif score <= 1:
            lo += 1
            lo_m += joined
    return hi_m / max(hi, 1), hi, lo_m / max(lo, 1), lo


def run_update_rule(pairs: list[tuple[float, str, str]], cfg: StoryConfig) -> tuple[float, int, float, int]:
    """How often a joining headline counts as a development (is_significant_update), among STS-B pairs that
    join (each pair both ways round): pairs scored >= 4 are rewordings (it should not), pairs scored below
    4 differ in some important information. Returns (share flagged, count) for each group."""
    counts = {True: [0, 0], False: [0, 0]}  # rewording? -> [flagged, joined]
    for score, a, b in pairs:
        for x, y in ((a, b), (b, a)):
            ix = StoryIndex(cfg)
            ix.add(1, x, "", BASE)
            m = ix.add(2, y, "", BASE + timedelta(minutes=5))
            if m.joined:
                c = counts[score >= 4]
                c[0] += is_significant_update(m, cfg)
                c[1] += 1
    (rf, rn), (df, dn) = counts[True], counts[False]
    return rf / max(rn, 1), rn, df / max(dn, 1), dn


def synthesizer(titles: list[str], kind: str, rng: random.Random) -> Callable[[], str]:
    """Synthetic headlines for the speed runs.

    ``resampled``: a UCI title, a word dropped half the time: few, huge stories (every title recurs).
    ``varied``: a UCI title with one or two words dropped or swapped and one to three random rare tokens
    added (names, codes): mostly distinct stories, with the common vocabulary of real headlines (but each
    UCI title recurs, ~26 times in 100k items).
    ``spliced``: three in four, a new headline: the first half of a UCI title, the second half of another
    and one or two random rare names; one in four, a re-report of one of the last 1,000-2,000 new headlines
    with a word dropped or two adjacent words swapped. Most items are the only report of their event.
    """
    letters = "abcdefghijklmnopqrstuvwxyz"
    recent: list[str] = []

    def rare_name() -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(4, 8))).capitalize()

    def resampled() -> str:
        words = rng.choice(titles).split()
        if len(words) > 3 and rng.random() < 0.5:
            del words[rng.randrange(len(words))]
        return " ".join(words)

    def varied() -> str:
        words = rng.choice(titles).split()
        for _ in range(rng.randint(1, 2)):
            if len(words) > 3 and rng.random() < 0.5:
                del words[rng.randrange(len(words))]
            elif len(words) > 2:
                i = rng.randrange(len(words) - 1)
                words[i], words[i + 1] = words[i + 1], words[i]
        for _ in range(rng.randint(1, 3)):
            rare = "".join(rng.choice(letters) for _ in range(rng.randint(4, 8))).capitalize()
            words.insert(rng.randrange(len(words) + 1), rare)
        return " ".join(words)

    def spliced() -> str:
        if recent and rng.random() < 0.25:
            words = rng.choice(recent).split()
            if len(words) > 3 and rng.random() < 0.5:
                del words[rng.randrange(len(words))]
            elif len(words) > 2:
                i = rng.randrange(len(words) - 1)
                words[i], words[i + 1] = words[i + 1], words[i]
            return " ".join(words)
        a, b = rng.choice(titles).split(), rng.choice(titles).split()
        words = a[: (len(a) + 1) // 2] + b[len(b) // 2 :]
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randrange(len(words) + 1), rare_name())
        text = " ".join(words)
        recent.append(text)
        if len(recent) > 2_000:
            del recent[:1_000]
        return text

    return {"resampled": resampled, "varied": varied, "spliced": spliced}[kind]


def speed(titles: list[str], n: int, cfg: StoryConfig, seed: int, measure: int, kind: str,
          embedder: CachedEmbedder | None = None) -> tuple[float, float, int]:
    """Fill the window with n synthetic items, then time `measure` further adds (with evict calls).

    Returns (items/s of CPU time, items/s of wall time, live stories). CPU time is the figure to read on
    a shared machine; wall time is printed beside it. With an embedder, every title is embedded before
    the timing starts (the adds read the embeddings from its cache)."""
    rng = random.Random(seed)
    synth = synthesizer(titles, kind, rng)
    span = cfg.window.total_seconds() * 0.9
    step = span / n
    ix = StoryIndex(cfg, embedder)
    t = BASE
    fill = [synth() for _ in range(n)]
    if embedder is not None:
        embedder.prepare(fill)
    for i in range(n):
        ix.add(i, fill[i], "", t)
        t += timedelta(seconds=step)
    texts = [synth() for _ in range(measure)]
    if embedder is not None:
        embedder.prepare(texts)
    times = []
    for _ in range(measure):
        t += timedelta(seconds=step)
        times.append(t)
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    for j, text in enumerate(texts):
        ix.add(n + j, text, "", times[j])
        if j % 100 == 0:
            ix.evict(times[j])
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    return measure / cpu, measure / wall, ix.story_count


def run_real_feeds(corpus: Path, cfg: StoryConfig, profiles: bool, siblings: bool = True) -> tuple[int, int, int]:
    """Real feeds, unlabelled: every dated entry (at most 200 a feed) fed in published order with evictions,
    each with its feed document's profile (or none) and, with ``siblings`` (and profiles), the items of its
    feed's other posts of one series excluded as the pipeline does (and its feed named as its source, as the
    pipeline does: the headline route joins no report to a story whose latest reports hold one of its feed's).
    Returns
    (items, joins, joins to a story that already had an item of the joining item's own feed) -- the latter
    were mostly wrong when read by
    hand (docs/stories.md), so a count that falls with no loss on UCI is the figure to watch."""
    from feeds.parse import ParseFailed, parse

    ix = StoryIndex(cfg)
    items: list[tuple[datetime, str, str, str, list[tuple[str, str, float]]]] = []
    for f in sorted(corpus.iterdir()):
        if not f.is_file() or f.name.startswith(("LICENSE", "README")):
            continue
        try:
            doc = parse(f.read_bytes(), "https://example.com/" + f.name)
        except ParseFailed:
            continue
        entries = doc.entries[:200]
        # the document as the pipeline gives it, but for undated entries: the pipeline times one by when it was
        # first seen; a corpus has no history of polls, so it gets the feed's newest date here
        newest = max((e.published for e in entries if e.published is not None), default=None)
        texts = [(e.title, e.summary, (e.published or newest or datetime.now(UTC)).timestamp())
                 for e in entries if e.title or e.summary]
        items.extend((e.published, f.name, e.title, e.summary, texts) for e in entries if e.published is not None)
    items.sort(key=lambda x: (x[0], x[1], x[2]))
    feeds_of: dict[int, set[str]] = {}
    made: dict[str, SourceProfile] = {}
    ids: dict[str, dict[str, list[int]]] = {}  # feed -> title -> items added so far
    joins = own = 0
    for i, (published, name, title, summary, texts) in enumerate(items):
        prof = None
        exclude: list[int] = []
        if profiles:
            prof = made.get(name)
            if prof is None:
                prof = made[name] = ix.source_profile(texts)
            if siblings:
                exclude = prof.sibling_items(title, ids.get(name, {}))
        ids.setdefault(name, {}).setdefault(title, []).append(i)
        ix.evict(published)
        m = ix.add(i, title, summary, published, prof, exclude, source=name)
        if m.joined:
            joins += 1
            own += name in feeds_of[m.story_id]
            feeds_of[m.story_id].add(name)
        else:
            feeds_of[m.story_id] = {name}
    return len(items), joins, own


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parent.parent / ".." / "shared" / "datasets")
    ap.add_argument("--quick", action="store_true", help="quality only on dev files and a 10k speed run")
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--spread", type=float, default=36.0, help="hours over which UCI times are drawn")
    ap.add_argument("--semantic", action="store_true", help="the semantic mode (needs the semantic extra)")
    ap.add_argument("--weight", type=float, default=None, help="with --semantic: lexical weight (default 0.5)")
    ap.add_argument("--cache", type=Path, default=None, help="with --semantic: .npz keeping embeddings between runs")
    ap.add_argument("--real", type=Path, default=Path(__file__).resolve().parent.parent / ".." / "shared" / "corpus"
                    / "perf-real", help="a directory of real feed documents (skipped if missing)")
    args = ap.parse_args(argv)
    cfg = StoryConfig()
    embedder: CachedEmbedder | None = None
    if args.semantic:
        from feeds.semantic import load_model

        cfg = replace(cfg, threshold=SEMANTIC_THRESHOLD)
        if args.weight is not None:
            cfg = replace(cfg, semantic_weight=args.weight)
        model = load_model()
        embedder = CachedEmbedder(model, args.cache)
    if args.threshold is not None:
        cfg = replace(cfg, threshold=args.threshold)
    print(f"config: threshold={cfg.threshold} window={cfg.window} prior_docs={cfg.prior_docs} "
          f"entity_boost={cfg.entity_boost} conflict_penalty={cfg.conflict_penalty}"
          + (f" semantic: weight={cfg.semantic_weight} model={model.name}" if embedder is not None else ""))

    rows = load_uci(args.data / "uci-news-dev.csv")
    if embedder is not None:
        embedder.prepare([t for t, _ in rows])
    seeds = [args.seed] if args.quick else [args.seed, args.seed + 1, args.seed + 2]
    for s in seeds:
        p, r, k = run_uci(rows, cfg, s, args.spread, embedder)
        print(f"UCI dev  seed={s}: B-cubed P={p:.4f} R={r:.4f}  ({len(rows)} items -> {k} stories)")

    for split in ("train", "dev"):
        pairs = load_stsb(args.data / f"stsb-headlines-{split}.tsv")
        if embedder is not None:
            embedder.prepare([t for _, a, b in pairs for t in (a, b)])
        hi, nh, lo, nl = run_stsb(pairs, cfg, embedder)
        print(f"STS-B {split:5}: merged {hi:6.1%} of {nh} pairs scored >=4, {lo:5.1%} of {nl} scored <=1")
        if embedder is None:
            rf, rn, df, dn = run_update_rule(pairs, cfg)
            print(f"update rule {split:5}: a joining headline counts as a development in {rf:5.1%} of {rn} "
                  f"rewordings (scored >=4), {df:5.1%} of {dn} pairs scored below 4")

    if args.real.is_dir() and embedder is None:
        n, j0, o0 = run_real_feeds(args.real, cfg, profiles=False)
        _, j1, o1 = run_real_feeds(args.real, cfg, profiles=True, siblings=False)
        _, j2, o2 = run_real_feeds(args.real, cfg, profiles=True)
        print(f"real feeds : {n} items, {j2} joins, {o2} of them to a story already holding an item of the same "
              f"feed (without series siblings: {j1} joins, {o1} same-feed; without feed templates either: {j0}, "
              f"{o0}; unlabelled, see docs/stories.md)")

    titles = [t for t, _ in rows]
    sizes = [10_000] if args.quick or embedder is not None else [10_000, 100_000]
    for kind in ("resampled", "varied", "spliced"):
        for n in sizes:
            cpu, wall, k = speed(titles, n, cfg, args.seed, 5_000, kind, embedder)
            line = (f"speed {kind:9}: {cpu:6.0f} items/s (CPU; wall {wall:6.0f}/s) with {n:,} items in the window "
                    f"({k:,} stories)")
            if embedder is not None:
                line += " -- index only, embeddings given"
            print(line)
    if embedder is not None:
        embedder.save()
        # the embedding rate, on titles not embedded before (a fresh sample, batches of 32)
        sample = list(dict.fromkeys(synthesizer(titles, "varied", random.Random(args.seed + 100))()
                                    for _ in range(2_000)))
        c0 = time.process_time()
        embedder.model.embed(sample)
        rate = len(sample) / (time.process_time() - c0)
        print(f"embedding      : {rate:6.0f} headlines/s (CPU, batches of 32, {embedder.model.name}); index plus "
              f"embedding: {1 / (1 / rate + 1 / cpu):6.0f} items/s (CPU, varied, 10,000 in the window)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
