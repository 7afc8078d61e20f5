"""The model catalog's figures and the cloud names derived for each stack."""

from __future__ import annotations

import re

import pytest

from fleet import catalog, gpus, naming


@pytest.mark.parametrize(
    ("model_id", "hf_repo", "params_b", "layers", "kv_heads", "head_dim", "max_context"),
    [
        ("llama3.2-1b", "meta-llama/Llama-3.2-1B-Instruct", 1.24, 16, 8, 64, 131072),
        ("qwen2.5-1.5b", "Qwen/Qwen2.5-1.5B-Instruct", 1.54, 28, 2, 128, 32768),
        ("mistral-7b", "mistralai/Mistral-7B-Instruct-v0.3", 7.25, 32, 8, 128, 32768),
    ],
)
def test_builtin_catalog_carries_the_published_architecture(
    model_id, hf_repo, params_b, layers, kv_heads, head_dim, max_context
):
    spec = catalog.BUILTIN_MODELS[model_id]
    assert (spec.hf_repo, spec.params_b, spec.layers, spec.kv_heads, spec.head_dim, spec.max_context) == (
        hf_repo,
        params_b,
        layers,
        kv_heads,
        head_dim,
        max_context,
    )
    assert spec.attention_heads % spec.kv_heads == 0


def test_int4_quantizations_take_a_quarter_of_fp16():
    assert catalog.DTYPE_BYTES["awq"] == catalog.DTYPE_BYTES["gptq"] == catalog.DTYPE_BYTES["fp16"] / 4


def test_custom_model_with_inconsistent_heads_is_rejected():
    spec, problems = catalog.parse_custom_model(
        "id=x;hfRepo=a/b;paramsB=1;layers=2;hiddenSize=8;attentionHeads=6;kvHeads=4;headDim=2;maxContext=8;vocab=9;"
        f"revision={'a' * 40}"
    )
    assert spec is None
    assert problems == ["kvHeads (4) must divide attentionHeads (6)"]


@pytest.mark.parametrize("model_id", sorted(catalog.BUILTIN_MODELS))
def test_every_builtin_model_is_pinned_to_a_commit_with_a_modelscope_source(model_id):
    spec = catalog.BUILTIN_MODELS[model_id]
    assert catalog.pin_problems(spec) == []
    assert spec.ms_repo and spec.ms_revision
    files = catalog.BUILTIN_WEIGHT_FILES[model_id]
    assert any(f.endswith(".safetensors") for f in files) and "config.json" in files
    assert "tokenizer_config.json" in files  # the chat template changes answers too


def test_custom_model_fields_for_the_pin_are_parsed():
    spec, problems = catalog.parse_custom_model(
        "id=x;hfRepo=a/b;paramsB=1;layers=2;hiddenSize=8;attentionHeads=4;kvHeads=2;headDim=2;maxContext=8;vocab=9;"
        f"revision={'c' * 40};msRepo=ms/b;msRevision=v1.0"
    )
    assert problems == []
    assert (spec.revision, spec.ms_repo, spec.ms_revision) == ("c" * 40, "ms/b", "v1.0")


def test_custom_model_without_a_revision_is_missing_a_field():
    _, problems = catalog.parse_custom_model(
        "id=x;hfRepo=a/b;paramsB=1;layers=2;hiddenSize=8;attentionHeads=4;kvHeads=2;headDim=2;maxContext=8;vocab=9"
    )
    assert problems == ["missing field 'revision'"]


@pytest.mark.parametrize(
    ("instance_type", "gpu", "memory"),
    [
        ("ecs.gn7i-c8g1.2xlarge", "A10", 24),
        ("ecs.gn6i-c4g1.xlarge", "T4", 16),
        ("ecs.gn8is.2xlarge", "L20", 48),
        ("ecs.gn8is-2x.8xlarge", "L20", 48),
    ],
)
def test_gpu_family_is_read_from_the_instance_type(instance_type, gpu, memory):
    family = gpus.gpu_family_of(instance_type)
    assert family is not None and (family.gpu, family.memory_gib) == (gpu, memory)


@pytest.mark.parametrize("instance_type", ["ecs.g7.large", "gn7i-c8g1.2xlarge", "ecs.gn99-c8g1.2xlarge"])
def test_non_gpu_or_unknown_instance_types_have_no_family(instance_type):
    assert gpus.gpu_family_of(instance_type) is None


OSS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def test_bucket_names_follow_oss_rules_even_for_long_stack_names():
    long_stack = "Research_Shanghai.Experimental-Fleet-With-A-Very-Long-Name"
    name = naming.bucket_name("beacon", long_stack, "cn-shanghai", "1234567890123456")
    assert OSS_BUCKET.match(name), name
    assert len(name) <= 63
    assert name.endswith("-models-" + naming.short_hash("1234567890123456", "cn-shanghai", long_stack))


def test_bucket_names_are_deterministic_and_differ_by_stack_region_and_account():
    base = naming.bucket_name("beacon", "cn-beijing", "cn-beijing", "1")
    assert base == naming.bucket_name("beacon", "cn-beijing", "cn-beijing", "1")
    others = {
        naming.bucket_name("beacon", "cn-beijing-2", "cn-beijing", "1"),
        naming.bucket_name("beacon", "cn-beijing", "cn-shanghai", "1"),
        naming.bucket_name("beacon", "cn-beijing", "cn-beijing", "2"),
    }
    assert base not in others and len(others) == 3
