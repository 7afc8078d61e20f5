"""ModelWeights under the offline engine (`make plan`'s path): what it declares and exports, and that the
dynamic provider's create never runs there, so a plan downloads no weights."""

from __future__ import annotations

import textwrap

import pytest

from components.model_weights import ModelWeightsArgs, args_problems
from fleet import catalog, weights
from fleet.weights_manifest import load, manifest_text
from offline.engine import synthesize
from providers import weights_sync

SYNC_TYPE = "pulumi-python:dynamic/weights:Sync"

PROGRAM = textwrap.dedent(
    """
    import pulumi
    from components.model_bucket import ModelBucket, ModelBucketArgs
    from components.model_weights import ModelWeights, ModelWeightsArgs
    from fleet import catalog, serving, weights
    from fleet.weights_manifest import manifest_text

    bucket = ModelBucket("models", ModelBucketArgs(bucket_name="beacon-cn-beijing-weights"))
    spec = catalog.BUILTIN_MODELS["{model}"]
    source = weights.source_for(spec, mainland={mainland})
    model_weights = ModelWeights(
        "weights-{model}",
        ModelWeightsArgs(
            bucket_name=bucket.bucket_name,
            region="{region}",
            endpoint=serving.oss_internal_endpoint("{region}"),
            model_id=spec.id,
            source_hub=source.hub,
            source_repo=source.repo,
            source_revision=source.revision,
            manifest_json=manifest_text(spec.id),
        ),
        opts=pulumi.ResourceOptions(depends_on=[bucket]),
    )
    pulumi.export("digest", model_weights.digest)
    pulumi.export("provisional", model_weights.provisional)
    pulumi.export("revision", model_weights.revision)
    pulumi.export("source", model_weights.source)
    pulumi.export("uri", model_weights.uri)
    """
)


def plan(tmp_path, monkeypatch, model="llama3.2-1b", region="cn-beijing", mainland=True):
    calls = []

    def refuse(self, *args, **kwargs):
        calls.append(args)
        raise AssertionError("the weights sync ran during an offline plan")

    for method in ("create", "update", "diff"):
        monkeypatch.setattr(weights_sync.WeightsSyncProvider, method, refuse)
    program = tmp_path / "program"
    program.mkdir()
    (program / "__main__.py").write_text(PROGRAM.format(model=model, region=region, mainland=mainland))
    result = synthesize(region, {"alicloud:region": region}, program_dir=str(program))
    assert result.ok, result.error
    assert calls == []
    return result


def test_the_offline_plan_declares_the_sync_without_running_it(tmp_path, monkeypatch):
    result = plan(tmp_path, monkeypatch)
    sync = result.one(SYNC_TYPE)
    assert sync.inputs["bucket"] == "beacon-cn-beijing-weights"
    assert sync.inputs["prefix"] == "models/llama3.2-1b/"
    assert sync.inputs["endpoint"] == "oss-cn-beijing-internal.aliyuncs.com"
    assert sync.inputs["source"] == {
        "hub": "modelscope",
        "repo": "LLM-Research/Llama-3.2-1B-Instruct",
        "revision": "master",
    }
    component = result.one("beacon-fleet:storage:ModelWeights")
    assert sync.parent_urn == component.urn


def test_the_plan_shows_the_manifest_digest_and_that_it_is_provisional(tmp_path, monkeypatch):
    result = plan(tmp_path, monkeypatch)
    manifest = load("llama3.2-1b")
    assert result.outputs["digest"] == manifest.digest
    assert result.outputs["digest"].startswith("provisional-sha256:")
    assert result.outputs["provisional"] is True
    assert result.outputs["revision"] == catalog.BUILTIN_MODELS["llama3.2-1b"].revision
    assert result.outputs["source"] == "modelscope:LLM-Research/Llama-3.2-1B-Instruct@master"
    assert result.outputs["uri"] == "oss://beacon-cn-beijing-weights/models/llama3.2-1b/"


def test_outside_the_mainland_the_weights_come_from_hugging_face_at_the_pinned_commit(tmp_path, monkeypatch):
    result = plan(tmp_path, monkeypatch, model="qwen2.5-1.5b", region="ap-southeast-1", mainland=False)
    spec = catalog.BUILTIN_MODELS["qwen2.5-1.5b"]
    assert result.one(SYNC_TYPE).inputs["source"] == {
        "hub": "huggingface",
        "repo": spec.hf_repo,
        "revision": spec.revision,
    }


def test_no_credential_is_an_input_of_the_sync(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "deployer-secret-value")
    monkeypatch.setenv("HF_TOKEN", "hf_deployer_token")
    text = repr(plan(tmp_path, monkeypatch).one(SYNC_TYPE).inputs)
    assert "deployer-secret-value" not in text and "hf_deployer_token" not in text


def args(**overrides) -> ModelWeightsArgs:
    spec = catalog.BUILTIN_MODELS["mistral-7b"]
    source = weights.source_for(spec, mainland=False)
    values = {
        "bucket_name": "b",
        "region": "us-east-1",
        "endpoint": "oss-us-east-1.aliyuncs.com",
        "model_id": spec.id,
        "source_hub": source.hub,
        "source_repo": source.repo,
        "source_revision": source.revision,
        "manifest_json": manifest_text(spec.id),
    }
    return ModelWeightsArgs(**{**values, **overrides})


def test_args_that_match_the_manifest_have_no_problem():
    manifest, problems = args_problems(args())
    assert problems == [] and manifest is not None and manifest.model == "mistral-7b"


def test_every_problem_with_the_args_is_reported_together():
    _, problems = args_problems(args(source_hub="s3", endpoint="", model_id="llama3.2-1b"))
    assert problems == [
        "source_hub: 's3' must be one of huggingface, modelscope",
        "endpoint: give the OSS endpoint the deploying machine reaches",
        "manifest_json: describes mistral-7b, not llama3.2-1b",
    ]


def test_a_source_revision_other_than_the_pinned_one_is_refused():
    _, problems = args_problems(args(source_revision="main"))
    assert problems == [
        "source: huggingface:mistralai/Mistral-7B-Instruct-v0.3@main is not what the manifest pins"
        " (huggingface:mistralai/Mistral-7B-Instruct-v0.3@c170c708c41dac9275d15a8fff4eca08d52bab71);"
        " regenerate the manifest or fix the catalog"
    ]


def test_a_mainland_source_needs_a_modelscope_repo():
    spec = catalog.ModelSpec("x", "a/b", 1, 1, 1, 1, 1, 1, 1, 1, revision="e" * 40)
    with pytest.raises(ValueError, match="x has no ModelScope source"):
        weights.source_for(spec, mainland=True)


def test_the_sync_is_redone_when_the_manifest_or_source_changes_and_replaced_for_another_bucket():
    provider = weights_sync.WeightsSyncProvider()
    olds = {
        "bucket": "b",
        "prefix": "models/m/",
        "endpoint": "e",
        "region": "r",
        "source": {"hub": "huggingface"},
        "manifest_digest": "sha256:1",
    }
    assert provider.diff("id", olds, dict(olds)).changes is False
    resync = provider.diff("id", olds, {**olds, "manifest_digest": "sha256:2"})
    assert resync.changes is True and resync.replaces == []
    moved = provider.diff("id", olds, {**olds, "bucket": "c"})
    assert moved.replaces == ["bucket"] and moved.delete_before_replace is False
