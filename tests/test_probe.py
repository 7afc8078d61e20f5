"""The probe against local fake OpenAI-compatible servers on loopback: healthy, slow, failing, rejecting."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleet import router_config
from probe.command import main
from probe.run import auth_headers, auth_problem, load_prompts, percentile, run_probe
from tests import loopback

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
    fakes = {name: FakeOpenAI(name) for name in ("healthy", "slow", "failing", "rejecting", "impostor")}
    with loopback.running(*fakes.values()):
        yield fakes


def provider(base_url: str, region: str, network: str = "internet") -> dict:
    """An ACK entry as fleet/router_config.py writes it; the region label names its credential."""
    return {
        "name": f"fake {region}",
        "region": region,
        "endpoint": base_url,
        "type": "ack",
        "models": ["llama3.2-1b"],
        "auth": {"type": "bearer", "env": key_env(region)},
        "health_check": base_url.removesuffix("/v1") + "/health",
        "timeout": 120,
        "cloud_region": "us-east-1",
        "jurisdiction": "us",
        "base_url": base_url,
        "health": {"mode": "active", "url": base_url.removesuffix("/v1") + "/health", "wakes_backend": False},
        "network": network,
        "cross_border": False,
    }


def key_env(region: str) -> str:
    return router_config.env_name(region, "ACK", "llama3.2-1b", "KEY")


def config_for(servers: dict[str, FakeOpenAI]) -> dict:
    providers = {name: provider(s.base_url, name) for name, s in servers.items()}
    providers["private"] = provider("http://10.0.0.1/v1", "private", network="vpc")
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


ENVIRON = {key_env(name): KEY for name in ("healthy", "slow", "failing", "impostor")} | {
    key_env("rejecting"): "sk-revoked"
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


def test_the_progress_bar_counts_only_requests_actually_sent(results):
    _, progress, _ = results
    # 5 probed providers x 3 requests; the VPC-only provider sends nothing and is not counted.
    assert progress.rstrip().endswith("15/15 requests")
    assert "/18" not in progress


def test_a_provider_without_its_credential_adds_nothing_to_the_progress_bar(servers):
    config = config_for(servers)
    progress = io.StringIO()
    only = ("healthy", "failing")
    environ = {key_env("healthy"): KEY}  # failing's key is missing: it is not called
    run_probe(config, load_prompts(), requests=2, timeout=0.3, environ=environ, only=only, progress=progress)
    assert progress.getvalue().rstrip().endswith("2/2 requests")


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


# --- Hostile or broken servers: one loopback server per test, with one scripted answer. ---------------------


class Scripted(ThreadingHTTPServer):
    """Answers every request with `answer(handler)` and records each request's method, path and headers."""

    daemon_threads = True

    def __init__(self, answer):
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)
        self.answer = answer
        self.seen: list[tuple[str, str, dict]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _ScriptedHandler(BaseHTTPRequestHandler):
    server: Scripted

    def log_message(self, *_args) -> None:
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        # The probe may hang up, as it should on a slow answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.server.answer(self)

    do_GET = do_POST = do_PUT = _any  # noqa: N815 - http.server's method names


@pytest.fixture
def scripted():
    started: list[Scripted] = []

    def start(answer) -> Scripted:
        started.append(loopback.start(Scripted(answer)))
        return started[-1]

    yield start
    loopback.stop(*started)


def completion(model: str = "llama3.2-1b") -> bytes:
    return json.dumps({"model": model, "choices": [{"message": {"content": "Paris"}}]}).encode()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(headers.pop("length", len(body))))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def probe_one(server: Scripted, timeout: float = 2.0, requests: int = 1, **overrides):
    """Probe one provider backed by `server`; returns its result and the printed report."""
    entry = {**provider(server.base_url, "us-east"), **overrides}
    config = {**config_for({}), "providers": {"target": entry}}
    environ = {key_env("us-east"): KEY}
    (result,) = run_probe(config, load_prompts(), requests, timeout, environ, progress=io.StringIO())
    return result


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_never_receives_the_key(scripted, status):
    thief = scripted(lambda h: send(h, 200, completion()))
    location = thief.base_url + "/chat/completions"
    redirector = scripted(lambda h: send(h, status, b"{}", Location=location))
    result = probe_one(redirector)
    assert thief.seen == []  # nothing at all reached the other host, so no Authorization either
    assert result.status == "failed" and result.outcomes == {"redirected": 1}


def test_an_answer_that_is_not_utf8_is_a_failed_request_not_a_crash(scripted):
    server = scripted(lambda h: send(h, 200, b'{"model": "llama\xff\xfe", "choices": [1]}'))
    assert probe_one(server).outcomes == {"bad-answer": 1}


def test_a_body_cut_short_of_its_content_length_is_a_failed_request_not_a_crash(scripted):
    server = scripted(lambda h: send(h, 200, completion()[:20], length="400"))
    assert probe_one(server).outcomes == {"bad-answer": 1}


def test_a_broken_status_line_is_a_failed_request_not_a_crash(scripted):
    def garbage(handler):
        handler.wfile.write(b"SSH-2.0-OpenSSH_9.6 not http at all\r\n\r\n")

    assert probe_one(scripted(garbage)).outcomes == {"bad-answer": 1}


def test_an_answer_trickling_past_the_timeout_is_cut_off_at_the_deadline(scripted):
    body = completion()

    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body[:60]:  # one byte every 50 ms: each read is quick, the whole answer takes 3 s
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.05)

    started = time.monotonic()
    result = probe_one(scripted(trickle), timeout=0.4)
    assert result.outcomes == {"timeout": 1}
    assert time.monotonic() - started < 1.5


def test_terminal_escapes_in_a_servers_model_name_are_shown_escaped_never_sent_to_the_terminal(
    scripted, tmp_path, capsys
):
    hostile = "\x1b]0;pwned\x07\x1b[2J\x1b[1A\rllama\u202e"
    server = scripted(lambda h: send(h, 200, completion(hostile)))
    path = tmp_path / "router-config.json"
    config = {**config_for({}), "providers": {"target": provider(server.base_url, "us-east")}}
    path.write_text(router_config.to_json(config), encoding="utf-8")
    assert main(["--config", str(path), "--requests", "1"], environ={key_env("us-east"): KEY}) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned\\x07" in out  # still visible, for the one investigating


# --- Which environment variables the probe may read ----------------------------------------------------------


class RecordingEnviron(dict):
    """An environment that remembers every name looked up."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


@pytest.mark.parametrize(
    ("kind", "region", "auth"),
    [
        ("ack", "us-east", {"type": "bearer", "env": "HOME"}),
        ("ack", "us-east", {"type": "bearer", "env": "PATH"}),
        # The region's prefix alone is no proof: region "aws" would make this look like its own variable.
        ("ack", "aws", {"type": "bearer", "env": "AWS_SECRET_ACCESS_KEY"}),
        # Another provider type's secret, or another region's, must not go to this provider's host.
        ("ack", "us-east", {"type": "bearer", "env": "US_EAST_MODAL_SECRET"}),
        ("alibaba_eas", "us-east", {"type": "eas_token", "env": "ASIA_EAST_EAS_LLAMA3_2_1B_TOKEN"}),
        ("modal", "us-east", {"type": "modal_proxy", "key_env": "US_EAST_MODAL_KEY", "secret_env": "GITHUB_TOKEN"}),
        # The right name under the wrong auth type would send the key in another header.
        ("alibaba_eas", "us-east", {"type": "bearer", "env": "US_EAST_EAS_LLAMA3_2_1B_TOKEN"}),
    ],
)
def test_a_config_naming_a_variable_that_is_not_the_providers_own_never_reads_or_sends_it(scripted, kind, region, auth):
    server = scripted(lambda h: send(h, 200, completion()))
    entry = {**provider(server.base_url, region), "type": kind, "auth": auth, "timeout": 100}
    config = {**config_for({}), "providers": {"target": entry}}
    names = [v for k, v in auth.items() if k.endswith("env")]
    environ = RecordingEnviron({name: "a-value-that-must-not-leave" for name in names})
    (result,) = run_probe(config, load_prompts(), 1, 2.0, environ, progress=io.StringIO())
    assert server.seen == []
    assert environ.read == set()
    assert result.status == "failed" and "not read" in result.detail


@pytest.mark.parametrize(
    ("kind", "auth"),
    [
        ("ack", {"type": "bearer", "env": "US_EAST_ACK_LLAMA3_2_1B_KEY"}),
        ("alibaba_eas", {"type": "eas_token", "env": "US_EAST_EAS_LLAMA3_2_1B_TOKEN"}),
        ("runpod", {"type": "bearer", "env": "US_EAST_RUNPOD_API_KEY"}),
        ("modal", {"type": "modal_proxy", "key_env": "US_EAST_MODAL_KEY", "secret_env": "US_EAST_MODAL_SECRET"}),
    ],
)
def test_the_variables_the_router_config_generator_names_are_accepted(kind, auth):
    entry = {**provider("https://example.invalid/v1", "us-east"), "type": kind, "auth": auth}
    assert auth_problem(entry) == ""


# --- Usage errors: exit 2, one line, never a traceback ---------------------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


PROMPT_FILE_PROBLEMS = {
    "missing": None,
    "a directory": "DIR",
    "not JSON": "{prompts:",
    "not UTF-8": b'{"prompts": "\xff\xfe"}',
    "a list, not an object": "[1, 2]",
    "no prompts key": '{"version": 1}',
    "empty prompts": '{"prompts": []}',
    "a prompt without messages": '{"prompts": [{"id": "x"}]}',
    "messages that are a string": '{"prompts": [{"messages": "hello"}]}',
    "a message without content": '{"prompts": [{"messages": [{"role": "user"}]}]}',
    "nested too deeply for the parser": _nested(100_000),
}


def _write(path, content) -> None:
    if content == "DIR":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")


def _assert_one_line_usage_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("problem", sorted(PROMPT_FILE_PROBLEMS))
def test_a_prompt_file_that_cannot_be_used_is_a_one_line_usage_error(servers, tmp_path, capsys, problem):
    config = tmp_path / "router-config.json"
    config.write_text(router_config.to_json(config_for(servers)), encoding="utf-8")
    prompts = tmp_path / "prompts.json"
    _write(prompts, PROMPT_FILE_PROBLEMS[problem])
    assert main(["--config", str(config), "--prompts", str(prompts)], environ=ENVIRON) == 2
    _assert_one_line_usage_error(capsys)


@pytest.mark.parametrize(
    "problem", ["missing", "a directory", "not JSON", "not UTF-8", "nested too deeply for the parser"]
)
def test_a_config_file_that_cannot_be_used_is_a_one_line_usage_error(tmp_path, capsys, problem):
    config = tmp_path / "router-config.json"
    _write(config, PROMPT_FILE_PROBLEMS[problem])
    assert main(["--config", str(config)], environ={}) == 2
    _assert_one_line_usage_error(capsys)


def test_a_config_whose_schema_errors_carry_escapes_and_newlines_is_reported_on_one_clean_line(tmp_path, capsys):
    config = tmp_path / "router-config.json"
    config.write_text(json.dumps({"version": "\x1b[2J\nfake line"}), encoding="utf-8")
    assert main(["--config", str(config)], environ={}) == 2
    assert "\x1b" not in _assert_one_line_usage_error(capsys)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_prompt_file_is_a_one_line_usage_error(servers, tmp_path, capsys):
    config = tmp_path / "router-config.json"
    config.write_text(router_config.to_json(config_for(servers)), encoding="utf-8")
    prompts = tmp_path / "prompts.json"
    prompts.write_text('{"prompts": []}', encoding="utf-8")
    prompts.chmod(0)
    assert main(["--config", str(config), "--prompts", str(prompts)], environ=ENVIRON) == 2
    _assert_one_line_usage_error(capsys)


@pytest.mark.parametrize(
    "argv",
    [["--requests", "many"], ["--timeout", "soon"], ["--no-such-flag"], ["--json", "/nonexistent-dir/report.json"]],
)
def test_a_bad_command_line_is_a_one_line_usage_error(servers, tmp_path, capsys, argv):
    config = tmp_path / "router-config.json"
    config.write_text(router_config.to_json(config_for(servers)), encoding="utf-8")
    try:
        code = main(["--config", str(config), *argv], environ=ENVIRON)
    except SystemExit as exited:  # argparse's own errors
        code = exited.code
    assert code == 2
    _assert_one_line_usage_error(capsys)


@pytest.mark.parametrize(
    "trick", ["http://localhost:1@{host}/v1", "http://localhost:@{host}/v1", "http://x:y@{host}/v1"]
)
def test_a_loopback_look_alike_with_user_info_is_refused_before_any_key_is_sent(servers, tmp_path, capsys, trick):
    # The host is what the URL parses to, not what it starts with: here the key would go to {host}.
    healthy = servers["healthy"]
    config = config_for({"healthy": healthy})
    url = trick.format(host=f"127.0.0.1:{healthy.server_address[1]}")
    config["providers"]["healthy"].update(base_url=url, endpoint=url)
    path = tmp_path / "router-config.json"
    path.write_text(router_config.to_json(config), encoding="utf-8")
    before = len(healthy.requests)
    assert main(["--config", str(path), "--provider", "healthy", "--requests", "1"], environ=ENVIRON) == 2
    assert "is not a router config" in capsys.readouterr().err
    assert len(healthy.requests) == before
