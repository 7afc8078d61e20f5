"""PAI-EAS service JSON and endpoint URLs, as pure functions of a model's serving plan.

Keys follow Alibaba's "JSON deployment" parameter appendix. EAS compares the stored config with ours as
canonical JSON, so the document is built deterministically and holds only what we mean to set.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from fleet import capacity, serving, weights
from fleet.settings_types import RegionSettings

MODEL_MOUNT_ROOT = "/models"
# The fewest instances an EAS service keeps. The sources contradict each other: the console guide for horizontal
# auto scaling (help.aliyun.com/document_detail/414261.htm) says the minimum "支持设置的下限为0" (may be as low as
# 0) and documents the delay before scaling to 0; the UpdateServiceAutoScaler API (updated 2026-01-28) says `min`
# "需要大于 0" while documenting onZero.scaleDownGracePeriodSeconds (default 600). The service config's
# `autoscaler` block is what the console writes, so beacon-fleet relies on the console guide: 0, scale to zero
# (../shared/reference/prices-2026-12.md). The service is still created with one instance ("instance" below).
MIN_INSTANCES = 0
# How long EAS keeps an idle service before scaling it to zero: onZero.scaleDownGracePeriodSeconds' default
# (UpdateServiceAutoScaler API); the cost view bills it as idle time.
SCALE_TO_ZERO_GRACE_SECONDS = 600
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class EasServicePlan:
    service_name: str
    model_id: str
    dtype: str
    instance_type: str
    min_replicas: int
    max_replicas: int
    qps_target: int
    max_model_len: int
    max_num_seqs: int
    bucket: str
    oss_endpoint: str  # the bucket's internal endpoint
    public_endpoint: bool  # False: the shared gateway's internet endpoint is disabled
    startup_budget_seconds: int = serving.STARTUP_BASE_SECONDS  # the model's load, as serving budgets it


@dataclass(frozen=True)
class EasPlacement:
    """What only exists once the region's other resources do (known at deployment, not in the plan)."""

    image: str  # VPC registry domain, by digest
    vpc_id: str
    vswitch_id: str
    security_group_id: str


def service_name(name_prefix: str, stack: str, model_id: str) -> str:
    """3-63 lowercase letters, digits and underscores, starting with a letter; unique in the region."""
    name = _NOT_NAME.sub("_", f"{name_prefix}_{stack}_{model_id}".lower()).strip("_")
    return re.sub(r"_{2,}", "_", name)[:63].rstrip("_")


def plans(settings: RegionSettings, bucket: str) -> list[EasServicePlan]:
    """One EAS service per served model; public only where the jurisdiction allows it."""
    public = not settings.residency.mainland or bool(settings.residency.icp_licence)
    return [
        EasServicePlan(
            service_name=service_name(settings.name_prefix, settings.stack, model.id),
            model_id=model.id,
            dtype=model.dtype,
            instance_type=settings.eas.instance_type,
            min_replicas=max(settings.scaling.min_replicas, MIN_INSTANCES),
            max_replicas=max(settings.scaling.max_replicas, MIN_INSTANCES),
            qps_target=settings.eas.qps_target,
            max_model_len=settings.max_context_tokens,
            max_num_seqs=settings.max_concurrent_sequences,
            bucket=bucket,
            oss_endpoint=serving.oss_internal_endpoint(settings.region),
            public_endpoint=public,
            startup_budget_seconds=serving.startup_budget_seconds(
                capacity.estimate_memory(
                    model.spec, model.dtype, settings.max_context_tokens, settings.max_concurrent_sequences
                ).weights_gib
            ),
        )
        for model in settings.models
    ]


# *estimate*, not a vendor figure: a GPU instance scheduled and started, and a several-GB image pulled through
# the VPC, before the model starts loading. The provider's own default (5 minutes) covers none of it.
PROVISION_SECONDS = 15 * 60


def create_timeout(plan: EasServicePlan) -> str:
    """The custom create/update timeout for a service: provisioning plus the model's load, in whole minutes."""
    return f"{math.ceil((PROVISION_SECONDS + plan.startup_budget_seconds) / 60)}m"


VLLM_DTYPES = {"fp16": ("float16", ""), "bf16": ("bfloat16", ""), "fp8": ("auto", "fp8"), "int8": ("auto", "")}


def vllm_dtype(dtype: str) -> tuple[str, str]:
    """(--dtype, --quantization) for a catalog dtype; AWQ and GPTQ weights carry their own dtype."""
    if dtype in ("awq", "gptq"):
        return ("auto", dtype)
    return VLLM_DTYPES.get(dtype, ("auto", ""))


def service_config(plan: EasServicePlan, placement: EasPlacement) -> dict:
    """The EAS service document, written in the form EAS exports it, so a refresh reads back what was written.

    No `token`: EAS hides it on export; left out, EAS generates one (providers/eas_token.py reads it back)."""
    dtype, quantization = vllm_dtype(plan.dtype)
    model_dir = f"{MODEL_MOUNT_ROOT}/{plan.model_id}"
    env = [
        {"name": "MODEL_DIR", "value": model_dir},
        {"name": "SERVED_MODEL_NAME", "value": plan.model_id},
        {"name": "MAX_MODEL_LEN", "value": str(plan.max_model_len)},
        {"name": "MAX_NUM_SEQS", "value": str(plan.max_num_seqs)},
        {"name": "DTYPE", "value": dtype},
        {"name": "PORT", "value": str(serving.SERVING_PORT)},
        # The EAS gateway checks the token, sent as EAS documents it (`Authorization: <token>`). vLLM would accept
        # only `Bearer <key>`, so it must not demand a key of its own behind the gateway; serve.py allows that
        # only when told the gateway authenticates.
        {"name": "AUTH_AT_GATEWAY", "value": "eas"},
    ]
    if quantization:
        env.append({"name": "QUANTIZATION", "value": quantization})
    autoscaled = plan.max_replicas > plan.min_replicas
    document: dict = {
        "metadata": {
            "name": plan.service_name,
            "rolling_strategy": {"max_surge": 1, "max_unavailable": 0},
            "eas.termination_grace_period": 60,
        }
        # The instance count belongs to the autoscaler when there is one: EAS exports its current count, and the
        # provider compares the export with this document, so a written count would be reset on every `up`.
        | ({} if autoscaled else {"instance": max(plan.min_replicas, 1)}),
        "cloud": {
            "computing": {"instances": [{"type": plan.instance_type}]},
            "networking": {
                "vpc_id": placement.vpc_id,
                "vswitch_id": placement.vswitch_id,
                "security_group_id": placement.security_group_id,
            },
        },
        # No explicit probes: vLLM binds its port only once the model is loaded, which EAS's default TCP
        # readiness check on `port` observes.
        "containers": [{"image": placement.image, "port": serving.SERVING_PORT, "env": env}],
        # Documented keys only (Mount storage to services): `oss.path`, `oss.readOnly`, `mount_path`; the
        # endpoint is the top-level `oss_endpoint`, the bucket's internal one.
        "storage": [
            {
                "mount_path": model_dir,
                "oss": {"path": weights.weights_uri(plan.bucket, plan.model_id), "readOnly": True},
            }
        ],
        "oss_endpoint": plan.oss_endpoint,
        # No RAM role: EAS mounts OSS with its service-linked role AliyunServiceRoleForPaiEas, and "pulls images
        # from ACR without authentication when the registry and service use the same Alibaba Cloud account and
        # region" (PAI "Deploy a model service by using a custom image"). A custom role would also be used for the
        # pull (PAI "Configure the EAS RAM role"), and neither its trusted principal nor its config key is settled
        # by a source; vLLM calls no Alibaba API, so the container needs no credentials either.
    }
    if autoscaled:
        document["autoscaler"] = {
            "min": plan.min_replicas,
            "max": plan.max_replicas,
            "scaleStrategies": [{"metricName": "qps", "threshold": plan.qps_target}],
        }
    if not plan.public_endpoint:
        document["networking"] = {"disable_internet_endpoint": "true"}
    return document


def vpc_endpoint(account_id: str, region: str, name: str) -> str:
    return f"http://{account_id}.vpc.{region}.pai-eas.aliyuncs.com/api/predict/{name}"


def public_endpoint(account_id: str, region: str, name: str) -> str:
    # HTTPS: the token must never cross the internet in clear text ("You can replace http with https", EAS docs).
    return f"https://{account_id}.{region}.pai-eas.aliyuncs.com/api/predict/{name}"
