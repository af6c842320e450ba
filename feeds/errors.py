"""One exception base for the project; subclasses carry the file, key path or source URL."""

from __future__ import annotations


class FeedsError(Exception):
    """Base of every error the project raises on purpose."""

    exit_code = 1


class ConfigError(FeedsError):
    """A configuration file is unreadable or invalid. Carries file, key path and what was expected."""

    exit_code = 2

    def __init__(self, file: str, key: str, expected: str, got: object = None) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        self.got = got
        where = f"{file}: {key}" if key else file
        msg = f"{where}: expected {expected}"
        if got is not None:
            msg += f", got {got!r}"
        super().__init__(msg)


class LockedError(FeedsError):
    """Another feeds process holds the store's lock."""

    exit_code = 75  # EX_TEMPFAIL: cron may try again later

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"another feeds process is running on this store (lock {path}); leaving it alone")


class StoreError(FeedsError):
    """The store cannot be opened or is from a newer schema."""

    exit_code = 1


class PublishError(FeedsError):
    """An output document could not be written; the previous one, if there was one, is kept."""

    def __init__(self, path: str, reason: str, kept: bool = True) -> None:
        self.path = path
        super().__init__(f"{path}: cannot write ({reason}); {'previous file kept' if kept else 'nothing written'}")


class SourceError(FeedsError):
    """A per-source failure, used only inside fetch/parse; callers get it as a value in a result."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")
