"""What fleet/cost.py's serving lines leave out, and the cost of each platform at the region's expected volume.

Pure functions over a region stack's outputs and the price table.
- Infrastructure: the ACK system pool and cluster fee, the load balancers (instance fee; the LCU traffic fee has
  no source and stays unknown), the registry instance, the bucket's storage; Function Compute's GPU functions.
- Workload: at `expectedRequestsPerMonth` x `averageSecondsPerRequest` busy seconds, each platform costs its
  always-on floor (month at minimum) plus usage beyond what the floor already serves, one request at a time
  per replica (the study's assumption); the cheapest placement that respects residency is named, and a warning
  is raised when the declared platforms cost more than `costWarningMultiple` times it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleet import kinds
from fleet.cost_budget import (  # noqa: F401 - the fleet's headline and budget, used through this module too
    break_even,
    budget_json,
    budget_lines,
    budget_view,
    cost_changes,
    headline,
    headline_json,
    headline_lines,
    operating_costs,
)
from fleet.cost_idle import idle_and_cold_seconds
from fleet.cost_lines import COLD_START_LOW, CostLine, startup_budget
from fleet.prices import Amount, PriceTable, total
from fleet.residency import is_mainland_region

GB_PER_GIB = 2**30 / 1e9
ALIBABA_PLATFORMS = kinds.PLATFORMS
# One CLB LCU (HTTP) covers 25 new connections a second, billed hourly on its largest dimension (Alibaba's
# "Billing of SLB instances", ../shared/reference/prices-2026-12.md); at Beacon's volume new connections are it.
LCU_NEW_CONNECTIONS_PER_HOUR = 25 * 3600
SHARED = "alibaba"  # lines every Alibaba platform needs (registry, bucket)
# What a user waits for on the first request after scale to zero, by platform, and where the figure comes from.
COLD_START = {k.platform: k.cold_start for k in kinds.KINDS}


def _price(prices: PriceTable, price_id: str, per: str = "second") -> Amount:
    """A rate per second (per="second"), a compute unit's price or a factor (per="amount"), or unknown."""
    found = prices.get(price_id)
    if found is None:
        return Amount.unknown(price_id)
    return found.rate() if per == "second" else found.span()


def _span(a: Amount, b: Amount) -> Amount:
    """The range between two figures for the same thing (e.g. one price on Alibaba's two sites)."""
    return Amount(min(a.usd, b.usd), a.missing + b.missing, max(a.upper, b.upper))


def _product(*parts: Amount) -> Amount:
    result = Amount(1.0)
    for part in parts:
        result = result * part
    return result


def fc_rates(function: Mapping[str, Any], prices: PriceTable, state: str = "active") -> tuple[Amount, Amount]:
    """(USD per second of one instance, USD per request) for one FC function, in FC's compute units. Idle: the
    GPU at its idle factor, no vCPU, memory and disk as active (FC 3.0 billing page)."""
    cu = _price(prices, "fc.cu", per="amount")
    gpu_gb = function["gpuMemoryMB"] / 1024
    parts = [
        _product(Amount(gpu_gb), _price(prices, f"fc.factor.gpu.{function['gpuType']}.{state}", per="amount")),
        _product(Amount(function["memoryMB"] / 1024), _price(prices, "fc.factor.memory", per="amount")),
        _product(Amount(function["diskMB"] / 1024), _price(prices, "fc.factor.disk", per="amount")),
    ]
    if state == "active":
        parts.append(_product(Amount(function["vcpu"]), _price(prices, "fc.factor.vcpu.active", per="amount")))
    return _product(total(parts), cu), _product(_price(prices, "fc.factor.request", per="amount"), cu)


def extra_lines(outputs: Mapping[str, Any], prices: PriceTable, latency: float) -> list[CostLine]:
    region, month = outputs["region"], 730 * 3600.0
    lines = []
    functions = outputs.get("fcEndpoints") or {}
    if functions:
        rates = [fc_rates(f, prices) for f in functions.values()]
        active = total(r[0] for r in rates).times(1 / len(rates))
        request = total(r[1] for r in rates).times(1 / len(rates))
        idle = total(fc_rates(f, prices, "idle")[0] for f in functions.values()).times(1 / len(rates))
        high = sum(f["instances"]["max"] for f in functions.values())
        gpu_type = next(iter(functions.values()))["gpuType"]
        lines.append(
            CostLine(
                "fc",
                f"Function Compute GPU functions, {gpu_type}",
                Amount.zero(),
                active.times(high * month),
                active.times(1_000_000 * latency) + request.times(1_000_000),
                f"0..{high} instances (scale to zero) x 730 h in CU; per million: an active instance"
                f" x {latency:g} s x 1M + 1M requests, averaged over models",
                usage_rate=active,
                per_request=request,
                scales_to_zero=True,
                idle_rate=idle,
                idle_window=None,  # how long FC keeps an idle GPU instance: no stored source gives it
                idle_source="fc.idle-window: how long FC keeps an idle elastic GPU instance is not published",
                cold_seconds=(COLD_START_LOW["fc"][0], 30 + startup_budget(outputs)),
                cold_source=f"{COLD_START_LOW['fc'][1]}; up to 30 s plus the model's startup budget",
                models=len(functions),
                max_key="fcMaxInstances",
                max_instances=high,
                instance_month=active.times(month),
            )
        )
    partner = outputs.get(kinds.BY_PLATFORM["partner"].output_key)
    if partner:  # a partner's price is its agreement's; no public source gives it, so it stays unknown, named
        unknown = Amount(None, (f"partner.{partner['name']} (the agreement's price)",))
        what, basis = f"Partner {partner['name']}'s endpoint", "priced by the agreement; nothing is provisioned"
        line = CostLine("partner", what, unknown, unknown, unknown, basis, usage_rate=unknown, per_request=unknown)
        lines.append(line)
    kubernetes = outputs.get("kubernetes") or {}
    if kubernetes.get("systemPool"):
        system = kubernetes["systemPool"]
        node = _price(prices, f"alibaba.ecs.{system['instanceTypes'][0]}.{region}")
        lines.append(
            CostLine(
                "ack",
                f"ACK system pool, {system['instanceTypes'][0]}",
                *[node.times(system["nodes"] * month)] * 2,
                Amount.zero(),
                f"{system['nodes']} nodes x 730 h, always on" + ("" if node.known else _unpriced_cpu(prices, region)),
            )
        )
        fee = _price(prices, f"alibaba.{kubernetes.get('clusterSpec', 'ack.pro.small')}")
        lines.append(
            CostLine("ack", "ACK Pro cluster fee", *[fee.times(month)] * 2, Amount.zero(), "1 cluster x 730 h")
        )
    balancers = (outputs.get("loadBalancers") or {}).get("clb", 0)
    if balancers:
        # The international site's fee; a mainland region's account may be on the China site, whose CNY fee
        # (converted at fx.CNY.USD) is the other end of the range.
        fee, lcu = _price(prices, "alibaba.clb.instance"), _price(prices, "alibaba.clb.lcu")
        if is_mainland_region(region) and prices.get("alibaba.clb.instance.china-site"):
            fee = _span(fee, _price(prices, "alibaba.clb.instance.china-site"))
            lcu = _span(lcu, _price(prices, "alibaba.clb.lcu.china-site"))
        lines.append(
            CostLine(
                "ack",
                f"CLB load balancers x {balancers} (API server, one per model)",
                *[fee.times(balancers * month)] * 2,
                lcu.times(1_000_000 * 3600 / LCU_NEW_CONNECTIONS_PER_HOUR),
                f"{balancers} x instance fee x 730 h; LCU: one new connection per request, an LCU-hour covers"
                " 25 new connections a second (alibaba.clb.lcu)",
                per_request=lcu.times(3600 / LCU_NEW_CONNECTIONS_PER_HOUR),
            )
        )
    registry = outputs.get("registry") or {}
    if registry.get("edition") == "enterprise":
        instance = _price(prices, f"alibaba.acr.enterprise.{registry.get('instanceType')}.{region}")
        lines.append(
            CostLine(
                SHARED,
                f"ACR Enterprise {registry.get('instanceType')}",
                *[instance.times(month)] * 2,
                Amount.zero(),
                "1 instance, subscription, per month",
            )
        )
    if "modelBucket" in outputs:
        stored_gb = sum(m.get("weightsGiB", 0) for m in outputs.get("models") or []) * GB_PER_GIB
        redundancy = outputs.get("modelBucketRedundancy") or "LRS"
        storage = _price(prices, f"alibaba.oss.standard.{redundancy}")
        lines.append(
            CostLine(
                SHARED,
                f"OSS weights (Standard {redundancy})",
                *[storage.times(stored_gb * month)] * 2,
                Amount.zero(),
                f"{stored_gb:.1f} GB of weights (planner's estimate) x per GB-month",
            )
        )
    return lines


def _unpriced_cpu(prices: PriceTable, region: str) -> str:
    """Why the system pool keeps a CPU type no source prices rather than a type the table does price."""
    priced = {
        p.id.split(".", 2)[2].rsplit(f".{region}", 1)[0]: p.per_second * 3600
        for p in prices.prices.values()
        if p.id.startswith("alibaba.ecs.") and p.id.endswith(f".{region}") and p.unit == "hour"
    }
    why = "; no stored source prices a CPU-only ECS type (the sourced catalog holds GPU types only)"
    if priced:
        cheapest = min(priced, key=priced.get)
        why += f", and the cheapest type it prices here, {cheapest} at ${priced[cheapest]:.4f}/h, is a GPU node"
    return why + "; `make prices` asks Alibaba's pricing API for it"


def workload_view(outputs: Mapping[str, Any], lines: Sequence[CostLine]) -> dict[str, Any] | None:
    """Each declared platform's month at the expected volume, the cheapest residency-respecting one, and the
    declared region's month (every floor, usage on the first platform of the failover order)."""
    workload = outputs.get("workload")
    if not workload:
        return None
    requests, seconds = workload["requestsPerMonth"], workload["secondsPerRequest"]
    per_job = workload.get("requestsPerJob", 1)  # 1: a plan written before the key (the plan diff's base)
    busy = requests * seconds
    residency = outputs.get("residency") or {}
    counterpart = outputs.get("counterpart") or {}
    refuse_abroad = residency.get("residencyBound") and not residency.get("allowCrossBorderFailover")
    shared = [line for line in lines if line.provider == SHARED]
    platforms: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(line.provider for line in lines if line.provider != SHARED):
        own = [line for line in lines if line.provider == name]
        group = own + (shared if name in ALIBABA_PLATFORMS else [])
        floor = total(line.month_min for line in group)
        usage = total(_usage(line, busy, requests, per_job) for line in own)
        cross_border = _cross_border(name, counterpart, outputs.get(kinds.BY_PLATFORM["partner"].output_key) or {})
        platforms[name] = {
            "floor": floor,
            "usage": usage,
            "month": floor + usage,
            "respectsResidency": not (cross_border and refuse_abroad),
            "coldStart": COLD_START.get(name, "unknown"),
        }
    candidates = {k: v for k, v in platforms.items() if v["respectsResidency"]}
    known = {k: v["month"].usd for k, v in candidates.items() if v["month"].known}
    cheapest = min(known, key=known.get) if known else None
    parked = {line.provider for line in lines if not line.serves}
    for name in parked & set(platforms):
        platforms[name]["usage"] = Amount.zero()
        platforms[name]["coldStart"] = "parked: its GPU pool is at zero nodes and no pod autoscaler starts a model"
    order = [step for step in workload.get("failoverOrder") or [] if step not in parked]
    primary = next((p for p in _steps(order, platforms)), None)
    declared = total(line.month_min for line in lines)
    if primary:
        declared = declared + platforms[primary]["usage"]
    warning = ""
    multiple = workload["costWarningMultiple"]
    if cheapest and declared.usd > multiple * known[cheapest]:  # the known part already says enough
        warning = (
            f"the declared platforms cost {declared.text()} a month at {requests:,} requests, more than {multiple:g}x"
            f" the cheapest residency-respecting placement ({cheapest}, ${known[cheapest]:,.2f})"
        )
    return {
        "requestsPerMonth": requests,
        "secondsPerRequest": seconds,
        "requestsPerJob": per_job,
        "busySeconds": busy,
        "platforms": platforms,
        "cheapest": cheapest,
        "unpriced": sorted(k for k, v in candidates.items() if not v["month"].known),
        "primary": primary,
        "declared": declared,
        "warning": warning,
        "yearlyBudgetUsd": workload.get("yearlyBudgetUsd"),
        "breakEven": break_even(lines, platforms, requests),
    }


def _usage(line: CostLine, busy: float, requests: int, per_job: int = 1) -> Amount:
    """Busy seconds beyond the floor; for a platform that scales to zero also the idle seconds before it scales
    down and the cold starts' seconds (fleet/cost_idle.idle_and_cold_seconds)."""
    beyond = max(0.0, busy - line.floor_seconds)
    usage = line.usage_rate.times(beyond)
    per_request = line.per_request.times(requests)
    if not line.scales_to_zero or requests == 0:
        return line.capped(usage) + per_request
    if line.idle_window is None:
        return line.capped(usage) + per_request + Amount.unknown(line.idle_source.split(":")[0])
    idle, most, cold = idle_and_cold_seconds(line, busy, requests, per_job)
    low, high = line.cold_seconds
    cold_cost = Amount(cold * low, upper=cold * high) * (line.cold_rate or line.usage_rate)
    return line.capped(usage + Amount(idle, upper=most) * line.idle_rate + cold_cost) + per_request


def _steps(order: Sequence[str], platforms: Mapping[str, Any]):
    for step in order:
        yield from (p for p in platforms if p in kinds.BY_PLATFORM and kinds.BY_PLATFORM[p].failover_step == step)


def _cross_border(platform: str, counterpart: Mapping[str, Any], partner: Mapping[str, Any]) -> bool:
    """Whether a platform's line serves from outside the region's jurisdiction: never the region's own."""
    kind = kinds.BY_PLATFORM.get(platform)
    if kind is None or kind.on_alibaba:
        return False
    return bool((counterpart if kind.counterpart else partner).get("crossBorder"))


def workload_lines(view: Mapping[str, Any] | None) -> list[str]:
    if not view:
        return []
    lines = [
        f"  At the expected volume ({view['requestsPerMonth']:,} requests x {view['secondsPerRequest']:g} s a month,"
        f" in jobs of {view.get('requestsPerJob', 1)} a model at once; floor = month at minimum, usage = busy seconds"
        " beyond what the floor serves, plus each woken instance's idle window and cold start once a job):"
    ]
    for name, p in view["platforms"].items():
        note = "" if p["respectsResidency"] else "  (cross-border: not allowed for this region's traffic)"
        lines.append(
            f"    {name:8} {p['month'].text():>12} = floor {p['floor'].text()} + usage {p['usage'].text()};"
            f" cold start: {p['coldStart']}{note}"
        )
    cheapest = view["cheapest"] or "none priced"
    unpriced = f"; not priced: {', '.join(view['unpriced'])}" if view["unpriced"] else ""
    lines.append(f"    cheapest residency-respecting placement: {cheapest}{unpriced}")
    lines.append(f"    declared (every floor, usage on {view['primary']}): {view['declared'].text()}")
    for name, even in (view.get("breakEven") or {}).items():
        lines.append(
            f"    {name} is cheaper than {even['against']} above {even['requestsPerMonth']:,} requests a month"
            f" ({even['basis']})"
        )
    if view["warning"]:
        lines.append(f"  warning: {view['warning']}")
    return lines


def as_json(view: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not view:
        return None
    return {
        **{k: v for k, v in view.items() if k not in ("platforms", "declared")},
        "declared": view["declared"].as_json(),
        "platforms": {
            name: {
                **{k: v.as_json() for k, v in p.items() if isinstance(v, Amount)},
                "respectsResidency": p["respectsResidency"],
                "coldStart": p["coldStart"],
            }
            for name, p in view["platforms"].items()
        },
    }


# The study's T4-equivalent, today: each a T4-class rate from the price table, with what it includes.
STUDY_TODAY = (
    ("today fc", "FC fc.gpu.tesla.1, 16 GB T4 GPU memory alone, active", ("fc-t4", 16)),
    (
        "today ecs",
        "ECS gn6i-c4g1.xlarge (T4) in cn-beijing, per second of a node",
        "alibaba.ecs.ecs.gn6i-c4g1.xlarge.cn-beijing",
    ),
    (
        "today runpod",
        "RunPod's cheapest tier (AMPERE_16, 16 GB; RunPod has no T4), flex",
        "runpod.serverless.AMPERE_16.flex",
    ),
    ("today modal", "Modal T4, unpinned", "modal.gpu.T4"),
)


def study_today(prices: PriceTable, busy_seconds: float, endpoints: int) -> list[dict[str, Any]]:
    """The study's scenario at today's sourced rates, arithmetic shown; a rate the table lacks is left out."""
    rows = []
    for provider, what, source in STUDY_TODAY:
        if isinstance(source, tuple):
            rate = _product(
                Amount(source[1]),
                _price(prices, "fc.factor.gpu.fc.gpu.tesla.1.active", per="amount"),
                _price(prices, "fc.cu", per="amount"),
            )
            cited = prices.get("fc.cu")
            rate_text = f"16 GB x 2.1 CU/GB-s x ${cited.amount if cited else 0:.6f}/CU = ${rate.usd or 0:.6f}/s"
        else:
            rate, cited = _price(prices, source), prices.get(source)
            rate_text = f"${rate.usd or 0:.6f}/s"
        if not rate.known or cited is None:
            continue
        annual = busy_seconds * rate.usd
        rows.append(
            {
                "provider": provider,
                "rate": round(rate.usd, 8),
                "annualUsd": round(annual, 2),
                "perEndpointUsd": round(annual / endpoints, 2),
                "arithmetic": f"{busy_seconds:,.0f} s x {rate_text} = ${annual:,.0f}/year ({what})",
                "source": f"{cited.source}, {cited.date}",
            }
        )
    return rows


def fleet_lines(costs: Sequence[Any]) -> list[str]:
    """The fleet at the expected volume: every region's declared month, and its cheapest placements' sum."""
    views = [c.workload for c in costs if c.workload]
    if not views:
        return []
    declared = total(v["declared"] for v in views)
    cheapest = [
        v["platforms"][v["cheapest"]]["month"] if v["cheapest"] else Amount.unknown("a priced placement") for v in views
    ]
    return [
        f"Fleet at the expected volume: declared {declared.text()} a month; the cheapest residency-respecting"
        f" placement of every region {total(cheapest).text()}"
        + ("" if all(v["cheapest"] for v in views) else " (a region has no priced placement)")
    ]
