"""Run the policy pack over what a synthesis declared, as `pulumi preview --policy-pack policy` would.

The analyzer the CLI starts hands each policy the resource's inputs with secrets unwrapped and unknowns
behind a proxy that raises when read; this does the same with the recorded wire inputs, so the pack's
verdicts offline are the verdicts a preview gives, minus what only the real engine knows (providers'
defaults, values the cloud computes).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from offline.engine import UNKNOWN_SHOWN, DeclaredResource, Secret, Synthesis
from policy.beacon_policies import ALL_POLICIES

PACK_NAME = "beacon-fleet-guardrails"


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str  # mandatory or advisory
    resource: str  # "<type> <name>", or "" for the stack as a whole
    message: str

    def as_json(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "enforcement": self.enforcement,
            "resource": self.resource,
            "message": self.message,
        }


def check(
    resources: Iterable[DeclaredResource],
    policies: Iterable[Policy] = ALL_POLICIES,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    provider_regions: Mapping[str, str] | None = None,
) -> list[Violation]:
    """Every violation the policies report over the declared resources (StackReferences are not the stack's).

    `config` is policy config by policy name, as in `pulumi preview --policy-pack-config`. `provider_regions`:
    the region of each package's default provider ({"alicloud": "cn-beijing"}, the stack's alicloud:region);
    each resource gets its provider as the analyzer gives it, an explicit one's declared region first.
    """
    declared = [r for r in resources if not r.read]
    as_policy = {r.urn: _policy_resource(r, declared, provider_regions or {}) for r in declared}
    for r in declared:
        as_policy[r.urn].parent = as_policy.get(r.parent_urn)
    labels = {r.urn: _label(r) for r in declared}
    found: list[Violation] = []
    for policy in policies:
        level = (policy.enforcement_level or EnforcementLevel.MANDATORY).value
        policy_config = dict((config or {}).get(policy.name, {}))
        if isinstance(policy, ResourceValidationPolicy):
            for r in declared:
                resource = as_policy[r.urn]
                args = ResourceValidationArgs(r.type, resource.props, r.urn, r.name, resource.opts, None, policy_config)
                found += _validated(policy, args, level, lambda _urn, label=labels[r.urn]: label)
        elif isinstance(policy, StackValidationPolicy):
            args = StackValidationArgs(list(as_policy.values()), policy_config)
            found += _validated(policy, args, level, lambda urn: labels.get(urn or "", ""))
    return found


def check_synthesis(synthesis: Synthesis) -> list[Violation]:
    return check(synthesis.resources, provider_regions=synthesis.provider_regions) if synthesis.ok else []


def mandatory(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.enforcement == EnforcementLevel.MANDATORY.value]


def _validated(policy: Policy, args, level: str, label_of: Callable[[str | None], str]) -> list[Violation]:
    """One policy run; a resource policy's violations are always about the resource, as in the real analyzer."""
    found: list[Violation] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(Violation(policy.name, level, label_of(urn), message))

    try:
        pending = policy.validate(args, report)
        if inspect.isawaitable(pending):
            asyncio.run(_awaited(pending))
    except UnknownValueError as unknown:  # a preview prints "can't run policy ... during preview"
        found.append(Violation(policy.name, "advisory", label_of(None), f"not checked: {unknown.message}"))
    return found


async def _awaited(pending) -> None:
    await pending


def _label(resource: DeclaredResource | None) -> str:
    return f"{resource.type} {resource.name}" if resource else ""


def _provider(
    resource: DeclaredResource, declared: Iterable[DeclaredResource], default_regions: Mapping[str, str]
) -> PolicyProviderResource | None:
    """The resource's provider as the analyzer shows it: an explicit provider's inputs, else the package's
    default provider with the stack's region."""
    package = resource.type.split(":", 1)[0]
    if package in ("pulumi", "") or not resource.custom:
        return None
    reference = str(resource.options.get("provider") or "")
    if reference:
        # A provider reference is "<provider urn>::<provider id>".
        explicit = next((r for r in declared if r.urn in (reference, reference.rsplit("::", 1)[0])), None)
        if explicit is not None:
            return PolicyProviderResource(explicit.type, dict(explicit.inputs), explicit.urn, explicit.name)
    if package in default_regions:
        return PolicyProviderResource(
            f"pulumi:providers:{package}", {"region": default_regions[package]}, f"default_{package}", "default"
        )
    return None


def _policy_resource(
    resource: DeclaredResource,
    declared: Iterable[DeclaredResource] = (),
    default_regions: Mapping[str, str] | None = None,
) -> PolicyResource:
    opts = PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        additional_secret_outputs=[],
        custom_timeouts=None,
    )
    props = unknown_checking_proxy(_analyzer_view(resource.inputs))
    provider = _provider(resource, declared, default_regions or {})
    return PolicyResource(resource.type, props, resource.urn, resource.name, opts, provider, None, [], {})


def _analyzer_view(value: Any) -> Any:
    """Inputs as the analyzer sees them: secrets in the clear, unknowns as the proxy's sentinel."""
    if isinstance(value, Secret):
        return _analyzer_view(value.value)
    if isinstance(value, dict):
        return {k: _analyzer_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_analyzer_view(v) for v in value]
    if value == UNKNOWN_SHOWN:
        return UNKNOWN_STRING_VALUE
    return value
