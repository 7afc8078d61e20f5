"""The values of each inference-server release, as a pure function of the settings and the capacity planner.

Tests render charts/inference-server with exactly these values through real Helm, so what the program
registers and what the cluster runs cannot drift apart.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from fleet import capacity, eas, naming, router_config, serving
from fleet.config_schema import PROJECT_ROOT
from fleet.settings_types import RegionSettings, ServedModel

CHART_NAME = "inference-server"
CHART_DIR = f"./charts/{CHART_NAME}"
CHART_PATH = PROJECT_ROOT / "charts" / CHART_NAME
# Alibaba Cloud load balancers' health checks and layer-7 proxies come from this range.
SLB_SOURCE_CIDR = "100.64.0.0/10"
API_KEY_SECRET_KEY = "api-key"

HOST_MEMORY_HEADROOM_GIB = 6  # tokenizer, Python, the server; weights pass through host memory once


@dataclass(frozen=True)
class CloudValues:
    """What only the cloud knows, resolved at deployment: where the image and weights are, and the release's
    load balancer and allowlist."""

    image: str  # <vpc registry>/<ns>/<repo>@sha256:...
    bucket: str
    load_balancer_id: str
    acl_id: str  # empty: no allowlist
    load_balancer_address: str = ""  # what the router's requests carry as their Host header
    port: int = 0  # the load balancer's listener port, as the router's base URL names it


def release_name(model_id: str) -> str:
    """A Helm release name (DNS label, at most 53 characters) for a catalog id such as llama3.2-1b."""
    return naming.dns_label(model_id)[:53].rstrip("-")


def fullname(model_id: str) -> str:
    """The name of the release's objects (Deployment, Service, ServiceAccount), decided here once and handed to the
    chart as `fullnameOverride`: <release>-inference-server, a DNS label of at most 63 characters."""
    return f"{release_name(model_id)}-{CHART_NAME}"[:63].rstrip("-")


def api_key_secret_name(model_id: str) -> str:
    return f"{fullname(model_id)[:53].rstrip('-')}-api-key"


def service_accounts(settings: RegionSettings) -> list[str]:
    """namespace:name of each release's service account, which the RRSA role trusts."""
    return [f"{serving.SERVING_NAMESPACE}:{fullname(m.id)}" for m in settings.models]


def memory_estimate(settings: RegionSettings, model: ServedModel) -> capacity.MemoryEstimate:
    return capacity.estimate_memory(
        model.spec, model.dtype, settings.max_context_tokens, settings.max_concurrent_sequences
    )


def startup_budget_seconds(settings: RegionSettings, model: ServedModel) -> int:
    return serving.startup_budget_seconds(memory_estimate(settings, model).weights_gib)


def scales_to_zero(settings: RegionSettings) -> bool:
    """ACK's models scale to zero pods (and the GPU pool to zero nodes) at minReplicasPerModel 0."""
    return settings.scaling.min_replicas == 0


def cold_start_seconds(settings: RegionSettings, model: ServedModel) -> int:
    """The first request to a model at zero pods, on a pool at zero nodes: node, image pull, model load."""
    return serving.cold_start_seconds(memory_estimate(settings, model).weights_gib)


def release_values(settings: RegionSettings, model: ServedModel, role_name: str) -> dict[str, Any]:
    """Every value of the model's release that settings decide; `with_cloud_values` adds the rest.
    values.schema.json accepts nothing else."""
    estimate = memory_estimate(settings, model)
    gpu_memory = settings.gpu.family.memory_gib
    dtype, quantization = eas.vllm_dtype(model.dtype)
    scaling = settings.scaling
    exposure = settings.ack_serving
    return {
        "fullnameOverride": fullname(model.id),
        "model": {
            "servedName": model.id,
            "dtype": dtype,
            "quantization": quantization,
            "maxModelLen": settings.max_context_tokens,
            "maxNumSeqs": settings.max_concurrent_sequences,
        },
        "image": {"repository": "", "digest": "", "pullPolicy": "IfNotPresent"},
        "replicas": scaling.min_replicas,
        "resources": {
            "cpu": "2",
            "memoryGiB": math.ceil(estimate.weights_gib) + HOST_MEMORY_HEADROOM_GIB,
        },
        "gpu": {
            "memGiB": estimate.slice_gib,
            # On core_mem pools the compute share follows the memory share.
            "corePercent": max(1, estimate.slice_gib * 100 // gpu_memory)
            if settings.gpu.isolation == "memory-and-compute"
            else 0,
            "nodeSelector": {
                serving.NODE_POOL_LABEL: "gpu",
                serving.GPU_SCHEDULE_LABEL: settings.gpu.schedule_label,
            },
            "tolerations": [{"operator": "Equal", **serving.GPU_TAINT}],
        },
        "weights": {
            "bucket": "",
            "endpoint": serving.oss_internal_endpoint(settings.region),
            "path": f"/{serving.model_prefix(model.id)}",
            "roleName": role_name,
            "capacityGiB": max(1, math.ceil(estimate.weights_gib * 2)),
            "fuseType": "ossfs2",
        },
        "startup": {
            "budgetSeconds": startup_budget_seconds(settings, model),
            "progressDeadlineSeconds": cold_start_seconds(settings, model),
        },
        "service": {
            "addressType": exposure.exposure,
            "loadBalancerId": "",
            "aclId": "",
            "tlsCertId": exposure.tls_cert_id,
        },
        "apiKey": {"secretName": api_key_secret_name(model.id), "secretKey": API_KEY_SECRET_KEY},
        # Declared before the release (components/inference_release.py): the ACR credential helper patches service
        # accounts after they exist, and a pod admitted before the patch keeps no pull secret.
        "serviceAccount": {"create": False, "name": fullname(model.id), "roleName": role_name},
        "podDisruptionBudget": {"maxUnavailable": 1},
        # Off: vLLM exports its queue as vllm:num_requests_waiting on /metrics (scraped without the key on the gate's
        # metrics port, which the pods' prometheus.io annotations name), which reaches an HPA only through
        # ack-alibaba-cloud-metrics-adapter and Managed Prometheus; this stack installs neither (ACK: "Configure
        # elastic scaling for inference"), so an HPA would never scale. Replicas stay at the minimum on ACK.
        "autoscaling": {
            "enabled": False,
            "minReplicas": max(scaling.min_replicas, 1),
            "maxReplicas": scaling.max_replicas,
            "metricName": "vllm_num_requests_waiting",
            "targetAverageValue": 4,
        },
        # At minReplicasPerModel 0 the model scales to zero pods through KEDA's HTTP add-on (ACK's ack-keda plus the
        # add-on's interceptor, declared by components/ack_cluster.py), and the GPU pool to zero nodes with it.
        "scaleToZero": {
            "enabled": scales_to_zero(settings),
            "maxReplicas": max(scaling.max_replicas, 1),
            "scaledownPeriodSeconds": serving.POD_SCALEDOWN_SECONDS,
            # vLLM batches up to maxNumSeqs sequences; only beyond that is a second pod worth a GPU slice.
            "targetConcurrency": settings.max_concurrent_sequences,
            "conditionWaitSeconds": cold_start_seconds(settings, model),
            "responseHeaderSeconds": router_config.ALIBABA_TIMEOUT_SECONDS,
            "hosts": [],
            "interceptor": {
                "namespace": serving.HTTP_ADDON_NAMESPACE,
                "port": serving.HTTP_INTERCEPTOR_PORT,
                "selector": dict(serving.HTTP_INTERCEPTOR_LABELS),
            },
        },
        "networkPolicy": {
            # The load balancer's health checks and proxies, the VPC and the callers. (Scaling to zero, the chart admits
            # the interceptor's pods by selector: Terway matches no pod of the cluster by CIDR, terway#904.)
            "allowedCidrs": sorted({settings.network.vpc_cidr, SLB_SOURCE_CIDR, *exposure.allowed_cidrs}),
            # The gate's metrics port answers GET /metrics without the key: from inside only. The VPC's addresses (a
            # scraper on a node or elsewhere in the VPC) and every pod of the cluster (a scraper running in it), never
            # the load balancer's range or the callers' servingAllowedCidrs.
            "metricsAllowedCidrs": [settings.network.vpc_cidr],
            "metricsNamespaceSelector": {},
        },
    }


def with_cloud_values(values: dict[str, Any], cloud: CloudValues) -> dict[str, Any]:
    """The release's values completed with what the cloud resolved; the input is left as it was."""
    complete = copy.deepcopy(values)
    repository, _, digest = cloud.image.partition("@")
    complete["image"].update(repository=repository, digest=digest)
    complete["weights"]["bucket"] = cloud.bucket
    complete["service"].update(loadBalancerId=cloud.load_balancer_id, aclId=cloud.acl_id)
    if complete["scaleToZero"]["enabled"]:
        complete["scaleToZero"]["hosts"] = routed_hosts(cloud.load_balancer_address, cloud.port)
    return complete


def routed_hosts(address: str, port: int) -> list[str]:
    """The Host headers a request to the model's load balancer carries: clients leave out a default port."""
    return [address, f"{address}:{port}"] if address and port else [address] if address else []


def base_url(scheme: str, address: str, port: int) -> str:
    """The OpenAI-compatible base URL of a release behind its load balancer."""
    return f"{scheme}://{address}:{port}/v1"
