"""The router's configuration: every endpoint of a region as a provider entry, and the failover routes.

Pure functions over stack outputs, so a region stack (its own entry), the router stack (every region's, read
through StackReference) and the tests all build the same bytes from the same inputs. Entries keep the field
names of Project Beacon's hybrid router (name, region, endpoint, type, models, auth, health_check, timeout)
and carry the rest as additions. Secrets appear only as environment-variable names; their values travel in
a separate map, always as a Pulumi secret.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jsonschema

from fleet.config_schema import PROJECT_ROOT
from fleet.settings import FAILOVER_STEPS

SCHEMA_VERSION = 1
SCHEMA_PATH = PROJECT_ROOT / "schemas" / "router-config.v1.json"
# Request timeouts the router may use per provider type: Modal cuts web requests at 150 s, RunPod's default
# job execution limit is 600 s; the Alibaba endpoints sit behind load balancers and gateways we size to 600 s.
TIMEOUT_LIMITS = {"modal": 149, "runpod": 600, "alibaba_eas": 600, "ack": 600, "alibaba_fc": 600}
ALIBABA_TIMEOUT_SECONDS = 120


def env_name(router_region: str, *parts: str) -> str:
    """ASIA_EAST_EAS_LLAMA3_2_1B_TOKEN: upper snake case, what shells and Railway accept."""
    return re.sub(r"[^A-Z0-9]+", "_", "_".join((router_region, *parts)).upper()).strip("_")


def provider_id(router_region: str, kind: str, model_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{router_region}-{kind}-{model_id}".lower()).strip("-")


def region_entry(outputs: Mapping[str, Any], failover_order: Sequence[str] = FAILOVER_STEPS) -> dict[str, Any]:
    """A region stack's part of the router config, from its (plain) stack outputs."""
    label, cloud_region = outputs["routerRegion"], outputs["region"]
    residency = outputs["residency"]
    providers: dict[str, dict[str, Any]] = {}

    for model_id, eas in sorted((outputs.get("easEndpoints") or {}).items()):
        public = bool(eas["publicEndpoint"])
        endpoint = eas["publicUrl"] if public else eas["vpcUrl"]
        providers[provider_id(label, "eas", model_id)] = _entry(
            name=f"Alibaba Cloud {cloud_region} PAI-EAS {model_id}",
            label=label,
            cloud_region=cloud_region,
            jurisdiction=residency["jurisdiction"],
            kind="alibaba_eas",
            endpoint=endpoint,
            base_url=f"{endpoint}/v1",
            model_id=model_id,
            # EAS checks its service token in the Authorization header, without a scheme.
            auth={"type": "eas_token", "env": env_name(label, "EAS", model_id, "TOKEN")},
            health={"mode": "active", "url": f"{endpoint}/health", "wakes_backend": False},
            timeout=ALIBABA_TIMEOUT_SECONDS,
            network="internet" if public else "vpc",
            cross_border=False,
        )
    for model_id, ack in sorted((outputs.get("ackEndpoints") or {}).items()):
        base = ack["url"]
        providers[provider_id(label, "ack", model_id)] = _entry(
            name=f"Alibaba Cloud {cloud_region} ACK {model_id}",
            label=label,
            cloud_region=cloud_region,
            jurisdiction=residency["jurisdiction"],
            kind="ack",
            endpoint=base,
            base_url=base,
            model_id=model_id,
            auth={"type": "bearer", "env": env_name(label, "ACK", model_id, "KEY")},
            health={"mode": "active", "url": base.removesuffix("/v1") + "/health", "wakes_backend": False},
            timeout=ALIBABA_TIMEOUT_SECONDS,
            network="internet" if ack["exposure"] == "internet" else "vpc",
            cross_border=False,
        )
    for model_id, function in sorted((outputs.get("fcEndpoints") or {}).items()):
        base = function["url"].rstrip("/")  # the trigger's public URL, HTTPS (fleet/fc.py)
        providers[provider_id(label, "fc", model_id)] = _entry(
            name=f"Alibaba Cloud {cloud_region} Function Compute {model_id}",
            label=label,
            cloud_region=cloud_region,
            jurisdiction=residency["jurisdiction"],
            kind="alibaba_fc",
            endpoint=base,
            base_url=f"{base}/v1",
            model_id=model_id,
            # The trigger is anonymous; vLLM in the function checks the key as a Bearer token.
            auth={"type": "bearer", "env": env_name(label, "FC", model_id, "KEY")},
            # Scale to zero: an active probe would start, and bill, a GPU instance; watch real traffic instead.
            health={"mode": "passive", "url": f"{base}/health", "wakes_backend": True},
            timeout=ALIBABA_TIMEOUT_SECONDS,
            network="internet",
            cross_border=False,
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
    }


def routes(regions: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """Per router region and model, the providers to try in order: the region's failover order, with
    cross-border counterparts left out where residency binds the region and its stack does not allow them."""
    table: dict[str, dict[str, list[str]]] = {}
    for entry in regions:
        region = entry["region"]
        refuse_cross_border = region["residency_bound"] and not region["allow_cross_border_failover"]
        by_model: dict[str, list[tuple[int, str]]] = {}
        for pid, provider in entry["providers"].items():
            if provider["cross_border"] and refuse_cross_border:
                continue
            step = _step(provider["type"])
            if step not in region["failover_order"]:
                continue
            for model in provider["models"]:
                by_model.setdefault(model, []).append((region["failover_order"].index(step), pid))
        table[region["label"]] = {model: [pid for _, pid in sorted(chain)] for model, chain in sorted(by_model.items())}
    return dict(sorted(table.items()))


def _step(provider_type: str) -> str:
    return {"alibaba_eas": "eas", "ack": "ack", "alibaba_fc": "fc"}.get(provider_type, "counterpart")


def merge(regions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The whole router config from every region's entry; raises ValueError listing every problem."""
    providers: dict[str, Any] = {}
    duplicates = []
    for entry in regions:
        for pid, provider in entry["providers"].items():
            if pid in providers:
                duplicates.append(pid)
            providers[pid] = provider
    table = routes(regions)
    for by_model in table.values():
        for chain in by_model.values():
            for priority, pid in enumerate(chain, start=1):
                providers[pid] = {**providers[pid], "priority": priority}
    config = {
        "version": SCHEMA_VERSION,
        "regions": {e["region"]["label"]: e["region"] for e in sorted(regions, key=lambda e: e["region"]["label"])},
        "providers": dict(sorted(providers.items())),
        "routes": table,
    }
    found = [f"provider id '{pid}' is declared by two regions" for pid in sorted(set(duplicates))]
    found += problems(config)
    if found:
        raise ValueError("router config is invalid:\n  - " + "\n  - ".join(found))
    return config


def problems(config: Mapping[str, Any]) -> list[str]:
    """What makes a config unusable by the router: broken routes, forbidden hops, impossible timeouts."""
    found = []
    names: dict[str, str] = {}
    for pid, provider in config["providers"].items():
        if provider["name"] in names:
            found.append(f"providers '{names[provider['name']]}' and '{pid}' share the name '{provider['name']}'")
        names[provider["name"]] = pid
        limit = TIMEOUT_LIMITS[provider["type"]]
        if not 1 <= provider["timeout"] <= limit:
            found.append(
                f"provider '{pid}': timeout {provider['timeout']} s is outside 1..{limit} s for {provider['type']}"
            )
    for label, by_model in config["routes"].items():
        region = config["regions"].get(label)
        if region is None:
            found.append(f"routes name region '{label}', which no region stack declares")
            continue
        for model, chain in by_model.items():
            if not chain:
                found.append(f"route {label}/{model} has no provider")
            for pid in chain:
                provider = config["providers"].get(pid)
                if provider is None:
                    found.append(f"route {label}/{model} names unknown provider '{pid}'")
                elif model not in provider["models"]:
                    found.append(f"route {label}/{model} goes to '{pid}', which does not serve {model}")
                elif (
                    provider["cross_border"] and region["residency_bound"] and not region["allow_cross_border_failover"]
                ):
                    found.append(
                        f"route {label}/{model} fails over to cross-border provider '{pid}', but {label} is"
                        " residency-bound; set allowCrossBorderFailover in its stack to permit it"
                    )
    return found


def schema_problems(document: Any) -> list[str]:
    """What keeps a document from being a router config of this schema version; empty when it is one."""
    return sorted(error.message for error in _schema_validator().iter_errors(document))


@functools.cache
def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema, format_checker=validator.FORMAT_CHECKER)


def secret_env_names(config: Mapping[str, Any]) -> list[str]:
    names = set()
    for provider in config["providers"].values():
        names.update(v for k, v in provider["auth"].items() if k.endswith("env"))
    return sorted(names)


def to_json(config: Mapping[str, Any]) -> str:
    """Deterministic bytes: same config, same file, so a diff shows only real changes."""
    return json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def mermaid(config: Mapping[str, Any]) -> str:
    """The routes as a Mermaid flowchart: each region's models and their ordered failover chains."""
    lines = ["flowchart LR"]
    for label, by_model in config["routes"].items():
        for model, chain in by_model.items():
            node = re.sub(r"[^A-Za-z0-9]", "_", f"{label}_{model}")
            lines.append(f'    {node}["{label} · {model}"]')
            for priority, pid in enumerate(chain, start=1):
                provider = config["providers"][pid]
                target = re.sub(r"[^A-Za-z0-9]", "_", pid)
                arrow = "-->" if priority == 1 else "-.->"
                border = " ⚠ cross-border" if provider["cross_border"] else ""
                lines.append(
                    f'    {node} {arrow}|{priority}| {target}["{provider["type"]} {provider["cloud_region"]}{border}"]'
                )
    return "\n".join(lines) + "\n"
