"""The policy pack: each guardrail refuses what it must and accepts what it should, and the shipped fleet passes.

Policies run through offline.policy_check, which hands them props as the CLI's analyzer does (secrets in the
clear, unknowns behind the proxy). Every "compliant" case sits next to a violating one, so a policy that
reports nothing at all fails here.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import runpy
import sys
from functools import cache
from pathlib import Path

import pulumi_alicloud
import pulumi_policy
import pytest

from fleet import gpus
from offline.engine import UNKNOWN_SHOWN, DeclaredResource, Secret, Synthesis
from offline.policy_check import Violation, check, check_synthesis, mandatory
from offline.stack_files import shipped_stacks
from policy import beacon_policies as bp
from tests.conftest import model_releases, settled_ok, shared_plan, stacks_on
from tests.test_inference_chart import render

PACK_DIR = Path(__file__).resolve().parent.parent / "policy"
TAGS = {"project": "beacon-fleet", "stack": "cn-beijing", "owner": "project-beacon", "region": "cn-beijing"}
MAINLAND_TAGS = TAGS | {"jurisdiction": "cn-mainland"}
SINGAPORE_TAGS = TAGS | {"stack": "ap-southeast", "region": "ap-southeast-1", "jurisdiction": "sg"}
GPU_POOL = (
    "alicloud:cs/nodePool:NodePool",
    "gpu-pool",
    {
        "instanceTypes": ["ecs.gn7i-c8g1.2xlarge"],  # A10, 24 GiB
        "labels": [{"key": "ack.node.gpu.schedule", "value": "cgpu"}],
        "tags": TAGS,
    },
)


def resource(type_: str, name: str, inputs: dict, parent: str = "") -> DeclaredResource:
    return DeclaredResource(
        urn=f"urn:pulumi:test::beacon-fleet::{type_}::{name}",
        type=type_,
        name=name,
        parent_urn=parent,
        custom=True,
        protect=False,
        inputs=inputs,
    )


def violations(policy, *resources: tuple[str, str, dict], region: str | None = "cn-beijing") -> list[Violation]:
    """The policy's violations in a stack whose default alicloud provider is in `region` (None: not known)."""
    regions = {"alicloud": region} if region else {}
    return check([resource(*r) for r in resources], [policy], provider_regions=regions)


def messages(found: list[Violation]) -> list[str]:
    return [f"{v.resource}: {v.message}" for v in found]


def bucket(**overrides) -> tuple[str, str, dict]:
    inputs = {
        "bucket": "models",
        "serverSideEncryptionRule": {"sseAlgorithm": "AES256"},
        "versioning": {"status": "Enabled"},
        "tags": TAGS,
    }
    return (bp.BUCKET, "models-bucket", {**inputs, **overrides})


PRIVATE_ACL = (bp.BUCKET_ACL, "models-acl", {"bucket": "models", "acl": "private"})
BLOCK = (bp.BUCKET_PUBLIC_ACCESS_BLOCK, "models-block", {"bucket": "models", "blockPublicAccess": True})


def cluster(type_: str = bp.MANAGED_KUBERNETES, **overrides) -> tuple[str, str, dict]:
    return (type_, "ack-cluster", {"deletionProtection": True, "enableRrsa": True, "tags": TAGS, **overrides})


def eas(tags: dict = MAINLAND_TAGS, **document) -> tuple[str, str, dict]:
    config = {
        "cloud": {"networking": {"vpc_id": "vpc-1", "vswitch_id": "vsw-1", "security_group_id": "sg-1"}},
        "networking": {"disable_internet_endpoint": "true"},
    } | document
    return (bp.EAS_SERVICE, "eas-service", {"serviceConfig": json.dumps(config), "tags": tags})


def deployment(limits: dict, node_selector: dict | None = None) -> tuple[str, str, dict]:
    pod = {
        "nodeSelector": {"ack.node.gpu.schedule": "cgpu"} if node_selector is None else node_selector,
        "containers": [{"name": "vllm", "resources": {"limits": limits}}],
    }
    return ("kubernetes:apps/v1:Deployment", "vllm", {"spec": {"template": {"spec": pod}}})


def release(mem_gib) -> tuple[str, str, dict]:
    gpu = {"memGiB": mem_gib, "nodeSelector": {"ack.node.gpu.schedule": "cgpu", "beacon-fleet/pool": "gpu"}}
    return ("kubernetes:helm.sh/v3:Release", "ack-mistral-7b-release", {"values": {"gpu": gpu}})


def load_balancer(address_type: str, tags: dict) -> tuple[str, str, dict]:
    return (bp.LOAD_BALANCERS[0], "ack-llama-load-balancer", {"addressType": address_type, "tags": tags})


# policy, the violating resources, the message it must give, the compliant resources
CASES = [
    (bp.oss_bucket_private, [bucket(), PRIVATE_ACL], "does not block public access", [bucket(), PRIVATE_ACL, BLOCK]),
    (bp.oss_bucket_private, [bucket(), BLOCK], "no explicit private ACL", [bucket(acl="private"), BLOCK]),
    (
        bp.oss_bucket_private,
        [bucket(), (bp.BUCKET_ACL, "models-acl", {"bucket": "models", "acl": "public-read"}), BLOCK],
        "grants 'public-read'",
        [bucket(), PRIVATE_ACL, BLOCK],
    ),
    (bp.oss_bucket_encrypted, [bucket(serverSideEncryptionRule=None)], "no server-side encryption", [bucket()]),
    (bp.oss_bucket_versioned, [bucket(versioning={"status": "Suspended"})], "not versioned", [bucket()]),
    (bp.ack_deletion_protection, [cluster(deletionProtection=False)], "deletionProtection: true", [cluster()]),
    (bp.ack_rrsa, [cluster(enableRrsa=False)], "set enableRrsa: true", [cluster()]),
    (bp.ack_rrsa, [cluster(bp.DEDICATED_KUBERNETES)], "dedicated clusters have no RRSA", [cluster()]),
    (
        bp.cgpu_pods_request_gpu_memory,
        [GPU_POOL, deployment({"aliyun.com/gpu-mem": 30})],
        "asks for 30 GiB of GPU memory",
        [GPU_POOL, deployment({"aliyun.com/gpu-mem": 24})],
    ),
    (
        bp.cgpu_pods_request_gpu_memory,
        [GPU_POOL, deployment({"cpu": "2"})],
        "without a whole number of GiB",
        [GPU_POOL, deployment({"cpu": "2"}, node_selector={})],  # not on the cGPU pool: none of its business
    ),
    (
        bp.cgpu_pods_request_gpu_memory,
        [GPU_POOL, deployment({"nvidia.com/gpu": 1, "aliyun.com/gpu-mem": 8})],
        "takes a GPU out of sharing",
        [GPU_POOL, deployment({"aliyun.com/gpu-mem": "8"})],
    ),
    (bp.cgpu_pods_request_gpu_memory, [GPU_POOL, release(25)], "more than the 24 GiB", [GPU_POOL, release(19)]),
    (
        bp.cgpu_pods_request_gpu_memory,
        [release(19)],
        "declares no cGPU node pool",
        [GPU_POOL, release(19)],
    ),
    (
        bp.cgpu_pods_request_gpu_memory,
        [(*GPU_POOL[:2], GPU_POOL[2] | {"instanceTypes": ["ecs.gn99-c8g1.2xlarge"]}), release(19)],
        "add its family to GPU_MEMORY_GIB",
        [GPU_POOL, release(19)],
    ),
    (bp.eas_token_and_vpc, [eas(token="t0ken")], "writes token: it sits in the config in the clear", [eas()]),
    (bp.eas_token_and_vpc, [eas(credential={"token": "t0ken"})], "writes credential.token", [eas()]),
    (bp.eas_token_and_vpc, [eas(cloud={})], "cloud.networking.vpc_id, vswitch_id, security_group_id", [eas()]),
    (
        bp.mainland_public_endpoint_icp,
        [load_balancer("internet", MAINLAND_TAGS)],
        "internet-facing load balancer in mainland China without an ICP licence number (tag icp-licence: missing)",
        [load_balancer("internet", MAINLAND_TAGS | {"icp-licence": "京ICP备12345678号"})],
    ),
    (
        bp.mainland_public_endpoint_icp,
        [load_balancer("internet", MAINLAND_TAGS | {"icp-licence": "pending"})],
        "(tag icp-licence: pending)",
        [load_balancer("intranet", MAINLAND_TAGS)],
    ),
    (
        bp.mainland_public_endpoint_icp,
        [eas(networking={})],
        "PAI-EAS service with its internet endpoint enabled in mainland China",
        [eas()],
    ),
    (
        bp.acr_repositories_private,
        [("alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo", "repo", {"repoType": "PUBLIC"})],
        "repoType 'PUBLIC'",
        [("alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo", "repo", {"repoType": "PRIVATE"})],
    ),
    (
        bp.acr_repositories_private,
        [("alicloud:cr/namespace:Namespace", "ns", {"defaultVisibility": "PUBLIC"})],
        "defaultVisibility 'PUBLIC'",
        [("alicloud:cr/namespace:Namespace", "ns", {"defaultVisibility": "PRIVATE"})],
    ),
    (
        bp.required_tags,
        [("alicloud:vpc/network:Network", "vpc", {"tags": {"project": "beacon-fleet", "stack": "cn-beijing"}})],
        "lacks the tags owner",
        [("alicloud:vpc/network:Network", "vpc", {"tags": TAGS}), ("runpod:index:Endpoint", "ep", {})],
    ),
]


@pytest.mark.parametrize(
    ("policy", "violating", "expected", "compliant"),
    CASES,
    ids=[f"{case[0].name}-{index}" for index, case in enumerate(CASES)],
)
def test_each_policy_refuses_the_violation_and_accepts_the_compliant_form(policy, violating, expected, compliant):
    found = violations(policy, *violating)
    assert found, f"{policy.name} let a violation through"
    assert any(expected in message for message in messages(found)), messages(found)
    assert {v.policy for v in found} == {policy.name}
    assert all(v.enforcement == "mandatory" for v in found)
    assert violations(policy, *compliant) == []


def test_a_violation_names_the_resource_it_is_about():
    (found,) = violations(bp.oss_bucket_versioned, bucket(versioning={"status": "Suspended"}))
    assert found.resource == "alicloud:oss/bucket:Bucket models-bucket"
    (found,) = violations(bp.oss_bucket_private, bucket(), PRIVATE_ACL)
    assert found.resource == "alicloud:oss/bucket:Bucket models-bucket"


def test_a_value_unknown_in_preview_is_reported_as_not_checked_rather_than_passed_or_failed():
    (found,) = violations(bp.ack_deletion_protection, cluster(deletionProtection=UNKNOWN_SHOWN))
    assert found.enforcement == "advisory" and found.message.startswith("not checked")


def test_the_cgpu_policy_takes_the_gpu_size_from_config_when_the_pool_is_in_another_stack():
    found = check(
        [resource(*release(30))],
        [bp.cgpu_pods_request_gpu_memory],
        {"cgpu-pods-request-gpu-memory": {"gpuMemoryGiB": 24}},
    )
    assert messages(found) == [
        "kubernetes:helm.sh/v3:Release ack-mistral-7b-release: ack-mistral-7b-release asks for 30 GiB of GPU memory"
        " (values.gpu.memGiB), more than the 24 GiB of one GPU in the cGPU pool; it can never be scheduled"
    ]


# --- the shipped fleet --------------------------------------------------------------------------------------


@cache
def shipped() -> dict[str, Synthesis]:
    return {stack: settled_ok(s) for stack, s in shared_plan().items()}


@pytest.mark.parametrize("stack", shipped_stacks())
def test_every_shipped_stack_passes_every_mandatory_policy(stack):
    assert messages(mandatory(check_synthesis(shipped()[stack]))) == []


def test_every_policy_applies_to_something_the_fleet_declares():
    """A policy whose resource types the program never declares would pass every stack vacuously."""
    declared = {r.type for s in shipped().values() for r in s.resources}
    applies = {
        "oss-bucket-private": {bp.BUCKET, bp.BUCKET_ACL, bp.BUCKET_PUBLIC_ACCESS_BLOCK},
        "oss-bucket-encrypted": {bp.BUCKET},
        "oss-bucket-versioned": {bp.BUCKET},
        "ack-deletion-protection": {bp.MANAGED_KUBERNETES},
        "ack-rrsa": {bp.MANAGED_KUBERNETES},
        "cgpu-pods-request-gpu-memory": {bp.NODE_POOL, *bp.HELM_RELEASES[:1]},
        "eas-token-and-vpc": {bp.EAS_SERVICE},
        "mainland-public-endpoint-icp": {bp.EAS_SERVICE, bp.LOAD_BALANCERS[0]},
        "acr-repositories-private": {
            "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo",
            "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace",
        },
        "required-tags": set(bp.TAGGABLE) & declared,
        "alicloud-provider-schema": set(bp.provider_rules.rules()["resources"]) & declared,
        "fleet-budget": {bp.COST_BUDGET},
    }
    assert set(applies) == {p.name for p in bp.ALL_POLICIES}
    for name, types in applies.items():
        assert types and types <= declared, f"{name}: the fleet declares none of {sorted(types - declared)}"


def _break(result: Synthesis, type_: str, change) -> list[DeclaredResource]:
    """The synthesis's resources with the first resource of `type_` changed by `change(inputs)` (of Helm releases, the
    first model's: the cluster add-ons' charts come from a chart repository)."""
    target = next(r for r in result.of_type(type_) if not (r.inputs.get("repositoryOpts") or {}).get("repo"))
    return [
        dataclasses.replace(r, inputs=change(json.loads(json.dumps(r.inputs, default=_unwrap)))) if r is target else r
        for r in result.resources
    ]


def _unwrap(value):
    return value.value if isinstance(value, Secret) else value


def _set(path: str, value):
    def change(inputs: dict) -> dict:
        *parents, leaf = path.split(".")
        node = inputs
        for key in parents:
            node = node[key]
        node[leaf] = value
        return inputs

    return change


def _eas_with(**document):
    def change(inputs: dict) -> dict:
        inputs["serviceConfig"] = json.dumps(json.loads(inputs["serviceConfig"]) | document)
        return inputs

    return change


@pytest.mark.parametrize(
    ("type_", "change", "policy"),
    [
        (bp.BUCKET, _set("versioning.status", "Suspended"), "oss-bucket-versioned"),
        (bp.BUCKET, _set("serverSideEncryptionRule", {}), "oss-bucket-encrypted"),
        (bp.BUCKET_ACL, _set("acl", "public-read"), "oss-bucket-private"),
        (bp.BUCKET_PUBLIC_ACCESS_BLOCK, _set("bucket", "someone-elses"), "oss-bucket-private"),
        (bp.MANAGED_KUBERNETES, _set("deletionProtection", False), "ack-deletion-protection"),
        (bp.MANAGED_KUBERNETES, _set("enableRrsa", False), "ack-rrsa"),
        ("kubernetes:helm.sh/v3:Release", _set("values.gpu.memGiB", 25), "cgpu-pods-request-gpu-memory"),
        (bp.EAS_SERVICE, _eas_with(token="t0ken"), "eas-token-and-vpc"),
        (bp.EAS_SERVICE, _eas_with(networking={}), "mainland-public-endpoint-icp"),
        (bp.LOAD_BALANCERS[0], _set("addressType", "internet"), "mainland-public-endpoint-icp"),
        (
            "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo",
            _set("repoType", "PUBLIC"),
            "acr-repositories-private",
        ),
        (bp.NODE_POOL, _set("tags.owner", ""), "required-tags"),
    ],
)
def test_the_policies_catch_a_safeguard_lost_from_what_the_program_really_declares(type_, change, policy):
    found = mandatory(check(_break(shipped()["cn-beijing"], type_, change)))
    assert {v.policy for v in found} == {policy}, messages(found)


@pytest.mark.parametrize("stack", stacks_on("ack"))
def test_the_pods_helm_renders_from_the_declared_releases_fit_the_cgpu_pool(stack):
    result = shipped()[stack]
    pods = []
    for r in model_releases(result):
        for manifest in render(r.inputs["values"], r.inputs["name"]):
            group, _, version = manifest["apiVersion"].rpartition("/")
            type_ = f"kubernetes:{group or 'core'}/{version}:{manifest['kind']}"
            if type_ in bp.POD_SPEC_PATHS:
                pods.append(resource(type_, f"{r.inputs['name']}-{manifest['kind']}", manifest))
    assert pods, f"{stack}: the chart rendered no workload"
    pools = [p for p in result.of_type(bp.NODE_POOL) if p.name.startswith("gpu-pool")]
    assert check([*pools, *pods], [bp.cgpu_pods_request_gpu_memory]) == []
    # The same pod asking for one GiB more than its GPU has is refused: the check above was not vacuous.
    too_big = bp.gpu_memory_of(pools[0].inputs["instanceTypes"][0]) + 1
    broken = dataclasses.replace(pods[0], inputs=_oversize(pods[0].inputs, too_big))
    found = check([*pools, broken], [bp.cgpu_pods_request_gpu_memory])
    assert [v.policy for v in found] == ["cgpu-pods-request-gpu-memory"], messages(found)


def _oversize(manifest: dict, gib: int) -> dict:
    copy = json.loads(json.dumps(manifest))
    copy["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["aliyun.com/gpu-mem"] = gib
    return copy


def test_a_licensed_mainland_stack_opens_eas_and_tags_it_with_the_icp_number(synth):
    result = settled_ok(synth("cn-beijing", overrides={"icpLicence": "京ICP备12345678号"}))
    services = result.of_type(bp.EAS_SERVICE)
    assert services and all(s.inputs["tags"]["icp-licence"] == "京ICP备12345678号" for s in services)
    assert all("networking" not in json.loads(s.inputs["serviceConfig"]) for s in services)  # public
    assert mandatory(check_synthesis(result)) == []


# --- keeping the pack honest ------------------------------------------------------------------------------


def test_required_tags_covers_every_taggable_alibaba_type_the_fleet_declares():
    declared = {r.type for s in shipped().values() for r in s.resources if r.type.startswith("alicloud:")}
    taggable = set()
    for token in declared:
        _, module_path, cls = token.split(":")
        sdk_class = getattr(getattr(pulumi_alicloud, module_path.split("/")[0]), cls)
        if "tags" in inspect.signature(sdk_class._internal_init).parameters:
            taggable.add(token)
    assert taggable, "no taggable type found: the check itself is broken"
    assert taggable <= bp.TAGGABLE, f"add to TAGGABLE: {sorted(taggable - bp.TAGGABLE)}"


def test_the_packs_gpu_table_agrees_with_the_programs():
    assert {family: f.memory_gib for family, f in gpus.GPU_FAMILIES.items()} == bp.GPU_MEMORY_GIB


def test_the_pack_entry_point_enforces_every_policy_as_mandatory(monkeypatch):
    packs = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: packs.append(kwargs))
    monkeypatch.syspath_prepend(str(PACK_DIR))
    monkeypatch.delitem(sys.modules, "beacon_policies", raising=False)
    runpy.run_path(str(PACK_DIR), run_name="__main__")
    (pack,) = packs
    assert pack["name"] == "beacon-fleet-guardrails"
    assert pack["enforcement_level"] == pulumi_policy.EnforcementLevel.MANDATORY
    assert [p.name for p in pack["policies"]] == [p.name for p in bp.ALL_POLICIES]
    assert all(p.enforcement_level == pulumi_policy.EnforcementLevel.MANDATORY for p in pack["policies"])


def test_the_pack_pins_the_same_pulumi_and_pulumi_policy_as_the_project():
    def pins(name: str) -> dict[str, str]:
        lines = (PACK_DIR.parent / name).read_text().splitlines()
        return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))

    pack = pins("policy/requirements.txt")
    project = pins("requirements.txt") | pins("requirements-plan.txt")
    assert set(pack) == {"pulumi", "pulumi-policy"}
    assert {name: project.get(name) for name in pack} == pack
