"""The offline plan fails where a real `pulumi up` would (../shared/reference/real-cloud-behaviour.md).

Each test puts back what the program did before the fix and shows the simulated cloud refusing it with a
message naming the cause and the fix; the shipped stacks pass every rule (tests elsewhere plan them green).
"""

from __future__ import annotations

import json

import pytest

import components.ack_cluster
import components.serving_registry
import fleet.eas
import fleet.kubeconfig
from fleet import serving
from offline import real_cloud
from offline.real_cloud import CloudRefusal, RealCloud, Registration
from offline.simulated_cloud import simulated_kubeconfig

GPU_POOL_LABELS = [
    {"key": serving.NODE_POOL_LABEL, "value": "gpu"},
    {"key": serving.NVIDIA_DRIVER_LABEL, "value": serving.NVIDIA_DRIVER_VERSION},
]


def refused(result, *phrases: str) -> str:
    assert not result.ok, "the simulated cloud accepted what the real one refuses"
    assert result.error.startswith("the real cloud would"), result.error
    assert "Traceback" not in result.error
    for phrase in phrases:
        assert phrase in result.error
    return result.error


# --- each fix, undone: the plan fails as the deployment would -----------------------------------------------


def test_an_eas_service_left_on_the_providers_five_minute_default_times_out(synth, monkeypatch):
    monkeypatch.setattr(fleet.eas, "create_timeout", lambda plan: "")
    refused(synth("us-east"), "the provider's default of 5m", "custom_timeouts create of at least")


def test_a_kubeconfig_pointing_at_the_internet_endpoint_of_a_private_cluster_cannot_connect(synth, monkeypatch):
    monkeypatch.setattr(fleet.kubeconfig, "with_server", lambda kubeconfig, server: kubeconfig)
    refused(synth("ap-southeast"), "internet API endpoint", "slb_internet_enabled is false", "intranet endpoint")


def test_a_push_to_the_public_domain_of_a_registry_without_an_internet_endpoint_fails(synth, monkeypatch):
    domains = components.serving_registry.registry_domains
    monkeypatch.setattr(
        components.serving_registry,
        "registry_domains",
        lambda *args: components.serving_registry.RegistryDomains(
            public=domains(*args).public, vpc=domains(*args).public
        ),
    )
    refused(synth("us-east"), "public domain of a registry whose internet endpoint is not enabled", "VPC domain")


def test_pods_pulling_the_private_image_without_a_credential_helper_for_their_namespace_back_off(synth, monkeypatch):
    config = components.ack_cluster.acr_helper_config
    monkeypatch.setattr(
        components.ack_cluster,
        "acr_helper_config",
        lambda instance_id, region: config(instance_id, region).replace(serving.SERVING_NAMESPACE, "default"),
    )
    refused(synth("cn-beijing"), "ImagePullBackOff", "namespace beacon-serving")


def test_the_old_entrypoint_sizing_vllm_by_the_slice_to_gpu_ratio_starves_it_under_isolation(synth, monkeypatch):
    class RatioSizing:  # what serve.py did before: the slice's share of the GPU, applied inside the slice
        @staticmethod
        def gpu_memory_utilization(environ):
            return float(environ["ALIYUN_COM_GPU_MEM_CONTAINER"]) / float(environ["ALIYUN_COM_GPU_MEM_DEV"]) * 0.95

    monkeypatch.setattr(real_cloud, "serve_module", lambda: RatioSizing)
    refused(synth("us-east"), "under cGPU isolation", "--gpu-memory-utilization")


def test_serving_that_starts_before_its_weights_are_synced_finds_an_empty_directory(synth, monkeypatch):
    original = RealCloud.closure
    monkeypatch.setattr(RealCloud, "closure", lambda self, reg: {u for u in original(self, reg) if "weights" not in u})
    refused(synth("ap-southeast"), "before the weights are synced", "depend on the model's weights sync")


def test_an_eas_service_without_its_weights_sync_is_refused():
    unsynced = Registration(
        "", real_cloud.EAS_TYPE, "eas-x", {"serviceConfig": json.dumps(eas_config())}, create_timeout="60m"
    )
    with pytest.raises(CloudRefusal, match="before the weights are synced"):
        cloud().admit(unsynced)


def test_an_eas_config_that_writes_the_token_changes_on_every_preview(synth, monkeypatch):
    """EAS hides the token when it exports the config the provider compares with the program's JSON."""
    written = fleet.eas.service_config
    monkeypatch.setattr(fleet.eas, "service_config", lambda *args: written(*args) | {"token": "t0ken"})
    error = refused(synth("us-east"), "hides token", "every preview shows serviceConfig changed", "EasServiceToken")
    assert "t0ken" not in error


def test_helm_releases_installed_alongside_the_gpu_pool_wait_pending(synth, monkeypatch):
    """Dropping the pool from the release's dependencies (the pool's own URN no longer reachable)."""
    original = RealCloud.closure
    monkeypatch.setattr(RealCloud, "closure", lambda self, reg: {u for u in original(self, reg) if "gpu-pool" not in u})
    refused(synth("us-east"), "in parallel with the GPU node pool", "depend on the GPU node pool")


# --- the rules, one registration at a time ------------------------------------------------------------------


WEIGHTS_URN = "urn:weights-llama3.2-1b"


def eas(config: dict, timeout: str = "60m") -> Registration:
    return Registration(
        "",
        real_cloud.EAS_TYPE,
        "eas-x",
        {"serviceConfig": json.dumps(config)},
        dependencies=(WEIGHTS_URN,),
        create_timeout=timeout,
    )


def cloud() -> RealCloud:
    """A simulated region where llama3.2-1b's weights are synced (their manifest names the repository)."""
    region = RealCloud("us-east-1")
    manifest = json.dumps({"model": "llama3.2-1b", "hfRepo": "meta-llama/Llama-3.2-1B-Instruct"})
    weights = {"model_id": "llama3.2-1b", "manifest": manifest}
    region.record(Registration(WEIGHTS_URN, real_cloud.WEIGHTS_TYPE, "w", weights), "w-1")
    return region


def eas_config(**extra) -> dict:
    env = [{"name": "SERVED_MODEL_NAME", "value": "llama3.2-1b"}, {"name": "DTYPE", "value": "float16"}]
    return {"containers": [{"env": env + extra.pop("env", [])}], **extra}


@pytest.mark.parametrize("timeout", ["", "5m", "10m", "15m", "16m"])
def test_an_eas_create_shorter_than_provisioning_plus_the_model_load_is_refused(timeout):
    """10 minutes' provisioning, 300 s and 30 s per GiB of llama3.2-1b's 2.3 GiB fp16 weights: 969 s, so 17m."""
    with pytest.raises(CloudRefusal, match="custom_timeouts create of at least 17m"):
        cloud().admit(eas(eas_config(), timeout))


def test_an_eas_create_that_waits_long_enough_is_admitted():
    cloud().admit(eas(eas_config(), "36m"))


def test_vllm_demanding_a_bearer_key_behind_the_eas_gateway_refuses_every_documented_call():
    with pytest.raises(CloudRefusal, match="Authorization: Bearer"):
        cloud().admit(eas(eas_config(env=[{"name": "VLLM_API_KEY", "value": "k"}])))


def test_an_undocumented_oss_mount_key_is_refused():
    mount = {"mount_path": "/models/x", "oss": {"path": "oss://b/models/x/", "readOnly": True, "endpoint": "e"}}
    with pytest.raises(CloudRefusal, match="sets endpoint, which EAS does not document"):
        cloud().admit(eas(eas_config(storage=[mount])))


def gpu_pool(labels=GPU_POOL_LABELS, min_size=1, enable=True) -> Registration:
    return Registration(
        "urn:pool",
        real_cloud.POOL_TYPE,
        "gpu-pool",
        {
            "clusterId": "sim-ack",
            "labels": labels,
            "instanceTypes": ["ecs.gn7i-c8g1.2xlarge"],
            "scalingConfig": {"enable": enable, "minSize": min_size},
        },
    )


@pytest.mark.parametrize(
    "labels",
    [
        [{"key": serving.NODE_POOL_LABEL, "value": "gpu"}],  # no driver label: ACK's default, which no source names
        [{"key": serving.NODE_POOL_LABEL, "value": "gpu"}, {"key": serving.NVIDIA_DRIVER_LABEL, "value": "580.1"}],
    ],
    ids=["unlabelled", "unlisted"],
)
def test_a_gpu_pool_whose_driver_cannot_run_the_images_cuda_is_refused(labels):
    with pytest.raises(CloudRefusal, match=f"CUDA {real_cloud.serving_image_cuda()}"):
        RealCloud("us-east-1").admit(gpu_pool(labels))


def test_a_listed_driver_below_the_cuda_major_releases_minimum_is_refused(monkeypatch):
    """CUDA 13.x needs the 580 branch even with minor version compatibility; ACK lists none (NVIDIA, Table 1)."""
    monkeypatch.setattr(real_cloud, "serving_image_cuda", lambda: real_cloud.vllm_cuda_of("vllm==0.33.0\n"))
    labels = [
        {"key": serving.NODE_POOL_LABEL, "value": "gpu"},
        {"key": serving.NVIDIA_DRIVER_LABEL, "value": "570.195.03"},
    ]
    with pytest.raises(CloudRefusal, match="older than the 580 branch CUDA 13.x needs"):
        RealCloud("us-east-1").admit(gpu_pool(labels))


def test_minor_version_compatibility_lets_a_listed_550_driver_run_cuda_12_8():
    """The old rule wanted the 570 series for CUDA 12.8; NVIDIA's table says any 12.x runs on 525 or later."""
    labels = [
        {"key": serving.NODE_POOL_LABEL, "value": "gpu"},
        {"key": serving.NVIDIA_DRIVER_LABEL, "value": "550.144.03"},
    ]
    RealCloud("us-east-1").admit(gpu_pool(labels))


def test_a_scaling_node_pool_without_the_cluster_autoscaler_never_scales():
    cloud = RealCloud("us-east-1")
    cloud.record(gpu_pool(), "np-1")
    with pytest.raises(CloudRefusal, match="without the cluster autoscaler"):
        cloud.finish()
    cloud.record(Registration("urn:ca", real_cloud.AUTOSCALER_TYPE, "ca", {"clusterId": "sim-ack"}), "ca-1")
    cloud.finish()


def release(gib: int, replicas: int = 1, name: str = "r") -> Registration:
    return Registration(
        f"urn:{name}", real_cloud.RELEASE_TYPE, name, {"values": {"gpu": {"memGiB": gib}, "replicas": replicas}}
    )


def test_replicas_packed_at_the_marketed_24_gib_do_not_fit_the_22_an_a10_advertises():
    """19 + 5 GiB fit a 24 GiB GPU on paper; the device plugin offers 22 units, so one node is not enough."""
    cloud = RealCloud("us-east-1")
    cloud.record(gpu_pool(min_size=1), "np-1")
    cloud.record(Registration("urn:ca", real_cloud.AUTOSCALER_TYPE, "ca", {"clusterId": "sim-ack"}), "ca-1")
    cloud.record(release(19, name="mistral"), "r1")
    cloud.record(release(5, name="llama"), "r2")
    with pytest.raises(CloudRefusal, match="need 2 A10 GPUs at the 22 GiB each one advertises"):
        cloud.finish()


def test_the_credential_the_provider_returns_names_the_internet_endpoint_whatever_the_cluster_has():
    kubeconfig = simulated_kubeconfig("sim-ack", "cn-beijing")
    assert fleet.kubeconfig.server_of(kubeconfig) == real_cloud.internet_endpoint("sim-ack", "cn-beijing")


def test_repointing_a_kubeconfig_changes_only_the_server():
    original = simulated_kubeconfig("sim-ack", "cn-beijing")
    moved = fleet.kubeconfig.with_server(original, "https://10.0.0.5:6443")
    assert fleet.kubeconfig.server_of(moved) == "https://10.0.0.5:6443"
    assert moved.replace("https://10.0.0.5:6443", "").count("simulated-offline-credential") == 1
    with pytest.raises(fleet.kubeconfig.KubeconfigError, match="not an https URL"):
        fleet.kubeconfig.with_server(original, "")


@pytest.mark.parametrize("duration,expected", [("36m", 2160), ("1h30m", 5400), ("90s", 90), ("", None), ("5x", None)])
def test_custom_timeouts_read_as_pulumi_writes_them(duration, expected):
    assert real_cloud.seconds(duration) == expected


def test_a_refusal_in_the_plan_reads_as_one_line_without_a_traceback(synth, monkeypatch, capsys):
    monkeypatch.setattr(fleet.eas, "create_timeout", lambda plan: "5m")
    error = refused(synth("cn-beijing"))
    assert error.count("\n") == 0
    assert "Traceback" not in capsys.readouterr().err


def test_an_account_without_acks_service_roles_is_told_which_to_authorize(synth, monkeypatch):
    from offline.simulated_cloud import SimulatedCloud

    defaults = SimulatedCloud.__init__.__defaults__
    monkeypatch.setattr(SimulatedCloud.__init__, "__defaults__", (defaults[0], ("AliyunCSManagedAcrRole",)))
    result = synth("us-east")
    assert not result.ok and result.resources == []
    assert "AliyunCSManagedAutoScalerRole (the cluster autoscaler scales node pools" in result.error
    assert "AliyunCSManagedAcrRole" not in result.error.split("needed in")[1]


def test_an_unreadable_kubeconfig_is_refused_without_quoting_it():
    secret = "token: super-secret-value\nserver: [unclosed"
    reg = Registration("", real_cloud.K8S_PROVIDER_TYPE, "k8s", {"kubeconfig": secret})
    with pytest.raises(CloudRefusal) as caught:
        RealCloud("us-east-1").admit(reg)
    assert "super-secret-value" not in str(caught.value) and "super-secret-value" not in repr(reg)


def test_a_serving_image_cuda_with_no_known_minimum_driver_is_refused_not_waved_through(monkeypatch):
    monkeypatch.setattr(real_cloud, "serving_image_cuda", lambda: "14.0")
    with pytest.raises(CloudRefusal, match="CUDA 14.0 has no known minimum driver"):
        RealCloud("us-east-1").admit(gpu_pool())


@pytest.mark.parametrize("requirements", ["vllm==0.99.0\n", "torch==2.8.0\n", "vllm==0.11.0\nvllm==0.33.0\n"])
def test_a_serving_image_whose_vllm_has_no_known_cuda_is_refused_not_waved_through(monkeypatch, requirements):
    """The cloud reads which vLLM the image installs; one the facts give no CUDA generation for is not guessed."""
    monkeypatch.setattr(real_cloud, "serving_image_cuda", lambda: real_cloud.vllm_cuda_of(requirements))
    with pytest.raises(CloudRefusal, match="vLLM whose CUDA generation no fact here gives"):
        RealCloud("us-east-1").admit(gpu_pool())


def test_the_serving_image_runs_the_cuda_its_vllm_pin_needs():
    """vllm 0.11.0 (torch 2.8.0, CUDA runtime 12.8.90, PyPI metadata) is what images/inference-server installs."""
    assert real_cloud.serving_image_cuda() == "12.8"


@pytest.mark.parametrize(
    ("written", "phrase"),
    [
        ({"token": "t0ken"}, "hides token"),
        ({"credential": {"role_arn": "acs:ram::1:role/r", "token": "t0ken"}}, "hides credential.token"),
        ({"role_arn": "acs:ram::1:role/r"}, "exports role_arn as credential.role_arn"),
    ],
)
def test_a_config_eas_would_export_differently_is_refused(written, phrase):
    with pytest.raises(CloudRefusal, match=phrase):
        cloud().admit(eas(eas_config(**written)))


def test_a_config_written_as_eas_exports_it_round_trips():
    written = eas_config(credential={"role_arn": "acs:ram::1:role/r"}, options={"enable_ram_role": True})
    assert real_cloud.eas_export(written) == written
    cloud().admit(eas(written))


# --- scale to zero on ACK: KEDA, its HTTP add-on, a GPU pool from zero nodes --------------------------------


def test_a_model_release_that_scales_to_zero_before_the_http_add_on_is_installed_fails(synth, monkeypatch):
    """Dropping the add-on from the release's dependencies: its HTTPScaledObject has no CRD yet."""
    original = RealCloud.closure
    monkeypatch.setattr(
        RealCloud, "closure", lambda self, reg: {u for u in original(self, reg) if "keda-http-addon" not in u}
    )
    refused(synth("us-east"), "no matches for kind HTTPScaledObject", "keda-add-ons-http")


def test_the_http_add_on_installed_before_keda_fails(synth, monkeypatch):
    original = RealCloud.closure
    monkeypatch.setattr(
        RealCloud, "closure", lambda self, reg: {u for u in original(self, reg) if "keda-addon" not in u}
    )
    refused(synth("us-east"), "ScaledObject (keda.sh/v1alpha1) is applied before KEDA is installed", "ack-keda")


def test_a_pool_at_zero_nodes_with_the_autoscaler_told_not_to_scale_from_zero_stays_empty():
    cloud = RealCloud("us-east-1")
    pool = gpu_pool()
    empty = Registration(
        pool.urn, pool.type, pool.name, {**pool.inputs, "scalingConfig": {"enable": True, "minSize": 0, "maxSize": 2}}
    )
    cloud.record(empty, "np-1")
    autoscaler = {"clusterId": "sim-ack", "scaleUpFromZero": False}
    cloud.record(Registration("urn:ca", real_cloud.AUTOSCALER_TYPE, "ca", autoscaler), "ca-1")
    with pytest.raises(CloudRefusal, match="empty for good"):
        cloud.finish()
    on = Registration("urn:ca", real_cloud.AUTOSCALER_TYPE, "ca", {"clusterId": "sim-ack", "scaleUpFromZero": True})
    cloud.record(on, "ca-1")
    cloud.finish()
    # The provider's default is to scale up from zero.
    cloud.record(Registration("urn:ca", real_cloud.AUTOSCALER_TYPE, "ca", {"clusterId": "sim-ack"}), "ca-1")
    cloud.finish()


def test_a_model_scaling_from_zero_onto_a_pool_that_cannot_add_a_node_waits_forever():
    cloud = RealCloud("us-east-1")
    pool = gpu_pool()
    fixed = Registration(pool.urn, pool.type, pool.name, {**pool.inputs, "scalingConfig": {"enable": False}})
    cloud.record(fixed, "np-1")
    addon = Registration(
        "urn:http", real_cloud.RELEASE_TYPE, "http", {"chart": "keda-add-ons-http", "repositoryOpts": {"repo": "x"}}
    )
    cloud.record(addon, "rel-1")
    values = {"scaleToZero": {"enabled": True}, "gpu": {}}
    model = Registration("urn:m", real_cloud.RELEASE_TYPE, "m", {"values": values}, dependencies=(pool.urn, addon.urn))
    with pytest.raises(CloudRefusal, match="cannot add a node"):
        real_cloud._check_scale_to_zero_release(cloud, model, values)
    scaling = Registration(
        pool.urn, pool.type, pool.name, {**pool.inputs, "scalingConfig": {"enable": True, "minSize": 0, "maxSize": 1}}
    )
    cloud.record(scaling, "np-1")
    real_cloud._check_scale_to_zero_release(cloud, model, values)


def test_the_http_add_on_without_its_crd_is_refused():
    cloud = RealCloud("us-east-1")
    cloud.record(Registration("urn:keda", real_cloud.ADDON_TYPE, "keda", {"name": "ack-keda"}), "a-1")
    inputs = {"chart": "keda-add-ons-http", "repositoryOpts": {"repo": "x"}, "values": {"crds": {"install": False}}}
    with pytest.raises(CloudRefusal, match="skips the HTTPScaledObject CRD"):
        cloud.admit(Registration("urn:http", real_cloud.RELEASE_TYPE, "http", inputs, dependencies=("urn:keda",)))
