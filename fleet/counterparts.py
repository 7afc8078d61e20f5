"""Serverless counterparts outside Alibaba Cloud (RunPod, Modal): what each offers, where, and its URLs.

Facts are from RunPod's serverless docs (GPU pools, data centers) and Modal's docs (GPU types, regions,
the 150 s web request limit); docs/counterparts.md cites them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleet import kinds
from fleet.eas import vllm_dtype
from fleet.settings_types import RegionSettings, ServedModel

PROVIDERS = ("none", *(k.platform for k in kinds.COUNTERPARTS))
# The secret config keys holding what the router sends each provider (declared in fleet/config_schema.SECRET_KEYS).
ROUTER_SECRET_KEYS = {k.platform: k.secret_keys for k in kinds.COUNTERPARTS}

# RunPod serverless GPU pools and the memory of each GPU in them (GB).
RUNPOD_POOLS: dict[str, int] = {
    "AMPERE_16": 16,
    "AMPERE_24": 24,
    "ADA_24": 24,
    "ADA_32_PRO": 32,
    "AMPERE_48": 48,
    "ADA_48_PRO": 48,
    "AMPERE_80": 80,
    "ADA_80_PRO": 80,
    "BLACKWELL_96": 96,
    "HOPPER_141": 141,
    "BLACKWELL_180": 180,
}

# RunPod data centers and the jurisdiction (ISO 3166 alpha-2) each sits in. None is in mainland China.
RUNPOD_DATA_CENTERS: dict[str, str] = {
    **{dc: "ro" for dc in ("EU-RO-1",)},
    **{dc: "se" for dc in ("EU-SE-1",)},
    **{dc: "cz" for dc in ("EU-CZ-1",)},
    **{dc: "nl" for dc in ("EU-NL-1",)},
    **{dc: "fr" for dc in ("EU-FR-1",)},
    **{dc: "is" for dc in ("EUR-IS-1", "EUR-IS-2", "EUR-IS-3")},
    **{dc: "no" for dc in ("EUR-NO-1",)},
    **{
        dc: "us"
        for dc in (
            "US-TX-1",
            "US-TX-3",
            "US-TX-4",
            "US-GA-1",
            "US-GA-2",
            "US-KS-2",
            "US-KS-3",
            "US-CA-2",
            "US-IL-1",
            "US-WA-1",
            "US-NC-1",
            "US-DE-1",
            "US-MD-1",
        )
    },
    **{dc: "ca" for dc in ("CA-MTL-1", "CA-MTL-2", "CA-MTL-3")},
    "OC-AU-1": "au",
    "AP-JP-1": "jp",
    "AP-IN-1": "in",
}

# Modal GPU types and their memory (GB).
MODAL_GPUS: dict[str, int] = {
    "T4": 16,
    "L4": 24,
    "A10": 24,
    "L40S": 48,
    "A100-40GB": 40,
    "A100-80GB": 80,
    "H100": 80,
    "H200": 141,
    "B200": 180,
}

# Modal regions and their jurisdiction.
MODAL_REGIONS: dict[str, str] = {
    "us": "us",
    "us-east": "us",
    "us-central": "us",
    "us-west": "us",
    "eu": "eu",
    "eu-west": "eu",
    "eu-north": "eu",
    "uk": "gb",
    "ap": "ap",
    "jp": "jp",
    "ap-northeast": "jp",
    "ap-southeast": "sg",
    "au": "au",
    "ca": "ca",
}

# Per counterpart kind (fleet/kinds.py): its locations with their jurisdictions, and its GPUs with their memory.
LOCATIONS: dict[str, Mapping[str, str]] = {"runpod": RUNPOD_DATA_CENTERS, "modal": MODAL_REGIONS}
GPUS: dict[str, Mapping[str, int]] = {"runpod": RUNPOD_POOLS, "modal": MODAL_GPUS}

# RunPod scales on queue delay: a worker is added when a request has waited this many seconds (the default), and
# idle_timeout, the window the cost view bills after each job, "only [is] meaningful with QUEUE_DELAY"
# (counterparts-and-router.md 1.8). Beacon sends a model one request at a time, so no request count to scale on.
RUNPOD_SCALER_TYPE, RUNPOD_QUEUE_DELAY_SECONDS = "QUEUE_DELAY", 4
# Requests one Modal container takes at once (@modal.concurrent(max_inputs=)), vLLM's batch in the app.
MODAL_MAX_INPUTS = 8
MODAL_WEB_LIMIT_SECONDS = 150  # Modal cuts every web request at 150 s
RUNPOD_EXECUTION_LIMIT_SECONDS = 600  # RunPod's default job execution timeout


@dataclass(frozen=True)
class CounterpartUrls:
    base_url: str  # OpenAI-compatible base (append /chat/completions)
    health_url: str


def runpod_urls(endpoint_id: str) -> CounterpartUrls:
    # /health is a control-plane call: it reports queue and workers without waking a worker.
    return CounterpartUrls(
        base_url=f"https://api.runpod.ai/v2/{endpoint_id}/openai/v1",
        health_url=f"https://api.runpod.ai/v2/{endpoint_id}/health",
    )


def modal_urls(web_url: str) -> CounterpartUrls:
    # vLLM's own /health: reaching it wakes a scaled-to-zero container, which the router must know.
    root = web_url.rstrip("/")
    return CounterpartUrls(base_url=f"{root}/v1", health_url=f"{root}/health")


def jurisdictions_of(provider: str, locations: tuple[str, ...]) -> tuple[str, ...]:
    table = LOCATIONS[provider]
    return tuple(sorted({table[loc] for loc in locations if loc in table}))


def gpu_memory_gb(provider: str, gpu: str) -> int | None:
    return GPUS[provider].get(gpu)


def runpod_env(settings: RegionSettings, model: ServedModel) -> dict[str, str]:
    """worker-vllm's environment for one model: the same weights, context, batch and dtype as the region serves."""
    dtype, quantization = vllm_dtype(model.dtype)
    env = {
        # The pinned commit, for weights and tokenizer (worker-vllm passes them as --revision and
        # --tokenizer-revision; its default is "main", which moves).
        "MODEL_REVISION": model.spec.revision,
        "TOKENIZER_REVISION": model.spec.revision,
        "MAX_MODEL_LEN": str(settings.max_context_tokens),
        "MAX_NUM_SEQS": str(settings.max_concurrent_sequences),
        "DTYPE": dtype,
    }
    if quantization:
        env["QUANTIZATION"] = quantization
    return env


def modal_settings(settings: RegionSettings, model: ServedModel) -> dict[str, str]:
    """modal_apps/vllm_server.py's settings for one model, passed to `modal deploy` as its environment."""
    spec = settings.counterpart
    assert spec is not None
    dtype, quantization = vllm_dtype(model.dtype)
    return {
        "COUNTERPART_MODEL": model.id,
        "COUNTERPART_HF_REPO": model.spec.hf_repo,
        "COUNTERPART_REVISION": model.spec.revision,  # the pinned commit the region's bucket holds
        "COUNTERPART_GPU": ",".join(spec.gpus),
        "COUNTERPART_REGION": ",".join(spec.locations),
        "COUNTERPART_MIN_CONTAINERS": str(spec.min_workers),
        "COUNTERPART_MAX_CONTAINERS": str(spec.max_workers),
        "COUNTERPART_SCALEDOWN_SECONDS": str(spec.idle_timeout_seconds),
        "COUNTERPART_HF_SECRET": spec.modal_hf_secret,
        "COUNTERPART_MAX_MODEL_LEN": str(settings.max_context_tokens),
        "COUNTERPART_MAX_NUM_SEQS": str(settings.max_concurrent_sequences),
        "COUNTERPART_MAX_INPUTS": str(MODAL_MAX_INPUTS),
        "COUNTERPART_DTYPE": dtype,
        "COUNTERPART_QUANTIZATION": quantization,
    }


def router_view(settings: RegionSettings, auth: Mapping[str, str], urls: Any) -> dict[str, Any]:
    """The counterpart as the region exports it for the router: where it runs, how it scales, its residency."""
    spec = settings.counterpart
    assert spec is not None
    return {
        "provider": spec.provider,
        "locations": list(spec.locations),
        "gpus": list(spec.gpus),
        "jurisdictions": list(spec.jurisdictions),
        "crossBorder": spec.cross_border,
        "scaling": {
            "minWorkers": spec.min_workers,
            "maxWorkers": spec.max_workers,
            "idleTimeoutSeconds": spec.idle_timeout_seconds,
        },
        "requestTimeoutSeconds": spec.request_timeout_seconds,
        # RunPod's /health is a control-plane call; Modal's reaches vLLM and wakes a scaled-to-zero app.
        "healthWakesBackend": kinds.BY_PLATFORM[spec.provider].health_mode == "scale-to-zero" and spec.min_workers == 0,
        "auth": dict(auth),
        "models": urls,
    }
