"""The capacity planner: GPU memory per model, and first-fit-decreasing packing of replicas onto GPUs.

cGPU gives each pod a memory slice (`aliyun.com/gpu-mem`, whole GiB) isolated on a shared GPU. A slice is
weights + KV cache + runtime overhead:
  weights  = parameters x bytes per parameter for the dtype
  KV cache = 2 (K and V) x layers x kv_heads x head_dim x 2 bytes (fp16 cache) x context x sequences
  overhead = CUDA context, activations and allocator slack
All pure functions; the offline plan and validation both use them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fleet.catalog import DTYPE_BYTES, ModelSpec
from fleet.settings_types import RegionSettings

GIB = 2**30
KV_CACHE_BYTES = 2  # vLLM keeps the KV cache in fp16 unless told otherwise, whatever the weights' dtype
RUNTIME_OVERHEAD_GIB = 1.0
MAX_PODS_PER_GPU = 20  # cGPU's limit on pods sharing one GPU


@dataclass(frozen=True)
class MemoryEstimate:
    model: str
    dtype: str
    weights_gib: float
    kv_cache_gib: float
    overhead_gib: float

    @property
    def total_gib(self) -> float:
        return self.weights_gib + self.kv_cache_gib + self.overhead_gib

    @property
    def slice_gib(self) -> int:
        """The whole GiB asked for as aliyun.com/gpu-mem."""
        return math.ceil(round(self.total_gib, 6))

    def explain(self) -> str:
        return (
            f"{self.weights_gib:.1f} GiB weights + {self.kv_cache_gib:.1f} GiB KV cache"
            f" + {self.overhead_gib:.1f} GiB runtime = {self.total_gib:.1f}, sliced as {self.slice_gib} GiB"
        )


def estimate_memory(spec: ModelSpec, dtype: str, context_tokens: int, sequences: int) -> MemoryEstimate:
    weights = spec.params_b * 1e9 * DTYPE_BYTES[dtype] / GIB
    kv_per_token = 2 * spec.layers * spec.kv_heads * spec.head_dim * KV_CACHE_BYTES
    kv_cache = kv_per_token * context_tokens * sequences / GIB
    return MemoryEstimate(spec.id, dtype, weights, kv_cache, RUNTIME_OVERHEAD_GIB)


@dataclass(frozen=True)
class Slice:
    model: str
    replica: int
    gib: int


@dataclass(frozen=True)
class Gpu:
    index: int
    capacity_gib: int
    slices: tuple[Slice, ...]

    @property
    def used_gib(self) -> int:
        return sum(s.gib for s in self.slices)

    @property
    def free_gib(self) -> int:
        return self.capacity_gib - self.used_gib


@dataclass(frozen=True)
class Packing:
    gpu_name: str
    capacity_gib: int
    gpus: tuple[Gpu, ...]
    replicas: int

    @property
    def gpus_needed(self) -> int:
        return len(self.gpus)

    @property
    def gpus_saved(self) -> int:
        """Against one whole GPU per replica, as without cGPU sharing."""
        return self.replicas - self.gpus_needed

    def as_output(self) -> dict:
        return {
            "gpu": f"{self.gpu_name} {self.capacity_gib} GiB",
            "gpusNeeded": self.gpus_needed,
            "wholeGpuPerReplica": self.replicas,
            "gpusSaved": self.gpus_saved,
            "gpus": [
                {
                    "index": g.index,
                    "slices": [f"{s.model}#{s.replica}:{s.gib}GiB" for s in g.slices],
                    "usedGiB": g.used_gib,
                    "freeGiB": g.free_gib,
                }
                for g in self.gpus
            ],
        }


class SliceTooLargeError(ValueError):
    """A slice larger than the GPU."""


def pack(slices: Sequence[Slice], gpu_name: str, capacity_gib: int) -> Packing:
    """First-fit decreasing: largest slices first, each onto the first GPU with room (and a pod place)."""
    too_big = [s for s in slices if s.gib > capacity_gib]
    if too_big:
        raise SliceTooLargeError(", ".join(f"{s.model} needs {s.gib} GiB" for s in too_big))
    open_gpus: list[list[Slice]] = []
    for piece in sorted(slices, key=lambda s: (-s.gib, s.model, s.replica)):
        for gpu in open_gpus:
            if sum(s.gib for s in gpu) + piece.gib <= capacity_gib and len(gpu) < MAX_PODS_PER_GPU:
                gpu.append(piece)
                break
        else:
            open_gpus.append([piece])
    gpus = tuple(Gpu(i + 1, capacity_gib, tuple(g)) for i, g in enumerate(open_gpus))
    return Packing(gpu_name, capacity_gib, gpus, replicas=len(slices))


def replica_slices(estimates: Sequence[MemoryEstimate], replicas: int) -> list[Slice]:
    return [Slice(e.model, r + 1, e.slice_gib) for e in estimates for r in range(replicas)]


def region_packing(settings: RegionSettings, replicas: int | None = None) -> Packing:
    """How the region's replicas (by default the minimum, at least one) share GPUs through cGPU slices."""
    estimates = [
        estimate_memory(m.spec, m.dtype, settings.max_context_tokens, settings.max_concurrent_sequences)
        for m in settings.models
    ]
    count = replicas if replicas is not None else max(settings.scaling.min_replicas, 1)
    slices = replica_slices(estimates, count)
    # What the scheduler can place: the device plugin's units (floor of NVML MiB / 1024), not the marketed size.
    units = settings.gpu.family.schedulable_gib
    assert units is not None, "settings refuse a cGPU family whose advertised memory is unknown"
    return pack(slices, settings.gpu.family.gpu, units)


def gpu_pool_size(settings: RegionSettings) -> dict[str, int]:
    """GPU nodes (one GPU each) for the minimum and the maximum replicas, packed by the planner."""
    low = settings.scaling.min_replicas
    return {
        "minNodes": region_packing(settings, low).gpus_needed if low > 0 else 0,
        "maxNodes": region_packing(settings, settings.scaling.max_replicas).gpus_needed,
    }
