"""No serving endpoint reachable from outside its VPC answers any path without its credential (issue 27, item 4).

vLLM checks its key only under /v1 (and, before 0.22.0, not even there against a crafted Host header:
GHSA-94f4-hr76-p5j6), so the serving image puts `AuthGate` (images/inference-server/serve.py) in front of it on
ACK and FC. The gate is exercised here against a stand-in of vLLM that, like vLLM outside /v1, answers anything;
then each platform's rendered configuration is checked to put the gate (or EAS's gateway) in the way.
"""

from __future__ import annotations

import http.client
import importlib.util
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components.serving_image import BUILD_CONTEXT
from fleet import eas, serving
from fleet.config_schema import PROJECT_ROOT
from tests.loopback import running, send

KEY = "k3y-for-the-gate-0123456789"
PATHS = [
    "/invocations",
    "/tokenize",
    "/detokenize",
    "/pooling",
    "/metrics",
    "/score",
    "/rerank",
    "/classify",
    "/v1/chat/completions",
    "/v1/models",
    "/v2/embed",
    "/inference/v1/generate",
    "/",
    "/health/",
    "/health?x=1",
    "/%2e%2e/v1/models",
    "/HEALTH",
]


def load_serve():
    spec = importlib.util.spec_from_file_location("serve_gate", PROJECT_ROOT / BUILD_CONTEXT / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve = load_serve()


class FakeVllm(ThreadingHTTPServer):
    """Answers every path and method with a completion, as vLLM does outside /v1; records what reached it."""

    seen: list[tuple[str, str, dict[str, str]]]


def _vllm_handler(server: FakeVllm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            server.seen.append((self.command, self.path, dict(self.headers)))
            if self.path == "/stream":
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for part in (b"data: one\n\n", b"data: two\n\n"):
                    self.wfile.write(part)
                    self.wfile.flush()
                return
            body = b'{"choices": [{"text": "a completion"}]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer  # noqa: N815

        def log_message(self, *_args) -> None:
            return None

    return Handler


@pytest.fixture
def gate() -> Iterator[tuple[object, FakeVllm]]:
    upstream = FakeVllm(("127.0.0.1", 0), BaseHTTPRequestHandler)
    upstream.RequestHandlerClass = _vllm_handler(upstream)
    upstream.seen = []
    front = serve.AuthGate(("127.0.0.1", 0), KEY, ("127.0.0.1", upstream.server_port), timeout=5)
    with running(upstream, front):
        yield front, upstream


def call(front, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None):
    status, _headers, answer = send(front.server_port, method, path, headers, body)
    return status, answer


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", PATHS)
def test_no_path_answers_without_the_key(gate, method, path):
    front, upstream = gate
    status, body = call(front, method, path, body=b'{"prompt": "hi"}' if method == "POST" else None)
    assert status == 401 and b"completion" not in body
    assert upstream.seen == []  # not a byte reached vLLM


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {KEY}x"},
        {"Authorization": f"bearer {KEY}"},
        {"Authorization": KEY},
        {"Authorization": f"Bearer  {KEY}"},
        {"Host": "localhost/v1/models?"},  # GHSA-94f4-hr76-p5j6's trick
        {"Host": "localhost/v1/models?", "Authorization": "Bearer x"},
        {"X-Api-Key": KEY},
    ],
)
def test_a_wrong_key_or_a_host_trick_is_refused(gate, headers):
    front, upstream = gate
    assert call(front, "POST", "/invocations", headers, b"{}")[0] == 401
    assert upstream.seen == []


def test_two_authorization_headers_are_refused(gate):
    front, upstream = gate
    connection = http.client.HTTPConnection("127.0.0.1", front.server_port, timeout=5)
    connection.putrequest("GET", "/metrics")
    connection.putheader("Authorization", "Bearer wrong")
    connection.putheader("Authorization", f"Bearer {KEY}")
    connection.endheaders()
    assert connection.getresponse().status == 401
    connection.close()
    assert upstream.seen == []


def test_an_absolute_form_target_is_refused(gate):
    front, upstream = gate
    assert call(front, "GET", "http://evil.example/v1/models", {"Authorization": f"Bearer {KEY}"})[0] == 400
    assert upstream.seen == []


def test_with_the_key_every_path_reaches_vllm_under_the_gates_own_host(gate):
    front, upstream = gate
    headers = {"Authorization": f"Bearer {KEY}", "Host": "localhost/v1/models?"}
    status, body = call(front, "POST", "/v1/chat/completions", headers, b'{"model": "m"}')
    assert status == 200 and b"a completion" in body
    method, path, seen = upstream.seen[-1]
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert seen["Host"] == f"127.0.0.1:{upstream.server_port}"  # never the caller's
    assert seen["Authorization"] == f"Bearer {KEY}"  # vLLM's own check still applies under /v1


def test_a_streamed_answer_is_relayed(gate):
    front, _ = gate
    status, body = call(front, "GET", "/stream", {"Authorization": f"Bearer {KEY}"})
    assert status == 200 and body == b"data: one\n\ndata: two\n\n"


def test_the_health_probe_answers_its_status_only_and_passes_nothing_on(gate):
    front, upstream = gate
    status, body = call(front, "GET", "/health", {"Cookie": "session=x", "X-Forwarded-For": "1.2.3.4"})
    assert status == 200 and body == b""
    method, path, seen = upstream.seen[-1]
    assert (method, path) == ("GET", "/health") and "Cookie" not in seen and "X-Forwarded-For" not in seen


def test_an_oversized_or_unsized_body_is_refused_before_vllm(gate):
    front, upstream = gate
    connection = http.client.HTTPConnection("127.0.0.1", front.server_port, timeout=5)
    connection.putrequest("POST", "/v1/completions")
    connection.putheader("Authorization", f"Bearer {KEY}")
    connection.putheader("Content-Length", str(serve.MAX_REQUEST_BYTES + 1))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()
    assert upstream.seen == []


# --- per platform: the rendered configuration puts the gate (or EAS's gateway) in the way --------------------


def assert_gated_on(environ: dict[str, str], exposed_ports: set[int]) -> None:
    """serve.py runs vLLM on loopback behind the gate, which listens on the one port the platform exposes."""
    assert serve.gated(environ) and environ.get("VLLM_API_KEY")
    argv = serve.command({**environ, "MODEL_DIR": environ.get("MODEL_DIR") or "/m"})
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == str(serve.UPSTREAM_PORT)
    assert exposed_ports == {int(environ.get("PORT", "8000"))} and serve.UPSTREAM_PORT not in exposed_ports


def test_ack_pods_serve_only_through_the_gate():
    from tests.test_inference_chart import kind, render, sample_values

    manifests = render(sample_values(), "gate-check")
    container = kind(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    environ = {e["name"]: e.get("value", "from-secret" if "valueFrom" in e else "") for e in container["env"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    # The gate's metrics port answers GET /metrics only, keyless, and no Service names it (test_serving_metrics.py).
    assert ports.pop("metrics") == serve.metrics_port(environ)
    assert_gated_on(environ, set(ports.values()))
    # Every Service that reaches the model's pods targets the named container port: the gate's. (Scaling to zero, the
    # load balancer's Service selects the HTTP add-on's interceptor in its own namespace, which forwards to these.)
    own = [m for m in manifests if m["kind"] == "Service" and "namespace" not in m["metadata"]]
    assert own and {p["targetPort"] for m in own for p in m["spec"]["ports"]} == {"http"}
    for service in (m for m in manifests if m["kind"] == "Service" and m not in own):
        assert service["spec"]["selector"] != kind(manifests, "Deployment")["spec"]["selector"]["matchLabels"]


def test_fc_functions_serve_only_through_the_gate_behind_their_anonymous_trigger():
    import json

    from tests import test_fc

    region = test_fc.fc_region.__wrapped__()
    for function in test_fc._revealed(region.of_type(test_fc.FUNCTION)):
        environ = function.inputs["environmentVariables"]
        port = function.inputs["customContainerConfig"]["port"]
        assert_gated_on(environ, {port})
    triggers = [json.loads(t.inputs["triggerConfig"]) for t in region.of_type(test_fc.TRIGGER)]
    assert {t["authType"] for t in triggers} == {"anonymous"}  # FC checks nothing: the gate is the check


def test_eas_services_are_reached_only_through_the_eas_gateway_which_checks_the_token():
    # EAS's endpoints are the gateway's (`<uid>.<region>.pai-eas.aliyuncs.com/api/predict/<service>`, with the
    # service token in Authorization: ../shared/reference/alibaba.md §PAI-EAS), for every path of the service.
    plan = eas.EasServicePlan("beacon_x", "m", "fp16", "ecs.gn6i-c4g1.xlarge", 0, 1, 5, 4096, 8, "b", "o", True)
    placement = eas.EasPlacement("reg-vpc/ns/repo@sha256:abc", "vpc-1", "vsw-1", "sg-1")
    document = eas.service_config(plan, placement)
    environ = {e["name"]: e["value"] for e in document["containers"][0]["env"]}
    assert not serve.gated(environ) and environ["AUTH_AT_GATEWAY"] == "eas"
    assert "token" not in document  # EAS generates it and its gateway checks it
    assert document["containers"][0]["port"] == serving.SERVING_PORT


def test_vllm_behind_the_gate_uses_no_port_a_platform_claims():
    assert serve.UPSTREAM_PORT not in (serving.SERVING_PORT, 8080, 9090)  # EAS reserves 8080 and 9090


def test_a_model_server_still_loading_makes_the_probe_fail_cleanly():
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as placeholder:
        closed_port = placeholder.server_port  # nothing listens there once the block ends
    front = serve.AuthGate(("127.0.0.1", 0), KEY, ("127.0.0.1", closed_port), timeout=2)
    with running(front):
        assert call(front, "GET", "/health")[0] == 503
        assert call(front, "GET", "/metrics")[0] == 401  # refused before the upstream is even tried


def test_a_client_that_never_finishes_its_request_is_cut_off(gate, monkeypatch):
    # Behind FC's anonymous trigger anyone may connect; one that trickles its request must not hold a thread.
    import socket
    import time

    assert isinstance(serve._GateHandler.timeout, (int, float)) and 0 < serve._GateHandler.timeout <= 60
    monkeypatch.setattr(serve._GateHandler, "timeout", 0.2)  # the same mechanism, quicker
    front, upstream = gate
    with socket.create_connection(("127.0.0.1", front.server_port), timeout=5) as client:
        client.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")  # and never the blank line that ends it
        started = time.monotonic()
        assert client.recv(1024) == b""  # the gate closed the connection
        assert time.monotonic() - started < 3
    assert upstream.seen == []
