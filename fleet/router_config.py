"""The router's configuration: every endpoint of a region as a provider entry, and the failover routes.

Pure functions over stack outputs, so a region stack (its own entry), the router stack (every region's, read
through StackReference) and the tests all build the same bytes from the same inputs. Entries keep the field
names of Project Beacon's hybrid router (name, region, endpoint, type, models, auth, health_check, timeout)
and carry the rest as additions. Secrets appear only as environment-variable names; their values travel in
a separate map, always as a Pulumi secret.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jsonschema

from fleet import kinds, router_contract, router_reach, router_weights, urls
from fleet.kinds import env_name as env_name  # every credential's variable name comes from fleet/kinds.py
from fleet.residency import is_mainland_region

# One schema per published version of the router contract (fleet/router_contract.py).
SCHEMA_PATHS = router_contract.SCHEMA_PATHS
SCHEMA_VERSION = router_contract.SCHEMA_VERSION
SCHEMA_PATH = SCHEMA_PATHS[SCHEMA_VERSION]
# Request timeouts the router may use per provider type, each with its source (fleet/kinds.py).
TIMEOUT_LIMITS = {k.router_type: k.timeout_limit for k in kinds.KINDS}
ALIBABA_TIMEOUT_SECONDS = 120


def provider_id(router_region: str, kind: str, model_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{router_region}-{kind}-{model_id}".lower()).strip("-")


def refuses_cross_border(region: Mapping[str, Any]) -> bool:
    """Residency binds a mainland region whatever its entry says; a bound region fails over abroad only when
    its stack allows it."""
    bound = region["residency_bound"] or is_mainland_region(region["cloud_region"])
    return bound and not region["allow_cross_border_failover"]


def is_cross_border(region: Mapping[str, Any], provider: Mapping[str, Any]) -> bool:
    """Outside the region's jurisdiction, by the provider's flag or by its own jurisdictions."""
    return bool(provider["cross_border"]) or any(
        j != region["jurisdiction"] for j in provider["jurisdiction"].split(",")
    )


def routes(
    regions: Iterable[Mapping[str, Any]], served: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, dict[str, list[str]]]:
    """Per router region and model, the providers to try in order: the region's failover order, with the ones
    its router can reach before the ones it cannot, and cross-border counterparts left out where residency
    binds the region and its stack does not allow them. `served` says where each region's router runs
    (router_reach.served_from); by default, on the internet."""
    table: dict[str, dict[str, list[str]]] = {}
    for entry in regions:
        region = entry["region"]
        router = (served or {}).get(region["label"], {"network": router_reach.INTERNET})
        by_model: dict[str, list[tuple[bool, int, str]]] = {}
        for pid, provider in entry["providers"].items():
            if refuses_cross_border(region) and is_cross_border(region, provider):
                continue
            step = _step(provider["type"])
            if step not in region["failover_order"]:
                continue
            unreachable = not router_reach.can_reach(router, region["label"], provider)
            for model in provider["models"]:
                by_model.setdefault(model, []).append((unreachable, region["failover_order"].index(step), pid))
        table[region["label"]] = {
            model: [pid for *_, pid in sorted(chain)] for model, chain in sorted(by_model.items())
        }
    return dict(sorted(table.items()))


def _step(provider_type: str) -> str:
    return kinds.BY_ROUTER_TYPE[provider_type].failover_step


def merge(
    regions: Sequence[Mapping[str, Any]], served: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The whole router config from every region's entry; raises ValueError listing every problem.

    `served` places each region's router (router_reach.served_from); by default every region is served from
    the internet, by the router on Railway."""
    labels = [e["region"]["label"] for e in regions]
    served = {**router_reach.served_from(labels, ("railway",), None), **(served or {})}
    found = [
        f"region label '{label}' is declared by two region entries"
        for label in sorted({*labels})
        if labels.count(label) > 1
    ]
    providers: dict[str, Any] = {}
    duplicates = []
    for entry in regions:
        for pid, provider in entry["providers"].items():
            if pid in providers:
                duplicates.append(pid)
            providers[pid] = provider
    table = routes(regions, served)
    for by_model in table.values():
        for chain in by_model.values():
            for priority, pid in enumerate(chain, start=1):
                providers[pid] = {**providers[pid], "priority": priority}
    config = {
        "version": SCHEMA_VERSION,
        "regions": {
            e["region"]["label"]: {**e["region"], "served_from": dict(served[e["region"]["label"]])}
            for e in sorted(regions, key=lambda e: e["region"]["label"])
        },
        "providers": dict(sorted(providers.items())),
        "routes": table,
    }
    found += [f"provider id '{pid}' is declared by two regions" for pid in sorted(set(duplicates))]
    found += _unrouted(regions, table)
    found += problems(config)
    if found:
        raise ValueError("router config is invalid:\n  - " + "\n  - ".join(found))
    config["version"] = required_version(config)
    return config


def required_version(config: Mapping[str, Any]) -> int:
    """The oldest schema version that holds this config: a router that accepts it can serve the fleet, so a fleet
    that uses nothing new keeps working with a router that was never upgraded."""
    document = json.loads(to_json(config))
    for version in sorted(SCHEMA_PATHS):
        if not any(True for _ in _schema_validator(version).iter_errors({**document, "version": version})):
            return version
    return SCHEMA_VERSION


def version_problems(config: Mapping[str, Any], accepted: int) -> list[str]:
    """What in a config the router's accepted schema version does not hold (empty when it holds all of it)."""
    if accepted not in SCHEMA_PATHS:
        return [f"version {accepted} is not a schema version; there are {', '.join(map(str, SCHEMA_PATHS))}"]
    document = {**json.loads(to_json(config)), "version": accepted}
    return sorted({_said(error) for error in _schema_validator(accepted).iter_errors(document)})


def _said(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def _unrouted(regions: Sequence[Mapping[str, Any]], table: Mapping[str, Mapping[str, list[str]]]) -> list[str]:
    """A model a region serves whose every provider residency or the failover order took out: an error, never
    an empty (or silently absent) route."""
    found = []
    for entry in regions:
        region = entry["region"]
        served = {m for p in entry["providers"].values() for m in p["models"]}
        if not served:
            found.append(f"region {region['label']} ({region['cloud_region']}) declares no provider at all")
        for model in sorted(served - set(table.get(region["label"], {}))):
            why = (
                f"{region['label']} is residency-bound and every provider left is cross-border"
                " (allowCrossBorderFailover is off); serve it inside "
                f"{region['jurisdiction']}: a platform in failoverOrder and servingPlatforms, or a partner there"
                " (partnerBaseUrl, partnerJurisdiction)"
                if refuses_cross_border(region)
                else f"none of its providers is in {region['label']}'s failoverOrder {region['failover_order']};"
                " add the step of one it declares to failoverOrder"
            )
            found.append(f"route {region['label']}/{model} has no provider left: {why}")
    return found


def problems(config: Mapping[str, Any]) -> list[str]:
    """What makes a config unusable by the router: broken routes, forbidden hops, impossible timeouts."""
    found = []
    names: dict[str, str] = {}
    for pid, provider in config["providers"].items():
        if provider["name"] in names:
            found.append(f"providers '{names[provider['name']]}' and '{pid}' share the name '{provider['name']}'")
        names[provider["name"]] = pid
        found += url_problems(pid, provider)
        limit = TIMEOUT_LIMITS[provider["type"]]
        if not 1 <= provider["timeout"] <= limit:
            found.append(
                f"provider '{pid}': timeout {provider['timeout']} s is outside 1..{limit} s for {provider['type']}"
            )
    for label, by_model in config["routes"].items():
        region = config["regions"].get(label)
        if region is None:
            found.append(f"routes name region '{label}', which no region stack declares")
            continue
        router = region.get("served_from") or {"network": router_reach.INTERNET}
        runs = router_reach.where(router)
        for model, chain in by_model.items():
            if not chain:
                found.append(f"route {label}/{model} has no provider")
            reachable = [
                pid
                for pid in chain
                if pid in config["providers"] and router_reach.can_reach(router, label, config["providers"][pid])
            ]
            if chain and not reachable:
                found.append(
                    f"route {label}/{model} has no provider its router can reach: the router serving {label}"
                    f" ({runs}) cannot reach {', '.join(chain)} (network: vpc); to make one reachable,"
                    f" {router_reach.how_to_reach(region)}"
                )
            elif chain and chain[0] not in reachable:
                found.append(f"route {label}/{model} tries '{chain[0]}' first, which its router ({runs}) cannot reach")
            elif (
                reachable
                and (region["residency_bound"] or is_mainland_region(region["cloud_region"]))
                and is_cross_border(region, config["providers"][reachable[0]])
            ):
                # allowCrossBorderFailover permits failing over abroad, never serving from abroad.
                found.append(
                    f"route {label}/{model} would serve residency-bound {label} from abroad: the first provider its"
                    f" router can reach is cross-border '{reachable[0]}'; {router_reach.how_to_reach(region)}"
                )
            for pid in chain:
                provider = config["providers"].get(pid)
                if provider is None:
                    found.append(f"route {label}/{model} names unknown provider '{pid}'")
                elif model not in provider["models"]:
                    found.append(f"route {label}/{model} goes to '{pid}', which does not serve {model}")
                elif is_cross_border(region, provider) and refuses_cross_border(region):
                    found.append(
                        f"route {label}/{model} fails over to cross-border provider '{pid}', but {label} is"
                        " residency-bound; set allowCrossBorderFailover in its stack to permit it"
                    )
    return found + router_weights.weights_problems(config)


def url_problems(pid: str, provider: Mapping[str, Any]) -> list[str]:
    """A provider's URLs that must not carry its key: user-info or a credential in any of them (fleet/urls), and
    plain http to anything but loopback (decided on the parsed host) when the router reaches it over the
    internet."""
    found = []
    for key, url in router_reach.provider_urls(provider):
        problem = urls.transport_problem(url) if provider.get("network") != "vpc" else urls.credential_problem(url)
        if problem:
            found.append(f"provider '{pid}': {key} {url} {problem}")
    return found


def schema_problems(document: Any) -> list[str]:
    """What keeps a document from being a router config of this schema version; empty when it is one.

    The schema's URL patterns are a first filter; the URL checks a pattern cannot make exactly (the parsed host,
    user-info) are fleet/urls', applied here too, so the probe refuses what the router stack refuses."""
    version = document.get("version") if isinstance(document, dict) else None
    if isinstance(version, bool) or version not in SCHEMA_PATHS:
        known = ", ".join(map(str, SCHEMA_PATHS))
        return [f"version {json.dumps(version)[:20]} is not a router config schema version ({known})"]
    found = sorted(error.message for error in _schema_validator(version).iter_errors(document))
    if found:
        return found
    return [p for pid, provider in document["providers"].items() for p in url_problems(pid, provider)]


@functools.cache
def _schema_validator(version: int = SCHEMA_VERSION) -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATHS[version].read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema, format_checker=validator.FORMAT_CHECKER)


def secret_env_names(config: Mapping[str, Any]) -> list[str]:
    names = set()
    for provider in config["providers"].values():
        names.update(v for k, v in provider["auth"].items() if k.endswith("env"))
    return sorted(names)


def to_json(config: Mapping[str, Any]) -> str:
    """Deterministic bytes: same config, same file, so a diff shows only real changes."""
    return json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def mermaid(config: Mapping[str, Any]) -> str:
    """The routes as a Mermaid flowchart: each region's models and their ordered failover chains."""
    lines = ["flowchart LR"]
    for label, by_model in config["routes"].items():
        for model, chain in by_model.items():
            node = re.sub(r"[^A-Za-z0-9]", "_", f"{label}_{model}")
            lines.append(f'    {node}["{label} · {model}"]')
            for priority, pid in enumerate(chain, start=1):
                provider = config["providers"][pid]
                target = re.sub(r"[^A-Za-z0-9]", "_", pid)
                arrow = "-->" if priority == 1 else "-.->"
                border = " ⚠ cross-border" if provider["cross_border"] else ""
                lines.append(
                    f'    {node} {arrow}|{priority}| {target}["{provider["type"]} {provider["cloud_region"]}{border}"]'
                )
    return "\n".join(lines) + "\n"
