"""Probe every provider of a router config with the golden prompts; see probe/__init__.py for usage."""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from fleet import kinds
from fleet.router_config import SCHEMA_PATH, schema_problems
from providers import bounded_http
from providers.redact import printable

PROMPTS_PATH = Path(__file__).with_name("golden_prompts.json")
DEFAULT_TIMEOUT_SECONDS = 60.0
MAX_REQUESTS_PER_PROVIDER = 20
MAX_TOKENS = 16
PARALLEL_PROVIDERS = 8


@dataclass(frozen=True)
class Attempt:
    """One chat completion: how it ended and how long it took."""

    # ok | wrong-model | rejected-key | server-error | client-error | redirected | timeout | unreachable | bad-answer
    # | bad-request
    outcome: str
    seconds: float
    model: str = ""


@dataclass
class ProviderResult:
    provider: str
    type: str
    model: str
    status: str  # passed | failed | skipped
    requests: int = 0
    ok: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    expected_model: bool | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    detail: str = ""


class UsageError(Exception):
    """A config or prompt file the probe cannot use; the message says which and why."""


def load_config(path: Path) -> dict[str, Any]:
    config = _read_json(path)
    problems = schema_problems(config)
    if problems:
        shown = "; ".join(printable(p, limit=200) for p in problems[:5])
        raise UsageError(f"{printable(str(path))} is not a router config ({SCHEMA_PATH.name}): {shown}")
    return config


def load_prompts(path: Path = PROMPTS_PATH) -> list[dict[str, Any]]:
    """The prompts of a golden prompt file: {"prompts": [{"messages": [{"role": ..., "content": ...}]}]}."""
    document = _read_json(path)
    shown = printable(str(path))
    prompts = document.get("prompts") if isinstance(document, dict) else None
    if not isinstance(prompts, list) or not prompts:
        raise UsageError(f'{shown} has no prompts: expected {{"prompts": [{{"messages": [...]}}, ...]}}')
    for index, prompt in enumerate(prompts):
        messages = prompt.get("messages") if isinstance(prompt, dict) else None
        if not (
            isinstance(messages, list)
            and messages
            and all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in messages
            )
        ):
            raise UsageError(f"{shown}: prompts[{index}] needs messages, a non-empty list of {{role, content}} strings")
    return prompts


def _read_json(path: Path) -> Any:
    shown = printable(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {shown}: {error.strerror or type(error).__name__}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{shown} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{shown} is not JSON: {printable(str(error))}") from None
    except RecursionError:
        raise UsageError(f"{shown} is not usable JSON: nested too deeply") from None


def legitimate_auth(provider: Mapping[str, Any]) -> list[dict[str, str]]:
    """The auth entries the router config generator writes for this provider: one per model for Alibaba
    endpoints, one per router region for counterparts and a partner (fleet/kinds.py, Kind.router_auth)."""
    region, models = provider["region"], provider["models"]
    kind = kinds.BY_ROUTER_TYPE.get(provider["type"])
    if kind is None:
        return []
    # One credential per model for the kinds whose stack makes one per model, else one per router region.
    if kind.per_model_credentials:
        return [kind.router_auth(region, m) for m in models]
    return [kind.router_auth(region, "")]


def auth_problem(provider: Mapping[str, Any]) -> str:
    """Why the probe will not read the variables this provider's auth names; empty when it may.

    A config is data: one naming HOME, AWS_SECRET_ACCESS_KEY or another region's key must not make the probe
    send that value to the provider's host. Only the router's own variable for this provider is read.
    """
    auth = dict(provider["auth"])
    allowed = legitimate_auth(provider)
    if auth in allowed:
        return ""
    named = ", ".join(printable(str(v), limit=80) for k, v in sorted(auth.items()) if k.endswith("env"))
    expected = " or ".join(
        ", ".join(v for k, v in sorted(a.items()) if k.endswith("env")) + f" ({a['type']})" for a in allowed
    )
    return (
        f"auth names {named} ({printable(str(auth.get('type')), limit=40)}), not this {provider['type']} provider's"
        f" own variable {expected}; not read"
    )


def auth_headers(auth: Mapping[str, str], environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The headers the router would send, and the names of variables missing from the environment."""
    names = [auth["env"]] if "env" in auth else [auth["key_env"], auth["secret_env"]]
    missing = [n for n in names if not environ.get(n)]
    if missing:
        return {}, missing
    if auth["type"] == "bearer":
        return {"Authorization": f"Bearer {environ[auth['env']]}"}, []
    if auth["type"] == "eas_token":  # EAS takes its service token as the whole Authorization header
        return {"Authorization": environ[auth["env"]]}, []
    return {"Modal-Key": environ[auth["key_env"]], "Modal-Secret": environ[auth["secret_env"]]}, []


# How a failed exchange counts; `broken` and `too-large` are answers that are not answers.
_FAILURE_OUTCOMES = {"timeout": "timeout", "unreachable": "unreachable", "bad-request": "bad-request"}


def chat_once(
    base_url: str, headers: Mapping[str, str], model: str, prompt: Mapping[str, Any], timeout: float
) -> Attempt:
    """One chat completion, sent only to base_url's host: a redirect is a failure, never followed with the key,
    and `timeout` bounds the whole exchange, not each read."""
    body = json.dumps(
        {"model": model, "messages": prompt["messages"], "max_tokens": MAX_TOKENS, "temperature": 0}
    ).encode()
    started = time.monotonic()
    try:
        response = bounded_http.post(
            base_url.rstrip("/") + "/chat/completions",
            {"Content-Type": "application/json", **headers},
            body,
            timeout,
        )
    except bounded_http.ExchangeError as failure:
        return Attempt(_FAILURE_OUTCOMES.get(failure.kind, "bad-answer"), time.monotonic() - started)
    elapsed = time.monotonic() - started
    if response.is_redirect:
        return Attempt("redirected", elapsed)
    if response.status >= 400:
        outcome = (
            "rejected-key"
            if response.status in (401, 403)
            else "server-error"
            if response.status >= 500
            else "client-error"
        )
        return Attempt(outcome, elapsed)
    try:
        payload = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return Attempt("bad-answer", elapsed)
    answered = str(payload.get("model", "")) if isinstance(payload, dict) else ""
    # The server chooses this text and it is shown later on a terminal: never kept raw.
    shown = printable(answered, limit=100)
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not choices:
        return Attempt("bad-answer", elapsed, shown)
    return Attempt("ok" if answered == model else "wrong-model", elapsed, shown)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class Prepared:
    """A provider ready to probe (headers), or why it is not probed (status and detail)."""

    headers: dict[str, str] | None
    status: str = ""
    detail: str = ""


def prepare(provider: Mapping[str, Any], environ: Mapping[str, str], include_vpc: bool) -> Prepared:
    """Decide before sending anything, so the progress bar counts only requests that will be sent."""
    if provider.get("network") == "vpc" and not include_vpc:
        return Prepared(None, "skipped", "VPC-only endpoint; run with --include-vpc from inside the VPC")
    problem = auth_problem(provider)
    if problem:  # checked before the environment is read at all
        return Prepared(None, "failed", problem)
    headers, missing = auth_headers(provider["auth"], environ)
    if missing:
        return Prepared(None, "failed", f"credential not in the environment: {', '.join(missing)}")
    return Prepared(headers)


def probe_provider(
    pid: str,
    provider: Mapping[str, Any],
    prepared: Prepared,
    prompts: Sequence[Mapping[str, Any]],
    requests: int,
    timeout: float,
    tick: Callable[[int], None],
) -> list[ProviderResult]:
    results = []
    for model in provider["models"]:
        result = ProviderResult(provider=pid, type=provider["type"], model=model, status="failed")
        if prepared.headers is None:
            result.status, result.detail = prepared.status, prepared.detail
            results.append(result)
            continue
        # Never wait longer than the router itself would.
        limit = min(timeout, float(provider["timeout"]))
        attempts = []
        for index in range(requests):
            attempts.append(
                chat_once(provider["base_url"], prepared.headers, model, prompts[index % len(prompts)], limit)
            )
            tick(1)
        ok_seconds = [a.seconds for a in attempts if a.outcome == "ok"]
        result.requests = len(attempts)
        result.ok = len(ok_seconds)
        for attempt in attempts:
            result.outcomes[attempt.outcome] = result.outcomes.get(attempt.outcome, 0) + 1
        answered = [a for a in attempts if a.outcome in ("ok", "wrong-model")]
        result.expected_model = all(a.outcome == "ok" for a in answered) if answered else None
        p50, p95 = percentile(ok_seconds, 0.5), percentile(ok_seconds, 0.95)
        result.p50_ms = None if p50 is None else round(p50 * 1000, 1)
        result.p95_ms = None if p95 is None else round(p95 * 1000, 1)
        result.status = "passed" if result.ok == result.requests else "failed"
        if result.status == "failed":
            wrong = sorted({a.model for a in attempts if a.outcome == "wrong-model"})
            result.detail = ", ".join(f"{k} x{v}" for k, v in sorted(result.outcomes.items()) if k != "ok")
            if wrong:
                result.detail += f" (answered as {', '.join(wrong)})"
        results.append(result)
    return results


class ProgressBar:
    """A one-line progress bar on stderr; thread-safe, since providers are probed in parallel."""

    def __init__(self, total: int, stream: TextIO, width: int = 30):
        self.total, self.done, self.width, self.stream = max(total, 1), 0, width, stream
        self._lock = threading.Lock()

    def tick(self, count: int = 1) -> None:
        with self._lock:
            self.done = min(self.total, self.done + count)
            filled = self.width * self.done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} requests")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()


def run_probe(
    config: Mapping[str, Any],
    prompts: Sequence[Mapping[str, Any]],
    requests: int,
    timeout: float,
    environ: Mapping[str, str],
    include_vpc: bool = False,
    only: Sequence[str] = (),
    progress: TextIO | None = None,
) -> list[ProviderResult]:
    chosen = {pid: p for pid, p in sorted(config["providers"].items()) if not only or pid in only}
    prepared = {pid: prepare(p, environ, include_vpc) for pid, p in chosen.items()}
    to_send = sum(len(p["models"]) for pid, p in chosen.items() if prepared[pid].headers is not None) * requests
    bar = ProgressBar(to_send, progress or sys.stderr)
    with ThreadPoolExecutor(max_workers=PARALLEL_PROVIDERS) as pool:
        futures = [
            pool.submit(probe_provider, pid, p, prepared[pid], prompts, requests, timeout, bar.tick)
            for pid, p in chosen.items()
        ]
        return [result for future in futures for result in future.result()]


def report_table(results: Sequence[ProviderResult]) -> str:
    rows = [("PROVIDER", "MODEL", "STATUS", "OK", "P50 ms", "P95 ms", "EXPECTED MODEL", "DETAIL")]
    for r in results:
        rows.append(
            (
                r.provider,
                r.model,
                r.status,
                f"{r.ok}/{r.requests}",
                "-" if r.p50_ms is None else f"{r.p50_ms:.0f}",
                "-" if r.p95_ms is None else f"{r.p95_ms:.0f}",
                {True: "yes", False: "NO", None: "-"}[r.expected_model],
                r.detail,
            )
        )
    # Model names come from the config and the servers: nothing reaches the terminal unescaped.
    shown = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in shown) for i in range(len(shown[0]) - 1)]
    return "\n".join("  ".join(c.ljust(widths[i]) for i, c in enumerate(row[:-1])) + "  " + row[-1] for row in shown)
