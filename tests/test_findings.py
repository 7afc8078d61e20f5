"""Issue 26's findings: each one a way the first real `pulumi up`, or the serving after it, would fail.

Every test here failed on the code before its fix. Where the finding is service behaviour, the simulated cloud
(offline/real_cloud.py, "Issue 26's findings") models it, so a shipped stack that regresses fails `make plan`.
"""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from fleet import fc, router_config, router_entry
from fleet.config_schema import PROJECT_ROOT
from offline import real_cloud
from offline.real_cloud import CloudRefusal, RealCloud, Registration
from offline.stack_files import load_stack_config
from tests.conftest import model_releases, settled_ok

FUNCTION = "alicloud:fc/v3Function:V3Function"
# mistral-7b starts cold on FC in more than the router may wait (finding 8): an FC region serves the small models.
FC_ONLY = {"servingPlatforms": ["fc"], "models": ["llama3.2-1b", "qwen2.5-1.5b"]}
REGION_STACKS = ("cn-beijing", "ap-southeast", "us-east")


def _serve():
    spec = importlib.util.spec_from_file_location("serve", PROJECT_ROOT / "images" / "inference-server" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _revealed(resources):
    """Inputs with secrets opened at the top level (the plan only ever shows them masked)."""
    from offline.engine import Secret

    def opened(value):
        return opened(value.value) if isinstance(value, Secret) else value

    return [
        type("R", (), {"inputs": {k: opened(v) for k, v in r.inputs.items()}, "name": r.name, "urn": r.urn})()
        for r in resources
    ]


@pytest.fixture(scope="module")
def fc_region():
    from tests.conftest import shared_synthesis

    return settled_ok(shared_synthesis("ap-southeast", FC_ONLY))


@pytest.fixture(scope="module")
def shipped():
    from tests.conftest import shared_synthesis

    return {stack: settled_ok(shared_synthesis(stack)) for stack in REGION_STACKS}


# --- 1. FC health check ---------------------------------------------------------------------------------------


def test_every_fc_health_check_is_within_the_ranges_the_fc_api_accepts(fc_region):
    for function in _revealed(fc_region.of_type(FUNCTION)):
        check = function.inputs["customContainerConfig"]["healthCheckConfig"]
        for key, (low, high) in real_cloud.FC_HEALTH_CHECK_RANGES.items():
            assert low <= check[key] <= high, (function.name, key, check[key])


@pytest.mark.parametrize("key,value", [("timeoutSeconds", 5), ("timeoutSeconds", 0), ("initialDelaySeconds", 121)])
def test_the_simulated_fc_refuses_a_health_check_outside_its_api_range(key, value):
    reg = Registration("", FUNCTION, "fn", {"customContainerConfig": {"healthCheckConfig": {key: value}}})
    with pytest.raises(CloudRefusal, match=f"healthCheckConfig.{key} is {value}"):
        real_cloud._check_fc_findings(RealCloud("ap-southeast-1"), reg)


# --- 7. FC and ACR Enterprise ----------------------------------------------------------------------------------


def test_every_fc_function_names_the_acr_enterprise_instance_its_image_is_in(fc_region):
    instances = {r.urn: r for r in fc_region.of_type(real_cloud.ACR_INSTANCE_TYPE)}
    assert len(instances) == 1
    for function in _revealed(fc_region.of_type(FUNCTION)):
        container = function.inputs["customContainerConfig"]
        assert ".cr.aliyuncs.com/" in container["image"]
        assert container["acrInstanceId"].startswith("sim-")


def test_the_simulated_fc_refuses_an_enterprise_image_without_its_instance_id():
    cloud = RealCloud("ap-southeast-1")
    acr = Registration("urn:acr", real_cloud.ACR_INSTANCE_TYPE, "acr", {"instanceName": "beacon"})
    cloud.record(acr, "cri-1")
    image = "beacon-registry-vpc.ap-southeast-1.cr.aliyuncs.com/ns/repo@sha256:00"
    with pytest.raises(CloudRefusal, match="acrInstanceId is unset"):
        real_cloud._check_fc_findings(
            cloud, Registration("", FUNCTION, "fn", {"customContainerConfig": {"image": image}})
        )
    real_cloud._check_fc_findings(
        cloud, Registration("", FUNCTION, "fn", {"customContainerConfig": {"image": image, "acrInstanceId": "cri-1"}})
    )


# --- 2, 10, 11. The EAS role --------------------------------------------------------------------------------


def test_eas_services_use_the_documented_default_and_no_custom_role(shipped):
    for stack, result in shipped.items():
        for service in _revealed(result.of_type(real_cloud.EAS_TYPE)):
            config = json.loads(service.inputs["serviceConfig"])
            assert "role_arn" not in config and "credential" not in config, stack
            assert "options" not in config, stack  # vLLM calls no Alibaba API: the container needs no credentials
        principals = [
            json.loads(r.inputs["assumeRolePolicyDocument"])["Statement"][0]["Principal"]
            for r in _revealed(result.of_type(real_cloud.RAM_ROLE_TYPE))
        ]
        assert not [p for p in principals if "pai.aliyuncs.com" in json.dumps(p)], stack


def test_the_simulated_eas_pulls_with_a_custom_role_that_holds_no_acr_permission_and_fails():
    cloud = RealCloud("us-east-1")
    role = Registration("urn:role", real_cloud.RAM_ROLE_TYPE, "r", {"roleName": "beacon-eas"})
    cloud.record(role, "beacon-eas")
    config = {
        "containers": [{"image": "beacon-registry-vpc.us-east-1.cr.aliyuncs.com/ns/repo@sha256:00"}],
        "credential": {"role_arn": "acs:ram::0:role/beacon-eas"},
    }
    with pytest.raises(CloudRefusal, match="no ACR pull permission"):
        real_cloud._check_eas_pull(cloud, Registration("", real_cloud.EAS_TYPE, "eas", {}), config)
    pull = Registration(
        "urn:att",
        real_cloud.RAM_ATTACHMENT_TYPE,
        "a",
        {"roleName": "beacon-eas", "policyName": "AliyunContainerRegistryReadOnlyAccess"},
    )
    cloud.record(pull, "a")
    real_cloud._check_eas_pull(cloud, Registration("", real_cloud.EAS_TYPE, "eas", {}), config)


def test_without_a_role_eas_pulls_only_from_its_own_regions_registry():
    config = {"containers": [{"image": "beacon-registry-vpc.cn-beijing.cr.aliyuncs.com/ns/repo@sha256:00"}]}
    with pytest.raises(CloudRefusal, match="own region"):
        real_cloud._check_eas_pull(RealCloud("us-east-1"), Registration("", real_cloud.EAS_TYPE, "e", {}), config)


# --- 3. vLLM's start-up check ---------------------------------------------------------------------------------


@pytest.mark.parametrize("slice_gib", [2, 3, 5, 8, 19, 22])
def test_the_fraction_of_a_cgpu_slice_leaves_the_cuda_context_free_at_start_up(slice_gib):
    fraction = _serve().gpu_memory_utilization({"ALIYUN_COM_GPU_MEM_CONTAINER": str(slice_gib)})
    assert slice_gib - real_cloud.CUDA_CONTEXT_AT_START_GIB >= fraction * slice_gib


def test_the_simulated_start_up_check_refuses_0_95_of_a_5_gib_slice(monkeypatch):
    class Fixed:
        @staticmethod
        def gpu_memory_utilization(environ):
            return 0.95

    monkeypatch.setattr(real_cloud, "serve_module", lambda: Fixed)
    values = {"gpu": {"memGiB": 5, "nodeSelector": {"ack.node.gpu.schedule": "cgpu"}}}
    with pytest.raises(CloudRefusal, match="only 4.32 GiB is free at start-up"):
        real_cloud._check_vllm_startup(Registration("", real_cloud.RELEASE_TYPE, "r", {}), values)


# --- 5. The first rollout's image pull ------------------------------------------------------------------------


def test_serving_pods_run_as_a_service_account_declared_after_the_credential_helper(shipped):
    for stack in ("cn-beijing", "ap-southeast", "us-east"):
        result = shipped[stack]
        releases = model_releases(result)
        assert releases, stack
        for release in releases:
            assert release.inputs["values"]["serviceAccount"]["create"] is False
        accounts = result.of_type(real_cloud.SERVICE_ACCOUNT_TYPE)
        assert accounts, stack
        # Pulumi holds the release until the credential helper has patched the account with its pull secret.
        assert all(real_cloud._waits_for_pull_secret(account) for account in accounts), stack


def test_a_release_that_does_not_wait_for_the_pull_secret_fails_the_plan(synth, monkeypatch):
    from components import inference_release

    monkeypatch.setattr(inference_release, "PULL_SECRET_WAIT", {})
    result = synth("ap-southeast", overrides={"minReplicasPerModel": 1})
    assert not result.ok and "nothing waits for the helper to patch it" in result.error


# --- 6. EAS's export --------------------------------------------------------------------------------------------


def test_an_autoscaled_eas_config_leaves_the_instance_count_to_the_autoscaler(shipped):
    for stack, result in shipped.items():
        for service in _revealed(result.of_type(real_cloud.EAS_TYPE)):
            config = json.loads(service.inputs["serviceConfig"])
            scaler = config.get("autoscaler")
            if scaler and scaler["min"] != scaler["max"]:
                assert "instance" not in config["metadata"], stack
            assert real_cloud.eas_export(config) == config


def test_the_simulated_export_shows_the_autoscalers_count_instead_of_a_written_one():
    written = {"metadata": {"name": "s", "instance": 1}, "autoscaler": {"min": 1, "max": 3}}
    assert real_cloud.eas_export(written)["metadata"]["instance"] == 3


# --- 8. FC's cold start and the router ------------------------------------------------------------------------


def test_the_routers_timeout_for_an_fc_provider_covers_the_cold_start_the_plan_states(fc_region):
    exported = fc_region.outputs["fcEndpoints"]
    entry = router_entry.region_entry(fc_region.outputs)
    for model_id, function in exported.items():
        provider = entry["providers"][router_config.provider_id(fc_region.outputs["routerRegion"], "fc", model_id)]
        assert function["coldStartSeconds"] >= fc.COLD_START_SECONDS[1]
        assert provider["timeout"] >= function["coldStartSeconds"] + router_config.ALIBABA_TIMEOUT_SECONDS
    for function in _revealed(fc_region.of_type(FUNCTION)):
        model = function.inputs["environmentVariables"]["SERVED_MODEL_NAME"]
        assert function.inputs["timeout"] >= exported[model]["coldStartSeconds"]


# --- 9. The mainland image build ------------------------------------------------------------------------------


def test_the_mainland_image_builds_from_alibabas_own_mirrors_only(shipped):
    values = load_stack_config("cn-beijing").values
    assert values["beacon-fleet:servingImageBase"].startswith("acr-subscription:")
    assert values["beacon-fleet:servingAptMirror"] == "https://mirrors.aliyun.com"
    result = shipped["cn-beijing"]
    images = _revealed(result.of_type(real_cloud.IMAGE_TYPE))
    assert images
    for image in images:
        args = image.inputs["build"]["args"]
        # The base comes from the region's own ACR instance, which syncs it from Docker Hub (artifact subscription).
        assert re.match(r"^[a-z0-9-]+-registry(-vpc)?\.cn-beijing\.cr\.aliyuncs\.com/", args["BASE_IMAGE"])
        assert args["APT_MIRROR"] == "https://mirrors.aliyun.com"
        assert args["PIP_INDEX_URL"].startswith("https://mirrors.aliyun.com/")
    rules = result.of_type("alicloud:cr/artifactSubscriptionRule:ArtifactSubscriptionRule")
    assert [(r.inputs["sourceProvider"], r.inputs["sourceRepoName"], r.inputs["tagRegexp"]) for r in rules] == [
        ("DOCKER_HUB", "python", "^3\\.12\\-slim\\-bookworm$")
    ]


def test_the_dockerfile_refuses_to_build_with_a_debian_source_left_unreplaced():
    dockerfile = (PROJECT_ROOT / "images" / "inference-server" / "Dockerfile").read_text()
    assert '! grep -rqs "deb.debian.org"' in dockerfile


# --- 4. Guesses dropped -----------------------------------------------------------------------------------------


def test_no_default_driver_is_guessed_and_cuda_minimums_follow_minor_version_compatibility():
    assert not hasattr(real_cloud, "ACK_DEFAULT_DRIVER")
    assert real_cloud.MIN_DRIVER_MAJOR == {"12": 525, "13": 580}
