"""Which of the project's secret keys a stack needs, from its plain config: what the settings require and the
program reads, so the plan lists only those as placeholders."""

from __future__ import annotations

import json
from collections.abc import Mapping

from fleet import counterparts, kinds


def needed_secret_keys(project: str, values: Mapping[str, str]) -> tuple[str, ...]:
    """Short names of the secret keys this stack's config makes the program read (see settings/storage.py,
    settings/counterparts.py, settings/router.py)."""

    def get(key: str, default: str = "") -> str:
        return values.get(f"{project}:{key}", default)

    if get("stackRole", "region") == "router":
        try:
            targets = json.loads(get("routerPublishTargets", "[]"))
        except ValueError:
            targets = []
        targets = targets if isinstance(targets, list) else []
        wanted = {"kubernetes": "routerKubeconfig", "railway": "railwayToken"}
        return tuple(wanted[t] for t in wanted if t in targets)
    needed = ["registryPassword"] if get("registryEdition") == "personal" else []
    needed += counterparts.ROUTER_SECRET_KEYS.get(get("counterpartProvider"), ())
    if get("partnerBaseUrl"):
        needed += kinds.BY_PLATFORM["partner"].secret_keys
    return tuple(needed)
