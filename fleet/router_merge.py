"""The router's config merged from every region stack's entry, validated, and the credentials it names.

Pure: the router stack calls these with what it read through StackReference; the tests call them directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from fleet import router_config, router_reach, router_trust


class RouterConfigError(pulumi.RunError):
    """The region stacks' outputs do not make a config the router can use; the message says which and why."""


# What the router stack reads from each region stack: its router entry, and the outputs it checks it against.
REGION_OUTPUTS = ("routerProviders", "region", "routerRegion", "residency")


def merged_config(
    stacks: Sequence[str],
    outputs: Sequence[Mapping[str, Any] | None],
    targets: Sequence[str] = ("railway",),
    kubernetes_stack: str = "",
    accepted_version: int = router_config.SCHEMA_VERSION,
) -> dict[str, Any]:
    """The merged, validated config; RouterConfigError names the stack or the route at fault.

    `outputs` holds, per stack, what it exports of REGION_OUTPUTS (None when the stack exports nothing);
    `targets` and `kubernetes_stack` say where the published routers run; `accepted_version` is the newest
    router config schema version those routers accept (routerAcceptsSchemaVersion)."""
    read = [dict(found or {}) for found in outputs]
    missing = [name for name, found in zip(stacks, read, strict=True) if not found.get("routerProviders")]
    if missing:
        raise RouterConfigError(
            "region stacks export no routerProviders: "
            + ", ".join(missing)
            + "; check their names in regionStacks. A region stack exports its router entry once its program runs:"
            ' in the offline plan, fix what that stack\'s own plan reports (make plan ARGS="--stack <stack>");'
            " on a real backend, deploy the region stacks before the router"
        )
    read = [_whole_numbers_as_ints(found) for found in read]
    refused = [p for name, found in zip(stacks, read, strict=True) for p in router_trust.claim_problems(name, found)]
    labels: dict[str, list[str]] = {}
    for name, found in zip(stacks, read, strict=True):
        labels.setdefault(found["routerProviders"]["region"]["label"], []).append(name)
    refused += [
        f"stacks {' and '.join(names)} both serve routerRegion '{label}'; give each region stack its own routerRegion"
        for label, names in sorted(labels.items())
        if len(names) > 1
    ]
    if refused:
        raise RouterConfigError(
            "the router refuses region stack outputs that contradict where the stack runs:\n  - "
            + "\n  - ".join(refused)
            + "\n  the current program never exports these: in the offline plan this is a beacon-fleet defect (report"
            " it); on a real backend, deploy those stacks with the current program and check nobody edited their"
            " outputs"
        )
    kubernetes_vpc = next(
        (
            found["routerProviders"]["region"]["label"]
            for name, found in zip(stacks, read, strict=True)
            if name == kubernetes_stack
        ),
        None,
    )
    served = router_reach.served_from(sorted(labels), targets, kubernetes_vpc)
    entries = {found["routerProviders"]["region"]["label"]: found["routerProviders"]["region"] for found in read}
    misplaced = [
        f"stack {names[0]}: {problem}; publish a router inside it: routerPublishTargets with kubernetes,"
        f" routerKubernetesRegionStack: {names[0]} and routerKubeconfig for a Kubernetes cluster in"
        f" {entries[label]['cloud_region'] or entries[label]['jurisdiction']} (the stack's own ACK cluster, or one"
        " you run there; its VPC, for VPC-only endpoints)"
        for label, names in sorted(labels.items())
        if (problem := router_reach.placement_problem(entries, label, served[label]))
    ]
    if misplaced:
        raise RouterConfigError(
            "the router refuses to serve residency-bound regions from abroad:\n  - " + "\n  - ".join(misplaced)
        )
    try:
        config = router_config.merge([found["routerProviders"] for found in read], served)
    except ValueError as error:
        stack_of = {label: names[0] for label, names in labels.items()}
        unreachable = sorted(label for label in labels if f"route {label}/" in str(error) and "can reach" in str(error))
        fixes = [
            f"for {label}, a router inside its VPC: routerPublishTargets [kubernetes, railway] and"
            f" routerKubernetesRegionStack: {stack_of[label]} (routerKubeconfig for a Kubernetes cluster in that"
            " stack's VPC: its ACK cluster, or one you run there)"
            for label in unreachable
        ]
        hint = "; ".join(fixes) if fixes else "fix the named region stacks' config (each line names the key)"
        raise RouterConfigError(f"{_naming_stacks(str(error), stack_of)}\n  {hint}") from None
    problems = router_config.schema_problems(json.loads(router_config.to_json(config)))
    if problems:
        schema = router_config.SCHEMA_PATHS[config["version"]].name
        raise RouterConfigError(f"router config does not validate against {schema}:\n  - " + "\n  - ".join(problems))
    if config["version"] > accepted_version:
        needs = router_config.version_problems(config, accepted_version)
        raise RouterConfigError(
            f"the fleet's router config needs schema version {config['version']}, newer than version"
            f" {accepted_version}, the newest the target router accepts"
            f" (routerAcceptsSchemaVersion: {accepted_version}); what version {accepted_version} does not hold:\n  - "
            + "\n  - ".join(needs[:8])
            + f"\n  upgrade the router to accept version {config['version']} (docs/router-config.md, the router"
            f" contract), then set routerAcceptsSchemaVersion: {config['version']}; or drop what needs it"
        )
    return config


def _naming_stacks(message: str, stack_of: Mapping[str, str]) -> str:
    """Each problem line of a merge error, prefixed with the region stack it is about: the user edits stacks,
    not router region labels."""
    lines = []
    for line in message.split("\n"):
        body = line.removeprefix("  - ")
        label = next(
            (
                label
                for label in sorted(stack_of, key=len, reverse=True)
                if body.startswith((f"route {label}/", f"region {label} "))
            ),
            None,
        )
        lines.append(f"  - stack {stack_of[label]}: {body}" if label is not None and line.startswith("  - ") else line)
    return "\n".join(lines)


def _whole_numbers_as_ints(value: Any) -> Any:
    """Stack outputs cross the wire as protobuf numbers (doubles): 120 arrives as 120.0. Whole numbers go back
    to ints, so the config has the same bytes as the region stacks' own view of it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers_as_ints(v) for v in value]
    return value


def secret_values(
    stacks: Sequence[str], config: Mapping[str, Any], maps: Sequence[Mapping[str, str] | None]
) -> dict[str, str]:
    """The values of exactly the variables the config names; a missing one is an error naming it (no value)."""
    supplied: dict[str, str] = {}
    for secret_map in maps:
        supplied.update(secret_map or {})
    needed = router_config.secret_env_names(config)
    absent = [name for name in needed if not supplied.get(name)]
    if absent:
        raise RouterConfigError(
            "the router config names credentials no region stack supplies in routerSecrets: "
            + ", ".join(absent)
            + f" (region stacks: {', '.join(stacks)}); set the matching secret config in the stack that serves it"
            " (`pulumi config set --secret <key> --stack <stack>`; make plan names each under Secret placeholders)"
        )
    return {name: supplied[name] for name in needed}
