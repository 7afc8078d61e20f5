"""Each config key knows the stacks it belongs to (fleet/config_schema.py's scopes), and a stack that sets a key
of the other kind is refused, in one error naming every such key, before anything is declared."""

from __future__ import annotations

import pytest

from fleet.config_schema import EVERY_STACK_KEYS, ROUTER_KEYS, encode_config_value, load_project_schema
from fleet.settings import ConfigError, parse_router_settings, parse_settings
from offline.stack_files import load_stack_config

SCHEMA = load_project_schema()
REGION_KEYS = sorted(name for name, spec in SCHEMA.keys.items() if spec.scope == "region")
ROUTER_SCOPED = sorted(name for name, spec in SCHEMA.keys.items() if spec.scope == "router")
TOLD = {
    "region": "describes a region and is ignored by a router stack; remove it from this stack file",
    "router": "describes the router stack and is ignored by a region stack; remove it from this stack file",
}


def other_value(name: str) -> str:
    """A value of the key's declared type that is not its default, as the CLI hands it to the program."""
    spec = SCHEMA.keys[name]
    if spec.secret:
        return "a-secret-value"
    value = {
        "string": "abc",
        "integer": (spec.default + 1) if isinstance(spec.default, int) else 1,
        "boolean": not spec.default,
        "array": [1] if spec.items_type == "integer" else ["abc"],
    }[spec.type]
    assert value != spec.default
    return encode_config_value(value)


def problems(stack: str, changes: dict[str, str]) -> list[str]:
    raw = {**load_stack_config(stack).values, **{f"{SCHEMA.project}:{k}": v for k, v in changes.items()}}
    parse = parse_router_settings if stack == "router" else parse_settings
    try:
        parse(SCHEMA, stack, raw, frozenset(load_stack_config(stack).secret_keys))
    except ConfigError as error:
        return error.problems
    return []


def test_every_key_has_one_scope_and_the_descriptions_say_the_same():
    assert {spec.scope for spec in SCHEMA.keys.values()} == {"region", "router", "every"}
    assert set(SCHEMA.keys) >= (ROUTER_KEYS | EVERY_STACK_KEYS), "a scoped key is no longer declared"
    for name, spec in SCHEMA.keys.items():
        says_router = spec.description.startswith("Router stack only")
        assert says_router == (spec.scope == "router"), f"{name}: scope {spec.scope}, description {spec.description!r}"


def test_the_shipped_stacks_set_only_keys_of_their_kind():
    for stack in ("cn-beijing", "ap-southeast", "us-east", "router"):
        assert problems(stack, {}) == [], stack


@pytest.mark.parametrize("name", REGION_KEYS)
def test_a_router_stack_refuses_each_region_key_it_sets(name):
    found = problems("router", {name: other_value(name)})
    assert f"{SCHEMA.project}:{name}: {TOLD['region']}" in found, found


@pytest.mark.parametrize("name", ROUTER_SCOPED)
def test_a_region_stack_refuses_each_router_key_it_sets(name):
    found = problems("us-east", {name: other_value(name)})
    assert any(p.startswith(f"{SCHEMA.project}:{name}: {TOLD['router']}") for p in found), found


@pytest.mark.parametrize(("stack", "keys"), [("router", REGION_KEYS), ("ap-southeast", ROUTER_SCOPED)])
def test_one_error_names_every_key_of_the_other_kind(stack, keys):
    found = problems(stack, {name: other_value(name) for name in keys})
    told = [p for p in found if TOLD["region"] in p or TOLD["router"] in p]
    assert {p.split(": ", 1)[0].removeprefix(f"{SCHEMA.project}:") for p in told} == set(keys)


def test_a_router_stack_no_longer_plans_with_a_workload_key_set_to_abc():
    assert problems("router", {"averageSecondsPerRequest": "abc"}) == [
        f"{SCHEMA.project}:averageSecondsPerRequest: {TOLD['region']}"
    ]


def test_a_key_set_to_its_default_or_a_secret_the_offline_plan_only_stands_in_for_is_not_refused():
    # The CLI hands every default over like a set value; the offline plan fills each unset secret with a placeholder.
    defaults = {name: encode_config_value(spec.default) for name, spec in SCHEMA.keys.items() if spec.has_default}
    assert problems("router", {k: v for k, v in defaults.items() if k in REGION_KEYS}) == []
    assert problems("us-east", {k: v for k, v in defaults.items() if k in ROUTER_SCOPED}) == []
    placeholder = load_stack_config("us-east").values[f"{SCHEMA.project}:railwayToken"]
    assert placeholder.startswith("[secret placeholder:") and problems("us-east", {}) == []
