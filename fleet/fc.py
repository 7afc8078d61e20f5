"""Function Compute 3.0 GPU functions: what FC offers, and one function's plan per model, as pure functions.

Facts and their sources: ../shared/reference/weights-fc-eas.md (FC 3.0 section) and prices-2026-11.md.
- GPU functions are offered in the regions of FC_GPU_REGIONS; FC's region table is cut off after them, so a
  region not listed (us-east-1, eu-central-1 among them) is treated as unsupported until a source says otherwise.
- `gpuConfig.gpuMemorySize` is in MB, a multiple of 1024, within the GPU type's range.
- Minimum instances 0 scales to zero: there is no provision config, so nothing runs while no request does.
- The HTTP trigger is anonymous and reached over HTTPS; vLLM in the container checks `Authorization: Bearer
  <key>` itself (VLLM_API_KEY), the one scheme vLLM accepts. FC's own Bearer trigger auth exists in the
  console, but the exact `triggerConfig` strings for it are not documented anywhere we found, and FC's
  default `function` auth wants an ACS3-HMAC signature that the router does not produce.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from fleet import capacity, eas, serving
from fleet.settings_types import RegionSettings


@dataclass(frozen=True)
class FcGpuType:
    gpu_type: str  # the provider's gpu_type
    gpu: str  # the GPU class it is
    max_memory_mb: int  # the largest gpuMemorySize FC accepts for it
    source: str  # where the maximum comes from


FC_GPU_TYPES: dict[str, FcGpuType] = {
    t.gpu_type: t
    for t in (
        FcGpuType("fc.gpu.tesla.1", "T4", 16384, "FC docs: 1024-16384 MB"),
        FcGpuType("fc.gpu.ampere.1", "A10", 24576, "a public template: up to 24576 MB in 1024 steps"),
        FcGpuType("fc.gpu.ada.1", "Ada", 49152, "third-party use of 49152 MB; FC's own maximum not found"),
    )
}
DEFAULT_GPU_TYPE = "fc.gpu.ampere.1"
MEMORY_STEP_MB = 1024

# FC 3.0 regions page (help.aliyun.com/en/functioncompute/regions): GPU functions offered here; the table is cut
# off after these, so any other region counts as not offering them until a source says otherwise.
FC_GPU_REGIONS = ("cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-wulanchabu", "cn-shenzhen", "ap-southeast-1")

# The function's host side, *estimate* (no source sizes it for vLLM): 8 vCPU and 32 GB (FC allows a vCPU to
# memory ratio of 1:1 to 1:4) hold a 7B model's fp16 weights while they load; 10 GB of disk (FC offers 512 MB
# or 10240 MB) for vLLM's and Triton's compile caches.
VCPU = 8.0
MEMORY_MB = 32768
DISK_MB = 10240
REQUEST_TIMEOUT_SECONDS = 600  # the longest answer once the model is loaded
# FC 3.0 GPU cold start "10到30秒" (10-30 s, instance start to ready for a prepared image): the weights load on top.
COLD_START_SECONDS = (10, 30)
# FC API struct CustomHealthCheckConfig: timeoutSeconds 1-3 (the provider's schema: IntBetween(0, 3)).
HEALTH_CHECK_TIMEOUT_SECONDS = 3
COLD_START_SOURCE = "FC 3.0 GPU docs: 10-30 s to a warm instance, plus the model's load from the OSS mount"
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class FcFunctionPlan:
    function_name: str
    model_id: str
    gpu_type: str
    gpu_memory_mb: int
    max_instances: int
    instance_concurrency: int
    bucket: str
    oss_endpoint: str
    environment: dict[str, str]
    startup_budget_seconds: int

    @property
    def cold_start_seconds(self) -> int:
        """A scale-to-zero function's first request waits for an instance (FC: up to 30 s) and the whole model load
        (the same budget ACK's probes and EAS's create timeout use): what the router must wait for."""
        return COLD_START_SECONDS[1] + self.startup_budget_seconds

    @property
    def request_timeout_seconds(self) -> int:
        """FC's function timeout: at least the longest answer, and never shorter than the cold start before it."""
        return self.cold_start_seconds + REQUEST_TIMEOUT_SECONDS


def function_name(name_prefix: str, stack: str, model_id: str) -> str:
    """Letters, digits, _ and -, starting with a letter, at most 64 characters (FC allows 128)."""
    return _NOT_NAME.sub("-", f"{name_prefix}-{stack}-{model_id}").strip("-")[:64].rstrip("-")


def gpu_memory_mb(slice_gib: int) -> int:
    """The model's slice as FC's gpuMemorySize: whole GiB, so already a multiple of 1024 MB."""
    return max(1, math.ceil(slice_gib)) * MEMORY_STEP_MB


def memory_problem(gpu_type: str, memory_mb: int) -> str | None:
    """Why FC would refuse this gpuMemorySize on this GPU type, or None."""
    found = FC_GPU_TYPES.get(gpu_type)
    if found is None:
        return f"'{gpu_type}' is not an FC GPU type; use one of {', '.join(FC_GPU_TYPES)}"
    if memory_mb % MEMORY_STEP_MB or not MEMORY_STEP_MB <= memory_mb <= found.max_memory_mb:
        return (
            f"needs {memory_mb} MB of GPU memory, but {gpu_type} ({found.gpu}) takes 1024-{found.max_memory_mb} MB"
            f" in steps of 1024 ({found.source})"
        )
    return None


def plans(settings: RegionSettings, bucket: str) -> list[FcFunctionPlan]:
    """One GPU function per served model, sized by the capacity planner."""
    result = []
    for model in settings.models:
        estimate = capacity.estimate_memory(
            model.spec, model.dtype, settings.max_context_tokens, settings.max_concurrent_sequences
        )
        dtype, quantization = eas.vllm_dtype(model.dtype)
        mount = f"{eas.MODEL_MOUNT_ROOT}/{model.id}"
        environment = {
            "MODEL_DIR": mount,
            "SERVED_MODEL_NAME": model.id,
            "MAX_MODEL_LEN": str(settings.max_context_tokens),
            "MAX_NUM_SEQS": str(settings.max_concurrent_sequences),
            "DTYPE": dtype,
            "PORT": str(serving.SERVING_PORT),
            # Not verified: whether the container sees only its gpuMemorySize (as under cGPU isolation) or the
            # whole GPU. serve.py's default (0.90 of what it sees) is right only in the first case.
        } | ({"QUANTIZATION": quantization} if quantization else {})
        result.append(
            FcFunctionPlan(
                function_name=function_name(settings.name_prefix, settings.stack, model.id),
                model_id=model.id,
                gpu_type=settings.fc.gpu_type,
                gpu_memory_mb=gpu_memory_mb(estimate.slice_gib),
                max_instances=settings.fc.max_instances,
                instance_concurrency=settings.max_concurrent_sequences,
                bucket=bucket,
                oss_endpoint=serving.oss_internal_endpoint(settings.region),
                environment=environment,
                startup_budget_seconds=serving.startup_budget_seconds(estimate.weights_gib),
            )
        )
    return result


def cold_start_problem(model_id: str, cold_start_seconds: int, answer_seconds: int, router_limit: int) -> str | None:
    """Why the router cannot wait for this model's first request after scale-to-zero, or None."""
    if cold_start_seconds + answer_seconds <= router_limit:
        return None
    return (
        f"{model_id} on FC starts cold in up to {cold_start_seconds} s (an instance, then the model's load), and with"
        f" {answer_seconds} s for the answer the router would have to wait {cold_start_seconds + answer_seconds} s,"
        f" more than its {router_limit} s limit for FC; serve it on eas or ack, or a smaller model on FC"
    )


def https(url: str) -> str:
    """FC answers a trigger's public URL over HTTP and HTTPS; the key must only ever travel over HTTPS."""
    return "https://" + url.split("://", 1)[-1] if url else url
