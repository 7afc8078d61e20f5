"""charts/inference-server, rendered by real Helm with exactly the values each region stack registers."""

from __future__ import annotations

import json
from functools import cache

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from fleet import capacity, inference_chart, serving
from fleet.config_schema import SAFE_LOADER, load_project_schema
from fleet.settings import ConfigError, RegionSettings, parse_settings
from offline.stack_files import load_stack_config
from tests.conftest import model_releases, settled_ok, shared_synthesis, stacks_on, us_east_release_values

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
LOAD_BALANCER = "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer"
ACL = "alicloud:slb/acl:Acl"
ROLE = "alicloud:ram/role:Role"


@cache
def stack_settings(stack: str) -> RegionSettings:
    config = load_stack_config(stack)
    return parse_settings(load_project_schema(), stack, config.values, frozenset(config.secret_keys))


def kube_version(settings: RegionSettings) -> str:
    return settings.kubernetes.version.split("-", 1)[0]  # 1.36.1-aliyun.1 -> 1.36.1


def render(values: dict, release: str) -> list[dict]:
    with helm.Chart.load(inference_chart.CHART_PATH) as chart:
        files = chart.render(values=values, name=release, namespace=serving.SERVING_NAMESPACE, is_install=True)
    return [
        doc
        for path, text in sorted(files.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.load_all(text, Loader=SAFE_LOADER)  # libyaml: Helm's output is long
        if doc
    ]


def notes(values: dict, release: str) -> str:
    with helm.Chart.load(inference_chart.CHART_PATH) as chart:
        files = chart.render(values=values, name=release, namespace=serving.SERVING_NAMESPACE)
    return next(text for path, text in files.items() if path.endswith("NOTES.txt"))


def kind(manifests: list[dict], wanted: str) -> dict:
    """The one object of a kind; for Service, the load balancer's (scale to zero adds a `-backend` ClusterIP)."""
    (found,) = [m for m in manifests if m["kind"] == wanted and not m["metadata"]["name"].endswith("-backend")]
    return found


def releases(result) -> dict[str, dict]:
    """model id -> the Release's registered inputs."""
    declared = {r.inputs["values"]["model"]["servedName"]: r.inputs for r in model_releases(result)}
    assert declared, "no inference release was declared"
    return declared


@pytest.fixture(scope="module")
def registered():
    """Each shipped stack synthesized once; the tests below only read it."""
    results = {}
    for stack in stacks_on("ack"):
        results[stack] = settled_ok(shared_synthesis(stack))
    return results


@pytest.mark.parametrize("stack", stacks_on("ack"))
def test_every_release_lints_strictly_and_every_manifest_matches_the_clusters_kubernetes_schema(registered, stack):
    settings = stack_settings(stack)
    for model_id, inputs in releases(registered[stack]).items():
        report = helm.lint(
            str(inference_chart.CHART_PATH),
            inputs["values"],
            strict=True,
            namespace=serving.SERVING_NAMESPACE,
            kube_version=f"v{kube_version(settings)}",
        )
        assert report["errors"] == [] and report["total_charts_linted"] == 1
        assert [m for m in report["messages"] if m["severity"] >= 2] == [], model_id
        manifests = render(inputs["values"], inputs["name"])
        assert {m["kind"] for m in manifests} == {
            "Deployment",
            "Service",
            # No ServiceAccount: beacon-fleet declares it before the release (serviceAccount.create false), so the
            # ACR credential helper has patched it before the first pod is admitted (issue 26, finding 5).
            "PersistentVolume",
            "PersistentVolumeClaim",
            "PodDisruptionBudget",
            # No HorizontalPodAutoscaler: autoscaling is off until a metrics adapter serves vLLM's queue metric.
            "NetworkPolicy",
            "Pod",  # the helm test hook (templates/tests/), which Helm renders with the release
            # At minReplicasPerModel 0 (the shipped default): KEDA's HTTP add-on scales the model from zero.
            "HTTPScaledObject",
        }
        for manifest in manifests:
            if manifest["kind"] == "HTTPScaledObject":
                continue  # an add-on's kind, not in Kubernetes' schema (tests/test_chart_scenarios.py checks it)
            kubernetes_validate.validate(manifest, kube_version(settings), strict=True)


@pytest.mark.parametrize("stack", stacks_on("ack"))
def test_each_pod_asks_for_the_planners_gpu_slice_on_the_cgpu_pool(registered, stack):
    settings = stack_settings(stack)
    for model in settings.models:
        inputs = releases(registered[stack])[model.id]
        pod = kind(render(inputs["values"], inputs["name"]), "Deployment")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        planned = capacity.estimate_memory(
            model.spec, model.dtype, settings.max_context_tokens, settings.max_concurrent_sequences
        ).slice_gib
        assert container["resources"]["limits"]["aliyun.com/gpu-mem"] == planned
        assert "nvidia.com/gpu" not in json.dumps(pod)
        assert pod["nodeSelector"] == {"beacon-fleet/pool": "gpu", "ack.node.gpu.schedule": "cgpu"}
        assert {"key": "beacon-fleet/gpu", "operator": "Equal", "value": "shared", "effect": "NoSchedule"} in pod[
            "tolerations"
        ]


def test_pods_are_probed_non_root_and_run_the_regions_image_by_digest(registered):
    result = registered["ap-southeast"]
    inputs = releases(result)["mistral-7b"]
    pod = kind(render(inputs["values"], inputs["name"]), "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == result.outputs["servingImage"]["vpcImage"]
    assert "@sha256:" in container["image"] and ":latest" not in container["image"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    # mistral-7b in fp16 has 14 GiB of weights: 300 s + 30 s per GiB to load, in 10 s probe periods.
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] == 720
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert "fsGroup" not in pod["securityContext"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def test_the_api_key_comes_from_the_secret_pulumi_declares_never_a_literal(registered):
    result = registered["cn-beijing"]
    secrets = {s.inputs["metadata"]["name"]: s for s in result.of_type(SECRET)}
    for inputs in releases(result).values():
        pod = kind(render(inputs["values"], inputs["name"]), "Deployment")["spec"]["template"]["spec"]
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        reference = env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]
        assert "value" not in env["VLLM_API_KEY"]
        assert reference["name"] in secrets and reference["key"] == "api-key"
        declared = secrets[reference["name"]].inputs
        assert declared["metadata"]["namespace"] == serving.SERVING_NAMESPACE
        kubernetes_validate.validate(
            {**declared, "stringData": {"api-key": "placeholder"}}, kube_version(stack_settings("cn-beijing")), True
        )
        # The chart only names the Secret: the key itself never passes through Helm values or release history.
        assert inputs["values"]["apiKey"] == {"secretName": reference["name"], "secretKey": "api-key"}


def test_weights_are_mounted_read_only_from_the_regions_bucket_through_rrsa(registered):
    result = registered["us-east"]
    trust = {r.inputs["roleName"]: json.loads(r.inputs["assumeRolePolicyDocument"]) for r in result.of_type(ROLE)}[
        "beacon-us-east-serving"
    ]
    subjects = trust["Statement"][0]["Condition"]["StringEquals"]["oidc:sub"]
    inputs = releases(result)["llama3.2-1b"]
    manifests = render(inputs["values"], inputs["name"])
    volume = kind(manifests, "PersistentVolume")["spec"]
    assert volume["accessModes"] == ["ReadOnlyMany"]
    assert volume["csi"]["driver"] == "ossplugin.csi.alibabacloud.com"
    assert volume["csi"]["volumeAttributes"] == {
        "bucket": result.outputs["modelBucket"],
        "url": "oss-us-east-1-internal.aliyuncs.com",
        "path": "/models/llama3.2-1b/",
        "fuseType": "ossfs2",
        "authType": "rrsa",
        "roleName": "beacon-us-east-serving",
    }
    mount = next(
        m
        for m in kind(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        if m["name"] == "weights"
    )
    assert mount["readOnly"] is True
    # The pods' service account, declared by Pulumi before the release (serviceAccount.create false).
    pod = kind(manifests, "Deployment")["spec"]["template"]["spec"]
    (account,) = [
        a.inputs
        for a in result.of_type("kubernetes:core/v1:ServiceAccount")
        if a.inputs["metadata"]["name"] == pod["serviceAccountName"]
    ]
    assert account["metadata"]["annotations"]["pod-identity.alibabacloud.com/role-name"] == "beacon-us-east-serving"
    assert account["metadata"]["namespace"] == serving.SERVING_NAMESPACE
    # The role trusts exactly this service account and the CSI driver's ossfs pods.
    assert f"system:serviceaccount:beacon-serving:{account['metadata']['name']}" in subjects
    assert "system:serviceaccount:ack-csi-fuse:csi-fuse-ossfs" in subjects


def test_shipped_stacks_expose_each_model_on_an_intranet_load_balancer_pulumi_declares(registered):
    result = registered["cn-beijing"]
    balancers = {b.inputs["loadBalancerName"]: b for b in result.of_type(LOAD_BALANCER)}
    assert set(balancers) == {
        "beacon-cn-beijing-llama3-2-1b",
        "beacon-cn-beijing-mistral-7b",
        "beacon-cn-beijing-qwen2-5-1-5b",
    }
    assert all(b.inputs["addressType"] == "intranet" and b.inputs["vswitchId"] for b in balancers.values())
    assert result.of_type(ACL) == [r for r in result.of_type(ACL) if r.name == "ack-api-server-acl"]
    inputs = releases(result)["qwen2.5-1.5b"]
    service = kind(render(inputs["values"], inputs["name"]), "Service")
    annotations = service["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"] == "intranet"
    assert annotations["service.beta.kubernetes.io/alibaba-cloud-loadbalancer-id"] == inputs["values"]["service"][
        "loadBalancerId"
    ].strip() and annotations["service.beta.kubernetes.io/alibaba-cloud-loadbalancer-id"].startswith("lb-")
    assert "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-cert-id" not in annotations
    # Scale to zero (the shipped default): the load balancer forwards to the HTTP add-on's interceptor, which routes
    # the model's Host (its load balancer's address) to it.
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    endpoint = result.outputs["ackEndpoints"]["qwen2.5-1.5b"]
    assert endpoint["url"].startswith("http://lb-sim-") and endpoint["url"].endswith(":80/v1")
    address = endpoint["url"].removeprefix("http://").removesuffix(":80/v1")
    assert inputs["values"]["scaleToZero"]["hosts"] == [address, f"{address}:80"]
    assert endpoint["gpuMemGiB"] == inputs["values"]["gpu"]["memGiB"]


def test_internet_exposure_terminates_tls_at_an_allowlisted_load_balancer(synth):
    result = settled_ok(
        synth(
            "ap-southeast",
            overrides={
                "ackExposure": "internet",
                "servingAllowedCidrs": ["203.0.113.0/24"],
                "servingTlsCertId": "12345-ap-southeast-1",
            },
        )
    )
    acls = [a for a in result.of_type(ACL) if a.name != "ack-api-server-acl"]
    assert len(acls) == 3 and all(
        a.inputs["entryLists"] == [{"entry": "203.0.113.0/24", "comment": "router"}] for a in acls
    )
    inputs = releases(result)["llama3.2-1b"]
    service = kind(render(inputs["values"], inputs["name"]), "Service")
    annotations = service["metadata"]["annotations"]
    prefix = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"
    assert annotations[prefix + "address-type"] == "internet"
    assert annotations[prefix + "acl-status"] == "on" and annotations[prefix + "acl-type"] == "white"
    assert annotations[prefix + "acl-id"].startswith("acl-")
    assert annotations[prefix + "protocol-port"] == "https:443"
    assert annotations[prefix + "cert-id"] == "12345-ap-southeast-1"
    assert service["spec"]["ports"][0]["port"] == 443
    policy = kind(render(inputs["values"], inputs["name"]), "NetworkPolicy")
    allowed = [peer["ipBlock"]["cidr"] for peer in policy["spec"]["ingress"][0]["from"] if "ipBlock" in peer]
    assert allowed == ["10.20.0.0/16", "100.64.0.0/10", "203.0.113.0/24"]
    assert result.outputs["ackEndpoints"]["llama3.2-1b"]["url"].startswith("https://")
    assert result.outputs["ackEndpoints"]["llama3.2-1b"]["url"].endswith(":443/v1")


@pytest.mark.parametrize(
    ("stack", "overrides", "expected"),
    [
        ("us-east", {"ackExposure": "public"}, "beacon-fleet:ackExposure: 'public' must be intranet or internet"),
        ("us-east", {"ackExposure": "internet", "servingTlsCertId": "abc"}, "beacon-fleet:servingAllowedCidrs:"),
        (
            "us-east",
            {"ackExposure": "internet", "servingAllowedCidrs": ["203.0.113.0/24"]},
            "beacon-fleet:servingTlsCertId: ackExposure is internet, which needs HTTPS",
        ),
        (
            "cn-beijing",
            {"ackExposure": "internet", "servingAllowedCidrs": ["203.0.113.0/24"], "servingTlsCertId": "abc"},
            "internet exposure in mainland China needs an ICP licence",
        ),
        ("us-east", {"servingAllowedCidrs": ["0.0.0.0/0"]}, "servingAllowedCidrs[0]: 0.0.0.0/0 allows everyone"),
    ],
)
def test_bad_exposure_settings_are_one_clean_error_before_anything_is_declared(synth, stack, overrides, expected):
    result = synth(stack, overrides=overrides)
    assert not result.ok and result.resources == []
    assert expected in result.error and "Traceback" not in result.error


def test_a_negative_slice_and_an_unknown_key_are_rejected_by_the_charts_schema(registered):
    values = releases(registered["us-east"])["mistral-7b"]["values"]
    with helm.Chart.load(inference_chart.CHART_PATH) as chart:
        chart.validate_schema(values)  # the registered values pass
        with pytest.raises(helm.HelmValuesError) as negative:
            chart.validate_schema({**values, "gpu": {**values["gpu"], "memGiB": -4}})
        assert "/gpu/memGiB" in str(negative.value) and "minimum" in str(negative.value)
        with pytest.raises(helm.HelmValuesError) as unknown:
            chart.validate_schema({**values, "gpuMemory": 8})
        assert "additional properties 'gpuMemory' not allowed" in str(unknown.value)
        with pytest.raises(helm.HelmError):
            chart.render(values={**values, "service": {**values["service"], "addressType": "public"}}, name="x")


def test_notes_tell_how_to_call_the_model(registered):
    inputs = releases(registered["us-east"])["llama3.2-1b"]
    text = notes(inputs["values"], inputs["name"])
    assert "kubectl -n beacon-serving get secret llama3-2-1b-inference-server-api-key" in text
    assert "http://$ADDRESS:80/v1/chat/completions" in text and '"model": "llama3.2-1b"' in text


def sample_values() -> dict:
    return us_east_release_values()


@pytest.mark.parametrize("release", ["llama3-2-1b", "a" * 53, "my-inference-server"])
def test_the_chart_names_every_object_as_python_decided_whatever_the_release_is_called(release):
    """One naming source: Python passes fullnameOverride; the chart's helper no longer has a say."""
    values = sample_values()
    model = values["model"]["servedName"]
    manifests = render(values, release)
    name = inference_chart.fullname(model)
    assert values["fullnameOverride"] == name and len(name) <= 63
    assert kind(manifests, "Deployment")["metadata"]["name"] == name
    assert values["serviceAccount"]["name"] == name  # declared by Pulumi; the chart only refers to it
    assert (
        kind(
            render({**values, "serviceAccount": {**values["serviceAccount"], "create": True}}, release),
            "ServiceAccount",
        )["metadata"]["name"]
        == name
    )
    pod = kind(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == name
    key_refs = [e["valueFrom"]["secretKeyRef"]["name"] for e in pod["containers"][0]["env"] if "valueFrom" in e]
    assert key_refs == [inference_chart.api_key_secret_name(model)]


def test_a_config_error_names_the_key_even_when_parsed_directly():
    config = load_stack_config("us-east")
    values = {**config.values, "beacon-fleet:ackExposure": "internet"}
    with pytest.raises(ConfigError) as error:
        parse_settings(load_project_schema(), "us-east", values, frozenset(config.secret_keys))
    assert "beacon-fleet:servingAllowedCidrs" in str(error.value) and "beacon-fleet:servingTlsCertId" in str(
        error.value
    )
