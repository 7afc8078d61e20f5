"""Facts only the cloud knows (the account id, which zones offer a GPU type), looked up once per run."""

from __future__ import annotations

import pulumi
import pulumi_alicloud as alicloud

from fleet.settings import RegionSettings


def account_id() -> str:
    return alicloud.get_account().id


def zone_ids(settings: RegionSettings) -> tuple[str, ...]:
    """The configured zones, or the first zones (in id order) that offer both vSwitches and the GPU type."""
    network = settings.network
    if network.zones:
        return network.zones
    gpu_type = settings.gpu.instance_types[0]
    found = sorted(alicloud.get_zones(available_resource_creation="VSwitch", available_instance_type=gpu_type).ids)
    if len(found) < network.zone_count:
        raise pulumi.RunError(
            f"{settings.project}:zoneCount: {settings.region} has {len(found)} zone(s) offering {gpu_type}"
            f" ({', '.join(found) or 'none'}), {network.zone_count} needed; lower zoneCount,"
            " choose another gpuInstanceTypes[0], or list zones explicitly in zones"
        )
    return tuple(found[: network.zone_count])


# Account-wide service roles ACK's managed components act through; authorized once per account (RAM console or
# Alibaba's "Use Terraform to assign default roles to ACK"), so a region stack checks them instead of creating them.
ACK_SERVICE_ROLES = {
    "AliyunCSManagedAutoScalerRole": "the cluster autoscaler scales node pools"
    " (policy AliyunCSManagedAutoScalerRolePolicy)",
    "AliyunCSManagedAcrRole": "the managed ACR credential helper issues pull credentials",
}


def ack_service_roles(registry_edition: str) -> dict[str, str]:
    """The roles this region's ACK needs: the credential helper's only where it is installed (Enterprise)."""
    return {
        name: why
        for name, why in ACK_SERVICE_ROLES.items()
        if name != "AliyunCSManagedAcrRole" or registry_edition == "enterprise"
    }


def require_service_roles(roles: dict[str, str], region: str) -> None:
    """Fail before declaring anything when the account lacks a service role ACK needs, naming each and why."""
    found = {role.name for role in alicloud.ram.get_roles(name_regex="^AliyunCSManaged").roles}
    missing = [f"{name} ({why})" for name, why in roles.items() if name not in found]
    if missing:
        raise pulumi.RunError(
            f"the account lacks ACK service roles needed in {region}: {'; '.join(missing)}; authorize them once in"
            " the RAM console (Container Service's cloud resource access authorization) and run `pulumi up` again"
        )
