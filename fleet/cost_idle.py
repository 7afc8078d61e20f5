"""What a platform that scales to zero bills beyond its busy seconds: the idle window before it scales down and
each cold start's seconds, with their sources (fleet/platform_cost.py applies them at the expected volume).

EAS at 0 instances and ACK at 0 pods and nodes here; FC and the counterparts beside their own lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fleet import eas, serving
from fleet.cost_lines import CostLine, startup_budget
from fleet.prices import HOURS_PER_MONTH, Amount


def eas_scale_to_zero(outputs: Mapping[str, Any], rate: Amount) -> dict[str, Any]:
    budget = startup_budget(outputs)
    return {
        "scales_to_zero": True,
        "idle_rate": rate,  # an idle instance occupies its resources: billed as busy
        "idle_window": float(eas.SCALE_TO_ZERO_GRACE_SECONDS),
        "idle_source": "EAS onZero.scaleDownGracePeriodSeconds, default 600 s (UpdateServiceAutoScaler API)",
        "cold_seconds": (budget, eas.PROVISION_SECONDS + budget),
        "cold_source": "no source times an EAS start from zero: the model's startup budget, up to the 15-minute"
        " provisioning estimate plus it (fleet/eas.py)",
    }


def ack_scale_to_zero(outputs: Mapping[str, Any], node: Amount, nodes: int) -> dict[str, Any]:
    """ACK at zero nodes: a request wakes the pool (the nodes cGPU packs one pod of every model onto, any model's
    request keeping them), which bills whole nodes while the pod waits out KEDA's scale-down and the emptied node
    the autoscaler's; a cold start bills them through a node's creation, the image pull and the model load."""
    colds = [a.get("coldStartSeconds", 0) for a in outputs["ackEndpoints"].values()]
    warm_node = startup_budget(outputs) + serving.IMAGE_PULL_SECONDS
    return {
        "scales_to_zero": True,
        "idle_rate": node.times(nodes),
        "idle_window": float(serving.POD_SCALEDOWN_SECONDS + serving.NODE_UNNEEDED_SECONDS),
        "idle_source": "KEDA HTTPScaledObject scaledownPeriod 300 s (the chart's value; KEDA's cooldownPeriod"
        " default) plus the cluster autoscaler's unneeded_duration 10 min (terraform-provider-alicloud"
        " cs_autoscaling_config docs; declared)",
        "cold_seconds": (float(warm_node), float(max(colds) if colds else warm_node)),
        "cold_rate": node.times(nodes),
        "cold_source": "no source times an ACK GPU node's creation: the image pull and the model's startup budget,"
        " up to the cluster autoscaler's 15-minute max-node-provision-time plus them (fleet/serving.py)",
        "models": 1,  # one pool for all models: any model's request keeps it
        "models_per_job": max(len(outputs["ackEndpoints"]), 1),  # and a job's questions to all of them wake it once
    }


def idle_and_cold_seconds(line: CostLine, busy: float, requests: int, per_job: int) -> tuple[float, float, float]:
    """(idle seconds, the most idle seconds, cold starts) a month.

    Beacon's runner asks a region's models one question at a time, all models at once, and the next question once
    every model has answered (Project Beacon's job_runner.go, deployed 2025-10-02): a model gets a job's `per_job`
    requests one after another. Jobs arrive at random (Poisson). After a job the instance waits min(gap, window)
    before scaling down (mean (1 - e^(-rate x window)) / rate), and the next job starts it cold with probability
    e^(-rate x window). Between two questions of a job a model waits for the slowest model (and for a router
    that serves a region's requests in turn): nothing when every model answers in averageSecondsPerRequest, as
    the plan takes them to, and at most the window, after which it would have scaled down. At per_job 1 this is
    requests arriving one at a time."""
    month = HOURS_PER_MONTH * 3600.0
    models = max(line.models, 1)
    jobs = requests / models / max(line.models_per_job, 1) / per_job
    rate = jobs / month
    waiting = (1 - math.exp(-rate * line.idle_window)) / rate
    room = max(0.0, month - busy / models)  # one instance's month beyond its busy seconds
    idle = min(waiting * jobs, room) * models
    most = min((waiting + (per_job - 1) * line.idle_window) * jobs, room) * models
    cold = jobs * math.exp(-rate * line.idle_window) * models
    return idle, most, cold
