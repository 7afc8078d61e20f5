"""Kubernetes and exposure: the ACK cluster's version, ranges and system pool, who may reach its API server,
and how the router reaches models served on it."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from fleet import gpus
from fleet.settings.problems import Problems, allowlist
from fleet.settings_types import AckServingSettings, KubernetesSettings, NetworkSettings, Residency

ACK_EXPOSURES = ("intranet", "internet")
MIN_RRSA_MINOR = 23  # RRSA needs ACK 1.22.3 or later; the version pattern names 1.23 as the first accepted minor
_K8S_VERSION = re.compile(r"^1\.(?P<minor>[0-9]+)\.[0-9]+-aliyun\.[0-9]+$")
_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_ECS_TYPE = re.compile(r"^ecs\.[a-z0-9]+[.-][a-z0-9.-]+$")
_CERT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def parse_kubernetes(values: dict[str, Any], network: NetworkSettings | None, p: Problems) -> KubernetesSettings | None:
    version = values.get("kubernetesVersion")
    match = _K8S_VERSION.match(version) if isinstance(version, str) else None
    if isinstance(version, str) and match is None:
        p.add("kubernetesVersion", f"'{version}' is not an ACK version such as 1.36.1-aliyun.1")
    elif match is not None and int(match["minor"]) < MIN_RRSA_MINOR:
        p.add("kubernetesVersion", f"{version} is too old for RRSA (needs 1.22.3 or later); pick a supported version")

    service_text = values.get("serviceCidr")
    try:
        service = ipaddress.IPv4Network(service_text) if isinstance(service_text, str) else None
    except ValueError:
        p.add("serviceCidr", f"'{service_text}' is not an IPv4 CIDR such as 192.168.0.0/16")
        service = None
    if service is not None:
        if not service.is_private or not 12 <= service.prefixlen <= 24:
            p.add("serviceCidr", f"{service} must be a private (RFC 1918) range between /12 and /24")
        elif network is not None and service.overlaps(ipaddress.IPv4Network(network.vpc_cidr)):
            p.add("serviceCidr", f"{service} overlaps vpcCidr {network.vpc_cidr}; choose a range outside the VPC")

    deployers = values.get("deployerCidrs") or []
    opens = "opens the API server to the internet; list your egress CIDRs"
    for index, cidr in allowlist(deployers, "deployerCidrs", opens, p, who="the deployer's public egress CIDRs"):
        if any(cidr.overlaps(private) for private in _RFC1918):
            p.add(
                f"deployerCidrs[{index}]",
                f"{cidr} is private; the VPC can always reach the API server, list public egress CIDRs only",
            )

    system_types = values.get("systemNodeInstanceTypes")
    if system_types is not None:
        if not system_types:
            p.add("systemNodeInstanceTypes", "list at least one ECS instance type, e.g. ecs.g7.xlarge")
        for index, instance_type in enumerate(system_types):
            if not _ECS_TYPE.match(instance_type):
                p.add(f"systemNodeInstanceTypes[{index}]", f"'{instance_type}' is not an ECS instance type")
            elif gpus.looks_like_gpu_type(instance_type):
                p.add(
                    f"systemNodeInstanceTypes[{index}]",
                    f"{instance_type} is a GPU type; system pods belong on CPU nodes such as ecs.g7.xlarge",
                )
    count = values.get("systemNodeCount")
    if isinstance(count, int) and not 2 <= count <= 20:
        p.add("systemNodeCount", f"must be between 2 and 20 so system pods survive a node loss, got {count}")

    if not (isinstance(version, str) and service is not None and system_types and isinstance(count, int)):
        return None
    return KubernetesSettings(
        version=version,
        service_cidr=str(service),
        deployer_cidrs=tuple(deployers),
        system_instance_types=tuple(system_types),
        system_node_count=count,
    )


def parse_ack_serving(values: dict[str, Any], residency: Residency | None, p: Problems) -> AckServingSettings | None:
    exposure = values.get("ackExposure")
    if exposure not in ACK_EXPOSURES:
        p.add("ackExposure", f"'{exposure}' must be intranet or internet")
    cidrs = values.get("servingAllowedCidrs") or []
    allowlist(
        cidrs,
        "servingAllowedCidrs",
        "allows everyone; list the router's egress CIDRs",
        p,
        who="the router's egress CIDRs",
    )
    cert = values.get("servingTlsCertId", "")
    if cert and not _CERT_ID.match(str(cert)):
        p.add("servingTlsCertId", f"'{cert}' is not a certificate id; copy it from the Certificate Management Service")
    if exposure == "internet":
        if not cidrs:
            p.add(
                "servingAllowedCidrs",
                "ackExposure is internet but no CIDR is allowed; list the router's egress CIDRs so the load"
                " balancers are not open to everyone",
            )
        if not cert:
            p.add(
                "servingTlsCertId",
                "ackExposure is internet, which needs HTTPS at the load balancer (the API key must not cross the"
                " internet in clear text); set the certificate id, or keep ackExposure intranet",
            )
        if residency is not None and residency.mainland and not residency.icp_licence:
            p.add(
                "ackExposure",
                "internet exposure in mainland China needs an ICP licence; set icpLicence, or keep intranet",
            )
    if exposure not in ACK_EXPOSURES:
        return None
    return AckServingSettings(exposure=exposure, allowed_cidrs=tuple(cidrs), tls_cert_id=str(cert or ""))
