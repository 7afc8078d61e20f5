"""CgpuNodePool: the GPU node pool whose GPUs cGPU shares between models, sized from the capacity planner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud

from fleet import serving


@dataclass(frozen=True)
class CgpuNodePoolArgs:
    cluster_id: pulumi.Input[str]
    vswitch_ids: pulumi.Input[Sequence[str]]
    instance_types: Sequence[str]
    schedule_label: str  # cgpu (memory isolated) or core_mem (memory and compute isolated)
    min_nodes: int  # from packing the minimum replicas
    max_nodes: int  # from packing the maximum replicas
    system_disk_gib: int
    spot: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


def gpu_labels(schedule_label: str) -> list[dict[str, str]]:
    return [
        {"key": serving.GPU_SCHEDULE_LABEL, "value": schedule_label},
        {"key": serving.GPU_PLACEMENT_LABEL, "value": "binpack"},
        {"key": serving.NODE_POOL_LABEL, "value": "gpu"},
        # The driver must fit the serving image's CUDA generation; without the label ACK installs its default.
        {"key": serving.NVIDIA_DRIVER_LABEL, "value": serving.NVIDIA_DRIVER_VERSION},
    ]


def spot_settings(spot: bool) -> dict:
    """Spot at the market price, replaced by on-demand when spot capacity runs out or is reclaimed."""
    if not spot:
        return {"spot_strategy": "NoSpot"}
    return {
        "spot_strategy": "SpotAsPriceGo",
        "spot_instance_remedy": True,
        "compensate_with_on_demand": True,
        "on_demand_base_capacity": "0",
        "on_demand_percentage_above_base_capacity": "0",
    }


class CgpuNodePool(pulumi.ComponentResource):
    """GPU nodes labelled for isolated cGPU sharing with binpack placement, tainted so only GPU pods land there."""

    node_pool_id: pulumi.Output[str]

    def __init__(self, name: str, args: CgpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:kubernetes:CgpuNodePool", name, None, opts)

        self.node_pool = alicloud.cs.NodePool(
            f"{name}-pool",
            cluster_id=args.cluster_id,
            node_pool_name="gpu-shared",
            vswitch_ids=args.vswitch_ids,
            instance_types=list(args.instance_types),
            # The cluster autoscaler adds GPUs as replicas scale out; gpushare tells it the pool shares GPUs.
            scaling_config={
                "enable": True,
                "min_size": args.min_nodes,
                "max_size": args.max_nodes,
                "type": "gpushare",
            },
            multi_az_policy="BALANCE",
            labels=gpu_labels(args.schedule_label),
            taints=[dict(serving.GPU_TAINT)],
            update_nodes=True,  # label and taint changes reach existing nodes too
            system_disk_category="cloud_essd",
            system_disk_performance_level="PL1",
            system_disk_size=args.system_disk_gib,
            image_type="AliyunLinux3",
            runtime_name="containerd",
            install_cloud_monitor=True,
            # cGPU is incompatible with the static CPU manager policy; keep kubelet's default (none).
            cpu_policy="none",
            management={"enable": True, "auto_repair": True, "max_unavailable": 1},
            tags=dict(args.tags),
            **spot_settings(args.spot),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.node_pool_id = self.node_pool.node_pool_id
        self.register_outputs({"node_pool_id": self.node_pool_id})
