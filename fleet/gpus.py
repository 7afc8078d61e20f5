"""Alibaba Cloud ECS GPU families and instance types that beacon-fleet can place models on."""

from __future__ import annotations

import difflib
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

# The real instance types of each family, exactly as Alibaba Cloud's ECS documentation names them in
# "GPU-accelerated compute-optimized instance families" (help.aliyun.com, ECS > Instance families), as
# summarised in /work/shared/reference/alibaba.md §2 (checked 2026-11). Only the sizes that page names are
# listed, never a guessed one: a type missing here is refused with the nearest real one, so a typo is not
# packed as if it were a real GPU. To add a size, copy its name from that page (or from
# `alicloud.ecs.get_instance_types(instance_type_family="ecs.gn7i")`) and cite it in the commit.
INSTANCE_TYPES: dict[str, tuple[str, ...]] = {
    "gn6i": (
        "ecs.gn6i-c4g1.xlarge",
        "ecs.gn6i-c8g1.2xlarge",
        "ecs.gn6i-c16g1.4xlarge",
        "ecs.gn6i-c24g1.12xlarge",
        "ecs.gn6i-c24g1.24xlarge",
    ),
    "gn6v": ("ecs.gn6v-c8g1.2xlarge", "ecs.gn6v-c8g1.4xlarge", "ecs.gn6v-c8g1.8xlarge", "ecs.gn6v-c8g1.16xlarge"),
    "gn6e": ("ecs.gn6e-c12g1.3xlarge", "ecs.gn6e-c12g1.24xlarge"),
    "gn7i": (
        "ecs.gn7i-c8g1.2xlarge",
        "ecs.gn7i-c16g1.4xlarge",
        "ecs.gn7i-c32g1.8xlarge",
        "ecs.gn7i-c32g1.16xlarge",
        "ecs.gn7i-c32g1.32xlarge",
        "ecs.gn7i-2x.8xlarge",
        "ecs.gn7i-4x.8xlarge",
        "ecs.gn7i-8x.16xlarge",
    ),
    "gn7s": ("ecs.gn7s-c8g1.2xlarge",),
    "gn7": ("ecs.gn7-c12g1.3xlarge", "ecs.gn7-c13g1.13xlarge", "ecs.gn7-c13g1.26xlarge"),
    "gn7e": ("ecs.gn7e-c16g1.4xlarge", "ecs.gn7e-c16g1.32xlarge"),
    "gn8is": (
        "ecs.gn8is.2xlarge",
        "ecs.gn8is.4xlarge",
        "ecs.gn8is-2x.8xlarge",
        "ecs.gn8is-4x.16xlarge",
        "ecs.gn8is-8x.32xlarge",
    ),
    "gn8v": ("ecs.gn8v.4xlarge", "ecs.gn8v-2x.8xlarge", "ecs.gn8v-8x.48xlarge"),
}
assert set(INSTANCE_TYPES) == set(GPU_FAMILIES)
_FAMILY_OF_TYPE = {t: GPU_FAMILIES[family] for family, types in INSTANCE_TYPES.items() for t in types}

# Any ECS GPU type name, real or not: ecs.<gn family>[.-]<size>.
_GPU_TYPE_SHAPE = re.compile(r"^ecs\.(?P<family>gn[0-9]+[a-z]*)[.-][a-z0-9.-]+$")


def gpu_family_of(instance_type: str) -> GpuFamily | None:
    """The GPU family of a real ECS GPU instance type (INSTANCE_TYPES), or None for anything else."""
    return _FAMILY_OF_TYPE.get(instance_type) if isinstance(instance_type, str) else None


def looks_like_gpu_type(instance_type: str) -> bool:
    """Named like an ECS GPU type (ecs.gn…), whether or not it is a real one."""
    return isinstance(instance_type, str) and bool(_GPU_TYPE_SHAPE.match(instance_type.strip().lower()))


def unknown_type_hint(instance_type: str) -> str:
    """Why an instance type is not a known GPU type, with the nearest real one: the end of a config message."""
    match = _GPU_TYPE_SHAPE.match(instance_type)
    family = GPU_FAMILIES.get(match["family"]) if match else None
    close = difflib.get_close_matches(instance_type, list(_FAMILY_OF_TYPE), n=1, cutoff=0.8)
    mean = f"did you mean {close[0]}? " if close else ""
    if family is not None:
        return (
            f"not an ECS instance type of {family.family} ({family.gpu} {family.memory_gib} GB); {mean}"
            f"{family.family} types: {', '.join(INSTANCE_TYPES[family.family])}"
        )
    known = ", ".join(f"{f.family} ({f.gpu} {f.memory_gib} GB)" for f in GPU_FAMILIES.values())
    return f"not an ECS GPU instance type of a known family; {mean}families: {known}"
