"""The probe against local fake OpenAI-compatible servers on loopback: healthy, slow, failing, rejecting."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleet import router_config
from probe.run import auth_headers, load_prompts, main, percentile, run_probe

KEY = "sk-test-key"


class FakeOpenAI(ThreadingHTTPServer):
    """One behaviour per server: healthy, slow, failing, rejecting, or answering as another model."""

    daemon_threads = True

    def __init__(self, behaviour: str, served: str = "llama3.2-1b"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour, self.served = behaviour, served
        self.requests: list[dict] = []
        self.headers_seen: list[dict] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, *_args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        self.server.headers_seen.append(dict(self.headers))
        behaviour = self.server.behaviour
        if self.path != "/v1/chat/completions":
            return self._reply(404, {"error": "not found"})
        if behaviour == "rejecting" or self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._reply(401, {"error": {"message": "invalid api key"}})
        if behaviour == "failing":
            return self._reply(500, {"error": {"message": "CUDA out of memory"}})
        if behaviour == "slow":
            time.sleep(1.0)
        model = "some-other-model" if behaviour == "impostor" else self.server.served
        answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}}]}
        return self._reply(200, {"object": "chat.completion", "model": model, **answer})

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the probe gave up on a slow answer
            pass


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, FakeOpenAI]]:
    running = {name: FakeOpenAI(name) for name in ("healthy", "slow", "failing", "rejecting", "impostor")}
    for server in running.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield running
    for server in running.values():
        server.shutdown()
        server.server_close()


def provider(base_url: str, env: str, network: str = "internet") -> dict:
    return {
        "name": f"fake {env}",
        "region": "us-east",
        "endpoint": base_url,
        "type": "ack",
        "models": ["llama3.2-1b"],
        "auth": {"type": "bearer", "env": env},
        "health_check": base_url.removesuffix("/v1") + "/health",
        "timeout": 120,
        "cloud_region": "us-east-1",
        "jurisdiction": "us",
        "base_url": base_url,
        "health": {"mode": "active", "url": base_url.removesuffix("/v1") + "/health", "wakes_backend": False},
        "network": network,
        "cross_border": False,
    }


def config_for(servers: dict[str, FakeOpenAI]) -> dict:
    providers = {name: provider(s.base_url, f"{name.upper()}_KEY") for name, s in servers.items()}
    providers["private"] = provider("http://10.0.0.1/v1", "PRIVATE_KEY", network="vpc")
    return {
        "version": 1,
        "regions": {
            "us-east": {
                "label": "us-east",
                "cloud_region": "us-east-1",
                "jurisdiction": "us",
                "residency_bound": False,
                "allow_cross_border_failover": False,
                "failover_order": ["ack"],
            }
        },
        "providers": providers,
        "routes": {"us-east": {"llama3.2-1b": sorted(providers)}},
    }


ENVIRON = {f"{name.upper()}_KEY": KEY for name in ("healthy", "slow", "failing", "impostor")} | {
    "REJECTING_KEY": "sk-revoked"
}


@pytest.fixture(scope="module")
def results(servers):
    config = config_for(servers)
    progress = io.StringIO()
    found = run_probe(config, load_prompts(), requests=3, timeout=0.3, environ=ENVIRON, progress=progress)
    return {r.provider: r for r in found}, progress.getvalue(), servers


def test_a_healthy_provider_passes_with_latency_percentiles_and_the_expected_model(results):
    by_provider, _, servers = results
    healthy = by_provider["healthy"]
    assert (healthy.status, healthy.ok, healthy.requests, healthy.expected_model) == ("passed", 3, 3, True)
    assert 0 < healthy.p50_ms <= healthy.p95_ms < 300
    sent = servers["healthy"].requests[0]  # the module's first probe run
    assert sent["model"] == "llama3.2-1b" and sent["max_tokens"] == 16 and sent["temperature"] == 0
    assert servers["healthy"].headers_seen[0]["Authorization"] == f"Bearer {KEY}"


def test_a_slow_provider_fails_on_the_bounded_timeout(results):
    slow = results[0]["slow"]
    assert slow.status == "failed" and slow.outcomes == {"timeout": 3} and slow.p50_ms is None


def test_a_failing_provider_fails_with_its_server_errors(results):
    failing = results[0]["failing"]
    assert failing.status == "failed" and failing.outcomes == {"server-error": 3}


def test_a_provider_rejecting_the_key_fails_as_rejected(results):
    rejecting = results[0]["rejecting"]
    assert rejecting.status == "failed" and rejecting.outcomes == {"rejected-key": 3}


def test_an_answer_from_another_model_is_a_failure_that_names_it(results):
    impostor = results[0]["impostor"]
    assert impostor.status == "failed" and impostor.expected_model is False
    assert "some-other-model" in impostor.detail


def test_vpc_only_providers_are_skipped_not_called(results):
    private = results[0]["private"]
    assert private.status == "skipped" and private.requests == 0


def test_progress_reaches_every_request(results):
    _, progress, _ = results
    assert progress.rstrip().endswith("18/18 requests")  # 6 providers x 3 requests, skipped ones counted


def test_the_command_exits_non_zero_and_writes_a_json_report(servers, tmp_path, capsys):
    path = tmp_path / "router-config.json"
    path.write_text(router_config.to_json(config_for(servers)), encoding="utf-8")
    report = tmp_path / "probe.json"
    argv = ["--config", str(path), "--requests", "2", "--timeout", "0.3", "--json", str(report)]
    assert main(argv, environ=ENVIRON) == 1
    printed = capsys.readouterr().out
    assert "1 passed, 4 failed, 1 skipped" in printed
    document = json.loads(report.read_text())
    assert {r["provider"]: r["status"] for r in document["results"]}["healthy"] == "passed"
    assert KEY not in report.read_text() and KEY not in printed


def test_the_command_passes_when_every_probed_provider_passes(servers, tmp_path, capsys):
    path = tmp_path / "router-config.json"
    path.write_text(router_config.to_json(config_for(servers)), encoding="utf-8")
    assert main(["--config", str(path), "--provider", "healthy", "--requests", "1"], environ=ENVIRON) == 0


def test_a_missing_credential_fails_the_provider_without_calling_it(servers, tmp_path):
    path = tmp_path / "router-config.json"
    path.write_text(router_config.to_json(config_for(servers)), encoding="utf-8")
    before = len(servers["healthy"].requests)
    assert main(["--config", str(path), "--provider", "healthy", "--requests", "1"], environ={}) == 1
    assert len(servers["healthy"].requests) == before


def test_a_file_that_is_not_a_router_config_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "not-a-config.json"
    path.write_text('{"version": 2}', encoding="utf-8")
    assert main(["--config", str(path)], environ={}) == 2
    assert "is not a router config" in capsys.readouterr().err


def test_auth_headers_follow_each_auth_type():
    env = {"T": "tok", "K": "wk-1", "S": "ws-1"}
    assert auth_headers({"type": "eas_token", "env": "T"}, env) == ({"Authorization": "tok"}, [])
    assert auth_headers({"type": "bearer", "env": "T"}, env) == ({"Authorization": "Bearer tok"}, [])
    assert auth_headers({"type": "modal_proxy", "key_env": "K", "secret_env": "S"}, env) == (
        {"Modal-Key": "wk-1", "Modal-Secret": "ws-1"},
        [],
    )
    assert auth_headers({"type": "bearer", "env": "NOPE"}, env) == ({}, ["NOPE"])


def test_percentiles_are_nearest_rank():
    assert percentile([0.1, 0.2, 0.3, 0.4], 0.5) == 0.2
    assert percentile([float(i) for i in range(1, 21)], 0.95) == 19.0
    assert percentile([], 0.5) is None
