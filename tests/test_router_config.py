"""The router config built from the three region stacks' outputs: valid, complete, residency-safe, secret-free."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from fleet import router_config, router_reach, router_trust
from offline.engine import Secret, synthesize
from offline.stack_files import load_stack_config
from tests.conftest import REGION_STACKS, ROUTER_LABELS, served_models, settled_ok, shared_synthesis, with_overrides

SCHEMA = json.loads(router_config.SCHEMA_PATH.read_text(encoding="utf-8"))
# Each published contract version: a config validates against the version it says it is.
SCHEMAS = {v: json.loads(path.read_text(encoding="utf-8")) for v, path in router_config.SCHEMA_PATHS.items()}
# What Beijing serves, from its stack file (its routes are checked model by model).
MODELS = served_models("cn-beijing")


def region_outputs(stack: str, overrides: dict | None = None) -> dict:
    return settled_ok(shared_synthesis(stack, overrides)).outputs


@pytest.fixture(scope="module")
def fleet_outputs() -> dict[str, dict]:
    return {stack: region_outputs(stack) for stack in REGION_STACKS}


# Where the shipped routers run once routerKubernetesRegionStack names cn-beijing: asia-east from inside its VPC,
# the other regions from Railway.
SERVED = router_reach.served_from(sorted(ROUTER_LABELS.values()), ("kubernetes", "railway"), "asia-east")


def merged(fleet_outputs: dict[str, dict], served: dict | None = None) -> dict:
    return router_config.merge([outputs["routerProviders"] for outputs in fleet_outputs.values()], served or SERVED)


def test_the_merged_config_validates_against_the_versioned_schema(fleet_outputs):
    config = merged(fleet_outputs)
    jsonschema.Draft202012Validator(SCHEMAS[config["version"]]).validate(config)
    assert config["version"] == router_config.required_version(config)  # the oldest contract that holds it
    assert set(config["regions"]) == set(ROUTER_LABELS.values())


def test_every_region_and_model_has_a_route_in_the_settings_failover_order(fleet_outputs):
    config = merged(fleet_outputs)
    for stack, label in ROUTER_LABELS.items():
        assert set(config["routes"][label]) == served_models(stack)
    # us-east is served from Railway: its VPC-only ACK endpoint goes last, after what Railway can reach.
    route = config["routes"]["us-east"]["mistral-7b"]
    assert [config["providers"][pid]["type"] for pid in route] == ["alibaba_eas", "modal", "ack"]
    assert [config["providers"][pid]["priority"] for pid in route] == [1, 2, 3]
    # asia-east is served from inside its own VPC: its failover order stands.
    route = config["routes"]["asia-east"]["mistral-7b"]
    assert [config["providers"][pid]["type"] for pid in route] == ["alibaba_eas", "ack"]


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


def test_beijing_cannot_be_configured_to_fail_over_across_the_border():
    """Residency-bound and cross-border failover together are a config error, so no route can carry it."""
    config = with_overrides(load_stack_config("cn-beijing"), {"allowCrossBorderFailover": True})
    result = synthesize("cn-beijing", config.values, config.secret_keys)
    assert not result.ok and "beacon-fleet:allowCrossBorderFailover" in result.error


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
    assert 'us_east_mistral_7b -->|1| us_east_eas_mistral_7b["alibaba_eas us-east-1"]' in diagram
    assert 'us_east_mistral_7b -.->|2| us_east_modal_mistral_7b["modal us-east"]' in diagram
    assert diagram.count("-->|1|") == sum(len(served_models(stack)) for stack in REGION_STACKS)


def test_a_bad_failover_order_is_one_clean_error(synth):
    result = synth("us-east", overrides={"failoverOrder": ["ack", "gpu", "ack"]})
    assert not result.ok and result.resources == []
    assert "beacon-fleet:failoverOrder[1]: 'gpu' is not one of ack, eas, fc, partner, counterpart" in result.error
    assert "beacon-fleet:failoverOrder[2]: 'ack' is listed twice" in result.error


# --- reachability: the router can reach what it routes to -------------------------------------------------

ON_RAILWAY = router_reach.served_from(sorted(ROUTER_LABELS.values()), ("railway",), None)


def test_a_vpc_only_endpoint_is_never_first_for_the_router_on_the_internet(fleet_outputs):
    config = merged(fleet_outputs)
    for label in ("asia-southeast", "us-east"):
        assert config["regions"][label]["served_from"] == {"target": "railway", "network": "internet"}
        for chain in config["routes"][label].values():
            assert config["providers"][chain[0]]["network"] == "internet"
            networks = [config["providers"][pid]["network"] for pid in chain]
            assert networks == sorted(networks, key=lambda n: n == "vpc"), "a VPC endpoint before a reachable one"


def test_beijing_routed_from_railway_is_an_error_naming_the_route_and_what_would_make_it_reachable(fleet_outputs):
    with pytest.raises(ValueError) as refused:
        merged(fleet_outputs, ON_RAILWAY)
    message = str(refused.value)
    for model in MODELS:
        assert f"route asia-east/{model} has no provider its router can reach" in message
    assert "railway, on the internet outside every VPC" in message
    assert "ICP licence" in message and "servingAllowedCidrs" in message and "routerKubernetesRegionStack" in message
    assert "asia-southeast/" not in message and "us-east/" not in message


def test_a_residency_bound_region_whose_output_claims_cross_border_failover_is_refused_as_tampered(fleet_outputs):
    """Its settings refuse the combination, so an output carrying it is stale or edited: the router will not use it."""
    beijing = copy.deepcopy(fleet_outputs["cn-beijing"])
    beijing["residency"]["allowCrossBorderFailover"] = True
    beijing["routerProviders"]["region"]["allow_cross_border_failover"] = True
    problems = router_trust.claim_problems("cn-beijing", beijing)
    assert problems == [
        "stack cn-beijing: routerProviders.region.allow_cross_border_failover: is on for a residency-bound region,"
        " which its own settings refuse; the output is stale or was edited"
    ]


def test_a_hand_made_route_that_tries_an_unreachable_provider_first_is_refused(fleet_outputs):
    config = merged(fleet_outputs)
    config["routes"]["us-east"]["llama3.2-1b"].reverse()
    assert router_config.problems(config) == [
        "route us-east/llama3.2-1b tries 'us-east-ack-llama3-2-1b' first, which its router (railway, on the internet"
        " outside every VPC) cannot reach"
    ]


def test_a_router_in_one_regions_vpc_cannot_reach_another_regions_vpc():
    router = {"target": "kubernetes", "network": "vpc", "vpc_of": "asia-east"}
    assert router_reach.can_reach(router, "asia-east", {"network": "vpc"})
    assert not router_reach.can_reach(router, "us-east", {"network": "vpc"})
    assert router_reach.can_reach(router, "us-east", {"network": "internet"})


def test_each_published_router_gets_only_the_regions_it_serves_and_their_providers(fleet_outputs):
    config = merged(fleet_outputs)
    in_cluster = router_reach.for_target(config, "kubernetes")
    on_railway = router_reach.for_target(config, "railway")
    assert set(in_cluster["regions"]) == set(in_cluster["routes"]) == {"asia-east"}
    assert {p["region"] for p in in_cluster["providers"].values()} == {"asia-east"}
    assert set(on_railway["routes"]) == set(config["routes"]) - {"asia-east"}
    assert not router_config.problems(in_cluster) and not router_config.problems(on_railway)
    jsonschema.Draft202012Validator(SCHEMAS[in_cluster["version"]]).validate(in_cluster)


# --- HTTPS: no credential crosses the internet in clear text ---------------------------------------------


def test_public_eas_endpoints_are_routed_over_https(fleet_outputs):
    config = merged(fleet_outputs)
    eas = config["providers"]["us-east-eas-llama3-2-1b"]
    assert eas["network"] == "internet"
    assert all(eas[key].startswith("https://") for key in ("endpoint", "base_url", "health_check"))


@pytest.mark.parametrize(
    ("pid", "key"),
    [
        ("us-east-eas-llama3-2-1b", "endpoint"),
        ("us-east-modal-mistral-7b", "base_url"),
        ("asia-southeast-runpod-qwen2-5-1-5b", "health_check"),
    ],
)
def test_plain_http_to_an_internet_provider_is_refused(fleet_outputs, pid, key):
    config = merged(fleet_outputs)
    provider = config["providers"][pid]
    provider[key] = provider[key].replace("https://", "http://")
    found = router_config.problems(config)
    assert len(found) == 1 and found[0].startswith(f"provider '{pid}': {key} http://"), found
    assert "plain http over the internet" in found[0]
    schema = router_config.schema_problems(json.loads(router_config.to_json(config)))
    assert any(p.startswith(f"'{provider[key]}' does not match") for p in schema), schema


def test_an_ack_endpoint_exposed_to_the_internet_over_plain_http_is_refused(fleet_outputs):
    config = merged(fleet_outputs)
    ack = config["providers"]["us-east-ack-mistral-7b"]
    assert ack["endpoint"].startswith("http://") and ack["network"] == "vpc"  # inside the VPC: allowed
    ack["network"] = "internet"
    assert any(
        p.startswith("provider 'us-east-ack-mistral-7b': endpoint http://") for p in router_config.problems(config)
    )


def test_a_counterpart_whose_cross_border_flag_was_cleared_is_still_kept_out_of_a_bound_regions_routes(fleet_outputs):
    entries = [copy.deepcopy(outputs["routerProviders"]) for outputs in fleet_outputs.values()]
    for entry in entries:
        for provider in entry["providers"].values():
            provider["cross_border"] = False  # its jurisdiction (jp) still says abroad
    config = router_config.merge(entries, SERVED)
    assert not [p for chain in config["routes"]["asia-east"].values() for p in chain if "runpod" in p]


def test_two_entries_with_the_same_region_label_are_refused(fleet_outputs):
    entry = fleet_outputs["us-east"]["routerProviders"]
    with pytest.raises(ValueError, match="region label 'us-east' is declared by two region entries"):
        router_config.merge([entry, entry], SERVED)


def test_plain_http_is_allowed_only_on_loopback_where_it_crosses_no_network(fleet_outputs):
    config = merged(fleet_outputs)
    provider = config["providers"]["us-east-modal-mistral-7b"]
    for key in ("endpoint", "base_url", "health_check"):
        provider[key] = "http://127.0.0.1:8000/v1"
    provider["health"]["url"] = "http://localhost:8000/health"
    assert router_config.problems(config) == []
    assert router_config.schema_problems(json.loads(router_config.to_json(config))) == []
    provider["endpoint"] = "http://127.0.0.1.example.com/v1"
    assert router_config.problems(config)


# --- which weights answered ------------------------------------------------------------------------------


def test_every_provider_names_its_models_pinned_revision_and_the_same_manifest_digest_everywhere(fleet_outputs):
    config = merged(fleet_outputs)
    by_model: dict[str, set[tuple[str, str]]] = {}
    for provider in config["providers"].values():
        (model,) = provider["models"]
        by_model.setdefault(model, set()).add((provider["weights"]["revision"], provider["weights"]["digest"]))
    assert set(by_model) == set().union(*(served_models(stack) for stack in REGION_STACKS))
    assert all(len(pins) == 1 for pins in by_model.values()), by_model


def test_a_route_whose_providers_serve_different_weights_is_refused_naming_the_model_and_digests(fleet_outputs):
    config = merged(fleet_outputs)
    odd = config["providers"]["us-east-modal-llama3-2-1b"]
    odd["weights"] = {**odd["weights"], "digest": "sha256:" + "f" * 64}
    (problem,) = [p for p in router_config.problems(config) if "different weights" in p]
    assert problem.startswith("model llama3.2-1b is served with different weights (")
    assert "sha256:" + "f" * 64 + ": us-east-modal-llama3-2-1b" in problem


def test_a_provider_that_does_not_say_which_weights_it_serves_is_refused(fleet_outputs):
    config = merged(fleet_outputs)
    del config["providers"]["asia-southeast-runpod-qwen2-5-1-5b"]["weights"]
    assert "provider 'asia-southeast-runpod-qwen2-5-1-5b' does not say which weights of qwen2.5-1.5b it serves" in (
        "\n".join(router_config.problems(config))
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:1@evil.example:8080/v1",  # looks like loopback; the host is evil.example
        "http://127.0.0.1:80@evil.example/v1",
        "http://localhost:@evil.example/v1",
        "https://user:password@api.example/v1",  # user-info over https: a credential in the URL
        "https://token@api.example/v1",
    ],
)
def test_a_url_with_user_info_is_refused_by_the_schema_check_and_the_router_stack(fleet_outputs, url):
    config = merged(fleet_outputs)
    config["providers"]["us-east-modal-mistral-7b"]["base_url"] = url
    found = router_config.problems(config)
    assert any(p.startswith("provider 'us-east-modal-mistral-7b': base_url") and "user-info" in p for p in found)
    assert router_config.schema_problems(json.loads(router_config.to_json(config)))


def test_a_url_with_user_info_is_refused_even_inside_the_vpc(fleet_outputs):
    config = merged(fleet_outputs)
    ack = config["providers"]["us-east-ack-mistral-7b"]
    ack["endpoint"] = ack["endpoint"].replace("http://", "http://admin:pw@")
    assert any("user-info" in p for p in router_config.problems(config))
    assert any("user-info" in p for p in router_config.schema_problems(json.loads(router_config.to_json(config))))
