"""What a region and the fleet cost, per month and per million inferences, with the arithmetic shown.

Pure functions over a region stack's outputs and the price table (fleet/prices.py). A figure that needs a
price the table lacks keeps its known part and names the price to add (its id); a price known only as a bound
widens the figure into a range.

Conventions, stated in every view:
- a month is 730 hours;
- ACK counts the GPU node pool, and fleet/platform_cost.py adds its system pool, the cluster fee and the load
  balancers, the registry and the bucket every Alibaba platform shares, and FC's functions in compute units;
  EAS counts its instances; RunPod counts active workers at the active rate and the rest at the flex rate;
  Modal counts containers at the GPU rate times the region-pinning multiplier;
- per million inferences assumes one request at a time per replica or worker for the given average latency
  (the Beacon study's assumption); batching lowers it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleet import platform_cost
from fleet.cost_idle import ack_scale_to_zero, eas_scale_to_zero
from fleet.cost_lines import COLD_START_LOW, CostLine, startup_budget
from fleet.prices import (  # noqa: F401 - the price table's names, used through this module too
    BOUNDS,
    FX_PREFIX,
    HOURS_PER_MONTH,
    PRICES_PATH,
    UNITS,
    Amount,
    Price,
    PriceTable,
    PriceTableError,
    load_prices,
    total,
)

DEFAULT_LATENCY_SECONDS = 2.0  # the Beacon study's average


@dataclass(frozen=True)
class RegionCost:
    region: str
    latency_seconds: float
    lines: tuple[CostLine, ...]
    gpus_packed: int
    gpus_whole: int
    packing_saving_month: Amount
    notes: tuple[str, ...] = field(default=())
    workload: dict[str, Any] | None = None  # fleet/platform_cost.workload_view
    endpoints: int = 0  # models served in the region (the study's endpoint: a model in a region)
    operating: tuple[dict[str, Any], ...] = ()  # beyond the cloud bill: mainland one-off and yearly costs

    @property
    def month(self) -> Amount:
        """The month at the expected volume (every floor, usage on the primary platform), else at minimum."""
        return self.workload["declared"] if self.workload else self.month_min

    def year(self) -> Amount:
        return self.month.times(12) + total(o["amount"] for o in self.operating if o["kind"] == "yearly")

    def one_off(self) -> Amount:
        return total(o["amount"] for o in self.operating if o["kind"] == "one-off")

    @property
    def month_min(self) -> Amount:
        return total(line.month_min for line in self.lines)

    @property
    def month_max(self) -> Amount:
        return total(line.month_max for line in self.lines)

    def missing(self) -> list[str]:
        found = set(self.packing_saving_month.missing)
        for line in self.lines:
            found |= set(line.month_min.missing) | set(line.month_max.missing) | set(line.per_million.missing)
        return sorted(found)


def _rate(prices: PriceTable, price_id: str) -> Amount:
    """A price per second, or unknown naming the id."""
    price = prices.get(price_id)
    return price.rate() if price else Amount.unknown(price_id)


def _ceiling(rates: Sequence[Amount]) -> Amount:
    """The highest of several rates (workers may land on any listed GPU); unknown if any is unknown."""
    if not rates:
        return Amount.unknown("a rate")
    return Amount(max(r.usd for r in rates), tuple(m for r in rates for m in r.missing), max(r.upper for r in rates))


def region_cost(
    outputs: Mapping[str, Any], prices: PriceTable, latency_seconds: float = DEFAULT_LATENCY_SECONDS
) -> RegionCost:
    region = outputs["region"]
    month = HOURS_PER_MONTH * 3600.0
    per_million = 1_000_000 * latency_seconds
    lines = []
    packing = outputs.get("gpuPacking") or {}
    saving = Amount.zero()

    pool = (outputs.get("kubernetes") or {}).get("gpuPool")
    if pool:
        instance = pool["instanceTypes"][0]
        node = _rate(prices, f"alibaba.ecs.{instance}.{region}")
        gpu_gib = int(re.search(r"(\d+) GiB", packing.get("gpu", "0 GiB")).group(1)) or 1
        slices = [ack["gpuMemGiB"] for ack in outputs["ackEndpoints"].values()]
        from_zero = pool["minNodes"] == 0 and any(a.get("scalesToZero") for a in outputs["ackEndpoints"].values())
        lines.append(
            CostLine(
                "ack",
                f"GPU node pool, {instance}",
                node.times(pool["minNodes"] * month),
                node.times(pool["maxNodes"] * month),
                # A model's replica holds its cGPU slice of one node's GPU while it serves a request.
                total(
                    node.times(ack["gpuMemGiB"] / gpu_gib * per_million) for ack in outputs["ackEndpoints"].values()
                ).times(1 / max(len(outputs["ackEndpoints"]), 1)),
                f"{pool['minNodes']}..{pool['maxNodes']} nodes x 730 h; per million: the node's price x each"
                f" model's slice of {gpu_gib} GiB x {latency_seconds:g} s x 1M, averaged over models",
                usage_rate=node.times(sum(slices) / max(len(slices), 1) / gpu_gib),
                floor_seconds=(packing.get("wholeGpuPerReplica", 0) if pool["minNodes"] else 0) * month,
                max_key="maxReplicasPerModel",
                max_instances=pool["maxNodes"],
                instance_month=node.times(month),
                serves=pool["minNodes"] > 0 or from_zero,
                **(ack_scale_to_zero(outputs, node, int(packing.get("gpusNeeded", 1)) or 1) if from_zero else {}),
            )
        )
        saving = node.times(packing.get("gpusSaved", 0) * month)

    eas = outputs.get("easEndpoints") or {}
    if eas:
        instance = next(iter(eas.values()))["instanceType"]
        # A region's own price where the table has one, else the type's bound from another region (a range).
        own, bound = f"alibaba.eas.{instance}.{region}", f"alibaba.eas.{instance}"
        rate = _rate(prices, own if prices.get(own) or not prices.get(bound) else bound)
        low = sum(e["autoscaler"]["min"] for e in eas.values())
        high = sum(e["autoscaler"]["max"] for e in eas.values())
        lines.append(
            CostLine(
                "eas",
                f"PAI-EAS instances, {instance}",
                rate.times(low * month),
                rate.times(high * month),
                rate.times(per_million),
                f"{low}..{high} instances (all models) x 730 h; per million: one instance x {latency_seconds:g} s x 1M",
                usage_rate=rate,
                floor_seconds=low * month,
                **(eas_scale_to_zero(outputs, rate) if low == 0 else {}),
                max_key="maxReplicasPerModel",
                max_instances=high,
                instance_month=rate.times(month),
                models=len(eas),
            )
        )

    counterpart = outputs.get("counterpart")
    if counterpart:
        line = _counterpart_line(counterpart, prices, month, per_million, latency_seconds)
        lines.append(_with_idle(line, counterpart, outputs) if counterpart["scaling"]["minWorkers"] == 0 else line)

    lines += platform_cost.extra_lines(outputs, prices, latency_seconds)
    workload = platform_cost.workload_view(outputs, lines)
    return RegionCost(
        region=region or outputs.get("routerRegion", ""),
        latency_seconds=latency_seconds,
        lines=tuple(lines),
        gpus_packed=int(packing.get("gpusNeeded", 0)),
        gpus_whole=int(packing.get("wholeGpuPerReplica", 0)),
        packing_saving_month=saving,
        notes=tuple(platform_cost.workload_lines(workload)),
        workload=workload,
        endpoints=len(outputs.get("models") or []),
        operating=platform_cost.operating_costs(outputs, prices),
    )


IDLE_SOURCE = {
    "runpod": "counterpartIdleTimeoutSeconds, RunPod's idle_timeout (billed while the worker waits)",
    "modal": "counterpartIdleTimeoutSeconds, Modal's scaledown_window (billed while the container waits)",
}


def _with_idle(line: CostLine, counterpart: Mapping[str, Any], outputs: Mapping[str, Any]) -> CostLine:
    from dataclasses import replace

    low, source = COLD_START_LOW[line.provider]
    return replace(
        line,
        scales_to_zero=True,
        idle_rate=line.usage_rate,
        idle_window=float(counterpart["scaling"].get("idleTimeoutSeconds", 0)),
        idle_source=IDLE_SOURCE[line.provider],
        cold_seconds=(low, startup_budget(outputs)),
        cold_source=f"{source}; up to the model's startup budget",
        models=len(counterpart["models"]),
    )


# The counterpart kinds (fleet/kinds.py) _counterpart_line prices: RunPod's workers, Modal's containers.
PRICED_COUNTERPARTS = ("runpod", "modal")


def _counterpart_line(
    counterpart: Mapping[str, Any], prices: PriceTable, month: float, per_million: float, latency: float
) -> CostLine:
    kind, gpus = counterpart["provider"], counterpart["gpus"]
    if kind not in PRICED_COUNTERPARTS:
        raise ValueError(f"no cost line for counterpart kind '{kind}'; price it in fleet/cost.py")
    scaling = counterpart["scaling"]
    low, high = scaling["minWorkers"], scaling["maxWorkers"]
    models = len(counterpart["models"])
    if kind == "runpod":
        flex = _ceiling([_rate(prices, f"runpod.serverless.{gpu}.flex") for gpu in gpus])
        active = _ceiling([_rate(prices, f"runpod.serverless.{gpu}.active") for gpu in gpus])
        return CostLine(
            "runpod",
            f"RunPod workers, {','.join(gpus)}",
            active.times(low * models * month),
            active.times(low * models * month) + flex.times((high - low) * models * month),
            flex.times(per_million),
            f"{models} endpoints x ({low} active + {high - low} flex workers) x 730 h, at the dearest listed"
            f" GPU pool; per million: a flex worker x {latency:g} s x 1M",
            usage_rate=flex,
            floor_seconds=low * models * month,
            max_key="counterpartMaxWorkers",
            max_instances=high * models,
            instance_month=flex.times(month),
            models=models,
        )
    # Modal's narrow regions are named like us-east; broad ones like us.
    narrow = any("-" in location for location in counterpart["locations"])
    factor_id = "modal.region.narrow" if narrow else "modal.region.broad"
    factor = prices.get(factor_id)
    gpu = _ceiling([_rate(prices, f"modal.gpu.{g}") for g in gpus])
    pinned = gpu * factor.span() if factor else gpu * Amount.unknown(factor_id)
    return CostLine(
        "modal",
        f"Modal containers, {','.join(gpus)}",
        pinned.times(low * models * month),
        pinned.times(high * models * month),
        pinned.times(per_million),
        f"{models} apps x {low}..{high} containers x 730 h x region multiplier"
        f" ({'narrow' if narrow else 'broad'} region); per million: a container x {latency:g} s x 1M",
        usage_rate=pinned,
        floor_seconds=low * models * month,
        max_key="counterpartMaxWorkers",
        max_instances=high * models,
        instance_month=pinned.times(month),
        models=models,
    )


def study_scenario(prices: PriceTable) -> dict[str, Any]:
    """The Beacon study's scenario, with its arithmetic: 3 models x 3 regions, 1M inferences per endpoint per
    year, 2 s each, at its T4-equivalent per-second rates."""
    endpoints, inferences, seconds = 9, 1_000_000, 2
    rows = []
    for provider in ("runpod", "modal", "alibaba"):
        price = prices.get(f"study.{provider}.t4-equivalent")
        if price is None:
            continue
        annual = endpoints * inferences * seconds * price.per_second
        rows.append(
            {
                "provider": provider,
                "rate": price.amount,
                "annualUsd": round(annual, 2),
                "perEndpointUsd": round(annual / endpoints, 2),
                "arithmetic": f"{endpoints} endpoints x {inferences:,} inferences x {seconds} s x"
                f" ${price.amount:g}/s = ${annual:,.0f}/year",
                "source": f"{price.source}, {price.date}",
            }
        )
    today = platform_cost.study_today(prices, endpoints * inferences * seconds, endpoints)
    return {
        "endpoints": endpoints,
        "inferencesPerEndpointPerYear": inferences,
        "secondsEach": seconds,
        "rows": rows + today,
        "note": "The study states about $3,500/year for Alibaba; its own rate ($0.0003/s) gives $5,400/year by"
        " the same arithmetic. A row's per-endpoint figure is the same quantity as a provider's 'per 1M @ 2s'"
        " figure in the region tables, so the two compare directly. Rows marked 'today' use the same arithmetic"
        " at today's sourced T4-class rates; an ECS node's rate assumes it is busy every second it is paid for.",
    }


def as_json(cost: RegionCost) -> dict[str, Any]:
    return {
        "region": cost.region,
        "latencySeconds": cost.latency_seconds,
        "hoursPerMonth": HOURS_PER_MONTH,
        "lines": [
            {
                "provider": line.provider,
                "what": line.what,
                "monthMin": line.month_min.as_json(),
                "monthMax": line.month_max.as_json(),
                "perMillionInferences": line.per_million.as_json(),
                "basis": line.basis,
            }
            for line in cost.lines
        ],
        "monthMin": cost.month_min.as_json(),
        "monthMax": cost.month_max.as_json(),
        "gpuPacking": {
            "gpusWithCgpu": cost.gpus_packed,
            "gpusOneWholePerReplica": cost.gpus_whole,
            "gpusSaved": cost.gpus_whole - cost.gpus_packed,
            "savingPerMonth": cost.packing_saving_month.as_json(),
        },
        "missingPrices": cost.missing(),
        "workload": platform_cost.as_json(cost.workload),
        "headline": platform_cost.headline_json([cost]),
        "budget": platform_cost.budget_json(cost),
    }
