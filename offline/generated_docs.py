"""Generated sections of hand-written docs: each between `<!-- generated: NAME ... -->` and
`<!-- end generated: NAME -->`, rewritten by `make docs` and checked by the tests (model tables, router contract)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def replace(text: str, name: str, lines: Sequence[str], page: str) -> str:
    """The page with the section NAME replaced by `lines`; ValueError when its markers are missing."""
    pattern = re.compile(rf"(<!-- generated: {name} .*?-->\n)(.*?)(<!-- end generated: {name} -->)", flags=re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{page} has no generated {name!r} section (its markers are missing)")
    return pattern.sub(lambda match: match.group(1) + "\n".join(lines) + "\n" + match.group(3), text)


def command(argv: list[str] | None, prog: str, description: str, output: Path, render: Callable[[str], str]) -> int:
    """`python -m <prog> [--check]`: rewrite the page's generated sections, or exit 1 when they are stale."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--check", action="store_true", help=f"exit 1 when {output.name}'s generated parts are stale")
    args = parser.parse_args(argv)
    committed = output.read_text(encoding="utf-8")
    try:
        current = render(committed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        if current != committed:
            print(f"{output} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    output.write_text(current, encoding="utf-8")
    return 0
