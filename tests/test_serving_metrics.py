"""vLLM's /metrics is scrapeable on ACK without the key, and without opening the serving port to anyone.

The gate (images/inference-server/serve.py) answers `GET /metrics` on a port of its own, proxied to vLLM's
loopback /metrics, and 404 to everything else there; the chart names that port, points the prometheus.io
annotations at it, keeps it off every Service (so no load balancer forwards to it) and admits it in the
NetworkPolicy from inside the cluster and the VPC only, never from the CIDRs allowed to call the model.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

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
    for server in (upstream, front):
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield front, upstream
    for server in (front, upstream):
        server.shutdown()
        server.server_close()


def call(front, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", front.server_port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


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


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_every_other_target_and_method_is_404_with_or_without_the_key(metrics_port, method):
    front, upstream = metrics_port
    body = b'{"prompt": "hi"}' if method in ("POST", "PUT", "PATCH") else None
    for target in OTHER_TARGETS:
        for headers in ({}, {"Authorization": f"Bearer {KEY}"}, {"Host": "localhost/metrics?"}):
            status, _, answer = call(front, method, target, headers, body)
            assert status == 404 and b"completion" not in answer, (target, headers)
    assert upstream.seen == []  # not a byte reached vLLM


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
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
    threading.Thread(target=front.serve_forever, args=(0.05,), daemon=True).start()
    try:
        started = time.monotonic()
        assert call(front, "GET", "/metrics")[0] == 504
        assert time.monotonic() - started < 3
    finally:
        front.shutdown()
        front.server_close()
        listener.close()


def test_a_model_server_still_loading_is_a_clean_503():
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as placeholder:
        closed_port = placeholder.server_port  # nothing listens there once the block ends
    front = serve.MetricsGate(("127.0.0.1", 0), ("127.0.0.1", closed_port), timeout=2)
    threading.Thread(target=front.serve_forever, args=(0.05,), daemon=True).start()
    try:
        assert call(front, "GET", "/metrics")[0] == 503
    finally:
        front.shutdown()
        front.server_close()


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
