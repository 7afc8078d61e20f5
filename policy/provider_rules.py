"""The bridged Terraform provider's own input rules, applied to every `alicloud` resource.

A real `pulumi preview` runs terraform-provider-alicloud's schema checks (ValidateFunc, Required, MaxItems,
ConflictsWith, ...) on every resource's inputs before anything is created. `alicloud_rules.json` beside this
file holds those rules as facts read from the provider's source by `tools/alicloud_rules.py` (which version, and
how it was settled, is in the file's `provider` section and in docs/plan.md); this module applies them. One rule
list serves three readers: the offline engine checks every registration with it, the policy pack's
`alicloud-provider-schema` policy applies it in CI's real preview, and the plan diff reads its ForceNew fields.

Like the rest of the pack, it depends on nothing but the standard library and pulumi-policy, and reads no table
of the program's.

Names: the bridge maps a Terraform field `timeout_seconds` to the Pulumi input `timeoutSeconds`, and a list
block with MaxItems 1 to a single object. The data file keys every field by its Pulumi name (read from the SDK's
generated code) and keeps the Terraform name beside it.

Values not known at plan time are skipped, as a real preview skips them: the engine's `[unknown]`, the wire's
unknown marker, and the policy analyzer's proxies, which raise UnknownValueError when an unknown is read.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pulumi_policy.proxy import UnknownValueError

RULES_FILE = Path(__file__).with_name("alicloud_rules.json")

# What the checker applies. Any other validator the provider uses is listed in the data file's `unreadable`
# section by the generator, never silently skipped.
SUPPORTED_VALIDATORS = frozenset(
    {
        "IntBetween", "IntAtLeast", "IntAtMost", "IntInSlice", "FloatBetween", "FloatAtLeast", "FloatAtMost",
        "StringInSlice", "StringLenBetween", "StringMatch", "StringDoesNotMatch", "IsCIDR", "IsCIDRNetwork",
        "IsIPAddress", "IsIPv4Address", "StringIsNotEmpty", "StringIsNotWhiteSpace", "StringIsJSON",
        "NoZeroValues", "All", "Any",
    }
)  # fmt: skip

# How the offline engine shows a value known only after deployment, and the wire's marker for it.
UNKNOWN_VALUES = frozenset({"[unknown]", "04da6b54-80e4-46f7-96ec-b56ff0331ba9"})
SECRET_SHOWN = "[secret]"


class _Unknown:
    """A value read as unknown: skipped by every rule."""


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Violation:
    field: str  # the Pulumi input path, e.g. customContainerConfig.healthCheckConfig.timeoutSeconds
    rule: str  # e.g. IntBetween(0, 3)
    value: Any
    source: str  # the provider's version, file and line

    def __str__(self) -> str:
        if self.value is None:
            shown = "is not set"
        else:
            shown = f"= {SECRET_SHOWN if self.value == SECRET_SHOWN else _shown(self.value)}"
        return f"{self.field} {shown}, which breaks the provider's {self.rule} ({self.source})"


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


@cache
def rules() -> dict[str, Any]:
    return json.loads(RULES_FILE.read_text(encoding="utf-8"))


def resource_rules(token: str) -> dict[str, Any] | None:
    return rules()["resources"].get(token)


def default_timeout_seconds(token: str, operation: str) -> int | None:
    """The provider's default timeout for create/update/delete, as its schema states it; None when unstated."""
    found = ((resource_rules(token) or {}).get("timeouts") or {}).get(operation) or {}
    return found.get("seconds")


def forces_replacement(token: str, path: str) -> bool:
    """Whether a change at the plan's input path (`inputs.serviceCidr`, `inputs.a.0.b`) replaces the resource:
    the field, or a block holding it, is ForceNew in the provider's schema."""
    return force_new_field(token, path) is not None


def force_new_field(token: str, path: str) -> dict[str, Any] | None:
    """The ForceNew field along the path, or None."""
    spec = resource_rules(token)
    fields = spec["fields"] if spec else {}
    for part in (p.split("[", 1)[0] for p in path.split(".") if p and not p.isdigit() and p != "inputs"):
        found = fields.get(part)
        if found is None:
            return None
        if found.get("forceNew"):
            return found
        fields = found.get("fields") or {}
    return None


def source_of(token: str, line: int) -> str:
    spec = resource_rules(token) or {}
    return f"terraform-provider-alicloud {rules()['provider']['version']} {spec.get('file')}:{line}"


def violations(token: str, inputs: Mapping[str, Any]) -> list[Violation]:
    """Every provider rule the inputs break; [] for a type without rules (tests pin that every declared
    `alicloud` type has them)."""
    spec = resource_rules(token)
    if spec is None:
        return []
    where = f"terraform-provider-alicloud {rules()['provider']['version']} {spec['file']}"
    return list(_check_block(spec["fields"], inputs, "", where, (inputs, spec["fields"])))


def _read(container: Any, key: Any) -> Any:
    """container[key], None when absent, UNKNOWN when not known at plan time."""
    try:
        value = container.get(key) if isinstance(container, Mapping) else container[key]
    except UnknownValueError:
        return UNKNOWN
    if isinstance(value, str) and value in UNKNOWN_VALUES:
        return UNKNOWN
    return value


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _is_set(value: Any) -> bool:
    if value is None or value is UNKNOWN:
        return False
    return not ((_is_list(value) or isinstance(value, Mapping)) and len(value) == 0)


def _check_block(
    fields: Mapping[str, Any], block: Mapping[str, Any], prefix: str, where: str, root: tuple[Mapping, Mapping]
) -> Iterator[Violation]:
    for name, field in fields.items():
        path = f"{prefix}{name}"
        value = _read(block, name)
        source = f"{where}:{field['line']}"
        if value is UNKNOWN:
            continue
        yield from _check_one_of(field, path, source, root)
        if not _is_set(value):
            if field.get("required"):
                yield Violation(path, "Required", None, source)
            continue
        yield from _check_relations(field, path, source, root)
        yield from _hiding_sensitive(field, _check_value(field, value, path, where, source, root))


def _hiding_sensitive(field: Mapping[str, Any], found: Iterator[Violation]) -> Iterator[Violation]:
    """A field the provider marks Sensitive is never shown, whatever the program marked secret."""
    for violation in found:
        yield (
            Violation(violation.field, violation.rule, SECRET_SHOWN, violation.source)
            if field.get("sensitive")
            else violation
        )


def _check_value(
    field: Mapping[str, Any], value: Any, path: str, where: str, source: str, root: tuple[Mapping, Mapping]
) -> Iterator[Violation]:
    if field["type"] in ("list", "set"):
        yield from _check_items(field, value, path, where, source, root)
    elif field["type"] == "map" and "elemValidate" in field and isinstance(value, Mapping):
        for key in value:
            item = _read(value, key)
            if item is not UNKNOWN:
                yield from _validated(field["elemValidate"], item, f"{path}.{key}", where)
    elif "validate" in field:
        yield from _validated(field["validate"], value, path, where)


def _check_items(
    field: Mapping[str, Any], value: Any, path: str, where: str, source: str, root: tuple[Mapping, Mapping]
) -> Iterator[Violation]:
    if not _is_list(value):  # MaxItems 1: the bridge's single object
        items = [value]
    else:
        items = [_read(value, index) for index in range(len(value))]
        if "maxItems" in field and len(items) > field["maxItems"]:
            yield Violation(path, f"MaxItems({field['maxItems']})", f"{len(items)} items", source)
        if "minItems" in field and len(items) < field["minItems"]:
            yield Violation(path, f"MinItems({field['minItems']})", f"{len(items)} items", source)
    for index, item in enumerate(items):
        shown = f"{path}[{index}]" if _is_list(value) else path
        if item is UNKNOWN:
            continue
        if field.get("fields") and isinstance(item, Mapping):
            yield from _check_block(field["fields"], item, f"{shown}.", where, root)
        elif "elemValidate" in field:
            yield from _validated(field["elemValidate"], item, shown, where)


def _check_relations(
    field: Mapping[str, Any], path: str, source: str, root: tuple[Mapping, Mapping]
) -> Iterator[Violation]:
    """ConflictsWith / RequiredWith / ExactlyOneOf name other fields by Terraform path from the resource's root
    (`a.0.b`); a group with none set is _check_one_of's."""
    for other in field.get("conflictsWith", ()):
        if _is_set(_at(root, other)):
            yield Violation(path, f"ConflictsWith({other})", f"both {field['tf']} and {other} set", source)
    for other in field.get("requiredWith", ()):
        found = _at(root, other)
        if found is not UNKNOWN and not _is_set(found):
            yield Violation(path, f"RequiredWith({other})", f"{other} not set", source)
    exactly = field.get("exactlyOneOf", ())
    count = sum(1 for other in exactly if _is_set(_at(root, other)))
    if count > 1:
        yield Violation(path, f"ExactlyOneOf({', '.join(exactly)})", f"{count} of them set", source)


def _check_one_of(
    field: Mapping[str, Any], path: str, source: str, root: tuple[Mapping, Mapping]
) -> Iterator[Violation]:
    """ExactlyOneOf and AtLeastOneOf also refuse a group with none set: said once, on the group's first field."""
    for key in ("exactlyOneOf", "atLeastOneOf"):
        group = field.get(key) or ()
        if not group or group[0] != field["tf"]:
            continue
        found = [_at(root, other) for other in group]
        if not any(_is_set(f) or f is UNKNOWN for f in found):
            rule = f"{key[0].upper()}{key[1:]}({', '.join(group)})"
            yield Violation(path, rule, "none of them set", source)


def _at(root: tuple[Mapping, Mapping], tf_path: str) -> Any:
    """The input at a Terraform path (`custom_container_config.0.port`), by the fields' Terraform names."""
    value, fields = root
    for part in tf_path.split("."):
        if value is UNKNOWN or value is None:
            return value
        if part.isdigit():
            if _is_list(value):
                value = _read(value, int(part)) if int(part) < len(value) else None
            continue
        match = next(((n, f) for n, f in fields.items() if f.get("tf") == part), None)
        if match is None or not isinstance(value, Mapping):
            return None
        value, fields = _read(value, match[0]), match[1].get("fields") or {}
    return value


def _validated(rule: Mapping[str, Any], value: Any, path: str, where: str) -> Iterator[Violation]:
    kind = rule["kind"]
    if rule.get("unreadable") or kind not in SUPPORTED_VALIDATORS:
        return  # listed in the data file's `unreadable` section
    if kind in ("All", "Any"):
        parts = [list(_validated(r, value, path, where)) for r in rule.get("of", ())]
        if kind == "All" or (parts and all(parts)):
            yield from (v for found in parts for v in found)
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
        return number in args[0]  # IntInSlice
    text = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
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
    if kind == "StringIsJSON":
        try:
            json.loads(text)
        except ValueError:
            return False
        return True
    return True
