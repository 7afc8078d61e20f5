"""The model catalog: architecture figures that drive GPU-memory sizing.

Figures are from each model's published config.json (see docs/models.md for sources). Ids are the served
model names Project Beacon's hybrid router already uses.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


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
}
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
            problems.append(f"missing field '{config_name}'")
            continue
        limit = largest.get(config_name, 65_536)
        if field.type == "float":
            # ASCII decimals only: float() also takes 'nan', 'inf', '1e999' and non-ASCII digits.
            decimal = raw.isascii() and raw.replace(".", "", 1).isdigit() and len(raw) <= 14
            if not decimal or not 0 < float(raw) <= limit:
                problems.append(
                    f"{config_name} must be a number above 0 and at most {limit}, such as 3.82, got '{raw}'"
                )
                continue
            values[field.name] = float(raw)
        elif field.type == "int":
            # ASCII digits only: str.isdigit() also takes '²' and '١٢', which int() then refuses or misreads.
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not 0 < int(raw) <= limit:
                problems.append(f"{config_name} must be a whole number from 1 to {limit}, got '{raw}'")
                continue
            values[field.name] = int(raw)
        elif field.name == "hf_repo" and not _is_hf_repo(raw):
            problems.append(f"hfRepo must be a Hugging Face repository such as org/model, got '{raw}'")
        else:
            values[field.name] = raw

    if problems:
        return None, problems
    spec = ModelSpec(**values)  # type: ignore[arg-type]
    if spec.attention_heads % spec.kv_heads != 0:
        problems.append(f"kvHeads ({spec.kv_heads}) must divide attentionHeads ({spec.attention_heads})")
    return (None, problems) if problems else (spec, [])


def _is_hf_repo(text: str) -> bool:
    """org/name, ASCII letters, digits, '.', '_' and '-' (Hugging Face's repository ids)."""
    org, sep, name = text.partition("/")
    return bool(sep and org and name and text.isascii() and all(c.isalnum() or c in "._-" for c in org + name))
