"""The offline plan's cost per declared resource, next to the Pulumi SDK's own registration cost under mocks.

    python -m bench.plan_cost            # or: make bench
    python -m bench.plan_cost --repeat 5

A report, not a test: nothing here passes or fails. It prints
  - floor:  a program that only registers N bare alicloud.vpc.Network resources, through the same engine;
  - fleet:  every shipped region stack, synthesized as `make plan` does, per declared resource;
  - router: the router stack over the region stacks' outputs. It declares few resources but moves the whole
            fleet's config through StackReference, so its cost follows providers (regions x models), and
            is reported per provider rather than folded into the per-resource figure;
  - scale:  synthetic fleets of R regions x M models, to show both costs grow linearly with R x M;
  - models: one region of 3 and of 10 models, per resource (the larger should cost no more per resource).
Targets: the whole fleet's plan within 1.25x the floor per resource; a 10-model region no dearer per resource.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from offline.engine import Synthesis, as_stack_outputs, synthesize
from offline.plan import plan_stacks
from offline.stack_files import StackConfig, load_stack_config, shipped_stacks
from weights import manifest

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


def time_router(router: StackConfig, regions: list[StackConfig], repeat: int) -> tuple[float, int]:
    """Median seconds to synthesize the router stack over these region stacks' outputs, and its providers."""
    outputs = {c.stack: as_stack_outputs(synthesize(c.stack, c.values, c.secret_keys)) for c in regions}
    names = [f"organization/beacon-fleet/{c.stack}" for c in regions]
    # The in-cluster router runs where the shipped router stack puts it, or in the first region's VPC.
    in_vpc = router.values.get("beacon-fleet:routerKubernetesRegionStack", "")
    values = {
        **router.values,
        "beacon-fleet:regionStacks": json.dumps(names),
        "beacon-fleet:routerKubernetesRegionStack": in_vpc if in_vpc in names else names[0],
    }
    run = lambda: [synthesize(router.stack, values, router.secret_keys, stacks=outputs)]  # noqa: E731
    seconds, _ = timed(run, repeat)
    config = run()[0].outputs["routerConfig"]
    return seconds, len(config["providers"])


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
        f"headDim=64;maxContext=8192;vocab=32000;revision={'0' * 40}"
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


def synthetic_manifests(most: int) -> None:
    """Manifests for the synthetic models (one weight file each, hash unknown) beside the committed ones, in a
    folder of their own that weights.manifest reads through its environment variable."""
    folder = Path(tempfile.mkdtemp(prefix="beacon-bench-manifests-"))
    for path in manifest.MANIFEST_DIR.glob("*.json"):
        shutil.copy(path, folder / path.name)
    for i in range(most):
        built = manifest.build(f"bench-{i}", f"bench/m{i}", "0" * 40, ["model.safetensors"], {})
        manifest.manifest_path(built.model, folder).write_text(built.to_json(), encoding="utf-8")
    os.environ[manifest.MANIFEST_DIR_ENV] = str(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan_cost")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--floor-resources", type=int, default=200)
    args = parser.parse_args(argv)
    synthetic_manifests(10)

    program = str(floor_program(args.floor_resources))
    floor_config = {"alicloud:region": "us-east-1"}
    floor_s, floor_n = timed(lambda: [synthesize("floor", floor_config, program_dir=program)], args.repeat)
    floor_ms = 1000 * floor_s / floor_n

    configs = [load_stack_config(s) for s in shipped_stacks()]
    regions = [c for c in configs if c.values.get("beacon-fleet:stackRole", "region") == "region"]
    router = next(c for c in configs if c not in regions)
    fleet_s, fleet_n = timed(lambda: [synthesize(c.stack, c.values, c.secret_keys) for c in regions], args.repeat)
    fleet_ms = 1000 * fleet_s / fleet_n
    router_s, providers = time_router(router, regions, args.repeat)
    whole_s, whole_n = timed(lambda: [s for _, s in plan_stacks(configs)], args.repeat)
    whole_ms = 1000 * whole_s / whole_n

    print(f"SDK floor   {floor_n:5d} resources  {1000 * floor_s:8.1f} ms  {floor_ms:6.2f} ms/resource")
    print(
        f"fleet plan  {fleet_n:5d} resources  {1000 * fleet_s:8.1f} ms  {fleet_ms:6.2f} ms/resource"
        f"  ({fleet_ms / floor_ms:.2f}x the floor, {len(regions)} region stacks)"
    )
    per_provider = 1000 * router_s / providers
    print(f"router      {providers:5d} providers  {1000 * router_s:8.1f} ms  {per_provider:6.2f} ms/provider")
    print(
        f"make plan   {whole_n:5d} resources  {1000 * whole_s:8.1f} ms  {whole_ms:6.2f} ms/resource"
        f"  ({whole_ms / floor_ms:.2f}x the floor; target 1.25x; {len(configs)} stacks)"
    )
    per_model = {}
    for models in (3, 10):
        config = synthetic_config("us-east-1", models)
        seconds, resources = timed(lambda c=config: [synthesize(c.stack, c.values, c.secret_keys)], args.repeat)
        per_model[models] = 1000 * seconds / resources
        print(
            f"region {models:2d} models {resources:5d} resources  {1000 * seconds:8.1f} ms"
            f"  {per_model[models]:6.2f} ms/resource"
        )
    print(f"  10 models / 3 models per resource: {per_model[10] / per_model[3]:.2f} (target at most 1.00)")
    print()
    print("scale: regions x models -> resources, ms, ms/resource | router: providers, ms, ms/provider")
    for count in (1, 2, 4):
        for models in (1, 3, 6):
            scaled = [synthetic_config(r, models) for r in SCALE_REGIONS[:count]]
            run = lambda s=scaled: [synthesize(c.stack, c.values, c.secret_keys) for c in s]  # noqa: E731
            seconds, resources = timed(run, args.repeat)
            try:
                r_seconds, r_providers = time_router(router, scaled, args.repeat)
            except AssertionError as failed:  # reported, not hidden: see the line printed
                last = str(failed).strip().splitlines()[-1][:100]
                print(f"  {count} x {models}  {resources:5d}  {1000 * seconds:8.1f}  | router failed: {last}")
                continue
            print(
                f"  {count} x {models}  {resources:5d}  {1000 * seconds:8.1f}  {1000 * seconds / resources:6.2f}"
                f"  | {r_providers:4d}  {1000 * r_seconds:7.1f}  {1000 * r_seconds / r_providers:6.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
