"""The region's counterpart outside Alibaba Cloud (RunPod or Modal): where, on which GPUs, which models, how it
scales, and whether it lies outside the region's jurisdiction."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fleet import capacity, counterparts, kinds
from fleet.settings.problems import Problems, check_known, check_min_max
from fleet.settings_types import CounterpartSettings, Residency, ServedModel

MIN_IDLE_SECONDS, MAX_IDLE_SECONDS = 2, 3600
_RUNPOD_IMAGE = re.compile(r"^runpod/worker-v1-vllm:v[0-9]+\.[0-9]+\.[0-9]+$")
_SECRET_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def parse_counterpart(
    values: dict[str, Any],
    raw: Mapping[str, str],
    project: str,
    models: list[ServedModel],
    residency_settings: Residency | None,
    p: Problems,
) -> CounterpartSettings | None:
    provider = values.get("counterpartProvider")
    if provider not in counterparts.PROVIDERS:
        p.add("counterpartProvider", f"'{provider}' must be one of {', '.join(counterparts.PROVIDERS)}")
        return None
    if provider == "none":
        return None
    runpod = provider == "runpod"
    locations = tuple(values.get("counterpartLocations") or ())
    gpu_list = tuple(values.get("counterpartGpus") or ())
    known_locations = counterparts.LOCATIONS[provider]
    check_known(
        "counterpartLocations", locations, known_locations, "RunPod data center" if runpod else "Modal region", p
    )
    known_gpus = counterparts.GPUS[provider]
    check_known("counterpartGpus", gpu_list, known_gpus, "RunPod GPU pool" if runpod else "Modal GPU type", p)

    served = {m.id: m for m in models}
    mirrored = tuple(values.get("counterpartModels") or ()) or tuple(served)
    for index, model_id in enumerate(values.get("counterpartModels") or ()):
        if model_id not in served:
            p.add(
                f"counterpartModels[{index}]",
                f"'{model_id}' is not served by this region (models: {', '.join(served) or 'none'});"
                " a counterpart mirrors the region's own models",
            )
    smallest = min((known_gpus[g] for g in gpu_list if g in known_gpus), default=None)
    context, sequences = values.get("maxContextTokens"), values.get("maxConcurrentSequences")
    if smallest is not None and isinstance(context, int) and isinstance(sequences, int):
        for model_id in mirrored:
            if model_id not in served:
                continue
            model = served[model_id]
            need = capacity.estimate_memory(model.spec, model.dtype, context, sequences).slice_gib
            if need > smallest:
                p.add(
                    "counterpartGpus",
                    f"{model_id} ({model.dtype}) needs {need} GiB but the smallest listed GPU has {smallest} GB;"
                    " list larger GPUs only, or quantize the model",
                )

    low, high = values.get("counterpartMinWorkers"), values.get("counterpartMaxWorkers")
    check_min_max("counterpartMinWorkers", low, "counterpartMaxWorkers", high, p)
    idle = values.get("counterpartIdleTimeoutSeconds")
    if isinstance(idle, int) and not MIN_IDLE_SECONDS <= idle <= MAX_IDLE_SECONDS:
        p.add(
            "counterpartIdleTimeoutSeconds",
            f"must be between {MIN_IDLE_SECONDS} and {MAX_IDLE_SECONDS} seconds, got {idle}",
        )
    timeout = values.get("counterpartRequestTimeoutSeconds")
    kind = kinds.BY_PLATFORM[provider]
    limit = kind.timeout_limit
    if isinstance(timeout, int) and not 1 <= timeout <= limit:
        why = "RunPod's execution limit is 600 s" if runpod else "Modal cuts web requests at 150 s"
        p.add("counterpartRequestTimeoutSeconds", f"{timeout} s is out of range; {why}, so use 1 to {limit}")

    image = values.get("runpodWorkerImage", "")
    if runpod and not _RUNPOD_IMAGE.match(image):
        p.add("runpodWorkerImage", f"'{image}' must be runpod/worker-v1-vllm pinned to a release tag like v2.25.2")
    for key in ("runpodHfTokenSecret", "modalHfSecret", "modalEnvironment"):
        if not _SECRET_NAME.match(str(values.get(key, ""))):
            p.add(key, f"'{values.get(key)}' must be a name of letters, digits, '-' and '_'")
    for key in counterparts.ROUTER_SECRET_KEYS[provider]:
        if f"{project}:{key}" not in raw:
            p.add(
                key, f"the router needs it to call the {provider} counterpart; run `pulumi config set --secret {key}`"
            )

    if residency_settings is None or not isinstance(timeout, int) or not isinstance(low, int):
        return None
    where = counterparts.jurisdictions_of(provider, locations)
    return CounterpartSettings(
        provider=provider,
        locations=locations,
        gpus=gpu_list,
        model_ids=mirrored,
        min_workers=low,
        max_workers=high,
        idle_timeout_seconds=idle,
        request_timeout_seconds=timeout,
        jurisdictions=where,
        cross_border=any(j != residency_settings.jurisdiction for j in where),
        runpod_worker_image=image,
        runpod_hf_token_secret=values.get("runpodHfTokenSecret", ""),
        modal_environment=values.get("modalEnvironment", ""),
        modal_hf_secret=values.get("modalHfSecret", ""),
    )
