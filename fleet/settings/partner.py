"""A partner's endpoint (the study's option C): an OpenAI-compatible endpoint a partner hosts for the region's
models, declared by its URL, its credential (the secret partnerApiKey) and where it is hosted. beacon-fleet
provisions nothing for it; the router routes to it like any other provider (fleet/kinds.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fleet import kinds, residency, urls
from fleet.settings.problems import Problems
from fleet.settings_types import PartnerSettings, Residency, ServedModel

KIND = kinds.BY_PLATFORM["partner"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")


def declared(values: Mapping[str, Any]) -> bool:
    return bool(values.get("partnerBaseUrl"))


def url_problem(url: str) -> str:
    """Why a partner's base URL cannot be routed to; empty when it can. The one place partner URLs are checked,
    on fleet/urls' parsed-host rules. A credential in it is reported for every URL-valued key already
    (settings/problems.url_credential_problems): the key goes in the secret partnerApiKey."""
    if urls.credential_problem(url):
        return ""  # reported once, by url_credential_problems
    transport = urls.transport_problem(url)
    if transport:
        return f"'{url}' {transport}: the router sends the partner's key with every request"
    if urls.is_loopback(url):
        return f"'{url}' is on this machine, not a partner's endpoint"
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        return f"'{url}' must be a base URL without a query or fragment, e.g. https://llm.example.cn/v1"
    return ""


def parse_partner(
    values: dict[str, Any],
    raw: Mapping[str, str],
    project: str,
    models: list[ServedModel],
    residency_settings: Residency | None,
    p: Problems,
) -> PartnerSettings | None:
    if not declared(values):
        for key in ("partnerName", "partnerJurisdiction", "partnerModels"):
            if values.get(key):
                p.add(key, "describes a partner endpoint, but partnerBaseUrl is not set; set it or remove this key")
        return None
    url = str(values["partnerBaseUrl"]).rstrip("/")
    problem = url_problem(url)
    if problem:
        p.add("partnerBaseUrl", problem)
    problem = problem or urls.credential_problem(url)
    name = values.get("partnerName", "")
    if not isinstance(name, str) or not _NAME.match(name):
        p.add("partnerName", f"'{name}' must name the partner in 1-40 letters, digits, spaces, '.', '_' or '-'")
    where = values.get("partnerJurisdiction", "")
    if not residency.is_valid_jurisdiction(str(where)):
        p.add(
            "partnerJurisdiction",
            f"'{where}' must say where the partner hosts the endpoint: cn-mainland or an ISO 3166-1 code (e.g. sg)",
        )
    served = [m.id for m in models]
    chosen = tuple(values.get("partnerModels") or ()) or tuple(served)
    for index, model_id in enumerate(values.get("partnerModels") or ()):
        if model_id not in served:
            p.add(
                f"partnerModels[{index}]",
                f"'{model_id}' is not served by this region (models: {', '.join(served) or 'none'})",
            )
    timeout = values.get("partnerRequestTimeoutSeconds")
    if isinstance(timeout, int) and not 1 <= timeout <= KIND.timeout_limit:
        p.add(
            "partnerRequestTimeoutSeconds",
            f"{timeout} s is out of range; use 1 to {KIND.timeout_limit} ({KIND.timeout_source})",
        )
    for key in KIND.secret_keys:
        if f"{project}:{key}" not in raw:
            p.add(key, f"the router needs it to call the partner's endpoint; run `pulumi config set --secret {key}`")
    failover = values.get("failoverOrder") or ()
    if KIND.failover_step not in failover:
        p.add(
            "failoverOrder",
            f"does not list {KIND.failover_step}, so the partner's endpoint would never be routed to; add it,"
            f" e.g. [{KIND.failover_step}, counterpart]",
        )
    if (
        problem
        or residency_settings is None
        or not isinstance(timeout, int)
        or not residency.is_valid_jurisdiction(str(where))
    ):
        return None
    return PartnerSettings(
        name=name,
        base_url=url,
        jurisdiction=str(where),
        model_ids=chosen,
        request_timeout_seconds=timeout,
        cross_border=where != residency_settings.jurisdiction,
    )


def router_view(partner: PartnerSettings) -> dict[str, Any]:
    """The partner's endpoint as the region exports it for the router (fleet/router_entry.partner_providers)."""
    return {
        "name": partner.name,
        "baseUrl": partner.base_url,
        "jurisdiction": partner.jurisdiction,
        "crossBorder": partner.cross_border,
        "requestTimeoutSeconds": partner.request_timeout_seconds,
        "models": list(partner.model_ids),
    }
