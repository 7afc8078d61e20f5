"""Text from elsewhere made safe to show: secrets replaced, terminal control sequences made visible.

A server's error message or a CLI's output may echo a token or a variable's value back, and may carry
escape sequences that rewrite the user's terminal (move the cursor, retitle the window, hide what follows).
Standard library only: the probe uses it too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

REDACTED = "[redacted]"
# Shorter values cannot be told apart from ordinary words, and reveal little.
MIN_SECRET_LENGTH = 4


def printable(text: str, limit: int = 500) -> str:
    """text on one line with every control or format character shown as an escape, at most `limit` long.

    Covers C0/C1 controls (ESC, CR, BEL, newline, ...), DEL, and Unicode format characters such as the
    bidirectional overrides that make text display in another order than it reads.
    """
    shown = "".join(_escape(c) if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def scrub(text: str, secrets: Iterable[str], limit: int = 500) -> str:
    """printable(text) with every occurrence of each secret replaced by [redacted]."""
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    # After the replacement, so a secret cut in two by an escape is still found; and again after
    # escaping, in case a secret itself contains a control character and only its escaped form remains.
    shown = printable(text, limit=len(text) * 6 + 1)
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        shown = shown.replace(printable(secret, limit=len(secret) * 6 + 1), REDACTED)
    shown = re.sub(r"(\[redacted\])+", REDACTED, shown)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
