"""What the real clouds refuse or break on, modelled so the offline plan fails where a real `pulumi up` would.

The mock engine accepts any argument the SDK accepts. Where we know better (../shared/reference/
real-cloud-behaviour.md, each rule naming its source), the recording monitor hands every registration to
`RealCloud.admit` before the simulated cloud answers it; a rule that would fail the deployment raises
`CloudRefusal`, which stops the synthesis with the rule's message. `finish` runs the checks that need the
whole stack (what the GPU nodes can schedule).

Figures marked *estimate* are ours, not a vendor's; they make the simulation concrete and are listed in
docs/deploying.md as unverified.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pulumi
import yaml

from offline import cloud_facts
from offline.cloud_facts import PROJECT_ROOT
from policy import provider_rules

# What the simulated cloud knows comes from offline/cloud_facts.json (each fact with its source and trust) and the
# provider's own rules (policy/alicloud_rules.json), never from the program's tables in fleet/: a wrong program
# table would then pass both the program and its "cloud". tests/test_cloud_facts.py compares the two, and
# tests/test_layers.py keeps fleet's tables out of this module. Chart values keys (`values.gpu.memGiB`, ...) and
# the weights sync's inputs are read as the interface they are: what the program asked the cloud to run.

SOURCE = "../shared/reference/real-cloud-behaviour.md"
# The provider's default create timeout for alicloud_pai_service, from its schema (policy/alicloud_rules.json).
EAS_PROVIDER_DEFAULT_CREATE = provider_rules.default_timeout_seconds("alicloud:pai/service:Service", "create")
# *estimate*: a GPU instance started and a several-GB image pulled before the model starts loading.
EAS_PROVISION_SECONDS = cloud_facts.value("eas_provision_estimate_seconds")
# *estimate*: a model's start, container start to ready (the CUDA context, graph capture, the weights' read).
MODEL_LOAD = cloud_facts.value("model_load_estimate")
_SCHEDULE = cloud_facts.value("ack_gpu_schedule_label")
GPU_SCHEDULE_LABEL = _SCHEDULE["label"]
CGPU_ISOLATING_LABELS = tuple(_SCHEDULE["isolating"])
CGPU_MAX_PODS_PER_GPU = cloud_facts.value("ack_gpu_pods_per_gpu")
GPUSHARE_UNIT_MIB = cloud_facts.value("ack_gpushare_units")["unit_mib"]
ACR_HELPER_ADDONS = tuple(cloud_facts.value("ack_acr_credential_helper")["addons"])
METRICS_ADAPTER_ADDON = cloud_facts.value("ack_metrics_adapter_addon")
NVIDIA_DRIVER_LABEL = cloud_facts.value("ack_nvidia_driver_label")
# ACK's published NVIDIA driver list. Which driver ACK installs when a pool's label names none (or one not in the
# list) is not stated by any source we have, so the simulation assumes nothing: such a pool is refused.
ACK_DRIVERS = tuple(cloud_facts.value("ack_nvidia_drivers"))
# The oldest driver branch each CUDA major release runs on, with CUDA's minor version compatibility.
MIN_DRIVER_MAJOR = cloud_facts.value("cuda_minimum_driver_major")
CUDA_COMPATIBILITY_SOURCE = "docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html, Table 1"
VLLM_CUDA = cloud_facts.value("vllm_cuda_generation")
# ECS GPU families: GPU, memory, NVML MiB (None where no source gives it) and the instance types of each.
GPU_FAMILIES = cloud_facts.value("ecs_gpu_families")
_GPU_TYPE_SHAPE = re.compile(cloud_facts.value("ecs_gpu_type_shape"))
# Model architectures by Hugging Face repository (config.json), and what vLLM holds per parameter and KV element.
MODELS = cloud_facts.value("models")
WEIGHT_BYTES = cloud_facts.value("vllm_weight_bytes_per_parameter")
KV_CACHE_BYTES = cloud_facts.value("vllm_kv_cache_bytes_per_element")
GIB = 2**30
# EAS storage keys the "Mount storage to services" guide documents for an OSS mount.
EAS_OSS_KEYS = set(cloud_facts.value("eas_oss_mount_keys"))
# How DescribeService exports a service's config: hidden keys dropped, aliases under their exported name.
EAS_HIDDEN_ON_EXPORT = tuple(cloud_facts.value("eas_export")["hidden"])
EAS_EXPORTED_AS = cloud_facts.value("eas_export")["exported_as"]
_ENTERPRISE_DOMAIN = re.compile(cloud_facts.value("acr_enterprise_domain"))
FC_GPU_REGIONS = tuple(cloud_facts.value("fc_gpu_regions"))
FC_GPU_TYPES = cloud_facts.value("fc_gpu_types")
FC_MEMORY_STEP_MB = cloud_facts.value("fc_gpu_memory_step_mb")
SERVING_IMAGE = cloud_facts.value("serving_image")

POOL_TYPE = "alicloud:cs/nodePool:NodePool"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
EAS_TYPE = "alicloud:pai/service:Service"
EAS_TOKEN_TYPE = "pulumi-python:dynamic/eas:ServiceToken"
CLUSTER_TYPE = "alicloud:cs/managedKubernetes:ManagedKubernetes"
ADDON_TYPE = "alicloud:cs/kubernetesAddon:KubernetesAddon"
K8S_PROVIDER_TYPE = "pulumi:providers:kubernetes"
IMAGE_TYPE = "docker:index/image:Image"
ACR_INSTANCE_TYPE = "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance"
ACR_INTERNET_TYPE = "alicloud:cr/internetEndpoint:InternetEndpoint"
AUTOSCALER_TYPE = "alicloud:cs/autoscalingConfig:AutoscalingConfig"
WEIGHTS_TYPE = "pulumi-python:dynamic/weights:Sync"
FC_FUNCTION_TYPE = "alicloud:fc/v3Function:V3Function"
ACR_LINKED_VPC_TYPE = "alicloud:cr/vpcEndpointLinkedVpc:VpcEndpointLinkedVpc"
FC_DEFAULT_PORT = cloud_facts.value("fc_default_port")  # customContainerConfig.port when unset


class CloudRefusal(pulumi.RunError):
    """What the real cloud would do to this registration; the message names the resource, the cause and the fix."""


@dataclass(frozen=True)
class Registration:
    """One RegisterResource call as the engine receives it, secrets revealed (the simulation only reads them)."""

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any] = field(repr=False)  # revealed secrets: never in a repr, a log or an error
    dependencies: tuple[str, ...] = ()
    parent: str = ""
    create_timeout: str = ""  # customTimeouts.create as the SDK sends it ("30m"), empty when unset


@dataclass
class RealCloud:
    region: str
    registered: dict[str, Registration] = field(default_factory=dict)
    sim_ids: dict[str, str] = field(default_factory=dict)  # urn -> the simulated id the cloud answered

    def admit(self, reg: Registration) -> None:
        check = _RULES.get(reg.type)
        if check is not None:
            check(self, reg)
        findings = _FINDINGS_RULES.get(reg.type)
        if findings is not None:
            findings(self, reg)

    def record(self, reg: Registration, resource_id: str) -> None:
        self.registered[reg.urn] = reg
        self.sim_ids[reg.urn] = resource_id

    def finish(self) -> None:
        """Whole-stack checks, once every resource is registered."""
        _check_autoscaler(self)
        _check_gpu_scheduling(self)

    # What the simulated cloud knows, derived from what was registered.
    def of_type(self, typ: str) -> list[Registration]:
        # The mock engine registers resources from its worker threads while a rule reads: copy first (one C-level
        # call, atomic under the GIL), so iteration never sees the dict change size.
        return [r for r in tuple(self.registered.values()) if r.type == typ]

    def acr_instance_ids(self) -> dict[str, str]:
        """ACR Enterprise instance name -> the id the simulated cloud gave it."""
        return {r.inputs.get("instanceName"): self.sim_ids[r.urn] for r in self.of_type(ACR_INSTANCE_TYPE)}

    def closure(self, reg: Registration) -> set[str]:
        """Every URN a registration waits for: its dependencies, theirs, and its parents' (transitively)."""
        seen: set[str] = set()
        todo = [*reg.dependencies, reg.parent]
        while todo:
            urn = todo.pop()
            if not urn or urn in seen:
                continue
            seen.add(urn)
            found = self.registered.get(urn)
            if found is not None:
                todo.extend([*found.dependencies, found.parent])
        return seen


def seconds(duration: str) -> int | None:
    """A Pulumi custom timeout ("1h30m", "45m", "90s") in seconds; None when unset or unreadable."""
    parts = re.findall(r"(\d+)([hms])", duration or "")
    if not parts or "".join(n + u for n, u in parts) != duration:
        return None
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def _refuse(reg: Registration, what: str, fix: str) -> None:
    raise CloudRefusal(
        f"the real cloud would fail {reg.type.rsplit(':', 1)[-1]} '{reg.name}': {what}; {fix} ({SOURCE})"
    )


def _check_eas_timeout(cloud: RealCloud, reg: Registration) -> None:
    """PAI-EAS: the provider waits for Running for 5 minutes unless told otherwise; a GPU service takes longer."""
    config = json_object(reg.inputs.get("serviceConfig"))
    model = _env(config, "SERVED_MODEL_NAME")
    needed = EAS_PROVISION_SECONDS + _startup_seconds(cloud, model, config)
    timeout = seconds(reg.create_timeout) or EAS_PROVIDER_DEFAULT_CREATE
    if timeout < needed:
        shown = reg.create_timeout or "the provider's default of 5m"
        _refuse(
            reg,
            f"create waits {shown} for status Running, but instance start, image pull and loading"
            f" {model or 'the model'} take about {math.ceil(needed / 60)} minutes in the simulation",
            f"give it custom_timeouts create of at least {math.ceil(needed / 60)}m",
        )


def _check_weights_first(cloud: RealCloud, reg: Registration, model: str) -> None:
    """Serving mounts oss://<bucket>/models/<id>/ read-only with HF_HUB_OFFLINE=1: an empty prefix never loads."""
    syncs = [w.urn for w in cloud.of_type(WEIGHTS_TYPE) if w.inputs.get("model_id") == model]
    if not set(syncs) & cloud.closure(reg):
        _refuse(
            reg,
            f"it starts serving {model or 'its model'} from the bucket before the weights are synced there, so the"
            " server finds an empty directory and never becomes ready",
            "make it depend on the model's weights sync",
        )


def eas_export(config: Mapping[str, Any]) -> dict[str, Any]:
    """A service config as DescribeService returns it: hidden keys dropped, aliases under their exported name."""
    exported = json.loads(json.dumps(config))
    for dotted in EAS_HIDDEN_ON_EXPORT:
        _pop(exported, dotted)
    for alias, canonical in EAS_EXPORTED_AS.items():
        found = _pop(exported, alias)
        if found is not None:
            _put(exported, canonical, found)
    # Issue 26, finding 6: with an autoscaler, metadata.instance is the autoscaler's to change, and the export shows
    # its current count (here the most it may reach). Whether EAS exports the count when it was not written is not
    # verified (docs/deploying.md); the simulation shows it only where the program wrote one.
    scaler = exported.get("autoscaler") or {}
    metadata = exported.get("metadata")
    if isinstance(metadata, dict) and "instance" in metadata and scaler.get("max", 0) > scaler.get("min", 0):
        metadata["instance"] = scaler["max"]
    return exported


def _check_eas_round_trip(reg: Registration, config: Mapping[str, Any]) -> None:
    """The provider stores DescribeService's export and compares it with the program's JSON (canonical JSON,
    `compareJsonTemplateAreEquivalent`): a config that does not survive the export never stops changing."""
    exported = eas_export(config)
    if json.dumps(exported, sort_keys=True) == json.dumps(config, sort_keys=True):
        return
    hidden = [k for k in EAS_HIDDEN_ON_EXPORT if _get(config, k) is not None]
    renamed = [f"{a} as {c}" for a, c in EAS_EXPORTED_AS.items() if _get(config, a) is not None]
    counted = (
        ["the autoscaler's current count as metadata.instance"]
        if _get(exported, "metadata.instance") != _get(config, "metadata.instance")
        else []
    )
    what = "; ".join(
        [
            *([f"hides {', '.join(hidden)}"] if hidden else []),
            *([f"exports {', '.join([*renamed, *counted])}"] if renamed or counted else []),
        ]
    )
    _refuse(
        reg,
        f"EAS {what} when it exports the config, and the provider compares that export with the program's JSON,"
        " so every preview shows serviceConfig changed and every `up` rolls the service",
        "leave the token to EAS (EasServiceToken reads it back), the instance count to the autoscaler, and write"
        " each key under its exported name",
    )


def _check_eas(cloud: RealCloud, reg: Registration) -> None:
    _check_eas_timeout(cloud, reg)
    config = json_object(reg.inputs.get("serviceConfig"))
    _check_eas_round_trip(reg, config)
    _check_weights_first(cloud, reg, _env(config, "SERVED_MODEL_NAME"))
    if _env(config, "VLLM_API_KEY"):
        _refuse(
            reg,
            "vLLM inside it demands `Authorization: Bearer <key>` while callers send the token as EAS documents it"
            " (`Authorization: <token>`), so every request is refused",
            "let the EAS gateway check the token and run vLLM without a key behind it",
        )
    for mount in config.get("storage") or []:
        extra = set(mount.get("oss") or {}) - EAS_OSS_KEYS
        if extra:
            _refuse(
                reg,
                f"its OSS mount sets {', '.join(sorted(extra))}, which EAS does not document",
                "use oss.path and oss.readOnly, and the top-level oss_endpoint",
            )


def _check_gpu_pool(cloud: RealCloud, reg: Registration) -> None:
    """ACK installs the driver a GPU pool's label names, if ACK lists it; otherwise its default."""
    if not _is_gpu_pool(reg):
        return
    labels = {entry.get("key"): entry.get("value") for entry in reg.inputs.get("labels") or []}
    driver = labels.get(NVIDIA_DRIVER_LABEL)
    cuda = serving_image_cuda()
    cuda_major = cuda.split(".")[0]
    if cuda == "unknown":
        _refuse(
            reg,
            "the serving image installs a vLLM whose CUDA generation no fact here gives, so no driver can be checked",
            "add its version to vllm_cuda_generation in offline/cloud_facts.json with its source",
        )
    if cuda_major not in MIN_DRIVER_MAJOR:
        _refuse(
            reg,
            f"the serving image's CUDA {cuda} has no known minimum driver here",
            "add its major release to cuda_minimum_driver_major in offline/cloud_facts.json with its source"
            f" ({CUDA_COMPATIBILITY_SOURCE})",
        )
    if driver not in ACK_DRIVERS:
        why = f"its label names {driver}, which ACK does not list" if driver else "no driver label is set"
        _refuse(
            reg,
            f"{why}, so ACK installs its default driver, which no source names, for the serving image's CUDA {cuda}",
            f"label the pool {NVIDIA_DRIVER_LABEL} with a driver ACK lists",
        )
    needed = MIN_DRIVER_MAJOR[cuda_major]
    if int(str(driver).split(".")[0]) < needed:
        _refuse(
            reg,
            f"its label names driver {driver}, older than the {needed} branch CUDA {cuda_major}.x needs even with"
            f" minor version compatibility ({CUDA_COMPATIBILITY_SOURCE})",
            f"label the pool {NVIDIA_DRIVER_LABEL} with a listed driver of the {needed} branch or later",
        )


def _check_autoscaler(cloud: RealCloud) -> None:
    """A node pool's scaling_config does nothing unless the cluster autoscaler is on (TF cs_kubernetes_node_pool);
    a pool that may sit at zero nodes starts again only if the autoscaler scales up from zero."""
    scaling = [p for p in cloud.of_type(POOL_TYPE) if (p.inputs.get("scalingConfig") or {}).get("enable")]
    clusters = {str(a.inputs.get("clusterId")) for a in cloud.of_type(AUTOSCALER_TYPE)}
    from_zero = {
        str(a.inputs.get("clusterId"))
        for a in cloud.of_type(AUTOSCALER_TYPE)
        if a.inputs.get("scaleUpFromZero", AUTOSCALER_SCALES_UP_FROM_ZERO_BY_DEFAULT)
    }
    for pool in scaling:
        if str(pool.inputs.get("clusterId")) not in clusters:
            raise CloudRefusal(
                f"the real cloud would never scale node pool '{pool.name}': its min and max mean nothing without the"
                f" cluster autoscaler; declare cs.AutoscalingConfig for the cluster ({SOURCE})"
            )
        config = pool.inputs.get("scalingConfig") or {}
        if not config.get("minSize") and str(pool.inputs.get("clusterId")) not in from_zero:
            raise CloudRefusal(
                f"the real cloud would leave node pool '{pool.name}' empty for good: it may scale to zero nodes, and"
                " the cluster autoscaler is told not to scale up from zero ready nodes; set scale_up_from_zero"
                f" ({AUTOSCALER_SOURCE})"
            )


def _check_kubernetes_provider(cloud: RealCloud, reg: Registration) -> None:
    """The kubeconfig must point at an API server endpoint the cluster has."""
    text = reg.inputs.get("kubeconfig")
    if not isinstance(text, str) or "server:" not in text:
        return
    try:
        # What a Kubernetes client reads: the first cluster's server.
        server = str(yaml.safe_load(text)["clusters"][0]["cluster"]["server"])
    except Exception:  # noqa: BLE001 - a parser's message would quote the (secret) kubeconfig
        _refuse(reg, "its kubeconfig is not one a Kubernetes client can read", "check where the kubeconfig comes from")
    for cluster in cloud.of_type(CLUSTER_TYPE):
        cluster_id = cloud.sim_ids[cluster.urn]
        if server == internet_endpoint(cluster_id, cloud.region) and not cluster.inputs.get("slbInternetEnabled"):
            _refuse(
                reg,
                f"its kubeconfig points at the internet API endpoint of cluster {cluster.name}, which has none"
                " (slb_internet_enabled is false), so every Kubernetes call would fail to connect",
                "build the kubeconfig against the cluster's intranet endpoint (connections.api_server_intranet)",
            )


def _check_image_push(cloud: RealCloud, reg: Registration) -> None:
    """ACR Enterprise: the public domain answers only when the instance's internet endpoint is enabled."""
    server = str((reg.inputs.get("registry") or {}).get("server", ""))
    match = _ENTERPRISE_DOMAIN.match(server)
    if match is None or match["vpc"]:
        return
    instances = cloud.acr_instance_ids()
    instance_id = instances.get(match["instance"])
    enabled = {r.inputs.get("instanceId") for r in cloud.of_type(ACR_INTERNET_TYPE)}
    if instance_id is not None and instance_id not in enabled:
        _refuse(
            reg,
            f"it pushes to {server}, the public domain of a registry whose internet endpoint is not enabled",
            "push through the registry's VPC domain from a runner inside the VPC, or list deployerCidrs",
        )


def _check_release(cloud: RealCloud, reg: Registration) -> None:
    if _from_chart_repository(reg):
        _check_http_addon_release(cloud, reg)  # a cluster add-on's chart, not a model's
        return
    values = reg.inputs.get("values") or {}
    _check_scale_to_zero_release(cloud, reg, values)
    waits_for = cloud.closure(reg)
    gpu = values.get("gpu") or {}
    _check_weights_first(cloud, reg, str((values.get("model") or {}).get("servedName", "")))
    if gpu.get("memGiB"):
        pools = [p for p in cloud.of_type(POOL_TYPE) if _is_gpu_pool(p)]
        if not any(p.urn in waits_for for p in pools):
            _refuse(
                reg,
                "it is installed in parallel with the GPU node pool it needs, so its pods wait Pending while Helm's"
                " atomic timeout runs out",
                "make the release depend on the GPU node pool",
            )
        _check_vllm_budget(cloud, reg, values, pools)
    if (values.get("autoscaling") or {}).get("enabled"):
        adapters = [a for a in cloud.of_type(ADDON_TYPE) if a.inputs.get("name") == METRICS_ADAPTER_ADDON]
        if not adapters:
            _refuse(
                reg,
                "its HorizontalPodAutoscaler reads a custom metric no adapter serves, so it never scales",
                f"install {METRICS_ADAPTER_ADDON} with Managed Prometheus scraping vLLM's /metrics, or keep it off",
            )
    repository = str((values.get("image") or {}).get("repository", ""))
    match = _ENTERPRISE_DOMAIN.match(repository.split("/", 1)[0])
    if match is not None:
        namespace = str(reg.inputs.get("namespace", ""))
        helpers = [a for a in cloud.of_type(ADDON_TYPE) if a.inputs.get("name") in ACR_HELPER_ADDONS]
        covering = [a for a in helpers if _helper_covers(a, match["instance"], cloud, namespace)]
        if not covering or not any(a.urn in waits_for for a in covering):
            _refuse(
                reg,
                f"its pods pull a private image from {repository.split('/', 1)[0]} with no credentials"
                f" (ImagePullBackOff): no {ACR_HELPER_ADDONS[0]} serves namespace {namespace or '?'} for that instance",
                f"install {ACR_HELPER_ADDONS[0]} with the Enterprise instance id and that namespace before the release",
            )


def _check_vllm_budget(
    cloud: RealCloud, reg: Registration, values: Mapping[str, Any], pools: Sequence[Registration]
) -> None:
    """Under cGPU memory isolation the container sees its slice as the GPU's whole memory (cGPU README), and
    vLLM budgets total × --gpu-memory-utilization: the budget must hold the weights and KV cache planned."""
    gpu = values["gpu"]
    if (gpu.get("nodeSelector") or {}).get(GPU_SCHEDULE_LABEL) not in CGPU_ISOLATING_LABELS:
        return
    family = _pool_family(pools)
    model = values.get("model") or {}
    weights = _weights_gib(
        cloud, str(model.get("servedName", "")), str(model.get("dtype", "")), str(model.get("quantization", ""))
    )
    if family is None or family.schedulable_gib is None or weights is None:
        return  # a model or a GPU the facts do not size: not simulated
    slice_gib = int(gpu["memGiB"])
    environ = {
        # What the gpushare device plugin sets in the container, in GiB units.
        "ALIYUN_COM_GPU_MEM_CONTAINER": str(slice_gib),
        "ALIYUN_COM_GPU_MEM_DEV": str(family.schedulable_gib),
        **{e["name"]: str(e["value"]) for e in values.get("extraEnv") or [] if "value" in e},
    }
    budget = slice_gib * serve_module().gpu_memory_utilization(environ)
    architecture = _architecture(cloud, str(model.get("servedName", "")))
    assert architecture is not None  # _weights_gib found it
    kv_per_token = 2 * architecture["layers"] * architecture["kv_heads"] * architecture["head_dim"] * KV_CACHE_BYTES
    needed = weights + kv_per_token * int(model["maxModelLen"]) * int(model["maxNumSeqs"]) / GIB
    if budget < needed:
        raise CloudRefusal(
            f"the real cloud would break release '{reg.name}': under cGPU isolation its container sees {slice_gib} GiB"
            f" as the whole GPU, and serve.py gives vLLM {budget:.1f} GiB of it, less than the {needed:.1f} GiB of"
            " weights and KV cache planned, so vLLM fails to start; size --gpu-memory-utilization against the slice,"
            f" not the slice/GPU ratio (which is for sharing without isolation) ({SOURCE})"
        )


def _check_gpu_scheduling(cloud: RealCloud) -> None:
    """The gpushare device plugin advertises floor(MiB/1024) units per GPU; the minimum replicas must fit the
    minimum nodes as the scheduler sees them (one GPU per node in this fleet's pools)."""
    pools = [p for p in cloud.of_type(POOL_TYPE) if _is_gpu_pool(p)]
    family = _pool_family(pools)
    if not pools or family is None or family.schedulable_gib is None:
        return
    nodes = sum(int((p.inputs.get("scalingConfig") or {}).get("minSize", 0)) for p in pools)
    slices = []
    for release in cloud.of_type(RELEASE_TYPE):
        values = release.inputs.get("values") or {}
        gib = int((values.get("gpu") or {}).get("memGiB") or 0)
        slices += [(release.name, gib) for _ in range(int(values.get("replicas") or 0)) if gib]
    if not slices:
        return
    too_big = [f"{name} needs {gib} GiB" for name, gib in slices if gib > family.schedulable_gib]
    if too_big:
        needed, detail = len(slices) + nodes + 1, ", ".join(too_big)
    else:
        needed, detail = _gpus_needed([gib for _, gib in slices], family.schedulable_gib), ""
    if needed > nodes:
        raise CloudRefusal(
            f"the real cloud would leave GPU pods Pending: the minimum replicas need {needed} {family.gpu} GPUs at the"
            f" {family.schedulable_gib} GiB each one advertises to cGPU (floor of its MiB/1024), the GPU pool starts"
            f" {nodes}{'; ' + detail if detail else ''}; pack with what the device plugin advertises ({SOURCE})"
        )


def internet_endpoint(cluster_id: str, region: str) -> str:
    return f"https://{cluster_id}.internet.{region}.invalid:6443"


def intranet_endpoint(cluster_id: str, region: str) -> str:
    return f"https://{cluster_id}.intranet.{region}.invalid:6443"


@cache
def serving_image_cuda() -> str:
    """The CUDA generation of the vLLM the serving image installs (its requirements file, vllm_cuda_generation in
    offline/cloud_facts.json); "unknown" for a vLLM the facts do not know, which no driver is then checked against."""
    return vllm_cuda_of((PROJECT_ROOT / SERVING_IMAGE["requirements"]).read_text(encoding="utf-8"))


def vllm_cuda_of(requirements: str) -> str:
    """The CUDA generation of the one vLLM a requirements file pins; "unknown" for none, several or an unknown one."""
    pins = re.findall(r"^vllm==(\S+)", requirements, flags=re.MULTILINE)
    return VLLM_CUDA.get(pins[0], "unknown") if len(pins) == 1 else "unknown"


def serve_module():
    """images/inference-server/serve.py, the code that really sizes vLLM in the container."""
    path = PROJECT_ROOT / SERVING_IMAGE["entrypoint"]
    spec = importlib.util.spec_from_file_location("beacon_serve", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _is_gpu_pool(pool: Registration) -> bool:
    """A pool of ECS GPU instances (ecs.gn*), whatever the program labels it."""
    return any(_GPU_TYPE_SHAPE.match(str(t)) for t in pool.inputs.get("instanceTypes") or [])


@dataclass(frozen=True)
class GpuFamily:
    """An ECS GPU family as the facts give it (offline/cloud_facts.json, ecs_gpu_families)."""

    family: str
    gpu: str
    nvml_mib: int | None

    @property
    def schedulable_gib(self) -> int | None:
        """aliyun.com/gpu-mem units the gpushare device plugin advertises per GPU: floor(NVML MiB / 1024)."""
        return self.nvml_mib // GPUSHARE_UNIT_MIB if self.nvml_mib is not None else None


def gpu_family_of(instance_type: str) -> GpuFamily | None:
    for name, family in GPU_FAMILIES.items():
        if instance_type in family["instance_types"]:
            return GpuFamily(name, family["gpu"], family["nvml_mib"])
    return None


def _pool_family(pools: Sequence[Registration]) -> GpuFamily | None:
    for pool in pools:
        for instance_type in pool.inputs.get("instanceTypes") or []:
            family = gpu_family_of(str(instance_type))
            if family is not None:
                return family
    return None


def _gpus_needed(slices: Sequence[int], capacity_gib: int) -> int:
    """GPUs the scheduler fills with these slices (GiB), binpack placement: largest first, each onto the first GPU
    with room and a pod place left (ACK's `ack.node.gpu.placement` default, alibaba.md §2)."""
    gpus: list[list[int]] = []
    for gib in sorted(slices, reverse=True):
        for gpu in gpus:
            if sum(gpu) + gib <= capacity_gib and len(gpu) < CGPU_MAX_PODS_PER_GPU:
                gpu.append(gib)
                break
        else:
            gpus.append([gib])
    return len(gpus)


def _helper_covers(addon: Registration, instance_name: str, cloud: RealCloud, namespace: str) -> bool:
    config = json_object(addon.inputs.get("config"))
    instances = cloud.acr_instance_ids()
    wanted = instances.get(instance_name)
    ids = {str(i.get("instanceId")) for i in config.get("AcrInstanceInfo") or [] if isinstance(i, dict)}
    namespaces = str(config.get("watchNamespace", "")).split(",")
    return wanted in ids and (namespace in namespaces or "all" in namespaces)


def _startup_seconds(cloud: RealCloud, model: str, config: Mapping[str, Any]) -> int:
    """How long the model takes from container start to ready, by the simulation's estimate (model_load_estimate
    in offline/cloud_facts.json); the fixed part alone for a model the facts cannot size."""
    weights = _weights_gib(cloud, model, _env(config, "DTYPE"), _env(config, "QUANTIZATION")) or 0.0
    return math.ceil(MODEL_LOAD["base_seconds"] + MODEL_LOAD["seconds_per_weight_gib"] * weights)


def _architecture(cloud: RealCloud, served_name: str) -> dict[str, Any] | None:
    """The config.json figures of the model served under this name: the weights synced for it name their Hugging
    Face repository (the manifest's hfRepo), whose files vLLM loads from the mount; None for one the facts lack."""
    for sync in cloud.of_type(WEIGHTS_TYPE):
        if served_name and sync.inputs.get("model_id") == served_name:
            found = MODELS.get(str(json_object(sync.inputs.get("manifest")).get("hfRepo", "")))
            if found is not None:
                return found
    return None


def _weights_gib(cloud: RealCloud, served_name: str, dtype: str, quantization: str) -> float | None:
    """The weights vLLM holds in GPU memory for these --dtype/--quantization flags, or None where unknown."""
    architecture = _architecture(cloud, served_name)
    per_parameter = WEIGHT_BYTES.get(f"{dtype}+{quantization}" if quantization else dtype)
    if architecture is None or per_parameter is None:
        return None
    return architecture["params_b"] * 1e9 * per_parameter / GIB


def json_object(value: Any) -> dict[str, Any]:
    """A JSON object given as text or already parsed; {} for anything else."""
    if isinstance(value, dict):
        return value
    try:
        found = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _get(document: Mapping[str, Any], dotted: str) -> Any:
    found: Any = document
    for part in dotted.split("."):
        if not isinstance(found, Mapping):
            return None
        found = found.get(part)
    return found


def _pop(document: dict[str, Any], dotted: str) -> Any:
    *path, last = dotted.split(".")
    parent = _get(document, ".".join(path)) if path else document
    return parent.pop(last, None) if isinstance(parent, dict) else None


def _put(document: dict[str, Any], dotted: str, value: Any) -> None:
    *path, last = dotted.split(".")
    for part in path:
        document = document.setdefault(part, {})
    document[last] = value


def _env(config: Mapping[str, Any], name: str) -> str:
    for container in config.get("containers") or []:
        for entry in container.get("env") or []:
            if entry.get("name") == name:
                return str(entry.get("value", ""))
    return ""


def _fc_memory_problem(gpu_type: str, memory_mb: int) -> str | None:
    """Why FC would refuse this gpuMemorySize on this GPU type (fc_gpu_types in offline/cloud_facts.json), or None."""
    found = FC_GPU_TYPES.get(gpu_type)
    if found is None:
        return f"'{gpu_type}' is not an FC GPU type; use one of {', '.join(FC_GPU_TYPES)}"
    if memory_mb % FC_MEMORY_STEP_MB or not FC_MEMORY_STEP_MB <= memory_mb <= found["max_memory_mb"]:
        return (
            f"needs {memory_mb} MB of GPU memory, but {gpu_type} ({found['gpu']}) takes {FC_MEMORY_STEP_MB}-"
            f"{found['max_memory_mb']} MB in steps of {FC_MEMORY_STEP_MB} ({found['source']})"
        )
    return None


def _check_fc_function(cloud: RealCloud, reg: Registration) -> None:
    """Function Compute 3.0 GPU functions (weights-fc-eas.md): where FC offers GPUs, the sizes it takes, the
    port it sends requests to, the image it can pull and the bucket it can mount."""
    gpu = reg.inputs.get("gpuConfig") or {}
    env = reg.inputs.get("environmentVariables") or {}
    if gpu and cloud.region not in FC_GPU_REGIONS:
        _refuse(reg, f"no source says FC offers GPU functions in {cloud.region}", "serve on eas or ack there")
    if gpu:
        problem = _fc_memory_problem(str(gpu.get("gpuType", "")), int(gpu.get("gpuMemorySize") or 0))
        if problem:
            _refuse(reg, f"its gpuConfig {problem}", "size gpuMemorySize from the model's slice, in whole GiB")
    container = reg.inputs.get("customContainerConfig") or {}
    port = int(container.get("port") or FC_DEFAULT_PORT)
    listens = int(env.get("PORT") or SERVING_IMAGE["default_port"])
    if container and port != listens:
        _refuse(
            reg,
            f"FC sends requests to port {port} but the serving image listens on {listens}, so the instance never"
            " becomes healthy",
            f"set customContainerConfig.port to {listens}",
        )
    if container and not reg.inputs.get("role"):
        _refuse(
            reg, "FC assumes the function's role to pull a private image and to mount OSS, and it has none", "set role"
        )
    linked = {str(r.inputs.get("vswitchId")) for r in cloud.of_type(ACR_LINKED_VPC_TYPE)}
    chosen = {str(v) for v in (reg.inputs.get("vpcConfig") or {}).get("vswitchIds") or []}
    if linked and ".cr.aliyuncs.com" in str(container.get("image", "")) and not chosen & linked:
        _refuse(
            reg,
            "it pulls from an ACR Enterprise instance through a vSwitch not linked to that instance",
            "put the function on the vSwitch the registry's VPC endpoint is linked to",
        )
    for point in (reg.inputs.get("ossMountConfig") or {}).get("mountPoints") or []:
        endpoint = str(point.get("endpoint", ""))
        if "-internal." in endpoint and f"oss-{cloud.region}-internal." not in endpoint:
            _refuse(
                reg, f"it mounts OSS through {endpoint}, another region's internal endpoint", "use its own region's"
            )
    if env.get("MODEL_DIR"):
        _check_weights_first(cloud, reg, str(env.get("SERVED_MODEL_NAME", "")))


# --- Scale to zero on ACK: KEDA, its HTTP add-on, and a GPU pool from zero nodes ------------------------------
# Each fact comes from offline/cloud_facts.json with its source, not from the program's own tables (fleet/serving.py).

# cs_autoscaling_config: "scale_up_from_zero - Should CA scale up when there 0 ready nodes. Default is `true`."
AUTOSCALER_SOURCE = "terraform-provider-alicloud website/docs/r/cs_autoscaling_config.html.markdown"
AUTOSCALER_SCALES_UP_FROM_ZERO_BY_DEFAULT = cloud_facts.value("ack_autoscaler_scale_up_from_zero_default")
# ACK's managed KEDA add-on ("ACK KEDA", alibabacloud.com/help/doc-detail/198978.html): it brings KEDA's
# ScaledObject kind (keda.sh/v1alpha1).
KEDA_ADDONS = tuple(cloud_facts.value("ack_keda_addons"))
# kedacore/charts http-add-on (0.15.0): the chart installs the HTTPScaledObject CRD (http.keda.sh/v1alpha1,
# templates/crds/crd-httpscaledobjects.yaml, `crds.install: true` by default) and scales its own interceptor with a
# KEDA ScaledObject (templates/interceptor/scaledobject.yaml), which needs KEDA's CRD first.
HTTP_ADDON_CHARTS = tuple(cloud_facts.value("keda_http_addon_charts"))
HTTP_ADDON_SOURCE = "kedacore/charts http-add-on/templates (0.15.0)"
# Helm refuses a manifest whose kind the API server does not serve ("no matches for kind ... ensure CRDs are
# installed first"): the CRD must be installed before the release that uses it.


def _from_chart_repository(reg: Registration) -> bool:
    """A release of a chart fetched from a chart repository (a cluster add-on), not the project's own chart."""
    return bool((reg.inputs.get("repositoryOpts") or {}).get("repo"))


def _check_http_addon_release(cloud: RealCloud, reg: Registration) -> None:
    if reg.inputs.get("chart") not in HTTP_ADDON_CHARTS:
        return
    kedas = [a.urn for a in cloud.of_type(ADDON_TYPE) if a.inputs.get("name") in KEDA_ADDONS]
    if not set(kedas) & cloud.closure(reg):
        _refuse(
            reg,
            "its interceptor's ScaledObject (keda.sh/v1alpha1) is applied before KEDA is installed, so Helm finds no"
            " such kind and the install fails",
            f"install KEDA ({KEDA_ADDONS[0]}) first and make the release depend on it ({HTTP_ADDON_SOURCE})",
        )
    if ((reg.inputs.get("values") or {}).get("crds") or {}).get("install") is False:
        _refuse(
            reg,
            "it skips the HTTPScaledObject CRD, so no model can scale to zero through it",
            f"keep crds.install on ({HTTP_ADDON_SOURCE})",
        )


def _check_scale_to_zero_release(cloud: RealCloud, reg: Registration, values: Mapping[str, Any]) -> None:
    """A model that scales to zero renders an HTTPScaledObject: the HTTP add-on (its CRD) must be installed first,
    and the GPU pool it lands on must be able to start from zero nodes."""
    if not (values.get("scaleToZero") or {}).get("enabled"):
        return
    waits_for = cloud.closure(reg)
    addons = [
        r.urn
        for r in cloud.of_type(RELEASE_TYPE)
        if _from_chart_repository(r) and r.inputs.get("chart") in HTTP_ADDON_CHARTS
    ]
    if not set(addons) & waits_for:
        _refuse(
            reg,
            "its HTTPScaledObject (http.keda.sh/v1alpha1) is applied before KEDA's HTTP add-on installs that kind,"
            " so Helm fails with no matches for kind HTTPScaledObject",
            f"install {HTTP_ADDON_CHARTS[0]} (after {KEDA_ADDONS[0]}) and make the release depend on it"
            f" ({HTTP_ADDON_SOURCE})",
        )
    pools = [p for p in cloud.of_type(POOL_TYPE) if _is_gpu_pool(p) and p.urn in waits_for]
    if pools and not any(
        (p.inputs.get("scalingConfig") or {}).get("enable") and (p.inputs.get("scalingConfig") or {}).get("maxSize")
        for p in pools
    ):
        _refuse(
            reg,
            "it scales its pods from zero onto a GPU pool that cannot add a node, so the first request waits forever",
            "enable the pool's scaling_config with max_size of one node or more",
        )


_RULES = {
    EAS_TYPE: _check_eas,
    FC_FUNCTION_TYPE: _check_fc_function,
    POOL_TYPE: _check_gpu_pool,
    K8S_PROVIDER_TYPE: _check_kubernetes_provider,
    IMAGE_TYPE: _check_image_push,
    RELEASE_TYPE: _check_release,
}


# --- Issue 26's findings: service behaviour a provider schema cannot express ---------------------------------
# Each fact below is data with its source, not a value read from the program's own tables.

# FC 3.0 API struct CustomHealthCheckConfig (alibaba.md §7): the ranges FC itself accepts. The provider's schema
# says IntBetween(0, 3) for timeout_seconds; FC's API says 1-3, so 0 passes the one and fails the other.
FC_HEALTH_CHECK_RANGES = {k: tuple(v) for k, v in cloud_facts.value("fc_health_check_ranges").items()}
FC_HEALTH_CHECK_SOURCE = "FC API 2023-03-30 struct CustomHealthCheckConfig (../shared/reference/alibaba.md §7)"
# FC API 2023-03-30 struct CustomContainerConfig: acrInstanceId "must specify this parameter if you use an image of
# Container Registry Enterprise Edition" (alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/
# api-fc-2023-03-30-struct-customcontainerconfig). The Terraform provider marks `acr_instance_id` deprecated
# ("(Obsolete)", v1.228.0) yet still sends it when set (resource_alicloud_fcv3_function.go, v1.289.0, L809-811).
FC_ACR_SOURCE = cloud_facts.value("fc_acr_instance_id")["citation"]
# vLLM's start-up check: the memory free once the CUDA context exists must be at least gpu_memory_utilization x
# total ("Free memory on device ... on startup is less than desired GPU memory utilization", vllm-project/vllm
# #20305, pytorch/pytorch#175666). The context: about 300 MiB with CUDA's lazy loading (pytorch/pytorch#107667),
# 200 to 700+ MiB by machine (pytorch/pytorch#28113). The simulation takes the largest figure reported.
CUDA_CONTEXT_AT_START_GIB = cloud_facts.value("cuda_context_at_start_mib") / 1024
VLLM_STARTUP_SOURCE = "vllm-project/vllm#20305; CUDA context size: pytorch/pytorch#107667, #28113"
# EAS with a custom RAM role pulls the image with that role (Alibaba "Configure the EAS RAM role", alibaba.md §3,
# corrected 2026-12); without one, "EAS pulls images from ACR without authentication when the registry and service
# use the same Alibaba Cloud account and region" (PAI "Deploy a model service by using a custom image").
EAS_PULL_SOURCE = "PAI docs: Configure the EAS RAM role; Deploy a model service by using a custom image"
# RAM actions an ACR Enterprise pull needs (AliyunContainerRegistryReadOnlyAccess is the system policy that grants
# them; FC's custom-container guide attaches it for the same purpose).
ACR_PULL_SYSTEM_POLICIES = tuple(cloud_facts.value("eas_pull")["acr_pull_system_policies"])
EAS_ROLE_KEYS = tuple(cloud_facts.value("eas_pull")["role_keys"])
RAM_ATTACHMENT_TYPE = "alicloud:ram/rolePolicyAttachment:RolePolicyAttachment"
RAM_ROLE_TYPE = "alicloud:ram/role:Role"
SERVICE_ACCOUNT_TYPE = "kubernetes:core/v1:ServiceAccount"
# The ACK credential helper "associates the Secret with the service accounts" it serves (ACK doc "Use the
# passwordless component..."): it patches service accounts after they exist, and Kubernetes copies a service
# account's imagePullSecrets into a pod only when the pod is admitted (ServiceAccount admission controller), so a
# pod admitted before the patch keeps none.
ACR_HELPER_SOURCE = (
    "ACK doc: passwordless component (aliyun-acr-credential-helper); Kubernetes ServiceAccount admission"
)


def _check_fc_findings(cloud: RealCloud, reg: Registration) -> None:
    container = reg.inputs.get("customContainerConfig") or {}
    check = container.get("healthCheckConfig") or {}
    for key, (low, high) in FC_HEALTH_CHECK_RANGES.items():
        value = check.get(key)
        if isinstance(value, int) and not low <= value <= high:
            raise CloudRefusal(
                f"the real cloud would fail V3Function '{reg.name}': customContainerConfig.healthCheckConfig.{key}"
                f" is {value}, outside {low}-{high}; set it within that range ({FC_HEALTH_CHECK_SOURCE})"
            )
    match = _ENTERPRISE_DOMAIN.match(str(container.get("image", "")).split("/", 1)[0])
    if match is None:
        return
    wanted = cloud.acr_instance_ids().get(match["instance"])
    given = container.get("acrInstanceId")
    if wanted is not None and given != wanted:
        raise CloudRefusal(
            f"the real cloud would fail V3Function '{reg.name}': its image is in ACR Enterprise instance"
            f" {match['instance']} but customContainerConfig.acrInstanceId is {given or 'unset'}, so FC cannot pull"
            f" it; set acr_instance_id to the instance's id ({FC_ACR_SOURCE})"
        )


def _check_vllm_startup(reg: Registration, values: Mapping[str, Any]) -> None:
    """Under cGPU isolation the slice is the whole GPU vLLM sees; the CUDA context takes its share first."""
    gpu = values.get("gpu") or {}
    if not gpu.get("memGiB") or (gpu.get("nodeSelector") or {}).get(GPU_SCHEDULE_LABEL) not in (CGPU_ISOLATING_LABELS):
        return
    slice_gib = float(gpu["memGiB"])
    environ = {
        "ALIYUN_COM_GPU_MEM_CONTAINER": str(int(slice_gib)),
        **{e["name"]: str(e["value"]) for e in values.get("extraEnv") or [] if "value" in e},
    }
    try:
        utilization = float(serve_module().gpu_memory_utilization(environ))
    except SystemExit as stop:
        raise CloudRefusal(f"the real cloud would break release '{reg.name}': {stop} ({VLLM_STARTUP_SOURCE})") from None
    free = slice_gib - CUDA_CONTEXT_AT_START_GIB
    if free < utilization * slice_gib:
        raise CloudRefusal(
            f"the real cloud would break release '{reg.name}': vLLM asks for {utilization} of the {slice_gib:g} GiB"
            f" slice ({utilization * slice_gib:.2f} GiB) but only {free:.2f} GiB is free at start-up once the CUDA"
            f" context (up to {CUDA_CONTEXT_AT_START_GIB:.2f} GiB) is there, so vLLM refuses to start; size"
            f" --gpu-memory-utilization to leave the context room ({VLLM_STARTUP_SOURCE})"
        )


# pulumi-kubernetes' await annotation: the resource is ready only once the JSONPath matches (4.18 and later).
PULUMI_WAIT_FOR = "pulumi.com/waitFor"
PULUMI_WAIT_SOURCE = "pulumi-kubernetes CHANGELOG 4.18: pulumi.com/waitFor await annotations with JSONPath"


def _waits_for_pull_secret(account: Registration) -> bool:
    annotations = (account.inputs.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(PULUMI_WAIT_FOR, "")).replace(" ", "").startswith("jsonpath={.imagePullSecrets")


def _check_release_service_account(cloud: RealCloud, reg: Registration, values: Mapping[str, Any]) -> None:
    """A pod pulling a private ACR image gets the helper's pull secret only if its service account was patched
    before the pod was admitted: the account must exist, and the helper serve it, before the release starts."""
    repository = str((values.get("image") or {}).get("repository", ""))
    if _ENTERPRISE_DOMAIN.match(repository.split("/", 1)[0]) is None:
        return
    account = values.get("serviceAccount") or {}
    namespace = str(reg.inputs.get("namespace", ""))
    waits_for = cloud.closure(reg)
    helpers = {a.urn for a in cloud.of_type(ADDON_TYPE) if a.inputs.get("name") in ACR_HELPER_ADDONS}
    declared = [
        sa
        for sa in cloud.of_type(SERVICE_ACCOUNT_TYPE)
        if (sa.inputs.get("metadata") or {}).get("name") == account.get("name")
        and (sa.inputs.get("metadata") or {}).get("namespace") == namespace
    ]
    ready = [sa for sa in declared if sa.urn in waits_for and helpers & cloud.closure(sa)]
    waited = [sa for sa in ready if _waits_for_pull_secret(sa)]
    if ready and not waited and not account.get("create", True):
        raise CloudRefusal(
            f"the real cloud may leave release '{reg.name}' in ImagePullBackOff: its pods' service account"
            f" {account.get('name') or '?'} is declared after the credential helper, but nothing waits for the"
            " helper to patch it, so the first pods can be admitted before the patch and keep no pull secret;"
            f" annotate the account {PULUMI_WAIT_FOR}: jsonpath={{.imagePullSecrets[0].name}} ({PULUMI_WAIT_SOURCE})"
        )
    if account.get("create", True) or not ready:
        how = "by the release itself" if account.get("create", True) else "out of order"
        raise CloudRefusal(
            f"the real cloud would leave release '{reg.name}' in ImagePullBackOff: its pods' service account"
            f" {account.get('name') or '?'} is created {how},"
            " so the first pods are admitted before the credential helper patches it and keep no pull secret;"
            " declare the service account after the helper and before the release (serviceAccount.create false)"
            f" ({ACR_HELPER_SOURCE})"
        )


def _check_eas_pull(cloud: RealCloud, reg: Registration, config: Mapping[str, Any]) -> None:
    image_host = str(((config.get("containers") or [{}])[0] or {}).get("image", "")).split("/", 1)[0]
    match = _ENTERPRISE_DOMAIN.match(image_host)
    if match is None:
        return
    role_arn = next((str(_get(config, k)) for k in EAS_ROLE_KEYS if _get(config, k)), "")
    if role_arn:
        role_name = role_arn.rsplit("/", 1)[-1].lower()
        roles = {
            str(r.inputs.get("roleName", "")).lower()
            for r in cloud.of_type(RAM_ROLE_TYPE)
            if str(r.inputs.get("roleName", "")).lower() == role_name
        }
        pulls = [
            a
            for a in cloud.of_type(RAM_ATTACHMENT_TYPE)
            if str(a.inputs.get("roleName", "")).lower() in roles
            and a.inputs.get("policyName") in ACR_PULL_SYSTEM_POLICIES
        ]
        if not pulls:
            raise CloudRefusal(
                f"the real cloud would fail Service '{reg.name}': EAS pulls its image from {image_host} with the"
                " custom RAM role the config names, and that role holds no ACR pull permission, so the pull is"
                " denied; use the default (no custom role: EAS pulls a same-account, same-region ACR image itself)"
                f" or grant the role ACR read ({EAS_PULL_SOURCE})"
            )
    elif match["region"] != cloud.region:
        raise CloudRefusal(
            f"the real cloud would fail Service '{reg.name}': EAS pulls without credentials only from an ACR in its"
            f" own region, and {image_host} is in {match['region']}; use the region's own registry"
            f" ({EAS_PULL_SOURCE})"
        )


def _check_eas_findings(cloud: RealCloud, reg: Registration) -> None:
    _check_eas_pull(cloud, reg, json_object(reg.inputs.get("serviceConfig")))


def _check_release_findings(cloud: RealCloud, reg: Registration) -> None:
    if _from_chart_repository(reg):
        return
    values = reg.inputs.get("values") or {}
    _check_vllm_startup(reg, values)
    _check_release_service_account(cloud, reg, values)


_FINDINGS_RULES = {
    FC_FUNCTION_TYPE: _check_fc_findings,
    EAS_TYPE: _check_eas_findings,
    RELEASE_TYPE: _check_release_findings,
}
