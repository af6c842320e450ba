"""Benchmark of the optional semantic mode (feeds.semantic) beside the lexical default (feeds.stories).

    python3 bench/semantic.py [--backend auto|onnx|numpy] [--threads N] [--quick] [--cache FILE]
                              [--data ../shared/datasets] [--seed 7]

Same data and protocol as bench/stories.py (whose loaders and B-cubed it imports):

* Speed and memory: headlines/s of SemanticModel.embed (batches of 32, and one at a time), wall clock
  and per CPU-second (the machine is shared: the load average is printed); RSS after loading.
* STS-B headlines, train and dev separately: share of pairs that would merge among pairs scored >= 4
  and <= 1, for the embedding cosine alone and blended with the lexical score (a 2-item StoryIndex's
  score, as bench/stories.py measures it), over a grid of thresholds. Each method's threshold is the
  lowest grid value that merges <= 2 % of the train pairs scored <= 1 (the project's target).
* UCI dev: times re-drawn uniformly over --spread hours (seeded, as bench/stories.py), items fed in
  time order to an online clusterer (below); B-cubed P/R over a threshold sweep, recall at P = 0.95
  interpolated on the sweep, and the STS-B-chosen threshold over three time seeds.
* The seed page's headlines: which multi-headline stories join, and whether any two themes or two
  stories mix.

The online clusterer mirrors StoryIndex's rule: each story keeps the sum of its members' unit vectors
(lexical: StoryIndex.vector under the weights of a StoryIndex fed the same items; semantic: the
embedding); score(item, story) = cos(item, centroid) / max(cohesion, 0.6) per signal, cohesion being
the mean cosine of the members to their centroid. Methods: ``sem`` (embedding only), ``single``
(embedding, best member: single link), ``blend`` (w * lexical + (1 - w) * semantic). The window is not
applied (the 36 h spread is inside the 72 h window).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import stories as lexbench  # noqa: E402  (bench/stories.py)

from feeds.semantic import SemanticModel, load_model  # noqa: E402
from feeds.stories import StoryConfig, StoryIndex, explain  # noqa: E402

F32 = npt.NDArray[np.float32]
BASE = lexbench.BASE
MIN_COH = 0.6


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def embed_cached(model: SemanticModel, texts: Sequence[str], cache: Path | None) -> F32:
    """Embeddings of texts, reusing --cache when it holds exactly these texts for this model."""
    key = hashlib.sha256(("\x00".join([model.name, *texts])).encode()).hexdigest()
    if cache is not None and cache.is_file():
        z = np.load(cache)
        if str(z["key"]) == key:
            return np.asarray(z["emb"], dtype=np.float32)
    emb = model.embed(texts)
    if cache is not None:
        np.savez(cache, key=np.array(key), emb=emb)
    return emb


# ---------------------------------------------------------------------------------------------------
# Online clustering with a lexical and a semantic signal
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    name: str  # sem | single | blend
    threshold: float
    weight: float = 0.0  # lexical weight in blend

    def label(self) -> str:
        if self.name == "blend":
            return f"blend w={self.weight:.1f}"
        return {"sem": "semantic centroid", "single": "semantic single-link"}[self.name]


class Clusterer:
    """Online stories; see the module docstring for the score."""

    def __init__(self, method: Method, capacity: int) -> None:
        self.m = method
        self.n = 0
        self.emb_sum = np.zeros((capacity, 384), dtype=np.float32)
        self.members: list[list[int]] = []
        self.embs = np.zeros((capacity, 384), dtype=np.float32)
        self.lex: list[dict[str, float]] = []
        self.lex_norm2: list[float] = []
        self.postings: dict[str, set[int]] = defaultdict(set)
        self.n_items = 0
        self.item_story: list[int] = []

    def _lex_scores(self, vec: dict[str, float]) -> dict[int, float]:
        acc: dict[int, float] = defaultdict(float)
        for t, w in vec.items():
            for s in self.postings.get(t, ()):
                acc[s] += w * self.lex[s][t]
        out = {}
        for s, dot in acc.items():
            norm = self.lex_norm2[s] ** 0.5
            coh = max(min(norm / len(self.members[s]), 1.0), MIN_COH)
            out[s] = dot / norm / coh
        return out

    def add(self, emb: F32, vec: dict[str, float]) -> int:
        k = self.n
        best = -1
        if k:
            m = self.m
            if m.name == "single":
                sims = self.embs[: self.n_items] @ emb
                j = int(np.argmax(sims))
                if sims[j] >= m.threshold:
                    best = self.item_story[j]
            else:
                c = self.emb_sum[:k]
                norms = np.linalg.norm(c, axis=1)
                sizes = np.array([len(x) for x in self.members], dtype=np.float32)
                coh = np.clip(norms / sizes, MIN_COH, 1.0)
                sem = (c @ emb) / norms / coh
                if m.name == "blend":
                    score = (1.0 - m.weight) * sem
                    for s, v in self._lex_scores(vec).items():
                        score[s] += m.weight * v
                else:
                    score = sem
                j = int(np.argmax(score))
                if score[j] >= m.threshold:
                    best = j
        if best < 0:
            best = k
            self.n += 1
            self.members.append([])
            self.lex.append({})
            self.lex_norm2.append(0.0)
        self.members[best].append(self.n_items)
        self.emb_sum[best] += emb
        self.embs[self.n_items] = emb
        self.item_story.append(best)
        self.n_items += 1
        cen = self.lex[best]
        for t, w in vec.items():
            old = cen.get(t, 0.0)
            cen[t] = old + w
            self.lex_norm2[best] += (old + w) ** 2 - old * old
            self.postings[t].add(best)
        return best


def cluster(
    titles: Sequence[str], emb: F32, order: Sequence[tuple[datetime, int]], method: Method
) -> list[int]:
    """Story (index) of each item, feeding items in ``order``; lexical weights from a StoryIndex."""
    aux = StoryIndex(StoryConfig())
    cl = Clusterer(method, len(titles))
    pred = [0] * len(titles)
    for ts, i in order:
        vec = aux.vector(titles[i]) if method.name == "blend" else {}
        pred[i] = cl.add(emb[i], vec)
        if method.name == "blend":
            aux.add(i, titles[i], "", ts)
    return pred


def uci_order(n: int, seed: int, spread_h: float) -> list[tuple[datetime, int]]:
    rng = random.Random(seed)
    timed = [(BASE + timedelta(seconds=rng.uniform(0, spread_h * 3600)), i) for i in range(n)]
    timed.sort()
    return timed


def recall_at(points: list[tuple[float, float]], p_target: float = 0.95) -> float:
    """Recall at precision p_target, linearly interpolated on (P, R) points; nan if never reached."""
    pts = sorted(points, key=lambda pr: pr[1])  # by recall
    best = float("nan")
    for (p1, r1), (p2, r2) in zip(pts, pts[1:], strict=False):
        if p1 >= p_target > p2:
            best = r1 + (r2 - r1) * (p1 - p_target) / (p1 - p2)
    ok = [r for p, r in pts if p >= p_target]
    if ok and (best != best or max(ok) > best):
        best = max(ok)
    return best


# ---------------------------------------------------------------------------------------------------
# STS-B
# ---------------------------------------------------------------------------------------------------


def lex_pair_score(a: str, b: str) -> float:
    """Lexical cosine of b to a 1-item story of a, exact (StoryMatch.score is 0 below the probe floor)."""
    ix = StoryIndex(StoryConfig())
    ix.add(1, a, "", BASE)
    return explain(a, "", b, "", index=ix).score


def stsb_rates(gold: Sequence[float], score: npt.NDArray[np.float64], thr: float) -> tuple[float, float]:
    g = np.asarray(gold)
    hi, lo = g >= 4, g <= 1
    return float((score[hi] >= thr).mean()), float((score[lo] >= thr).mean())


def spearman(x: Sequence[float] | npt.NDArray[np.float64], y: Sequence[float]) -> float:
    rx = np.argsort(np.argsort(np.asarray(x))).astype(float)
    ry = np.argsort(np.argsort(np.asarray(y))).astype(float)
    return float(np.corrcoef(rx, ry)[0, 1])


# ---------------------------------------------------------------------------------------------------
# Seed
# ---------------------------------------------------------------------------------------------------


def load_seed(path: Path) -> list[tuple[datetime, str, str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        ts, story, theme, title = line.split("\t")
        rows.append((datetime.fromisoformat(ts.replace("Z", "+00:00")), story, theme, title))
    rows.sort(key=lambda r: r[0])
    return rows


def seed_report(label: str, rows: list[tuple[datetime, str, str, str]], pred: Sequence[int]) -> str:
    groups: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(pred):
        groups[p].append(i)
    gold: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        gold[r[1]].append(i)
    joined = []
    for story, idx in sorted(gold.items()):
        if len(idx) > 1:
            parts = len({pred[i] for i in idx})
            joined.append(f"{story} {'joined' if parts == 1 else f'{parts} parts'}")
    mixed_story = [g for g in groups.values() if len({rows[i][1] for i in g}) > 1]
    mixed_theme = [g for g in groups.values() if len({rows[i][2] for i in g}) > 1]
    out = f"seed {label:24}: {', '.join(joined)}; stories mixed: {len(mixed_story)}, themes mixed: {len(mixed_theme)}"
    for g in mixed_story:
        out += "\n    mixed: " + " | ".join(f"[{rows[i][1]}] {rows[i][3]}" for i in g)
    return out


# ---------------------------------------------------------------------------------------------------


def speed(model: SemanticModel, texts: Sequence[str]) -> list[str]:
    lines = []
    model.embed(texts[:32])
    for bs, n in ((32, len(texts)), (1, min(len(texts), 300))):
        t0, c0 = time.perf_counter(), time.process_time()
        model.embed(texts[:n], batch_size=bs)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        lines.append(f"speed: batch {bs:2}: {n / dt:6.0f} headlines/s wall, {n / dc:6.0f} per CPU-second ({n} titles)")
    return lines


def _blend(w: float) -> Callable[[dict[str, npt.NDArray[np.float64]]], npt.NDArray[np.float64]]:
    def f(d: dict[str, npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
        return w * d["lex"] + (1 - w) * d["cos"]

    return f


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "datasets")
    ap.add_argument("--seedfile", type=Path, default=ROOT / "tests" / "data" / "stories" / "headlines.tsv")
    ap.add_argument("--backend", default="auto", choices=["auto", "onnx", "numpy"])
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    ap.add_argument("--cache", type=Path, default=None, help="npz file to keep embeddings between runs")
    ap.add_argument("--quick", action="store_true", help="one time seed, smaller sweeps, speed on 1,000 titles")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed-only", action="store_true", help="load, speed and memory only")
    ap.add_argument("--spread", type=float, default=36.0)
    args = ap.parse_args(argv)

    base_rss = rss_mb()
    t0 = time.perf_counter()
    model = load_model(args.backend, threads=args.threads)
    load_s = time.perf_counter() - t0
    print(f"model: {model.name}  load {load_s:.1f} s, RSS {base_rss:.0f} MB before -> {rss_mb():.0f} MB after")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")

    uci = lexbench.load_uci(args.data / "uci-news-dev.csv")
    titles = [t for t, _ in uci]
    gold = [g for _, g in uci]
    for line in speed(model, titles[:1000] if args.quick else titles[:2000]):
        print(line)
    print(f"RSS after embedding: {rss_mb():.0f} MB")
    if args.speed_only:
        return 0

    # --- STS-B -----------------------------------------------------------------------------------
    stsb = {s: lexbench.load_stsb(args.data / f"stsb-headlines-{s}.tsv") for s in ("train", "dev")}
    seed_rows = load_seed(args.seedfile)
    all_texts = titles + [t for s in stsb.values() for _, a, b in s for t in (a, b)] + [r[3] for r in seed_rows]
    emb_all = embed_cached(model, all_texts, args.cache)
    emb_uci = emb_all[: len(titles)]
    off = len(titles)
    pair_scores: dict[str, dict[str, npt.NDArray[np.float64]]] = {}
    for split, pairs in stsb.items():
        ea = emb_all[off : off + 2 * len(pairs) : 2]
        eb = emb_all[off + 1 : off + 2 * len(pairs) : 2]
        off += 2 * len(pairs)
        cos = (ea * eb).sum(axis=1).astype(np.float64)
        lex = np.array([lex_pair_score(a, b) for _, a, b in pairs])
        pair_scores[split] = {"cos": cos, "lex": lex}
        g = [s for s, _, _ in pairs]
        print(f"STS-B {split:5}: Spearman with gold: cosine {spearman(cos, g):.3f}, lexical {spearman(lex, g):.3f}")
    emb_seed = emb_all[off:]

    weights = [0.3, 0.5] if args.quick else [0.3, 0.5, 0.7]
    families: list[tuple[str, float, Callable[[dict[str, npt.NDArray[np.float64]]], npt.NDArray[np.float64]]]] = [
        ("sem", 0.0, lambda d: d["cos"]),
        ("single", 0.0, lambda d: d["cos"]),
        *[("blend", w, _blend(w)) for w in weights],
    ]
    grid = [round(x, 2) for x in np.arange(0.40, 0.91, 0.025)]
    chosen: list[Method] = []
    print("STS-B merged share (>=4 / <=1) at the threshold chosen on train (<=1 merged <= 2 % of train):")
    lexd = {s: lexbench.run_stsb(stsb[s], StoryConfig()) for s in stsb}  # the index's own decision
    print(f"  {'lexical default':22} t=0.55  train {lexd['train'][0]:6.1%} / {lexd['train'][2]:5.1%}   "
          f"dev {lexd['dev'][0]:6.1%} / {lexd['dev'][2]:5.1%}")
    for name, w, fn in families:
        g_train = [p[0] for p in stsb["train"]]
        thr = next((t for t in grid if stsb_rates(g_train, fn(pair_scores["train"]), t)[1] <= 0.02), grid[-1])
        m = Method(name, thr, w)
        chosen.append(m)
        tr = stsb_rates(g_train, fn(pair_scores["train"]), thr)
        dv = stsb_rates([p[0] for p in stsb["dev"]], fn(pair_scores["dev"]), thr)
        print(f"  {m.label():22} t={thr:.3f} train {tr[0]:6.1%} / {tr[1]:5.1%}   dev {dv[0]:6.1%} / {dv[1]:5.1%}")

    # --- UCI -------------------------------------------------------------------------------------
    order = uci_order(len(titles), args.seed, args.spread)
    lp, lr, lk = lexbench.run_uci(uci, StoryConfig(), args.seed, args.spread)
    print(f"UCI dev seed={args.seed}: lexical default t=0.55: P={lp:.3f} R={lr:.3f} ({lk} stories)")
    lpts, lrow = [], []
    for t in (0.70, 0.65, 0.60, 0.55, 0.50, 0.45):
        p, r, _ = lexbench.run_uci(uci, replace(StoryConfig(), threshold=t), args.seed, args.spread)
        lpts.append((p, r))
        lrow.append(f"{t:.3f}:{p:.3f}/{r:.3f}")
    print(f"UCI dev seed={args.seed}: {'lexical (StoryIndex)':22} R@P0.95={recall_at(lpts):.3f}  sweep t:P/R "
          + " ".join(lrow))
    sweep_step = 0.05 if args.quick else 0.025
    for m in chosen:
        pts: list[tuple[float, float]] = []
        row = []
        t = m.threshold + 0.15
        while t >= m.threshold - 0.25:
            pred = cluster(titles, emb_uci, order, Method(m.name, round(t, 3), m.weight))
            p, r = lexbench.bcubed(pred, gold)
            pts.append((p, r))
            row.append(f"{t:.3f}:{p:.3f}/{r:.3f}")
            t -= sweep_step
        print(f"UCI dev seed={args.seed}: {m.label():22} R@P0.95={recall_at(pts):.3f}  sweep t:P/R " + " ".join(row))
    seeds = [args.seed] if args.quick else [args.seed, args.seed + 1, args.seed + 2]
    for m in chosen:
        res = []
        for s in seeds:
            pred = cluster(titles, emb_uci, uci_order(len(titles), s, args.spread), m)
            p, r = lexbench.bcubed(pred, gold)
            res.append(f"seed {s}: P={p:.3f} R={r:.3f} ({len(set(pred))})")
        print(f"UCI dev at STS-B threshold: {m.label():22} t={m.threshold:.3f}  " + "; ".join(res))

    # --- seed ------------------------------------------------------------------------------------
    ix = StoryIndex(StoryConfig())
    lexpred = [ix.add(i, r[3], "", r[0]).story_id for i, r in enumerate(seed_rows)]
    print(seed_report("lexical default", seed_rows, lexpred))
    sorder = [(r[0], i) for i, r in enumerate(seed_rows)]
    for m in chosen:
        print(seed_report(f"{m.label()} t={m.threshold:.2f}", seed_rows, cluster([r[3] for r in seed_rows], emb_seed,
                                                                                   sorder, m)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
