"""Upper bounds on the numbers and lists a stack may set, each with why.

Without them a value such as maxReplicasPerModel: 100000 makes the planner's first-fit packing quadratic and
declares thousands of resources that `pulumi up` would then have to create (and a quota would refuse). A
value over its bound is reported and dropped, so nothing downstream sizes anything from it.
"""

from __future__ import annotations

from typing import Any

from fleet.settings.models import FAILOVER_STEPS, PLATFORMS
from fleet.settings.problems import Problems

# key -> (largest value, why)
MAX_VALUE: dict[str, tuple[int, str]] = {
    # Replica slices are packed first-fit onto GPUs (quadratic in slices) and each is a pod; 32 replicas of
    # each of 16 models is 512 pods, beyond any GPU pool this fleet plans.
    "maxReplicasPerModel": (32, "a sane bound on pods per model; split the model over regions instead"),
    "minReplicasPerModel": (32, "a sane bound on pods per model kept warm"),
    # Each zone costs two vSwitches and splits the GPU pool; Alibaba's largest regions have about a dozen.
    "zoneCount": (8, "a sane bound: more zones only fragment the GPU pool, and each costs two vSwitches"),
    # Workers or containers per counterpart model; RunPod and Modal accounts are capped by quota well below.
    "counterpartMaxWorkers": (50, "a sane bound on serverless workers per model"),
    "counterpartMinWorkers": (50, "a sane bound on warm serverless workers per model"),
}

# key -> (most items, why)
MAX_ITEMS: dict[str, tuple[int, str]] = {
    # Each model declares about ten resources per platform, and the router merges models x regions.
    "models": (16, "each model declares about ten resources per platform; serve more from another region"),
    "customModels": (32, "a sane bound on catalog entries per stack"),
    "zones": (8, "a sane bound: more zones only fragment the GPU pool, and each costs two vSwitches"),
    # An ACK node pool (an ESS scaling group) takes at most 10 instance types.
    "gpuInstanceTypes": (10, "a node pool takes at most 10 instance types"),
    "systemNodeInstanceTypes": (10, "a node pool takes at most 10 instance types"),
    # Allowlists become ACL or whitelist entries; a long list is a range that should be summarised.
    "deployerCidrs": (50, "a sane bound on allowlist entries; summarise ranges"),
    "servingAllowedCidrs": (50, "a sane bound on allowlist entries; summarise ranges"),
    "counterpartLocations": (10, "a sane bound on counterpart locations"),
    "counterpartGpus": (10, "a sane bound on counterpart GPU types"),
    "counterpartModels": (16, "a counterpart mirrors at most the region's own models"),
    "partnerModels": (16, "a partner serves at most the region's own models"),
    "failoverOrder": (len(FAILOVER_STEPS), f"there are {len(FAILOVER_STEPS)} steps: {', '.join(FAILOVER_STEPS)}"),
    "servingPlatforms": (len(PLATFORMS), f"there are {len(PLATFORMS)} platforms: {', '.join(PLATFORMS)}"),
    "regionStacks": (32, "a sane bound on region stacks one router merges"),
    "routerPublishTargets": (2, "there are two targets: kubernetes, railway"),
}
# Any string value: config values are names, ids, CIDRs and URLs; nothing legitimate is this long.
MAX_STRING_CHARS = 2048


def check_limits(values: dict[str, Any], p: Problems) -> None:
    """Report and drop every value over its bound."""
    for key, (limit, why) in MAX_VALUE.items():
        value = values.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > limit:
            p.add(key, f"must be at most {limit}, got {value} ({why})")
            values.pop(key)
    for key, (limit, why) in MAX_ITEMS.items():
        value = values.get(key)
        if isinstance(value, list) and len(value) > limit:
            p.add(key, f"lists {len(value)} items; at most {limit} ({why})")
            values.pop(key)
    for key, value in list(values.items()):
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) and len(item) > MAX_STRING_CHARS for item in items):
            p.add(key, f"holds a value longer than {MAX_STRING_CHARS} characters; no setting needs one that long")
            values.pop(key)
