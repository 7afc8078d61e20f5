"""What a region and the fleet cost, per month and per million inferences, with the arithmetic shown.

Pure functions over a region stack's outputs and the price table (prices/prices.yaml). A figure that needs a
price the table lacks is unknown, and says which price to add: a sum with one unknown part is unknown as a
whole, never a partial sum that looks complete.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet.config_schema import PROJECT_ROOT

PRICES_PATH = PROJECT_ROOT / "prices" / "prices.yaml"
HOURS_PER_MONTH = 730
DEFAULT_LATENCY_SECONDS = 2.0  # the Beacon study's average
# Seconds per unit for rates; None for what is not a rate in time (a compute unit, a multiplier). A gb-month is
# per GB stored, so its per-second figure is per GB.
UNITS = {"hour": 3600.0, "second": 1.0, "month": HOURS_PER_MONTH * 3600.0, "gb-month": HOURS_PER_MONTH * 3600.0}
UNITS |= {"cu": None, "multiplier": None}
_REQUIRED = ("id", "what", "amount", "currency", "unit", "source", "date")


class PriceTableError(ValueError):
    """A price entry without its unit, currency, source or date; the message names the entry and the field."""


@dataclass(frozen=True)
class Price:
    id: str
    what: str
    amount: float
    currency: str
    unit: str
    source: str
    date: str
    trust: str = ""  # how far to rely on it (third-party catalogs say so)

    @property
    def per_second(self) -> float:
        divisor = UNITS[self.unit]
        assert divisor is not None, f"{self.id} is a multiplier, not a rate"
        return self.amount / divisor


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, Price]

    def get(self, price_id: str) -> Price | None:
        return self.prices.get(price_id)


def load_prices(paths: Sequence[Path] = (PRICES_PATH,)) -> PriceTable:
    """The shipped table, then any user files (later entries with the same id replace earlier ones)."""
    prices: dict[str, Price] = {}
    problems = []
    for path in paths:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        seen = set()
        for index, entry in enumerate(document.get("prices") or []):
            where = f"{path.name}: prices[{index}]"
            missing = [k for k in _REQUIRED if entry.get(k) in (None, "")]
            if missing:
                problems.append(f"{where} ({entry.get('id', '?')}) lacks {', '.join(missing)}")
                continue
            if entry["unit"] not in UNITS:
                problems.append(f"{where} ({entry['id']}): unit '{entry['unit']}' is not one of {', '.join(UNITS)}")
                continue
            if entry["id"] in seen:
                problems.append(f"{where}: '{entry['id']}' appears twice in {path.name}")
            seen.add(entry["id"])
            amount = entry["amount"]
            if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount <= 0:
                problems.append(f"{where} ({entry['id']}): amount must be a positive number")
                continue
            if entry["unit"] != "multiplier" and entry["currency"] != "USD":
                problems.append(f"{where} ({entry['id']}): only USD prices are summed; convert and cite the rate")
                continue
            prices[entry["id"]] = Price(
                **{k: entry[k] if k == "amount" else str(entry[k]) for k in _REQUIRED},
                trust=str(entry.get("trust") or ""),
            )
    if problems:
        raise PriceTableError("the price table is invalid:\n  - " + "\n  - ".join(problems))
    return PriceTable(prices)


@dataclass(frozen=True)
class Amount:
    """US dollars, or unknown with the price ids that would make it known."""

    usd: float | None
    missing: tuple[str, ...] = ()

    @staticmethod
    def zero() -> Amount:
        return Amount(0.0)

    @property
    def known(self) -> bool:
        return self.usd is not None

    def __add__(self, other: Amount) -> Amount:
        if self.known and other.known:
            return Amount(self.usd + other.usd)
        return Amount(None, tuple(sorted(set(self.missing) | set(other.missing))))

    def times(self, factor: float) -> Amount:
        if factor == 0:  # none of a thing costs nothing, whatever its price
            return Amount(0.0)
        return Amount(None, self.missing) if not self.known else Amount(self.usd * factor)

    def text(self) -> str:
        return f"${self.usd:,.2f}" if self.known else "unknown"

    def as_json(self) -> dict[str, Any]:
        return {"usd": None if self.usd is None else round(self.usd, 6), "missingPrices": list(self.missing)}


def total(amounts: Iterable[Amount]) -> Amount:
    result = Amount.zero()
    for amount in amounts:
        result = result + amount
    return result


@dataclass(frozen=True)
class CostLine:
    provider: str  # a kind's platform (fleet/kinds.py), or "alibaba" for what every Alibaba platform shares
    what: str
    month_min: Amount
    month_max: Amount
    per_million: Amount  # per million inferences at the given latency
    basis: str  # the arithmetic, in words
    # For the cost at a volume (fleet/platform_cost.py): USD per busy second beyond what the floor serves, the
    # busy seconds a month the floor (month at minimum) already serves, and USD per request.
    usage_rate: Amount = Amount(0.0)
    floor_seconds: float = 0.0
    per_request: Amount = Amount(0.0)


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
    return Amount(price.per_second) if price else Amount(None, (price_id,))


def _ceiling(rates: Sequence[Amount]) -> Amount:
    """The highest of several rates (workers may land on any listed GPU); unknown if any is unknown."""
    if not rates or not all(r.known for r in rates):
        return Amount(None, tuple(sorted({m for r in rates for m in r.missing})))
    return Amount(max(r.usd for r in rates))


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
            )
        )
        saving = node.times(packing.get("gpusSaved", 0) * month)

    eas = outputs.get("easEndpoints") or {}
    if eas:
        instance = next(iter(eas.values()))["instanceType"]
        rate = _rate(prices, f"alibaba.eas.{instance}.{region}")
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
            )
        )

    counterpart = outputs.get("counterpart")
    if counterpart:
        lines.append(_counterpart_line(counterpart, prices, month, per_million, latency_seconds))

    from fleet import platform_cost  # it builds on this module's types

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
        )
    # Modal's narrow regions are named like us-east; broad ones like us.
    narrow = any("-" in location for location in counterpart["locations"])
    factor_id = "modal.region.narrow" if narrow else "modal.region.broad"
    factor = prices.get(factor_id)
    gpu = _ceiling([_rate(prices, f"modal.gpu.{g}") for g in gpus])
    pinned = gpu.times(factor.amount) if factor else Amount(None, tuple(sorted({*gpu.missing, factor_id})))
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
    from fleet import platform_cost  # it builds on this module's types

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
    from fleet import platform_cost  # it builds on this module's types

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
    }
