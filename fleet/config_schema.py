"""The project's config declarations, read from Pulumi.yaml so that each key and default lives there only."""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILE = PROJECT_ROOT / "Pulumi.yaml"
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Secret keys, each needed only by some stacks. Pulumi.yaml cannot declare them: the CLI requires a declared
# key without a default in every stack ("Stack 'x' is missing configuration value"), and since 3.202 refuses a
# secret key with a default as unencrypted (pulumi/pulumi#21865). Settings check each where it is needed.
SECRET_KEYS = {
    "registryPassword": "Personal Edition only; the registry login password set in the ACR console.",
    "runpodRouterApiKey": "RunPod API key the router calls the RunPod counterpart with (a key of its own, not the"
    " deployer's).",
    "modalProxyTokenId": "Modal proxy-auth token id (wk-...) the router sends as Modal-Key.",
    "modalProxyTokenSecret": "Modal proxy-auth token secret (ws-...) the router sends as Modal-Secret.",
    "partnerApiKey": "The key the router sends a partner's endpoint (partnerBaseUrl) as Authorization: Bearer.",
    "routerKubeconfig": "Router stack only; kubeconfig of the cluster the router runs in, for the kubernetes"
    " publish target: in the region of routerKubernetesRegionStack (its ACK cluster, or a cluster you run there when"
    " that stack declares none).",
    "railwayToken": "Router stack only; the Railway token (see railwayTokenType) that writes the router's service"
    " variables, for the railway publish target.",
}

# Which stacks read each key: region stacks (stackRole: region), the router stack, or every stack. A key belongs to
# region stacks unless it is named below. A stack that sets a key of the other kind is refused (fleet/settings/
# typed.check_scope), since it would be silently ignored; docs/configuration.md shows each key's scope.
Scope = Literal["region", "router", "every"]
# In the order docs/configuration.md lists them.
ROUTER_KEY_ORDER = (
    "regionStacks",
    "routerPublishTargets",
    "routerNamespace",
    "routerKubernetesRegionStack",
    "routerAcceptsSchemaVersion",
    "routerKubeconfig",
    "railwayApiUrl",
    "railwayProjectId",
    "railwayEnvironmentId",
    "railwayServiceId",
    "railwayTokenType",
    "railwayToken",
)
ROUTER_KEYS = frozenset(ROUTER_KEY_ORDER)
EVERY_STACK_KEYS = frozenset({"stackRole"})


def scope_of(name: str) -> Scope:
    return "router" if name in ROUTER_KEYS else "every" if name in EVERY_STACK_KEYS else "region"


def unset_secret(full_key: str, file_name: str) -> str:
    """What the offline plan hands the program for a secret key the stack file does not set, where the CLI hands
    nothing: a visible placeholder, which the settings count as not set."""
    return f"[secret placeholder: {full_key} is not set in {file_name}]"


def is_unset_secret(full_key: str, value: str) -> bool:
    return value.startswith(f"[secret placeholder: {full_key} is not set in ")


@dataclass(frozen=True)
class KeySpec:
    """One declared project key: its Pulumi config type, the type of its items, its default."""

    name: str
    type: str
    description: str
    items_type: str | None = None
    default: Any = None
    has_default: bool = False
    secret: bool = False
    scope: Scope = "region"

    @property
    def type_name(self) -> str:
        return f"array<{self.items_type}>" if self.type == "array" else self.type


@dataclass(frozen=True)
class ProjectSchema:
    project: str
    keys: dict[str, KeySpec]

    def defaults_as_config(self) -> dict[str, str]:
        """Defaults in the wire form the CLI hands to programs: strings, JSON for everything else."""
        return {
            f"{self.project}:{spec.name}": encode_config_value(spec.default)
            for spec in self.keys.values()
            if spec.has_default
        }


def encode_config_value(value: Any) -> str:
    """Encode a YAML value as the CLI does in PULUMI_CONFIG: strings stay, the rest becomes JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e21:
        return str(int(value))  # Go's encoding/json writes 2.0 as 2 (the CLI's object.go MarshalString)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@functools.cache
def load_project_schema(path: Path = PROJECT_FILE) -> ProjectSchema:
    # libyaml's loader: the program is re-imported for every offline synthesis, and the pure-Python
    # loader alone cost more per stack than registering its resources.
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    keys: dict[str, KeySpec] = {}
    for name, declaration in (document.get("config") or {}).items():
        if ":" in name:  # a provider key such as alicloud:region; the schema rules do not apply
            continue
        items = declaration.get("items") or {}
        keys[name] = KeySpec(
            name=name,
            type=declaration["type"],
            description=declaration.get("description", ""),
            items_type=items.get("type"),
            default=declaration.get("default"),
            has_default="default" in declaration,
            secret=bool(declaration.get("secret", False)),
            scope=scope_of(name),
        )
    for name, description in SECRET_KEYS.items():
        keys[name] = KeySpec(name=name, type="string", description=description, secret=True, scope=scope_of(name))
    return ProjectSchema(project=document["name"], keys=keys)
