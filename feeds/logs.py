"""Log and terminal output of text that servers and feeds control: control characters escaped.

A server's status line, an error text or a URL a page names can carry terminal escapes (``ESC[2J`` clears
the screen, ``ESC]0;...BEL`` sets the window title) or line breaks (a forged log line). What feeds logs or
prints goes through `escape_controls`: every character that does not print written as ``\\xNN``.

`LogFile` is the handler of a log file that says, in one line, that its file cannot be written.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys


def escape_controls(text: str, also: str = "") -> str:
    """``text`` with every character that does not print (controls, line breaks and tabs, other invisible
    separators) and those in ``also`` written as ``\\xNN``."""
    if text.isprintable() and not (also and any(ch in text for ch in also)):
        return text
    return "".join(ch if ch.isprintable() and ch not in also else f"\\x{ord(ch):02x}" for ch in text)


class EscapeControls(logging.Filter):
    """A handler filter: the record's message with its control characters escaped (its traceback, written
    by the formatter after it, keeps its lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        safe = escape_controls(message)
        if safe is not message:
            record.msg, record.args = safe, None
        return True


class LogFile(logging.handlers.WatchedFileHandler):
    """The handler of a log file (logrotate-safe: a file moved away is opened again by its name). A write that
    fails (a full or read-only filesystem, a file grown past its size limit) says so once, in one line on
    stderr, where logging printed a "--- Logging error ---" block with a traceback for every record (an I/O
    review: a daemon on a full log filesystem); the records are dropped while it fails, and the first record
    written after says how many were. Any other error (a record that cannot be formatted: a bug) is logging's."""

    def __init__(self, filename: str | os.PathLike[str], encoding: str | None = "utf-8") -> None:
        super().__init__(filename, encoding=encoding)
        self.dropped = 0  # records not written since the log last worked (0: it works)
        self._failed = False  # the write in progress failed

    def emit(self, record: logging.LogRecord) -> None:
        if self.dropped:  # failing: said once it works again, before the record itself
            notice = logging.LogRecord(record.name, logging.WARNING, __file__, 0,
                                       "the log %s works again; %d log lines were dropped while it could not be "
                                       "written", (self.baseFilename, self.dropped), None)
            if not self._write(notice, fresh_line=True):
                self.dropped += 1
                return
            self.dropped = 0
        if not self._write(record):
            self.dropped += 1

    def _write(self, record: logging.LogRecord, fresh_line: bool = False) -> bool:
        """Write one record; False when the write failed (handleError has dealt with it)."""
        self._failed = False
        try:
            if self.stream is None:
                self.stream = self._open()
                self._statstream()
                if fresh_line and not _ends_a_line(self.baseFilename):  # a write cut short left half a line
                    self.stream.write("\n")
            else:
                self.reopenIfNeeded()
        except OSError:
            self.handleError(record)
            return False
        logging.FileHandler.emit(self, record)  # (handleError on a failed write)
        return not self._failed

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        e = sys.exc_info()[1]
        if not isinstance(e, OSError):
            super().handleError(record)
            return
        self._failed = True
        if not self.dropped:
            with contextlib.suppress(Exception):  # (stderr gone too: nothing left to tell)
                print(f"feeds: cannot write the log {self.baseFilename}: {e.strerror or e}; log lines are dropped "
                      "until it works again", file=sys.stderr, flush=True)
        # what the failed write left in the file's buffer is dropped with the record (written later, it would
        # come out of order or cut); the file is opened again at the next record
        stream, self.stream = self.stream, None
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()  # (flushes what is buffered, fails again, and closes the file)


def _ends_a_line(path: str) -> bool:
    """The file at ``path`` is empty or ends with a line break."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        if not end:
            return True
        f.seek(end - 1)
        return f.read(1) == b"\n"


__all__ = ["EscapeControls", "LogFile", "escape_controls"]
