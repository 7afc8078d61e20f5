"""Regions of every shape merged into the router stack: Function Compute, counterpart-only with and without an
Alibaba region, a partner's endpoint, and regions whose residency comes from the jurisdiction they declare."""

from __future__ import annotations

import copy

import pytest

from fleet import router_config, router_trust
from fleet.config_schema import load_project_schema
from offline.engine import Synthesis, as_stack_outputs, synthesize
from offline.stack_files import cross_stack_problems, load_stack_config
from tests.conftest import PROJECT, REGION_STACKS, settled_ok, with_overrides

ORG = f"organization/{PROJECT}"
LICENCE = "京ICP备12345678号"
# Function Compute in cn-beijing, with the models whose cold start fits the router's FC timeout (fleet/fc.py).
FC_BEIJING = {"servingPlatforms": ["fc"], "icpLicence": LICENCE, "models": ["llama3.2-1b", "qwen2.5-1.5b"]}
EU_RUNPOD = {
    "beacon-fleet:routerRegion": "eu-central",
    "beacon-fleet:jurisdiction": "ro",
    "beacon-fleet:servingPlatforms": [],
    "beacon-fleet:counterpartProvider": "runpod",
    "beacon-fleet:counterpartLocations": ["EU-RO-1"],
    "beacon-fleet:counterpartGpus": ["AMPERE_24"],
}
US_MODAL = {
    "beacon-fleet:routerRegion": "us-west",
    "beacon-fleet:jurisdiction": "us",
    "beacon-fleet:servingPlatforms": [],
    "beacon-fleet:counterpartProvider": "modal",
    "beacon-fleet:counterpartLocations": ["us-west"],
    "beacon-fleet:counterpartGpus": ["L4"],
}
CN_PARTNER = {
    "beacon-fleet:routerRegion": "asia-east-partner",
    "beacon-fleet:jurisdiction": "cn-mainland",
    "beacon-fleet:residencyBound": True,
    "beacon-fleet:servingPlatforms": [],
    "beacon-fleet:partnerBaseUrl": "https://llm.partner.example.cn/v1",
    "beacon-fleet:partnerName": "Example University",
    "beacon-fleet:partnerJurisdiction": "cn-mainland",
    "beacon-fleet:failoverOrder": ["partner"],
}


def shipped(stack: str, overrides: dict | None = None) -> Synthesis:
    config = with_overrides(load_stack_config(stack), overrides)
    return settled_ok(synthesize(stack, config.values, config.secret_keys))


def new(stack_file, stack: str, config: dict) -> Synthesis:
    loaded = stack_file(stack, config)
    result = synthesize(stack, loaded.values, loaded.secret_keys)
    assert result.ok, result.error
    return result  # a partner-only region declares nothing: there is nothing to provision


def router(regions: dict[str, Synthesis], overrides: dict | None = None) -> Synthesis:
    config = with_overrides(
        load_stack_config("router"),
        {
            "regionStacks": [f"{ORG}/{name}" for name in regions],
            "routerKubernetesRegionStack": f"{ORG}/cn-beijing" if "cn-beijing" in regions else "",
            # A router that implements the newest contract: these regions use what version 2 added.
            "routerAcceptsSchemaVersion": router_config.SCHEMA_VERSION,
            **(overrides or {}),
        },
    )
    stacks = {name: as_stack_outputs(s) for name, s in regions.items()}
    return synthesize("router", config.values, config.secret_keys, stacks=stacks)


@pytest.fixture(scope="module")
def default_regions() -> dict[str, Synthesis]:
    return {stack: shipped(stack) for stack in REGION_STACKS}


def test_a_function_compute_region_merges_into_the_router_with_alibaba_fc_providers_on_https(default_regions):
    fc = shipped("cn-beijing", FC_BEIJING)
    config = settled_ok(router({**default_regions, "cn-beijing": fc})).outputs["routerConfig"]
    label = fc.outputs["routerRegion"]
    for model, chain in config["routes"][label].items():
        first = config["providers"][chain[0]]
        assert first["type"] == "alibaba_fc" and first["network"] == "internet", model
        assert all(first[key].startswith("https://") for key in ("endpoint", "base_url", "health_check"))
        assert first["weights"] == fc.outputs["routerProviders"]["providers"][chain[0]]["weights"]
    # Residency-bound: served by the router in the mainland, never failing over to the RunPod counterpart abroad.
    assert config["regions"][label]["served_from"]["target"] == "kubernetes"
    assert {config["providers"][p]["type"] for chain in config["routes"][label].values() for p in chain} == {
        "alibaba_fc"
    }


def test_the_router_for_a_mainland_fc_region_runs_in_the_mainland_not_on_railway(default_regions):
    fc = shipped("cn-beijing", FC_BEIJING)
    result = router({**default_regions, "cn-beijing": fc}, {"routerKubernetesRegionStack": ""})
    assert not result.ok
    assert "region asia-east is residency-bound (cn-mainland)" in result.error
    assert "routerKubernetesRegionStack: organization/beacon-fleet/cn-beijing" in result.error
    assert "pulumi up" not in result.error


@pytest.mark.parametrize(
    ("stack", "config", "kind"), [("eu-central", EU_RUNPOD, "runpod"), ("us-west", US_MODAL, "modal")]
)
def test_a_counterpart_only_region_without_an_alibaba_region_merges_with_its_providers_and_their_weights(
    stack_file, default_regions, stack, config, kind
):
    region = new(stack_file, stack, config)
    assert region.outputs["region"] == "" and set(region.outputs["weights"]) == {
        m["id"] for m in region.outputs["models"]
    }
    config_out = settled_ok(router({**default_regions, stack: region})).outputs["routerConfig"]
    label = region.outputs["routerRegion"]
    assert config_out["regions"][label]["cloud_region"] == ""
    assert set(config_out["routes"][label]) == {m["id"] for m in region.outputs["models"]}
    for chain in config_out["routes"][label].values():
        provider = config_out["providers"][chain[0]]
        pinned = region.outputs["weights"][provider["models"][0]]
        assert provider["type"] == kind
        assert provider["weights"] == {"revision": pinned["revision"], "digest": pinned["digest"]}


def test_a_counterpart_only_region_with_an_alibaba_region_merges_with_its_weights(stack_file, default_regions):
    region = new(
        stack_file, "eu-central", {**EU_RUNPOD, "alicloud:region": "eu-central-1", "beacon-fleet:jurisdiction": "de"}
    )
    config = settled_ok(router({**default_regions, "eu-central": region})).outputs["routerConfig"]
    assert config["regions"]["eu-central"]["cloud_region"] == "eu-central-1"
    assert all(config["providers"][c[0]]["weights"] for c in config["routes"]["eu-central"].values())


def test_counterpart_only_regions_leave_the_vpc_overlap_check_alone(stack_file):
    # Neither sets vpcCidr: both carry the same default range, which no VPC of theirs uses.
    one, two = stack_file("eu-central", EU_RUNPOD), stack_file("us-west", US_MODAL)
    beijing = load_stack_config("cn-beijing")
    assert not [m for _, m in cross_stack_problems([one, two, beijing], load_project_schema()) if "vpcCidr" in m]
    clash = with_overrides(load_stack_config("us-east"), {"vpcCidr": "10.10.0.0/16"})
    assert any("vpcCidr" in message for _, message in cross_stack_problems([beijing, clash]))


# --- residency by what a stack declares --------------------------------------------------------------------------


def test_a_counterpart_only_region_claiming_the_mainland_is_refused_when_only_abroad_serves_it(stack_file):
    loaded = stack_file(
        "cn-runpod",
        {**EU_RUNPOD, "beacon-fleet:jurisdiction": "cn-mainland", "beacon-fleet:counterpartLocations": ["AP-JP-1"]},
    )
    result = synthesize("cn-runpod", loaded.values, loaded.secret_keys)
    assert not result.ok and result.resources == []
    assert "beacon-fleet:residencyBound: personal data must stay in mainland China" in result.error
    assert (
        "beacon-fleet:jurisdiction: cn-mainland binds this region to mainland China's residency rules, but it serves"
        " only through runpod in AP-JP-1" in result.error
    )


def test_a_counterpart_only_region_claiming_the_mainland_cannot_allow_cross_border_failover(stack_file):
    loaded = stack_file(
        "cn-runpod",
        {
            **EU_RUNPOD,
            "beacon-fleet:jurisdiction": "cn-mainland",
            "beacon-fleet:residencyBound": False,
            "beacon-fleet:allowCrossBorderFailover": True,
        },
    )
    result = synthesize("cn-runpod", loaded.values, loaded.secret_keys)
    assert not result.ok and "beacon-fleet:residencyBound: personal data must stay in mainland China" in result.error


def test_the_router_binds_a_region_claiming_the_mainland_whatever_its_entry_says(stack_file):
    """The router checks what it can: a stack whose settings were bypassed, claiming cn-mainland with residency off
    and its counterpart abroad marked as inside, is refused on each claim."""
    outputs = as_stack_outputs(new(stack_file, "eu-central", EU_RUNPOD)).values
    edited = copy.deepcopy(outputs)
    edited["residency"]["jurisdiction"] = "cn-mainland"
    edited["routerProviders"]["region"]["jurisdiction"] = "cn-mainland"
    edited["routerProviders"]["region"]["allow_cross_border_failover"] = True
    for provider in edited["routerProviders"]["providers"].values():
        provider["cross_border"] = False
    problems = "\n".join(router_trust.claim_problems("cn-runpod", edited))
    assert "routerProviders.region.residency_bound: is off, but the region is in mainland China" in problems
    assert "cross_border: is False, but EU-RO-1 is outside cn-mainland's jurisdiction" in problems


def test_a_mainland_region_served_by_its_counterpart_abroad_has_no_route(stack_file):
    outputs = as_stack_outputs(new(stack_file, "eu-central", EU_RUNPOD)).values
    entry = copy.deepcopy(outputs["routerProviders"])
    entry["region"].update(jurisdiction="cn-mainland", residency_bound=True, allow_cross_border_failover=False)
    with pytest.raises(ValueError, match="eu-central is residency-bound and every provider left is cross-border"):
        router_config.merge([entry])


# --- a partner's endpoint (option C) ----------------------------------------------------------------------------


def test_a_partner_only_mainland_region_routes_through_the_router_in_the_mainland(stack_file):
    partner = new(stack_file, "cn-partner", CN_PARTNER)
    assert not [r for r in partner.resources if r.type.startswith(("alicloud:", "pulumi:providers:alicloud"))]
    assert partner.outputs["partnerEndpoint"]["baseUrl"] == "https://llm.partner.example.cn/v1"
    result = router({"cn-partner": partner}, {"routerKubernetesRegionStack": f"{ORG}/cn-partner"})
    routed = settled_ok(result).outputs["routerConfig"]
    label = "asia-east-partner"
    for model, chain in routed["routes"][label].items():
        provider = routed["providers"][chain[0]]
        assert provider["type"] == "partner" and provider["cross_border"] is False, model
        assert provider["auth"] == {"type": "bearer", "env": "ASIA_EAST_PARTNER_PARTNER_KEY"}
        assert provider["weights"]["digest"] == partner.outputs["weights"][model]["digest"]
    assert routed["regions"][label]["served_from"]["target"] == "kubernetes"
    assert "ASIA_EAST_PARTNER_PARTNER_KEY" in result.outputs["routerSecrets"].value


def test_a_partner_only_mainland_region_is_not_served_from_railway(stack_file):
    partner = new(stack_file, "cn-partner", CN_PARTNER)
    result = router({"cn-partner": partner}, {"routerPublishTargets": ["railway"]})
    assert not result.ok and "region asia-east-partner is residency-bound (cn-mainland)" in result.error


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://llm.partner.example.cn/v1", "is plain http over the internet"),
        ("https://user:pw@llm.partner.example.cn/v1", "embeds user-info"),
        ("https://127.0.0.1/v1", "is on this machine"),
        ("https://llm.partner.example.cn/v1?key=x", "carries a credential in its query"),
        ("https://llm.partner.example.cn/v1?page=2", "without a query"),
    ],
)
def test_a_partners_url_is_checked_before_anything_is_declared(stack_file, url, message):
    # Set as the CLI hands it over (the stack file's own check refuses a URL with a password even earlier).
    loaded = with_overrides(stack_file("cn-partner", CN_PARTNER), {"partnerBaseUrl": url})
    result = synthesize("cn-partner", loaded.values, loaded.secret_keys)
    assert not result.ok and result.resources == []
    assert "beacon-fleet:partnerBaseUrl: " in result.error and message in result.error
    assert "user:pw" not in result.error and "key=x" not in result.error
    assert result.error.count("beacon-fleet:partnerBaseUrl: ") == 1 and "beacon-fleet:jurisdiction" not in result.error


def test_a_partner_must_say_where_it_hosts_and_have_its_step_in_the_failover_order(stack_file):
    loaded = stack_file(
        "cn-partner",
        {**CN_PARTNER, "beacon-fleet:partnerJurisdiction": "", "beacon-fleet:failoverOrder": ["counterpart"]},
    )
    result = synthesize("cn-partner", loaded.values, loaded.secret_keys)
    assert not result.ok
    assert "beacon-fleet:partnerJurisdiction: '' must say where the partner hosts the endpoint" in result.error
    assert "beacon-fleet:failoverOrder: does not list partner" in result.error


def test_a_route_the_router_refuses_names_the_stack_the_key_and_the_fix(default_regions):
    abroad_only = shipped("cn-beijing", {"failoverOrder": ["counterpart"]})
    result = router({**default_regions, "cn-beijing": abroad_only})
    assert not result.ok
    assert "stack organization/beacon-fleet/cn-beijing: route asia-east/" in result.error
    assert "serve it inside cn-mainland: a platform in failoverOrder and servingPlatforms" in result.error
    assert "pulumi up" not in result.error


def test_only_a_mainland_alibaba_region_may_declare_cn_mainland(stack_file):
    at_unknown = {**EU_RUNPOD, "alicloud:region": "sa-east-9", "beacon-fleet:jurisdiction": "cn-mainland"}
    loaded = stack_file("sa-east", at_unknown)
    result = synthesize("sa-east", loaded.values, loaded.secret_keys)
    assert not result.ok and "beacon-fleet:jurisdiction: sa-east-9 is not a mainland China region" in result.error


def test_a_mainland_alibaba_region_served_only_by_its_counterpart_abroad_is_refused(synth):
    result = synth("cn-beijing", overrides={"servingPlatforms": []})
    assert not result.ok and result.resources == []
    assert "but it serves only through runpod in AP-JP-1, outside the mainland" in result.error
