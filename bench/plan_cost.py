"""The offline plan's cost per declared resource, next to the Pulumi SDK's own registration cost under mocks.

    python -m bench.plan_cost            # or: make bench
    python -m bench.plan_cost --repeat 5

A report, not a test: nothing here passes or fails. It prints
  - floor:  a program that only registers N bare alicloud.vpc.Network resources, through the same engine;
  - fleet:  every shipped stack, synthesized as `make plan` does;
  - scale:  synthetic fleets of R regions x M models, to show cost grows linearly with R x M.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from offline.engine import Synthesis, synthesize
from offline.stack_files import StackConfig, load_stack_config, shipped_stacks

SCALE_REGIONS = ("us-east-1", "ap-southeast-1", "eu-central-1", "ap-northeast-1")


def timed(run: Callable[[], list[Synthesis]], repeat: int) -> tuple[float, int]:
    """Median seconds of `repeat` runs after one warm-up, and the resources one run declared."""
    results = run()  # warm-up: imports and caches, which a long `make plan` pays once
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), sum(len(r.resources) for r in results)


def floor_program(count: int) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="beacon-floor-"))
    (folder / "__main__.py").write_text(
        "import pulumi_alicloud as alicloud\n"
        f"for i in range({count}):\n"
        "    alicloud.vpc.Network(f'vpc-{i}', cidr_block='10.0.0.0/16')\n"
    )
    return folder


def synthetic_config(region: str, models: int) -> StackConfig:
    base = load_stack_config("us-east")
    custom = [
        f"id=bench-{i};hfRepo=bench/m{i};paramsB=1;layers=16;hiddenSize=2048;attentionHeads=32;kvHeads=8;"
        "headDim=64;maxContext=8192;vocab=32000"
        for i in range(models)
    ]
    values = dict(base.values)
    values.update(
        {
            "alicloud:region": region,
            "beacon-fleet:routerRegion": region,
            "beacon-fleet:customModels": json.dumps(custom),
            "beacon-fleet:models": json.dumps([f"bench-{i}" for i in range(models)]),
        }
    )
    return StackConfig(f"bench-{region}", values, base.secret_keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan_cost")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--floor-resources", type=int, default=200)
    args = parser.parse_args(argv)

    program = str(floor_program(args.floor_resources))
    floor_config = {"alicloud:region": "us-east-1"}
    floor_s, floor_n = timed(lambda: [synthesize("floor", floor_config, program_dir=program)], args.repeat)
    floor_ms = 1000 * floor_s / floor_n

    configs = [load_stack_config(s) for s in shipped_stacks()]
    fleet_s, fleet_n = timed(lambda: [synthesize(c.stack, c.values, c.secret_keys) for c in configs], args.repeat)
    fleet_ms = 1000 * fleet_s / fleet_n

    print(f"SDK floor   {floor_n:5d} resources  {1000 * floor_s:8.1f} ms  {floor_ms:6.2f} ms/resource")
    print(
        f"fleet plan  {fleet_n:5d} resources  {1000 * fleet_s:8.1f} ms  {fleet_ms:6.2f} ms/resource"
        f"  ({fleet_ms / floor_ms:.2f}x the floor, {len(configs)} stacks)"
    )
    print()
    print("scale: regions x models -> resources, ms, ms/resource")
    for regions in (1, 2, 4):
        for models in (1, 3, 6):
            scaled = [synthetic_config(r, models) for r in SCALE_REGIONS[:regions]]
            run = lambda s=scaled: [synthesize(c.stack, c.values, c.secret_keys) for c in s]  # noqa: E731
            seconds, count = timed(run, args.repeat)
            print(f"  {regions} x {models}  {count:5d}  {1000 * seconds:8.1f}  {1000 * seconds / count:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
