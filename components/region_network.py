"""RegionNetwork: the region's VPC and its vSwitches, one per zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


@dataclass(frozen=True)
class VSwitchSpec:
    name: str  # cloud name
    zone_id: str
    cidr_block: str


@dataclass(frozen=True)
class RegionNetworkArgs:
    vpc_name: str
    cidr_block: str
    node_vswitches: Sequence[VSwitchSpec]
    tags: Mapping[str, str] = field(default_factory=dict)


class RegionNetwork(pulumi.ComponentResource):
    """A VPC with node vSwitches spread over several zones, so one zone's outage leaves the region serving."""

    vpc_id: pulumi.Output[str]
    node_vswitch_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: RegionNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:network:RegionNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.vpc = alicloud.vpc.Network(
            f"{name}-vpc",
            vpc_name=args.vpc_name,
            cidr_block=args.cidr_block,
            description="Project Beacon inference fleet",
            tags=dict(args.tags),
            opts=child,
        )
        self.node_vswitches = [
            alicloud.vpc.Switch(
                f"{name}-nodes-{index + 1}",
                vswitch_name=spec.name,
                vpc_id=self.vpc.id,
                zone_id=spec.zone_id,
                cidr_block=spec.cidr_block,
                description=f"Nodes in {spec.zone_id}",
                tags=dict(args.tags),
                opts=child,
            )
            for index, spec in enumerate(args.node_vswitches)
        ]

        self.vpc_id = self.vpc.id
        self.node_vswitch_ids = pulumi.Output.all(*[s.id for s in self.node_vswitches])
        self.register_outputs({"vpc_id": self.vpc_id, "node_vswitch_ids": self.node_vswitch_ids})
