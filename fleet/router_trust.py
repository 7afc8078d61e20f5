"""What the router stack checks in a region stack's own claims before it routes anything to that region.

A region stack builds its router entry itself (routerProviders). The router does not take that entry's word
for where the region is or what binds it: it derives jurisdiction and residency from the cloud region the
stack exports (`region`, the alicloud:region its resources are created in) and refuses an entry that disagrees
with that, with the stack's other outputs (`residency`, `routerRegion`), or with its own endpoints' host names.
A tampered entry, or a stale one left from an older program, is refused rather than routed.

Pure: every problem is a string naming the stack and the output field at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fleet import kinds
from fleet.counterparts import LOCATIONS
from fleet.residency import MAINLAND, derived_jurisdiction, is_mainland, is_valid_jurisdiction
from fleet.residency import regions_named_in_host as named_regions

ALIBABA_TYPES = tuple(k.router_type for k in kinds.ALIBABA)
# Where each counterpart's locations are, by router type; the host its endpoints live under is its kind's host_suffix.
COUNTERPART_LOCATIONS: dict[str, Mapping[str, str]] = {
    kinds.BY_PLATFORM[platform].router_type: table for platform, table in LOCATIONS.items()
}
# The offline plan's simulated hosts end in .invalid (offline/simulated_cloud.py); nothing real does.
SIMULATED_TLD = ".invalid"
URL_FIELDS = ("endpoint", "base_url", "health_check")


def region_jurisdiction(cloud_region: str, stated: Any) -> str | None:
    """The jurisdiction the router uses for a region: derived from its id when beacon-fleet knows it."""
    derived = derived_jurisdiction(cloud_region) if cloud_region else None
    if derived is not None:
        return derived
    if not isinstance(stated, str) or not is_valid_jurisdiction(stated):
        return None
    # A region served without Alibaba Cloud states its own, and claiming the mainland only binds it more. An
    # Alibaba region beacon-fleet does not know states its own too; outside cn-* it can never be the mainland.
    return stated if not cloud_region or stated != MAINLAND else None


def claim_problems(stack: str, outputs: Mapping[str, Any]) -> list[str]:
    """Every way a region stack's router entry disagrees with where the stack really is; empty when none."""
    found: list[str] = []

    def bad(field: str, message: str) -> None:
        found.append(f"stack {stack}: {field}: {message}")

    cloud_region = outputs.get("region")
    entry = outputs.get("routerProviders") or {}
    region = entry.get("region") or {}
    if not isinstance(cloud_region, str):
        bad(
            "region",
            "not exported, so the router cannot tell where the stack runs (a region stack exports its"
            " alicloud:region, or '' when nothing of it is on Alibaba Cloud); plan or deploy it with the current"
            " program",
        )
        return found
    if not cloud_region:
        # Served without Alibaba Cloud: nothing of the stack may claim to be on it.
        for pid, provider in sorted((entry.get("providers") or {}).items()):
            if provider.get("type") in ALIBABA_TYPES:
                bad(
                    f"routerProviders.providers.{pid}.type",
                    f"is {provider.get('type')}, on Alibaba Cloud, but the stack exports no Alibaba region;"
                    " set alicloud:region in its stack",
                )
    if region.get("cloud_region") != cloud_region:
        bad(
            "routerProviders.region.cloud_region",
            f"says '{region.get('cloud_region')}', but the stack's region is {cloud_region}",
        )
    jurisdiction = region_jurisdiction(cloud_region, region.get("jurisdiction"))
    if jurisdiction is None:
        bad(
            "routerProviders.region.jurisdiction",
            f"'{region.get('jurisdiction')}' is not a jurisdiction {cloud_region or 'a region'} can have; set"
            " jurisdiction in its stack to the ISO 3166 code of the country it is in (or cn-mainland)",
        )
    elif region.get("jurisdiction") != jurisdiction:
        bad(
            "routerProviders.region.jurisdiction",
            f"says '{region.get('jurisdiction')}', but {cloud_region} is in {jurisdiction}",
        )
    mainland = is_mainland(cloud_region, jurisdiction or "")
    if mainland and region.get("residency_bound") is not True:
        bad(
            "routerProviders.region.residency_bound",
            f"is off, but {cloud_region or 'the region'} is in mainland China, where residency binds whatever the"
            " stack says; set residencyBound: true in its stack",
        )
    if (region.get("residency_bound") is True or mainland) and region.get("allow_cross_border_failover") is True:
        bad(
            "routerProviders.region.allow_cross_border_failover",
            "is on for a residency-bound region, which its own settings refuse; the output is stale or was edited",
        )
    label = region.get("label")
    if outputs.get("routerRegion") is not None and outputs["routerRegion"] != label:
        bad(
            "routerProviders.region.label",
            f"says '{label}', but the stack's routerRegion is '{outputs['routerRegion']}'",
        )
    found += [f"stack {stack}: {p}" for p in _residency_output_problems(outputs.get("residency"), region, mainland)]
    for pid, provider in sorted((entry.get("providers") or {}).items()):
        field = f"routerProviders.providers.{pid}"
        if provider.get("region") != label:
            bad(f"{field}.region", f"says '{provider.get('region')}', but the entry is region '{label}'")
        for problem in _provider_problems(provider, cloud_region, jurisdiction):
            bad(field + problem[0], problem[1])
    return found


def _residency_output_problems(residency: Any, region: Mapping[str, Any], mainland: bool) -> list[str]:
    """The stack's `residency` output and its router entry must tell the same story; one of them is stale."""
    if not isinstance(residency, Mapping):
        return []
    found = []
    for output_key, entry_key in (
        ("jurisdiction", "jurisdiction"),
        ("residencyBound", "residency_bound"),
        ("allowCrossBorderFailover", "allow_cross_border_failover"),
    ):
        if residency.get(output_key) != region.get(entry_key):
            found.append(
                f"residency.{output_key}: is {residency.get(output_key)!r}, but routerProviders.region.{entry_key}"
                f" is {region.get(entry_key)!r}; one of the two outputs is stale or was edited"
            )
    if (
        mainland
        and residency.get("residencyBound") is not True
        and residency.get("residencyBound") == region.get("residency_bound")
    ):
        found.append("residency.residencyBound: is off in a mainland China region, where residency always binds")
    return found


def _provider_problems(
    provider: Mapping[str, Any], cloud_region: str, jurisdiction: str | None
) -> list[tuple[str, str]]:
    """(field suffix, message) for each way a provider entry contradicts its region."""
    found: list[tuple[str, str]] = []
    kind = provider.get("type")
    hosts = {key: (urlsplit(str(provider.get(key) or "")).hostname or "") for key in URL_FIELDS}
    if kind in ALIBABA_TYPES:
        if provider.get("cloud_region") != cloud_region:
            found.append(
                (".cloud_region", f"says '{provider.get('cloud_region')}', but its stack is in {cloud_region}")
            )
        if jurisdiction is not None and provider.get("jurisdiction") != jurisdiction:
            found.append(
                (".jurisdiction", f"says '{provider.get('jurisdiction')}', but {cloud_region} is in {jurisdiction}")
            )
        if provider.get("cross_border") is not False:
            found.append((".cross_border", f"must be false: an Alibaba endpoint of the stack is in {cloud_region}"))
        for key, host in hosts.items():
            elsewhere = sorted(named_regions(host) - {cloud_region})
            if elsewhere:
                found.append(
                    (f".{key}", f"host {host} is in {', '.join(elsewhere)}, not in the stack's {cloud_region}")
                )
        if kind == "alibaba_eas" and ".vpc." in f".{hosts['endpoint']}" and provider.get("network") != "vpc":
            found.append((".network", f"says '{provider.get('network')}', but {hosts['endpoint']} is a VPC endpoint"))
        return found
    if kind == kinds.BY_PLATFORM["partner"].router_type:
        return _partner_problems(provider, hosts, jurisdiction)
    table = COUNTERPART_LOCATIONS.get(str(kind))
    if table is None:
        known = ", ".join(kinds.ROUTER_TYPES)
        return [(".type", f"'{kind}' is not a provider type the router knows ({known})")]
    locations = [loc for loc in str(provider.get("cloud_region") or "").split(",") if loc]
    unknown = [loc for loc in locations if loc not in table]
    if unknown or not locations:
        found.append((".cloud_region", f"{kind} location(s) {', '.join(unknown) or '(none)'} unknown to beacon-fleet"))
    where = sorted({table[loc] for loc in locations if loc in table})
    if provider.get("jurisdiction") != ",".join(where):
        found.append(
            (
                ".jurisdiction",
                f"says '{provider.get('jurisdiction')}', but {','.join(locations)} is in {','.join(where)}",
            )
        )
    abroad = bool(unknown) or not where or any(j != jurisdiction for j in where)
    if provider.get("cross_border") is not abroad:
        side = "outside" if abroad else "inside"
        found.append(
            (
                ".cross_border",
                f"is {provider.get('cross_border')!r}, but {','.join(locations) or 'its location'} is {side}"
                f" {jurisdiction or 'the region'}'s jurisdiction",
            )
        )
    suffix = kinds.BY_ROUTER_TYPE[str(kind)].host_suffix
    for key, host in hosts.items():
        real = host.removesuffix(SIMULATED_TLD)
        if not (real == suffix or real.endswith("." + suffix)) or named_regions(host):
            found.append((f".{key}", f"host {host or '(none)'} is not a {kind} host (*.{suffix})"))
    if provider.get("network") != "internet":
        found.append((".network", f"says '{provider.get('network')}', but {kind} is only reachable over the internet"))
    return found


def _partner_problems(
    provider: Mapping[str, Any], hosts: Mapping[str, str], jurisdiction: str | None
) -> list[tuple[str, str]]:
    """A partner's endpoint (option C). Where it is hosted is the partner's agreement, which the router cannot
    see; what it can check is that the entry is consistent with it and is no other kind's endpoint in disguise."""
    found: list[tuple[str, str]] = []
    where = provider.get("jurisdiction")
    if not isinstance(where, str) or not is_valid_jurisdiction(where):
        found.append((".jurisdiction", f"'{where}' is not cn-mainland or an ISO 3166-1 code; set partnerJurisdiction"))
        return found
    if provider.get("cloud_region") != where:
        found.append((".cloud_region", f"says '{provider.get('cloud_region')}', but the partner is in {where}"))
    abroad = where != jurisdiction
    if provider.get("cross_border") is not abroad:
        found.append(
            (
                ".cross_border",
                f"is {provider.get('cross_border')!r}, but the partner in {where} is"
                f" {'outside' if abroad else 'inside'} {jurisdiction or 'the region'}'s jurisdiction",
            )
        )
    others = [k for k in kinds.KINDS if k.host_suffix]
    for key, host in hosts.items():
        real = host.removesuffix(SIMULATED_TLD)
        other = next((k for k in others if real == k.host_suffix or real.endswith("." + k.host_suffix)), None)
        if other is not None:
            found.append((f".{key}", f"host {host} is a {other.title} host: declare it as that counterpart"))
        elsewhere = sorted(r for r in named_regions(host) if derived_jurisdiction(r) not in (None, where))
        if elsewhere:
            found.append((f".{key}", f"host {host} is in {', '.join(elsewhere)}, not in the partner's {where}"))
    if provider.get("network") != "internet":
        found.append((".network", f"says '{provider.get('network')}', but a partner is reached over the internet"))
    return found
