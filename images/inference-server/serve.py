"""Start vLLM's OpenAI-compatible server for one model, sized to the GPU memory slice the pod was given.

Settings come from the environment (set by the Helm chart or the EAS service JSON):
  MODEL_DIR            directory holding the weights, mounted read-only from the region's OSS bucket
  SERVED_MODEL_NAME    the name clients ask for (the catalog id, e.g. llama3.2-1b)
  MAX_MODEL_LEN        context length the KV cache is sized for
  MAX_NUM_SEQS         sequences served at once
  DTYPE                auto, float16, bfloat16 (quantized models: QUANTIZATION=awq|gptq|fp8)
  VLLM_API_KEY         the key every request must carry as `Authorization: Bearer <key>` (checked by the gate)
  AUTH_AT_GATEWAY      "eas": the EAS gateway checks the service token, so vLLM runs without a key or gate
  PORT                 default 8000: the gate's port (or vLLM's own, behind the EAS gateway)
  METRICS_PORT         default 8001: the gate's metrics port, `GET /metrics` only and no key (not behind EAS)
  GPU_MEMORY_UTILIZATION   overrides the fraction below
  CGPU_MEMORY_ISOLATION    "off" only where cGPU shares a GPU without memory isolation
Under cGPU, ACK sets ALIYUN_COM_GPU_MEM_CONTAINER (this pod's GiB) and ALIYUN_COM_GPU_MEM_DEV (the GPU's GiB).
With memory isolation (the fleet's cgpu and core_mem pools) the container sees its slice as the whole GPU, so
vLLM takes a fixed fraction of what it sees; only without isolation, where the pod sees the whole GPU, is the
fraction the slice's share of the device (ACK: "Configure GPU sharing without GPU memory isolation").

The gate. vLLM checks VLLM_API_KEY only on path prefixes such as /v1 (docs.vllm.ai/en/stable/usage/security:
"Unprotected Endpoints"), so /invocations (completions; vllm-project/vllm#58144), /tokenize, /pooling, /metrics
and the rest answer anyone; and GHSA-94f4-hr76-p5j6 (CVE-2026-48746: vLLM >= 0.3.0, < 0.22.0; this image pins
0.11.0) bypasses even that check with a Host header such as `localhost/v1/models?`. Wherever the container is
reached with a key (ACK; FC, whose HTTP trigger is anonymous), vLLM therefore listens on 127.0.0.1:UPSTREAM_PORT
only, and `AuthGate` on PORT is the only way in: every request on every path needs `Authorization: Bearer <key>`
(compared in constant time) before a byte of it reaches vLLM, whatever its Host, method or path, and vLLM sees
the gate's own Host. The one exception is `GET`/`HEAD /health`, for load balancer and kubelet probes, which
cannot send a key: answered with vLLM's status code only, no body, and nothing of the caller's passed on.
Behind the EAS gateway (AUTH_AT_GATEWAY=eas) the gateway checks EAS's token on every path of the service, and
the container holds no key to check.

The metrics port. Prometheus scrapes without a key, so `MetricsGate` answers on METRICS_PORT, a port of its own,
`GET /metrics` only (vLLM's, read from loopback, bounded in size and time) and 404 to any other method or target,
whatever the Host or Authorization; nothing of the caller's but `Accept` reaches vLLM. The serving port stays
gated: a load balancer forwards to the serving port alone (the chart keeps METRICS_PORT off every Service, and its
NetworkPolicy admits it from inside the cluster and the VPC only). On FC the port listens too, unreachable: FC
routes its trigger to the serving port only. Behind the EAS gateway nothing of this runs.
"""

from __future__ import annotations

import hmac
import http.client
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# vLLM refuses to start when the memory free at start-up is below gpu_memory_utilization x total ("Free memory
# on device ... on startup is less than desired GPU memory utilization", vllm-project/vllm#20305). The CUDA context
# is already on the GPU by then: about 300 MiB with lazy module loading (CUDA >= 11.7; pytorch/pytorch#107667),
# 200 to 700+ MiB depending on the machine (pytorch/pytorch#28113). Under cGPU isolation the slice is the whole
# "GPU", so the fraction must leave the context's share of the slice free: a fixed 0.95 left 0.25 GiB of a 5 GiB
# slice. The planner's slice holds a runtime overhead of its own (fleet/capacity.py), which this reserve uses.
CUDA_CONTEXT_RESERVE_GIB = 0.75
SHARED_UTILIZATION = 0.95  # without isolation: of the slice's share of a GPU the pod sees whole
WHOLE_GPU_UTILIZATION = 0.90  # vLLM's own default, for a GPU of its own (EAS)
UPSTREAM_PORT = 8100  # vLLM behind the gate, on loopback only; not 8080 or 9090, which EAS reserves
MAX_REQUEST_BYTES = 16 << 20  # a chat request with a long prompt is well under this
# The gate's metrics port: beside the serving port, and none that the gate or a platform takes: not 8000 (the gate;
# vLLM's own behind EAS), 8100 (vLLM on loopback), 8080 or 9090 (EAS reserves them), nor 9000 (FC's default CAPort).
METRICS_PORT = 8001
MAX_METRICS_BYTES = 8 << 20  # the most one scrape buffers; one model's few dozen metric families are far less
METRICS_TIMEOUT_SECONDS = 10.0  # Prometheus's default scrape_timeout; the gate's whole exchange with vLLM fits in it
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def gpu_memory_utilization(environ: dict[str, str]) -> float:
    """The fraction of the GPU memory this container sees that vLLM may budget."""
    if environ.get("GPU_MEMORY_UTILIZATION"):
        return float(environ["GPU_MEMORY_UTILIZATION"])
    container = environ.get("ALIYUN_COM_GPU_MEM_CONTAINER")
    device = environ.get("ALIYUN_COM_GPU_MEM_DEV")
    if not container:
        return WHOLE_GPU_UTILIZATION
    if environ.get("CGPU_MEMORY_ISOLATION") == "off" and device and float(device) > 0:
        # The pod sees the whole GPU: budget only its slice of it.
        return round(min(float(container) / float(device), 1.0) * SHARED_UTILIZATION, 3)
    return isolated_utilization(float(container))


def isolated_utilization(slice_gib: float) -> float:
    """The fraction of a slice seen as the whole GPU that leaves the CUDA context room at start-up (2 places, down)."""
    if slice_gib <= CUDA_CONTEXT_RESERVE_GIB:
        raise SystemExit(f"serve.py: a {slice_gib} GiB slice cannot hold even the CUDA context")
    return math.floor((slice_gib - CUDA_CONTEXT_RESERVE_GIB) / slice_gib * 100) / 100


def gated(environ: dict[str, str]) -> bool:
    """Whether the gate stands in front of vLLM: everywhere but behind the EAS gateway."""
    return environ.get("AUTH_AT_GATEWAY") != "eas"


def metrics_port(environ: dict[str, str]) -> int:
    """The metrics port: METRICS_PORT, or 8001; never the serving port or vLLM's."""
    text = environ.get("METRICS_PORT") or str(METRICS_PORT)
    taken = (int(environ.get("PORT") or "8000"), UPSTREAM_PORT)  # the gate's, vLLM's
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536 or int(text) in taken:
        raise SystemExit(f"serve.py: METRICS_PORT {text!r} must be a TCP port other than {taken[0]} and {taken[1]}")
    return int(text)


def command(environ: dict[str, str]) -> list[str]:
    """vLLM's command line: on loopback behind the gate, or on PORT behind the EAS gateway."""
    missing = [k for k in ("MODEL_DIR", "SERVED_MODEL_NAME") if not environ.get(k)]
    if missing:
        raise SystemExit(f"serve.py: set {', '.join(missing)} in the container's environment")
    if not environ.get("VLLM_API_KEY") and gated(environ):
        raise SystemExit("serve.py: VLLM_API_KEY is not set; the endpoint would be open to anyone who reaches it")
    host, port = ("127.0.0.1", str(UPSTREAM_PORT)) if gated(environ) else ("0.0.0.0", environ.get("PORT", "8000"))
    args = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        environ["MODEL_DIR"],
        "--served-model-name",
        environ["SERVED_MODEL_NAME"],
        "--host",
        host,
        "--port",
        port,
        "--max-model-len",
        environ.get("MAX_MODEL_LEN", "4096"),
        "--max-num-seqs",
        environ.get("MAX_NUM_SEQS", "8"),
        "--dtype",
        environ.get("DTYPE", "auto"),
        "--gpu-memory-utilization",
        str(gpu_memory_utilization(environ)),
    ]
    if environ.get("QUANTIZATION"):
        args += ["--quantization", environ["QUANTIZATION"]]
    return args


class AuthGate(ThreadingHTTPServer):
    """Refuses every request without `Authorization: Bearer <key>`; passes the rest to vLLM on loopback."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], key: str, upstream: tuple[str, int], timeout: float = 900.0):
        self.expected = f"Bearer {key}".encode()
        self.upstream = upstream
        self.upstream_timeout = timeout  # FC and the router cut a request at 600 s; a hung upstream frees its thread
        super().__init__(address, _GateHandler)


class _GateHandler(BaseHTTPRequestHandler):
    server: AuthGate
    protocol_version = "HTTP/1.0"  # one request per connection; a streamed answer ends when the connection does
    server_version = "gate"
    sys_version = ""
    # StreamRequestHandler puts this on the socket: a client that sends its request a byte at a time (before any
    # key is checked, behind FC's anonymous trigger) is cut off instead of holding a thread for good.
    timeout = 30

    def log_message(self, *_args: object) -> None:
        return None  # request lines may carry prompts; vLLM logs what it serves

    def _refuse(self, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", "Bearer")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorized(self) -> bool:
        given = self.headers.get_all("Authorization") or []
        return len(given) == 1 and hmac.compare_digest(given[0].encode(), self.server.expected)

    def _handle(self) -> None:
        if not self.path.startswith("/") or self.path.startswith("//"):
            return self._refuse(400, "bad request target")  # absolute-form or scheme-relative: not for this server
        probe = self.command in ("GET", "HEAD") and self.path == "/health"
        if not probe and not self._authorized():
            return self._refuse(401, "unauthorized")
        length_text = self.headers.get("Content-Length") or "0"
        if self.headers.get("Transfer-Encoding") or not length_text.isascii() or not length_text.isdigit():
            return self._refuse(411, "a request body needs a Content-Length")
        length = int(length_text)
        if length > MAX_REQUEST_BYTES:
            return self._refuse(413, "request too large")
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if probe:
            headers, body = {}, None  # nothing of an unauthenticated caller's reaches vLLM but the probe itself
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=self.server.upstream_timeout)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
        except (OSError, http.client.HTTPException):
            upstream.close()
            return self._refuse(503, "the model server is not answering (still loading?)")
        try:
            self.send_response(answer.status, answer.reason)
            if probe:
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.end_headers()
            while chunk := answer.read1(65536):  # as it arrives: a streamed completion is not held back
                self.wfile.write(chunk)
                self.wfile.flush()
        except (OSError, http.client.HTTPException):
            self.close_connection = True
        finally:
            upstream.close()
        return None

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle  # noqa: N815


class MetricsGate(ThreadingHTTPServer):
    """Answers `GET /metrics` with vLLM's loopback /metrics, without a key; 404 to every other method and target."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], upstream: tuple[str, int], timeout: float = METRICS_TIMEOUT_SECONDS):
        self.upstream = upstream
        self.upstream_timeout = timeout  # for the whole exchange with vLLM: connect, headers and body
        super().__init__(address, _MetricsHandler)


class _MetricsTooLargeError(Exception):
    pass


class _MetricsHandler(BaseHTTPRequestHandler):
    server: MetricsGate
    protocol_version = "HTTP/1.0"
    server_version = "gate"
    sys_version = ""
    timeout = 10  # a scraper sends a few hundred bytes; one that trickles them is cut off

    def log_message(self, *_args: object) -> None:
        return None  # every scrape would log a line

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode())

    def _handle(self) -> None:
        # Exactly this target, as sent (http.server turns a leading "//" into "/"): no query, no other spelling, and no
        # proxying of anything else (the API needs the key).
        words = self.requestline.split()
        if self.command != "GET" or len(words) != 3 or words[1] != "/metrics":
            return self._refuse(404, "this port serves GET /metrics only")
        accept = self.headers.get("Accept")  # Prometheus asks for OpenMetrics by it; nothing else is passed on
        deadline = time.monotonic() + self.server.upstream_timeout
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=self.server.upstream_timeout)
        try:
            upstream.connect()
            sock = upstream.sock  # kept: each read below may wait only for what is left of the deadline
            upstream.request("GET", "/metrics", headers={"Accept": accept} if accept else {})
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            answer = upstream.getresponse()
            body = bytearray()
            while True:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = answer.read1(65536)
                if not chunk:
                    break
                body += chunk
                if len(body) > MAX_METRICS_BYTES:
                    raise _MetricsTooLargeError
                if time.monotonic() > deadline:
                    raise TimeoutError
        except TimeoutError:
            return self._refuse(504, "the model server's metrics did not arrive in time")
        except _MetricsTooLargeError:
            return self._refuse(502, "the model server's metrics are larger than the gate relays")
        except (OSError, http.client.HTTPException):
            return self._refuse(503, "the model server is not answering (still loading?)")
        finally:
            upstream.close()
        self._send(answer.status, bytes(body), answer.getheader("Content-Type") or "text/plain")
        return None

    def __getattr__(self, name: str) -> object:
        if name.startswith("do_"):  # any method at all, TRACE or made up: 404 too, not http.server's 501
            return self._handle
        raise AttributeError(name)


def main(environ: dict[str, str]) -> None:
    argv = command(environ)
    if not gated(environ):
        os.execv(argv[0], argv)
    scrape_port = metrics_port(environ)  # a clash stops the container before vLLM starts
    vllm = subprocess.Popen(argv)  # noqa: S603 (our own argv)
    port = int(environ.get("PORT", "8000"))
    gate = AuthGate(("0.0.0.0", port), environ["VLLM_API_KEY"], ("127.0.0.1", UPSTREAM_PORT))
    metrics = MetricsGate(("0.0.0.0", scrape_port), ("127.0.0.1", UPSTREAM_PORT))
    threading.Thread(target=metrics.serve_forever, daemon=True).start()

    def stop(*_args: object) -> None:
        vllm.terminate()
        for server in (gate, metrics):
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    # vLLM gone: the gate goes too, so the platform restarts the container rather than probing a gate alone.
    threading.Thread(target=lambda: (vllm.wait(), stop()), daemon=True).start()
    gate.serve_forever()
    sys.exit(vllm.wait())


if __name__ == "__main__":
    main(dict(os.environ))
