"""Where each published router runs, which region's routes each one serves, and what it can reach.

The hybrid router on Railway runs on the internet, outside every VPC: it reaches `network: internet` endpoints
only. A router published into a cluster (the `kubernetes` target) runs in that cluster's VPC: it also reaches
the `network: vpc` endpoints of the region whose VPC that is, and nothing in another region's VPC (VPCs are not
peered). Each region is served by one router: the in-cluster router when it runs in that region's VPC,
otherwise Railway, otherwise the in-cluster router from wherever it is.

Pure: plain data in, plain data out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleet.residency import is_mainland

INTERNET = "internet"
VPC = "vpc"


def served_from(labels: Sequence[str], targets: Sequence[str], kubernetes_vpc: str | None) -> dict[str, dict[str, Any]]:
    """Per region label, the router that serves its routes: {"target", "network", "vpc_of"?}.

    `kubernetes_vpc` is the label of the region whose VPC the in-cluster router runs in, or None when that is
    not known (then it is trusted with internet endpoints only)."""
    chosen: dict[str, dict[str, Any]] = {}
    for label in labels:
        if "kubernetes" in targets and kubernetes_vpc == label:
            chosen[label] = {"target": "kubernetes", "network": VPC, "vpc_of": label}
        elif "railway" in targets or "kubernetes" not in targets:
            # No target at all still describes the default router, the one on Railway.
            chosen[label] = {"target": "railway", "network": INTERNET}
        elif kubernetes_vpc:
            chosen[label] = {"target": "kubernetes", "network": VPC, "vpc_of": kubernetes_vpc}
        else:
            chosen[label] = {"target": "kubernetes", "network": INTERNET}
    return chosen


def can_reach(router: Mapping[str, Any], region_label: str, provider: Mapping[str, Any]) -> bool:
    """Whether a router placed as `router` reaches the provider of region `region_label`."""
    if provider["network"] == INTERNET:
        return True
    return router.get("network") == VPC and router.get("vpc_of") == region_label


def provider_urls(provider: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every URL of a provider entry, by its field."""
    health = provider.get("health") or {}
    return [
        (key, str(url))
        for key, url in (
            ("endpoint", provider.get("endpoint")),
            ("base_url", provider.get("base_url")),
            ("health_check", provider.get("health_check")),
            ("health.url", health.get("url")),
        )
        if url
    ]


def where(router: Mapping[str, Any]) -> str:
    """Where a router runs, as a message says it."""
    target = router.get("target", "railway")
    if router.get("network") == VPC:
        return f"{target}, inside the VPC of {router.get('vpc_of')}"
    return f"{target}, on the internet outside every VPC"


def how_to_reach(region: Mapping[str, Any]) -> str:
    """What would make a region's VPC-only endpoints reachable by its router: the fix, in the message."""
    stack_hint = f"the {region['cloud_region']} region stack"
    ways = [
        f"expose the endpoint to the internet over TLS with an allowlist of the router's egress (ackExposure:"
        f" internet with servingAllowedCidrs and servingTlsCertId, or a public EAS endpoint, in {stack_hint})"
    ]
    if region["jurisdiction"] == "cn-mainland":
        ways[0] += ", which in mainland China also needs an ICP licence (icpLicence)"
    ways.append(
        "or publish the router inside that VPC: routerPublishTargets with kubernetes and"
        " routerKubernetesRegionStack naming that region stack (routerKubeconfig for a Kubernetes cluster in its"
        " VPC: its ACK cluster, or one you run there)"
    )
    return "; ".join(ways)


def binds_residency(region: Mapping[str, Any]) -> bool:
    """Personal data must stay in the region's jurisdiction: the stack says so, or the mainland's rules bind it."""
    return bool(region["residency_bound"]) or is_mainland(region["cloud_region"], region["jurisdiction"])


def placement_problem(regions: Mapping[str, Mapping[str, Any]], label: str, router: Mapping[str, Any]) -> str:
    """Why the router placed as `router` may not serve residency-bound region `label`; empty when it may.

    Every prompt of a region passes through the router that serves its routes, so a residency-bound region's
    router must run in the region's own jurisdiction. The router stack knows where one router runs: the
    in-cluster one, in the region of routerKubernetesRegionStack. Railway's place is not the router stack's
    to check, and Railway has no region in mainland China: it serves no residency-bound region."""
    region = regions[label]
    if not binds_residency(region):
        return ""
    home = regions.get(str(router.get("vpc_of") or ""))
    if router.get("target") == "kubernetes" and home is not None and home["jurisdiction"] == region["jurisdiction"]:
        return ""
    return (
        f"region {label} is residency-bound ({region['jurisdiction']}), but its routes would be served by the"
        f" router on {where(router)}, which is not known to run in {region['jurisdiction']}: its prompts would leave"
        " the jurisdiction before any provider is chosen"
    )


def for_target(config: Mapping[str, Any], target: str) -> dict[str, Any]:
    """The part of a merged config one published router serves: its regions, their routes and providers."""
    labels = {
        label for label, region in config["regions"].items() if region.get("served_from", {}).get("target") == target
    }
    providers = {pid: p for pid, p in config["providers"].items() if p["region"] in labels}
    return {
        **config,
        "regions": {label: r for label, r in config["regions"].items() if label in labels},
        "providers": providers,
        "routes": {label: routes for label, routes in config["routes"].items() if label in labels},
    }
