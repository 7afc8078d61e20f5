"""Every serving kind (fleet/kinds.py) has an answer in every consumer: settings, the region's router entry, the
router's trust and merge, the schema, cost, the policy pack and the probe. A kind added to the registry and left
out of one of them fails here, by the consumer's name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet import (
    config_schema,
    cost,
    cost_budget,
    counterparts,
    kinds,
    platform_cost,
    router_config,
    router_entry,
    router_trust,
)
from fleet.settings import limits
from fleet.settings.models import FAILOVER_STEPS, PLATFORMS
from policy import beacon_policies
from probe import run as probe

SCHEMA = json.loads(router_config.SCHEMA_PATH.read_text(encoding="utf-8"))
PROVIDER = SCHEMA["properties"]["providers"]["additionalProperties"]["properties"]
REGION = SCHEMA["properties"]["regions"]["additionalProperties"]["properties"]
WEIGHTS = {"m": {"revision": "a" * 40, "digest": "sha256:" + "b" * 64}}
IDS = [k.platform for k in kinds.KINDS]

# One endpoint of each kind, as a region stack in Singapore exports it: the consumer tests below build its router
# entry, check it as the router would, merge it and validate it. A new kind needs its own line here.
SAMPLE_OUTPUTS: dict[str, dict[str, Any]] = {
    "eas": {
        "easEndpoints": {
            "m": {
                "publicEndpoint": True,
                "publicUrl": "http://1.ap-southeast-1.pai-eas.aliyuncs.com/api/predict/m",
                "vpcUrl": "http://1.vpc.ap-southeast-1.pai-eas.aliyuncs.com/api/predict/m",
            }
        }
    },
    "ack": {"ackEndpoints": {"m": {"url": "https://lb-m.slb.ap-southeast-1.invalid/v1", "exposure": "internet"}}},
    "fc": {"fcEndpoints": {"m": {"url": "https://m.ap-southeast-1.fcapp.run"}}},
    "partner": {
        "partnerEndpoint": {
            "name": "Example",
            "baseUrl": "https://llm.example.sg/v1",
            "jurisdiction": "sg",
            "crossBorder": False,
            "requestTimeoutSeconds": 120,
            "models": ["m"],
        }
    },
    "runpod": {
        "counterpart": {
            "provider": "runpod",
            "locations": ["AP-JP-1"],
            "jurisdictions": ["jp"],
            "crossBorder": True,
            "healthWakesBackend": False,
            "requestTimeoutSeconds": 120,
            "models": {
                "m": {
                    "baseUrl": "https://api.runpod.ai/v2/x/openai/v1",
                    "healthUrl": "https://api.runpod.ai/v2/x/health",
                }
            },
        }
    },
    "modal": {
        "counterpart": {
            "provider": "modal",
            "locations": ["ap-southeast"],
            "jurisdictions": ["sg"],
            "crossBorder": False,
            "healthWakesBackend": True,
            "requestTimeoutSeconds": 120,
            "models": {"m": {"baseUrl": "https://w--m.modal.run/v1", "healthUrl": "https://w--m.modal.run/health"}},
        }
    },
}


def outputs_of(kind: kinds.Kind) -> dict[str, Any]:
    assert kind.platform in SAMPLE_OUTPUTS, f"no sample endpoint of kind {kind.platform} in tests/test_kinds.py"
    return {
        "region": "ap-southeast-1",
        "routerRegion": "asia-southeast",
        "residency": {"jurisdiction": "sg", "residencyBound": False, "allowCrossBorderFailover": True},
        "weights": WEIGHTS,
        **SAMPLE_OUTPUTS[kind.platform],
    }


def entry_of(kind: kinds.Kind) -> dict[str, Any]:
    return router_entry.region_entry(outputs_of(kind), FAILOVER_STEPS)


def test_the_registry_names_each_kind_once():
    for field in ("platform", "router_type", "output_key"):
        values = [getattr(k, field) for k in kinds.KINDS if getattr(k, field)]
        assert len(values) == len(set(values)), field
    assert kinds.FAILOVER_STEPS[-1] == "counterpart"


@pytest.mark.parametrize("kind", kinds.KINDS, ids=IDS)
def test_settings_know_each_kind(kind):
    assert kind.failover_step in FAILOVER_STEPS
    assert (kind.platform in PLATFORMS) is kind.on_alibaba
    assert (kind.platform in counterparts.PROVIDERS) is kind.counterpart
    assert all(key in config_schema.SECRET_KEYS for key in kind.secret_keys)
    if kind.counterpart:
        assert counterparts.ROUTER_SECRET_KEYS[kind.platform] == kind.secret_keys
        assert kind.platform in counterparts.LOCATIONS and kind.platform in counterparts.GPUS
    assert limits.MAX_ITEMS["failoverOrder"][0] == len(FAILOVER_STEPS)


@pytest.mark.parametrize("kind", kinds.KINDS, ids=IDS)
def test_the_router_entry_the_trust_and_the_merge_route_each_kind(kind):
    outputs = outputs_of(kind)
    entry = entry_of(kind)
    assert {p["type"] for p in entry["providers"].values()} == {kind.router_type}
    assert router_trust.claim_problems("s", {**outputs, "routerProviders": entry}) == []
    config = router_config.merge([entry])
    assert router_config.schema_problems(json.loads(router_config.to_json(config))) == []
    assert [config["providers"][p]["type"] for p in config["routes"]["asia-southeast"]["m"]] == [kind.router_type]


@pytest.mark.parametrize("kind", kinds.KINDS, ids=IDS)
def test_the_schema_enumerates_each_kind_and_its_auth(kind):
    assert kind.router_type in PROVIDER["type"]["enum"]
    assert kind.failover_step in REGION["failover_order"]["items"]["enum"]
    assert kind.auth_type in PROVIDER["auth"]["properties"]["type"]["enum"]
    assert kind.timeout_limit <= PROVIDER["timeout"]["maximum"]
    assert router_config.TIMEOUT_LIMITS[kind.router_type] == kind.timeout_limit


def test_the_schema_enumerates_nothing_the_registry_does_not_declare():
    assert PROVIDER["type"]["enum"] == list(kinds.ROUTER_TYPES)
    assert REGION["failover_order"]["items"]["enum"] == list(kinds.FAILOVER_STEPS)
    assert sorted(PROVIDER["auth"]["properties"]["type"]["enum"]) == sorted(kinds.AUTH_TYPES)


@pytest.mark.parametrize("kind", kinds.KINDS, ids=IDS)
def test_cost_groups_and_orders_each_kind(kind):
    assert platform_cost.COLD_START[kind.platform] == kind.cold_start
    assert (kind.platform in platform_cost.ALIBABA_PLATFORMS) is kind.on_alibaba
    platforms = {kind.platform: {}}
    assert list(platform_cost._steps([kind.failover_step], platforms)) == [kind.platform]
    assert (kind.platform in cost.PRICED_COUNTERPARTS) is kind.counterpart
    # A dedicated kind runs on nodes or instances the region's own account pays for by the hour.
    assert (kind.platform in cost_budget.DEDICATED) is kind.dedicated
    assert not kind.dedicated or (kind.on_alibaba and kind.provisioned)


@pytest.mark.parametrize("kind", kinds.KINDS, ids=IDS)
def test_the_policy_pack_checks_each_alibaba_kinds_public_endpoints(kind):
    assert bool(kind.public_endpoint_types) is kind.on_alibaba
    assert set(kind.public_endpoint_types) <= beacon_policies.PUBLIC_ENDPOINT_TYPES


@pytest.mark.parametrize("kind", kinds.KINDS, ids=IDS)
def test_the_probe_reads_only_each_kinds_own_credentials(kind):
    for provider in entry_of(kind)["providers"].values():
        assert probe.auth_problem(provider) == ""
        assert probe.auth_problem({**provider, "auth": {"type": "bearer", "env": "HOME"}}) != ""
