"""Alibaba Cloud ECS GPU families and instance types that beacon-fleet can place models on."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuFamily:
    family: str  # ECS family, e.g. gn7i
    gpu: str  # GPU model
    memory_gib: int  # memory of one GPU, as marketed
    # Memory NVML reports for one GPU, in MiB (what `nvidia-smi` shows); None where no source gives it.
    nvml_mib: int | None = None

    @property
    def schedulable_gib(self) -> int | None:
        """`aliyun.com/gpu-mem` units the gpushare device plugin advertises per GPU: floor(NVML MiB / 1024)
        (AliyunContainerService/gpushare-device-plugin pkg/gpu/nvidia/nvidia.go, setGPUMemory)."""
        return self.nvml_mib // 1024 if self.nvml_mib is not None else None


# ECS "GPU-accelerated compute-optimized instance families" (docs/models.md cites the source). NVML figures are
# what `nvidia-smi` prints in public logs (docs/deploying.md, "GPU memory under cGPU"; secondary sources, to be
# checked on a real node); None where none was found, and then cGPU packing refuses the family, not a guess.
GPU_FAMILIES: dict[str, GpuFamily] = {
    f.family: f
    for f in (
        # 15,360 MiB with newer drivers, 15,109 with older ones: the lower, so a slice never outgrows the GPU.
        GpuFamily("gn6i", "T4", 16, nvml_mib=15109),
        GpuFamily("gn6v", "V100-16GB", 16, nvml_mib=16384),  # Tesla V100-SXM2-16GB
        GpuFamily("gn6e", "V100-32GB", 32, nvml_mib=32768),  # Tesla V100-SXM2-32GB
        # 23,028 MiB: ../shared/reference/real-cloud-behaviour.md (cGPU section), 22 schedulable GiB.
        GpuFamily("gn7i", "A10", 24, nvml_mib=23028),
        GpuFamily("gn7s", "A30", 24, nvml_mib=24576),
        # ECS docs name the memory of gn7, gn7e and gn8v GPUs but not the model.
        GpuFamily("gn7", "A100-class 40GB", 40),
        GpuFamily("gn7e", "A100-class 80GB", 80),
        GpuFamily("gn8is", "L20", 48, nvml_mib=46068),
        GpuFamily("gn8v", "96GB HBM3", 96),
    )
}

_INSTANCE_TYPE = re.compile(r"^ecs\.(?P<family>gn[0-9]+[a-z]*)[.-][a-z0-9.-]+$")


def gpu_family_of(instance_type: str) -> GpuFamily | None:
    """The GPU family of an ECS instance type, or None when it is not a known GPU type."""
    match = _INSTANCE_TYPE.match(instance_type)
    return GPU_FAMILIES.get(match["family"]) if match else None
