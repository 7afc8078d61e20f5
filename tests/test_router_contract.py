"""The router contract: versioned schemas, a config written at the oldest version that holds it, and a router
stack that refuses to publish a config newer than the target router accepts."""

from __future__ import annotations

import json

import pytest

from fleet import kinds, router_config, router_contract
from fleet.router_merge import REGION_OUTPUTS, RouterConfigError, merged_config
from offline import contract_docs
from offline.engine import as_stack_outputs
from tests.conftest import REGION_STACKS, settled_ok, shared_plan


def test_every_published_version_still_holds_what_was_recorded_for_it():
    recorded = router_contract.recorded()
    assert sorted(map(int, recorded)) == sorted(router_contract.SCHEMA_PATHS), "a schema without a record, or back"
    for version in router_contract.SCHEMA_PATHS:
        held = router_contract.contract(version)
        for key, value in held.items():
            assert recorded[str(version)][key] == value, (
                f"router-config.v{version}.json no longer holds what version {version} recorded ({key}); a published"
                f" version is never edited: add router-config.v{router_contract.SCHEMA_VERSION + 1}.json"
            )


def test_each_version_adds_something_and_takes_nothing_away():
    versions = sorted(router_contract.SCHEMA_PATHS)
    for older, newer in zip(versions, versions[1:], strict=False):
        before, after = router_contract.contract(older), router_contract.contract(newer)
        assert before != after, f"version {newer} holds exactly what {older} does: no new version was needed"
        for key in ("provider_types", "auth_types", "failover_steps", "provider_fields", "region_fields"):
            assert set(before[key]) <= set(after[key]), f"version {newer} drops {key} a version-{older} config uses"


def test_the_newest_version_knows_every_kind_in_the_registry():
    newest = router_contract.contract(router_contract.SCHEMA_VERSION)
    assert newest["provider_types"] == sorted(k.router_type for k in kinds.KINDS)
    assert set(newest["auth_types"]) == {k.auth_type for k in kinds.KINDS}
    assert set(newest["failover_steps"]) == {k.failover_step for k in kinds.KINDS}


def test_the_docs_contract_section_is_what_make_docs_generates():
    committed = contract_docs.OUTPUT.read_text(encoding="utf-8")
    assert committed == contract_docs.render(committed), "docs/router-config.md's contract is stale: run make docs"
    assert contract_docs.main(["--check"]) == 0


def read_outputs(synthesis) -> dict:
    found = as_stack_outputs(synthesis).values
    return {key: found[key] for key in REGION_OUTPUTS if key in found}


@pytest.fixture(scope="module")
def default_fleet() -> list[dict]:
    plan = shared_plan()
    return [read_outputs(plan[stack]) for stack in REGION_STACKS]


# Where the shipped router stack publishes: Railway, and a router inside the mainland region's VPC.
TARGETS = ("kubernetes", "railway")
IN_CLUSTER = next(s for s in REGION_STACKS if s == "cn-beijing")


def test_a_fleet_that_uses_nothing_new_is_written_at_version_1(default_fleet):
    config = merged_config(list(REGION_STACKS), default_fleet, TARGETS, IN_CLUSTER, accepted_version=1)
    assert config["version"] == 1
    assert router_config.schema_problems(json.loads(router_config.to_json(config))) == []


def test_a_config_newer_than_the_router_accepts_is_refused_naming_both_versions():
    regions = {"version": 2, "regions": {}, "providers": {}, "routes": {}}
    assert router_config.version_problems(regions, 1) == []  # nothing in it needs version 2
    newer = {
        "version": 2,
        "regions": {
            "eu": {
                "label": "eu",
                "cloud_region": "",
                "jurisdiction": "de",
                "residency_bound": False,
                "allow_cross_border_failover": True,
                "failover_order": ["partner", "counterpart"],
            }
        },
        "providers": {},
        "routes": {},
    }
    assert router_config.required_version(newer) == 2
    needs = router_config.version_problems(newer, 1)
    assert any("cloud_region" in n for n in needs) and any("partner" in n for n in needs)


def test_the_router_stack_refuses_to_publish_a_newer_config_and_accepts_it_once_the_router_does(default_fleet, synth):
    # A region served by its counterpart alone, with no Alibaba region: what version 2 added.
    alone = settled_ok(
        synth("ap-southeast", overrides={"servingPlatforms": [], "jurisdiction": "sg"}, remove=("alicloud:region",))
    )
    read = [
        read_outputs(alone) if stack == "ap-southeast" else found
        for stack, found in zip(REGION_STACKS, default_fleet, strict=True)
    ]
    with pytest.raises(RouterConfigError) as refused:
        merged_config(list(REGION_STACKS), read, TARGETS, IN_CLUSTER, accepted_version=1)
    message = str(refused.value)
    assert "needs schema version 2, newer than version 1" in message
    assert "routerAcceptsSchemaVersion: 1" in message and "cloud_region" in message
    config = merged_config(list(REGION_STACKS), read, TARGETS, IN_CLUSTER, accepted_version=2)
    assert config["version"] == 2
    assert router_config.schema_problems(json.loads(router_config.to_json(config))) == []


def test_a_config_claiming_an_unknown_version_is_not_a_router_config():
    assert router_config.schema_problems({"version": 99, "regions": {}, "providers": {}, "routes": {}}) == [
        "version 99 is not a router config schema version (1, 2)"
    ]


def test_the_router_stack_key_must_name_a_published_version(synth):
    result = synth("router", overrides={"routerAcceptsSchemaVersion": 7})
    assert not result.ok and "routerAcceptsSchemaVersion: '7' is not a router config schema version (1, 2)" in (
        result.error
    )
