"""RegionNetwork: the region's VPC, its node and pod vSwitches (one each per zone) and the serving security group."""

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
    pod_vswitches: Sequence[VSwitchSpec] = ()  # Terway gives pods addresses from these
    serving_security_group_name: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


class RegionNetwork(pulumi.ComponentResource):
    """A VPC spread over several zones, so one zone's outage leaves the region serving."""

    vpc_id: pulumi.Output[str]
    node_vswitch_ids: pulumi.Output[list[str]]
    pod_vswitch_ids: pulumi.Output[list[str]]
    serving_security_group_id: pulumi.Output[str]

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
            self._vswitch(f"{name}-nodes-{index + 1}", spec, f"Nodes in {spec.zone_id}", args.tags)
            for index, spec in enumerate(args.node_vswitches)
        ]
        self.pod_vswitches = [
            self._vswitch(f"{name}-pods-{index + 1}", spec, f"Terway pod addresses in {spec.zone_id}", args.tags)
            for index, spec in enumerate(args.pod_vswitches)
        ]
        # EAS instances join the VPC through this group. It admits nothing inbound (EAS traffic arrives through
        # its gateway) and keeps the default outbound rule, so instances reach OSS and ACR over the VPC.
        self.serving_security_group = alicloud.ecs.SecurityGroup(
            f"{name}-serving-sg",
            security_group_name=args.serving_security_group_name or f"{args.vpc_name}-serving",
            vpc_id=self.vpc.id,
            description="PAI-EAS serving instances: no inbound rules",
            tags=dict(args.tags),
            opts=child,
        )

        self.vpc_id = self.vpc.id
        self.node_vswitch_ids = pulumi.Output.all(*[s.id for s in self.node_vswitches])
        self.pod_vswitch_ids = pulumi.Output.all(*[s.id for s in self.pod_vswitches])
        self.serving_security_group_id = self.serving_security_group.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "node_vswitch_ids": self.node_vswitch_ids,
                "pod_vswitch_ids": self.pod_vswitch_ids,
                "serving_security_group_id": self.serving_security_group_id,
            }
        )

    def _vswitch(self, resource_name: str, spec: VSwitchSpec, description: str, tags: Mapping[str, str]):
        return alicloud.vpc.Switch(
            resource_name,
            vswitch_name=spec.name,
            vpc_id=self.vpc.id,
            zone_id=spec.zone_id,
            cidr_block=spec.cidr_block,
            description=description,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
