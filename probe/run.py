"""Probe every provider of a router config with the golden prompts; see probe/__init__.py for usage."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from fleet.router_config import SCHEMA_PATH, schema_problems

PROMPTS_PATH = Path(__file__).with_name("golden_prompts.json")
DEFAULT_TIMEOUT_SECONDS = 60.0
MAX_REQUESTS_PER_PROVIDER = 20
MAX_TOKENS = 16
PARALLEL_PROVIDERS = 8


@dataclass(frozen=True)
class Attempt:
    """One chat completion: how it ended and how long it took."""

    outcome: str  # ok | wrong-model | rejected-key | server-error | client-error | timeout | unreachable | bad-answer
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
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"{path} is not JSON: {error}") from None
    problems = schema_problems(config)
    if problems:
        raise UsageError(f"{path} is not a router config ({SCHEMA_PATH.name}): " + "; ".join(problems[:5]))
    return config


def load_prompts(path: Path = PROMPTS_PATH) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["prompts"]


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


def chat_once(
    base_url: str, headers: Mapping[str, str], model: str, prompt: Mapping[str, Any], timeout: float
) -> Attempt:
    body = json.dumps(
        {"model": model, "messages": prompt["messages"], "max_tokens": MAX_TOKENS, "temperature": 0}
    ).encode()
    request = urllib.request.Request(
        base_url.rstrip("/") + "/chat/completions",
        data=body,
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URLs from the config
            payload = json.loads(response.read())
    except urllib.error.HTTPError as error:
        outcome = (
            "rejected-key" if error.code in (401, 403) else "server-error" if error.code >= 500 else "client-error"
        )
        return Attempt(outcome, time.monotonic() - started)
    except (TimeoutError, urllib.error.URLError) as error:
        timed_out = isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError)
        return Attempt("timeout" if timed_out else "unreachable", time.monotonic() - started)
    except (json.JSONDecodeError, OSError):
        return Attempt("bad-answer", time.monotonic() - started)
    elapsed = time.monotonic() - started
    answered = str(payload.get("model", "")) if isinstance(payload, dict) else ""
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not choices:
        return Attempt("bad-answer", elapsed, answered)
    return Attempt("ok" if answered == model else "wrong-model", elapsed, answered)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def probe_provider(
    pid: str,
    provider: Mapping[str, Any],
    prompts: Sequence[Mapping[str, Any]],
    requests: int,
    timeout: float,
    environ: Mapping[str, str],
    include_vpc: bool,
    tick: Callable[[int], None],
) -> list[ProviderResult]:
    results = []
    for model in provider["models"]:
        result = ProviderResult(provider=pid, type=provider["type"], model=model, status="failed")
        if provider.get("network") == "vpc" and not include_vpc:
            result.status, result.detail = "skipped", "VPC-only endpoint; run with --include-vpc from inside the VPC"
            tick(requests)
            results.append(result)
            continue
        headers, missing = auth_headers(provider["auth"], environ)
        if missing:
            result.detail = f"credential not in the environment: {', '.join(missing)}"
            tick(requests)
            results.append(result)
            continue
        # Never wait longer than the router itself would.
        limit = min(timeout, float(provider["timeout"]))
        attempts = []
        for index in range(requests):
            attempts.append(chat_once(provider["base_url"], headers, model, prompts[index % len(prompts)], limit))
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
    bar = ProgressBar(sum(len(p["models"]) for p in chosen.values()) * requests, progress or sys.stderr)
    with ThreadPoolExecutor(max_workers=PARALLEL_PROVIDERS) as pool:
        futures = [
            pool.submit(probe_provider, pid, p, prompts, requests, timeout, environ, include_vpc, bar.tick)
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
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(widths[i]) for i, c in enumerate(row[:-1])) + "  " + row[-1] for row in rows)


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m probe", description="Probe every provider of a router config.")
    parser.add_argument("--config", type=Path, required=True, help="router config JSON (schemas/router-config.v1.json)")
    parser.add_argument("--provider", action="append", default=[], help="probe only this provider id (repeatable)")
    parser.add_argument(
        "--requests", type=int, default=4, help=f"requests per provider and model (1..{MAX_REQUESTS_PER_PROVIDER})"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds per request, at most the provider's own timeout",
    )
    parser.add_argument("--include-vpc", action="store_true", help="also probe VPC-only endpoints (run inside the VPC)")
    parser.add_argument("--prompts", type=Path, default=PROMPTS_PATH, help="golden prompt file")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)

    if not 1 <= args.requests <= MAX_REQUESTS_PER_PROVIDER:
        print(f"error: --requests must be 1..{MAX_REQUESTS_PER_PROVIDER}, got {args.requests}", file=sys.stderr)
        return 2
    if not 0 < args.timeout <= 600:
        print(f"error: --timeout must be more than 0 and at most 600 seconds, got {args.timeout}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
        prompts = load_prompts(args.prompts)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.provider) - set(config["providers"]))
    if unknown:
        print(f"error: unknown provider(s): {', '.join(unknown)}", file=sys.stderr)
        return 2

    results = run_probe(
        config,
        prompts,
        requests=args.requests,
        timeout=args.timeout,
        environ=os.environ if environ is None else environ,
        include_vpc=args.include_vpc,
        only=args.provider,
    )
    print(report_table(results))
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    print(f"{len(results) - len(failed) - len(skipped)} passed, {len(failed)} failed, {len(skipped)} skipped")
    if args.json:
        document = {"config": str(args.config), "requests": args.requests, "results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 1 if failed else 0
