"""Names the serving plane agrees on: the GPU pool's labels and taint, the serving namespace and identity.

The node pool, the RAM role's RRSA trust and the inference chart must use the same values; they are defined
once here.
"""

from __future__ import annotations

import math

SERVING_NAMESPACE = "beacon-serving"
SERVING_PORT = 8000  # not 8080 or 9090, which EAS reserves

# cGPU: the label selects the sharing mode; binpack fills one GPU before the next.
GPU_SCHEDULE_LABEL = "ack.node.gpu.schedule"
GPU_PLACEMENT_LABEL = "ack.node.gpu.placement"
NODE_POOL_LABEL = "beacon-fleet/pool"  # system or gpu
GPU_TAINT = {"key": "beacon-fleet/gpu", "value": "shared", "effect": "NoSchedule"}

# ack-pod-identity-webhook injects RRSA credentials into pods of namespaces labelled so, for service
# accounts annotated with the role they may assume.
POD_IDENTITY_NAMESPACE_LABEL = "pod-identity.alibabacloud.com/injection"
POD_IDENTITY_ROLE_ANNOTATION = "pod-identity.alibabacloud.com/role-name"

# ACK's OSS CSI driver runs ossfs in pods of this namespace and service account; with RRSA it assumes the
# role named in the volume as that identity (ACK docs, "mount a statically provisioned OSS volume").
OSS_FUSE_SERVICE_ACCOUNT = "ack-csi-fuse:csi-fuse-ossfs"

SHARED_GPU_ADDON = "ack-ai-installer"
# The managed edition of aliyun-acr-credential-helper (the self-managed one is configured by ConfigMap instead).
ACR_HELPER_ADDON = "managed-aliyun-acr-credential-helper"
POD_IDENTITY_ADDON = "ack-pod-identity-webhook"

MODEL_PREFIX = "models"  # weights live under oss://<bucket>/models/<model-id>/


def model_prefix(model_id: str) -> str:
    return f"{MODEL_PREFIX}/{model_id}/"


def oss_internal_endpoint(region: str) -> str:
    """The OSS endpoint a region's VPC reaches its buckets through, without internet traffic."""
    return f"oss-{region}-internal.aliyuncs.com"


def oss_public_endpoint(region: str) -> str:
    """The OSS endpoint for a deployer outside the region's VPC (the internal one does not resolve there)."""
    return f"oss-{region}.aliyuncs.com"


# Startup budget: a fixed part (CUDA context, CUDA graph capture, the server) plus 30 s per GiB of weights
# read through the OSS mount; generous, because ossfs throughput varies by node and time of day.
STARTUP_BASE_SECONDS = 300
STARTUP_SECONDS_PER_WEIGHT_GIB = 30


def startup_budget_seconds(weights_gib: float) -> int:
    """How long a server may take from start to ready: probes on ACK and the EAS create timeout both use it."""
    return STARTUP_BASE_SECONDS + STARTUP_SECONDS_PER_WEIGHT_GIB * math.ceil(weights_gib)


# The serving image's CUDA runtime generation (images/inference-server/requirements.txt says why) and the NVIDIA
# driver ACK installs on GPU nodes for it: 570.195.03 is the newest in ACK's published list ("ACK supported
# NVIDIA driver versions"); the 570 series runs CUDA 12.8. ACK installs its default driver when a label names
# a version outside that list, and only on nodes that join after the label is set.
SERVING_CUDA = "12.8"
NVIDIA_DRIVER_LABEL = "ack.aliyun.com/nvidia-driver-version"
NVIDIA_DRIVER_VERSION = "570.195.03"


# --- ACK from zero: the pod autoscaler that holds requests, and the GPU pool that starts from zero nodes ---------
# KEDA on ACK is the managed ack-keda add-on (ACK docs, "ACK KEDA": "You can install KEDA in the ACK console";
# alibabacloud.com/help/doc-detail/198978.html). KEDA scales on events, not HTTP requests; its HTTP add-on
# (kedacore/http-add-on) puts an interceptor in front of a Deployment that holds each request while KEDA scales
# the Deployment from zero, and routes by the request's Host header (HTTPScaledObject `hosts`). ACK ships no
# HTTP add-on; it is the kedacore chart below, pinned (kedacore/charts http-add-on/Chart.yaml, 0.15.0).
KEDA_ADDON = "ack-keda"
HTTP_ADDON_CHART = "keda-add-ons-http"
HTTP_ADDON_VERSION = "0.15.0"
HTTP_ADDON_REPO = "https://kedacore.github.io/charts"
HTTP_ADDON_NAMESPACE = "keda-http"
HTTP_ADDON_RELEASE = "http-add-on"
# The interceptor's pods and their proxy port, as the chart labels them (templates/interceptor/deployment.yaml,
# _helpers.tpl `keda-http-add-on.matchLabels`; values.yaml `interceptor.proxy.port`).
HTTP_INTERCEPTOR_LABELS = {
    "app.kubernetes.io/component": "interceptor",
    "app.kubernetes.io/name": "http-add-on",
    "app.kubernetes.io/part-of": HTTP_ADDON_CHART,
    "app.kubernetes.io/instance": HTTP_ADDON_RELEASE,
}
HTTP_INTERCEPTOR_PORT = 8080
# How long an idle model keeps its pod before KEDA scales it to zero (HTTPScaledObject `scaledownPeriod`; KEDA's
# ScaledObject cooldownPeriod defaults to 300 s, keda.sh "ScaledObject specification").
POD_SCALEDOWN_SECONDS = 300
# The cluster autoscaler: a node with nothing to run is removed after `unneeded_duration`, and a scale-in waits
# `cool_down_duration` after a scale-out; both default to 10 minutes (terraform-provider-alicloud
# website/docs/r/cs_autoscaling_config.html.markdown), declared explicitly in components/ack_cluster.py.
NODE_UNNEEDED_SECONDS = 600
# The longest the cluster autoscaler waits for a node it asked for before giving up on it: upstream
# cluster-autoscaler's --max-node-provision-time, 15 minutes by default (kubernetes/autoscaler FAQ). ACK states
# no figure of its own for a GPU node (docs/deploying.md, "Not verified"), so a cold start budgets this bound.
NODE_PROVISION_SECONDS = 15 * 60
# Image pull and load-balancer set-up, on top of a model's startup budget (components/inference_release.py).
IMAGE_PULL_SECONDS = 300


def cold_start_seconds(weights_gib: float) -> int:
    """A request to a model at zero pods on a pool at zero nodes waits for a node, the image and the model load."""
    return NODE_PROVISION_SECONDS + IMAGE_PULL_SECONDS + startup_budget_seconds(weights_gib)
