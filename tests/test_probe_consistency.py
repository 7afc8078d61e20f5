"""The consistency check (python -m probe --consistency) against local stand-ins of vLLM-served endpoints.

Each stand-in answers like a vLLM OpenAI server for one model: chat completions with log-probabilities, the
model listing and /tokenize, every path behind the provider type's own credential. A variant stands for what
would make a bias measurement an artefact: other weights, another precision, another chat template.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fleet import router_config
from probe import consistency
from probe.consistency import Answer, Endpoint, choose_reference, compare
from probe.run import legitimate_auth, main

MODEL = "llama3.2-1b"
SECRET = "sk-consistency-test-key"
REVISION = {"revision": "9213176726f574b556790deb65791e0c5aa438b6", "digest": "sha256:" + "ab" * 32}


def scripted_tokens(prompt_text: str) -> list[str]:
    """The 'model': a fixed token sequence per prompt, the same on every stand-in of the same weights."""
    digest = hashlib.sha256(prompt_text.encode()).hexdigest()
    return [f"w{digest[i : i + 2]}" for i in range(0, 20, 2)]


class StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, variant: str, headers_required: dict[str, str]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.variant, self.required = variant, headers_required
        self.paths: list[str] = []
        self.bodies: list[dict] = []
        self.redirect_to = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *_args) -> None:
        pass

    def _authorised(self) -> bool:
        return all(self.headers.get(k) == v for k, v in self.server.required.items())

    def do_GET(self) -> None:  # noqa: N802
        self.server.paths.append(self.path)
        if not self._authorised():
            return self._reply(401, {"error": "unauthorised"})
        if self.path != "/v1/models":
            return self._reply(404, {"error": "not found"})
        length = 4096 if self.server.variant == "shorter-context" else 8192
        return self._reply(200, {"object": "list", "data": [{"id": MODEL, "max_model_len": length}]})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.paths.append(self.path)
        self.server.bodies.append(body)
        variant = self.server.variant
        if variant == "redirecting":
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if not self._authorised():
            return self._reply(401, {"error": "unauthorised"})
        if variant == "failing":
            return self._reply(500, {"error": "CUDA error"})
        text = json.dumps(body["messages"], sort_keys=True)
        if self.path == "/tokenize":
            if variant == "no-tokenize":
                return self._reply(404, {"error": "not found"})
            ids = [ord(c) for c in text[:40]]
            if variant == "other-template":
                ids = [1, 2, *ids]  # another template adds tokens around the same chat
            return self._reply(200, {"count": len(ids), "max_model_len": 8192, "tokens": ids})
        if self.path != "/v1/chat/completions":
            return self._reply(404, {"error": "not found"})
        return self._reply(200, self._completion(variant, scripted_tokens(text)))

    def _completion(self, variant: str, tokens: list[str]) -> dict:
        content = []
        for i, token in enumerate(tokens):
            chosen, logprob, rival, rival_logprob = token, -0.05, "alt", -3.0
            if variant == "other-weights" and i == 3:
                chosen, logprob, rival, rival_logprob = "wXX", -0.2, token, -2.9
            if variant in ("near-tie", "near-tie-flipped") and i == 5:
                # two candidates 0.02 apart; the flipped stand-in picks the other one, as another GPU may
                rival, rival_logprob, logprob = "wTIE", -0.71, -0.69
                if variant == "near-tie-flipped":
                    chosen, logprob, rival, rival_logprob = "wTIE", -0.69, token, -0.71
            if variant == "other-precision" and i == 2:
                logprob = -0.6  # the same token, but a distribution that noise does not explain
            top = [{"token": chosen, "logprob": logprob}, {"token": rival, "logprob": rival_logprob}]
            content.append({"token": chosen, "logprob": logprob, "top_logprobs": top})
        message = {"role": "assistant", "content": "".join(c["token"] for c in content)}
        choice = {"index": 0, "message": message, "finish_reason": "length"}
        if variant != "no-logprobs":
            choice["logprobs"] = {"content": content}
        return {"object": "chat.completion", "model": MODEL, "choices": [choice]}

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


# Every provider type the router config's schema knows: a new kind is checked here with no edit.
_SCHEMA = json.loads(router_config.SCHEMA_PATH.read_text(encoding="utf-8"))
TYPES = tuple(_SCHEMA["properties"]["providers"]["additionalProperties"]["properties"]["type"]["enum"])


def entry(pid: str, kind: str, region: str, network: str = "internet") -> tuple[dict, dict[str, str], dict]:
    """A provider entry of that type, the environment holding its credential, and the headers it must send."""
    known = legitimate_auth({"region": region, "models": [MODEL], "type": kind})
    assert known, f"the probe names no credential for provider type {kind}"
    auth = known[0]
    if auth["type"] == "modal_proxy":
        environ = {auth["key_env"]: "wk-" + SECRET, auth["secret_env"]: "ws-" + SECRET}
        required = {"Modal-Key": "wk-" + SECRET, "Modal-Secret": "ws-" + SECRET}
    else:
        environ = {auth["env"]: SECRET}
        required = {"Authorization": SECRET if auth["type"] == "eas_token" else f"Bearer {SECRET}"}
    provider = {
        "name": pid,
        "region": region,
        "endpoint": "http://placeholder/v1",
        "type": kind,
        "models": [MODEL],
        "auth": auth,
        "health_check": "http://placeholder/health",
        "timeout": 30,
        "cloud_region": "us-east-1",
        "jurisdiction": "us",
        "base_url": "http://placeholder/v1",
        "health": {"mode": "active", "url": "http://placeholder/health", "wakes_backend": False},
        "network": network,
        "cross_border": False,
        "weights": dict(REVISION),
    }
    return provider, environ, required


class Fleet:
    """Stand-ins started per test, stopped after; `config` is a router config over them."""

    def __init__(self) -> None:
        self.servers: dict[str, StandIn] = {}
        self.providers: dict[str, dict] = {}
        self.environ: dict[str, str] = {}

    def add(self, pid: str, variant: str = "same", kind: str = "ack", network: str = "internet") -> StandIn:
        provider, environ, required = entry(pid, kind, f"r-{pid}", network)
        server = StandIn(variant, required)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        provider["endpoint"] = provider["base_url"] = server.base_url
        provider["health_check"] = provider["health"]["url"] = server.base_url.removesuffix("/v1") + "/health"
        self.servers[pid], self.providers[pid] = server, provider
        self.environ.update(environ)
        return server

    def config(self, order: list[str] | None = None) -> dict:
        order = order or sorted(self.providers)
        regions = {
            p["region"]: {
                "label": p["region"],
                "cloud_region": "us-east-1",
                "jurisdiction": "us",
                "residency_bound": False,
                "allow_cross_border_failover": True,
                "failover_order": ["ack", "eas", "fc", "counterpart"],
            }
            for p in self.providers.values()
        }
        return {"version": 1, "regions": regions, "providers": self.providers, "routes": {"r-main": {MODEL: order}}}

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    running = Fleet()
    yield running
    running.stop()


def run_check(fleet: Fleet, order: list[str] | None = None, **kwargs) -> consistency.Report:
    _, prompts = consistency.load_prompts()
    options = {"timeout": 5.0, "deadline_seconds": 30.0} | kwargs
    return consistency.check(fleet.config(order), fleet.environ, prompts=prompts, **options)


def test_providers_of_every_type_that_answer_alike_agree(fleet):
    for index, kind in enumerate(TYPES):
        fleet.add(f"p{index}-{kind.replace('_', '-')}", kind=kind)
    report = run_check(fleet)
    verdict = report.verdicts[MODEL]
    assert verdict.verdict == "agree" and report.ok
    assert sorted(verdict.results.values()).count("agree") == len(TYPES) - 1
    fingerprints = {e.fingerprint for e in report.endpoints[MODEL]}
    assert len(fingerprints) == 1 and "" not in fingerprints
    for server in fleet.servers.values():
        sent = next(b for b in server.bodies if "max_tokens" in b)
        assert (sent["temperature"], sent["seed"], sent["logprobs"]) == (0, consistency.SEED, True)
        assert {"/v1/chat/completions", "/v1/models", "/tokenize"} <= set(server.paths)


def test_a_provider_serving_other_weights_is_named_with_the_first_differing_token(fleet):
    fleet.add("a-same")
    fleet.add("b-same")
    fleet.add("c-other", "other-weights")
    verdict = run_check(fleet).verdicts[MODEL]
    assert verdict.verdict == "disagree"
    assert verdict.results == {"a-same": "reference", "b-same": "agree", "c-other": "DISAGREE"}
    assert "token 3 is 'wXX'" in verdict.details["c-other"] and "not a near tie" in verdict.details["c-other"]
    assert verdict.reference_reason.startswith("the majority: 2 of 3")


def test_with_two_providers_the_reference_is_the_first_in_the_failover_order(fleet):
    fleet.add("a-first", "other-weights")
    fleet.add("b-second")
    verdict = run_check(fleet, order=["b-second", "a-first"]).verdicts[MODEL]
    assert verdict.reference == "b-second" and "first in the failover order" in verdict.reference_reason
    assert verdict.results["a-first"] == "DISAGREE"


def test_greedy_paths_that_part_at_a_near_tie_agree_within_the_tolerance(fleet):
    fleet.add("a-tie", "near-tie")
    fleet.add("b-flipped", "near-tie-flipped")
    report = run_check(fleet, order=["a-tie", "b-flipped"])
    assert report.verdicts[MODEL].results["b-flipped"] == "within tolerance" and report.ok
    strict = run_check(fleet, order=["a-tie", "b-flipped"], tolerance=0.0)
    assert strict.verdicts[MODEL].results["b-flipped"] == "DISAGREE" and not strict.ok


def test_the_same_tokens_with_a_shifted_distribution_disagree(fleet):
    fleet.add("a-fp16")
    fleet.add("b-other-precision", "other-precision")
    verdict = run_check(fleet, order=["a-fp16", "b-other-precision"]).verdicts[MODEL]
    assert verdict.results["b-other-precision"] == "DISAGREE"
    assert (
        "token 2" in verdict.details["b-other-precision"]
        and "log-probability differs by 0.550" in (verdict.details["b-other-precision"])
    )


def test_another_chat_template_is_caught_by_the_tokenization_even_when_answers_match(fleet):
    fleet.add("a-template")
    fleet.add("b-template", "other-template")
    verdict = run_check(fleet, order=["a-template", "b-template"]).verdicts[MODEL]
    assert verdict.results["b-template"] == "DISAGREE"
    assert "token ids differ from position 0 (tokenizer or chat template)" in verdict.details["b-template"]


def test_a_different_maximum_context_and_different_declared_weights_disagree(fleet):
    fleet.add("a-ctx")
    fleet.add("b-ctx", "shorter-context")
    fleet.providers["b-ctx"]["weights"] = {**REVISION, "digest": "sha256:" + "cd" * 32}
    detail = run_check(fleet, order=["a-ctx", "b-ctx"]).verdicts[MODEL].details["b-ctx"]
    assert "maximum context 4096, the reference's 8192" in detail and "declared weights" in detail


def test_an_endpoint_without_tokenize_is_noted_not_failed(fleet):
    fleet.add("a-tok")
    fleet.add("b-no-tok", "no-tokenize")
    report = run_check(fleet, order=["a-tok", "b-no-tok"])
    assert report.ok and {e.provider: e.tokenize for e in report.endpoints[MODEL]}["b-no-tok"] == "not offered"


def test_without_log_probabilities_only_the_same_text_agrees(fleet):
    fleet.add("a-lp")
    fleet.add("b-text", "no-logprobs")
    fleet.add("c-text-other", "other-weights")
    fleet.servers["c-text-other"].variant = "no-logprobs"  # the same text as a: a text comparison agrees
    report = run_check(fleet, order=["a-lp", "b-text", "c-text-other"])
    assert report.verdicts[MODEL].verdict == "agree"
    assert compare(Answer("p", tuple("abc")), Answer("p", tuple("abd")), 0.1).position == 2


def test_a_provider_that_does_not_answer_leaves_the_model_incomplete_and_fails(fleet):
    fleet.add("a-ok")
    fleet.add("b-failing", "failing")
    report = run_check(fleet, order=["a-ok", "b-failing"])
    assert report.verdicts[MODEL].verdict == "incomplete" and not report.ok
    assert "HTTP 500" in report.verdicts[MODEL].details["b-failing"]


def test_a_redirect_is_not_followed_and_the_credential_reaches_no_other_host(fleet):
    fleet.add("a-ok")
    bouncer = fleet.add("b-bouncer", "redirecting")
    elsewhere = fleet.add("z-elsewhere")  # the host the redirect names
    bouncer.redirect_to = elsewhere.base_url + "/chat/completions"
    before = len(elsewhere.paths)
    report = run_check(fleet, order=["a-ok", "b-bouncer"], only=["a-ok", "b-bouncer"])
    assert len(elsewhere.paths) == before
    assert "redirected (HTTP 302); not followed" in report.verdicts[MODEL].details["b-bouncer"]


def test_the_check_sends_nothing_once_its_deadline_has_passed(fleet):
    server = fleet.add("a-late")
    ticks = iter([0.0] + [1000.0] * 100)  # an injected clock: the deadline passes right after the start
    report = run_check(fleet, deadline_seconds=10.0, clock=lambda: next(ticks))
    assert server.paths == [] and report.endpoints[MODEL][0].detail.startswith("timeout: the check's deadline")


def test_vpc_only_providers_are_skipped_unless_asked(fleet):
    fleet.add("a-public")
    private = fleet.add("b-vpc", network="vpc")
    report = run_check(fleet)
    assert private.paths == [] and report.verdicts[MODEL].results["b-vpc"] == "skipped"
    assert report.verdicts[MODEL].verdict == "single"


def test_the_command_prints_a_table_writes_json_and_exits_non_zero_on_disagreement(fleet, tmp_path, capsys):
    fleet.add("a-same")
    fleet.add("b-same")
    fleet.add("c-other", "other-weights")
    path = tmp_path / "router-config.json"
    path.write_text(router_config.to_json(fleet.config()), encoding="utf-8")
    report = tmp_path / "consistency.json"
    assert main(["--config", str(path), "--consistency", "--json", str(report)], environ=fleet.environ) == 1
    printed = capsys.readouterr().out
    assert f"{MODEL}: DISAGREE (reference a-same" in printed and "0 models consistent, 1 inconsistent" in printed
    document = json.loads(report.read_text())
    assert document["models"][MODEL]["providers"]["c-other"]["result"] == "DISAGREE"
    assert document["logprob_tolerance"] == consistency.DEFAULT_LOGPROB_TOLERANCE
    assert SECRET not in report.read_text() and SECRET not in printed


def test_the_command_passes_when_every_model_agrees(fleet, tmp_path):
    fleet.add("a-same", kind="alibaba_eas")
    fleet.add("b-same", kind="modal")
    path = tmp_path / "router-config.json"
    path.write_text(router_config.to_json(fleet.config()), encoding="utf-8")
    assert main(["--config", str(path), "--consistency"], environ=fleet.environ) == 0


def test_a_tolerance_out_of_range_or_without_the_check_is_a_usage_error(fleet, tmp_path, capsys):
    fleet.add("a-same")
    path = tmp_path / "router-config.json"
    path.write_text(router_config.to_json(fleet.config()), encoding="utf-8")
    assert main(["--config", str(path), "--consistency", "--logprob-tolerance", "nan"], environ={}) == 2
    assert main(["--config", str(path), "--logprob-tolerance", "0.1"], environ={}) == 2
    assert "goes with --consistency" in capsys.readouterr().err


def test_the_majority_is_the_reference_and_a_tie_falls_to_the_failover_order():
    def answered(pid: str, token: str) -> Endpoint:
        return Endpoint(pid, "ack", MODEL, "answered", answers=[Answer("p", (token,), (-0.1,), ({token: -0.1},))])

    alike, other = answered("b", "x"), answered("a", "y")
    chosen, why = choose_reference([other, alike, answered("c", "x")], order=["a", "b", "c"])
    assert chosen.provider == "b" and why.startswith("the majority")
    chosen, why = choose_reference([alike, other], order=["a", "b"])
    assert chosen.provider == "a" and "failover order" in why


def test_the_docs_state_the_check_s_own_settings():
    doc = (Path(__file__).parent.parent / "docs" / "router-config.md").read_text(encoding="utf-8")
    section = " ".join(doc.split("## Same model, same answers")[1].split("\n## ")[0].split())
    assert f"`seed: {consistency.SEED}`, {consistency.MAX_TOKENS} tokens" in section
    assert f"top {consistency.TOP_LOGPROBS} log-probabilities" in section
    assert f"{consistency.DEFAULT_LOGPROB_TOLERANCE:g} nats" in section
