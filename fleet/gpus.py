"""Alibaba Cloud ECS GPU families and instance types that beacon-fleet can place models on."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuFamily:
    family: str  # ECS family, e.g. gn7i
    gpu: str  # GPU model
    memory_gib: int  # memory of one GPU


# ECS "GPU-accelerated compute-optimized instance families" (docs/models.md cites the source).
GPU_FAMILIES: dict[str, GpuFamily] = {
    f.family: f
    for f in (
        GpuFamily("gn6i", "T4", 16),
        GpuFamily("gn6v", "V100-16GB", 16),
        GpuFamily("gn6e", "V100-32GB", 32),
        GpuFamily("gn7i", "A10", 24),
        GpuFamily("gn7s", "A30", 24),
        # ECS docs name the memory of gn7, gn7e and gn8v GPUs but not the model.
        GpuFamily("gn7", "A100-class 40GB", 40),
        GpuFamily("gn7e", "A100-class 80GB", 80),
        GpuFamily("gn8is", "L20", 48),
        GpuFamily("gn8v", "96GB HBM3", 96),
    )
}

_INSTANCE_TYPE = re.compile(r"^ecs\.(?P<family>gn[0-9]+[a-z]*)[.-][a-z0-9.-]+$")


def gpu_family_of(instance_type: str) -> GpuFamily | None:
    """The GPU family of an ECS instance type, or None when it is not a known GPU type."""
    match = _INSTANCE_TYPE.match(instance_type)
    return GPU_FAMILIES.get(match["family"]) if match else None
