"""Which weights answered: every provider of a model must serve the same pinned files, wherever it runs.

Each region exports, per model, the pinned revision and the digest of the committed weights manifest; every
provider entry carries them, so the router (and Beacon's analysis) can say which weights produced an answer.
A model whose providers disagree would make the comparison meaningless, so the config is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def weights_problems(config: Mapping[str, Any]) -> list[str]:
    """One problem per model whose providers serve different weights, or whose provider states none."""
    by_model: dict[str, dict[str, list[str]]] = {}
    found = []
    for pid, provider in sorted(config["providers"].items()):
        weights = provider.get("weights")
        for model in provider["models"]:
            if not weights:
                found.append(f"provider '{pid}' does not say which weights of {model} it serves (revision, digest)")
                continue
            by_model.setdefault(model, {}).setdefault(weights["digest"], []).append(pid)
    for model, digests in sorted(by_model.items()):
        if len(digests) > 1:
            shown = "; ".join(f"{digest}: {', '.join(pids)}" for digest, pids in sorted(digests.items()))
            found.append(
                f"model {model} is served with different weights ({shown}); every provider must serve the pinned"
                " manifest, so re-sync the odd ones out or pin them to the same revision"
            )
    return found
