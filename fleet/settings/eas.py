"""PAI-EAS settings: the instance type each model's service runs on and the QPS its autoscaler targets."""

from __future__ import annotations

from typing import Any

from fleet import gpus
from fleet.settings.problems import Problems
from fleet.settings_types import EasSettings

# A sane bound: one GPU replica of an LLM serves a few requests per second, far below this; a larger target
# would mean the autoscaler never scales out.
MAX_QPS_TARGET = 1000


def parse_eas(values: dict[str, Any], p: Problems) -> EasSettings | None:
    instance_type = values.get("easInstanceType")
    family = gpus.gpu_family_of(instance_type) if isinstance(instance_type, str) else None
    if isinstance(instance_type, str) and family is None:
        p.add("easInstanceType", f"'{instance_type}' is {gpus.unknown_type_hint(instance_type)}")
    qps = values.get("easQpsTarget")
    if isinstance(qps, int) and not 1 <= qps <= MAX_QPS_TARGET:
        p.add("easQpsTarget", f"must be between 1 and {MAX_QPS_TARGET} requests per second, got {qps}")
    if family is None or not isinstance(qps, int):
        return None
    return EasSettings(instance_type=instance_type, family=family, qps_target=qps)
