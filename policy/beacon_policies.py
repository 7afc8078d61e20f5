"""The fleet's guardrails as Pulumi policies: what no stack of beacon-fleet may declare, whatever its config says.

The program already refuses most of this in its own settings; these policies check what was actually declared,
so a refactor, a new component or a hand edit that loses a safeguard fails `pulumi preview`, not production.

This module is importable on its own (tests, the offline plan); `__main__.py` only wraps it in a PolicyPack,
which starts a gRPC server and blocks. It depends on nothing but pulumi-policy: the pack runs in its own
virtualenv, and a guardrail that reused the program's tables could not catch a mistake in them.

Props are the resources' inputs with the engine's camelCase names, secrets unwrapped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

if __package__:  # imported as policy.beacon_policies (tests, the offline plan)
    from policy import provider_rules
else:  # the pack's own process, which runs in policy/
    import provider_rules

MANDATORY = EnforcementLevel.MANDATORY

BUCKET = "alicloud:oss/bucket:Bucket"
BUCKET_ACL = "alicloud:oss/bucketAcl:BucketAcl"
BUCKET_PUBLIC_ACCESS_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"
MANAGED_KUBERNETES = "alicloud:cs/managedKubernetes:ManagedKubernetes"
DEDICATED_KUBERNETES = "alicloud:cs/kubernetes:Kubernetes"
SERVERLESS_KUBERNETES = "alicloud:cs/serverlessKubernetes:ServerlessKubernetes"
EDGE_KUBERNETES = "alicloud:cs/edgeKubernetes:EdgeKubernetes"
# Every kind of ACK cluster the provider can declare; tests/test_policy_pack.py keeps it equal to the SDK's.
ACK_CLUSTERS = (MANAGED_KUBERNETES, DEDICATED_KUBERNETES, SERVERLESS_KUBERNETES, EDGE_KUBERNETES)
NODE_POOL = "alicloud:cs/nodePool:NodePool"
EAS_SERVICE = "alicloud:pai/service:Service"
HELM_RELEASES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")

# Where each workload kind keeps its pod spec; a Patch resource of the same kind can set the same fields.
_POD_SPECS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:core/v1:PodTemplate": ("template", "spec"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:batch/v1beta1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {**_POD_SPECS, **{f"{t}Patch": path for t, path in _POD_SPECS.items()}}
# Every list of containers a pod spec has; each can ask the scheduler for GPUs.
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

# ACK's node label for GPU sharing, and its values that mean cGPU (memory, or memory and compute, isolated).
GPU_SCHEDULE_LABEL = "ack.node.gpu.schedule"
CGPU_SCHEDULES = frozenset({"cgpu", "core_mem"})
GPU_MEM_RESOURCE = "aliyun.com/gpu-mem"  # GiB of one GPU's memory
WHOLE_GPU_RESOURCE = "nvidia.com/gpu"

# Memory of one GPU per ECS GPU family, GiB (Alibaba Cloud's "GPU-accelerated compute-optimized instance
# families" page). tests/test_policy_pack.py keeps it equal to the program's fleet/gpus.py.
GPU_MEMORY_GIB: dict[str, int] = {
    "gn6i": 16,
    "gn6v": 16,
    "gn6e": 32,
    "gn7i": 24,
    "gn7s": 24,
    "gn7": 40,
    "gn7e": 80,
    "gn8is": 48,
    "gn8v": 96,
}
_GPU_INSTANCE_TYPE = re.compile(r"^ecs\.(?P<family>gn[0-9]+[a-z]*)[.-]")

OSS_ENCRYPTION = frozenset({"AES256", "KMS", "SM4"})

# ICP filing (备案) numbers, e.g. 京ICP备12345678号 or 京ICP备12345678号-1, and ICP licences (京ICP证123456号).
# ASCII digits only and one CJK province character: \w and \d also match full-width letters and digits and
# Arabic-Indic digits ('京ICP备１２３４５６７８号'); `$` also matches before a final newline. Use fullmatch.
ICP_NUMBER = re.compile(r"[\u4e00-\u9fff]ICP[备证][0-9]{6,12}号(-[0-9]{1,4})?")
ICP_TAG = "icp-licence"

# Load balancers whose addressType decides whether they face the internet.
LOAD_BALANCERS = (
    "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer",
    "alicloud:slb/loadBalancer:LoadBalancer",
    "alicloud:alb/loadBalancer:LoadBalancer",
    "alicloud:nlb/loadBalancer:LoadBalancer",
)

# Function Compute: HTTP triggers answer on a public URL unless disableURLInternet, custom domains always do.
FC_HTTP_TRIGGERS = ("alicloud:fc/v3Trigger:V3Trigger", "alicloud:fc/trigger:Trigger")
FC_CUSTOM_DOMAINS = ("alicloud:fc/v3CustomDomain:V3CustomDomain", "alicloud:fc/customDomain:CustomDomain")
FC_FUNCTIONS = (
    "alicloud:fc/v3Function:V3Function",
    "alicloud:fc/function:Function",
    "alicloud:fc/v2Function:V2Function",
)
K8S_SERVICE = "kubernetes:core/v1:Service"
# Alibaba's cloud controller manager: the address type of a Service's load balancer (internet unless said
# otherwise), the existing load balancer it reuses, and the tags it puts on the one it creates.
CCM = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"

CCM_ADDRESS_TYPE = CCM + "address-type"
CCM_LOAD_BALANCER_ID = CCM + "id"
CCM_TAGS = CCM + "additional-resource-tags"

# ACR repositories and the namespace defaults that new repositories inherit.
ACR_REPO_TYPES = {
    "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo": "repoType",
    "alicloud:cr/repo:Repo": "repoType",
    "alicloud:cr/chartRepository:ChartRepository": "repoType",
    "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace": "defaultVisibility",
    "alicloud:cr/namespace:Namespace": "defaultVisibility",
    "alicloud:cr/chartNamespace:ChartNamespace": "defaultRepoType",
}

# Every Alibaba Cloud resource type that takes tags, read from the provider SDK (pulumi_alicloud) into
# alicloud_taggable_types.json: the pack runs without the SDK, and a list of only what the fleet declares today
# would let a newly declared type through. tests/test_policy_pack.py keeps the file equal to the SDK.
TAGGABLE = frozenset(json.loads((Path(__file__).parent / "alicloud_taggable_types.json").read_text(encoding="utf-8")))
REQUIRED_TAGS = ("project", "stack", "owner")


def _get(props: Mapping[str, Any] | None, *path: str) -> Any:
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _resource_validation(types: Iterable[str], check: Callable[[str, Mapping[str, Any], Callable[[str], None]], None]):
    """A validate callback that runs `check(type, props, report)` on the given resource types only."""
    wanted = frozenset(types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type in wanted:
            check(args.resource_type, args.props, report_violation)

    return validate


# --- OSS ------------------------------------------------------------------------------------------------------


def _bucket_name(resource: PolicyResource) -> Any:
    return resource.props.get("bucket")


def _validate_buckets_private(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    acls = {_bucket_name(r): r for r in args.resources if r.resource_type == BUCKET_ACL}
    blocks = {_bucket_name(r): r for r in args.resources if r.resource_type == BUCKET_PUBLIC_ACCESS_BLOCK}
    for r in args.resources:
        if r.resource_type == BUCKET_ACL and r.props.get("acl") != "private":
            report_violation(f"OSS ACL {r.name} grants '{r.props.get('acl')}'; model buckets must be private", r.urn)
        if r.resource_type == BUCKET_PUBLIC_ACCESS_BLOCK and r.props.get("blockPublicAccess") is not True:
            report_violation(f"{r.name} must set blockPublicAccess: true", r.urn)
        if r.resource_type != BUCKET:
            continue
        name = _bucket_name(r)
        acl = r.props.get("acl")
        if acl not in (None, "", "private"):
            report_violation(f"OSS bucket {r.name} has acl '{acl}'; set acl private", r.urn)
        if name not in acls and acl != "private":
            report_violation(f"OSS bucket {r.name} has no explicit private ACL; declare an oss.BucketAcl", r.urn)
        if name not in blocks:
            report_violation(
                f"OSS bucket {r.name} does not block public access; declare an oss.BucketPublicAccessBlock"
                " with blockPublicAccess: true",
                r.urn,
            )


oss_bucket_private = StackValidationPolicy(
    name="oss-bucket-private",
    description="OSS buckets are private: no public ACL, and public access blocked on every bucket.",
    enforcement_level=MANDATORY,
    validate=_validate_buckets_private,
)


def _check_bucket_encrypted(_type: str, props: Mapping[str, Any], report: Callable[[str], None]) -> None:
    algorithm = _get(props, "serverSideEncryptionRule", "sseAlgorithm")
    if algorithm not in OSS_ENCRYPTION:
        report("OSS bucket has no server-side encryption; set serverSideEncryptionRule.sseAlgorithm to AES256 or KMS")


oss_bucket_encrypted = ResourceValidationPolicy(
    name="oss-bucket-encrypted",
    description="OSS buckets encrypt objects at rest (AES256, KMS or SM4).",
    enforcement_level=MANDATORY,
    validate=_resource_validation([BUCKET], _check_bucket_encrypted),
)


def _check_bucket_versioned(_type: str, props: Mapping[str, Any], report: Callable[[str], None]) -> None:
    if _get(props, "versioning", "status") != "Enabled":
        report("OSS bucket is not versioned; set versioning.status to Enabled so overwritten weights can be restored")


oss_bucket_versioned = ResourceValidationPolicy(
    name="oss-bucket-versioned",
    description="OSS buckets keep object versions.",
    enforcement_level=MANDATORY,
    validate=_resource_validation([BUCKET], _check_bucket_versioned),
)


# --- ACK ------------------------------------------------------------------------------------------------------


def _check_ack_deletion_protection(_type: str, props: Mapping[str, Any], report: Callable[[str], None]) -> None:
    if props.get("deletionProtection") is not True:
        report("ACK cluster can be deleted by a stray `pulumi destroy`; set deletionProtection: true")


ack_deletion_protection = ResourceValidationPolicy(
    name="ack-deletion-protection",
    description="ACK clusters have deletion protection on.",
    enforcement_level=MANDATORY,
    validate=_resource_validation(ACK_CLUSTERS, _check_ack_deletion_protection),
)


def _check_ack_rrsa(type_: str, props: Mapping[str, Any], report: Callable[[str], None]) -> None:
    if type_ in (DEDICATED_KUBERNETES, EDGE_KUBERNETES):
        kind = "dedicated" if type_ == DEDICATED_KUBERNETES else "edge"
        report(f"ACK {kind} clusters have no RRSA; use a managed cluster (cs.ManagedKubernetes) with enableRrsa: true")
    elif props.get("enableRrsa") is not True:
        report("ACK cluster has no RRSA, so pods would need AccessKeys for OSS; set enableRrsa: true")


ack_rrsa = ResourceValidationPolicy(
    name="ack-rrsa",
    description="ACK clusters enable RRSA, so pods assume RAM roles instead of holding AccessKeys.",
    enforcement_level=MANDATORY,
    validate=_resource_validation(ACK_CLUSTERS, _check_ack_rrsa),
)


# --- cGPU pods ------------------------------------------------------------------------------------------------


def gpu_memory_of(instance_type: str) -> int | None:
    match = _GPU_INSTANCE_TYPE.match(instance_type)
    return GPU_MEMORY_GIB.get(match["family"]) if match else None


def _labels(pool: PolicyResource) -> dict[str, Any]:
    return {
        label.get("key"): label.get("value") for label in pool.props.get("labels") or [] if isinstance(label, Mapping)
    }


def _admits_cgpu(expression: Mapping[str, Any]) -> bool:
    """Whether a node selector requirement on the GPU schedule label can be met by a cGPU node."""
    values = set(expression.get("values") or [])
    operator = expression.get("operator")
    if operator == "In":
        return bool(CGPU_SCHEDULES & values)
    if operator == "NotIn":
        return not values >= CGPU_SCHEDULES
    return operator == "Exists"


def _tolerates(tolerations: Any, taint: Mapping[str, Any]) -> bool:
    """Kubernetes' toleration matching, for one taint."""
    for toleration in tolerations or []:
        if not isinstance(toleration, Mapping):
            continue
        if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
            continue
        key, operator = toleration.get("key"), toleration.get("operator") or "Equal"
        if operator == "Exists" and (not key or key == taint.get("key")):
            return True
        if operator == "Equal" and key == taint.get("key") and toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def _selects_cgpu(pod_spec: Mapping[str, Any], taints: Iterable[Mapping[str, Any]] = ()) -> bool:
    """Whether a pod can land on cGPU nodes: it selects them (nodeSelector, or a required node affinity term
    whose every requirement on the schedule label a cGPU node meets), or it tolerates a cGPU pool's taint and
    selects nothing that keeps it off them."""
    selected = (pod_spec.get("nodeSelector") or {}).get(GPU_SCHEDULE_LABEL)
    if selected is not None:
        return selected in CGPU_SCHEDULES
    required = _get(pod_spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    terms = [t for t in (required or {}).get("nodeSelectorTerms") or [] if isinstance(t, Mapping)]
    on_label = [[e for e in t.get("matchExpressions") or [] if e.get("key") == GPU_SCHEDULE_LABEL] for t in terms]
    if any(expressions and all(_admits_cgpu(e) for e in expressions) for expressions in on_label):
        return True
    if terms and all(expressions and not all(_admits_cgpu(e) for e in expressions) for expressions in on_label):
        return False  # every term keeps the pod off cGPU nodes, whatever it tolerates
    tolerations = [t for t in pod_spec.get("tolerations") or [] if isinstance(t, Mapping)]
    # An empty key with Exists tolerates every taint, whichever taint the cGPU pool has.
    if any(t.get("operator") == "Exists" and not t.get("key") for t in tolerations):
        return True
    return any(_tolerates(tolerations, taint) for taint in taints)


def _gpu_requests(pod_spec: Mapping[str, Any]) -> tuple[list[Any], bool]:
    """The GiB of GPU memory each container asks for (None for a spec that asks for none) and whether any
    container, init and ephemeral ones included, asks for whole GPUs in its requests or limits."""
    whole = False
    main: list[Any] = []
    init: list[Any] = []
    for list_name in CONTAINER_LISTS:
        for container in pod_spec.get(list_name) or []:
            resources = (container or {}).get("resources") or {}
            parts = [resources.get("limits") or {}, resources.get("requests") or {}]
            whole = whole or any(WHOLE_GPU_RESOURCE in part for part in parts)
            asked = next((part[GPU_MEM_RESOURCE] for part in parts if GPU_MEM_RESOURCE in part), None)
            if asked is not None:
                (main if list_name == "containers" else init).append(asked)
    return (main + init) or [None], whole


def _walk(value: Any) -> Iterator[Mapping[str, Any]]:
    """Every mapping inside a Helm values tree."""
    if isinstance(value, Mapping):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def _helm_on_cgpu(values: Mapping[str, Any], taints: Iterable[Mapping[str, Any]]) -> bool:
    """Any scheduling block anywhere in a release's values (this chart's gpu.*, or another chart's
    nodeSelector/affinity/tolerations at whatever depth) that puts its pods on cGPU nodes."""
    taints = list(taints)
    return any(
        _selects_cgpu(block, taints)
        for block in _walk(values)
        if {"nodeSelector", "affinity", "tolerations"} & set(block)
    )


def _whole_gib(quantity: Any) -> int | None:
    try:
        value = float(str(quantity))
    except ValueError:
        return None
    return int(value) if value.is_integer() and value > 0 else None


def _cgpu_capacity(args: StackValidationArgs, report_violation: ReportViolation) -> int | None:
    """The GPU memory every cGPU node is sure to have: the smallest GPU across the stack's cGPU pools."""
    configured = args.get_config().get("gpuMemoryGiB")
    sizes = []
    for pool in (r for r in args.resources if r.resource_type == NODE_POOL):
        if _labels(pool).get(GPU_SCHEDULE_LABEL) not in CGPU_SCHEDULES:
            continue
        for instance_type in pool.props.get("instanceTypes") or []:
            memory = gpu_memory_of(instance_type)
            if memory is None:
                report_violation(
                    f"cGPU node pool {pool.name} uses {instance_type}, whose GPU memory this policy does not know;"
                    " add its family to GPU_MEMORY_GIB in policy/beacon_policies.py",
                    pool.urn,
                )
            else:
                sizes.append(memory)
    if sizes:
        return min(sizes)
    return int(configured) if configured else None


def _cgpu_taints(args: StackValidationArgs) -> list[Mapping[str, Any]]:
    return [
        taint
        for pool in args.resources
        if pool.resource_type == NODE_POOL and _labels(pool).get(GPU_SCHEDULE_LABEL) in CGPU_SCHEDULES
        for taint in pool.props.get("taints") or []
        if isinstance(taint, Mapping)
    ]


def _validate_cgpu_pods(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    taints = _cgpu_taints(args)
    workloads = []  # (resource, what, [per-container GiB requests or None], asks for a whole GPU)
    for r in args.resources:
        if r.resource_type in HELM_RELEASES:
            values = r.props.get("values") or {}
            if _helm_on_cgpu(values, taints):
                whole = any(WHOLE_GPU_RESOURCE in block for block in _walk(values))
                workloads.append((r, "values.gpu.memGiB", [(values.get("gpu") or {}).get("memGiB")], whole))
        elif r.resource_type in POD_SPEC_PATHS:
            spec = _get(r.props, *POD_SPEC_PATHS[r.resource_type]) or {}
            if _selects_cgpu(spec, taints):
                asked, whole = _gpu_requests(spec)
                workloads.append((r, f"limits of {GPU_MEM_RESOURCE}", asked, whole))
    if not workloads:
        return
    capacity = _cgpu_capacity(args, report_violation)
    for r, what, asked, whole in workloads:
        if whole:
            report_violation(
                f"{r.name} runs on cGPU nodes but asks for {WHOLE_GPU_RESOURCE}, which takes a GPU out of sharing;"
                f" ask for {GPU_MEM_RESOURCE} instead",
                r.urn,
            )
        sizes = [_whole_gib(q) for q in asked]
        if None in sizes:
            report_violation(
                f"{r.name} runs on cGPU nodes without a whole number of GiB in {what}; without it the pod gets"
                " no GPU memory isolation",
                r.urn,
            )
            continue
        if capacity is None:
            report_violation(
                f"{r.name} runs on cGPU nodes, but the stack declares no cGPU node pool to size it against;"
                " set this policy's gpuMemoryGiB",
                r.urn,
            )
        elif sum(sizes) > capacity:
            report_violation(
                f"{r.name} asks for {sum(sizes)} GiB of GPU memory ({what}), more than the {capacity} GiB"
                " of one GPU in the cGPU pool; it can never be scheduled",
                r.urn,
            )


cgpu_pods_request_gpu_memory = StackValidationPolicy(
    name="cgpu-pods-request-gpu-memory",
    description=(
        f"Pods on cGPU nodes ask for {GPU_MEM_RESOURCE} (never {WHOLE_GPU_RESOURCE}), within one GPU's memory."
    ),
    enforcement_level=MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "gpuMemoryGiB": {
                "type": "integer",
                "minimum": 1,
                "description": "GPU memory of the cGPU nodes when their pool is declared in another stack.",
            }
        }
    ),
    validate=_validate_cgpu_pods,
)


# --- PAI-EAS --------------------------------------------------------------------------------------------------


def _eas_document(props: Mapping[str, Any], report: Callable[[str], None]) -> dict | None:
    try:
        document = json.loads(props.get("serviceConfig") or "")
    except (TypeError, ValueError):
        report("EAS serviceConfig is not a JSON document")
        return None
    return document if isinstance(document, dict) else None


def _check_eas_token_and_vpc(_type: str, props: Mapping[str, Any], report: Callable[[str], None]) -> None:
    document = _eas_document(props, report)
    if document is None:
        return
    written = [key for key in ("token", "credential.token") if _get(document, *key.split(".")) is not None]
    if written:
        report(
            f"EAS serviceConfig writes {' and '.join(written)}: it sits in the config in the clear, and EAS hides it"
            " on export, so every preview shows a change; leave it out, EAS generates the token and"
            " providers/eas_token.py reads it back as a secret"
        )
    networking = _get(document, "cloud", "networking") or {}
    missing = [key for key in ("vpc_id", "vswitch_id", "security_group_id") if not networking.get(key)]
    if missing:
        report(f"EAS service is not attached to the VPC; set cloud.networking.{', '.join(missing)} in serviceConfig")


eas_token_and_vpc = ResourceValidationPolicy(
    name="eas-token-and-vpc",
    description="PAI-EAS services leave their token to EAS (never written in the config) and sit in the region's VPC.",
    enforcement_level=MANDATORY,
    validate=_resource_validation([EAS_SERVICE], _check_eas_token_and_vpc),
)


# --- Mainland public endpoints --------------------------------------------------------------------------------


def _mainland_of(region: Any) -> bool | None:
    """Alibaba's mainland regions are cn-* except Hong Kong; None when the region is not known.

    Only ever a provider's region (or the policy's configured one): never a tag, since a resource's tags are
    whatever its declaration says (`jurisdiction: sg` on a function in cn-beijing changes nothing about where it
    runs or which law applies)."""
    if not isinstance(region, str) or not region:
        return None
    return region.startswith("cn-") and region != "cn-hongkong"


def _tags(resource: PolicyResource) -> Mapping[str, Any]:
    tags = resource.props.get("tags")
    return tags if isinstance(tags, Mapping) else {}


def _provider_region(resource: PolicyResource) -> Any:
    provider = getattr(resource, "provider", None)
    return provider.props.get("region") if provider is not None else None


def _stack_mainland(args: StackValidationArgs) -> bool | None:
    """Where the stack is, for what has no provider region of its own (Kubernetes objects, Helm releases): the
    policy's `region` config, else the regions of the stack's Alibaba providers (mainland if any of them is)."""
    configured = args.get_config().get("region")
    if configured:
        return _mainland_of(configured)
    said = [_mainland_of(_provider_region(r)) for r in args.resources if r.resource_type.startswith("alicloud:")]
    if True in said:
        return True
    return False if False in said else None


def _ccm_tags(annotations: Any) -> dict[str, str]:
    """The tags the cloud controller manager puts on a load balancer it creates ("k1=v1,k2=v2")."""
    text = (annotations or {}).get(CCM_TAGS, "") if isinstance(annotations, Mapping) else ""
    pairs = (item.split("=", 1) for item in str(text).split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def _k8s_service_public(spec: Mapping[str, Any], annotations: Mapping[str, Any]) -> bool:
    """A LoadBalancer Service whose load balancer the controller creates faces the internet unless annotated
    intranet; one that reuses a declared load balancer is that load balancer's business."""
    if spec.get("type") != "LoadBalancer" or annotations.get(CCM_LOAD_BALANCER_ID):
        return False
    return str(annotations.get(CCM_ADDRESS_TYPE, "internet")).lower() == "internet"


def _helm_public(values: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The annotations of the first internet load balancer a release's values ask the controller to create:
    this chart's service.addressType, or any chart's LoadBalancer service or address-type annotation."""
    for block in _walk(values):
        annotations = block.get("annotations") if isinstance(block.get("annotations"), Mapping) else {}
        if block.get("loadBalancerId") or annotations.get(CCM_LOAD_BALANCER_ID):
            continue  # a load balancer Pulumi declares, checked as itself
        if str(block.get("addressType", "")).lower() == "internet":
            return annotations
        if block.get("type") == "LoadBalancer" and _k8s_service_public(block, annotations):
            return annotations
        if str(block.get(CCM_ADDRESS_TYPE, "")).lower() == "internet":
            return block  # an annotations map itself
    return None


def _fc_functions(args: StackValidationArgs) -> dict[Any, PolicyResource]:
    return {
        r.props.get("functionName") or r.props.get("name"): r for r in args.resources if r.resource_type in FC_FUNCTIONS
    }


def _fc_public_trigger(r: PolicyResource) -> bool:
    if r.resource_type == "alicloud:fc/trigger:Trigger":
        return str(r.props.get("type", "")).lower() == "http"
    if str(r.props.get("triggerType", "")).lower() != "http":
        return False
    try:
        config = json.loads(r.props.get("triggerConfig") or "{}")
    except (TypeError, ValueError):
        config = {}
    return not (isinstance(config, dict) and config.get("disableURLInternet") in (True, "true"))


def _routed_functions(r: PolicyResource) -> list[Any]:
    routes = _get(r.props, "routeConfig", "routes") or r.props.get("routeConfigs") or []
    return [route.get("functionName") for route in routes if isinstance(route, Mapping)]


# Every resource type _public_endpoints looks at; each Alibaba serving kind's public endpoint types (fleet/kinds.py)
# must be among them (tests/test_kinds.py), so a new kind's endpoint cannot go public without an ICP check.
PUBLIC_ENDPOINT_TYPES = frozenset(
    (*LOAD_BALANCERS, EAS_SERVICE, K8S_SERVICE, *HELM_RELEASES, *FC_HTTP_TRIGGERS, *FC_CUSTOM_DOMAINS)
)


def _public_endpoints(args: StackValidationArgs) -> Iterator[tuple[PolicyResource, str, Mapping[str, Any], Any]]:
    """(resource, what it is, the tags that would carry its ICP number, its region if known) for every public
    endpoint the stack declares."""
    functions = _fc_functions(args)
    for r in args.resources:
        props, type_ = r.props, r.resource_type
        if type_ in LOAD_BALANCERS:
            address = str(props.get("addressType") or "").lower()
            ipv6 = str(props.get("ipv6AddressType") or "").lower()
            # A classic load balancer without a vSwitch defaults to internet.
            if "internet" in (address, ipv6) or (not address and not props.get("vswitchId")):
                yield r, "an internet-facing load balancer", _tags(r), _provider_region(r)
        elif type_ == EAS_SERVICE:
            document = _eas_document(props, lambda _message: None) or {}
            if _get(document, "networking", "disable_internet_endpoint") not in ("true", True):
                yield r, "a PAI-EAS service with its internet endpoint enabled", _tags(r), _provider_region(r)
        elif type_ == K8S_SERVICE:
            annotations = _get(props, "metadata", "annotations") or {}
            if _k8s_service_public(props.get("spec") or {}, annotations):
                yield r, "a LoadBalancer Service the controller exposes to the internet", _ccm_tags(annotations), None
        elif type_ in HELM_RELEASES:
            annotations = _helm_public(props.get("values") or {})
            if annotations is not None:
                yield r, "a Helm release whose Service gets an internet load balancer", _ccm_tags(annotations), None
        elif type_ in FC_HTTP_TRIGGERS and _fc_public_trigger(r):
            function = functions.get(props.get("functionName") or props.get("function"))
            tags = _tags(function) if function is not None else {}
            yield r, "a Function Compute HTTP trigger with its internet URL on", tags, _provider_region(r)
        elif type_ in FC_CUSTOM_DOMAINS:
            routed = [functions[name] for name in _routed_functions(r) if name in functions]
            tags = next((_tags(f) for f in routed if _tags(f).get(ICP_TAG)), _tags(routed[0]) if routed else {})
            yield r, "a Function Compute custom domain", tags, _provider_region(r)


def _validate_mainland_icp(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    stack_mainland: bool | None = None
    for r, endpoint, tags, region in _public_endpoints(args):
        mainland = _mainland_of(region)
        if mainland is None:
            stack_mainland = _stack_mainland(args) if stack_mainland is None else stack_mainland
            mainland = stack_mainland
        if mainland is None:
            report_violation(
                f"{r.name} is {endpoint} in an unknown region; give it an explicit alicloud provider with its"
                " region, or set this policy's region",
                r.urn,
            )
        elif mainland:
            licence = str(tags.get(ICP_TAG) or "")
            if not ICP_NUMBER.fullmatch(licence):
                report_violation(
                    f"{r.name} is {endpoint} in mainland China without an ICP licence number"
                    f" (tag {ICP_TAG}: {licence or 'missing'}); set icpLicence, or keep it intranet",
                    r.urn,
                )


mainland_public_endpoint_icp = StackValidationPolicy(
    name="mainland-public-endpoint-icp",
    description=(
        "A public endpoint in a mainland China region (load balancer, LoadBalancer Service or Helm release,"
        " EAS internet endpoint, Function Compute HTTP trigger or custom domain) carries its ICP licence number."
    ),
    enforcement_level=MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "region": {
                "type": "string",
                "description": "The stack's Alibaba region, for public endpoints that carry no tags of their own.",
            }
        }
    ),
    validate=_validate_mainland_icp,
)


# --- ACR ------------------------------------------------------------------------------------------------------


def _check_acr_private(type_: str, props: Mapping[str, Any], report: Callable[[str], None]) -> None:
    key = ACR_REPO_TYPES[type_]
    if str(props.get(key, "")).upper() != "PRIVATE":
        report(f"ACR {type_.rsplit(':', 1)[-1]} has {key} '{props.get(key)}'; serving images stay PRIVATE")


acr_repositories_private = ResourceValidationPolicy(
    name="acr-repositories-private",
    description="ACR repositories, and the namespaces new repositories inherit from, are private.",
    enforcement_level=MANDATORY,
    validate=_resource_validation(ACR_REPO_TYPES, _check_acr_private),
)


# --- Tags -----------------------------------------------------------------------------------------------------


def _validate_required_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in TAGGABLE:
        return
    required = args.get_config().get("tags") or REQUIRED_TAGS
    tags = args.props.get("tags") or {}
    missing = [tag for tag in required if not tags.get(tag)]
    if missing:
        report_violation(f"{args.name} lacks the tags {', '.join(missing)}; cost reports and cleanup rely on them")


required_tags = ResourceValidationPolicy(
    name="required-tags",
    description="Taggable Alibaba Cloud resources carry the project, stack and owner tags.",
    enforcement_level=MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"tags": {"type": "array", "items": {"type": "string"}, "description": "tags every resource needs"}}
    ),
    validate=_validate_required_tags,
)


# --- The provider's own rules ---------------------------------------------------------------------------------


def _check_provider_schema(type_: str, props: Mapping[str, Any], report: Callable[[str], None]) -> None:
    for violation in provider_rules.violations(type_, props):
        report(f"{type_.rsplit(':', 1)[-1]}: {violation}")


alicloud_provider_schema = ResourceValidationPolicy(
    name="alicloud-provider-schema",
    description="Alibaba Cloud inputs pass the bridged provider's own schema rules (policy/alicloud_rules.json).",
    enforcement_level=MANDATORY,
    validate=_resource_validation(provider_rules.rules()["resources"], _check_provider_schema),
)


# --- The budget -----------------------------------------------------------------------------------------------

# The region stack's cost view as a resource (components/cost_budget.py); its inputs carry the figures.
COST_BUDGET = "beacon-fleet:cost:Budget"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _check_budget(_type: str, props: Mapping[str, Any], report: Callable[[str], None]) -> None:
    """Over when the known yearly cost exceeds yearlyBudgetUsd, or a platform's configured maximum exceeds what
    the budget pays for; compared here from the figures, so a mistake in the program's verdict cannot hide it."""
    budget = _number(props.get("yearlyBudgetUsd"))
    if budget is None:
        return  # no budget configured
    known = _number(props.get("knownYearlyUsd"))
    if known is None:
        report("the region's known yearly cost is missing; the budget cannot be checked")
        return
    if known > budget:
        dearest = ", ".join(str(d) for d in props.get("dearest") or []) or "none priced"
        cheapest = props.get("cheapestPlacement") or "none priced"
        volume = _number(props.get("requestsPerMonth"))
        job = _number(props.get("requestsPerJob"))
        at = f" at {volume:,.0f} requests a month in jobs of {job:g}" if volume is not None and job is not None else ""
        report(
            f"{props.get('region', '')}: the known cost a year{at}, ${known:,.2f}, exceeds yearlyBudgetUsd"
            f" (${budget:,.2f}); dearest: {dearest}; the cheapest residency-respecting placement is {cheapest}"
            " (servingPlatforms, failoverOrder), or raise the budget"
        )
    for key, maximum in sorted((props.get("maxima") or {}).items()):
        configured, allowed = _number(_get(maximum, "configured")), _number(_get(maximum, "allowed"))
        if configured is not None and allowed is not None and configured > allowed:
            report(
                f"{props.get('region', '')}: {key} allows {configured:g}, but the budget pays for at most"
                f" {allowed:g}; lower it or raise yearlyBudgetUsd"
            )


fleet_budget = ResourceValidationPolicy(
    name="fleet-budget",
    description="A region's known yearly cost, and every platform's maximum, stay within its yearlyBudgetUsd.",
    enforcement_level=MANDATORY,
    validate=_resource_validation([COST_BUDGET], _check_budget),
)


ALL_POLICIES = [
    oss_bucket_private,
    oss_bucket_encrypted,
    oss_bucket_versioned,
    ack_deletion_protection,
    ack_rrsa,
    cgpu_pods_request_gpu_memory,
    eas_token_and_vpc,
    mainland_public_endpoint_icp,
    acr_repositories_private,
    required_tags,
    alicloud_provider_schema,
    fleet_budget,
]
