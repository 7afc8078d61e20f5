"""`python -m probe`: read the arguments, then probe every provider (probe/run.py) or, with --consistency,
compare their answers (probe/consistency_command.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

from probe.consistency_command import run_consistency
from probe.run import (
    DEFAULT_TIMEOUT_SECONDS,
    MAX_REQUESTS_PER_PROVIDER,
    PROMPTS_PATH,
    UsageError,
    load_config,
    load_prompts,
    report_table,
    run_probe,
)
from providers.redact import printable


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line like the probe's own."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {printable(message)} (see python -m probe --help)\n")


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = _Parser(prog="python -m probe", description="Probe every provider of a router config.")
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
    parser.add_argument(
        "--consistency",
        action="store_true",
        help="check that every provider of a model answers the same fixed prompts alike (probe/consistency.py)",
    )
    parser.add_argument(
        "--logprob-tolerance",
        type=float,
        default=None,
        help="with --consistency: nats within which two tokens count as a near tie (default 0.1; docs/probe.md)",
    )
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
        if args.json and (args.json.is_dir() or not args.json.parent.is_dir()):
            raise UsageError(f"cannot write the JSON report to {printable(str(args.json))}: its folder does not exist")
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.provider) - set(config["providers"]))
    if unknown:
        print(f"error: unknown provider(s): {printable(', '.join(unknown))}", file=sys.stderr)
        return 2
    if args.consistency or args.logprob_tolerance is not None:
        return run_consistency(args, config, os.environ if environ is None else environ)

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
        try:
            args.json.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        except OSError as error:
            print(f"error: cannot write {printable(str(args.json))}: {error.strerror}", file=sys.stderr)
            return 2
    return 1 if failed else 0
