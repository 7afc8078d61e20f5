"""Function Compute 3.0 GPU as a serving platform, and regions served only by their counterpart."""

from __future__ import annotations

import json

import pytest

from fleet import capacity, catalog, fc, router_config, router_weights
from offline.real_cloud import CloudRefusal, RealCloud, Registration
from tests.conftest import settled_ok

FUNCTION = "alicloud:fc/v3Function:V3Function"
TRIGGER = "alicloud:fc/v3Trigger:V3Trigger"
CAP = "alicloud:fc/v3ConcurrencyConfig:V3ConcurrencyConfig"
FC_ONLY = {"servingPlatforms": ["fc"]}
# mistral-7b starts cold on FC in more than the router may wait (issue 26, finding 8): FC regions serve the small ones.
FC_MODELS = {"models": ["llama3.2-1b", "qwen2.5-1.5b"]}


@pytest.fixture(scope="module")
def fc_region():
    """ap-southeast served on FC only (FC GPU is offered in ap-southeast-1), planned once for the module."""
    from offline.engine import synthesize
    from offline.stack_files import load_stack_config
    from tests.conftest import with_overrides

    config = with_overrides(load_stack_config("ap-southeast"), {**FC_ONLY, **FC_MODELS})
    return settled_ok(synthesize("ap-southeast", config.values, config.secret_keys))


def test_an_fc_region_declares_one_gpu_function_per_model_and_no_node_pool_cluster_or_eas(fc_region):
    functions = fc_region.of_type(FUNCTION)
    assert sorted(f.inputs["environmentVariables"]["SERVED_MODEL_NAME"] for f in _revealed(functions)) == sorted(
        FC_MODELS["models"]
    )
    assert len(fc_region.of_type(TRIGGER)) == len(fc_region.of_type(CAP)) == len(FC_MODELS["models"])
    types = {r.type for r in fc_region.resources}
    assert not types & {
        "alicloud:cs/managedKubernetes:ManagedKubernetes",
        "alicloud:cs/nodePool:NodePool",
        "alicloud:pai/service:Service",
    }
    assert not [t for t in types if t.startswith("kubernetes:")]


def test_each_function_is_sized_by_the_planner_and_runs_the_vpc_image_on_port_8000(fc_region):
    by_model = {
        f.inputs["environmentVariables"]["SERVED_MODEL_NAME"]: f for f in _revealed(fc_region.of_type(FUNCTION))
    }
    qwen = by_model["qwen2.5-1.5b"].inputs
    # qwen2.5-1.5b fp16 at 4096 tokens x 8 sequences, sliced by the planner in whole GiB = GiB x 1024 MB.
    estimate = capacity.estimate_memory(catalog.BUILTIN_MODELS["qwen2.5-1.5b"], "fp16", 4096, 8)
    assert qwen["gpuConfig"] == {"gpuType": "fc.gpu.ada.1", "gpuMemorySize": estimate.slice_gib * 1024}
    assert qwen["customContainerConfig"]["port"] == 8000
    assert (
        "-registry-vpc." in qwen["customContainerConfig"]["image"]
        and "@sha256:" in qwen["customContainerConfig"]["image"]
    )
    mount = qwen["ossMountConfig"]["mountPoints"][0]
    assert mount["readOnly"] is True and mount["bucketPath"] == "/models/qwen2.5-1.5b/"
    assert qwen["vpcConfig"]["vpcId"] and qwen["role"]


def test_each_function_scales_from_zero_to_the_configured_maximum(fc_region):
    assert {c.inputs["reservedConcurrency"] for c in fc_region.of_type(CAP)} == {1}  # Beacon's budget: 1
    assert not [r for r in fc_region.resources if r.type == "alicloud:fc/v3ProvisionConfig:V3ProvisionConfig"]
    assert all(e["instances"] == {"min": 0, "max": 1} for e in fc_region.outputs["fcEndpoints"].values())


def test_the_router_reaches_fc_over_https_with_a_bearer_key_the_function_itself_checks(fc_region):
    entry = fc_region.outputs["routerProviders"]
    fc_providers = {pid: p for pid, p in entry["providers"].items() if p["type"] == "alibaba_fc"}
    assert len(fc_providers) == len(FC_MODELS["models"])
    for provider in fc_providers.values():
        assert provider["endpoint"].startswith("https://") and provider["network"] == "internet"
        assert provider["auth"]["type"] == "bearer"
        assert provider["auth"]["env"].startswith("ASIA_SOUTHEAST_FC_")
    assert "fc" in entry["region"]["failover_order"]
    # The key the router sends is the one vLLM checks (VLLM_API_KEY), and both stay secret.
    assert all("VLLM_API_KEY" in f.inputs["environmentVariables"] for f in _revealed(fc_region.of_type(FUNCTION)))
    triggers = [json.loads(t.inputs["triggerConfig"]) for t in fc_region.of_type(TRIGGER)]
    assert {t["authType"] for t in triggers} == {"anonymous"}
    routes = router_config.routes([entry])["asia-southeast"]
    assert all(chain[0].startswith("asia-southeast-fc-") for chain in routes.values())


def test_each_fc_provider_says_which_weights_it_serves_so_the_router_accepts_the_region(fc_region):
    entry = fc_region.outputs["routerProviders"]
    served = fc_region.outputs["weights"]
    for provider in entry["providers"].values():
        (model,) = provider["models"]
        assert provider["weights"] == {"revision": served[model]["revision"], "digest": served[model]["digest"]}
    assert router_weights.weights_problems(entry) == []


def test_a_function_that_does_not_wait_for_its_weights_is_refused():
    cloud = RealCloud("ap-southeast-1")
    env = {"MODEL_DIR": "/models/m", "SERVED_MODEL_NAME": "m", "PORT": "8000"}
    registration = Registration(urn="", type=FUNCTION, name="f", inputs={"environmentVariables": env})
    with pytest.raises(CloudRefusal, match="before the weights are synced"):
        cloud.admit(registration)


@pytest.mark.parametrize(
    ("stack", "overrides", "message"),
    [
        ("us-east", FC_ONLY, "Function Compute GPU functions are not offered in us-east-1"),
        ("cn-beijing", FC_ONLY, "needs an ICP licence"),
        (
            "ap-southeast",
            {**FC_ONLY, "fcGpuType": "fc.gpu.tesla.1"},
            "mistral-7b (fp16) on FC needs 19456 MB of GPU memory, but fc.gpu.tesla.1 (T4) takes 1024-16384 MB",
        ),
        ("ap-southeast", {**FC_ONLY, "fcGpuType": "fc.gpu.volta.1"}, "'fc.gpu.volta.1' is not an FC GPU type"),
        ("ap-southeast", {**FC_ONLY, "fcMaxInstances": 40}, "above FC's default quota of 100"),
    ],
)
def test_what_fc_does_not_accept_is_a_config_error(synth, stack, overrides, message):
    result = synth(stack, overrides=overrides)
    assert not result.ok and message in result.error, result.error


def test_a_function_listening_elsewhere_than_fc_sends_requests_is_refused():
    cloud = RealCloud("ap-southeast-1")
    registration = Registration(
        urn="",
        type=FUNCTION,
        name="fc-x-function",
        inputs={"customContainerConfig": {"image": "x"}, "environmentVariables": {"PORT": "8000"}, "role": "r"},
    )
    with pytest.raises(CloudRefusal, match="port 9000 but the serving image listens on 8000"):
        cloud.admit(registration)


def test_a_gpu_size_fc_does_not_take_is_refused_by_the_simulated_cloud():
    assert fc.memory_problem("fc.gpu.tesla.1", 16384) is None
    assert "steps of 1024" in fc.memory_problem("fc.gpu.tesla.1", 1500)
    cloud = RealCloud("ap-southeast-1")
    registration = Registration(
        urn="", type=FUNCTION, name="f", inputs={"gpuConfig": {"gpuType": "fc.gpu.tesla.1", "gpuMemorySize": 20480}}
    )
    with pytest.raises(CloudRefusal, match="takes 1024-16384 MB"):
        cloud.admit(registration)


# --- counterpart-only regions ---------------------------------------------------------------------------------

EU_RUNPOD = {
    "beacon-fleet:routerRegion": "eu-central",
    "beacon-fleet:jurisdiction": "de",
    "beacon-fleet:servingPlatforms": [],
    "beacon-fleet:counterpartProvider": "runpod",
    "beacon-fleet:counterpartLocations": ["EU-RO-1"],
    "beacon-fleet:counterpartGpus": ["AMPERE_24"],
}


def test_a_counterpart_only_region_declares_nothing_on_alibaba_cloud_and_still_exports_its_router_entry(stack_file):
    from offline.engine import synthesize

    config = stack_file("eu-central", EU_RUNPOD)
    result = settled_ok(synthesize("eu-central", config.values, config.secret_keys))
    assert not [r for r in result.resources if r.type.startswith(("alicloud:", "pulumi:providers:alicloud"))]
    assert not [i for i in result.invokes if i.startswith("alicloud:")]
    providers = result.outputs["routerProviders"]["providers"]
    assert providers and {p["type"] for p in providers.values()} == {"runpod"}
    assert result.outputs["region"] == ""
    assert result.outputs["residency"]["jurisdiction"] == "de"


def test_a_region_with_no_platform_and_no_counterpart_is_refused(synth):
    result = synth("us-east", overrides={"servingPlatforms": [], "counterpartProvider": "none"})
    assert not result.ok and "serves nothing" in result.error


def _revealed(resources):
    """Function inputs with the secret environment opened (the plan only ever shows it masked)."""
    from offline.engine import Secret

    out = []
    for r in resources:
        env = r.inputs["environmentVariables"]
        inputs = {**r.inputs, "environmentVariables": env.value if isinstance(env, Secret) else env}
        out.append(type("R", (), {"inputs": inputs, "name": r.name})())
    return out


# --- scale to zero, as far as each platform allows -----------------------------------------------------------


def test_at_zero_replicas_the_gpu_pool_may_reach_zero_nodes_and_eas_scales_to_zero(synth):
    result = settled_ok(synth("us-east", overrides={"minReplicasPerModel": 0, "servingPlatforms": ["eas", "ack"]}))
    pool = next(p for p in result.of_type("alicloud:cs/nodePool:NodePool") if p.inputs.get("scalingConfig"))
    assert pool.inputs["scalingConfig"]["minSize"] == 0
    assert result.one("alicloud:cs/autoscalingConfig:AutoscalingConfig").inputs["scaleUpFromZero"] is True
    # The console guide's lower limit (0), not the API's min > 0: fleet/eas.py says why.
    assert {e["autoscaler"]["min"] for e in result.outputs["easEndpoints"].values()} == {0}
    # ... and KEDA's HTTP add-on starts a model on ACK again on its first request (no warning that nothing does).
    addons = result.of_type("alicloud:cs/kubernetesAddon:KubernetesAddon")
    assert "ack-keda" in {a.inputs["name"] for a in addons}
    assert not any("nothing starts a model" in w for w in result.warnings)


def test_a_licensed_mainland_region_may_serve_on_fc_and_passes_the_policy_pack(synth):
    from offline import policy_check

    result = settled_ok(synth("cn-beijing", overrides={**FC_ONLY, **FC_MODELS, "icpLicence": "京ICP备12345678号"}))
    assert len(result.of_type(FUNCTION)) == len(FC_MODELS["models"])
    assert not policy_check.mandatory(policy_check.check_synthesis(result))
