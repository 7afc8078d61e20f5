"""vLLM's /metrics is scrapeable on ACK without the key, and without opening the serving port to anyone.

The gate (images/inference-server/serve.py) answers `GET /metrics` on a port of its own, proxied to vLLM's
loopback /metrics, and 404 to everything else there; the chart names that port, points the prometheus.io
annotations at it, keeps it off every Service (so no load balancer forwards to it) and admits it in the
NetworkPolicy from inside the cluster and the VPC only, never from the CIDRs allowed to call the model.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import helm_python as helm
import pytest

from fleet import inference_chart, residency
from fleet.config_schema import load_project_schema
from fleet.settings import parse_settings
from offline.stack_files import load_stack_config
from tests.conftest import model_releases, settled_ok, shared_synthesis, stacks_on, with_overrides
from tests.loopback import running, send
from tests.test_inference_chart import kind, render
from tests.test_serving_gate import KEY, PATHS, serve

EXPOSITION = b'# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name="m"} 0.0\n'


class FakeMetrics(ThreadingHTTPServer):
    """vLLM's loopback server as the metrics port sees it: /metrics answers, and so would anything else."""

    daemon_threads = True
    seen: list[tuple[str, str, dict[str, str]]]
    body: bytes = EXPOSITION
    stall: float = 0.0  # seconds to wait before answering


def _metrics_handler(server: FakeMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            server.seen.append((self.command, self.path, dict(self.headers)))
            time.sleep(server.stall)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(server.body)))
            self.send_header("Set-Cookie", "upstream=1")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(server.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer  # noqa: N815

        def log_message(self, *_args) -> None:
            return None

    return Handler


@pytest.fixture
def metrics_port() -> Iterator[tuple[Any, FakeMetrics]]:
    upstream = FakeMetrics(("127.0.0.1", 0), BaseHTTPRequestHandler)
    upstream.RequestHandlerClass = _metrics_handler(upstream)
    upstream.seen = []
    front = serve.MetricsGate(("127.0.0.1", 0), ("127.0.0.1", upstream.server_port), timeout=1)
    with running(upstream, front):
        yield front, upstream


def call(front, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None):
    return send(front.server_port, method, path, headers, body, timeout=10)


# --- the gate's metrics port ------------------------------------------------------------------------------------


def test_get_metrics_is_served_from_vllm_without_a_key_and_nothing_of_the_caller_reaches_vllm(metrics_port):
    front, upstream = metrics_port
    status, headers, body = call(
        front,
        "GET",
        "/metrics",
        {"Host": "localhost/v1/models?", "Cookie": "session=x", "Authorization": "Bearer anything"},
    )
    assert status == 200 and body == EXPOSITION
    assert headers["Content-Type"].startswith("text/plain") and "Set-Cookie" not in headers
    ((method, path, seen),) = upstream.seen
    assert (method, path) == ("GET", "/metrics")
    assert seen["Host"] == f"127.0.0.1:{upstream.server_port}"  # never the caller's
    assert not {"Cookie", "Authorization"} & set(seen)


def test_prometheus_can_ask_for_openmetrics(metrics_port):
    front, upstream = metrics_port
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    assert call(front, "GET", "/metrics", {"Accept": accept})[0] == 200
    assert upstream.seen[-1][2]["Accept"] == accept


OTHER_TARGETS = [
    *(p for p in PATHS if p != "/metrics"),
    "/health",
    "/metrics/",
    "/metrics?name[]=vllm:num_requests_waiting",
    "/Metrics",
    "//metrics",
    "/./metrics",
    "/%6detrics",
    "http://127.0.0.1/metrics",
    "*",
]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
def test_every_other_target_and_method_is_404_with_or_without_the_key(metrics_port, method):
    front, upstream = metrics_port
    body = b'{"prompt": "hi"}' if method in ("POST", "PUT", "PATCH") else None
    for target in OTHER_TARGETS:
        for headers in ({}, {"Authorization": f"Bearer {KEY}"}, {"Host": "localhost/metrics?"}):
            status, _, answer = call(front, method, target, headers, body)
            assert status == 404 and b"completion" not in answer, (target, headers)
    assert upstream.seen == []  # not a byte reached vLLM


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "BREW"])
def test_only_get_reaches_metrics(metrics_port, method):
    front, upstream = metrics_port
    assert call(front, method, "/metrics", body=b"{}" if method == "POST" else None)[0] == 404
    assert upstream.seen == []


def test_an_answer_above_the_size_bound_is_not_relayed(metrics_port, monkeypatch):
    front, upstream = metrics_port
    assert 1 << 20 <= serve.MAX_METRICS_BYTES <= 64 << 20
    monkeypatch.setattr(serve, "MAX_METRICS_BYTES", len(EXPOSITION) - 1)  # the same bound, smaller
    status, _, body = call(front, "GET", "/metrics")
    assert status == 502 and EXPOSITION not in body


def test_an_upstream_that_does_not_answer_in_time_is_cut_off(metrics_port):
    front, upstream = metrics_port
    upstream.stall = 3.0  # longer than the gate's timeout of 1 s
    started = time.monotonic()
    status, _, body = call(front, "GET", "/metrics")
    assert status == 504 and EXPOSITION not in body
    assert time.monotonic() - started < 2.5


def test_an_upstream_that_trickles_its_answer_is_cut_off_at_the_deadline(monkeypatch):
    # Each byte arrives within the socket timeout; the whole answer does not arrive within the deadline.
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(OSError):  # the gate hangs up on it
            conn.recv(65536)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            for _ in range(40):
                conn.sendall(b"#")
                time.sleep(0.1)

    threading.Thread(target=trickle, daemon=True).start()
    front = serve.MetricsGate(("127.0.0.1", 0), listener.getsockname(), timeout=1)
    with running(front), listener:
        started = time.monotonic()
        assert call(front, "GET", "/metrics")[0] == 504
        assert time.monotonic() - started < 3


def test_a_model_server_still_loading_is_a_clean_503():
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as placeholder:
        closed_port = placeholder.server_port  # nothing listens there once the block ends
    front = serve.MetricsGate(("127.0.0.1", 0), ("127.0.0.1", closed_port), timeout=2)
    with running(front):
        assert call(front, "GET", "/metrics")[0] == 503


def test_a_scraper_that_never_finishes_its_request_is_cut_off(metrics_port, monkeypatch):
    assert 0 < serve._MetricsHandler.timeout <= 30
    monkeypatch.setattr(serve._MetricsHandler, "timeout", 0.2)  # the same mechanism, quicker
    front, upstream = metrics_port
    with socket.create_connection(("127.0.0.1", front.server_port), timeout=5) as client:
        client.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the blank line that ends it
        started = time.monotonic()
        assert client.recv(1024) == b""
        assert time.monotonic() - started < 3
    assert upstream.seen == []


def test_the_metrics_port_is_none_that_a_platform_or_the_gate_claims():
    # 8000 the gate (and vLLM's own, behind EAS), 8100 vLLM on loopback, 8080 and 9090 EAS reserves, 9000 FC's
    # default CAPort (../shared/reference/weights-fc-eas.md).
    assert serve.METRICS_PORT not in (8000, serve.UPSTREAM_PORT, 8080, 9090, 9000)
    assert serve.metrics_port({"PORT": "8000"}) == serve.METRICS_PORT
    for clash in ("8000", str(serve.UPSTREAM_PORT)):
        with pytest.raises(SystemExit, match="METRICS_PORT"):
            serve.metrics_port({"PORT": "8000", "METRICS_PORT": clash})


# --- the chart: the port is named, annotated, kept off the Services and admitted from inside only -----------------


def stack_settings(stack: str, overrides: dict[str, Any] | None = None):
    config = with_overrides(load_stack_config(stack), overrides)
    return parse_settings(load_project_schema(), stack, config.values, frozenset(config.secret_keys))


INTERNET = {
    "ackExposure": "internet",
    "servingAllowedCidrs": ["203.0.113.0/24", "198.51.100.7/32"],
    "servingTlsCertId": "12345-test-1",
}


def internet_overrides(stack: str) -> dict[str, Any]:
    """Internet exposure, with the ICP licence a mainland region needs for it."""
    region = load_stack_config(stack).values["alicloud:region"]
    return {**INTERNET, "icpLicence": "京ICP备12345678号"} if residency.is_mainland_region(region) else dict(INTERNET)


def release_cases() -> list[tuple[str, bool]]:
    return [(stack, internet) for stack in stacks_on("ack") for internet in (False, True)]


def values_of(stack: str, internet: bool, scale_to_zero: bool | None = None) -> list[dict[str, Any]]:
    """The values beacon-fleet computes for each model of the stack: registered by the shipped stack's program, or
    (internet exposure, or the other scaling mode) computed by the same function with placeholder cloud inputs."""
    if not internet and scale_to_zero is None:
        return [r.inputs["values"] for r in model_releases(settled_ok(shared_synthesis(stack)))]
    overrides = internet_overrides(stack) if internet else {}
    if scale_to_zero is not None:
        overrides["minReplicasPerModel"] = 0 if scale_to_zero else 1
    settings = stack_settings(stack, overrides)
    cloud = inference_chart.CloudValues(
        image="registry-vpc.example.aliyuncs.com/beacon/inference-server@sha256:" + "0" * 64,
        bucket="beacon-models",
        load_balancer_id="lb-test",
        acl_id="acl-test" if internet else "",
        load_balancer_address="10.1.2.3",
        port=443 if internet else 80,
    )
    return [
        inference_chart.with_cloud_values(inference_chart.release_values(settings, model, "role"), cloud)
        for model in settings.models
    ]


def container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (only,) = kind(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    return only


def metrics_container_port(manifests: list[dict[str, Any]]) -> int:
    (port,) = [p["containerPort"] for p in container(manifests)["ports"] if p["name"] == "metrics"]
    return port


@pytest.mark.parametrize(("stack", "internet"), release_cases())
def test_the_scrape_annotations_point_at_the_gates_metrics_port(stack, internet):
    for values in values_of(stack, internet):
        manifests = render(values, "metrics-check")
        template = kind(manifests, "Deployment")["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        port = metrics_container_port(manifests)
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"
        env = {e["name"]: e.get("value") for e in container(manifests)["env"]}
        assert serve.metrics_port(env) == port == serve.METRICS_PORT  # the gate listens where the chart says
        assert port != int(env["PORT"])


@pytest.mark.parametrize(("stack", "internet"), release_cases())
@pytest.mark.parametrize("scale_to_zero", [True, False])
def test_no_service_exposes_the_metrics_port(stack, internet, scale_to_zero):
    for values in values_of(stack, internet, scale_to_zero):
        manifests = render(values, "metrics-check")
        port = metrics_container_port(manifests)
        services = [m for m in manifests if m["kind"] == "Service"]
        assert services and len(services) == (2 if scale_to_zero else 1)
        for service in services:
            for entry in service["spec"]["ports"]:
                assert entry["port"] != port and entry.get("targetPort") not in ("metrics", port), service


def admits(rule: dict[str, Any], name: str, number: int) -> bool:
    """Whether an ingress rule admits this container port: a rule without ports admits every port."""
    ports = rule.get("ports")
    return not ports or any(p.get("port") in (name, number) for p in ports)


def cidrs(rule: dict[str, Any]) -> set[str]:
    return {peer["ipBlock"]["cidr"] for peer in rule.get("from") or [] if "ipBlock" in peer}


def internet_cidrs(settings) -> set[str]:
    return set(settings.ack_serving.allowed_cidrs) | {inference_chart.SLB_SOURCE_CIDR}


@pytest.mark.parametrize(("stack", "internet"), release_cases())
def test_the_network_policy_admits_the_metrics_port_from_inside_the_cluster_and_vpc_only(stack, internet):
    settings = stack_settings(stack, internet_overrides(stack) if internet else None)
    vpc = ipaddress.ip_network(settings.network.vpc_cidr)
    outside = internet_cidrs(settings)
    assert outside - {inference_chart.SLB_SOURCE_CIDR} or not internet
    for values in values_of(stack, internet):
        manifests = render(values, "metrics-check")
        port = metrics_container_port(manifests)
        policy = kind(manifests, "NetworkPolicy")["spec"]
        assert "Ingress" in policy["policyTypes"]
        rules = [rule for rule in policy["ingress"] if admits(rule, "metrics", port)]
        assert rules, "nothing may scrape the metrics port"
        for rule in rules:
            peers = rule.get("from")
            assert peers, "a rule without peers admits everyone"
            for peer in peers:
                if "ipBlock" in peer:
                    cidr = ipaddress.ip_network(peer["ipBlock"]["cidr"])
                    assert cidr.subnet_of(vpc) and str(cidr) not in outside, peer
                else:
                    # Terway, like Cilium, matches no pod of the cluster by ipBlock (AliyunContainerService/terway
                    # #904): in-cluster scrapers are admitted by selector, which names no address at all.
                    assert "namespaceSelector" in peer, peer
        # And the rule that admits the callers' CIDRs admits the serving port only.
        callers = [rule for rule in policy["ingress"] if cidrs(rule) & outside]
        assert callers and all(not admits(rule, "metrics", port) for rule in callers)


def test_the_schema_refuses_a_policy_that_would_open_either_port_to_everyone():
    values = values_of(stacks_on("ack")[0], internet=False)[0]
    policy = values["networkPolicy"]
    with helm.Chart.load(inference_chart.CHART_PATH) as chart:
        chart.validate_schema(values)
        # An ingress rule with no source admits every source: the serving port's list may not be empty.
        with pytest.raises(helm.HelmValuesError, match="allowedCidrs"):
            chart.validate_schema({**values, "networkPolicy": {**policy, "allowedCidrs": []}})
        for everyone in ("0.0.0.0/0", inference_chart.SLB_SOURCE_CIDR):
            with pytest.raises(helm.HelmValuesError, match="metricsAllowedCidrs"):
                chart.validate_schema({**values, "networkPolicy": {**policy, "metricsAllowedCidrs": [everyone]}})
        with pytest.raises(helm.HelmValuesError, match="metricsNamespaceSelector"):
            chart.validate_schema({**values, "networkPolicy": {**policy, "metricsNamespaceSelector": {"app": "x"}}})


def test_a_narrower_scraper_selector_is_rendered_as_given():
    values = values_of(stacks_on("ack")[0], internet=False)[0]
    selector = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    values = {**values, "networkPolicy": {**values["networkPolicy"], "metricsNamespaceSelector": selector}}
    manifests = render(values, "metrics-check")
    port = metrics_container_port(manifests)
    (rule,) = [r for r in kind(manifests, "NetworkPolicy")["spec"]["ingress"] if admits(r, "metrics", port)]
    assert {"namespaceSelector": selector} in rule["from"]
