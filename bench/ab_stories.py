"""Story-index speed of two commits, measured side by side.

    python3 bench/ab_stories.py OLD [NEW] [--items 100000] [--pairs 3] [--window resampled varied spliced]

The machine this project is measured on changes speed by up to 2x from one hour to the next, so a speed
line of ``bench/stories.py`` says little about a change unless the code before it is measured at the
same moment. This runs ``bench/stories.py``'s ``speed`` (fill the window with N synthetic items, then
time 3,000 adds, CPU) for the package of each commit (``git archive`` into a temp dir; NEW defaults to
the working tree) in two processes started together, one per core, ``--pairs`` times per window, and
prints each pair's items/s, their ratio and the median ratio. The story counts of the two must match
when the change is meant to keep every decision (they are printed).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
import feeds.stories as S
assert S.__file__.startswith(sys.argv[1]), S.__file__
import stories as B
from pathlib import Path
rows = B.load_uci(Path(sys.argv[3]))
cpu, wall, k = B.speed([t for t, _ in rows], int(sys.argv[4]), S.StoryConfig(), 7, 3_000, sys.argv[5], None)
print(f"{cpu:.1f} {k}")
"""


def package_of(rev: str, into: Path) -> Path:
    """The feeds package of a commit, extracted under `into` (returns the directory to put on sys.path)."""
    data = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev, "feeds"],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
            tar.extractall(into, filter="data")
        else:
            tar.extractall(into)  # our own commit's files
    return into


def measure_pair(paths: tuple[Path, Path], data: Path, items: int, window: str) -> tuple[tuple[float, int], ...]:
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(p), str(BENCH), str(data), str(items), window],
                              stdout=subprocess.PIPE, text=True) for p in paths]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"a speed run failed (exit {proc.returncode})")
        rate, stories = stdout.split()
        out.append((float(rate), int(stories)))
    return tuple(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old", help="commit to compare against")
    ap.add_argument("new", nargs="?", default=None, help="commit to measure (default: the working tree)")
    ap.add_argument("--items", type=int, default=100_000, help="items in the window before the timed adds")
    ap.add_argument("--pairs", type=int, default=3, help="side-by-side runs per window")
    ap.add_argument("--window", nargs="+", default=["resampled", "varied", "spliced"],
                    choices=["resampled", "varied", "spliced"])
    ap.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "datasets" / "uci-news-dev.csv")
    args = ap.parse_args(argv)
    if not args.data.exists():
        raise SystemExit(f"{args.data}: not found (--data: the UCI dev split)")
    with tempfile.TemporaryDirectory(prefix="feeds-ab-") as tmp:
        old = package_of(args.old, Path(tmp) / "old")
        new = package_of(args.new, Path(tmp) / "new") if args.new else REPO
        print(f"story speed, {args.items:,} items in the window, 3,000 timed adds (items/s of CPU): "
              f"{args.old} vs {args.new or 'working tree'}")
        for window in args.window:
            ratios = []
            for i in range(args.pairs):
                (a, ka), (b, kb) = measure_pair((old, new), args.data, args.items, window)
                ratios.append(b / a)
                same = "same stories" if ka == kb else f"stories differ: {ka:,} vs {kb:,}"
                print(f"  {window:9s} pair {i + 1}: {a:8.0f} -> {b:8.0f}  {b / a:5.2f}x  ({same})", flush=True)
            print(f"  {window:9s} median ratio {statistics.median(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
