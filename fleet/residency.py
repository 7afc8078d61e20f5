"""Jurisdictions of Alibaba Cloud regions: where a region's data and endpoints legally sit."""

from __future__ import annotations

import re

from fleet import countries

MAINLAND = "cn-mainland"

# Regions outside the mainland that beacon-fleet knows; any other region states its jurisdiction in config.
REGION_JURISDICTIONS: dict[str, str] = {
    "cn-hongkong": "hk",
    "ap-southeast-1": "sg",
    "ap-southeast-3": "my",
    "ap-southeast-5": "id",
    "ap-southeast-6": "ph",
    "ap-southeast-7": "th",
    "ap-northeast-1": "jp",
    "ap-northeast-2": "kr",
    "us-east-1": "us",
    "us-west-1": "us",
    "eu-central-1": "de",
    "eu-west-1": "gb",
    "me-east-1": "ae",
    "me-central-1": "sa",
}

# An ICP filing number (京ICP备12345678号, or with a site suffix -1) or an ICP operating licence (京ICP证123456号).
# ASCII digits only and one CJK province character: \w and \d also match full-width letters and digits and
# Arabic-Indic digits ('京ICP备１２３４５６７８号'); `$` also matches before a final newline. Use fullmatch.
ICP_NUMBER = re.compile(r"[\u4e00-\u9fff]ICP[备证][0-9]{6,12}号(-[0-9]{1,4})?")
# The tag that carries it on every resource of a licensed mainland stack; the policy pack looks for it on
# public endpoints.
ICP_TAG = "icp-licence"


def is_mainland_region(region: str) -> bool:
    """Alibaba's mainland regions are cn-*, except Hong Kong."""
    return region.startswith("cn-") and region != "cn-hongkong"


def is_mainland(cloud_region: str, jurisdiction: str) -> bool:
    """Mainland China by its Alibaba region or by the jurisdiction a region states: a stack served without an
    Alibaba region (counterparts, a partner) that claims the mainland is bound by the mainland's rules."""
    return jurisdiction == MAINLAND or is_mainland_region(cloud_region)


def derived_jurisdiction(region: str) -> str | None:
    if is_mainland_region(region):
        return MAINLAND
    return REGION_JURISDICTIONS.get(region)


def is_valid_jurisdiction(value: str) -> bool:
    """cn-mainland, or a real ISO 3166-1 alpha-2 country code (fleet/countries.py), in lower case."""
    return value == MAINLAND or value in countries.ISO_3166_ALPHA_2


# An Alibaba Cloud region id as it appears in a host name: cn-beijing, cn-hongkong, ap-southeast-1, us-east-1.
_REGION_ID = re.compile(r"^(cn-[a-z]+|(ap|us|eu|me|na|sa|ja)-[a-z]+-[0-9]+)$")


def regions_named_in_host(host: str) -> set[str]:
    """The Alibaba region ids a host name carries as one of its labels (EAS: <uid>.vpc.cn-beijing.pai-eas…)."""
    return {label for label in host.lower().split(".") if _REGION_ID.match(label)}
