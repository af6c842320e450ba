"""feeds: collect RSS/Atom sources, collapse duplicate stories, publish themed Atom channels."""

__version__ = "0.1.0"
USER_AGENT = f"feeds/{__version__} (+https://github.com/feeds-aggregator/feeds)"
