"""`python -m probe --consistency`: the consistency check's command line, on top of the probe's own parsing."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from typing import Any

from probe import consistency
from probe.run import UsageError
from providers.redact import printable

MAX_TOLERANCE = 5.0  # nats: beyond this nearly any two tokens would count as a tie, and the check would prove nothing


def run_consistency(args: argparse.Namespace, config: Mapping[str, Any], environ: Mapping[str, str]) -> int:
    """0 when every model's providers agree; 1 when one disagrees or a provider did not answer; 2 for usage."""
    tolerance = consistency.DEFAULT_LOGPROB_TOLERANCE if args.logprob_tolerance is None else args.logprob_tolerance
    if not args.consistency:
        print("error: --logprob-tolerance goes with --consistency", file=sys.stderr)
        return 2
    if not (math.isfinite(tolerance) and 0 <= tolerance <= MAX_TOLERANCE):
        print(f"error: --logprob-tolerance must be 0..{MAX_TOLERANCE:g} nats, got {tolerance}", file=sys.stderr)
        return 2
    try:
        version, prompts = consistency.load_prompts()
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Each provider sends len(prompts) completions, a listing and a tokenization, one after another.
    deadline = args.timeout * (len(prompts) + 2)
    report = consistency.check(
        config,
        environ,
        prompts=prompts,
        prompts_version=version,
        timeout=args.timeout,
        deadline_seconds=deadline,
        tolerance=tolerance,
        include_vpc=args.include_vpc,
        only=args.provider,
    )
    print(consistency.report_text(report))
    if args.json:
        try:
            args.json.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        except OSError as error:
            print(f"error: cannot write {printable(str(args.json))}: {error.strerror}", file=sys.stderr)
            return 2
    return 0 if report.ok else 1
