"""Where a region fetches a model's pinned weights from: ModelScope in the mainland, Hugging Face elsewhere.

Docker Hub, GitHub and Hugging Face may be unreachable from mainland China, and a mainland bucket is often
reachable only from inside its VPC, so a mainland region copies from ModelScope; the manifest's sha256s make
sure both hubs' files are the same bytes (byte-identity across hubs is checked, never assumed).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from fleet import serving
from fleet.catalog import ONLINE_QUANTIZATIONS, ModelSpec

HUGGING_FACE = "huggingface"
MODELSCOPE = "modelscope"


@dataclass(frozen=True)
class WeightsSource:
    hub: str
    repo: str
    revision: str

    def describe(self) -> str:
        return f"{self.hub}:{self.repo}@{self.revision}"


def source_for(spec: ModelSpec, mainland: bool) -> WeightsSource:
    """The hub a region copies `spec`'s weights from. Settings refuse a mainland model without msRepo first."""
    if mainland:
        if not spec.ms_repo:
            raise ValueError(f"{spec.id} has no ModelScope source (msRepo); a mainland region cannot fetch it")
        return WeightsSource(MODELSCOPE, spec.ms_repo, spec.ms_revision)
    return WeightsSource(HUGGING_FACE, spec.hf_repo, spec.revision)


def weights_uri(bucket: str, model_id: str) -> str:
    return f"oss://{bucket}/{serving.model_prefix(model_id)}"


def served_digest(manifest_digest: str, dtype: str) -> str:
    """The digest the router compares: the manifest's, or, when vLLM quantizes those files as it loads them, the
    sha256 over the manifest's digest and the quantization, so another quantization is other weights to the
    router's same-weights check. Keeps the manifest's `provisional-` prefix and the router schema's form."""
    if dtype not in ONLINE_QUANTIZATIONS:
        return manifest_digest
    prefix = "provisional-" if manifest_digest.startswith("provisional-") else ""
    text = json.dumps({"manifest": manifest_digest, "quantization": dtype}, sort_keys=True, separators=(",", ":"))
    return f"{prefix}sha256:{hashlib.sha256(text.encode()).hexdigest()}"
