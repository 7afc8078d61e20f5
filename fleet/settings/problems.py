"""The error collector: every configuration problem of a stack, each naming its key and the fix, raised at once.

``ConfigError`` is a ``pulumi.RunError``, which the language host prints without a traceback. The helpers here
are the checks several domains share, so each rule and its message are written once.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import pulumi

from fleet import urls


class ConfigError(pulumi.RunError):
    """Every configuration problem of a stack, reported at once, before any resource is declared."""

    def __init__(self, stack: str, problems: list[str]):
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"stack '{stack}' has {len(problems)} configuration {noun}; nothing was declared.\n{lines}")


class Problems:
    """Every problem found in a stack's config, each naming its key; raised together as one ConfigError."""

    def __init__(self, project: str):
        self.project = project
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.add_key(f"{self.project}:{key}", message)

    def add_key(self, full_key: str, message: str) -> None:
        self.items.append(f"{full_key}: {message}")

    def raise_if_any(self, stack: str) -> None:
        if self.items:
            raise ConfigError(stack, self.items)


def url_credential_problems(values: Mapping[str, Any], p: Problems) -> None:
    """Every URL-valued setting (any string, or string in a list, with a scheme) that carries a credential:
    user-info, or a credential-looking query parameter (fleet/urls). Such a URL is copied into the plan, the
    router config or an image's build arguments; a credential goes in a secret key instead."""
    for key, value in values.items():
        for index, text in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(text, str) and "://" in text and urls.credential_problem(text):
                where = f"{key}[{index}]" if isinstance(value, list) else key
                p.add(
                    where,
                    f"{urls.credential_problem(text)}; it would be copied into the plan and everything built from"
                    " it: remove it, and set a credential encrypted with `pulumi config set --secret <key>` in the"
                    " key that needs it (or use a URL that needs none)",
                )


def did_you_mean(value: str, known: Iterable[str], prefix: str = "") -> str:
    """'did you mean <prefix><closest>? ' for a near miss, else ''."""
    close = difflib.get_close_matches(value, list(known), n=1)
    return f"did you mean {prefix}{close[0]}? " if close else ""


def check_known(key: str, items: tuple[str, ...], known: Mapping[str, Any], noun: str, p: Problems) -> None:
    """A non-empty list whose every item is one of `known`; an unknown item gets the nearest known one."""
    if not items:
        p.add(key, f"list at least one {noun}, e.g. {next(iter(known))}")
    for index, item in enumerate(items):
        if item not in known:
            p.add(f"{key}[{index}]", f"unknown {noun} '{item}'; {did_you_mean(item, known)}known: {', '.join(known)}")


def check_min_max(low_key: str, low: Any, high_key: str, high: Any, p: Problems, fix: str = "") -> None:
    """A minimum of 0 or more, a maximum of at least 1, and the minimum not above the maximum."""
    if isinstance(low, int) and low < 0:
        p.add(low_key, f"must be 0 or more, got {low}")
    if isinstance(high, int) and high < 1:
        p.add(high_key, f"must be at least 1, got {high}")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        p.add(low_key, f"{low} is more than {high_key} ({high}){fix}")


# The most addresses an allowlist may open, summed over its CIDRs after merging overlaps: 2**24, a /8. An
# allowlist names egress ranges (CI runners, operators, the router), which are /32s to a few /16s; anything
# near a /8 is a large part of the internet, whether written as 0.0.0.0/0, two /1s or a /4.
MAX_ALLOWLIST_ADDRESSES = 2**24


def allowlist(
    texts: list[str], key: str, open_why: str, p: Problems, who: str = "your egress CIDRs"
) -> list[tuple[int, ipaddress.IPv4Network]]:
    """The CIDRs of an allowlist that parse, by index, when together they open at most a /8; the rest is reported."""
    cidrs = []
    for index, text in enumerate(texts):
        try:
            cidr = ipaddress.IPv4Network(text)
        except ValueError:
            p.add(f"{key}[{index}]", f"'{text}' is not an IPv4 CIDR such as 203.0.113.0/24 (host bits zero)")
            continue
        if cidr.prefixlen == 0:
            p.add(f"{key}[{index}]", f"0.0.0.0/0 {open_why}")
        else:
            cidrs.append((index, cidr))
    total = sum(n.num_addresses for n in ipaddress.collapse_addresses(c for _, c in cidrs))
    if total > MAX_ALLOWLIST_ADDRESSES:
        share = 100 * total / 2**32
        p.add(
            key,
            f"{', '.join(str(c) for _, c in cidrs)} {'together open' if len(cidrs) > 1 else 'opens'} {total:,}"
            f" addresses ({share:.3g}% of IPv4),"
            f" more than the {MAX_ALLOWLIST_ADDRESSES:,} of a /8 an allowlist may open; list only {who}",
        )
        return []
    return cidrs
