"""CostBudget: the region's known yearly cost held beside its budget, as a resource the policy pack can see.

`pulumi preview --policy-pack policy` shows the pack resources, not the plan's cost view. This component carries
the cost view's figures (fleet/cost.py, fleet/cost_budget.py) in its inputs, which the engine hands to resource
policies (pulumi/pulumi pkg/resource/deploy/step_generator.go: every registered resource goes through
`analyzeAll` with its inputs), and in its registered outputs, which stack policies read (`AnalyzeResources`
hands them each resource's outputs). policy/beacon_policies.py's `fleet-budget` refuses it when over.
It declares no cloud resource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

TYPE = "beacon-fleet:cost:Budget"


@dataclass(frozen=True)
class CostBudgetArgs:
    region: str
    known_yearly_usd: float  # the known cost a year at the configured volume; bounded and unknown parts beside it
    yearly_budget_usd: float | None  # None: no budget configured, nothing to hold
    ceiling_yearly_usd: float  # every platform at its configured maximum all year (known part)
    requests_per_month: int
    requests_per_job: int  # a job's requests to each model, in turn (idle and cold starts are billed once a job)
    unknown_parts: Sequence[str] = ()  # price ids the known figure lacks
    dearest: Sequence[str] = ()  # the platforms that cost most, with their month
    cheapest_placement: str = ""  # the cheapest residency-respecting platform, "" when none is priced
    # Per bounded maximum ("eas (maxReplicasPerModel)"): what is configured and what the budget pays for.
    maxima: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    price_source: str = ""  # the price table the figures come from


def budget_props(args: CostBudgetArgs) -> dict[str, object]:
    """The component's inputs and outputs, in the engine's camelCase; plain data only."""
    return {
        "region": args.region,
        "knownYearlyUsd": round(args.known_yearly_usd, 2),
        "yearlyBudgetUsd": args.yearly_budget_usd,
        "ceilingYearlyUsd": round(args.ceiling_yearly_usd, 2),
        "requestsPerMonth": args.requests_per_month,
        "requestsPerJob": args.requests_per_job,
        "unknownParts": list(args.unknown_parts),
        "dearest": list(args.dearest),
        "cheapestPlacement": args.cheapest_placement,
        "maxima": {k: dict(v) for k, v in args.maxima.items()},
        "priceSource": args.price_source,
    }


class CostBudget(pulumi.ComponentResource):
    known_yearly_usd: pulumi.Output[float]
    yearly_budget_usd: pulumi.Output[float | None]

    def __init__(self, name: str, args: CostBudgetArgs, opts: pulumi.ResourceOptions | None = None):
        props = budget_props(args)
        super().__init__(TYPE, name, props, opts)
        self.known_yearly_usd = pulumi.Output.from_input(props["knownYearlyUsd"])
        self.yearly_budget_usd = pulumi.Output.from_input(props["yearlyBudgetUsd"])
        self.register_outputs(props)
