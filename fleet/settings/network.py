"""Network settings: the VPC range and one node and one Terway pod vSwitch per zone, carved from it."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from fleet.settings.problems import Problems
from fleet.settings_types import NetworkSettings


def parse_network(values: dict[str, Any], region: str, p: Problems) -> NetworkSettings | None:
    cidr_text = values.get("vpcCidr")
    prefix_length = values.get("vswitchPrefixLength")
    zones = values.get("zones")
    zone_count = values.get("zoneCount")
    if cidr_text is None or prefix_length is None or zones is None or zone_count is None:
        return None
    try:
        vpc = ipaddress.IPv4Network(cidr_text)
    except ValueError:
        p.add("vpcCidr", f"'{cidr_text}' is not an IPv4 CIDR such as 10.10.0.0/16 (host bits must be zero)")
        return None
    if not vpc.is_private or not 8 <= vpc.prefixlen <= 24:
        p.add("vpcCidr", f"{vpc} must be a private (RFC 1918) range between /8 and /24")
        return None

    if zones:
        if len(set(zones)) != len(zones):
            p.add("zones", f"zone ids repeat: {zones}")
        for index, zone in enumerate(zones):
            # Zone ids are the region id plus a letter, hyphenated or not: cn-beijing-h, us-east-1a.
            if region and not re.fullmatch(rf"{re.escape(region)}-?[a-z]", zone):
                p.add(f"zones[{index}]", f"'{zone}' is not a zone of {region} (like {region}-h or {region}a)")
        count = len(zones)
        if count < 2:
            p.add("zones", "list at least two zones, so a zone outage does not take the region down")
    else:
        count = zone_count
        if count < 2:
            p.add("zoneCount", f"must be at least 2 so a zone outage does not take the region down, got {count}")

    if not vpc.prefixlen < prefix_length <= 28:
        p.add(
            "vswitchPrefixLength", f"must be longer than the VPC's /{vpc.prefixlen} and at most 28, got {prefix_length}"
        )
        return None
    available = 2 ** (prefix_length - vpc.prefixlen)
    if 2 * count > available:
        p.add(
            "vswitchPrefixLength",
            f"/{prefix_length} gives only {available} vSwitches in {vpc}; {count} zones need {2 * count}"
            " (a node and a Terway pod vSwitch each); use a shorter prefix length",
        )
        return None
    subnets = vpc.subnets(new_prefix=prefix_length)
    cidrs = [str(next(subnets)) for _ in range(max(2 * count, 0))]
    return NetworkSettings(
        vpc_cidr=str(vpc),
        zones=tuple(zones),
        zone_count=count,
        node_vswitch_cidrs=tuple(cidrs[:count]),
        pod_vswitch_cidrs=tuple(cidrs[count:]),
    )
