"""`make docs`: the model tables in docs/models.md, generated from the catalog (fleet/catalog.py).

    python -m offline.model_docs           # (re)write the tables between their markers in docs/models.md
    python -m offline.model_docs --check   # exit 1, saying so, when the committed tables are stale

Only the tables are generated; the prose around them (sources, what the figures drive) stays hand-written.
Each table sits between `<!-- generated: NAME ... -->` and `<!-- end generated: NAME -->`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from fleet.catalog import BUILTIN_MODELS
from fleet.config_schema import PROJECT_ROOT
from offline import generated_docs

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
        text = generated_docs.replace(text, name, table(), OUTPUT.name)
    return text


def main(argv: list[str] | None = None) -> int:
    return generated_docs.command(argv, "python -m offline.model_docs", __doc__.splitlines()[0], OUTPUT, render)


if __name__ == "__main__":
    sys.exit(main())
