"""The simulated cloud's facts, read from offline/cloud_facts.json: each with its source and a trust note.

The simulated cloud (real_cloud.py, simulated_cloud.py) takes what it knows about the real services from this
file and from the provider's own rules (policy/alicloud_rules.json), never from the program's tables in fleet/:
a wrong program table would otherwise pass both the program and its "cloud". tests/test_cloud_facts.py
compares the program's tables with these facts where the two must agree.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("cloud_facts.json")
PROJECT_ROOT = PATH.parent.parent


@cache
def _facts() -> dict[str, dict[str, Any]]:
    return json.loads(PATH.read_text(encoding="utf-8"))["facts"]


def value(name: str) -> Any:
    """A fact's value (a fresh copy, so no caller can change what the next one reads)."""
    return json.loads(json.dumps(_facts()[name]["value"]))


def source(name: str) -> str:
    return str(_facts()[name]["source"])


def names() -> list[str]:
    return sorted(_facts())
