"""PAI-EAS settings: the instance type each model's service runs on and the QPS its autoscaler targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet import gpus
from fleet.settings.problems import Problems


@dataclass(frozen=True)
class EasSettings:
    instance_type: str
    family: gpus.GpuFamily
    qps_target: int


def parse_eas(values: dict[str, Any], p: Problems) -> EasSettings | None:
    instance_type = values.get("easInstanceType")
    family = gpus.gpu_family_of(instance_type) if isinstance(instance_type, str) else None
    if isinstance(instance_type, str) and family is None:
        p.add("easInstanceType", f"'{instance_type}' is not an ECS GPU instance type of a known family")
    qps = values.get("easQpsTarget")
    if isinstance(qps, int) and qps < 1:
        p.add("easQpsTarget", f"must be at least 1 request per second, got {qps}")
    if family is None or not isinstance(qps, int):
        return None
    return EasSettings(instance_type=instance_type, family=family, qps_target=qps)
