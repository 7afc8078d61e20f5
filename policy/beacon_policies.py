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
from collections.abc import Callable, Iterable, Mapping
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

MANDATORY = EnforcementLevel.MANDATORY

BUCKET = "alicloud:oss/bucket:Bucket"
BUCKET_ACL = "alicloud:oss/bucketAcl:BucketAcl"
BUCKET_PUBLIC_ACCESS_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"
MANAGED_KUBERNETES = "alicloud:cs/managedKubernetes:ManagedKubernetes"
DEDICATED_KUBERNETES = "alicloud:cs/kubernetes:Kubernetes"
NODE_POOL = "alicloud:cs/nodePool:NodePool"
EAS_SERVICE = "alicloud:pai/service:Service"
HELM_RELEASES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

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
ICP_NUMBER = re.compile(r"^\w{1,2}ICP[备证]\d{6,}号(-\d+)?$")
ICP_TAG = "icp-licence"

# Load balancers whose addressType decides whether they face the internet.
LOAD_BALANCERS = (
    "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer",
    "alicloud:slb/loadBalancer:LoadBalancer",
    "alicloud:alb/loadBalancer:LoadBalancer",
    "alicloud:nlb/loadBalancer:LoadBalancer",
)

# ACR repositories and the namespace defaults that new repositories inherit.
ACR_REPO_TYPES = {
    "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo": "repoType",
    "alicloud:cr/repo:Repo": "repoType",
    "alicloud:cr/chartRepository:ChartRepository": "repoType",
    "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace": "defaultVisibility",
    "alicloud:cr/namespace:Namespace": "defaultVisibility",
    "alicloud:cr/chartNamespace:ChartNamespace": "defaultRepoType",
}

# The Alibaba Cloud types this fleet declares that take tags. tests/test_policy_pack.py checks the list against
# the provider SDK, so a newly declared taggable type cannot slip past required-tags.
TAGGABLE = frozenset(
    {
        BUCKET,
        MANAGED_KUBERNETES,
        DEDICATED_KUBERNETES,
        NODE_POOL,
        EAS_SERVICE,
        "alicloud:vpc/network:Network",
        "alicloud:vpc/switch:Switch",
        "alicloud:ecs/securityGroup:SecurityGroup",
        "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance",
        "alicloud:ram/role:Role",
        "alicloud:ram/policy:Policy",
        "alicloud:slb/acl:Acl",
        "alicloud:kms/key:Key",
        "alicloud:fc/v3Function:V3Function",
        *LOAD_BALANCERS,
    }
)
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
    validate=_resource_validation([MANAGED_KUBERNETES, DEDICATED_KUBERNETES], _check_ack_deletion_protection),
)


def _check_ack_rrsa(type_: str, props: Mapping[str, Any], report: Callable[[str], None]) -> None:
    if type_ == DEDICATED_KUBERNETES:
        report(
            "ACK dedicated clusters have no RRSA; use a managed cluster (cs.ManagedKubernetes) with enableRrsa: true"
        )
    elif props.get("enableRrsa") is not True:
        report("ACK cluster has no RRSA, so pods would need AccessKeys for OSS; set enableRrsa: true")


ack_rrsa = ResourceValidationPolicy(
    name="ack-rrsa",
    description="ACK clusters enable RRSA, so pods assume RAM roles instead of holding AccessKeys.",
    enforcement_level=MANDATORY,
    validate=_resource_validation([MANAGED_KUBERNETES, DEDICATED_KUBERNETES], _check_ack_rrsa),
)


# --- cGPU pods ------------------------------------------------------------------------------------------------


def gpu_memory_of(instance_type: str) -> int | None:
    match = _GPU_INSTANCE_TYPE.match(instance_type)
    return GPU_MEMORY_GIB.get(match["family"]) if match else None


def _labels(pool: PolicyResource) -> dict[str, Any]:
    return {
        label.get("key"): label.get("value") for label in pool.props.get("labels") or [] if isinstance(label, Mapping)
    }


def _selects_cgpu(pod_spec: Mapping[str, Any]) -> bool:
    if (pod_spec.get("nodeSelector") or {}).get(GPU_SCHEDULE_LABEL) in CGPU_SCHEDULES:
        return True
    required = _get(pod_spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    for term in (required or {}).get("nodeSelectorTerms") or []:
        for expression in term.get("matchExpressions") or []:
            if (
                expression.get("key") == GPU_SCHEDULE_LABEL
                and expression.get("operator") == "In"
                and CGPU_SCHEDULES & set(expression.get("values") or [])
            ):
                return True
    return False


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


def _validate_cgpu_pods(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    workloads = []  # (resource, what, [per-container GiB requests or None], asks for a whole GPU)
    for r in args.resources:
        if r.resource_type in HELM_RELEASES:
            gpu = _get(r.props, "values", "gpu") or {}
            if (gpu.get("nodeSelector") or {}).get(GPU_SCHEDULE_LABEL) in CGPU_SCHEDULES:
                workloads.append((r, "values.gpu.memGiB", [gpu.get("memGiB")], False))
        elif r.resource_type in POD_SPEC_PATHS:
            spec = _get(r.props, *POD_SPEC_PATHS[r.resource_type]) or {}
            if _selects_cgpu(spec):
                limits = [(c.get("resources") or {}).get("limits") or {} for c in spec.get("containers") or []]
                asked = [lim.get(GPU_MEM_RESOURCE) for lim in limits if GPU_MEM_RESOURCE in lim]
                whole = any(WHOLE_GPU_RESOURCE in lim for lim in limits)
                workloads.append((r, f"limits of {GPU_MEM_RESOURCE}", asked or [None], whole))
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
    if not document.get("token"):
        report("EAS service has no token, so anyone who reaches it can call it; set `token` in serviceConfig")
    networking = _get(document, "cloud", "networking") or {}
    missing = [key for key in ("vpc_id", "vswitch_id", "security_group_id") if not networking.get(key)]
    if missing:
        report(f"EAS service is not attached to the VPC; set cloud.networking.{', '.join(missing)} in serviceConfig")


eas_token_and_vpc = ResourceValidationPolicy(
    name="eas-token-and-vpc",
    description="PAI-EAS services require a token and are attached to the region's VPC.",
    enforcement_level=MANDATORY,
    validate=_resource_validation([EAS_SERVICE], _check_eas_token_and_vpc),
)


# --- Mainland public endpoints --------------------------------------------------------------------------------


def _is_mainland(args: ResourceValidationArgs) -> bool | None:
    """Alibaba's mainland regions are cn-* except Hong Kong; None when the resource does not say."""
    tags = args.props.get("tags") or {}
    if tags.get("jurisdiction"):
        return tags["jurisdiction"] == "cn-mainland"
    region = tags.get("region") or (args.provider.props.get("region") if args.provider else None)
    if not region:
        return None
    return region.startswith("cn-") and region != "cn-hongkong"


def _public_endpoint(args: ResourceValidationArgs) -> str | None:
    if args.resource_type in LOAD_BALANCERS and str(args.props.get("addressType", "")).lower() == "internet":
        return "an internet-facing load balancer"
    if args.resource_type == EAS_SERVICE:
        document = _eas_document(args.props, lambda _message: None) or {}
        if _get(document, "networking", "disable_internet_endpoint") not in ("true", True):
            return "a PAI-EAS service with its internet endpoint enabled"
    if args.resource_type == "alicloud:fc/v3Function:V3Function":  # its HTTP trigger has a public URL
        return "a Function Compute function with a public HTTP trigger"
    return None


def _validate_mainland_icp(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    endpoint = _public_endpoint(args)
    if endpoint is None:
        return
    mainland = _is_mainland(args)
    if mainland is None:
        report_violation(f"{args.name} is {endpoint} in an unknown region; tag it with region and jurisdiction")
    elif mainland:
        licence = (args.props.get("tags") or {}).get(ICP_TAG, "")
        if not ICP_NUMBER.match(licence):
            report_violation(
                f"{args.name} is {endpoint} in mainland China without an ICP licence number"
                f" (tag {ICP_TAG}: {licence or 'missing'}); set icpLicence, or keep it intranet"
            )


mainland_public_endpoint_icp = ResourceValidationPolicy(
    name="mainland-public-endpoint-icp",
    description="A public endpoint in a mainland China region carries its ICP licence number.",
    enforcement_level=MANDATORY,
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
]
