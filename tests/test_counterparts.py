"""Each region's counterpart outside Alibaba Cloud: declared under mocks, pinned, residency-marked, secrets kept."""

from __future__ import annotations

import json
import re

import pytest

from fleet import counterparts
from fleet.catalog import BUILTIN_MODELS
from fleet.config_schema import PROJECT_ROOT
from offline.engine import Secret, is_secret, masked
from tests.conftest import served_models, settled_ok

TEMPLATE = "runpod:index:Template"
ENDPOINT = "runpod:index:Endpoint"
MODAL_APP = "pulumi-python:dynamic/modal:App"


SHIPPED = [("cn-beijing", "runpod"), ("ap-southeast", "runpod"), ("us-east", "modal")]


@pytest.mark.parametrize(("stack", "provider"), SHIPPED)
def test_each_shipped_region_declares_its_counterpart_for_every_model(synth, stack, provider):
    result = settled_ok(synth(stack))
    counterpart = result.outputs["counterpart"]
    assert counterpart["provider"] == provider
    assert set(counterpart["models"]) == served_models(stack)
    declared = result.of_type(ENDPOINT) if provider == "runpod" else result.of_type(MODAL_APP)
    assert len(declared) == len(served_models(stack))
    assert isinstance(result.outputs["counterpartSecrets"], Secret)


@pytest.mark.parametrize("stack", ["cn-beijing", "ap-southeast"])
def test_runpod_templates_pin_the_worker_and_reference_the_hf_token_by_name(synth, stack):
    result = settled_ok(synth(stack))
    for template in result.of_type(TEMPLATE):
        inputs = template.inputs
        assert inputs["imageName"] == "runpod/worker-v1-vllm:v2.25.2"
        assert inputs["dockerArgs"] == " " and inputs["readme"] and inputs["isServerless"] is True
        env = {e["key"]: e["value"] for e in inputs["env"]}
        assert env["HF_TOKEN"] == "{{ RUNPOD_SECRET_hf_token }}"
        assert env["OPENAI_SERVED_MODEL_NAME_OVERRIDE"] in served_models(stack) and env["MAX_MODEL_LEN"] == "4096"
    for endpoint in result.of_type(ENDPOINT):
        assert endpoint.inputs["workersMin"] == 0 and endpoint.inputs["workersMax"] == 1  # sized to Beacon
        assert endpoint.inputs["gpuIds"] == "ADA_24,AMPERE_24"
        # The template id comes from template.template.id (RunPod's), never the resource's Pulumi id.
        assert endpoint.inputs["templateId"].startswith("tpl-sim-counterpart-")


@pytest.mark.parametrize("stack", ["cn-beijing", "ap-southeast"])
def test_runpod_workers_load_the_pinned_revision_of_weights_and_tokenizer(synth, stack):
    for template in settled_ok(synth(stack)).of_type(TEMPLATE):
        env = {e["key"]: e["value"] for e in template.inputs["env"]}
        spec = BUILTIN_MODELS[env["OPENAI_SERVED_MODEL_NAME_OVERRIDE"]]
        assert env["MODEL_NAME"] == spec.hf_repo
        assert env["MODEL_REVISION"] == env["TOKENIZER_REVISION"] == spec.revision


def test_modal_apps_are_told_the_pinned_revision(synth):
    for app in settled_ok(synth("us-east")).of_type(MODAL_APP):
        settings = app.inputs["settings"]
        assert settings["COUNTERPART_REVISION"] == BUILTIN_MODELS[settings["COUNTERPART_MODEL"]].revision


def test_runpod_urls_use_runpods_endpoint_id(synth):
    models = settled_ok(synth("ap-southeast")).outputs["counterpart"]["models"]
    assert models["mistral-7b"] == {
        "baseUrl": "https://api.runpod.ai/v2/ep-sim-counterpart-mistral-7b-endpoint/openai/v1",
        "healthUrl": "https://api.runpod.ai/v2/ep-sim-counterpart-mistral-7b-endpoint/health",
    }


def test_the_beijing_counterpart_is_cross_border_and_singapore_and_us_record_theirs(synth):
    beijing = settled_ok(synth("cn-beijing")).outputs["counterpart"]
    assert beijing["jurisdictions"] == ["jp"] and beijing["crossBorder"] is True
    us = settled_ok(synth("us-east")).outputs["counterpart"]
    assert us["jurisdictions"] == ["us"] and us["crossBorder"] is False


def test_the_modal_app_is_deployed_from_this_repository_with_a_source_hash_and_proxy_auth(synth):
    result = settled_ok(synth("us-east"))
    app = next(a for a in result.of_type(MODAL_APP) if a.name == "counterpart-mistral-7b")
    assert app.inputs["app_file"] == "modal_apps/vllm_server.py" and len(app.inputs["source_hash"]) == 64
    assert app.inputs["settings"]["COUNTERPART_GPU"] == "L4"
    assert app.inputs["settings"]["COUNTERPART_REGION"] == "us-east"
    assert "__provider" not in app.inputs
    assert result.outputs["counterpart"]["auth"]["type"] == "modal_proxy"
    assert result.outputs["counterpart"]["requestTimeoutSeconds"] < 150
    assert "requires_proxy_auth=True" in (PROJECT_ROOT / app.inputs["app_file"]).read_text(encoding="utf-8")


def test_no_counterpart_secret_is_in_a_plain_input_or_output(synth):
    result = settled_ok(synth("us-east"))
    secrets = result.outputs["counterpartSecrets"]
    assert is_secret(secrets) and set(secrets.value) == {"US_EAST_MODAL_KEY", "US_EAST_MODAL_SECRET"}
    plain = json.dumps([masked(r.inputs) for r in result.resources]) + json.dumps(masked(result.outputs))
    for value in secrets.value.values():
        assert value not in plain


@pytest.mark.parametrize(
    ("stack", "overrides", "expected"),
    [
        (
            "cn-beijing",
            {"counterpartGpus": ["ADA_42"]},
            "beacon-fleet:counterpartGpus[0]: unknown RunPod GPU pool 'ADA_42'; did you mean ADA_24?",
        ),
        (
            "cn-beijing",
            {"counterpartLocations": ["AP-JP-2"]},
            "beacon-fleet:counterpartLocations[0]: unknown RunPod data center 'AP-JP-2'; did you mean AP-JP-1?",
        ),
        (
            "us-east",
            {"counterpartRequestTimeoutSeconds": 180},
            "beacon-fleet:counterpartRequestTimeoutSeconds: 180 s is out of range; Modal cuts web requests at 150 s",
        ),
        (
            "us-east",
            {"counterpartModels": ["gemma-2b"]},
            "beacon-fleet:counterpartModels[0]: 'gemma-2b' is not served by this region",
        ),
        (
            "us-east",
            {"counterpartGpus": ["T4"]},
            "beacon-fleet:counterpartGpus: mistral-7b (fp16) needs 19 GiB but the smallest listed GPU has 16 GB",
        ),
        (
            "ap-southeast",
            {"runpodWorkerImage": "runpod/worker-v1-vllm:latest"},
            "beacon-fleet:runpodWorkerImage: 'runpod/worker-v1-vllm:latest' must be runpod/worker-v1-vllm pinned",
        ),
    ],
)
def test_bad_counterpart_input_is_a_clean_error_before_anything_is_declared(synth, stack, overrides, expected):
    result = synth(stack, overrides=overrides)
    assert not result.ok and result.resources == []
    assert expected in result.error and "Traceback" not in result.error


def test_the_modal_app_serves_the_revision_it_was_deployed_with_from_a_cache_keyed_by_it(monkeypatch):
    import runpy

    revision = BUILTIN_MODELS["qwen2.5-1.5b"].revision
    monkeypatch.setenv("COUNTERPART_MODEL", "qwen2.5-1.5b")
    monkeypatch.setenv("COUNTERPART_REVISION", revision)
    module = runpy.run_path(str(PROJECT_ROOT / "modal_apps" / "vllm_server.py"))
    env = module["SERVE_ENV"]
    assert env["REVISION"] == revision
    assert env["HF_HUB_CACHE"].endswith(f"/qwen2.5-1.5b/{revision}")
    # Whitespace folded, so the check reads the command line whatever the formatter made of it.
    source = " ".join((PROJECT_ROOT / "modal_apps" / "vllm_server.py").read_text(encoding="utf-8").split())
    assert '"--revision", os.environ["REVISION"]' in source
    assert '"--tokenizer-revision", os.environ["REVISION"]' in source


def test_every_setting_the_stack_passes_the_modal_app_is_one_the_app_reads(synth):
    # A key the app never reads would be a setting that silently does nothing (e.g. the container's max inputs).
    source = (PROJECT_ROOT / "modal_apps" / "vllm_server.py").read_text(encoding="utf-8")
    read = set(re.findall(r'os\.environ\.get\("(COUNTERPART_[A-Z_]+)"', source))
    for app in settled_ok(synth("us-east")).of_type(MODAL_APP):
        assert set(app.inputs["settings"]) <= read, sorted(set(app.inputs["settings"]) - read)
        assert app.inputs["settings"]["COUNTERPART_MAX_INPUTS"] == str(counterparts.MODAL_MAX_INPUTS)
