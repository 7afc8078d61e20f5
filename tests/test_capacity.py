"""The capacity planner, as table-style cases: slices per model, packing, and models that fit no GPU."""

from __future__ import annotations

import pytest

from fleet import capacity
from fleet.capacity import region_packing
from fleet.catalog import BUILTIN_MODELS
from fleet.config_schema import load_project_schema
from fleet.settings import ConfigError, parse_settings
from tests.conftest import settled_ok
from tests.test_settings import raw_for

DEFAULTS = [("llama3.2-1b", "fp16"), ("qwen2.5-1.5b", "fp16"), ("mistral-7b", "fp16")]


def slices_for(models, context=4096, sequences=8, replicas=1):
    estimates = [capacity.estimate_memory(BUILTIN_MODELS[m], d, context, sequences) for m, d in models]
    return capacity.replica_slices(estimates, replicas)


@pytest.mark.parametrize(
    ("model", "dtype", "weights", "kv", "total", "slice_gib"),
    [
        ("llama3.2-1b", "fp16", 2.3, 1.0, 4.3, 5),
        ("qwen2.5-1.5b", "fp16", 2.9, 0.9, 4.7, 5),
        ("mistral-7b", "fp16", 13.5, 4.0, 18.5, 19),
        ("mistral-7b", "awq", 3.4, 4.0, 8.4, 9),
    ],
)
def test_memory_estimate_is_weights_plus_kv_cache_plus_runtime(model, dtype, weights, kv, total, slice_gib):
    estimate = capacity.estimate_memory(BUILTIN_MODELS[model], dtype, context_tokens=4096, sequences=8)
    assert round(estimate.weights_gib, 1) == weights
    assert round(estimate.kv_cache_gib, 1) == kv
    assert round(estimate.total_gib, 1) == total
    assert estimate.slice_gib == slice_gib


@pytest.mark.parametrize(
    ("gpu", "capacity_gib", "gpus_needed", "gpus_saved"),
    [("A10", 24, 2, 1), ("L20", 48, 1, 2)],
)
def test_default_three_models_share_gpus_instead_of_one_each(gpu, capacity_gib, gpus_needed, gpus_saved):
    packing = capacity.pack(slices_for(DEFAULTS), gpu, capacity_gib)
    assert packing.gpus_needed == gpus_needed and packing.gpus_saved == gpus_saved
    assert all(g.used_gib <= capacity_gib for g in packing.gpus)
    assert sorted(s.gib for g in packing.gpus for s in g.slices) == [5, 5, 19]


def test_first_fit_decreasing_places_the_largest_slice_first():
    packing = capacity.pack(slices_for(DEFAULTS), "A10", 24)
    first, second = packing.gpus
    assert [s.model for s in first.slices] == ["mistral-7b", "llama3.2-1b"] and first.free_gib == 0
    assert [s.model for s in second.slices] == ["qwen2.5-1.5b"] and second.free_gib == 19


def test_no_gpu_carries_more_than_twenty_cgpu_pods():
    tiny = [capacity.Slice("tiny", r, 1) for r in range(25)]
    packing = capacity.pack(tiny, "L20", 48)
    assert [len(g.slices) for g in packing.gpus] == [20, 5]


def test_a_slice_larger_than_the_gpu_does_not_pack():
    with pytest.raises(capacity.SliceTooLargeError, match="mistral-7b needs 19 GiB"):
        capacity.pack(slices_for([("mistral-7b", "fp16")]), "T4", 16)


def test_mistral_in_fp16_on_a_t4_is_a_config_error_suggesting_the_fix():
    with pytest.raises(ConfigError) as caught:
        parse_settings(load_project_schema(), "cn-beijing", raw_for(gpuInstanceTypes=["ecs.gn6i-c4g1.xlarge"]))
    (problem,) = caught.value.problems
    assert problem.startswith("beacon-fleet:models[2]: mistral-7b (fp16) needs 19 GiB of GPU memory")
    # Under cGPU the room is what the device plugin advertises (floor of NVML MiB / 1024), not the marketed 16 GB.
    assert "but a T4 advertises 14 GiB to cGPU" in problem
    assert "quantization: mistral-7b:fp8" in problem and "gn7i, A10 22 GiB" in problem


def test_mistral_quantized_to_fp8_as_it_loads_fits_a_t4_and_packs_onto_one():
    raw = raw_for(gpuInstanceTypes=["ecs.gn6i-c4g1.xlarge"], models=["llama3.2-1b", "qwen2.5-1.5b", "mistral-7b:fp8"])
    settings = parse_settings(load_project_schema(), "cn-beijing", raw)
    packing = region_packing(settings)
    assert packing.gpus_needed == 2 and sorted(s.gib for g in packing.gpus for s in g.slices) == [5, 5, 12]


def test_the_plan_exports_the_packing_of_each_stack(synth):
    packing = settled_ok(synth("cn-beijing")).outputs["gpuPacking"]
    # An A10 advertises 22 schedulable GiB (23,028 MiB), so Mistral's 19 leave no room for a 5 GiB slice.
    assert packing["gpu"] == "A10 22 GiB"
    assert (packing["gpusNeeded"], packing["wholeGpuPerReplica"], packing["gpusSaved"]) == (2, 3, 1)
    assert packing["gpus"][0] == {"index": 1, "slices": ["mistral-7b#1:19GiB"], "usedGiB": 19, "freeGiB": 3}
