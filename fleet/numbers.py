"""Numbers from text, in one place: ASCII, finite and bounded, or refused.

Python's own parsers take far more than a config file should hold: `float()` takes 'nan', 'inf', '1e308' (and
'1e309' as inf), '1_000' and Arabic-Indic or full-width digits ('٣', '３'); `int()` takes those digits and
underscores too; `str.isdigit()` takes '²'. A NaN that gets through compares false with every bound and reaches
the plan's JSON as `NaN`, which is not JSON. Here a number is written in plain ASCII decimal notation, without
exponent, sign or separators, no longer than `MAX_CHARS`, and lies within the caller's bounds.

Pure: standard library only.
"""

from __future__ import annotations

import math
import re

MAX_CHARS = 18  # more digits than any count or duration in this project needs
_WHOLE = re.compile(r"-?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?", re.ASCII)


def parse_whole(text: object, low: int, high: int) -> int | None:
    """`text` as a whole number in low..high, or None: ASCII digits, a leading '-' at most, nothing else."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        return None
    if isinstance(text, int):
        return text if low <= text <= high else None
    if len(text) > MAX_CHARS or not _WHOLE.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_decimal(text: object, low: float, high: float, low_inclusive: bool = True) -> float | None:
    """`text` as a decimal number in low..high (above low if not low_inclusive), or None.

    ASCII digits with at most one decimal point ('2', '2.5', '0.25'); never nan, inf, an exponent or a sign."""
    if isinstance(text, bool):
        return None
    written = isinstance(text, str) and len(text) <= MAX_CHARS and _DECIMAL.fullmatch(text)
    if not (written or isinstance(text, (int, float))):
        return None
    value = float(text)
    if not math.isfinite(value) or value > high or value < low or (value == low and not low_inclusive):
        return None
    return value
