"""Log and terminal output of text that servers and feeds control: control characters escaped.

A server's status line, an error text or a URL a page names can carry terminal escapes (``ESC[2J`` clears
the screen, ``ESC]0;...BEL`` sets the window title) or line breaks (a forged log line). What feeds logs or
prints goes through `escape_controls`: every character that does not print written as ``\\xNN``.
"""

from __future__ import annotations

import logging


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


__all__ = ["EscapeControls", "escape_controls"]
