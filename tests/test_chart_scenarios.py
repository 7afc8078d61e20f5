"""charts/inference-server's ci/*-values.yaml scenarios, linted strictly and rendered by real Helm.

Helm 4's own lint and render run in-process through helm_python (the Go SDK behind a C ABI): the same
`action.Lint` that `helm lint --strict` runs, with no helm binary to install. Every rendered object is checked
against the cluster's Kubernetes schema by kubernetes_validate.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from fleet import inference_chart, serving
from fleet.config_schema import PROJECT_ROOT, SAFE_LOADER, load_project_schema
from fleet.settings import parse_settings
from offline.stack_files import load_stack_config
from tests.conftest import stacks_on, us_east_release_values

CHART = inference_chart.CHART_PATH
# Bitnami's readme-generator-for-helm, pinned by tools/chart-docs/package-lock.json.
CHART_DOCS = PROJECT_ROOT / "tools" / "chart-docs"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
# Kinds a cluster add-on defines, which Kubernetes' own schema does not know.
CUSTOM_KINDS = {"HTTPScaledObject"}
WARNING = 2  # helm lint's severities: 1 info, 2 warning, 3 error; --strict fails on warnings too


@cache
def kube_versions() -> list[str]:
    """The ACK versions the shipped region stacks pin, e.g. 1.36.1 for 1.36.1-aliyun.1."""
    versions = set()
    for stack in stacks_on("ack"):
        config = load_stack_config(stack)
        settings = parse_settings(load_project_schema(), stack, config.values, frozenset(config.secret_keys))
        versions.add(settings.kubernetes.version.split("-", 1)[0])
    return sorted(versions)


def scenario(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def lint_findings(values: dict[str, Any], kube_version: str) -> list[str]:
    """What `helm lint --strict --namespace beacon-serving --kube-version v<kube_version>` would fail on."""
    report = helm.lint(
        str(CHART), values, strict=True, namespace=serving.SERVING_NAMESPACE, kube_version=f"v{kube_version}"
    )
    assert report["total_charts_linted"] == 1
    return report["errors"] + [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= WARNING]


def render(values: dict[str, Any], release: str = "llama3-2-1b") -> list[dict[str, Any]]:
    with helm.Chart.load(CHART) as chart:
        files = chart.render(values=values, name=release, namespace=serving.SERVING_NAMESPACE, is_install=True)
    return [
        doc
        for path, text in sorted(files.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.load_all(text, Loader=SAFE_LOADER)  # libyaml: Helm's output is long
        if doc
    ]


def of_kind(manifests: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    (found,) = [m for m in manifests if m["kind"] == wanted]
    return found


def test_there_is_a_scenario_for_each_way_a_release_is_exposed_scaled_and_isolated():
    assert [p.name for p in SCENARIOS] == [
        "01-intranet-values.yaml",
        "02-internet-tls-values.yaml",
        "03-autoscaling-values.yaml",
        "04-compute-isolation-values.yaml",
        "05-scale-to-zero-values.yaml",
    ]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_each_scenario_lints_strictly_for_every_shipped_kubernetes_version(path):
    for kube_version in kube_versions():
        assert lint_findings(scenario(path), kube_version) == [], (path.name, kube_version)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_each_scenario_renders_objects_that_match_the_clusters_kubernetes_schema(path):
    manifests = render(scenario(path))
    # No ServiceAccount: beacon-fleet declares it before the release (serviceAccount.create false).
    assert {"Deployment", "Service", "NetworkPolicy"} <= {m["kind"] for m in manifests}
    for kube_version in kube_versions():
        for manifest in manifests:
            if manifest["kind"] in CUSTOM_KINDS:
                continue  # not in Kubernetes' schema: checked against its CRD below
            kubernetes_validate.validate(manifest, kube_version, strict=True)


@cache
def release_values() -> dict[str, Any]:
    """The values beacon-fleet computes for one release of a shipped stack (placeholder cloud inputs)."""
    return us_east_release_values()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_each_scenario_sets_every_value_beacon_fleet_sets_for_a_release_and_no_other(path):
    assert set(leaf_values(scenario(path))) == set(leaf_values(release_values()))


def test_a_broken_scenario_fails_the_strict_lint():
    values = scenario(SCENARIOS[0])
    broken = {**values, "gpu": {**values["gpu"], "memGiB": 0}, "replica": 2}
    findings = "\n".join(lint_findings(broken, kube_versions()[-1]))
    assert "/gpu/memGiB" in findings and "minimum" in findings
    assert "additional properties 'replica' not allowed" in findings


def test_the_compute_isolation_scenario_asks_for_a_compute_share_on_core_mem_nodes():
    pod = of_kind(render(scenario(CHART / "ci" / "04-compute-isolation-values.yaml")), "Deployment")["spec"]
    spec = pod["template"]["spec"]
    assert spec["nodeSelector"]["ack.node.gpu.schedule"] == "core_mem"
    assert spec["containers"][0]["resources"]["limits"]["aliyun.com/gpu-core.percentage"] == 20
    assert pod["replicas"] == 2


def test_the_autoscaling_scenario_leaves_the_replica_count_to_the_hpa():
    manifests = render(scenario(CHART / "ci" / "03-autoscaling-values.yaml"))
    assert "replicas" not in of_kind(manifests, "Deployment")["spec"]
    hpa = of_kind(manifests, "HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 3)


def test_the_internet_scenario_serves_https_behind_an_allowlist():
    service = of_kind(render(scenario(CHART / "ci" / "02-internet-tls-values.yaml")), "Service")
    annotations = service["metadata"]["annotations"]
    prefix = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"
    assert annotations[prefix + "address-type"] == "internet"
    assert (annotations[prefix + "acl-status"], annotations[prefix + "acl-type"]) == ("on", "white")
    assert annotations[prefix + "cert-id"] == "12345-ap-southeast-1"
    assert service["spec"]["ports"][0]["port"] == 443


def test_the_intranet_scenario_serves_plain_http_on_the_load_balancer_pulumi_declares():
    service = of_kind(render(scenario(CHART / "ci" / "01-intranet-values.yaml")), "Service")
    annotations = service["metadata"]["annotations"]
    prefix = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"
    assert annotations[prefix + "address-type"] == "intranet"
    assert annotations[prefix + "id"] == "lb-0xi2k8r6m4n1p3q5s7t9"
    assert prefix + "cert-id" not in annotations and prefix + "acl-id" not in annotations
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def connection_test(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (pod,) = [m for m in manifests if m["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    return pod


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_helm_test_asks_the_service_for_the_model_list_with_the_releases_api_key(path):
    values = scenario(path)
    manifests = render(values, release="my-model")
    pod = connection_test(manifests)
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    (service,) = [m for m in manifests if m["kind"] == "Service" and not m["metadata"]["name"].endswith("-backend")]
    port = service["spec"]["ports"][0]["port"]
    # The load balancer's Service: the model's own, or (scale to zero) the interceptor's namespace, by Host.
    where = service["metadata"]["name"]
    if values["scaleToZero"]["enabled"]:
        where += f".{service['metadata']['namespace']}"
    assert env["MODELS_URL"]["value"] == f"http://{where}:{port}/v1/models"
    if values["scaleToZero"]["enabled"]:
        assert env["ROUTED_HOST"]["value"] == values["scaleToZero"]["hosts"][0]
        assert int(env["WAIT_SECONDS"]["value"]) > values["scaleToZero"]["conditionWaitSeconds"]
    assert env["SERVED_MODEL_NAME"]["value"] == values["model"]["servedName"]
    server = of_kind(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    (server_key,) = [e for e in server["env"] if e["name"] == "VLLM_API_KEY"]
    assert env["VLLM_API_KEY"] == server_key and "value" not in server_key
    assert container["image"] == server["image"] and pod["spec"]["restartPolicy"] == "Never"


def test_helm_test_keeps_the_charts_security_posture():
    manifests = render(scenario(SCENARIOS[0]))
    pod = connection_test(manifests)["spec"]
    server = of_kind(manifests, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"] == server["securityContext"]
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"] == server["containers"][0]["securityContext"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}


def test_helm_test_pod_is_selected_by_neither_the_service_nor_the_network_policy():
    manifests = render(scenario(SCENARIOS[0]))
    labels = connection_test(manifests)["metadata"]["labels"]
    selectors = [
        of_kind(manifests, "Service")["spec"]["selector"],
        of_kind(manifests, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
        of_kind(manifests, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert not selector.items() <= labels.items(), selector


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_the_network_policy_lets_helm_test_reach_the_serving_port_by_its_labels(path):
    # The test pod has a VPC address, which Terway never matches by ipBlock (AliyunContainerService/terway#904).
    manifests = render(scenario(path))
    labels = connection_test(manifests)["metadata"]["labels"]
    (rule,) = [r for r in of_kind(manifests, "NetworkPolicy")["spec"]["ingress"] if r["ports"][0]["port"] == "http"]
    same_namespace = [peer["podSelector"] for peer in rule["from"] if set(peer) == {"podSelector"}]
    assert any(selector["matchLabels"].items() <= labels.items() for selector in same_namespace)
    assert all(selector["matchLabels"]["app.kubernetes.io/component"] == "test" for selector in same_namespace)


def names(manifests: list[dict[str, Any]]) -> dict[str, str]:
    return {m["kind"]: m["metadata"]["name"] for m in manifests}


def test_fullname_override_renames_every_object_and_every_reference_to_one():
    values = {**scenario(SCENARIOS[0]), "fullnameOverride": "llama-small"}
    values["apiKey"] = {**values["apiKey"], "secretName": ""}
    # The chart's own service account, as a user without beacon-fleet would install it.
    values["serviceAccount"] = {"create": True, "roleName": values["serviceAccount"]["roleName"]}
    manifests = render(values, release="llama3-2-1b")
    assert names(manifests) == {
        "Deployment": "llama-small",
        "Service": "llama-small",
        "ServiceAccount": "llama-small",
        "NetworkPolicy": "llama-small",
        "PodDisruptionBudget": "llama-small",
        "PersistentVolumeClaim": "llama-small-weights",
        "PersistentVolume": "beacon-serving-llama-small-weights",
        "Pod": "llama-small-test-connection",
    }
    pod = of_kind(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "llama-small"
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "llama-small-weights"
    key = {e["name"]: e for e in pod["containers"][0]["env"]}["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert key == {"name": "llama-small-api-key", "key": "api-key"}
    test_env = {e["name"]: e for e in connection_test(manifests)["spec"]["containers"][0]["env"]}
    assert test_env["MODELS_URL"]["value"] == "http://llama-small:80/v1/models"
    assert test_env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "llama-small-api-key"
    assert lint_findings(values, kube_versions()[-1]) == []


def chart_named(values: dict) -> dict:
    """The values without beacon-fleet's fullnameOverride: the chart's own naming, for other users of the chart."""
    return {k: v for k, v in values.items() if k != "fullnameOverride"}


def test_without_a_secret_name_the_chart_names_the_secret_as_beacon_fleet_declares_it():
    model_id = "qwen2.5-1.5b"
    values = {**chart_named(scenario(SCENARIOS[0])), "apiKey": {"secretName": "", "secretKey": "api-key"}}
    manifests = render(values, release=inference_chart.release_name(model_id))
    pod = of_kind(manifests, "Deployment")["spec"]["template"]["spec"]
    key = {e["name"]: e for e in pod["containers"][0]["env"]}["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert key["name"] == inference_chart.api_key_secret_name(model_id)


def test_a_long_release_name_is_cut_to_a_63_character_dns_label_without_a_trailing_dash():
    # 52 characters plus "-inference-server" cut at 63 ends on the dash inside "inference-server".
    manifests = render(chart_named(scenario(SCENARIOS[0])), release="r" * 52)
    assert names(manifests)["Deployment"] == "r" * 52 + "-inference"
    assert names(manifests)["Pod"] == "r" * 52 + "-inference-test-connection"


def test_name_override_replaces_the_chart_name_in_names_and_labels():
    values = {**chart_named(scenario(SCENARIOS[0])), "nameOverride": "vllm"}
    deployment = of_kind(render(values, release="llama3-2-1b"), "Deployment")
    assert deployment["metadata"]["name"] == "llama3-2-1b-vllm"
    assert deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "vllm"


@pytest.mark.parametrize("override", ["Llama-Small", "llama-small-", "x" * 64])
def test_the_schema_rejects_a_fullname_override_that_is_no_dns_label(override):
    findings = "\n".join(lint_findings({**scenario(SCENARIOS[0]), "fullnameOverride": override}, kube_versions()[-1]))
    assert "/fullnameOverride" in findings


# The README's Parameters section, as readme-generator-for-helm 2.7.2 renders it from `## @param` comments
# (lib/parser.js, lib/render.js and markdown-table 2). Pure Python, so the check needs no Node; the test after
# it runs the real generator where tools/chart-docs is installed, to keep this reading honest.
PARAM = re.compile(r"^\s*##\s*@param\s*(\S+)\s*(\[.*?\])?\s*(.*)$")
SECTION = re.compile(r"^\s*##\s*@section\s*(.*)$")


def documented_parameters(values_text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section title, [(dotted key, description)]) in the order values.yaml declares them."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for line in values_text.splitlines():
        if section := SECTION.match(line):
            sections.append((section[1], []))
        elif param := PARAM.match(line):
            assert not param[2], f"{param[1]}: modifiers such as {param[2]} are not read by this check yet"
            assert sections, f"{param[1]}: a ## @param before any ## @section"
            sections[-1][1].append((param[1], param[3]))
    return sections


def leaf_values(values: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value of each leaf; an empty map or list is a leaf, as for the generator."""
    if isinstance(values, dict) and values:
        return {k: v for key, child in values.items() for k, v in leaf_values(child, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): values}


def js_string(value: Any) -> str:
    """A default as the generator prints it: JavaScript's String(), JSON for maps and lists, "" for empty."""
    if value == "":
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def markdown_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "| " + " | ".join("-" * width for width in widths) + " |")
    return "\n".join(lines)


def parameters_section(values_path: Path) -> str:
    text = values_path.read_text()
    defaults = leaf_values(yaml.safe_load(text))
    sections = documented_parameters(text)
    keys = [key for _, params in sections for key, _ in params]
    assert sorted(keys) == sorted(defaults), {
        "missing ## @param": sorted(set(defaults) - set(keys)),
        "## @param for no value": sorted(set(keys) - set(defaults)),
        "documented twice": sorted({k for k in keys if keys.count(k) > 1}),
    }
    rendered = ""
    for title, params in sections:
        rows = [["Name", "Description", "Value"]]
        rows += [[f"`{key}`", description, f"`{js_string(defaults[key])}`"] for key, description in params]
        rendered += f"\n### {title}\n\n{markdown_table(rows)}\n"
    return rendered


def readme_parameters(readme_text: str) -> str:
    """The README's text from its `## Parameters` heading to the next second-level heading."""
    (section,) = re.findall(r"^## Parameters\n(.*?)(?=^## )", readme_text, flags=re.MULTILINE | re.DOTALL)
    return section.rstrip("\n") + "\n"


def test_the_readmes_parameters_are_generated_from_the_values_comments_and_current():
    expected = parameters_section(CHART / "values.yaml")
    assert readme_parameters((CHART / "README.md").read_text()) == expected, (
        "charts/inference-server/README.md is stale: run "
        "`npm ci --prefix tools/chart-docs && npm run --prefix tools/chart-docs chart-docs`"
    )


def test_a_value_without_a_param_comment_or_a_stale_default_is_caught(tmp_path):
    values = (CHART / "values.yaml").read_text()
    undocumented = tmp_path / "undocumented.yaml"
    undocumented.write_text(values + "extraKnob: 1\n")
    with pytest.raises(AssertionError, match="extraKnob"):
        parameters_section(undocumented)
    changed = tmp_path / "changed.yaml"
    changed.write_text(values.replace("maxModelLen: 4096", "maxModelLen: 8192"))
    assert parameters_section(changed) != readme_parameters((CHART / "README.md").read_text())


@pytest.mark.skipif(
    not (CHART_DOCS / "node_modules" / ".bin" / "readme-generator").exists() or not shutil.which("node"),
    reason="the pinned generator is not installed: npm ci --prefix tools/chart-docs",
)
def test_the_pinned_generator_writes_exactly_the_committed_readme(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(CHART / "README.md", readme)
    subprocess.run(
        [
            CHART_DOCS / "node_modules" / ".bin" / "readme-generator",
            "--values",
            CHART / "values.yaml",
            "--readme",
            readme,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert readme.read_text() == (CHART / "README.md").read_text()


def test_helm_test_stays_off_the_cgpu_pool_since_it_asks_for_no_gpu_slice():
    pod = connection_test(render(scenario(CHART / "ci" / "04-compute-isolation-values.yaml")))["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod and "affinity" not in pod
    assert not any(name.startswith("aliyun.com/") for name in pod["containers"][0]["resources"]["limits"])


def test_the_scale_to_zero_scenario_routes_the_load_balancer_through_the_interceptor_to_a_deployment_at_zero():
    values = scenario(CHART / "ci" / "05-scale-to-zero-values.yaml")
    manifests = render(values)
    deployment = of_kind(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 0  # KEDA starts the first pod on the first request
    assert deployment["spec"]["progressDeadlineSeconds"] == values["startup"]["progressDeadlineSeconds"]
    assert "HorizontalPodAutoscaler" not in {m["kind"] for m in manifests}
    services = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Service"}
    public = services[deployment["metadata"]["name"]]
    backend = services[f"{deployment['metadata']['name']}-backend"]
    interceptor = values["scaleToZero"]["interceptor"]
    # The load balancer's Service selects the interceptor's pods, in the interceptor's namespace, on its port.
    assert public["metadata"]["namespace"] == interceptor["namespace"]
    assert public["spec"]["selector"] == interceptor["selector"]
    assert public["spec"]["ports"][0]["targetPort"] == interceptor["port"]
    prefix = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"
    assert public["metadata"]["annotations"][prefix + "health-check-type"] == "tcp"  # /health would wake the model
    # The backend Service reaches the model's pods, and the HTTPScaledObject ties hosts, Deployment and Service.
    assert backend["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert backend["spec"]["type"] == "ClusterIP" and "namespace" not in backend["metadata"]
    scaled = of_kind(manifests, "HTTPScaledObject")
    assert scaled["apiVersion"] == "http.keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert spec["hosts"] == values["scaleToZero"]["hosts"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
        "service": backend["metadata"]["name"],
        "port": backend["spec"]["ports"][0]["port"],
    }
    assert spec["replicas"] == {"min": 0, "max": values["scaleToZero"]["maxReplicas"]}
    assert spec["scaledownPeriod"] == values["scaleToZero"]["scaledownPeriodSeconds"]
    assert spec["timeouts"]["conditionWait"] == f"{values['scaleToZero']['conditionWaitSeconds']}s"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_the_interceptor_pods_reach_the_serving_port_by_selector_since_terway_matches_no_pod_by_cidr(path):
    # Terway, like Cilium, never matches a pod of the cluster by ipBlock (AliyunContainerService/terway#904): the
    # VPC's CIDR does not admit the interceptor, whose pods have VPC addresses.
    values = scenario(path)
    (rule,) = [
        r for r in of_kind(render(values), "NetworkPolicy")["spec"]["ingress"] if r["ports"][0]["port"] == "http"
    ]
    selectors = [peer for peer in rule["from"] if "namespaceSelector" in peer]  # pods of another namespace
    if not values["scaleToZero"]["enabled"]:
        assert selectors == []  # no pod of the cluster calls the model: the load balancer and the VPC do
        return
    interceptor = values["scaleToZero"]["interceptor"]
    assert selectors == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": interceptor["namespace"]}},
            "podSelector": {"matchLabels": interceptor["selector"]},
        }
    ]


def test_scale_to_zero_refuses_the_hpa_alongside_and_a_missing_host():
    values = scenario(CHART / "ci" / "05-scale-to-zero-values.yaml")
    both = {**values, "autoscaling": {**values["autoscaling"], "enabled": True}}
    assert lint_findings(both, kube_versions()[-1])
    no_host = {**values, "scaleToZero": {**values["scaleToZero"], "hosts": []}}
    assert "/scaleToZero/hosts" in "\n".join(lint_findings(no_host, kube_versions()[-1]))
