"""The bridged Terraform provider's own input rules, applied offline to every `alicloud` resource.

A real `pulumi preview` runs terraform-provider-alicloud's schema checks (ValidateFunc, Required, MaxItems,
ConflictsWith, ...) on every resource's inputs before anything is created. `offline/alicloud_rules.json` holds
those rules as facts read from the provider's source by `tools/alicloud_rules.py` (which version, and how it was
settled, is recorded in the file's `provider` section and in docs/plan.md); this module applies them. The
engine calls `violations` for every registration; the policy pack calls it too, so one rule list per resource
type serves the offline plan and CI's real preview alike.

Names: the bridge maps a Terraform field `timeout_seconds` to the Pulumi input `timeoutSeconds`, and a list
block with MaxItems 1 to a single object. The data file keys every field by its Pulumi name (read from the SDK's
generated code) and keeps the Terraform name beside it.

Values not known at plan time are skipped, as a real preview skips them.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).with_name("alicloud_rules.json")

# What the checker applies. Any other validator the provider uses is listed in the data file's `unreadable`
# section by the generator, never silently skipped.
SUPPORTED_VALIDATORS = frozenset(
    {
        "IntBetween", "IntAtLeast", "IntAtMost", "IntInSlice", "FloatBetween", "FloatAtLeast", "FloatAtMost",
        "StringInSlice", "StringLenBetween", "StringMatch", "StringDoesNotMatch", "IsCIDR", "IsCIDRNetwork",
        "IsIPAddress", "IsIPv4Address", "StringIsNotEmpty", "StringIsNotWhiteSpace", "StringIsJSON",
        "ValidateJsonString", "NoZeroValues", "All", "Any",
    }
)  # fmt: skip

# How the engine shows a value known only after deployment (offline.engine.UNKNOWN_SHOWN) and the wire marker.
UNKNOWN_VALUES = frozenset({"[unknown]", "04da6b54-80e4-46f7-96ec-b56ff0331ba9"})


@dataclass(frozen=True)
class Violation:
    field: str  # the Pulumi input path, e.g. customContainerConfig.healthCheckConfig.timeoutSeconds
    rule: str  # e.g. IntBetween(0, 3)
    value: Any
    source: str  # file:line in the provider's source, with its version

    def __str__(self) -> str:
        shown = "is not set" if self.value is None else f"= {json.dumps(self.value, default=str)[:80]}"
        return f"{self.field} {shown}, which breaks the provider's {self.rule} ({self.source})"


@cache
def rules() -> dict[str, Any]:
    return json.loads(RULES_FILE.read_text())


def resource_rules(token: str) -> dict[str, Any] | None:
    return rules()["resources"].get(token)


def forces_replacement(token: str, path: str) -> bool:
    """Whether a change at the input path (`inputs.serviceCidr`, `inputs.a.0.b`) replaces the resource: some
    field along it is ForceNew in the provider's schema."""
    spec = resource_rules(token)
    if spec is None:
        return False
    fields = spec["fields"]
    parts = [p for p in path.split(".") if p and not p.isdigit() and p != "inputs"]
    for part in parts:
        found = fields.get(part.split("[", 1)[0])
        if found is None:
            return False
        if found.get("forceNew"):
            return True
        fields = found.get("fields") or {}
    return False


def violations(token: str, inputs: Mapping[str, Any]) -> list[Violation]:
    """Every provider rule the inputs break; [] for a type without rules (tests pin that every declared
    `alicloud` type has them)."""
    spec = resource_rules(token)
    if spec is None:
        return []
    where = f"terraform-provider-alicloud {rules()['provider']['version']} {spec['file']}"
    return list(_check_block(spec["fields"], inputs, "", where, inputs, spec["fields"]))


def _unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_VALUES


def _is_set(value: Any) -> bool:
    return value is not None and value != [] and value != {}


def _check_block(
    fields: Mapping[str, Any], block: Mapping[str, Any], prefix: str, where: str, root: Mapping, root_fields: Mapping
) -> Iterator[Violation]:
    for name, field in fields.items():
        path = f"{prefix}{name}"
        value = block.get(name)
        source = f"{where}:{field['line']}"
        if _unknown(value):
            continue
        if not _is_set(value):
            if field.get("required"):
                yield Violation(path, "Required", None, source)
            continue
        yield from _check_relations(field, path, source, root, root_fields)
        if field["type"] in ("list", "set"):
            items = value if isinstance(value, list) else [value]  # MaxItems 1: the bridge's single object
            if isinstance(value, list):
                if "maxItems" in field and len(items) > field["maxItems"]:
                    yield Violation(path, f"MaxItems({field['maxItems']})", f"{len(items)} items", source)
                if "minItems" in field and len(items) < field["minItems"]:
                    yield Violation(path, f"MinItems({field['minItems']})", f"{len(items)} items", source)
            for index, item in enumerate(items):
                shown = f"{path}[{index}]" if isinstance(value, list) and len(items) > 1 else path
                if field.get("fields") and isinstance(item, Mapping):
                    yield from _check_block(field["fields"], item, f"{shown}.", where, root, root_fields)
                elif "elemValidate" in field and not _unknown(item):
                    yield from _validated(field["elemValidate"], item, shown, where)
        elif field["type"] == "map":
            if "elemValidate" in field and isinstance(value, Mapping):
                for key, item in value.items():
                    if not _unknown(item):
                        yield from _validated(field["elemValidate"], item, f"{path}.{key}", where)
        elif "validate" in field:
            yield from _validated(field["validate"], value, path, where)


def _check_relations(
    field: Mapping, path: str, source: str, root: Mapping, root_fields: Mapping
) -> Iterator[Violation]:
    """ConflictsWith / RequiredWith / ExactlyOneOf / AtLeastOneOf name other fields by Terraform path from the
    resource's root (`a.0.b`)."""
    for other in field.get("conflictsWith", ()):
        found = _at(root, root_fields, other)
        if found is not None and _is_set(found):
            yield Violation(path, f"ConflictsWith({other})", "both set", source)
    for other in field.get("requiredWith", ()):
        found = _at(root, root_fields, other)
        if found is not None and not _is_set(found) and not _unknown(found):
            yield Violation(path, f"RequiredWith({other})", f"{other} not set", source)
    exactly = field.get("exactlyOneOf", ())
    if exactly:
        count = sum(1 for other in exactly if _is_set(_at(root, root_fields, other)))
        if count > 1:
            yield Violation(path, f"ExactlyOneOf({', '.join(exactly)})", f"{count} set", source)


def _at(root: Mapping, fields: Mapping, tf_path: str) -> Any:
    """The input at a Terraform path (`custom_container_config.0.port`), by the fields' Terraform names."""
    value: Any = root
    for part in tf_path.split("."):
        if part.isdigit():
            if isinstance(value, list):
                value = value[int(part)] if int(part) < len(value) else None
            continue
        match = next(((n, f) for n, f in fields.items() if f.get("tf") == part), None)
        if match is None or not isinstance(value, Mapping):
            return None
        value = value.get(match[0])
        fields = match[1].get("fields") or {}
    return value


def _validated(rule: Mapping[str, Any], value: Any, path: str, where: str) -> Iterator[Violation]:
    kind = rule["kind"]
    if rule.get("unreadable") or kind not in SUPPORTED_VALIDATORS:
        return  # listed in the data file's `unreadable` section
    if kind in ("All", "Any"):
        parts = [list(_validated(r, value, path, where)) for r in rule.get("of", ())]
        broken = [v for found in parts for v in found]
        if kind == "All" or (parts and all(parts)):
            yield from broken
        return
    if not _holds(kind, rule.get("args", []), value):
        yield Violation(path, describe(rule), value, f"{where}:{rule['line']}")


def describe(rule: Mapping[str, Any]) -> str:
    args = ", ".join(json.dumps(a) for a in rule.get("args", []))
    return f"{rule['kind']}({args})"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    try:
        return float(value)  # the bridge converts a numeric string for a number field
    except (TypeError, ValueError):
        return None


def _holds(kind: str, args: list[Any], value: Any) -> bool:  # noqa: C901, PLR0911, PLR0912 - one case per validator
    if kind.startswith(("Int", "Float")):
        number = _number(value)
        if number is None:
            return False
        if kind in ("IntBetween", "FloatBetween"):
            return args[0] <= number <= args[1]
        if kind in ("IntAtLeast", "FloatAtLeast"):
            return number >= args[0]
        if kind in ("IntAtMost", "FloatAtMost"):
            return number <= args[0]
        if kind == "IntInSlice":
            return number in args[0]
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)
    if kind == "StringInSlice":
        allowed, ignore_case = args[0], bool(args[1]) if len(args) > 1 else False
        return text.lower() in {a.lower() for a in allowed} if ignore_case else text in allowed
    if kind == "StringLenBetween":
        return args[0] <= len(text) <= args[1]
    if kind in ("StringMatch", "StringDoesNotMatch"):
        found = re.search(args[0], text) is not None  # Go's MatchString: a match anywhere
        return found if kind == "StringMatch" else not found
    if kind in ("IsCIDR", "IsCIDRNetwork"):
        try:
            network = ipaddress.ip_network(text, strict=kind == "IsCIDRNetwork")
        except ValueError:
            return False
        return kind == "IsCIDR" or args[0] <= network.prefixlen <= args[1]
    if kind in ("IsIPAddress", "IsIPv4Address"):
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return kind == "IsIPAddress" or address.version == 4
    if kind in ("StringIsNotEmpty", "NoZeroValues"):
        return text != "" and value not in (0, False)
    if kind == "StringIsNotWhiteSpace":
        return text.strip() != ""
    if kind in ("StringIsJSON", "ValidateJsonString"):
        try:
            json.loads(text)
        except ValueError:
            return False
        return True
    return True
