"""Residency settings: where the region is, whether its personal data must stay there, and its ICP licence."""

from __future__ import annotations

import re
from typing import Any

from fleet import residency
from fleet.countries import ISO_3166_ALPHA_2
from fleet.settings.problems import Problems, did_you_mean
from fleet.settings_types import Residency

# Codes people write that ISO 3166-1 does not assign, and the country's code.
_NOT_ISO = {"uk": "gb", "en": "gb", "el": "gr"}
REGION_ID = re.compile(r"^[a-z]{2,}-[a-z]+(-[0-9]+)?$")


def check_region(region: str, p: Problems) -> None:
    if not region:
        p.add_key("alicloud:region", "not set; run `pulumi config set alicloud:region <region-id>` (e.g. cn-beijing)")
    elif not REGION_ID.match(region):
        p.add_key(
            "alicloud:region", f"'{region}' is not an Alibaba Cloud region id such as cn-beijing or ap-southeast-1"
        )


def _real_jurisdiction(value: str) -> bool:
    return value == residency.MAINLAND or value in ISO_3166_ALPHA_2


def parse_residency(values: dict[str, Any], region: str, p: Problems) -> Residency | None:
    declared = values.get("jurisdiction", "")
    derived = residency.derived_jurisdiction(region) if region else None
    # Mainland by its Alibaba region, or, without one, by what the stack declares: the same rules bind both.
    mainland = residency.is_mainland(region, "" if region else declared)
    jurisdiction = declared or derived
    if declared and not _real_jurisdiction(declared):
        lowered = declared.strip().lower()
        if _real_jurisdiction(lowered):
            hint = f"write it as {lowered}; "
        elif lowered in _NOT_ISO:
            hint = f"did you mean {_NOT_ISO[lowered]}? "
        else:
            hint = did_you_mean(declared.lower(), (*sorted(ISO_3166_ALPHA_2), residency.MAINLAND))
        p.add(
            "jurisdiction",
            f"'{declared}' is not cn-mainland or an ISO 3166-1 alpha-2 country code (lowercase, such as sg, de"
            f" or gb); {hint}set the region's country code, or remove the key where beacon-fleet knows the region",
        )
    elif mainland and declared and declared != residency.MAINLAND:
        p.add("jurisdiction", f"{region} is in mainland China; the jurisdiction must be {residency.MAINLAND}")
    elif derived and declared and declared != derived:
        p.add("jurisdiction", f"{region} is in '{derived}', not '{declared}'; remove the key or correct it")
    elif region and declared == residency.MAINLAND and not mainland:
        p.add(
            "jurisdiction",
            f"{region} is not a mainland China region (those are cn-*, except cn-hongkong); set its country's code",
        )
    elif region and not jurisdiction:
        p.add(
            "jurisdiction",
            f"beacon-fleet does not know where {region} is; set it, e.g. `pulumi config set jurisdiction de`",
        )

    bound = values.get("residencyBound")
    if mainland and bound is False:
        p.add(
            "residencyBound",
            "personal data must stay in mainland China; set residencyBound: true for"
            f" {region or 'a cn-mainland region'}",
        )
    cross_border = values.get("allowCrossBorderFailover", False)
    if bound and cross_border:
        p.add(
            "allowCrossBorderFailover",
            "residencyBound is true, so this region's traffic may not fail over outside its jurisdiction;"
            " set allowCrossBorderFailover: false (or residencyBound: false, where the data may leave)",
        )
    icp = values.get("icpLicence", "")
    if isinstance(icp, str) and icp and not mainland:
        p.add("icpLicence", f"an ICP licence only applies in mainland China, not {region or declared}; remove it")
    elif isinstance(icp, str) and icp and not residency.ICP_NUMBER.fullmatch(icp):
        p.add("icpLicence", f"'{icp}' is not an ICP number; write it as on the filing, e.g. 京ICP备12345678号")
    if jurisdiction is None or bound is None:
        return None
    return Residency(
        jurisdiction=jurisdiction,
        mainland=mainland,
        residency_bound=bool(bound),
        allow_cross_border_failover=bool(cross_border),
        icp_licence=icp or "",
    )
