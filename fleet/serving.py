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
