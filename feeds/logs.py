"""Log and terminal output of text that servers and feeds control: control characters escaped.

A server's status line, an error text or a URL a page names can carry terminal escapes (``ESC[2J`` clears
the screen, ``ESC]0;...BEL`` sets the window title) or line breaks (a forged log line). What feeds logs or
prints goes through `escape_controls`: every control character (C0, DEL, C1) written as ``\\xNN``.
"""

from __future__ import annotations

import logging
import re

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with its control characters written as ``\\xNN`` (line breaks and tabs too)."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text) if _CONTROLS.search(text) else text


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
