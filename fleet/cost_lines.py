"""One line of a region's cost, and the figures a line that scales to zero takes its idle and cold seconds from.

The bottom of the cost modules: fleet/platform_cost.py builds lines of this type, and fleet/cost.py composes
them (with fleet/platform_cost.py's) into a region's cost; fleet/cost_budget.py reads the result. Prices and
amounts come from fleet/prices.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleet import serving
from fleet.prices import Amount


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
    # A platform that scales to zero also bills, per model, the idle seconds before it scales down (at
    # idle_rate, for idle_window seconds; None: no source gives the window) and each cold start's seconds (a
    # range: the platform's sourced figure up to the startup budget) at usage_rate: fleet/platform_cost.py.
    scales_to_zero: bool = False
    idle_rate: Amount = Amount(0.0)
    idle_window: float | None = 0.0
    idle_source: str = ""
    cold_seconds: tuple[float, float] = (0.0, 0.0)
    cold_source: str = ""
    cold_rate: Amount | None = None  # what a cold start's seconds cost; None: usage_rate (ACK: whole GPU nodes)
    models: int = 1
    # How many models' requests one job brings to the line at once: ACK's pool serves every model, so a job's
    # questions to all of them wake it once; every other line is one model's instances.
    models_per_job: int = 1
    # What bounds the line's maximum, for the budget (fleet/platform_cost.budget_view): the config key, the
    # instances it allows now (all models), and one instance's month.
    max_key: str = ""
    max_instances: int = 0
    instance_month: Amount = Amount(0.0)
    # False for ACK's GPU pool at zero nodes without pod autoscaling (minReplicasPerModel above 0 never leaves the
    # pool empty, and at 0 KEDA's HTTP add-on starts a model), kept for a line that takes no traffic.
    serves: bool = True

    def capped(self, usage: Amount) -> Amount:
        """Instance time beyond the floor, never more than the ceiling allows (every instance all month): a cold
        start's range runs to the startup budget, which at many cold starts would bill more hours than a month has."""
        if not self.month_max.known or self.month_max.upper <= 0:
            return usage
        room = max(0.0, self.month_max.upper - self.month_min.usd)
        return Amount(min(usage.usd, room), usage.missing, min(usage.upper, room))


# Cold starts, by platform: the low end a source gives (seconds), and where it comes from. The high end is the
# model's startup budget (fleet/serving.py: the probes' and timeouts' budget for image start plus model load).
COLD_START_LOW = {
    "runpod": (0.2, "Beacon's study: RunPod < 200 ms for 48% of requests with FlashBoot (models-prices-residency.md)"),
    "modal": (2.0, "Beacon's study: Modal 2-4 s (models-prices-residency.md)"),
    "fc": (10.0, "FC 3.0 GPU docs: a GPU instance in '10到30秒' (weights-fc-eas.md)"),
}


def startup_budget(outputs: Mapping[str, Any]) -> float:
    """The largest startup budget of the region's models (image start plus model load), in seconds."""
    weights = [m.get("weightsGiB", 0) for m in outputs.get("models") or []] or [0]
    return float(max(serving.startup_budget_seconds(w) for w in weights))
