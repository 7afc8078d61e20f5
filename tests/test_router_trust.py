"""The router stack does not take a region stack's word for where it is: each test feeds it a tampered or stale
region output through StackReference and expects a refusal naming the stack and the field, before anything is
published."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from fleet import router_trust
from fleet.residency import regions_named_in_host
from offline.engine import Synthesis, as_stack_outputs, synthesize
from offline.simulated_cloud import StackOutputs
from offline.stack_files import load_stack_config
from tests.conftest import REGION_STACKS, settled_ok, shared_synthesis, with_overrides

BEIJING = "organization/beacon-fleet/cn-beijing"
IN_BEIJING_VPC = {"routerKubernetesRegionStack": BEIJING}
PUBLISHING = (
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:Secret",
    "pulumi-python:dynamic/railway:ServiceVariables",
)


@pytest.fixture(scope="module")
def region_outputs() -> dict[str, StackOutputs]:
    outputs = {}
    for stack in REGION_STACKS:
        outputs[stack] = as_stack_outputs(settled_ok(shared_synthesis(stack)))
    return outputs


def router(stacks: dict[str, StackOutputs], overrides: dict | None = None) -> Synthesis:
    config = with_overrides(load_stack_config("router"), {**IN_BEIJING_VPC, **(overrides or {})})
    return synthesize("router", config.values, config.secret_keys, stacks=stacks)


def tampered(outputs: dict[str, StackOutputs], stack: str, change: Callable[[dict], None]) -> dict[str, StackOutputs]:
    values = copy.deepcopy(dict(outputs[stack].values))
    change(values)
    return {**outputs, stack: StackOutputs(values=values, secret_names=outputs[stack].secret_names)}


def refused(result: Synthesis, *expected: str) -> None:
    assert not result.ok, "the router routed a tampered region"
    for text in expected:
        assert text in result.error, result.error
    assert "Traceback" not in result.error
    assert not [r for r in result.resources if r.type in PUBLISHING], "published despite the refusal"


def test_the_untampered_fleet_is_routed(region_outputs):
    assert settled_ok(router(region_outputs)).outputs["routerConfig"]["regions"]["asia-east"]["residency_bound"]


def test_a_mainland_region_whose_router_entry_turns_residency_off_is_refused(region_outputs):
    def off(values):
        values["routerProviders"]["region"]["residency_bound"] = False
        values["residency"]["residencyBound"] = False  # both outputs agree: still mainland, still bound

    refused(
        router(tampered(region_outputs, "cn-beijing", off)),
        f"stack {BEIJING}: routerProviders.region.residency_bound: is off, but cn-beijing is in mainland China",
    )


def test_a_mainland_region_whose_entry_also_allows_cross_border_and_hides_it_in_one_output_is_refused(region_outputs):
    def opened(values):
        values["routerProviders"]["region"]["allow_cross_border_failover"] = True

    refused(
        router(tampered(region_outputs, "cn-beijing", opened)),
        f"stack {BEIJING}: residency.allowCrossBorderFailover: is False, but"
        " routerProviders.region.allow_cross_border_failover is True",
    )


def test_a_counterpart_abroad_marked_not_cross_border_is_refused(region_outputs):
    def smuggled(values):
        values["routerProviders"]["providers"]["asia-east-runpod-mistral-7b"]["cross_border"] = False

    refused(
        router(tampered(region_outputs, "cn-beijing", smuggled)),
        f"stack {BEIJING}: routerProviders.providers.asia-east-runpod-mistral-7b.cross_border: is False,"
        " but AP-JP-1 is outside cn-mainland's jurisdiction",
    )


def test_a_counterpart_whose_jurisdiction_was_rewritten_to_the_mainland_is_refused(region_outputs):
    def relabelled(values):
        provider = values["routerProviders"]["providers"]["asia-east-runpod-llama3-2-1b"]
        provider["jurisdiction"], provider["cross_border"] = "cn-mainland", False

    refused(
        router(tampered(region_outputs, "cn-beijing", relabelled)),
        "routerProviders.providers.asia-east-runpod-llama3-2-1b.jurisdiction: says 'cn-mainland', but AP-JP-1 is in jp",
    )


def test_a_region_whose_jurisdiction_was_changed_is_refused(region_outputs):
    def moved(values):
        values["routerProviders"]["region"]["jurisdiction"] = "sg"
        values["residency"]["jurisdiction"] = "sg"

    refused(
        router(tampered(region_outputs, "cn-beijing", moved)),
        f"stack {BEIJING}: routerProviders.region.jurisdiction: says 'sg', but cn-beijing is in cn-mainland",
    )


def test_an_entry_claiming_another_cloud_region_than_the_stack_exports_is_refused(region_outputs):
    def elsewhere(values):
        values["routerProviders"]["region"]["cloud_region"] = "cn-hongkong"

    refused(
        router(tampered(region_outputs, "cn-beijing", elsewhere)),
        "routerProviders.region.cloud_region: says 'cn-hongkong', but the stack's region is cn-beijing",
    )


def test_a_provider_whose_url_host_is_in_another_region_is_refused(region_outputs):
    def rehosted(values):
        provider = values["routerProviders"]["providers"]["asia-southeast-eas-mistral-7b"]
        provider["endpoint"] = provider["endpoint"].replace("ap-southeast-1", "cn-beijing")

    refused(
        router(tampered(region_outputs, "ap-southeast", rehosted)),
        "stack organization/beacon-fleet/ap-southeast: routerProviders.providers.asia-southeast-eas-mistral-7b"
        ".endpoint:"
        " host 0000000000000000.cn-beijing.pai-eas.aliyuncs.com is in cn-beijing, not in the stack's ap-southeast-1",
    )


def test_a_vpc_endpoint_claimed_to_be_on_the_internet_is_refused(region_outputs):
    def opened(values):
        values["routerProviders"]["providers"]["asia-east-eas-llama3-2-1b"]["network"] = "internet"

    refused(
        router(tampered(region_outputs, "cn-beijing", opened)),
        "asia-east-eas-llama3-2-1b.network: says 'internet', but 0000000000000000.vpc.cn-beijing",
    )


def test_a_counterpart_pointing_at_a_host_that_is_not_its_providers_is_refused(region_outputs):
    def redirected(values):
        values["routerProviders"]["providers"]["us-east-modal-mistral-7b"]["endpoint"] = (
            "https://collector.example.com/v1"
        )

    refused(
        router(tampered(region_outputs, "us-east", redirected)),
        "us-east-modal-mistral-7b.endpoint: host collector.example.com is not a modal host",
    )


def test_a_stack_that_does_not_export_its_cloud_region_is_refused(region_outputs):
    refused(
        router(tampered(region_outputs, "us-east", lambda values: values.pop("region"))),
        "stack organization/beacon-fleet/us-east: region: not exported",
    )


def test_two_region_stacks_with_the_same_router_region_are_an_error_never_last_one_wins(region_outputs):
    def twin(values):
        values["routerRegion"] = "us-east"
        values["routerProviders"]["region"]["label"] = "us-east"
        for provider in values["routerProviders"]["providers"].values():
            provider["region"] = "us-east"

    refused(
        router(tampered(region_outputs, "ap-southeast", twin)),
        "stacks organization/beacon-fleet/ap-southeast and organization/beacon-fleet/us-east both serve routerRegion"
        " 'us-east'",
    )


def test_a_residency_bound_region_left_with_no_route_after_filtering_is_an_error(region_outputs):
    config = with_overrides(load_stack_config("cn-beijing"), {"failoverOrder": ["counterpart"]})
    only_abroad = as_stack_outputs(settled_ok(synthesize("cn-beijing", config.values, config.secret_keys)))
    refused(
        router({**region_outputs, "cn-beijing": only_abroad}),
        "route asia-east/mistral-7b has no provider left: asia-east is residency-bound and every provider left is"
        " cross-border",
    )


# --- the derivations themselves ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cloud_region", "stated", "expected"),
    [
        ("cn-beijing", "sg", "cn-mainland"),  # derived, whatever the stack says
        ("cn-wulanchabu", None, "cn-mainland"),  # a mainland region beacon-fleet has no table entry for
        ("cn-hongkong", "cn-mainland", "hk"),  # Hong Kong is cn-* but not the mainland
        ("sa-east-9", "br", "br"),  # an unknown region states its own
        ("sa-east-9", "cn-mainland", None),  # but outside cn-* it can never claim the mainland
    ],
)
def test_the_router_derives_a_regions_jurisdiction_from_its_cloud_region(cloud_region, stated, expected):
    assert router_trust.region_jurisdiction(cloud_region, stated) == expected


def test_hong_kong_may_opt_out_of_residency_while_the_mainland_may_not():
    def entry(cloud_region: str, jurisdiction: str) -> dict:
        region = {
            "label": "hk",
            "cloud_region": cloud_region,
            "jurisdiction": jurisdiction,
            "residency_bound": False,
            "allow_cross_border_failover": False,
            "failover_order": ["eas"],
        }
        return {"region": cloud_region, "routerRegion": "hk", "routerProviders": {"region": region, "providers": {}}}

    assert router_trust.claim_problems("hk-stack", entry("cn-hongkong", "hk")) == []
    assert router_trust.claim_problems("sz-stack", entry("cn-shenzhen", "cn-mainland")) == [
        "stack sz-stack: routerProviders.region.residency_bound: is off, but cn-shenzhen is in mainland China,"
        " where residency binds whatever the stack says; set residencyBound: true in its stack"
    ]


def test_region_ids_are_read_from_host_labels_and_nowhere_else():
    assert regions_named_in_host("1.vpc.cn-beijing.pai-eas.aliyuncs.com") == {"cn-beijing"}
    assert regions_named_in_host("lb-1.slb.ap-southeast-1.invalid") == {"ap-southeast-1"}
    assert regions_named_in_host("sim--beacon-us-east-llama.modal.run") == set()
