"""HTML pages for people: the site index and one Planet-like page per channel.

Plain semantic HTML with a little inline CSS, readable on a phone. Every text is escaped; summaries are
already sanitised HTML (feeds.sanitize) and are inserted as they are. Links between the site's own
files are relative (so the pages work from disk as well as from any base URL); feed autodiscovery
<link rel="alternate"> elements point at the channel's feeds. Nothing depends on the clock: an
unchanged channel renders the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from feeds.formats.model import RenderEntry, rfc3339
from feeds.models import Enclosure

FEED_TYPES = (  # format, file suffix, media type, label
    ("atom", "atom", "application/atom+xml", "Atom"),
    ("json", "json", "application/feed+json", "JSON Feed"),
    ("rss", "rss", "application/rss+xml", "RSS"),
)

# Long words and URLs wrap at the page's width (body: overflow-wrap:break-word, inherited: "anywhere" would also
# squeeze table cells to a letter a line); what cannot wrap (a summary's <pre> lines, a table wider than a
# phone) scrolls inside its own box instead of widening the page.
CSS = """
:root{color-scheme:light dark;--muted:#5a5a5a;--rule:#d8d8d8;--accent:#0b57d0}
@media screen and (prefers-color-scheme:dark){:root{--muted:#a8a8a8;--rule:#3a3a3a;--accent:#8ab4f8}
body{background:Canvas;color:CanvasText}}
body{font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:44rem;padding:0 1rem 2rem;overflow-wrap:break-word}
a{color:var(--accent)}
header{border-bottom:2px solid var(--rule);margin-bottom:.5rem;padding-top:.75rem}
header h1{font-size:1.6rem;line-height:1.2;margin:.25rem 0}
.site{margin:0;font-size:.9rem}
.subscribe{font-size:.95rem}
.subscribe a{display:inline-block;padding:.15rem .55rem;margin:.1rem .15rem .1rem 0;border:1px solid var(--rule);
border-radius:1rem;text-decoration:none}
article,section{border-bottom:1px solid var(--rule);padding:.5rem 0 .75rem}
h2{font-size:1.2rem;line-height:1.3;margin:.5rem 0 .25rem}
.meta{color:var(--muted);font-size:.875rem;margin:.15rem 0 .4rem}
.summary img{max-width:100%;height:auto}
.summary pre,.summary table{display:block;max-width:100%;overflow-x:auto}
.summary pre{padding:.4rem .5rem;border:1px solid var(--rule)}
@media print{:root{color-scheme:light}.summary pre{white-space:pre-wrap;overflow:visible}
.summary table{display:table}}
.summary>:first-child{margin-top:0}.summary>:last-child{margin-bottom:0}
.also,.media{font-size:.925rem;margin:.4rem 0 0}
.also ul,section ul{margin:.25rem 0;padding-left:1.25rem}
.also li,section li{margin:.2rem 0}
footer{color:var(--muted);font-size:.875rem;margin-top:1rem}
""".strip()


@dataclass(frozen=True)
class ChannelLinks:
    """What the index needs about a channel."""

    slug: str
    title: str
    description: str
    formats: tuple[str, ...]
    headlines: Sequence[RenderEntry]
    has_page: bool


def _when(dt: datetime) -> str:
    return f'<time datetime="{rfc3339(dt.replace(microsecond=0))}">{dt.day} {dt:%B %Y, %H:%M} UTC</time>'


def _page(*, lang: str | None, title: str, head_links: Sequence[str], body: str) -> bytes:
    lang_attr = f' lang="{escape(lang)}"' if lang else ""
    head = "\n".join([
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        *head_links,
        f"<style>\n{CSS}\n</style>",
    ])
    return f"<!DOCTYPE html>\n<html{lang_attr}>\n<head>\n{head}\n</head>\n<body>\n{body}\n</body>\n</html>\n".encode()


def _feed_links(slug: str, title: str, formats: Sequence[str]) -> tuple[list[str], str]:
    """Autodiscovery <link> elements and the visible subscribe links for a channel's feeds."""
    head, visible = [], []
    for fmt, suffix, mtype, label in FEED_TYPES:
        if fmt in formats:
            href = escape(f"{slug}.{suffix}")
            head.append(f'<link rel="alternate" type="{mtype}" title="{escape(title)} ({label})" href="{href}">')
            visible.append(f'<a href="{href}" type="{mtype}">{label}</a>')
    return head, " ".join(visible)


def _bdi(text: str) -> str:
    """Text from a feed, escaped and isolated: a right-to-left override in a headline (or an Arabic or Hebrew
    one) does not reorder the outlet name or punctuation beside it."""
    return f"<bdi>{escape(text)}</bdi>"


_KINDS = {"audio": "Audio", "video": "Video", "image": "Image"}


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _media(x: Enclosure) -> str:
    """A plain link to a media file, saying what it is ("Audio (audio/mpeg, 54.9 MB)"): nothing plays by
    itself, nothing is fetched until the reader follows it."""
    details = [d for d in (x.type, _size(x.length) if x.length is not None else "") if d]
    label = _KINDS.get(x.type.split("/", 1)[0], "File") + (f" ({', '.join(details)})" if details else "")
    type_ = f' type="{escape(x.type)}"' if x.type else ""
    return f'<a href="{escape(x.url)}"{type_}>{escape(label)}</a>'


# a summary's own headings sit below the story's <h2> (h1 and h2 become h3, ...): a summary's h2 read as a
# new story to a screen reader, and 310 of a page's 410 headings were the summaries'
_HEADING = re.compile(r"<(/?)h([1-6])\b")
# what a sanitised summary's boxes and images get on the page: a box that may scroll can be reached by the
# keyboard; images load as they come into view
_SCROLLS = re.compile(r"<(pre|table)\b")
_IMG = re.compile(r"<img\b")


def _page_body(body_html: str) -> str:
    """A sanitised summary as the page shows it (the feeds carry it unchanged)."""
    if "<h" in body_html:
        body_html = _HEADING.sub(lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 2, 6)}", body_html)
    if "<pre" in body_html or "<table" in body_html:
        body_html = _SCROLLS.sub(r'<\1 tabindex="0"', body_html)
    if "<img" in body_html:
        body_html = _IMG.sub('<img loading="lazy" decoding="async"', body_html)
    return body_html


def _article(e: RenderEntry) -> str:
    # the headline takes its own direction (dir="auto": an Arabic one is right-aligned) and the outlet's
    # language; the byline and labels stay in the page's
    title = escape(e.title)
    heading = f'<a href="{escape(e.link)}">{title}</a>' if e.link else title
    source = (f'<a href="{escape(e.source_link)}">{_bdi(e.source_name)}</a>' if e.source_link
              else _bdi(e.source_name))
    meta = [source, _when(e.published)]
    if (e.updated - e.published).total_seconds() >= 60:  # the story moved since (a development): the page's
        meta.append("updated " + _when(e.updated))        # order is the feeds', by that time
    names = [a for a in e.authors if a.strip()]
    if names and names != [e.source_name]:  # each name isolated on its own (one may be right-to-left)
        meta.append("by " + ", ".join(_bdi(a) for a in names))
    lang = f' lang="{escape(e.language)}"' if e.language else ""
    parts = [f'<article id="story-{e.story_id}">', f'<h2 dir="auto"{lang}>{heading}</h2>',
             f'<p class="meta">{" · ".join(meta)}</p>']
    if e.body_html:
        parts.append(f'<div class="summary" dir="auto"{lang}>{_page_body(e.body_html)}</div>')
    if e.enclosures:
        parts.append(f'<p class="media">Media: {" · ".join(_media(x) for x in e.enclosures)}</p>')
    if e.related:
        items = "".join(f'<li><a href="{escape(r.link)}">{_bdi(r.source)}</a>: {_bdi(r.title)}</li>' if r.link
                        else f"<li>{_bdi(r.source)} (the same report)</li>" if r.same
                        else f"<li>{_bdi(r.source)}: {_bdi(r.title)}</li>" for r in e.related)
        parts.append(f'<div class="also"><p>Also reported by:</p><ul>{items}</ul></div>')
    parts.append("</article>")
    return "\n".join(parts)


def render_channel_page(*, site_title: str, lang: str | None, slug: str, title: str, description: str,
                        formats: Sequence[str], entries: Sequence[RenderEntry], archive_href: str | None) -> bytes:
    head_links, subscribe = _feed_links(slug, title, formats)
    body = [
        "<header>",
        f'<p class="site"><a href="index.html">{escape(site_title)}</a></p>',
        f"<h1>{escape(title)}</h1>",
    ]
    if description:
        body.append(f"<p>{escape(description)}</p>")
    body += [f'<p class="subscribe">Subscribe: {subscribe}</p>', "</header>", "<main>"]
    body += [_article(e) for e in entries] or ["<p>No stories yet.</p>"]
    body.append("</main>")
    footer = ['<a href="index.html">All channels</a>']
    if archive_href:
        footer.append(f'<a href="{escape(archive_href)}" type="application/atom+xml">Older stories (Atom archive)</a>')
    body.append(f'<footer><p>{" · ".join(footer)}</p></footer>')
    return _page(lang=lang, title=f"{title} · {site_title}", head_links=head_links, body="\n".join(body))


def render_index(*, site_title: str, lang: str | None, channels: Sequence[ChannelLinks]) -> bytes:
    head_links: list[str] = []
    body = ["<header>", f"<h1>{escape(site_title)}</h1>", "</header>", "<main>"]
    for ch in channels:
        links, subscribe = _feed_links(ch.slug, ch.title, ch.formats)
        head_links += links[:1]  # the Atom feed of each channel
        name = escape(ch.title)
        heading = f'<a href="{escape(ch.slug)}.html">{name}</a>' if ch.has_page else name
        body += [f'<section id="channel-{escape(ch.slug)}">', f"<h2>{heading}</h2>"]
        if ch.description:
            body.append(f'<p class="meta">{escape(ch.description)}</p>')
        body.append(f'<p class="subscribe">Subscribe: {subscribe}</p>')
        if ch.headlines:
            items = []
            for e in ch.headlines:
                title = _bdi(e.title)
                text = f'<a href="{escape(e.link)}">{title}</a>' if e.link else title
                items.append(f"<li>{text} <span class=\"meta\">({_bdi(e.source_name)})</span></li>")
            body.append(f"<ul>{''.join(items)}</ul>")
        else:
            body.append("<p>No stories yet.</p>")
        body.append("</section>")
    body += ["</main>", '<footer><p>All channels as <a href="index.opml">OPML</a></p></footer>']
    return _page(lang=lang, title=site_title, head_links=head_links, body="\n".join(body))
