"""The router config built from the three region stacks' outputs: valid, complete, residency-safe, secret-free."""

from __future__ import annotations

import json

import jsonschema
import pytest

from fleet import router_config
from offline.engine import Secret, synthesize
from offline.stack_files import load_stack_config
from tests.conftest import REGION_STACKS, settled_ok, with_overrides

SCHEMA = json.loads(router_config.SCHEMA_PATH.read_text(encoding="utf-8"))
MODELS = {"llama3.2-1b", "qwen2.5-1.5b", "mistral-7b"}


def region_outputs(stack: str, overrides: dict | None = None) -> dict:
    config = with_overrides(load_stack_config(stack), overrides)
    return settled_ok(synthesize(stack, config.values, config.secret_keys)).outputs


@pytest.fixture(scope="module")
def fleet_outputs() -> dict[str, dict]:
    return {stack: region_outputs(stack) for stack in REGION_STACKS}


def merged(fleet_outputs: dict[str, dict]) -> dict:
    return router_config.merge([outputs["routerProviders"] for outputs in fleet_outputs.values()])


def test_the_merged_config_validates_against_the_versioned_schema(fleet_outputs):
    config = merged(fleet_outputs)
    jsonschema.Draft202012Validator(SCHEMA).validate(config)
    assert config["version"] == 1 and set(config["regions"]) == {"asia-east", "asia-southeast", "us-east"}


def test_every_region_and_model_has_a_route_in_the_settings_failover_order(fleet_outputs):
    config = merged(fleet_outputs)
    for label in ("asia-southeast", "us-east"):
        assert set(config["routes"][label]) == MODELS
    route = config["routes"]["us-east"]["mistral-7b"]
    assert [config["providers"][pid]["type"] for pid in route] == ["ack", "alibaba_eas", "modal"]
    assert [config["providers"][pid]["priority"] for pid in route] == [1, 2, 3]


def test_the_config_holds_eas_ack_runpod_and_modal_endpoints_and_keeps_the_routers_field_names(fleet_outputs):
    config = merged(fleet_outputs)
    assert {p["type"] for p in config["providers"].values()} == {"alibaba_eas", "ack", "runpod", "modal"}
    eas = config["providers"]["asia-east-eas-llama3-2-1b"]
    assert {"name", "region", "endpoint", "type", "models", "auth", "health_check", "timeout"} <= set(eas)
    assert eas["region"] == "asia-east" and eas["models"] == ["llama3.2-1b"]
    # Without an ICP licence the mainland EAS endpoint is VPC-only, and the config says so.
    assert eas["network"] == "vpc" and ".vpc.cn-beijing.pai-eas.aliyuncs.com" in eas["endpoint"]
    modal = config["providers"]["us-east-modal-mistral-7b"]
    assert modal["auth"] == {
        "type": "modal_proxy",
        "key_env": "US_EAST_MODAL_KEY",
        "secret_env": "US_EAST_MODAL_SECRET",
    }
    assert modal["health"] == {"mode": "passive", "url": modal["health_check"], "wakes_backend": True}


def test_no_secret_value_is_in_the_config_and_the_secret_map_is_a_secret_output(fleet_outputs):
    config_text = router_config.to_json(merged(fleet_outputs))
    names = set(router_config.secret_env_names(merged(fleet_outputs)))
    for outputs in fleet_outputs.values():
        secrets = outputs["routerSecrets"]
        assert isinstance(secrets, Secret)
        for name, value in secrets.value.items():
            assert name in names, f"{name} is a secret nobody in the config reads"
            assert str(value) not in config_text
    expected = {name for outputs in fleet_outputs.values() for name in outputs["routerSecrets"].value}
    assert names == expected


def test_a_residency_bound_beijing_never_fails_over_across_the_border_by_default(fleet_outputs):
    config = merged(fleet_outputs)
    for chain in config["routes"]["asia-east"].values():
        assert [config["providers"][pid]["cross_border"] for pid in chain] == [False, False]
    # The counterpart is still in the config, for comparison runs; it is only kept out of the routes.
    assert config["providers"]["asia-east-runpod-qwen2-5-1-5b"]["cross_border"] is True


def test_beijing_fails_over_to_its_counterpart_last_when_its_stack_allows_it(fleet_outputs):
    allowed = {**fleet_outputs, "cn-beijing": region_outputs("cn-beijing", {"allowCrossBorderFailover": True})}
    config = merged(allowed)
    chain = config["routes"]["asia-east"]["qwen2.5-1.5b"]
    assert chain == ["asia-east-ack-qwen2-5-1-5b", "asia-east-eas-qwen2-5-1-5b", "asia-east-runpod-qwen2-5-1-5b"]


def test_a_hand_made_cross_border_hop_or_broken_route_is_refused_with_the_fix(fleet_outputs):
    config = merged(fleet_outputs)
    config["routes"]["asia-east"]["qwen2.5-1.5b"].append("asia-east-runpod-qwen2-5-1-5b")
    config["routes"]["us-east"]["llama3.2-1b"].append("us-east-runpod-llama3-2-1b")
    found = router_config.problems(config)
    assert any(
        "cross-border provider 'asia-east-runpod-qwen2-5-1-5b'" in p and "allowCrossBorderFailover" in p for p in found
    )
    assert any("unknown provider 'us-east-runpod-llama3-2-1b'" in p for p in found)


def test_a_timeout_beyond_the_providers_limit_is_refused(fleet_outputs):
    config = merged(fleet_outputs)
    config["providers"]["us-east-modal-llama3-2-1b"]["timeout"] = 150
    assert router_config.problems(config) == [
        "provider 'us-east-modal-llama3-2-1b': timeout 150 s is outside 1..149 s for modal"
    ]


def test_the_same_outputs_give_the_same_bytes(fleet_outputs):
    again = {stack: region_outputs(stack) for stack in REGION_STACKS}
    assert router_config.to_json(merged(fleet_outputs)) == router_config.to_json(merged(again))


def test_the_mermaid_diagram_draws_every_route_in_order(fleet_outputs):
    diagram = router_config.mermaid(merged(fleet_outputs))
    assert diagram.startswith("flowchart LR\n")
    assert 'us_east_mistral_7b -->|1| us_east_ack_mistral_7b["ack us-east-1"]' in diagram
    assert 'us_east_mistral_7b -.->|3| us_east_modal_mistral_7b["modal us-east"]' in diagram
    assert diagram.count("-->|1|") == 9


def test_a_bad_failover_order_is_one_clean_error(synth):
    result = synth("us-east", overrides={"failoverOrder": ["ack", "gpu", "ack"]})
    assert not result.ok and result.resources == []
    assert "beacon-fleet:failoverOrder[1]: 'gpu' is not one of ack, eas, fc, counterpart" in result.error
    assert "beacon-fleet:failoverOrder[2]: 'ack' is listed twice" in result.error
