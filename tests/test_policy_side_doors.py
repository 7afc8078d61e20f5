"""Every side door around the policy pack's guardrails, each as the attack it stops.

The cases in test_policy_pack.py pin each policy's main form; these try the other ways in: every workload kind
and container list onto cGPU nodes, every way a mainland endpoint goes public, every kind of ACK cluster, and
every taggable Alibaba type the provider SDK has.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
from pathlib import Path

import pulumi_alicloud
import pytest

from offline.engine import DeclaredResource
from offline.policy_check import check
from policy import beacon_policies as bp
from tests.test_policy_pack import GPU_POOL, MAINLAND_TAGS, SINGAPORE_TAGS, TAGS, messages, resource, violations

TAINT = {"key": "beacon-fleet/gpu", "value": "shared", "effect": "NoSchedule"}
TAINTED_POOL = (GPU_POOL[0], GPU_POOL[1], GPU_POOL[2] | {"taints": [TAINT]})
ON_CGPU = {"nodeSelector": {"ack.node.gpu.schedule": "cgpu"}}
ICP = "京ICP备12345678号"
MAINLAND_VPC = ("alicloud:vpc/network:Network", "vpc", {"tags": MAINLAND_TAGS})
SINGAPORE_VPC = ("alicloud:vpc/network:Network", "vpc", {"tags": SINGAPORE_TAGS})


def workload(type_: str, pod: dict, name: str = "vllm") -> tuple[str, str, dict]:
    """A workload of any kind with `pod` as its pod spec, where that kind keeps it."""
    props: dict = {}
    node = props
    *parents, leaf = bp.POD_SPEC_PATHS[type_]
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = pod
    return (type_, name, props)


def container(**resources) -> dict:
    return {"name": "c", "resources": resources}


def cgpu_messages(*resources) -> list[str]:
    return messages(violations(bp.cgpu_pods_request_gpu_memory, *resources))


WHOLE = "takes a GPU out of sharing"


# --- cGPU: whole GPUs never land on shared nodes ------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(bp.POD_SPEC_PATHS))
def test_every_workload_kind_asking_for_a_whole_gpu_on_cgpu_nodes_is_refused(kind):
    pod = ON_CGPU | {"containers": [container(limits={"nvidia.com/gpu": 1, "aliyun.com/gpu-mem": 8})]}
    assert any(WHOLE in m for m in cgpu_messages(GPU_POOL, workload(kind, pod)))


@pytest.mark.parametrize(
    "pod",
    [
        pytest.param(ON_CGPU | {"containers": [container(requests={"nvidia.com/gpu": 1})]}, id="in-requests"),
        pytest.param(
            ON_CGPU
            | {
                "containers": [container(limits={"aliyun.com/gpu-mem": 8})],
                "initContainers": [container(limits={"nvidia.com/gpu": 1})],
            },
            id="init-container",
        ),
        pytest.param(
            ON_CGPU
            | {
                "containers": [container(limits={"aliyun.com/gpu-mem": 8})],
                "ephemeralContainers": [container(limits={"nvidia.com/gpu": 1})],
            },
            id="ephemeral-container",
        ),
    ],
)
def test_a_whole_gpu_asked_for_in_requests_or_by_an_init_or_ephemeral_container_is_refused(pod):
    assert any(WHOLE in m for m in cgpu_messages(GPU_POOL, workload("kubernetes:apps/v1:Deployment", pod)))


def _affinity(operator: str, values: list[str] | None = None) -> dict:
    expression = {"key": "ack.node.gpu.schedule", "operator": operator} | ({"values": values} if values else {})
    terms = {"nodeSelectorTerms": [{"matchExpressions": [expression]}]}
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}}}


@pytest.mark.parametrize(
    "placement",
    [
        pytest.param(_affinity("In", ["core_mem", "exclusive"]), id="affinity-in"),
        pytest.param(_affinity("NotIn", ["exclusive"]), id="affinity-not-in"),
        pytest.param(_affinity("Exists"), id="affinity-exists"),
        pytest.param({"tolerations": [TAINT | {"operator": "Equal"}]}, id="tolerates-the-pools-taint"),
        pytest.param({"tolerations": [{"key": "beacon-fleet/gpu", "operator": "Exists"}]}, id="tolerates-the-key"),
        pytest.param({"tolerations": [{"operator": "Exists"}]}, id="tolerates-everything"),
    ],
)
def test_every_way_onto_cgpu_nodes_is_seen_by_the_policy(placement):
    pod = placement | {"containers": [container(limits={"nvidia.com/gpu": 1})]}
    assert any(WHOLE in m for m in cgpu_messages(TAINTED_POOL, workload("kubernetes:batch/v1:Job", pod)))


@pytest.mark.parametrize(
    "placement",
    [
        pytest.param({}, id="no-toleration-of-the-taint"),
        pytest.param({"nodeSelector": {"ack.node.gpu.schedule": "exclusive"}, "tolerations": [{"operator": "Exists"}]}),
        pytest.param(_affinity("In", ["exclusive"]) | {"tolerations": [TAINT]}, id="affinity-elsewhere"),
        pytest.param({"tolerations": [{"key": "other", "operator": "Exists"}]}, id="tolerates-another-taint"),
    ],
)
def test_a_whole_gpu_pod_that_cannot_land_on_cgpu_nodes_is_left_alone(placement):
    pod = placement | {"containers": [container(limits={"nvidia.com/gpu": 1})]}
    assert cgpu_messages(TAINTED_POOL, workload("kubernetes:apps/v1:Deployment", pod)) == []


def test_init_and_main_containers_gpu_memory_are_counted_against_one_gpu():
    pod = ON_CGPU | {
        "containers": [container(limits={"aliyun.com/gpu-mem": 20})],
        "initContainers": [container(limits={"aliyun.com/gpu-mem": 8})],
    }
    assert any("asks for 28 GiB" in m for m in cgpu_messages(GPU_POOL, workload("kubernetes:core/v1:Pod", pod)))


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(
            {"gpu": {"memGiB": 8, "tolerations": [TAINT]}, "resources": {"limits": {"nvidia.com/gpu": 1}}},
            id="this-chart-tolerating-the-taint",
        ),
        pytest.param(
            {"worker": {"nodeSelector": {"ack.node.gpu.schedule": "cgpu"}, "resources": {"nvidia.com/gpu": 1}}},
            id="another-chart-nested-selector",
        ),
        pytest.param({"gpu": {"memGiB": 8} | _affinity("In", ["cgpu"]), "extra": {"nvidia.com/gpu": 1}}, id="affinity"),
    ],
)
def test_a_helm_release_putting_whole_gpu_pods_on_cgpu_nodes_is_refused(values):
    release = ("kubernetes:helm.sh/v3:Release", "other-chart", {"values": values})
    assert any(WHOLE in m for m in cgpu_messages(TAINTED_POOL, release))


# --- ICP: no mainland endpoint goes public without a licence number ----------------------------------------


def icp_messages(*resources, region: str | None = "cn-beijing") -> list[str]:
    return messages(violations(bp.mainland_public_endpoint_icp, *resources, region=region))


def service(annotations: dict, type_: str = "LoadBalancer") -> tuple[str, str, dict]:
    return ("kubernetes:core/v1:Service", "svc", {"metadata": {"annotations": annotations}, "spec": {"type": type_}})


def helm(values: dict) -> tuple[str, str, dict]:
    return ("kubernetes:helm.sh/v3:Release", "serving", {"values": values})


def v3_function(tags: dict) -> tuple[str, str, dict]:
    return ("alicloud:fc/v3Function:V3Function", "fn", {"functionName": "beacon-fn", "tags": tags})


def http_trigger(config: dict) -> tuple[str, str, dict]:
    props = {"functionName": "beacon-fn", "triggerType": "http", "triggerConfig": json.dumps(config)}
    return ("alicloud:fc/v3Trigger:V3Trigger", "trigger", props)


CUSTOM_DOMAIN = (
    "alicloud:fc/v3CustomDomain:V3CustomDomain",
    "domain",
    {"customDomainName": "beacon.example.cn", "routeConfig": {"routes": [{"functionName": "beacon-fn", "path": "/*"}]}},
)
LOAD_BALANCER = "alicloud:slb/loadBalancer:LoadBalancer"


@pytest.mark.parametrize(
    ("public", "what"),
    [
        (service({}), "LoadBalancer Service"),  # the controller's default address type is internet
        (service({bp.CCM_ADDRESS_TYPE: "Internet"}), "LoadBalancer Service"),
        (helm({"service": {"addressType": "internet"}}), "Helm release"),
        (helm({"frontend": {"service": {"type": "LoadBalancer"}}}), "Helm release"),
        (helm({"svc": {"annotations": {bp.CCM_ADDRESS_TYPE: "internet"}}}), "Helm release"),
        (("alicloud:alb/loadBalancer:LoadBalancer", "alb", {"addressType": "Internet", "tags": MAINLAND_TAGS}), "load"),
        (
            (
                "alicloud:nlb/loadBalancer:LoadBalancer",
                "nlb",
                {"addressType": "Intranet", "ipv6AddressType": "Internet"},
            ),
            "load balancer",
        ),
        ((LOAD_BALANCER, "clb", {"tags": MAINLAND_TAGS}), "load balancer"),  # no vSwitch: internet by default
        (http_trigger({"authType": "anonymous"}), "HTTP trigger"),
        (CUSTOM_DOMAIN, "custom domain"),
    ],
)
def test_every_way_a_mainland_endpoint_goes_public_needs_an_icp_number(public, what):
    found = icp_messages(MAINLAND_VPC, v3_function(MAINLAND_TAGS), public)
    assert any(what in m and "without an ICP licence number" in m for m in found), found


@pytest.mark.parametrize(
    "private",
    [
        service({bp.CCM_ADDRESS_TYPE: "intranet"}),
        service({bp.CCM_LOAD_BALANCER_ID: "lb-1"}),  # reuses a declared load balancer, checked as itself
        service({}, type_="ClusterIP"),
        service({bp.CCM_TAGS: f"owner=beacon,icp-licence={ICP}"}),  # public, with its licence on the load balancer
        helm({"service": {"addressType": "internet", "loadBalancerId": "lb-1"}}),
        helm({"service": {"addressType": "intranet"}}),
        (LOAD_BALANCER, "clb", {"vswitchId": "vsw-1", "tags": MAINLAND_TAGS}),
        http_trigger({"authType": "anonymous", "disableURLInternet": True}),
    ],
)
def test_an_intranet_or_licensed_mainland_endpoint_passes(private):
    assert icp_messages(MAINLAND_VPC, v3_function(MAINLAND_TAGS), private) == []


def test_a_public_function_passes_once_its_function_carries_the_icp_number():
    licensed = v3_function(MAINLAND_TAGS | {"icp-licence": ICP})
    assert icp_messages(licensed, http_trigger({}), CUSTOM_DOMAIN) == []


def test_untagged_kubernetes_endpoints_outside_the_mainland_pass_and_in_an_unknown_stack_are_reported():
    public = (service({}), helm({"service": {"addressType": "internet"}}))
    assert icp_messages(SINGAPORE_VPC, *public, region="ap-southeast-1") == []
    assert any("in an unknown region" in m for m in icp_messages(service({}), region=None))
    found = check(
        [resource(*service({}))],
        [bp.mainland_public_endpoint_icp],
        {"mainland-public-endpoint-icp": {"region": "cn-shanghai"}},
    )
    assert any("mainland China without an ICP" in m for m in messages(found))


# --- ACK: every kind of cluster keeps deletion protection ---------------------------------------------------


def _sdk_resources(module: str) -> dict[str, type]:
    """Every resource class of one pulumi_alicloud module, by type token."""
    source = Path(pulumi_alicloud.__file__).read_text(encoding="utf-8")
    modules = json.loads(re.search(r'resource_modules="""(.*?)"""', source, re.S).group(1))
    found = {}
    for entry in modules:
        if module and entry["fqn"] != f"pulumi_alicloud.{module}":
            continue
        loaded = importlib.import_module(entry["fqn"])
        for token, name in entry["classes"].items():
            cls = getattr(loaded, name, None)
            if cls is not None:
                found[token] = cls
    return found


def _params(cls: type) -> set[str]:
    return set(inspect.signature(cls._internal_init).parameters)


def _taking(parameter: str) -> set[str]:
    """The type token of every resource of the SDK whose constructor takes that parameter, read from its generated
    source: the parameters of the class's `_internal_init` in its file (the module's folder, the resource's name in
    snake case), as inspect.signature would list them, without importing the SDK's 1,200 classes (seconds). A class
    not found where that layout puts it is imported and asked."""
    root = Path(pulumi_alicloud.__file__).parent
    modules = json.loads(re.search(r'resource_modules="""(.*?)"""', (root / "__init__.py").read_text(), re.S).group(1))
    found = set()
    for entry in modules:
        for token, name in entry["classes"].items():
            stem = re.sub(r"(?<!^)(?=[A-Z])", "_", entry["mod"].split("/")[-1]).lower()
            path = root.joinpath(*entry["fqn"].split(".")[1:], f"{stem}.py")
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            signature = re.search(
                rf"\nclass {name}\(pulumi\.CustomResource\):.*?\n    def _internal_init\(__self__,(.*?)\):\n",
                text,
                re.S,
            )
            if signature is None:
                cls = getattr(importlib.import_module(entry["fqn"]), name, None)
                taken = _params(cls) if cls is not None else set()
            else:
                taken = set(re.findall(r"^\s+(\w+):", signature.group(1), re.M))
            if parameter in taken:
                found.add(token)
    return found


def test_the_pack_knows_every_ack_cluster_kind_the_sdk_can_declare():
    kinds = {t for t, cls in _sdk_resources("cs").items() if "deletion_protection" in _params(cls)}
    assert kinds == set(bp.ACK_CLUSTERS)


@pytest.mark.parametrize("kind", bp.ACK_CLUSTERS)
def test_every_ack_cluster_kind_without_deletion_protection_is_refused(kind):
    unprotected = (kind, "cluster", {"deletionProtection": False, "tags": TAGS})
    assert any("deletionProtection: true" in m for m in messages(violations(bp.ack_deletion_protection, unprotected)))
    assert violations(bp.ack_deletion_protection, (kind, "cluster", {"deletionProtection": True})) == []


# --- tags: every taggable type, not only the ones declared today --------------------------------------------


def test_taggable_is_exactly_the_sdks_resources_that_accept_tags():
    taggable = _taking("tags")
    assert len(taggable) > 200, "the SDK scan found too few types: the scan itself is broken"
    assert sorted(taggable - bp.TAGGABLE) == [], "regenerate policy/alicloud_taggable_types.json"
    assert sorted(bp.TAGGABLE - taggable) == []


@pytest.mark.parametrize(
    "type_",
    [
        "alicloud:fc/v3Function:V3Function",
        "alicloud:cs/serverlessKubernetes:ServerlessKubernetes",
        "alicloud:nas/fileSystem:FileSystem",
    ],
)
def test_a_taggable_type_the_fleet_does_not_declare_today_still_needs_its_tags(type_):
    found = violations(bp.required_tags, (type_, "thing", {"tags": {"project": "beacon-fleet"}}))
    assert any("lacks the tags stack, owner" in m for m in messages(found))


# --- where a resource is comes from its provider's region, never from its tags ------------------------------

SG_CLAIM = MAINLAND_TAGS | {"jurisdiction": "sg", "region": "ap-southeast-1", "stack": "ap-southeast"}


@pytest.mark.parametrize(
    "public",
    [
        (http_trigger({"authType": "anonymous"}), "HTTP trigger"),
        (("alicloud:slb/loadBalancer:LoadBalancer", "clb", {"tags": SG_CLAIM}), "load balancer"),
        (("alicloud:alb/loadBalancer:LoadBalancer", "alb", {"addressType": "Internet", "tags": SG_CLAIM}), "load"),
    ],
)
def test_tags_claiming_another_jurisdiction_do_not_move_a_mainland_resource(public):
    resource_, what = public
    found = icp_messages(v3_function(SG_CLAIM), resource_)
    assert any(what in m and "mainland China without an ICP" in m for m in found), found


def test_an_explicit_providers_region_decides_where_its_resources_are():
    def provider(region: str) -> DeclaredResource:
        return resource("pulumi:providers:alicloud", f"p-{region}", {"region": region})

    def balancer(region: str, tags: dict) -> DeclaredResource:
        lb = resource(LOAD_BALANCER, f"clb-{region}", {"tags": tags})
        return dataclasses.replace(lb, options={"provider": f"{provider(region).urn}::id-1"})

    regions = {"alicloud": "ap-southeast-1"}  # the stack's default provider is abroad
    icp = [bp.mainland_public_endpoint_icp]
    mainland = check([provider("cn-beijing"), balancer("cn-beijing", SG_CLAIM)], icp, provider_regions=regions)
    assert any("mainland China without an ICP" in m for m in messages(mainland))
    abroad = [provider("ap-southeast-1"), balancer("ap-southeast-1", MAINLAND_TAGS)]
    assert messages(check(abroad, icp, provider_regions=regions)) == []
