"""Config strings to typed values, by the declarations in Pulumi.yaml (the way typed Pulumi getters decode).

Every key of the project's namespace is checked against its declaration: an unknown key gets the nearest
declared one, a plain key stored as a secret is refused (reading it would reveal it), defaults are applied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fleet import numbers
from fleet.config_schema import KeySpec, ProjectSchema, is_unset_secret
from fleet.settings.limits import check_limits
from fleet.settings.problems import Problems, did_you_mean, url_credential_problems

INTEGER_BOUND = 10**15  # far above any count here; check_limits holds each key to its own bound


def typed_values(
    schema: ProjectSchema, raw: Mapping[str, str], secret_keys: frozenset[str], p: Problems
) -> dict[str, Any]:
    """Check every key of the project's namespace against its declaration; apply Pulumi.yaml defaults."""
    prefix = f"{schema.project}:"
    values: dict[str, Any] = {}
    for full_key in sorted(k for k in raw if k.startswith(prefix)):
        name = full_key[len(prefix) :]
        if name not in schema.keys:
            hint = (
                did_you_mean(name, schema.keys, prefix).rstrip() or "see the config block of Pulumi.yaml for the keys"
            )
            p.add(name, f"unknown key; {hint}")
    for name, spec in schema.keys.items():
        full_key = f"{prefix}{name}"
        if spec.secret:
            continue  # secrets are only ever read as secrets, through pulumi.Config.get_secret
        if full_key in secret_keys:
            # Reading it here would turn a secret into plain text; the key is not meant to be secret.
            p.add(name, f"is stored as a secret but is plain configuration; run `pulumi config set {name} <value>`")
            continue
        if full_key in raw:
            value = _decode(spec, raw[full_key], p)
        elif spec.has_default:
            value = spec.default
        else:
            p.add(name, f"required but not set; run `pulumi config set {name} <value>` ({spec.description})")
            continue
        if value is not None:
            values[name] = value
    check_limits(values, p)
    url_credential_problems(values, p)
    return values


def _decode(spec: KeySpec, text: str, p: Problems) -> Any:
    """Decode one config string by its declared type, the way typed Pulumi config getters do."""
    want = spec.type_name
    if spec.type == "string":
        return text if isinstance(text, str) else str(text)
    if spec.type == "integer":
        # ASCII digits only (fleet/numbers): int() would also take '١٢', '1_000' or '12\n'.
        value = numbers.parse_whole(text, -INTEGER_BOUND, INTEGER_BOUND) if isinstance(text, str) else None
        if value is not None:
            return value
        p.add(spec.name, f"expected {want}, got '{text}'; set a whole number such as {spec.default}")
        return None
    if spec.type == "boolean":
        if text in ("true", "false"):
            return text == "true"
        p.add(spec.name, f"expected boolean, got '{text}'; set true or false")
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, list):
        p.add(spec.name, f"expected {want}, got '{text}'; write a YAML list under the key")
        return None
    item_type = {"string": str, "integer": int, "boolean": bool}.get(spec.items_type or "", object)
    bad = [
        i
        for i, item in enumerate(value)
        if not isinstance(item, item_type) or isinstance(item, bool) != (item_type is bool)
    ]
    if bad:
        p.add(spec.name, f"expected {want}; items {bad} are not {spec.items_type}s")
        return None
    return value


# What a key of the other kind of stack is told, by the stacks it belongs to.
OTHER_KIND = {
    "region": "describes a region and is ignored by a router stack; remove it from this stack file",
    "router": "describes the router stack and is ignored by a region stack; remove it from this stack file"
    " (or set stackRole: router if this stack is the router)",
}


def check_scope(
    schema: ProjectSchema, raw: Mapping[str, str], values: Mapping[str, Any], role: str, p: Problems
) -> None:
    """Refuse every key that belongs to the other kind of stack (fleet/config_schema.py's scopes) and is set here.
    The CLI hands defaults over like set values, so a plain key counts as set when it differs from its default
    (or does not decode); a secret key, when the stack holds it (not the offline plan's placeholder for one unset)."""
    for name, spec in schema.keys.items():
        full_key = f"{schema.project}:{name}"
        if spec.scope in ("every", role) or full_key not in raw:
            continue
        if spec.secret:
            if not is_unset_secret(full_key, raw[full_key]):
                p.add(name, OTHER_KIND[spec.scope])
        elif name not in values or values[name] != spec.default:
            p.add(name, OTHER_KIND[spec.scope])
