"""Real feeds through parse -> store -> publish: no unhandled error, and every published channel passes
feeds.validate.validate_atom without an error.

The files are copies kept in the repository: the parser-equivalence subset in tests/data/corpus/
(reused, not duplicated) and tests/data/corpus-hardening/ (what that subset leaves out: JSON Feed,
OPML and HTML documents where a feed is expected, files over 60 kB, and more of the 200-feed
performance corpus). Each folder keeps its source's LICENSE.

By hand, over the whole shared corpus (figures in docs/hardening.md):

    python3 tests/test_corpus.py ../shared/corpus/real-feeds ../shared/corpus/perf-real
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from feeds.config import parse_config
from feeds.run import Pipeline
from feeds.store import Store
from feeds.validate import validate_atom

DATA = Path(__file__).parent / "data"
CORPUS_DIRS = [DATA / "corpus", DATA / "corpus-hardening"]
SKIP_NAMES = {"LICENSE", "README.md"}
BATCH = 100
# (malformed_rss_namespaced.xml: "<?xml?xml ... ??>" and "<rss rss:version=2.0>", XML no parser here reads,
# nothing in it: refused as ill-formed since a soak test found garbage bodies counted as empty feeds)
NOT_FEEDS = re.compile(r"\.(json|opml|html)$|/opml/|FirstEntry|/unrecognized\.rss$|/reader/custom$"
                       r"|/malformed_rss_namespaced\.xml$")


@dataclass
class CorpusReport:
    files: int = 0
    published: int = 0  # sources whose items were stored and published
    refused: Counter[str] = field(default_factory=Counter)  # clean source failures, by first words
    refused_files: list[str] = field(default_factory=list)
    unhandled: list[str] = field(default_factory=list)  # errors that are bugs: an exception escaped a stage
    invalid: list[str] = field(default_factory=list)  # validation errors in published channels
    items: int = 0
    seconds: float = 0.0


def corpus_files(dirs: list[Path]) -> list[Path]:
    return sorted(p for d in dirs if d.exists() for p in d.rglob("*") if p.is_file() and p.name not in SKIP_NAMES)


def _is_json_feed(path: Path) -> bool:
    """A complete JSON document with a jsonfeed.org version and a list of items."""
    if path.suffix != ".json":
        return False
    try:
        doc = json.loads(path.read_bytes(), strict=False)
    except ValueError:
        return False
    return (isinstance(doc, dict) and str(doc.get("version", "")).startswith(("https://jsonfeed.org/version/",
            "http://jsonfeed.org/version/")) and isinstance(doc.get("items"), list))


def _reason(error: str) -> str:
    return " ".join(error.split("(")[0].split()[:3])


def run_corpus(files: list[Path], work: Path) -> CorpusReport:
    """Every file as a local source, BATCH at a time; one channel per source so each published document
    holds exactly one source's items."""
    report = CorpusReport(files=len(files))
    t = time.monotonic()
    for b in range(0, len(files), BATCH):
        batch = files[b:b + BATCH]
        d = work / f"batch{b // BATCH}"
        d.mkdir(parents=True)
        srcs = "".join(f'[[sources]]\nurl = "{p.resolve().as_uri()}"\nname = "f{i}"\n\n' for i, p in enumerate(batch))
        chans = "".join(f'[channels.f{i}]\ntitle = "F{i}"\nmatch_all = true\nsources = ["f{i}"]\n\n'
                        for i in range(len(batch)))
        text = f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
entries = 1000
[store]
path = "feeds.db"
[stories]
enabled = false
{srcs}
{chans}
"""
        cfg = parse_config(text, d / "feeds.toml")
        store = Store.open(cfg.store_path)
        pipe = Pipeline(cfg, store)
        try:
            try:
                run = pipe.run(force_all=True)
            except Exception as e:  # noqa: BLE001 - recorded as the bug it is
                report.unhandled.append(f"batch {b // BATCH}: {type(e).__name__}: {e}")
                continue
            report.unhandled += run.publish_errors
            by_name = {o.name: o for o in run.outcomes}
            for i, p in enumerate(batch):
                o = by_name.get(f"f{i}")
                if o is None:
                    report.unhandled.append(f"{p}: no outcome")
                elif o.error:
                    if "parser failed" in o.error or "internal" in o.error:
                        report.unhandled.append(f"{p}: {o.error}")
                    else:
                        report.refused[_reason(o.error)] += 1
                        report.refused_files.append(f"{p}: {o.error[:120]}")
                else:
                    report.published += 1
                    report.items += o.new
            assert store.integrity_check() == "ok"
            assert store.duplicate_uids() == 0
        finally:
            pipe.close()
            store.close()
        for i, p in enumerate(batch):
            doc = d / "out" / f"f{i}.atom"
            if not doc.exists():
                report.unhandled.append(f"{p}: no document published")
                continue
            errors = [str(x) for x in validate_atom(doc.read_bytes(), self_url=f"https://feeds.example.org/f{i}.atom")
                      if x.level == "error"]
            report.invalid += [f"{p.name}: {e}" for e in errors]
    report.seconds = time.monotonic() - t
    return report


def test_every_corpus_file_goes_through_without_an_unhandled_error_and_publishes_valid_atom(tmp_path: Path) -> None:
    files = corpus_files(CORPUS_DIRS)
    if len(files) < 100:
        pytest.fail(f"only {len(files)} corpus files found under {CORPUS_DIRS}")
    report = run_corpus(files, tmp_path)
    print(f"{report.files} files: {report.published} published ({report.items} items), "
          f"refused {dict(report.refused)}, {report.seconds:.1f}s")
    assert report.unhandled == []
    assert report.invalid == []
    # what is refused is only what is no feed at all: JSON that is no JSON Feed, OPML and HTML documents,
    # and the parsers' fixtures that hold a lone entry fragment or an unknown format
    unexpected = [f for f in report.refused_files if not NOT_FEEDS.search(f.split(": ")[0])]
    assert unexpected == []
    # JSON Feeds are read (feeds.jsonparse): a .json file refused is no JSON Feed (another parser's expected
    # output, a truncated copy)
    assert [f for f in report.refused_files if _is_json_feed(Path(f.split(": ")[0]))] == []
    assert report.published >= 0.75 * report.files
    assert report.items > 1000


def main(argv: list[str]) -> int:
    logging.disable(logging.WARNING)  # each refused file is counted; its log line adds nothing
    files = corpus_files([Path(a) for a in argv])
    with tempfile.TemporaryDirectory() as tmp:
        report = run_corpus(files, Path(tmp))
    print(f"files: {report.files}\npublished: {report.published} ({report.items} items)\n"
          f"refused: {sum(report.refused.values())} {dict(report.refused)}\nunhandled: {len(report.unhandled)}\n"
          f"validation errors: {len(report.invalid)}\nseconds: {report.seconds:.1f}")
    for line in report.unhandled + report.invalid:
        print("  ", line[:300])
    if "-v" in os.environ.get("CORPUS_VERBOSE", ""):
        for line in report.refused_files:
            print("   refused", line)
    return 1 if report.unhandled or report.invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
