"""A region stack's part of the router config: one provider per endpoint it exports, from its plain outputs.

Pure; the region stack builds it from the same values it exports, and the router stack merges the entries
(fleet/router_config.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleet.router_config import ALIBABA_TIMEOUT_SECONDS, TIMEOUT_LIMITS, env_name, provider_id
from fleet.settings import FAILOVER_STEPS


def region_entry(outputs: Mapping[str, Any], failover_order: Sequence[str] = FAILOVER_STEPS) -> dict[str, Any]:
    """A region stack's part of the router config, from its (plain) stack outputs."""
    label, cloud_region = outputs["routerRegion"], outputs["region"]
    residency = outputs["residency"]
    served = outputs.get("weights") or {}  # model -> {revision, digest}: the weights every provider serves
    providers: dict[str, dict[str, Any]] = {}

    # Alibaba Cloud's platforms: the same region, jurisdiction, timeout and weights; what differs is per platform.
    for key, platform, fields in ALIBABA_PLATFORMS:
        for model_id, exported in sorted((outputs.get(key) or {}).items()):
            own = fields(exported, label, cloud_region, model_id)
            providers[provider_id(label, platform, model_id)] = _entry(
                label=label,
                cloud_region=cloud_region,
                jurisdiction=residency["jurisdiction"],
                model_id=model_id,
                timeout=own.pop("timeout", ALIBABA_TIMEOUT_SECONDS),
                cross_border=False,
                weights=served.get(model_id),
                **own,
            )
    counterpart = outputs.get("counterpart")
    if counterpart:
        kind = counterpart["provider"]
        auth = counterpart["auth"]
        router_auth = (
            {"type": "bearer", "env": auth["env"]}
            if auth["type"] == "bearer"
            else {"type": "modal_proxy", "key_env": auth["keyEnv"], "secret_env": auth["secretEnv"]}
        )
        for model_id, urls in sorted(counterpart["models"].items()):
            providers[provider_id(label, kind, model_id)] = _entry(
                name=f"{kind.capitalize()} {','.join(counterpart['locations'])} {model_id} (for {cloud_region})",
                label=label,
                cloud_region=",".join(counterpart["locations"]),
                jurisdiction=",".join(counterpart["jurisdictions"]),
                kind=kind,
                endpoint=urls["baseUrl"],
                base_url=urls["baseUrl"],
                model_id=model_id,
                auth=router_auth,
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


def _eas(eas: Mapping[str, Any], label: str, cloud_region: str, model_id: str) -> dict[str, Any]:
    public = bool(eas["publicEndpoint"])
    # EAS serves its internet endpoint over HTTPS as well as HTTP; the token never crosses the internet in clear
    # text, so the router always takes the https form.
    endpoint = _https(eas["publicUrl"]) if public else eas["vpcUrl"]
    return {
        "name": f"Alibaba Cloud {cloud_region} PAI-EAS {model_id}",
        "kind": "alibaba_eas",
        "endpoint": endpoint,
        "base_url": f"{endpoint}/v1",
        # EAS checks its service token in the Authorization header, without a scheme.
        "auth": {"type": "eas_token", "env": env_name(label, "EAS", model_id, "TOKEN")},
        "health": {"mode": "active", "url": f"{endpoint}/health", "wakes_backend": False},
        "network": "internet" if public else "vpc",
    }


def _ack(ack: Mapping[str, Any], label: str, cloud_region: str, model_id: str) -> dict[str, Any]:
    base = ack["url"]
    cold = ack.get("coldStartSeconds") if ack.get("scalesToZero") else None
    return {
        "name": f"Alibaba Cloud {cloud_region} ACK {model_id}",
        "kind": "ack",
        "endpoint": base,
        "base_url": base,
        "auth": {"type": "bearer", "env": env_name(label, "ACK", model_id, "KEY")},
        # Scaled to zero, a /health probe goes through KEDA's interceptor and starts (and bills) a GPU node and pod;
        # watch real traffic instead.
        "health": {
            "mode": "passive" if cold is not None else "active",
            "url": base.removesuffix("/v1") + "/health",
            "wakes_backend": cold is not None,
        },
        "network": "internet" if ack["exposure"] == "internet" else "vpc",
        # Cold-startable: the first request waits for a GPU node, the image and the model load, as long as the
        # router allows; a region stack that scales to zero without stating it gets the longest wait.
        **(
            {"timeout": min(TIMEOUT_LIMITS["ack"], int(cold or TIMEOUT_LIMITS["ack"]) + ALIBABA_TIMEOUT_SECONDS)}
            if ack.get("scalesToZero")
            else {}
        ),
    }


def _fc(function: Mapping[str, Any], label: str, cloud_region: str, model_id: str) -> dict[str, Any]:
    base = function["url"].rstrip("/")  # the trigger's public URL, HTTPS (fleet/fc.py)
    return {
        "name": f"Alibaba Cloud {cloud_region} Function Compute {model_id}",
        "kind": "alibaba_fc",
        "endpoint": base,
        "base_url": f"{base}/v1",
        # The trigger is anonymous; vLLM in the function checks the key as a Bearer token.
        "auth": {"type": "bearer", "env": env_name(label, "FC", model_id, "KEY")},
        # Scale to zero: an active probe would start, and bill, a GPU instance; watch real traffic instead.
        "health": {"mode": "passive", "url": f"{base}/health", "wakes_backend": True},
        "network": "internet",
        # A request after scale-to-zero waits for an instance and the whole model load before its answer; a
        # region stack that does not state its cold start gets the longest wait the router allows.
        "timeout": min(
            TIMEOUT_LIMITS["alibaba_fc"],
            int(function.get("coldStartSeconds", TIMEOUT_LIMITS["alibaba_fc"])) + ALIBABA_TIMEOUT_SECONDS,
        ),
    }


# (the region stack's output, the provider id's platform, the platform's own fields), in the order entries are made.
ALIBABA_PLATFORMS = (("easEndpoints", "eas", _eas), ("ackEndpoints", "ack", _ack), ("fcEndpoints", "fc", _fc))


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
