"""Pure pieces of the serving plane: EAS names and documents, image tags and references, the entrypoint."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from components.serving_image import BUILD_CONTEXT, CONTEXT_FILES, content_tag, vpc_reference
from fleet import eas
from fleet.config_schema import PROJECT_ROOT

ENTRYPOINT = PROJECT_ROOT / BUILD_CONTEXT / "serve.py"


def load_entrypoint():
    spec = importlib.util.spec_from_file_location("serve", ENTRYPOINT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("prefix", "stack", "model", "expected"),
    [
        ("beacon", "cn-beijing", "llama3.2-1b", "beacon_cn_beijing_llama3_2_1b"),
        ("Beacon", "us-east", "Qwen2.5-1.5B", "beacon_us_east_qwen2_5_1_5b"),
        ("beacon", "x" * 80, "mistral-7b", "beacon_" + "x" * 56),
    ],
)
def test_eas_service_names_are_lowercase_underscored_and_at_most_63(prefix, stack, model, expected):
    assert eas.service_name(prefix, stack, model) == expected


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [("fp16", ("float16", "")), ("bf16", ("bfloat16", "")), ("awq", ("auto", "awq")), ("gptq", ("auto", "gptq"))],
)
def test_catalog_dtypes_map_to_vllm_flags(dtype, expected):
    assert eas.vllm_dtype(dtype) == expected


def test_the_eas_document_for_a_quantized_model_passes_quantization_and_hides_nothing_it_should_not():
    plan = eas.EasServicePlan(
        service_name="beacon_us_east_mistral_7b",
        model_id="mistral-7b",
        dtype="awq",
        instance_type="ecs.gn6i-c4g1.xlarge",
        min_replicas=0,
        max_replicas=3,
        qps_target=5,
        max_model_len=4096,
        max_num_seqs=8,
        bucket="bucket-x",
        oss_endpoint="oss-us-east-1-internal.aliyuncs.com",
        public_endpoint=True,
    )
    placement = eas.EasPlacement("reg-vpc/ns/repo@sha256:abc", "vpc-1", "vsw-1", "sg-1")
    document = eas.service_config(plan, placement)
    env = {e["name"]: e["value"] for e in document["containers"][0]["env"]}
    assert env["QUANTIZATION"] == "awq" and env["DTYPE"] == "auto" and "VLLM_API_KEY" not in env
    assert "token" not in document and "credential" not in document  # EAS generates it; no custom role
    assert document["containers"][0]["port"] == 8000  # EAS reserves 8080 and 9090
    assert "instance" not in document["metadata"]  # the autoscaler's: a written count would fight it on every `up`
    assert document["autoscaler"]["min"] == 0 and document["autoscaler"]["max"] == 3
    assert "networking" not in document


def test_the_content_tag_follows_the_build_context_and_arguments(tmp_path):
    context = tmp_path / BUILD_CONTEXT
    context.mkdir(parents=True)
    for name in CONTEXT_FILES:
        shutil.copy(PROJECT_ROOT / BUILD_CONTEXT / name, context / name)
    base = content_tag("python:3.12-slim", "https://pypi.org/simple", root=tmp_path)
    assert base == content_tag("python:3.12-slim", "https://pypi.org/simple", root=tmp_path)
    assert base != content_tag("python:3.12-slim", "https://mirrors.aliyun.com/pypi/simple/", root=tmp_path)
    (context / "requirements.txt").write_text("vllm==0.32.0\n")
    assert base != content_tag("python:3.12-slim", "https://pypi.org/simple", root=tmp_path)


def test_the_vpc_reference_swaps_only_the_registry_domain():
    digest = "r-registry.cn-beijing.cr.aliyuncs.com/ns/repo@sha256:" + "a" * 64
    public, vpc = "r-registry.cn-beijing.cr.aliyuncs.com", "r-registry-vpc.cn-beijing.cr.aliyuncs.com"
    assert vpc_reference(digest, public, vpc) == f"{vpc}/ns/repo@sha256:" + "a" * 64
    with pytest.raises(ValueError, match="is not in registry"):
        vpc_reference(digest, "other-registry.cn-beijing.cr.aliyuncs.com", "x")


def test_the_entrypoint_sizes_vllm_to_its_cgpu_slice():
    serve = load_entrypoint()
    slice_of_an_a10 = {"ALIYUN_COM_GPU_MEM_CONTAINER": "5", "ALIYUN_COM_GPU_MEM_DEV": "22"}
    # Isolated (the fleet's pools): the container sees 5 GiB as the whole GPU, so the fraction is of those 5, less
    # the CUDA context's reserve, which must be free when vLLM checks at start-up (issue 26, finding 3).
    assert serve.gpu_memory_utilization(slice_of_an_a10) == 0.85
    # Shared without isolation, the pod sees all 22 GiB: only then is the slice's share the fraction.
    assert serve.gpu_memory_utilization({**slice_of_an_a10, "CGPU_MEMORY_ISOLATION": "off"}) == 0.216
    assert serve.gpu_memory_utilization({}) == 0.90
    environ = {"MODEL_DIR": "/models/llama3.2-1b", "SERVED_MODEL_NAME": "llama3.2-1b", "VLLM_API_KEY": "k"}
    argv = serve.command({**environ, "MAX_NUM_SEQS": "4"})
    assert argv[argv.index("--served-model-name") + 1] == "llama3.2-1b"
    assert argv[argv.index("--max-num-seqs") + 1] == "4"
    # With a key, vLLM listens on loopback behind the gate (tests/test_serving_gate.py); PORT is the gate's.
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == "8100"
    behind_eas = serve.command({**environ, "VLLM_API_KEY": "", "AUTH_AT_GATEWAY": "eas"})
    assert behind_eas[behind_eas.index("--host") + 1] == "0.0.0.0"
    assert behind_eas[behind_eas.index("--port") + 1] == "8000"


def test_the_entrypoint_refuses_to_serve_without_an_api_key():
    serve = load_entrypoint()
    with pytest.raises(SystemExit, match="VLLM_API_KEY is not set"):
        serve.command({"MODEL_DIR": "/models/m", "SERVED_MODEL_NAME": "m"})
