"""Models and GPUs: the catalog (built in and custom), the models a region serves, the GPU pool's type and
isolation, replica counts, and whether every model fits the GPUs it is given."""

from __future__ import annotations

import functools
import re
from typing import Any

from fleet import capacity, catalog, gpus, kinds, naming
from fleet.settings.problems import Problems, check_min_max, did_you_mean
from fleet.settings_types import GPU_ISOLATION_LABELS, GpuChoice, ServedModel
from fleet.weights_manifest import ManifestError, manifest_path, manifest_text, parse

PLATFORMS = kinds.PLATFORMS
# The order the router may try a region's endpoints in: a step per platform, the partner, then the counterpart.
FAILOVER_STEPS = kinds.FAILOVER_STEPS
MIN_GPU_SYSTEM_DISK_GIB = 120
MAX_ESSD_GIB = 2048
# The chart's model.servedName (charts/inference-server/values.schema.json); the id is also the name clients send.
SERVED_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
# The chart's model.maxModelLen and model.maxNumSeqs bounds (values.schema.json), which vLLM's
# --max-model-len and --max-num-seqs accept; a value outside them renders a release Helm refuses.
MIN_CONTEXT_TOKENS, MAX_CONTEXT_TOKENS = 256, 1_048_576
MAX_CONCURRENT_SEQUENCES = 1024
_NOT_EAS_NAME = re.compile(r"[^a-z0-9_]+")


def parse_catalog(values: dict[str, Any], p: Problems) -> dict[str, catalog.ModelSpec]:
    entries = dict(catalog.BUILTIN_MODELS)
    for index, text in enumerate(values.get("customModels") or []):
        spec, problems = catalog.parse_custom_model(text)
        for problem in problems:
            p.add(f"customModels[{index}]", f"{problem}; write id=...;hfRepo=...;paramsB=...;... (see README)")
        if spec is None:
            continue
        pin_problems = catalog.pin_problems(spec)
        for problem in pin_problems:
            p.add(f"customModels[{index}]", problem)
        if pin_problems:
            continue
        if spec.id in entries:
            p.add(f"customModels[{index}]", f"id '{spec.id}' is already in the catalog; choose another id")
            continue
        if not SERVED_NAME.match(spec.id):
            p.add(
                f"customModels[{index}]",
                f"id '{spec.id}' must be 1-63 of lowercase letters, digits, '.', '_' and '-', starting with a letter"
                " or digit (the name clients send, and the chart's servedName); choose another id",
            )
            continue
        clash = next((other for other in entries if _normalised(other) & _normalised(spec.id)), None)
        if clash is not None:
            p.add(
                f"customModels[{index}]",
                f"id '{spec.id}' names the same cloud resources as '{clash}' once normalised (Kubernetes and EAS"
                " names replace '.' and '_'); choose an id that differs in a letter or digit",
            )
            continue
        entries[spec.id] = spec
    return entries


def _normalised(model_id: str) -> set[str]:
    """The forms a model id takes in cloud names: a Helm release (DNS label) and a PAI-EAS service name part."""
    eas = re.sub(r"_{2,}", "_", _NOT_EAS_NAME.sub("_", model_id.lower())).strip("_")
    return {f"k8s:{naming.dns_label(model_id)[:53].rstrip('-')}", f"eas:{eas}"}


def parse_served_models(
    values: dict[str, Any], model_catalog: dict[str, catalog.ModelSpec], p: Problems
) -> list[ServedModel]:
    models: list[ServedModel] = []
    seen: set[str] = set()
    refs = values.get("models")
    if refs is None:
        return models
    if not refs:
        p.add("models", "serves no model; list at least one catalog id")
    for index, ref in enumerate(refs):
        model_id, _, dtype = ref.partition(":")
        dtype = dtype or catalog.DEFAULT_DTYPE
        spec = model_catalog.get(model_id)
        if spec is None:
            p.add(
                f"models[{index}]",
                f"unknown model '{model_id}'; {did_you_mean(model_id, model_catalog)}"
                f"known: {', '.join(sorted(model_catalog))}"
                " (declare others in customModels)",
            )
            continue
        if dtype not in catalog.DTYPE_BYTES:
            p.add(
                f"models[{index}]",
                f"unknown dtype '{dtype}' for {model_id}; use one of {', '.join(catalog.DTYPE_BYTES)}",
            )
            continue
        problem = quantization_problem(spec, dtype if ref.partition(":")[2] else "")
        if problem is not None:
            p.add(f"models[{index}]", problem)
            continue
        dtype = spec.quantization or dtype
        if model_id in seen:
            p.add(f"models[{index}]", f"{model_id} is listed twice; keep one entry")
            continue
        seen.add(model_id)
        models.append(ServedModel(spec=spec, dtype=dtype))
    return models


def quantization_problem(spec: catalog.ModelSpec, asked: str) -> str | None:
    """Why `<id>:<asked>` cannot be served: a quantized checkpoint is a checkpoint of its own (its repo, revision,
    manifest and digest), so a quantization flag over another checkpoint's files is refused."""
    if spec.quantization:
        if asked and asked != spec.quantization:
            return (
                f"{spec.id} is a checkpoint quantized with {spec.quantization}; serve it as {spec.id} (or {spec.id}:"
                f"{spec.quantization}), not as {asked}"
            )
        return None
    if asked in catalog.CHECKPOINT_QUANTIZATIONS:
        return (
            f"{spec.id}:{asked} would serve {spec.id}'s full-precision files ({spec.hf_repo}) with a quantization flag"
            f" ({asked}) under their digest, but {asked} weights are a checkpoint of their own and none is pinned for"
            f" {spec.id}. Declare the {asked} checkpoint in customModels (its own id, hfRepo, revision and"
            f" quantization={asked}) with its weights manifest, or serve {spec.id}, or {spec.id}:fp8 (quantized"
            " by vLLM as it loads the pinned files)"
        )
    return None


def parse_platforms(values: dict[str, Any], p: Problems) -> tuple[str, ...]:
    platforms = values.get("servingPlatforms") or []
    for index, platform in enumerate(platforms):
        if platform not in PLATFORMS:
            p.add(f"servingPlatforms[{index}]", f"unknown platform '{platform}'; use {', '.join(PLATFORMS)}")
    if len(set(platforms)) != len(platforms):
        p.add("servingPlatforms", f"platforms repeat: {platforms}")
    return tuple(dict.fromkeys(pl for pl in platforms if pl in PLATFORMS))


def parse_gpu_choice(values: dict[str, Any], p: Problems) -> GpuChoice | None:
    types = values.get("gpuInstanceTypes")
    if types is None:
        return None
    if not types:
        p.add("gpuInstanceTypes", "list at least one ECS GPU instance type, e.g. ecs.gn7i-c8g1.2xlarge (A10 24 GB)")
        return None
    families = []
    for index, instance_type in enumerate(types):
        family = gpus.gpu_family_of(instance_type)
        if family is None:
            p.add(f"gpuInstanceTypes[{index}]", f"'{instance_type}' is {gpus.unknown_type_hint(instance_type)}")
        elif instance_type in types[:index]:
            p.add(f"gpuInstanceTypes[{index}]", f"{instance_type} is listed twice; keep one entry")
        else:
            families.append(family)
    if len({f.gpu for f in families}) > 1:
        p.add(
            "gpuInstanceTypes",
            f"mixes GPU models ({', '.join(sorted({f.gpu for f in families}))});"
            " cGPU slices are sized for one GPU model",
        )
    isolation = values.get("gpuIsolation")
    if isinstance(isolation, str) and isolation not in GPU_ISOLATION_LABELS:
        p.add("gpuIsolation", f"'{isolation}' must be one of {', '.join(GPU_ISOLATION_LABELS)}")
    disk = values.get("gpuSystemDiskGiB")
    if isinstance(disk, int) and not MIN_GPU_SYSTEM_DISK_GIB <= disk <= MAX_ESSD_GIB:
        p.add(
            "gpuSystemDiskGiB",
            f"{disk} GiB; CUDA serving images need at least {MIN_GPU_SYSTEM_DISK_GIB} GiB"
            f" (ESSD maximum {MAX_ESSD_GIB})",
        )
    if not families or len(families) != len(set(types)) or isolation not in GPU_ISOLATION_LABELS:
        return None
    return GpuChoice(
        instance_types=tuple(types),
        family=families[0],
        isolation=isolation,
        spot=bool(values.get("gpuSpot")),
        system_disk_gib=disk if isinstance(disk, int) else MIN_GPU_SYSTEM_DISK_GIB,
    )


def check_scaling(values: dict[str, Any], p: Problems) -> None:
    check_min_max(
        "minReplicasPerModel",
        values.get("minReplicasPerModel"),
        "maxReplicasPerModel",
        values.get("maxReplicasPerModel"),
        p,
        fix="; raise the maximum or lower the minimum",
    )


def check_context(values: dict[str, Any], models: list[ServedModel], p: Problems) -> None:
    """maxContextTokens and maxConcurrentSequences are positive, and no model is asked for more context than it has."""
    context, sequences = values.get("maxContextTokens"), values.get("maxConcurrentSequences")
    if isinstance(context, int) and not MIN_CONTEXT_TOKENS <= context <= MAX_CONTEXT_TOKENS:
        p.add(
            "maxContextTokens",
            f"must be between {MIN_CONTEXT_TOKENS} and {MAX_CONTEXT_TOKENS} tokens (the chart's maxModelLen and"
            f" vLLM's --max-model-len), got {context}",
        )
        values.pop("maxContextTokens")  # nothing is sized for it
    if isinstance(sequences, int) and not 1 <= sequences <= MAX_CONCURRENT_SEQUENCES:
        p.add(
            "maxConcurrentSequences",
            f"must be between 1 and {MAX_CONCURRENT_SEQUENCES} (the chart's maxNumSeqs and vLLM's --max-num-seqs),"
            f" got {sequences}",
        )
        values.pop("maxConcurrentSequences")
    context = values.get("maxContextTokens")
    if isinstance(context, int):
        for index, model in enumerate(models):
            if context > model.spec.max_context:
                p.add(
                    "maxContextTokens",
                    f"{context} exceeds {model.id}'s maximum context of {model.spec.max_context}"
                    f" (models[{index}]); lower maxContextTokens",
                )


def check_weights_sources(models: list[ServedModel], residency: Any, p: Problems) -> None:
    """A mainland region copies weights from ModelScope (Hugging Face may be unreachable there): each model it
    serves needs msRepo and msRevision."""
    if residency is None or not residency.mainland:
        return
    for index, model in enumerate(models):
        if not model.spec.ms_repo:
            p.add(
                f"models[{index}]",
                f"{model.id} has no ModelScope source; a mainland region fetches weights from ModelScope:"
                " add msRepo=...;msRevision=... to its customModels entry",
            )


# The same committed text parses to the same (frozen) Manifest: settings are parsed for every stack and, in a
# sweep of bad values, thousands of times, and checking the manifests was half of each parse.
_parsed = functools.lru_cache(maxsize=64)(parse)


def check_weights_manifests(models: list[ServedModel], p: Problems) -> None:
    """Every served model has a committed weights manifest that reads cleanly and pins what the catalog says:
    the files to sync, the hashes to check them by, and the repositories and revisions they come from."""
    for index, model in enumerate(models):
        path = manifest_path(model.id)
        if not path.is_file():
            p.add(
                f"models[{index}]",
                f"{model.id} has no weights manifest ({path.name} in weights/manifests); write one"
                f" with `python -m weights.manifest {model.id} --hf-repo {model.spec.hf_repo}"
                f" --revision {model.spec.revision or '<commit>'} --file <each weight file>` and commit it",
            )
            continue
        try:
            manifest = _parsed(manifest_text(model.id))
        except (ManifestError, OSError, UnicodeDecodeError) as error:
            p.add(f"models[{index}]", f"{model.id}'s weights manifest weights/manifests/{path.name}: {error}")
            continue
        spec = model.spec
        pinned = (manifest.model, manifest.hf_repo, manifest.revision, manifest.ms_repo, manifest.ms_revision)
        wanted = (spec.id, spec.hf_repo, spec.revision, spec.ms_repo, spec.ms_revision)
        if pinned != wanted:
            p.add(
                f"models[{index}]",
                f"weights/manifests/{path.name} pins {'/'.join(map(str, pinned))}, but the catalog says"
                f" {'/'.join(map(str, wanted))} (id/hfRepo/revision/msRepo/msRevision); regenerate the manifest"
                f" with `python -m weights.manifest {model.id}` or fix the catalog entry",
            )


def check_models_fit(
    models: list[ServedModel],
    family: gpus.GpuFamily,
    gpu_key: str,
    context: int,
    sequences: int,
    p: Problems,
    shared: bool = False,
) -> None:
    """Every model fits one GPU: under cGPU (`shared`) the units the device plugin advertises, else the whole GPU."""
    room = family.schedulable_gib if shared else family.memory_gib
    if room is None:
        p.add(
            gpu_key,
            f"no source gives the memory a {family.gpu} reports to cGPU's device plugin, so beacon-fleet cannot pack"
            f" slices onto it; choose a family with a known figure (e.g. gn7i, A10: 22 GiB schedulable)",
        )
        return
    for index, model in enumerate(models):
        estimate = capacity.estimate_memory(model.spec, model.dtype, context, sequences)
        if estimate.slice_gib <= room:
            continue
        fixes = [f"a larger GPU in {gpu_key} (e.g. {_larger_family(estimate.slice_gib, shared)})"]
        if catalog.DTYPE_BYTES[model.dtype] > catalog.DTYPE_BYTES["fp8"] and not model.spec.quantization:
            fixes.insert(0, f"quantization: {model.id}:fp8 (or a quantized checkpoint declared in customModels)")
        fixes.append("a smaller maxContextTokens or maxConcurrentSequences")
        p.add(
            f"models[{index}]",
            f"{model.id} ({model.dtype}) needs {estimate.slice_gib} GiB of GPU memory ({estimate.explain()}),"
            f" but a {family.gpu} {'advertises' if shared else 'has'} {room} GiB"
            f"{' to cGPU' if shared else ''} ({gpu_key}); try {', or '.join(fixes)}",
        )


def _larger_family(needed_gib: int, shared: bool) -> str:
    def room(family: gpus.GpuFamily) -> int:
        return (family.schedulable_gib or 0) if shared else family.memory_gib

    best = min((f for f in gpus.GPU_FAMILIES.values() if room(f) >= needed_gib), key=room, default=None)
    return f"{best.family}, {best.gpu} {room(best)} GiB" if best else "none is large enough"
