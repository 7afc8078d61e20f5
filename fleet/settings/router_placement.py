"""Where the router published into Kubernetes runs: which region stack's VPC, when the operator says so.

Kept beside fleet/settings/router.py rather than in it: it is read by the router stack after its settings, and
only decides reachability (fleet/router_reach.py). Empty means unknown; then the in-cluster router is trusted
with internet endpoints only.
"""

from __future__ import annotations

from collections.abc import Mapping

from fleet.config_schema import ProjectSchema
from fleet.settings.problems import Problems
from fleet.settings.router import RouterSettings

KEY = "routerKubernetesRegionStack"


def parse_kubernetes_region_stack(schema: ProjectSchema, raw: Mapping[str, str], settings: RouterSettings) -> str:
    """The region stack (as listed in regionStacks) whose VPC the kubernetes target's router runs in, or ''."""
    spec = schema.keys.get(KEY)
    value = raw.get(f"{schema.project}:{KEY}", spec.default if spec and spec.has_default else "") or ""
    p = Problems(schema.project)
    if value and value not in settings.region_stacks:
        p.add(KEY, f"'{value}' is not one of regionStacks ({', '.join(settings.region_stacks)}); name one of them")
    elif value and not settings.publishes_to("kubernetes"):
        p.add(KEY, "says where the in-cluster router runs, but kubernetes is not in routerPublishTargets; remove it")
    p.raise_if_any(settings.stack)
    return value
