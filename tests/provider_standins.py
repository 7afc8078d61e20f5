"""Local stand-ins of vLLM-served endpoints of every provider type the router knows, for probe tests.

Each stand-in answers like a vLLM OpenAI server for one model: chat completions with log-probabilities, the
model listing and /tokenize, every path behind the provider type's own credential (the one the router config
names for it). A variant stands for what would make a measurement an artefact or a deployment broken: other
weights, another precision, another chat template, a failing or redirecting server.
"""

from __future__ import annotations

import hashlib
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fleet import router_config
from probe.run import legitimate_auth
from tests import loopback

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
        server = loopback.start(StandIn(variant, required))
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
        config = {"version": 1, "regions": regions, "providers": self.providers, "routes": {"r-main": {MODEL: order}}}
        return {**config, "version": router_config.required_version(config)}  # as the router stack writes it

    def stop(self) -> None:
        loopback.stop(*self.servers.values())
