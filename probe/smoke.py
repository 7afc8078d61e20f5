"""The smoke test after `pulumi up`: every provider of a deployed router config, asked once, with what to check.

    make smoke STACK=router                      # the router stack's published config, credentials from the env
    make smoke STACK=router ARGS="--secrets-from-stack"   # credentials read from the stack's routerSecrets

It reads the router config from the deployed stack's outputs (`pulumi stack output routerConfig`, the same
config the router receives), probes every provider with one golden prompt (probe/run.py: one host per
provider, no redirect followed with a key, a total deadline per request), and prints per provider what
answered, how fast, and, for one that did not, what to check first. Exit code 0 when every probed provider
answered, 1 when one did not, 2 for a usage error (no Pulumi CLI, no such stack, not a router config).

Credentials come from the environment under the config's variable names, as for the probe. With
--secrets-from-stack they are read from the stack's secret `routerSecrets` output through the Pulumi CLI into
this process's memory only: never printed, never written to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fleet.router_config import schema_problems
from probe.run import DEFAULT_TIMEOUT_SECONDS, ProviderResult, UsageError, load_prompts, run_probe
from providers.redact import printable, scrub

CLI_TIMEOUT_SECONDS = 120  # `pulumi stack output` reads the state backend; it should answer in seconds
MAX_OUTPUT_BYTES = 8 << 20

# What to check first, by how a provider's request ended (probe/run.py's outcomes).
HINTS = {
    "credential": "export the variable it names: `pulumi stack output routerSecrets --stack {stack} --show-secrets"
    " --json` holds its value (or run with --secrets-from-stack)",
    "rejected-key": "the endpoint refused the credential: re-read it from routerSecrets (a re-created EAS service"
    " has a new token, read back by the next `up`), and check the router got the same value",
    "timeout": "no answer within the timeout: a scale-to-zero endpoint (Function Compute, RunPod, Modal, ACK from"
    " zero nodes) loads the model on its first request; run again with --timeout covering the cold start the plan"
    " states, then read the platform's logs",
    "unreachable": "no connection: check the endpoint's DNS name and TLS certificate, and that it is public"
    " (VPC-only endpoints need --include-vpc from inside the VPC)",
    "server-error": "the serving container answered 5xx: read its logs (kubectl logs for ACK, the EAS or Function"
    " Compute console, the RunPod or Modal dashboard); a model still loading answers 503",
    "client-error": "4xx other than a refused key: check the base URL ends with /v1 and the model name is served",
    "wrong-model": "another model answered: check the served model name of the deployment behind this endpoint",
    "redirected": "the endpoint redirects; the probe never follows a redirect with a credential: check the URL"
    " (https, the platform's own domain)",
    "bad-answer": "the answer is not an OpenAI chat completion: is something other than vLLM behind this URL?",
    "bad-request": "the request could not be sent: the credential's value has a line break; re-export it",
}


class CliError(UsageError):
    """The Pulumi CLI is missing or refused; the message says which, with nothing it printed unscrubbed."""


def stack_output(stack: str, name: str, *, secret: bool = False, cwd: Path | None = None) -> Any:
    """One output of a deployed stack, through the Pulumi CLI (JSON), bounded in time and size."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise CliError("the Pulumi CLI is not on PATH: the smoke test reads a deployed stack (docs/deploying.md)")
    command = [pulumi, "stack", "output", name, "--stack", stack, "--json"] + (["--show-secrets"] if secret else [])
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, timeout=CLI_TIMEOUT_SECONDS, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise CliError(f"`pulumi stack output {name}` did not answer within {CLI_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace")[-400:]
        raise CliError(f"`pulumi stack output {name} --stack {printable(stack)}` failed: {scrub(said, ())}")
    if len(done.stdout) > MAX_OUTPUT_BYTES:
        raise CliError(f"`pulumi stack output {name}` printed more than {MAX_OUTPUT_BYTES} bytes")
    try:
        return json.loads(done.stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CliError(f"`pulumi stack output {name}` did not print JSON") from None


def read_router_config(stack: str) -> dict[str, Any]:
    config = stack_output(stack, "routerConfig")
    if isinstance(config, str):  # an older CLI prints a JSON-encoded string output as a string
        try:
            config = json.loads(config)
        except json.JSONDecodeError:
            config = None
    problems = schema_problems(config) if isinstance(config, dict) else ["not a JSON object"]
    if problems:
        raise UsageError(
            f"stack {printable(stack)}'s routerConfig is not a router config: {printable('; '.join(problems[:3]))}"
        )
    return config


def read_router_secrets(stack: str) -> dict[str, str]:
    secrets = stack_output(stack, "routerSecrets", secret=True)
    if not isinstance(secrets, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()):
        raise UsageError(f"stack {printable(stack)}'s routerSecrets is not a map of variable names to values")
    return secrets


def advice(result: ProviderResult, stack: str) -> str:
    """What to check first for a provider that did not answer; empty for one that did."""
    if result.status == "passed":
        return ""
    if result.status == "skipped":
        return result.detail
    if result.detail.startswith("credential not in the environment"):
        return HINTS["credential"].format(stack=stack)
    failed = [outcome for outcome in result.outcomes if outcome != "ok"]
    return HINTS.get(failed[0], result.detail) if failed else result.detail


def report(results: Sequence[ProviderResult], stack: str) -> str:
    rows = [("PROVIDER", "TYPE", "MODEL", "ANSWERED", "LATENCY ms", "WHAT TO CHECK")]
    for r in results:
        answered = {"passed": "yes", "skipped": "skipped"}.get(r.status, "NO")
        latency = "-" if r.p50_ms is None else f"{r.p50_ms:.0f}"
        rows.append((r.provider, r.type, r.model, answered, latency, advice(r, stack)))
    shown = [[printable(cell, limit=400) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in shown) for i in range(len(shown[0]) - 1)]
    return "\n".join("  ".join(c.ljust(widths[i]) for i, c in enumerate(row[:-1])) + "  " + row[-1] for row in shown)


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m probe.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="the deployed router stack (e.g. router)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds per request")
    parser.add_argument("--include-vpc", action="store_true", help="also ask VPC-only endpoints (inside the VPC)")
    parser.add_argument(
        "--secrets-from-stack", action="store_true", help="read the credentials from the stack's routerSecrets"
    )
    args = parser.parse_args(argv)
    if not 0 < args.timeout <= 900:
        print(f"error: --timeout must be more than 0 and at most 900 seconds, got {args.timeout}", file=sys.stderr)
        return 2
    environ = dict(os.environ if environ is None else environ)
    try:
        config = read_router_config(args.stack)
        if args.secrets_from_stack:
            environ.update(read_router_secrets(args.stack))
        prompts = load_prompts()[:1]
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results = run_probe(
        config, prompts, requests=1, timeout=args.timeout, environ=environ, include_vpc=args.include_vpc
    )
    print(report(results, args.stack))
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    print(f"{len(results) - len(failed) - len(skipped)} answered, {len(failed)} did not, {len(skipped)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
