"""A region stack's part of the router config: one provider per endpoint it exports, from its plain outputs.

Pure; the region stack builds it from the same values it exports, and the router stack merges the entries
(fleet/router_config.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleet import kinds
from fleet.kinds import FAILOVER_STEPS
from fleet.router_config import ALIBABA_TIMEOUT_SECONDS, TIMEOUT_LIMITS, provider_id


def region_entry(outputs: Mapping[str, Any], failover_order: Sequence[str] = FAILOVER_STEPS) -> dict[str, Any]:
    """A region stack's part of the router config, from its (plain) stack outputs."""
    label, cloud_region = outputs["routerRegion"], outputs["region"]
    residency = outputs["residency"]
    served = outputs.get("weights") or {}  # model -> {revision, digest}: the weights every provider serves
    providers: dict[str, dict[str, Any]] = {}

    # Alibaba Cloud's platforms: the same region, jurisdiction, timeout and weights; what differs is per platform.
    for kind in kinds.ALIBABA:
        for model_id, exported in sorted((outputs.get(kind.output_key) or {}).items()):
            fields = ALIBABA_FIELDS[kind.platform](exported)
            providers[provider_id(label, kind.platform, model_id)] = _entry(
                name=f"Alibaba Cloud {cloud_region} {kind.title} {model_id}",
                label=label,
                cloud_region=cloud_region,
                jurisdiction=residency["jurisdiction"],
                kind=kind.router_type,
                model_id=model_id,
                auth=kind.router_auth(label, model_id),
                health=_health(kind, fields.pop("health_url"), fields.pop("health_mode", None)),
                timeout=fields.pop("timeout", ALIBABA_TIMEOUT_SECONDS),
                cross_border=False,
                weights=served.get(model_id),
                **fields,
            )
    partner = outputs.get(kinds.BY_PLATFORM["partner"].output_key)
    if partner:
        providers.update(partner_providers(label, partner, served))
    counterpart = outputs.get("counterpart")
    if counterpart:
        kind = kinds.BY_PLATFORM[counterpart["provider"]]
        for model_id, urls in sorted(counterpart["models"].items()):
            providers[provider_id(label, kind.platform, model_id)] = _entry(
                name=f"{kind.platform.capitalize()} {','.join(counterpart['locations'])} {model_id}"
                f" (for {cloud_region})",
                label=label,
                cloud_region=",".join(counterpart["locations"]),
                jurisdiction=",".join(counterpart["jurisdictions"]),
                kind=kind.router_type,
                endpoint=urls["baseUrl"],
                base_url=urls["baseUrl"],
                model_id=model_id,
                auth=kind.router_auth(label, model_id),
                # Scale-to-zero: an active probe that wakes a GPU costs money; watch real traffic instead.
                health={
                    "mode": "passive" if counterpart["healthWakesBackend"] else "active",
                    "url": urls["healthUrl"],
                    "wakes_backend": bool(counterpart["healthWakesBackend"]),
                },
                timeout=int(counterpart["requestTimeoutSeconds"]),
                network="internet",
                cross_border=bool(counterpart["crossBorder"]),
                weights=served.get(model_id),
            )
    return {
        "region": {
            "label": label,
            "cloud_region": cloud_region,
            "jurisdiction": residency["jurisdiction"],
            "residency_bound": bool(residency["residencyBound"]),
            "allow_cross_border_failover": bool(residency["allowCrossBorderFailover"]),
            "failover_order": list(failover_order),
        },
        "providers": providers,
    }


def partner_providers(
    label: str, partner: Mapping[str, Any], served: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, Any]]:
    """A partner's OpenAI-compatible endpoint (option C): one provider per model it serves for the region."""
    kind = kinds.BY_PLATFORM["partner"]
    base = partner["baseUrl"].rstrip("/")
    return {
        provider_id(label, kind.platform, model_id): _entry(
            name=f"Partner {partner['name']} {model_id} (for {label})",
            label=label,
            cloud_region=partner["jurisdiction"],  # where the partner hosts it, as the agreement says
            jurisdiction=partner["jurisdiction"],
            kind=kind.router_type,
            endpoint=base,
            base_url=base,
            model_id=model_id,
            auth=kind.router_auth(label, model_id),
            health=_health(kind, base + kind.health_path),
            timeout=int(partner["requestTimeoutSeconds"]),
            network="internet",
            cross_border=bool(partner["crossBorder"]),
            weights=served.get(model_id),
        )
        for model_id in sorted(partner["models"])
    }


def _health(kind: kinds.Kind, url: str, mode: str | None = None) -> dict[str, Any]:
    # Passive: an active probe could start, and bill, a scaled-to-zero instance; the router watches traffic. An
    # endpoint may say so itself (ACK at minReplicasPerModel 0), whatever its kind's default.
    mode = mode or kind.health_mode
    return {"mode": mode, "url": url, "wakes_backend": mode == "passive"}


def _eas(eas: Mapping[str, Any]) -> dict[str, Any]:
    public = bool(eas["publicEndpoint"])
    # EAS serves its internet endpoint over HTTPS as well as HTTP; the token never crosses the internet in clear
    # text, so the router always takes the https form.
    endpoint = _https(eas["publicUrl"]) if public else eas["vpcUrl"]
    return {
        "endpoint": endpoint,
        "base_url": f"{endpoint}/v1",
        "health_url": f"{endpoint}/health",
        "network": "internet" if public else "vpc",
    }


def _ack(ack: Mapping[str, Any]) -> dict[str, Any]:
    base = ack["url"]
    limit = TIMEOUT_LIMITS[kinds.BY_PLATFORM["ack"].router_type]
    return {
        "endpoint": base,
        "base_url": base,
        "health_url": base.removesuffix("/v1") + "/health",
        "network": "internet" if ack["exposure"] == "internet" else "vpc",
        # Scaled to zero (KEDA's HTTP add-on), the model is cold-startable: a /health probe would go through the
        # interceptor and start (and bill) a GPU node and pod, so the router watches traffic instead, and the first
        # request waits for a GPU node, the image and the model load, as long as the router allows; a region stack
        # that scales to zero without stating its cold start gets the longest wait.
        **(
            {
                "health_mode": "passive",
                "timeout": min(limit, int(ack.get("coldStartSeconds", limit)) + ALIBABA_TIMEOUT_SECONDS),
            }
            if ack.get("scalesToZero")
            else {}
        ),
    }


def _fc(function: Mapping[str, Any]) -> dict[str, Any]:
    base = function["url"].rstrip("/")  # the trigger's public URL, HTTPS (fleet/fc.py)
    limit = TIMEOUT_LIMITS[kinds.BY_PLATFORM["fc"].router_type]
    return {
        "endpoint": base,
        "base_url": f"{base}/v1",
        "health_url": f"{base}/health",
        "network": "internet",
        # A request after scale-to-zero waits for an instance and the whole model load before its answer; a
        # region stack that does not state its cold start gets the longest wait the router allows.
        "timeout": min(limit, int(function.get("coldStartSeconds", limit)) + ALIBABA_TIMEOUT_SECONDS),
    }


# Each Alibaba platform's own fields, from its entry in the region stack's output (kinds.Kind.output_key).
ALIBABA_FIELDS = {"eas": _eas, "ack": _ack, "fc": _fc}


def _https(url: str) -> str:
    return "https://" + url.removeprefix("http://") if url.startswith("http://") else url


def _entry(
    *,
    name: str,
    label: str,
    cloud_region: str,
    jurisdiction: str,
    kind: str,
    endpoint: str,
    base_url: str,
    model_id: str,
    auth: dict[str, str],
    health: dict[str, Any],
    timeout: int,
    network: str,
    cross_border: bool,
    weights: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "region": label,
        "endpoint": endpoint,
        "type": kind,
        "models": [model_id],
        "auth": auth,
        "health_check": health["url"],
        "timeout": timeout,
        # Additions to the hybrid router's fields.
        "cloud_region": cloud_region,
        "jurisdiction": jurisdiction,
        "base_url": base_url,
        "health": health,
        "network": network,
        "cross_border": cross_border,
    } | ({"weights": {"revision": weights["revision"], "digest": weights["digest"]}} if weights else {})
