"""The router stack's settings: which region stacks it reads and where it publishes the router's configuration.

The router stack runs the same program as the region stacks (`stackRole: router`). Its config is validated
the same way, every problem at once in one ConfigError naming the key and the fix, before anything is
declared.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from fleet import router_contract, urls
from fleet.config_schema import ProjectSchema
from fleet.settings.problems import ConfigError, Problems
from fleet.settings.typed import check_scope, typed_values
from fleet.settings_types import RailwayTarget, RouterSettings

ROLES = ("region", "router")
PUBLISH_TARGETS = ("kubernetes", "railway")
RAILWAY_TOKEN_TYPES = ("project", "account")
# org/project/stack; on a self-managed backend the organization is literally "organization".
_STACK_REF = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def stack_role(schema: ProjectSchema, stack: str, raw: Mapping[str, str]) -> str:
    role = raw.get(f"{schema.project}:stackRole") or schema.keys["stackRole"].default
    if role not in ROLES:
        raise ConfigError(
            stack, [f"{schema.project}:stackRole: '{role}' is not one of {', '.join(ROLES)}; set region or router"]
        )
    return role


def parse_router_settings(
    schema: ProjectSchema, stack: str, raw: Mapping[str, str], secret_keys: frozenset[str] = frozenset()
) -> RouterSettings:
    """Pure: the router stack's settings, or ConfigError listing every problem."""
    p = Problems(schema.project)
    values = typed_values(schema, raw, secret_keys, p)
    check_scope(schema, raw, values, "router", p)

    region_stacks = tuple(values.get("regionStacks") or ())
    if not region_stacks:
        p.add(
            "regionStacks",
            "list the region stacks to read, e.g. `pulumi config set --path 'regionStacks[0]'"
            " organization/beacon-fleet/cn-beijing`",
        )
    for index, name in enumerate(region_stacks):
        if not _STACK_REF.match(name):
            p.add(f"regionStacks[{index}]", f"'{name}' must be <organization>/<project>/<stack>")
        elif name in region_stacks[:index]:
            p.add(f"regionStacks[{index}]", f"'{name}' is listed twice")

    targets = tuple(values.get("routerPublishTargets") or ())
    for index, target in enumerate(targets):
        if target not in PUBLISH_TARGETS:
            p.add(f"routerPublishTargets[{index}]", f"'{target}' is not one of {', '.join(PUBLISH_TARGETS)}")
        elif target in targets[:index]:
            p.add(f"routerPublishTargets[{index}]", f"'{target}' is listed twice")

    namespace = values.get("routerNamespace", "")
    if isinstance(namespace, str) and not _DNS_LABEL.match(namespace):
        p.add("routerNamespace", f"'{namespace}' must be a DNS label: lowercase letters, digits and '-'")
    if "kubernetes" in targets:
        _require_secret(schema, raw, p, "routerKubeconfig", "the kubernetes publish target needs it")

    in_vpc_of = values.get("routerKubernetesRegionStack", "")
    if in_vpc_of and in_vpc_of not in region_stacks:
        p.add(
            "routerKubernetesRegionStack",
            f"'{in_vpc_of}' is not one of regionStacks ({', '.join(region_stacks)}); name one of them",
        )
    elif in_vpc_of and "kubernetes" not in targets:
        p.add(
            "routerKubernetesRegionStack",
            "says where the in-cluster router runs, but kubernetes is not in routerPublishTargets; remove it",
        )

    accepted = values.get("routerAcceptsSchemaVersion")
    if isinstance(accepted, bool) or accepted not in router_contract.SCHEMA_PATHS:
        known = ", ".join(map(str, router_contract.SCHEMA_PATHS))
        p.add(
            "routerAcceptsSchemaVersion",
            f"'{accepted}' is not a router config schema version ({known}); set the newest version your router"
            " implements (docs/router-config.md, the router contract)",
        )
    railway = _railway(schema, values, raw, p) if "railway" in targets else None
    p.raise_if_any(stack)
    return RouterSettings(
        project=schema.project,
        stack=stack,
        region_stacks=region_stacks,
        publish_targets=targets,
        namespace=namespace,
        railway=railway,
        kubernetes_region_stack=in_vpc_of,
        accepted_schema_version=accepted,
    )


def _railway(schema: ProjectSchema, values: Mapping, raw: Mapping[str, str], p: Problems) -> RailwayTarget | None:
    api_url = values.get("railwayApiUrl", "")
    parts = urlsplit(api_url)
    plain_http_ok = parts.scheme == "http" and urls.is_loopback(api_url)  # a local fake server, in tests
    if urls.credential_problem(api_url):
        pass  # reported with every URL-valued key's (settings/problems.url_credential_problems)
    elif not (parts.scheme == "https" or plain_http_ok) or not parts.hostname:
        p.add("railwayApiUrl", f"'{api_url}' must be an https URL (plain http only on loopback, for a local server)")
    ids = {}
    for key in ("railwayProjectId", "railwayEnvironmentId", "railwayServiceId"):
        value = values.get(key, "")
        try:
            uuid.UUID(value)
            ids[key] = value
        except (TypeError, ValueError):
            shown = f"'{value}' is not a Railway id (a UUID)" if value else "required for the railway publish target"
            p.add(key, f"{shown}; copy it from the Railway dashboard (Cmd/Ctrl+K, Copy … ID)")
    token_type = values.get("railwayTokenType", "")
    if token_type not in RAILWAY_TOKEN_TYPES:
        p.add("railwayTokenType", f"'{token_type}' is not one of {', '.join(RAILWAY_TOKEN_TYPES)}")
    _require_secret(schema, raw, p, "railwayToken", "the railway publish target needs it")
    if len(ids) < 3 or token_type not in RAILWAY_TOKEN_TYPES:
        return None
    return RailwayTarget(
        api_url=api_url,
        project_id=ids["railwayProjectId"],
        environment_id=ids["railwayEnvironmentId"],
        service_id=ids["railwayServiceId"],
        token_type=token_type,
    )


def _require_secret(schema: ProjectSchema, raw: Mapping[str, str], p: Problems, key: str, why: str) -> None:
    if f"{schema.project}:{key}" not in raw:
        p.add(key, f"{why}; run `pulumi config set --secret {key}` (or drop the target from routerPublishTargets)")
