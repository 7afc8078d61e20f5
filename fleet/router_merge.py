"""The router's config merged from every region stack's entry, validated, and the credentials it names.

Pure: the router stack calls these with what it read through StackReference; the tests call them directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from fleet import router_config


class RouterConfigError(pulumi.RunError):
    """The region stacks' outputs do not make a config the router can use; the message says which and why."""


def merged_config(stacks: Sequence[str], entries: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """The merged, validated config; RouterConfigError names the stack or the route at fault."""
    missing = [name for name, entry in zip(stacks, entries, strict=True) if not entry]
    if missing:
        raise RouterConfigError(
            "region stacks export no routerProviders: "
            + ", ".join(missing)
            + "; check the names in regionStacks and run `pulumi up` on those stacks first"
        )
    try:
        config = router_config.merge([_whole_numbers_as_ints(entry) for entry in entries])
    except ValueError as error:
        raise RouterConfigError(f"{error}\n  fix the region stacks' config (failoverOrder, timeouts, names)") from None
    problems = router_config.schema_problems(json.loads(router_config.to_json(config)))
    if problems:
        raise RouterConfigError(
            f"router config does not validate against {router_config.SCHEMA_PATH.name}:\n  - " + "\n  - ".join(problems)
        )
    return config


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
            + f" (region stacks: {', '.join(stacks)}); set the matching secret config there and run `pulumi up`"
        )
    return {name: supplied[name] for name in needed}
