"""Where a manifest's figures come from: the hub's API where it is reachable, else recorded reference figures.

Hugging Face publishes each LFS file's sha256 (the `lfs.oid` of its paths-info API, what huggingface_hub's
`get_paths_info(..., expand=True)` reads); small non-LFS files (config, tokenizer) carry only a git blob id, so
they are downloaded at the pinned revision and hashed here. The plain HTTP API is used rather than the
huggingface_hub package so that `pulumi up` and the tests need no hub client.

These machines reach no hub, so the committed manifests were written with `--offline` from REFERENCE_FIGURES:
figures a third party published, each with its source and trust note (shared reference notes,
weights-fc-eas.md). A wrong third-party hash cannot serve wrong weights: the sync fails, naming both hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from fleet import catalog
from fleet.weights_manifest import MANIFEST_DIR, FileEntry, Manifest, ManifestError, build, load
from weights.hub import HubReadError, hub_request, read_bounded

HF_ENDPOINT = "https://huggingface.co"
TIMEOUT_SECONDS = 60
# The paths-info answer for a model's handful of files is a few KiB; the files hashed here are the small non-LFS
# ones (tokenizer and config files, weights-fc-eas.md): 32 MiB is far above any of them.
MAX_API_ANSWER_BYTES = 1 << 20
MAX_SMALL_FILE_BYTES = 32 << 20

_LLAMA_SOURCE = (
    "third-party research script (A-lan-Z/Token-Reconstruction-Research,"
    " scripts/trr0004_prepare_public_activations.py); not yet checked against the hub's API."
    " One source states ModelScope's copy has the same sha256."
)
_QWEN_SOURCE = (
    "third-party scripts (oyy2000/SAE_long_short); not yet checked against the hub's API."
    " Another source pins commit fb163acb387a011a0cd205b259aa1b253299a05d with the same sha256."
)
_MISTRAL_SOURCE = (
    "size from third-party fetch scripts; they quote only the first 8 hex digits of the sha256,"
    " so the full hash is unknown until the hub's API or a first sync gives it"
)

# model id -> path -> what a stored source says about it. Everything not listed is unknown.
REFERENCE_FIGURES: dict[str, dict[str, FileEntry]] = {
    "llama3.2-1b": {
        "model.safetensors": FileEntry(
            "model.safetensors",
            2_471_645_608,
            "1ff795ff6a07e6a68085d206fb84417da2f083f68391c2843cd2b8ac6df8538f",
            source=_LLAMA_SOURCE,
        ),
    },
    "qwen2.5-1.5b": {
        "model.safetensors": FileEntry(
            "model.safetensors",
            3_087_467_144,
            "dd924a11b4c220f385b51ffa522daea7c9f3d850e31b162bb5661df483c6d3ee",
            source=_QWEN_SOURCE,
        ),
    },
    "mistral-7b": {
        path: FileEntry(path, size, None, sha256_prefix=prefix, source=_MISTRAL_SOURCE)
        for path, size, prefix in (
            ("model-00001-of-00003.safetensors", 4_949_453_792, "ce6fb6f6"),
            ("model-00002-of-00003.safetensors", 4_999_819_336, "8c0e72f1"),
            ("model-00003-of-00003.safetensors", 4_546_807_800, "905dd405"),
        )
    },
}
OFFLINE_NOTE = (
    "Written offline (`python -m weights.manifest {model} --offline`): no hub was reachable. Figures come from"
    " stored third-party sources (see each file's source); unknown hashes are computed and recorded by the first"
    " sync (trust on first use). Run `python -m weights.manifest {model}` where huggingface.co is reachable to"
    " replace them with the hub's own figures."
)
HUB_NOTE = "Written from the Hugging Face API at the pinned revision (`python -m weights.manifest {model}`)."
UNKNOWN_SMALL_FILE = "not a Git LFS file: the hub publishes no sha256 for it; not yet hashed"


class HubError(RuntimeError):
    """The hub could not be asked, or answered something unusable."""


def manifest_for(model_id: str, offline: bool, hf_endpoint: str = HF_ENDPOINT, directory: Path = MANIFEST_DIR):
    spec = catalog.BUILTIN_MODELS.get(model_id)
    if spec is None:
        raise ManifestError(f"unknown model '{model_id}'; built in: {', '.join(sorted(catalog.BUILTIN_MODELS))}")
    paths = catalog.BUILTIN_WEIGHT_FILES[model_id]
    try:
        previous: Manifest | None = load(model_id, directory)
    except ManifestError:
        previous = None
    if offline:
        figures = {p: REFERENCE_FIGURES.get(model_id, {}).get(p) for p in paths}
        figures = {
            p: f or FileEntry(p, None, None, source=UNKNOWN_SMALL_FILE if not p.endswith(".safetensors") else "")
            for p, f in figures.items()
        }
        note = OFFLINE_NOTE.format(model=model_id)
    else:
        figures = hf_figures(spec.hf_repo, spec.revision, paths, hf_endpoint)
        note = HUB_NOTE.format(model=model_id)
    return build(
        model_id, spec.hf_repo, spec.revision, paths, figures, spec.ms_repo, spec.ms_revision, previous, (note,)
    )


def _request(url: str, data: bytes | None = None) -> urllib.request.Request:
    # Llama 3.2 is gated: the API answers 401/403 without an accepted licence's token.
    return hub_request(url, os.environ.get("HF_TOKEN"), "beacon-fleet-weights", data)


def hf_figures(repo: str, revision: str, paths: tuple[str, ...], endpoint: str = HF_ENDPOINT) -> dict[str, FileEntry]:
    """Size and sha256 of each path at the revision: LFS files from the API, small files by hashing them."""
    api = f"{endpoint.rstrip('/')}/api/models/{repo}/paths-info/{revision}"
    body = urllib.parse.urlencode([("expand", "true"), *(("paths", p) for p in paths)]).encode()
    offline = "; use --offline to write the recorded figures only"
    answer = _read(_request(api, body), MAX_API_ANSWER_BYTES, f"cannot read {api}", offline)
    try:
        infos = json.loads(answer)
    except ValueError as error:
        raise HubError(f"cannot read {api}: its answer is not JSON{offline}") from error
    if not isinstance(infos, list) or not all(isinstance(info, dict) for info in infos):
        raise HubError(f"cannot read {api}: its answer is not a list of paths{offline}")
    by_path = {info.get("path"): info for info in infos if info.get("type") == "file"}
    missing = [p for p in paths if p not in by_path]
    if missing:
        raise HubError(f"{repo}@{revision} has no {', '.join(missing)}; fix fleet/catalog.BUILTIN_WEIGHT_FILES")
    figures = {}
    for path in paths:
        info = by_path[path]
        lfs = info.get("lfs")
        if lfs and lfs.get("oid"):
            source = f"Hugging Face API: LFS sha256 of {repo}@{revision}"
            figures[path] = FileEntry(path, int(lfs.get("size", info.get("size"))), lfs["oid"], source=source)
            continue
        url = f"{endpoint.rstrip('/')}/{repo}/resolve/{revision}/{urllib.parse.quote(path)}"
        data = _read(_request(url), MAX_SMALL_FILE_BYTES, f"cannot download {url}", "")
        source = f"hashed here from {repo}@{revision} (non-LFS file; the hub publishes no sha256)"
        figures[path] = FileEntry(path, len(data), hashlib.sha256(data).hexdigest(), source=source)
    return figures


def _read(request: urllib.request.Request, limit: int, what: str, hint: str) -> bytes:
    try:
        return read_bounded(request, limit, TIMEOUT_SECONDS)
    except HubReadError as error:
        raise HubError(f"{what}: {error}{hint}") from error
