"""What a platform that scales to zero bills beyond its busy seconds: the idle window before it scales down and
each cold start's seconds, with their sources (fleet/platform_cost.py applies them at the expected volume).

EAS at 0 instances and ACK at 0 pods and nodes here; FC and the counterparts beside their own lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet import eas, serving
from fleet.cost_lines import startup_budget
from fleet.prices import Amount


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
    }
