"""The model catalog: architecture figures that drive GPU-memory sizing.

Figures are from each model's published config.json (see docs/models.md for sources). Ids are the served
model names Project Beacon's hybrid router already uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from fleet import hub_names, numbers


@dataclass(frozen=True)
class ModelSpec:
    id: str
    hf_repo: str
    params_b: float  # parameters, in billions
    layers: int
    hidden_size: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    max_context: int
    vocab: int
    # The weights' pin: the Hugging Face commit every endpoint serves, and where mainland regions fetch the
    # same files (ModelScope). Empty ms_repo: the model cannot be synced into a mainland region.
    revision: str = ""
    ms_repo: str = ""
    ms_revision: str = ""
    # The checkpoint's own quantization (one of CHECKPOINT_QUANTIZATIONS) when these weights were published
    # quantized; empty for full-precision weights. Only such an entry may be served as <id>:awq (and so on).
    quantization: str = ""


# Bytes per weight for each dtype or quantization a model can be served with. AWQ/GPTQ are int4 (≈0.5 byte
# per parameter; their scales and zero points are covered by the planner's runtime overhead).
DTYPE_BYTES: dict[str, float] = {
    "fp16": 2.0,
    "bf16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "awq": 0.5,
    "gptq": 0.5,
}
DEFAULT_DTYPE = "fp16"
# Quantizations that exist only as checkpoints of their own: AWQ and GPTQ weights are produced offline and
# published as other files (vLLM reads their quantization_config), and vLLM has no flag that turns fp16 weights
# into int8 ones. Serving one means pinning that checkpoint (repo, revision, manifest, digest): `mistral-7b:awq`
# over the fp16 files would hand vLLM weights it refuses, under the fp16 digest.
CHECKPOINT_QUANTIZATIONS = ("awq", "gptq", "int8")
# Quantizations vLLM applies to the pinned full-precision weights as it loads them: "Dynamic quantization of an
# original precision BF16/FP16 model to FP8 ... specifying --quantization=\"fp8\"" (docs.vllm.ai, quantization/fp8,
# "Online Dynamic Quantization"). Same files, other numerics: the router sees them as other weights.
ONLINE_QUANTIZATIONS = ("fp8",)

# ModelScope's downloads take a branch or tag, not a commit (modelscope v1.30-1.37 snapshot_download: "currently
# only branch and tag name is supported"). A branch moves; what pins the bytes served in the mainland is the
# weights manifest (weights/manifests/), whose sha256 every synced file must match. The sync resolves the branch
# to its commit when it runs and records it (weights/sync.py); no commit id is written here, none being known.
MS_DEFAULT_BRANCH = "master"

BUILTIN_MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="llama3.2-1b",
            hf_repo="meta-llama/Llama-3.2-1B-Instruct",
            params_b=1.24,
            layers=16,
            hidden_size=2048,
            attention_heads=32,
            kv_heads=8,
            head_dim=64,
            max_context=131072,
            vocab=128256,
            revision="9213176726f574b556790deb65791e0c5aa438b6",
            ms_repo="LLM-Research/Llama-3.2-1B-Instruct",
            ms_revision=MS_DEFAULT_BRANCH,
        ),
        ModelSpec(
            id="qwen2.5-1.5b",
            hf_repo="Qwen/Qwen2.5-1.5B-Instruct",
            params_b=1.54,
            layers=28,
            hidden_size=1536,
            attention_heads=12,
            kv_heads=2,
            head_dim=128,
            max_context=32768,
            vocab=151936,
            revision="989aa7980e4cf806f80c7fef2b1adb7bc71aa306",
            ms_repo="Qwen/Qwen2.5-1.5B-Instruct",
            ms_revision=MS_DEFAULT_BRANCH,
        ),
        ModelSpec(
            id="mistral-7b",
            hf_repo="mistralai/Mistral-7B-Instruct-v0.3",
            params_b=7.25,
            layers=32,
            hidden_size=4096,
            attention_heads=32,
            kv_heads=8,
            head_dim=128,
            max_context=32768,
            vocab=32768,
            revision="c170c708c41dac9275d15a8fff4eca08d52bab71",
            ms_repo="LLM-Research/Mistral-7B-Instruct-v0.3",
            ms_revision=MS_DEFAULT_BRANCH,
        ),
    )
}

# The stack-config spelling of each ModelSpec field, for customModels entries ("paramsB=3.82;...").
CONFIG_FIELD_NAMES: dict[str, str] = {
    "id": "id",
    "hf_repo": "hfRepo",
    "params_b": "paramsB",
    "layers": "layers",
    "hidden_size": "hiddenSize",
    "attention_heads": "attentionHeads",
    "kv_heads": "kvHeads",
    "head_dim": "headDim",
    "max_context": "maxContext",
    "vocab": "vocab",
    "revision": "revision",
    "ms_repo": "msRepo",
    "ms_revision": "msRevision",
    "quantization": "quantization",
}
# Fields a customModels entry may leave out: only mainland regions need a ModelScope source, and only quantized
# checkpoints say how they were quantized.
OPTIONAL_CONFIG_FIELDS = frozenset({"ms_repo", "ms_revision", "quantization"})
assert set(CONFIG_FIELD_NAMES) == {f.name for f in fields(ModelSpec)}


def parse_custom_model(text: str) -> tuple[ModelSpec | None, list[str]]:
    """Parse one customModels entry; return the spec, or None and every problem found in it."""
    problems: list[str] = []
    pairs: dict[str, str] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            problems.append(f"'{part}' is not key=value")
            continue
        if key.strip() in pairs:
            problems.append(f"field '{key.strip()}' is given twice")
        pairs[key.strip()] = value.strip()

    by_config_name = {v: k for k, v in CONFIG_FIELD_NAMES.items()}
    for key in sorted(set(pairs) - set(by_config_name)):
        problems.append(f"unknown field '{key}' (fields: {', '.join(CONFIG_FIELD_NAMES.values())})")

    # Upper bounds well above any published model, so a slip of the keyboard cannot size a GPU for it:
    # the largest open models have ~2T parameters, 10M-token contexts, a few hundred layers.
    largest = {"paramsB": 5000, "maxContext": 16_777_216, "vocab": 4_194_304}
    values: dict[str, object] = {}
    for field in fields(ModelSpec):
        config_name = CONFIG_FIELD_NAMES[field.name]
        raw = pairs.get(config_name)
        if raw is None or raw == "":
            if field.name not in OPTIONAL_CONFIG_FIELDS:
                problems.append(f"missing field '{config_name}'")
            continue
        limit = largest.get(config_name, 65_536)
        if field.type == "float":
            # ASCII decimals only (fleet/numbers): float() also takes 'nan', 'inf', '1e999' and non-ASCII digits.
            decimal = numbers.parse_decimal(raw, 0, limit, low_inclusive=False)
            if decimal is None:
                problems.append(
                    f"{config_name} must be a number above 0 and at most {limit}, such as 3.82, got '{raw}'"
                )
                continue
            values[field.name] = decimal
        elif field.type == "int":
            # ASCII digits only (fleet/numbers): str.isdigit() also takes '²' and '١٢'.
            whole = numbers.parse_whole(raw, 1, limit) if isinstance(raw, str) else None
            if whole is None:
                problems.append(f"{config_name} must be a whole number from 1 to {limit}, got '{raw}'")
                continue
            values[field.name] = whole
        elif field.name == "hf_repo" and not _is_hf_repo(raw):
            problems.append(f"hfRepo must be a Hugging Face repository such as org/model, got '{raw}'")
        elif field.name == "quantization" and raw not in CHECKPOINT_QUANTIZATIONS:
            problems.append(
                f"quantization must be one of {', '.join(CHECKPOINT_QUANTIZATIONS)} (how the checkpoint was"
                f" published), got '{raw[:40]}'"
            )
        else:
            values[field.name] = raw

    if problems:
        return None, problems
    spec = ModelSpec(**values)  # type: ignore[arg-type]
    if spec.attention_heads % spec.kv_heads != 0:
        problems.append(f"kvHeads ({spec.kv_heads}) must divide attentionHeads ({spec.attention_heads})")
    return (None, problems) if problems else (spec, [])


# The files vLLM loads for each built-in model: safetensors shards, their index, config and tokenizer files (the
# chat template lives in tokenizer_config.json, so it changes answers too). Left out: READMEs, licences, the
# original/ checkpoints and Mistral's consolidated.safetensors (14.5 GB vLLM does not read from HF-format repos).
# Custom models take their file list from their manifest (`python -m weights.manifest`).
BUILTIN_WEIGHT_FILES: dict[str, tuple[str, ...]] = {
    "llama3.2-1b": (
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ),
    "qwen2.5-1.5b": (
        "config.json",
        "generation_config.json",
        "merges.txt",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
    ),
    "mistral-7b": (
        "config.json",
        "generation_config.json",
        "model-00001-of-00003.safetensors",
        "model-00002-of-00003.safetensors",
        "model-00003-of-00003.safetensors",
        "model.safetensors.index.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer.model",
        "tokenizer_config.json",
    ),
}
assert set(BUILTIN_WEIGHT_FILES) == set(BUILTIN_MODELS)

_COMMIT = re.compile(r"[0-9a-f]{40}")


def pin_problems(spec: ModelSpec) -> list[str]:
    """What keeps a spec's weights from being pinned: a Hugging Face revision that is not a commit id, half a
    ModelScope source, or a name that would change a hub URL or a staging path (hub_names says which)."""
    problems = []
    if not _COMMIT.fullmatch(spec.revision):
        problems.append(
            f"revision must be the 40-character commit id of {spec.hf_repo} (not a branch or tag),"
            f" got '{spec.revision[:80]}'"
        )
    if bool(spec.ms_repo) != bool(spec.ms_revision):
        problems.append("msRepo and msRevision go together: give both (the ModelScope repo and its branch or tag)")
    if spec.ms_repo and (problem := hub_names.repo_problem(spec.ms_repo, "msRepo")) is not None:
        problems.append(problem)
    if spec.ms_revision and (problem := hub_names.ref_problem(spec.ms_revision, "msRevision")) is not None:
        problems.append(problem)
    return problems


def _is_hf_repo(text: str) -> bool:
    """org/name, ASCII letters, digits, '.', '_' and '-' (Hugging Face's repository ids)."""
    return hub_names.repo_problem(text) is None
