"""`feeds explain A B`: why two headlines (or two stored items) are or are not one story.

Read-only: the store is opened read-only and never created. An argument that looks like an entry id
(urn:uuid:...) names a stored item (a story's entry id: the report its entry shows), one that looks like a
link (http(s)://...) the stored report with that link (an entry's alternate or related link: one outlet's
article, whichever report its story's entry shows); one that no stored item has is a usage error (exit 2),
not a headline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from feeds.config import Config

if TYPE_CHECKING:
    from feeds.store import Store
    from feeds.store.sql import ItemText

EXIT_USAGE = 2


def _looks_like_id(ref: str) -> bool:
    return ref[:9].lower() == "urn:uuid:"


def _id_key(ref: str) -> str:
    """An entry id as feeds writes and stores it: ``urn:uuid:`` and the UUID in lower case (a UUID is read
    without regard to case, RFC 9562; one copied from a reader that shows it in capitals names the same entry)."""
    return "urn:uuid:" + ref[9:].lower()


def _looks_like_link(ref: str) -> bool:
    return ref[:8].lower() == "https://" or ref[:7].lower() == "http://"


def _published_link(link: str) -> str | None:
    """A stored link as an entry publishes it (publish.py: tracking parameters out, IRI form), None if unfit."""
    from feeds.dedup import clean_link
    from feeds.publish import iri
    from feeds.sanitize import safe_url

    safe = safe_url(clean_link(link), None) if link else None
    return iri(safe) if safe else None


def _by_link(store: Store, ref: str, ambiguous: dict[str, list[str]]) -> ItemText | None:
    """The stored report a link names (as an entry publishes it, alternate or related); None when none does,
    or when several do (a source whose links are no identity: their entry ids into ``ambiguous``)."""
    from urllib.parse import unquote

    rows = store.items_by_link(ref)
    forms = {ref.strip(), unquote(ref.strip())}

    def named(link: str) -> bool:  # the stored link, or as an entry publishes it, percent-encoded or not
        published = _published_link(link)
        return link.strip() in forms or (published is not None and {published, unquote(published)} & forms != set())

    hits = list({row[0]: row for row, link, keyed in rows if keyed or named(link)}.values())  # (one report's
    # own link and an outlet's copy of it at the same address: that report)
    if len(hits) > 1:
        ambiguous[ref] = [row[6] for row in hits]
        return None
    return hits[0] if hits else None


def _development_of(store: Store, ref: str) -> tuple[str, int] | None:
    """The story entry id and generation of a development's entry id (a story published again after it
    was archived: its id is derived from the story's, docs/publishing.md), if the store has that story."""
    from feeds.formats.model import development_id

    for uid, top in store.archived_generations():
        for gen in range(2, top + 2):  # archived `top` times: its developments up to the next one
            if development_id(uid, gen) == ref:
                return uid, gen
    return None


def explain_main(cfg: Config, args: argparse.Namespace) -> int:
    from feeds import stories
    from feeds.run import load_story_index, story_config, story_embedder

    scfg = story_config(cfg)
    store = None
    index = None
    texts: dict[str, tuple[str, str, str]] = {}
    ids: dict[str, int] = {}  # entry id -> item id, for stored items in the window
    vectors: dict[str, dict[str, float]] = {}
    heads: dict[str, int | None] = {}  # entry id -> its vector's headline term count (`headline_terms`)
    sources: dict[str, int] = {}  # entry id -> source id, for stored items
    stored: dict[str, tuple[float, int]] = {}  # entry id -> (published, story id), for stored items
    seen: dict[str, float] = {}  # entry id -> when the run that stored it read it (first_seen)
    resolved: dict[str, int] = {}  # entry id -> the stored item it names (what its entry shows)
    # entry id -> channel -> (entry id, headline, link) of the report the channel's entry shows, when not that one
    shown: dict[str, dict[str, tuple[str, str, str | None]]] = {}
    ambiguous: dict[str, list[str]] = {}  # a link several stored reports have -> their entry ids
    shared: dict[str, bool] = {}  # a shown report's link -> whether several stored reports have it
    firsts: set[str] = set()  # shown reports that began their story: their entry id is the story's, not theirs
    if cfg.store_path.exists():
        from feeds.store import Store

        store = Store.open_readonly(cfg.store_path)  # no lock, no migration, nothing written
        try:
            # weigh terms as the pipeline does now: with the current window's story frequencies
            index, _ = load_story_index(cfg, store, now=time.time())  # (its window ends no later than now, as a run's)
            for ref in (args.a, args.b):
                key = _id_key(ref) if _looks_like_id(ref) else None  # an entry id as stored
                found = store.item_text(key) if key is not None else None
                kind = f"stored item {ref}"
                if _looks_like_link(ref):
                    found = _by_link(store, ref, ambiguous)
                    kind = f"stored item {found[6]}, by its link" if found is not None else kind
                if found is None and key is not None and (dev := _development_of(store, key)) is not None:
                    found = store.item_text(dev[0])  # a development's entry shows what its story's does
                    kind = f"stored item {ref}, development {dev[1]} of {dev[0]}"
                if found is not None:  # an entry id names a stored item
                    item_id, title, summary, sources[ref], published, story_id, uid, seen[ref] = found
                    if uid != key and kind == f"stored item {ref}":
                        # a story's entry id, its first report's: the entry shows another report now
                        kind = f"stored item {ref}, the report its story's entry shows now"
                    stored[ref] = (published, story_id)
                    resolved[ref] = item_id
                    if _looks_like_id(ref):  # the channels whose entry for the story shows another report
                        others = {ch: rep for ch, rep in
                                  store.channel_reports(story_id, cfg.stories.prefer_sources).items() if rep != item_id}
                        if others:
                            refs = store.item_refs(set(others.values()))
                            shown[ref] = {ch: (refs[rep][0], refs[rep][1], _published_link(refs[rep][2] or ""))
                                          for ch, rep in others.items() if rep in refs}
                            firsts |= {refs[rep][0] for rep in others.values() if rep == story_id and rep in refs}
                    texts[ref] = (title, summary, kind)
                    if index.story_of(item_id) is not None:  # in the window: the vector it entered with
                        ids[ref] = item_id
                        vectors[ref] = index.item_vector(item_id)
                        heads[ref] = index.headline_terms(item_id)
            for chans in shown.values():
                for _uid, _title, link in chans.values():
                    if link and link not in shared:
                        several: dict[str, list[str]] = {}
                        shared[link] = _by_link(store, link, several) is None and link in several
        finally:
            store.close()
    for ref in (args.a, args.b):
        if ref in ambiguous:
            print(f"feeds: explain: {len(ambiguous[ref])} stored reports have the link {ref} (their source's links "
                  f"name no single article); give one's entry id: {', '.join(ambiguous[ref])}", file=sys.stderr)
            return EXIT_USAGE
        if _looks_like_link(ref) and ref not in texts:
            where = f"the store {cfg.store_path}" if store is not None else f"the store (none yet at {cfg.store_path})"
            print(f"feeds: explain: no stored report with the link {ref} in {where}; give a link an entry "
                  "publishes (alternate or related), a stored item's entry id or a headline", file=sys.stderr)
            return EXIT_USAGE
        if _looks_like_id(ref) and ref not in texts:
            where = f"the store {cfg.store_path}" if store is not None else f"the store (none yet at {cfg.store_path})"
            why = ""
            if cfg.store_keep is not None and store is not None:
                from feeds.status import fmt_duration

                why = (f" (the store forgets stories older than [store] keep = {fmt_duration(cfg.store_keep)}: an "
                       "entry of an old archive page may be one of them)")
            print(f"feeds: explain: no item with the entry id {ref} in {where}{why}; give a stored item's entry id "
                  "or a headline", file=sys.stderr)
            return EXIT_USAGE
    if index is None and cfg.stories.semantic:  # no store yet: prior weights, but the embeddings all the same
        index = stories.StoryIndex(scfg, story_embedder(cfg))
    a_title, a_summary, a_kind = texts.get(args.a, (args.a, "", "headline"))
    b_title, b_summary, b_kind = texts.get(args.b, (args.b, "", "headline"))
    both = args.a in sources and args.b in sources
    same_feed = both and sources[args.a] == sources[args.b]
    same_report = both and resolved[args.a] == resolved[args.b]
    later: str | None = None  # two stored reports: the one the run read later is scored against the other
    if both and not same_report:
        # item ids follow the order runs read reports in (runs in time order, a run's sources in the order they
        # were first configured); a feed's new reports of one reading (one first_seen) in published order
        def read_at(ref: str) -> tuple[float, float, int]:
            return (seen[ref], stored[ref][0], resolved[ref]) if same_feed else (0.0, 0.0, resolved[ref])

        later = "b" if read_at(args.b) > read_at(args.a) else "a"
    ex = stories.explain(a_title, a_summary, b_title, b_summary, scfg, index, vectors.get(args.a),
                         vectors.get(args.b), heads.get(args.a), heads.get(args.b), same_feed, later)
    # two stored items of one feed that are posts of one series: the pipeline keeps them out of each other's
    # stories when it sees them in one feed document (its rule, applied to the pair)
    sibling = same_feed and bool(stories.siblings([a_title, b_title]))
    now: str | None = None  # where the two stored items are now
    apart: float | None = None  # hours between two stored reports, when more than the story window
    if args.a in stored and args.b in stored:
        now = "one story" if stored[args.a][1] == stored[args.b][1] else "two stories"
        gap = abs(stored[args.a][0] - stored[args.b][0])
        if gap > cfg.stories.window.total_seconds():
            apart = gap / 3600
    # stored items not in the index's window: their vectors are made from their text now
    outside = [x for x, ref in (("a", args.a), ("b", args.b)) if ref in stored and ref not in vectors]
    if getattr(args, "json", False):
        doc = {"score": ex.score, "same_story": ex.same_story, "threshold": scfg.threshold,
               "shared": ex.shared, "only_a": ex.only_a, "only_b": ex.only_b}
        if ex.semantic is not None:
            doc |= {"lexical": ex.lexical, "semantic": ex.semantic, "semantic_weight": scfg.semantic_weight}
        if ex.headline is not None:
            doc["headline"] = ex.headline  # the score is the headlines' alone (higher than with the summaries)
        if ex.one_name:
            doc["one_name"] = ex.one_name  # the headlines share only these two words, one name: not counted
        if later is not None:
            doc["later"] = later
        if same_report:
            doc["same_report"] = True
        if outside:
            doc["outside_window"] = outside  # scored from their text with the current weights
        if now is not None:
            doc["now"] = now
        if apart is not None:
            doc["hours_apart"] = round(apart, 1)
        if both:
            doc["siblings"] = sibling
        channels = {x: {ch: {"id": uid, "title": title, "link": link} for ch, (uid, title, link) in shown[ref].items()}
                    for x, ref in (("a", args.a), ("b", args.b)) if ref in shown}
        if channels:
            doc["channels_show"] = channels  # channels whose entry for the story stands on another report
        print(json.dumps(doc, indent=2))
    else:
        print(f"a ({a_kind}): {a_title}")
        print(f"b ({b_kind}): {b_title}")
        for x, ref in (("a", args.a), ("b", args.b)):
            for ch, (uid, title, link) in sorted(shown.get(ref, {}).items()):
                how = (f"its link {link}" if link and not shared.get(link) else
                       f"its entry id {uid}" if uid not in firsts else "its headline")
                print(f"({x}: in channel {ch} the story's entry shows another report, \"{title}\": give {how} to "
                      "score that one)")
        if same_report:
            print("a and b name the same stored report (an entry id names the report its story's entry shows; a "
                  "link, one outlet's report)")
        for line in ex.lines:
            print(line)
        if vectors and not outside:
            print("(stored items in the window are scored with the vectors they entered the index with)")
        for x in outside:
            print(f"({x} is outside the story window: scored from its text with the current weights, without "
                  "its feed's template)")
        if sibling:
            print("siblings: two posts of one series in one feed (one frame of words, fillings with no term in "
                  "common): kept apart whatever the score when the feed lists both at once")
        if apart is not None:
            window_h = cfg.stories.window.total_seconds() / 3600
            print(f"time: published {apart:.0f} h apart, more than the story window ({window_h:g} h): never one "
                  "story, whatever the score")
        if now is not None:
            print(f"now: {now} in the store (decided in arrival order, against whole stories)")
        if "headline" in (a_kind, b_kind) and scfg.summary_weight > 0 and scfg.summary_terms > 0:
            # a run scores a report with the first words of its summary too, which can move the score either
            # way (a review found 13 of 50 headline pairs "same story" here that its run had kept apart)
            print("(headlines alone: a run also reads the first words of each report's summary; give two "
                  "entry ids to score stored reports as the run did)")
    return 0
