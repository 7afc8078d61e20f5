"""`make docs`: the model tables in docs/models.md, generated from the catalog (fleet/catalog.py).

    python -m offline.model_docs           # (re)write the tables between their markers in docs/models.md
    python -m offline.model_docs --check   # exit 1, saying so, when the committed tables are stale

Only the tables are generated; the prose around them (sources, what the figures drive) stays hand-written.
Each table sits between `<!-- generated: NAME ... -->` and `<!-- end generated: NAME -->`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable

from fleet.catalog import BUILTIN_MODELS
from fleet.config_schema import PROJECT_ROOT

OUTPUT = PROJECT_ROOT / "docs" / "models.md"


def catalog_table() -> list[str]:
    rows = [
        "| id | Hugging Face repo | params | layers | hidden | heads | kv heads | head_dim | max context | vocab |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in BUILTIN_MODELS.values():
        rows.append(
            f"| {m.id} | {m.hf_repo} | {m.params_b:.2f} B | {m.layers} | {m.hidden_size} | {m.attention_heads}"
            f" | {m.kv_heads} | {m.head_dim} | {m.max_context} | {m.vocab} |"
        )
    return rows


def pins_table() -> list[str]:
    rows = ["| id | Hugging Face commit | ModelScope source (mainland regions) |", "|---|---|---|"]
    for m in BUILTIN_MODELS.values():
        mainland = f"{m.ms_repo} @ {m.ms_revision}" if m.ms_repo else "none: cannot be synced into a mainland region"
        rows.append(f"| {m.id} | {m.revision} | {mainland} |")
    return rows


TABLES: dict[str, Callable[[], list[str]]] = {"catalog": catalog_table, "pins": pins_table}


def render(text: str) -> str:
    """The page with every generated table replaced by what the catalog says now."""
    for name, table in TABLES.items():
        pattern = re.compile(
            rf"(<!-- generated: {name} .*?-->\n)(.*?)(<!-- end generated: {name} -->)", flags=re.DOTALL
        )
        if not pattern.search(text):
            raise ValueError(f"{OUTPUT.name} has no generated {name!r} table (its markers are missing)")
        text = pattern.sub(lambda match, t=table: match.group(1) + "\n".join(t()) + "\n" + match.group(3), text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.model_docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/models.md is not current")
    args = parser.parse_args(argv)
    committed = OUTPUT.read_text(encoding="utf-8")
    try:
        current = render(committed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        if current != committed:
            print(f"{OUTPUT} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(current, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
