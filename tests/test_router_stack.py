"""The router stack under mocks, fed the three region stacks' outputs through StackReference."""

from __future__ import annotations

import json

import jsonschema
import pytest

from fleet import router_config, router_reach
from fleet.config_schema import load_project_schema
from fleet.settings import ConfigError, parse_router_settings
from offline.engine import Secret, Synthesis, as_stack_outputs, is_secret, synthesize
from offline.plan import plan_stacks
from offline.stack_files import load_stack_config
from providers.railway_variables import ROUTER_CONFIG_VARIABLE
from tests.conftest import (
    PROJECT,
    REGION_STACKS,
    ROUTER_LABELS,
    served_models,
    settled_ok,
    shared_synthesis,
    with_overrides,
)

SCHEMA = json.loads(router_config.SCHEMA_PATH.read_text(encoding="utf-8"))
# Each published contract version: a config validates against the version it says it is.
SCHEMAS = {v: json.loads(path.read_text(encoding="utf-8")) for v, path in router_config.SCHEMA_PATHS.items()}
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
K8S_SECRET = "kubernetes:core/v1:Secret"
RAILWAY = "pulumi-python:dynamic/railway:ServiceVariables"


def region(stack: str, overrides: dict | None = None) -> Synthesis:
    return settled_ok(shared_synthesis(stack, overrides))


# The router published into Kubernetes runs in cn-beijing's VPC: the only place its VPC-only endpoints are reachable.
IN_BEIJING_VPC = {"routerKubernetesRegionStack": "organization/beacon-fleet/cn-beijing"}


def router(regions: dict[str, Synthesis], overrides: dict | None = None) -> Synthesis:
    config = with_overrides(load_stack_config("router"), {**IN_BEIJING_VPC, **(overrides or {})})
    stacks = {name: as_stack_outputs(s) for name, s in regions.items()}
    return synthesize("router", config.values, config.secret_keys, stacks=stacks)


@pytest.fixture(scope="module")
def regions() -> dict[str, Synthesis]:
    return {stack: region(stack) for stack in REGION_STACKS}


@pytest.fixture(scope="module")
def routed(regions) -> Synthesis:
    return settled_ok(router(regions))


def test_the_router_stack_reads_each_region_stack_named_in_its_config(routed):
    references = routed.of_type("pulumi:pulumi:StackReference")
    assert sorted(r.inputs["name"] for r in references) == sorted(
        f"organization/beacon-fleet/{stack}" for stack in REGION_STACKS
    )
    assert all(r.read for r in references)


def test_the_published_config_validates_and_routes_every_region_and_model_in_each_stacks_order(routed):
    config = routed.outputs["routerConfig"]
    jsonschema.Draft202012Validator(SCHEMAS[config["version"]]).validate(config)
    for stack, label in ROUTER_LABELS.items():
        assert set(config["routes"][label]) == served_models(stack)
    for label in ("asia-east", "asia-southeast", "us-east"):
        assert config["regions"][label]["failover_order"] == ["eas", "ack", "fc", "counterpart"]
    assert config["regions"]["asia-east"]["served_from"] == {
        "target": "kubernetes",
        "network": "vpc",
        "vpc_of": "asia-east",
    }
    # Railway serves asia-southeast and cannot reach its VPC-only ACK endpoint: that one goes last.
    types = [config["providers"][p]["type"] for p in config["routes"]["asia-southeast"]["qwen2.5-1.5b"]]
    assert types == ["alibaba_eas", "runpod", "ack"]
    assert {p["type"] for p in config["providers"].values()} == {"alibaba_eas", "ack", "runpod", "modal"}


def test_a_regions_own_failover_order_reaches_the_router(regions):
    swapped = {**regions, "us-east": region("us-east", {"failoverOrder": ["counterpart", "eas"]})}
    config = settled_ok(router(swapped)).outputs["routerConfig"]
    route = config["routes"]["us-east"]["llama3.2-1b"]
    assert [config["providers"][p]["type"] for p in route] == ["modal", "alibaba_eas"]


def test_the_config_output_is_plain_and_holds_no_secret_value_while_the_secret_map_is_secret(regions, routed):
    assert not is_secret(routed.outputs["routerConfig"])
    secrets = routed.outputs["routerSecrets"]
    assert is_secret(secrets)
    values = secrets.value
    config = routed.outputs["routerConfig"]
    assert sorted(values) == router_config.secret_env_names(config)
    text = json.dumps(config)
    assert values and not [name for name, value in values.items() if value in text]


def test_the_configmap_holds_exactly_the_in_cluster_routers_part_and_the_secret_only_its_credentials(routed):
    in_cluster = router_reach.for_target(routed.outputs["routerConfig"], "kubernetes")
    config_map = routed.one(CONFIG_MAP)
    assert config_map.inputs["data"]["router-config.json"] == router_config.to_json(in_cluster)
    assert set(in_cluster["routes"]) == {"asia-east"}
    assert config_map.inputs["metadata"]["namespace"] == "beacon-router"
    secret = routed.one(K8S_SECRET)
    assert isinstance(secret.inputs["stringData"], Secret)
    assert sorted(secret.inputs["stringData"].value) == router_config.secret_env_names(in_cluster)
    provider = routed.one("pulumi:providers:kubernetes")
    assert isinstance(provider.inputs["kubeconfig"], Secret)
    # Destroying the router stack leaves the namespace (and whatever runs the router in it) in place.
    assert routed.one("kubernetes:core/v1:Namespace").retain_on_delete


def test_the_railway_variables_are_one_secret_input_with_railways_part_and_only_its_credentials(routed):
    on_railway = router_reach.for_target(routed.outputs["routerConfig"], "railway")
    railway = routed.one(RAILWAY)
    variables = railway.inputs["variables"]
    assert isinstance(variables, Secret)
    assert variables.value[ROUTER_CONFIG_VARIABLE] == router_config.to_json(on_railway)
    # Railway serves every region but the mainland one, whose router runs in cn-beijing's VPC.
    beyond_the_mainland = set(routed.outputs["routerConfig"]["routes"]) - {"asia-east"}
    assert set(on_railway["routes"]) == beyond_the_mainland
    # Railway never holds the mainland endpoints' tokens: it has no route to them.
    assert set(variables.value) - {ROUTER_CONFIG_VARIABLE} == set(router_config.secret_env_names(on_railway))
    assert not [name for name in variables.value if name.startswith("ASIA_EAST_")]
    assert set(routed.outputs["routerPublished"]["railway"]["regions"]) == beyond_the_mainland
    assert routed.outputs["routerPublished"]["kubernetes"]["regions"] == ["asia-east"]
    assert railway.inputs["token_type"] == "project"
    assert not [k for k in railway.inputs if "token" in k and k != "token_type"], "the token is never an input"


def test_beijing_never_fails_over_across_the_border(routed):
    closed = routed.outputs["routerConfig"]
    for chain in closed["routes"]["asia-east"].values():
        assert [closed["providers"][p]["type"] for p in chain] == ["alibaba_eas", "ack"]


def test_a_router_only_on_railway_refuses_the_mainland_region_and_says_where_to_publish_one(regions):
    result = router(regions, {"routerKubernetesRegionStack": ""})
    assert not result.ok
    assert (
        "stack organization/beacon-fleet/cn-beijing: region asia-east is residency-bound (cn-mainland), but its"
        " routes would be served by the router on railway, on the internet outside every VPC" in result.error
    )
    assert "routerKubernetesRegionStack: organization/beacon-fleet/cn-beijing" in result.error
    assert "pulumi up" not in result.error
    assert not result.of_type(RAILWAY) and not result.of_type(CONFIG_MAP)


def test_a_router_in_another_regions_vpc_does_not_serve_the_mainland(regions):
    result = router(regions, {"routerKubernetesRegionStack": "organization/beacon-fleet/us-east"})
    assert not result.ok and "region asia-east is residency-bound (cn-mainland)" in result.error


def test_a_licensed_mainland_stack_is_still_not_served_from_railway_abroad(regions):
    licensed = {**regions, "cn-beijing": region("cn-beijing", {"icpLicence": "京ICP备12345678号"})}
    result = router(licensed, {"routerKubernetesRegionStack": ""})
    assert not result.ok and "its prompts would leave the jurisdiction" in result.error


def test_a_licensed_mainland_stack_is_served_over_https_by_the_router_in_the_mainland(regions):
    licensed = {**regions, "cn-beijing": region("cn-beijing", {"icpLicence": "京ICP备12345678号"})}
    config = settled_ok(router(licensed)).outputs["routerConfig"]
    (eas,) = [
        config["providers"][p]
        for p in config["routes"]["asia-east"]["qwen2.5-1.5b"]
        if config["providers"][p]["type"] == "alibaba_eas"
    ]
    assert config["regions"]["asia-east"]["served_from"]["target"] == "kubernetes"
    assert eas["type"] == "alibaba_eas" and eas["endpoint"].startswith("https://")


def test_the_same_region_outputs_give_the_same_config_bytes(regions, routed):
    again = settled_ok(router(regions))
    assert router_config.to_json(again.outputs["routerConfig"]) == router_config.to_json(routed.outputs["routerConfig"])


def test_a_missing_region_stack_fails_the_stack_before_anything_is_published(regions):
    without_us = {k: v for k, v in regions.items() if k != "us-east"}
    result = router(without_us)
    assert not result.ok
    assert "organization/beacon-fleet/us-east" in result.error and "Traceback" not in result.error
    published = [r for r in result.resources if r.type in (CONFIG_MAP, K8S_SECRET, RAILWAY)]
    assert published == []


def test_a_credential_no_region_supplies_is_named_without_its_value(regions):
    broken = region("us-east")
    broken.outputs["routerSecrets"] = Secret({"US_EAST_MODAL_KEY": "kept-out-of-errors"})
    result = router({**regions, "us-east": broken})
    assert not result.ok and "US_EAST_MODAL_SECRET" in result.error
    assert "kept-out-of-errors" not in result.error
    assert not result.of_type(RAILWAY)


def test_the_offline_plan_synthesizes_the_router_from_the_region_plans(shared_plan_syntheses):
    planned = dict((c.stack, s) for c, s in plan_stacks([load_stack_config("router")]))
    assert list(planned) == ["router"], "regions are synthesized for the router but only asked stacks are returned"
    assert settled_ok(planned["router"]).outputs["routerConfig"]["regions"].keys() == set(ROUTER_LABELS.values())


def test_the_router_plan_masks_secrets_and_warns_about_placeholder_railway_ids(shared_plan_syntheses):
    from offline.report import plan_table

    config = load_stack_config("router")
    _, synthesis = plan_stacks([config])[0]
    table = plan_table(config, synthesis)
    assert "routerSecrets: [secret]" in table and "```mermaid" in table
    assert "asia-east       llama3.2-1b   alibaba_eas@cn-beijing -> ack@cn-beijing" in table
    assert any("all-zero placeholder" in w for w in synthesis.warnings)
    for value in synthesis.outputs["routerSecrets"].value.values():
        assert value not in table


ROUTER_RAW = {
    f"{PROJECT}:stackRole": "router",
    f"{PROJECT}:regionStacks": '["organization/beacon-fleet/cn-beijing"]',
    f"{PROJECT}:routerPublishTargets": '["kubernetes","railway"]',
    f"{PROJECT}:railwayProjectId": "8df3b1d6-2317-4400-b267-56c4a42eed06",
    f"{PROJECT}:railwayEnvironmentId": "9fb4baf0-809a-40ec-af32-751f50890802",
    f"{PROJECT}:railwayServiceId": "4bd252dc-c4ac-4c2e-a52f-051804292035",
    f"{PROJECT}:routerKubeconfig": "apiVersion: v1",
    f"{PROJECT}:railwayToken": "t",
}


def router_problems(**changes) -> list[str]:
    raw = dict(ROUTER_RAW)
    for key, value in changes.items():
        if value is None:
            raw.pop(f"{PROJECT}:{key}")
        else:
            raw[f"{PROJECT}:{key}"] = value
    try:
        parse_router_settings(load_project_schema(), "router", raw)
    except ConfigError as error:
        return error.problems
    return []


def test_a_valid_router_config_parses():
    assert router_problems() == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"regionStacks": "[]"}, "beacon-fleet:regionStacks: list the region stacks to read"),
        ({"regionStacks": '["cn-beijing"]'}, "beacon-fleet:regionStacks[0]: 'cn-beijing' must be <organization>/"),
        ({"routerPublishTargets": '["k8s"]'}, "beacon-fleet:routerPublishTargets[0]: 'k8s' is not one of"),
        ({"routerKubeconfig": None}, "beacon-fleet:routerKubeconfig: the kubernetes publish target needs it"),
        ({"railwayToken": None}, "beacon-fleet:railwayToken: the railway publish target needs it"),
        ({"railwayServiceId": "svc-1"}, "beacon-fleet:railwayServiceId: 'svc-1' is not a Railway id"),
        ({"railwayApiUrl": "http://backboard.railway.com/graphql/v2"}, "beacon-fleet:railwayApiUrl: "),
        ({"routerNamespace": "Beacon_Router"}, "beacon-fleet:routerNamespace: 'Beacon_Router' must be a DNS label"),
        ({"routerRegion": "asia-east"}, "beacon-fleet:routerRegion: describes a region and is ignored"),
    ],
)
def test_router_config_mistakes_name_the_key_and_the_fix(changes, expected):
    found = router_problems(**changes)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_railway_keys_are_not_required_when_railway_is_not_a_target():
    assert router_problems(routerPublishTargets='["kubernetes"]', railwayToken=None, railwayServiceId=None) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"routerKubernetesRegionStack": "organization/beacon-fleet/not-a-listed-stack"},
            "beacon-fleet:routerKubernetesRegionStack: 'organization/beacon-fleet/not-a-listed-stack' is not one of"
            " regionStacks",
        ),
        (
            {
                "routerKubernetesRegionStack": "organization/beacon-fleet/cn-beijing",
                "routerPublishTargets": '["railway"]',
            },
            "beacon-fleet:routerKubernetesRegionStack: says where the in-cluster router runs, but kubernetes is not",
        ),
    ],
)
def test_a_router_placement_that_names_no_published_cluster_is_refused(changes, expected):
    raw = {**ROUTER_RAW, **{f"{PROJECT}:{k}": v for k, v in changes.items()}}
    with pytest.raises(ConfigError) as refused:
        parse_router_settings(load_project_schema(), "router", raw)
    assert refused.value.problems[0].startswith(expected), refused.value.problems


def test_an_unknown_stack_role_is_one_clear_error(synth):
    result = synth("us-east", overrides={"stackRole": "gateway"})
    assert not result.ok and "beacon-fleet:stackRole: 'gateway' is not one of region, router" in result.error
    assert result.resources == []


GATHERING_PROGRAM = """
import pulumi
from stacks.router import _gathered

entry = {"region": {"label": "us-east"}, "providers": [{"id": "eas"}]}
read = pulumi.Output.from_input("routerProviders").apply(lambda _: entry)
pulumi.export("values", _gathered([read, pulumi.Output.from_input("us-east-1")]))
pulumi.export("withSecret", _gathered([read, pulumi.Output.secret("token")]))
pulumi.export("sameObjects", _gathered([read]).apply(lambda values: values[0] is entry))
"""


def test_the_router_gathers_outputs_in_order_secret_when_one_is_without_rebuilding_their_values(tmp_path):
    # Output.all would rebuild every nested dict and list of a read value as Outputs of their own: for the
    # region stacks' router entries that cost more than the SDK's own reading of them (bench/plan_cost.py).
    (tmp_path / "__main__.py").write_text(GATHERING_PROGRAM)
    result = synthesize("gathering", {}, program_dir=str(tmp_path))
    assert result.ok, result.error
    entry = {"region": {"label": "us-east"}, "providers": [{"id": "eas"}]}

    assert result.outputs["values"] == [entry, "us-east-1"]
    assert result.outputs["withSecret"] == Secret([entry, "token"])
    assert result.outputs["sameObjects"] is True
