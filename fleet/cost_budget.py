"""What the fleet costs a year, held to its budget, and what a change does to it.

Pure functions over fleet/cost.py's region costs:
- the headline, per region and for the fleet: the known figure per month and per year at the expected volume,
  the range bounded prices allow, the unknown parts by id, per endpoint per year (the study's unit), the month
  at minimum replicas and the ceiling (every platform at its maximum); a mainland region adds, as their own
  lines, the one-off and yearly costs Beacon's study gives for operating there;
- the budget (`yearlyBudgetUsd`, per region: the policy pack sees one stack at a time; the fleet's is the sum):
  over it, or with a maximum above what it pays for, the plan fails and says what to change;
- the plan diff's cost lines, yearly delta first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleet import kinds
from fleet.prices import Amount, PriceTable, total
from fleet.residency import is_mainland_region

# What operating in mainland China costs beyond the cloud bill (Beacon's study, in USD as it gives them):
# (price id, one-off or yearly).
MAINLAND_OPERATING = (
    ("study.china.icp-licence", "one-off"),
    ("study.china.business-registration", "one-off"),
    ("study.china.compliance", "yearly"),
)


def cost_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """What a change does to a region's monthly cost, from two plans' `cost` (as_json): for the plan diff."""
    before, after = before or {}, after or {}

    def figure(document: Mapping[str, Any], *path: str) -> Amount | str:
        for key in path:
            document = document.get(key) if isinstance(document, Mapping) else None
        if not isinstance(document, Mapping):
            return "absent"
        if document.get("usd") is None:  # a plan written before sums kept their known part
            return Amount.unknown(*(document.get("missingPrices") or ["a price"]))
        upper = document.get("upperUsd")
        return Amount(document["usd"], tuple(document.get("missingPrices") or ()), upper)

    def text(value: Amount | str) -> str:
        return value if isinstance(value, str) else value.text()

    changes = []
    for label, path in (
        ("year at the expected volume", ("headline", "year")),
        ("first-year one-off costs", ("headline", "oneOff")),
        ("month at minimum", ("monthMin",)),
        ("month at maximum (the ceiling)", ("monthMax",)),
        ("month at the expected volume (declared)", ("workload", "declared")),
    ):
        old, new = figure(before, *path), figure(after, *path)
        if old == new:
            continue
        delta = ""
        if isinstance(old, Amount) and isinstance(new, Amount):
            low, high = new.usd - old.usd, new.upper - old.upper
            delta = f" ({low:+,.2f})" if f"{low:.2f}" == f"{high:.2f}" else f" ({low:+,.2f} to {high:+,.2f})"
        changes.append(f"{label}: {text(old)} → {text(new)}{delta}")
    budget_before, budget_after = before.get("budget") or {}, after.get("budget") or {}
    if budget_after and (budget_before.get("year"), budget_before.get("budgetUsd")) != (
        budget_after.get("year"),
        budget_after.get("budgetUsd"),
    ):

        def headroom(budget: Mapping[str, Any]) -> str:
            if not budget:
                return "no budget"
            left = budget["budgetUsd"] - budget["year"]["usd"]
            return f"${left:,.2f} left of ${budget['budgetUsd']:,.2f}" if left >= 0 else f"${-left:,.2f} over"

        verdict = "over budget: the plan fails" if budget_after.get("over") else "within budget"
        changes.append(f"budget (yearlyBudgetUsd): {headroom(budget_before)} → {headroom(budget_after)}; {verdict}")
    lines_before = {(x["provider"], x["what"]): x for x in before.get("lines") or []}
    lines_after = {(x["provider"], x["what"]): x for x in after.get("lines") or []}
    for key in sorted(lines_before.keys() | lines_after.keys()):
        old_line, new_line = lines_before.get(key, {}), lines_after.get(key, {})
        old = (figure(old_line, "monthMin"), figure(old_line, "monthMax"))
        new = (figure(new_line, "monthMin"), figure(new_line, "monthMax"))
        if old != new:
            changes.append(f"{key[0]} {key[1]}: {text(old[0])}..{text(old[1])} → {text(new[0])}..{text(new[1])}")
    return changes


def operating_costs(outputs: Mapping[str, Any], prices: PriceTable) -> tuple[dict[str, Any], ...]:
    """A mainland region that serves on Alibaba Cloud also pays, outside the cloud bill, what Beacon's study gives
    for operating there: one-off (ICP licence, business registration) and yearly (compliance) costs, in USD as
    the study gives them (no conversion)."""
    region = outputs.get("region") or ""
    serves_on_alibaba = bool((outputs.get("workload") or {}).get("servingPlatforms")) or bool(
        outputs.get("easEndpoints") or outputs.get("ackEndpoints") or outputs.get("fcEndpoints")
    )
    if not (region and is_mainland_region(region) and serves_on_alibaba):
        return ()
    found = []
    for price_id, kind in MAINLAND_OPERATING:
        price = prices.get(price_id)
        found.append(
            {
                "id": price_id,
                "what": price.what if price else price_id,
                "kind": kind,
                "amount": price.span() if price else Amount.unknown(price_id),
                "source": price.cited() if price else "not in the price table",
            }
        )
    return tuple(found)


def headline(costs: Sequence[Any]) -> dict[str, Any]:
    """What the regions cost together, never only "unknown": per month and per year at the expected volume
    (the known figure, its range, the unknown parts by id), the first year's one-off operating costs, per
    endpoint per year (the study's unit), and the ceiling (every platform at its maximum)."""
    month = total(c.month for c in costs)
    year = total(c.year() for c in costs)
    endpoints = sum(c.endpoints for c in costs)
    return {
        "regions": len(costs),
        "endpoints": endpoints,
        "month": month,
        "year": year,
        "oneOff": total(c.one_off() for c in costs),
        "perEndpointYear": year.times(1 / endpoints) if endpoints else Amount.zero(),
        "monthAtMinimum": total(c.month_min for c in costs),
        "ceilingMonth": total(c.month_max for c in costs),
        "operating": [o for c in costs for o in c.operating],
    }


def headline_json(costs: Sequence[Any]) -> dict[str, Any]:
    view = headline(costs)
    return {
        **{k: v.as_json() if isinstance(v, Amount) else v for k, v in view.items() if k != "operating"},
        "ceilingYear": view["ceilingMonth"].times(12).as_json(),
        "operating": [{**o, "amount": o["amount"].as_json()} for o in view["operating"]],
    }


def headline_lines(costs: Sequence[Any], label: str) -> list[str]:
    """The headline in words: a known figure, a range where sources give bounds, and the unknown parts named."""
    view = headline(costs)
    lines = [
        f"{label}: {view['month'].text()} a month at the expected volume, {view['year'].text()} a year;"
        f" per endpoint ({view['endpoints']}) {view['perEndpointYear'].text()} a year",
        f"  at minimum replicas {view['monthAtMinimum'].text()} a month; ceiling (every platform at its maximum)"
        f" {view['ceilingMonth'].text()} a month, {view['ceilingMonth'].times(12).text()} a year",
    ]
    for item in view["operating"]:
        lines.append(f"  + {item['kind']}: {item['what']} {item['amount'].text()} ({item['source']})")
    return lines


def budget_view(cost: Any) -> dict[str, Any] | None:
    """The region held to its yearly budget (`yearlyBudgetUsd`), or None without one.

    - over: the known cost a year at the expected volume (the known figure; bounded and unknown parts are shown
      beside it, not counted) exceeds the budget; the message names the dearest platforms and the cheapest
      residency-respecting placement.
    - allowed maxima: each line with a maximum (ACK nodes, EAS instances, FC instances, counterpart workers) may
      keep, beyond the one per model the volume needs, as many instances as the budget's headroom pays for
      running all month (one instance's month at its known price, or at its bound where only a bound exists).
      A configured maximum above that fails, naming the key and the value the budget allows.
    - ceiling: every line at its configured maximum all month, beside the budget.
    """
    view = cost.workload or {}
    budget = view.get("yearlyBudgetUsd")
    if not budget:
        return None
    year = cost.year()
    headroom_month = max(0.0, (budget - year.usd) / 12)
    problems, allowed = [], {}
    for line in cost.lines:
        if not line.max_key or not line.max_instances:
            continue
        one = line.instance_month.usd or line.instance_month.upper
        per_model = line.provider != "ack"  # ACK's pool is bounded in nodes, shared by the models
        # What the volume needs: one instance per model (at ~2 requests a minute one serves it), or the nodes
        # cGPU packs one replica of every model onto; beyond that, what the headroom pays for all month.
        needed = max(line.models, 1) if per_model else max(cost.gpus_packed, 1)
        extra = int(headroom_month // one) if one > 0 else 0
        most = needed + extra
        unit, divisor = ("per model", needed) if per_model else ("nodes", 1)
        configured, most_shown = line.max_instances // divisor, most // divisor
        allowed[f"{line.provider} ({line.max_key})"] = {"configured": configured, "allowed": most_shown, "unit": unit}
        if line.max_instances > most:
            problems.append(
                f"{line.provider}: {line.max_key} allows {configured} {unit}, but the budget pays for at most"
                f" {most_shown} (${one:,.2f} per instance-month beyond what the volume needs); lower {line.max_key}"
                f" to {most_shown} or raise yearlyBudgetUsd"
            )
    platforms = view.get("platforms") or {}
    dearest = sorted(platforms, key=lambda name: platforms[name]["month"].usd, reverse=True)[:2]
    over = year.usd > budget
    if over:
        named = ", ".join(f"{name} {platforms[name]['month'].text()} a month" for name in dearest)
        problems.insert(
            0,
            f"the known cost a year at {view.get('requestsPerMonth', 0):,} requests a month, ${year.usd:,.2f},"
            f" exceeds yearlyBudgetUsd (${budget:,.2f}); dearest: {named}; the cheapest residency-respecting"
            f" placement is {view.get('cheapest') or 'none priced'}: serve there (servingPlatforms, failoverOrder)"
            " or raise the budget",
        )
    return {
        "budgetUsd": budget,
        "year": year,
        "ceilingYear": cost.month_max.times(12),
        "over": over,
        "allowedMaxima": allowed,
        "problems": problems,
    }


def budget_lines(cost: Any) -> list[str]:
    view = budget_view(cost)
    if view is None:
        return []
    lines = [
        f"  Budget ${view['budgetUsd']:,.2f} a year: known cost {view['year'].text()} a year at the expected volume;"
        f" ceiling (every platform at its configured maximum all month) {view['ceilingYear'].text()} a year",
        "    maxima the budget allows (per model; ACK: nodes): "
        + ", ".join(f"{k} {v['configured']} (allowed {v['allowed']})" for k, v in view["allowedMaxima"].items()),
    ]
    lines += [f"  over budget: {problem}" for problem in view["problems"]]
    return lines


def budget_json(cost: Any) -> dict[str, Any] | None:
    view = budget_view(cost)
    if view is None:
        return None
    return {**view, "year": view["year"].as_json(), "ceilingYear": view["ceilingYear"].as_json()}


DEDICATED = tuple(k.platform for k in kinds.KINDS if k.dedicated)  # paid by the hour whether busy or not


def break_even(lines: Sequence[Any], platforms: Mapping[str, Any], requests: int) -> dict[str, Any]:
    """For each dedicated platform, the requests a month above which one node or instance kept all month costs
    less than the cheapest serverless platform in the same jurisdiction, at that platform's cost per request
    at the expected volume (idle and cold starts included)."""
    serverless = {
        name: p["month"].usd / requests
        for name, p in platforms.items()
        if name not in DEDICATED and p["respectsResidency"] and p["month"].known and requests and p["month"].usd
    }
    if not serverless:
        return {}
    cheapest = min(serverless, key=serverless.get)
    found = {}
    for line in lines:
        if line.provider in DEDICATED and line.max_key and (line.instance_month.usd or line.instance_month.upper):
            one = line.instance_month.usd or line.instance_month.upper
            found[line.provider] = {
                "against": cheapest,
                "requestsPerMonth": int(one / serverless[cheapest]),
                "basis": f"one {line.provider} {'node' if line.provider == 'ack' else 'instance'} all month"
                f" (${one:,.2f}{'' if line.instance_month.usd else ', at its bound'}) / {cheapest}'s"
                f" ${serverless[cheapest]:.5f} per request",
            }
    return found
