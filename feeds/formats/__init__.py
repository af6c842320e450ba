"""Renderers for the documents feeds publishes: Atom 1.0 (live feed and RFC 5005 archive pages),
JSON Feed 1.1, RSS 2.0 and HTML pages for people.

Every renderer is a pure function of a :class:`~feeds.formats.model.FeedInfo` and a list of
:class:`~feeds.formats.model.RenderEntry`: no clock, no I/O, so the same input always gives the same
bytes. Heavy libraries (feedgen, lxml) are imported inside the functions that use them.
"""

from feeds.formats.model import FeedInfo, Related, RenderEntry

__all__ = ["FeedInfo", "Related", "RenderEntry"]
