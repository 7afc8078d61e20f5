"""The offline plan's cost next to the Pulumi SDK's own cost of declaring the same resources, under the same engine.

    python -m bench.plan_cost            # or: make bench
    python -m bench.plan_cost --repeat 9

A report, not a test: nothing here passes or fails. Two floors:

  - the replay floor (bench/replay.py, whose docstring says what it includes and leaves out): for each stack, a
    generated plain program that declares exactly what the stack's program declared (same types, names, parents,
    inputs and secrets, dependencies and options, the same StackReferences with the same outputs read through
    `get_output` once each, the same component and stack outputs), every value already known, run through the
    same engine with the same mocks, simulated cloud and StackReference outputs. The bench refuses a replay that
    does not declare what the program declared. This is the floor of issue #18's target;
  - the bare-VPC floor, kept for continuity with earlier figures: N bare `alicloud.vpc.Network` resources with
    one input each. Not the same resources: it has no nested inputs, secrets, components or StackReferences.

It prints, per stack and for the whole fleet (`make plan`: every shipped stack, the router over the region
stacks' outputs), the program's and the replay floor's milliseconds and their ratio (target: the whole fleet
within 1.25x); what share of the router's floor is the SDK reading stack outputs through `get_output`; one
region of 3 and of 10 models per resource (target: the larger no dearer per resource); and synthetic fleets of
R regions x M models, region stacks per resource and the router per provider, to show both grow linearly.

Program and floor runs alternate, after one warm-up each, and each figure is the median: on a shared machine a
load that comes and goes then falls on both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench import replay
from fleet import weights_manifest as manifest
from fleet.config_schema import PROJECT_ROOT
from offline.engine import Synthesis, as_stack_outputs, synthesize
from offline.plan import plan_stacks
from offline.simulated_cloud import StackOutputs
from offline.stack_files import StackConfig, load_stack_config, shipped_stacks

SCALE_REGIONS = ("us-east-1", "ap-southeast-1", "eu-central-1", "ap-northeast-1")
TARGET_RATIO = 1.25


def timed(runs: Mapping[Any, Callable[[], list[Synthesis]]], repeat: int) -> dict[Any, float]:
    """Median seconds of each run over `repeat` rounds, the runs alternating within a round, after one warm-up
    each (imports and caches, which a long `make plan` pays once)."""
    for label, run in runs.items():
        results = run()
        assert all(r.ok for r in results), (label, [r.error for r in results if not r.ok])
    samples: dict[Any, list[float]] = {label: [] for label in runs}
    for _ in range(repeat):
        for label, run in runs.items():
            start = time.perf_counter()
            run()
            samples[label].append(time.perf_counter() - start)
    return {label: statistics.median(found) for label, found in samples.items()}


def router_config(router: StackConfig, regions: list[StackConfig]) -> StackConfig:
    """The router stack over these region stacks; its in-cluster router runs where the shipped router stack puts
    it, or in the first region's VPC."""
    names = [f"organization/beacon-fleet/{c.stack}" for c in regions]
    in_vpc = router.values.get("beacon-fleet:routerKubernetesRegionStack", "")
    values = {
        **router.values,
        "beacon-fleet:regionStacks": json.dumps(names),
        "beacon-fleet:routerKubernetesRegionStack": in_vpc if in_vpc in names else names[0],
    }
    return StackConfig(router.stack, values, router.secret_keys)


def region_outputs(regions: list[StackConfig]) -> dict[str, StackOutputs]:
    return {c.stack: as_stack_outputs(synthesize(c.stack, c.values, c.secret_keys)) for c in regions}


def run_stack(
    config: StackConfig, stacks: Mapping[str, StackOutputs] | None = None, program_dir: str = str(PROJECT_ROOT)
) -> Callable[[], list[Synthesis]]:
    return lambda: [synthesize(config.stack, config.values, config.secret_keys, program_dir, stacks)]


def replay_floor(recording: replay.Recording, reads: bool = True) -> Callable[[], list[Synthesis]]:
    """The replay floor's run, once the replay has been checked to declare what the program declared."""
    program = replay.write_program(recording, reads=reads)
    if reads:
        problems = replay.check_replay(recording, replay.replay(recording, program))
        if problems:
            raise replay.ReplayError(f"{recording.config.stack}: the replay differs:\n  " + "\n  ".join(problems))
    return lambda: [replay.replay(recording, program)]


def bare_vpc_program(count: int) -> Path:
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
    folder of their own that fleet.weights_manifest reads through its environment variable."""
    folder = Path(tempfile.mkdtemp(prefix="beacon-bench-manifests-"))
    for path in manifest.MANIFEST_DIR.glob("*.json"):
        shutil.copy(path, folder / path.name)
    for i in range(most):
        built = manifest.build(f"bench-{i}", f"bench/m{i}", "0" * 40, ["model.safetensors"], {})
        manifest.manifest_path(built.model, folder).write_text(built.to_json(), encoding="utf-8")
    os.environ[manifest.MANIFEST_DIR_ENV] = str(folder)


def verdict(ratio: float, target: float) -> str:
    return f"target {target:.2f}x: {'met' if ratio <= target else 'NOT met'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan_cost")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--floor-resources", type=int, default=200, help="resources in the bare-VPC floor")
    args = parser.parse_args(argv)
    synthetic_manifests(10)

    configs = [load_stack_config(s) for s in shipped_stacks()]
    regions = [c for c in configs if c.values.get("beacon-fleet:stackRole", "region") == "region"]
    router = next(c for c in configs if c not in regions)  # as shipped, over the shipped region stacks
    recordings = [replay.record(c) for c in regions]
    stacks = {r.config.stack: as_stack_outputs(r.synthesis) for r in recordings}
    recordings.append(replay.record(router, stacks))

    print("stack            resources  program ms  replay floor ms  ratio")
    floors = {r.config.stack: replay_floor(r) for r in recordings}
    reading_ms = 0.0
    for recording in recordings:
        config = recording.config
        runs = {"program": run_stack(config, recording.stacks), "floor": floors[config.stack]}
        if recording.reads:
            runs["floor without reads"] = replay_floor(recording, reads=False)
        seconds = timed(runs, args.repeat)
        program_ms, floor_ms = 1000 * seconds["program"], 1000 * seconds["floor"]
        print(
            f"{config.stack:16s} {len(recording.synthesis.resources):9d}  {program_ms:10.1f}  {floor_ms:15.1f}"
            f"  {program_ms / floor_ms:5.2f}"
        )
        if recording.reads:
            reads = sum(len(keys) for keys in recording.reads.values())
            stack_reading_ms = floor_ms - 1000 * seconds["floor without reads"]
            reading_ms += stack_reading_ms
            print(
                f"  of its floor, {reads} StackReference.get_output reads (the program makes the same):"
                f" {stack_reading_ms:.1f} ms ({stack_reading_ms / floor_ms:.0%})"
            )

    whole = {
        "program": lambda: [s for _, s in plan_stacks(configs)],
        "floor": lambda: [s for run in floors.values() for s in run()],
    }
    seconds = timed(whole, args.repeat)
    resources = sum(len(r.synthesis.resources) for r in recordings)
    program_ms, floor_ms = 1000 * seconds["program"], 1000 * seconds["floor"]
    ratio = program_ms / floor_ms
    print(
        f"{'whole fleet':16s} {resources:9d}  {program_ms:10.1f}  {floor_ms:15.1f}  {ratio:5.2f}"
        f"  ({len(configs)} stacks, as `make plan`; {verdict(ratio, TARGET_RATIO)})"
    )
    if reading_ms:
        print(
            f"  leaving out the get_output reads both sides make ({reading_ms:.1f} ms each):"
            f" {(program_ms - reading_ms) / (floor_ms - reading_ms):.2f}"
        )

    print()
    bare = bare_vpc_program(args.floor_resources)
    bare_config = StackConfig("floor", {"alicloud:region": "us-east-1"}, ())
    bare_recording = replay.record(bare_config, program_dir=str(bare))
    seconds = timed(
        {"typed": run_stack(bare_config, program_dir=str(bare)), "generic": replay_floor(bare_recording)}, args.repeat
    )
    typed_ms, generic_ms = (1000 * seconds[k] / args.floor_resources for k in ("typed", "generic"))
    whole_ms = program_ms / resources
    share = 1 - generic_ms / typed_ms
    print(f"bare-VPC floor (for continuity; not the same resources): {args.floor_resources} alicloud.vpc.Network")
    print(f"  through the generated class: {typed_ms:.2f} ms/resource; `make plan` {whole_ms / typed_ms:.2f}x that")
    print(
        f"  as the replay floor declares them (pulumi.CustomResource, same properties): {generic_ms:.2f} ms/resource;"
        f" the generated class's own Python, left out of the replay floor: {share:.0%}"
    )
    print()
    print("one region       resources  program ms  ms/resource  replay floor ms  ratio")
    runs, counts = {}, {}
    for models in (3, 10):  # timed together, so the load of the moment falls on both sizes alike
        recording = replay.record(synthetic_config("us-east-1", models))
        runs[("program", models)] = run_stack(recording.config)
        runs[("floor", models)] = replay_floor(recording)
        counts[models] = len(recording.synthesis.resources)
    seconds = timed(runs, args.repeat)
    per_model, floor_per_model = {}, {}
    for models, count in counts.items():
        program_s, floor_s = seconds[("program", models)], seconds[("floor", models)]
        per_model[models], floor_per_model[models] = 1000 * program_s / count, 1000 * floor_s / count
        print(
            f"  {models:2d} models      {count:9d}  {1000 * program_s:10.1f}  {per_model[models]:11.2f}"
            f"  {1000 * floor_s:15.1f}  {program_s / floor_s:5.2f}"
        )
    ratio = per_model[10] / per_model[3]
    print(
        f"  10 models / 3 models, program ms per resource: {ratio:.2f} ({verdict(ratio, 1.0)});"
        f" replay floor: {floor_per_model[10] / floor_per_model[3]:.2f}"
    )

    print()
    print("scale: regions x models -> resources, ms, ms/resource | router: providers, ms, ms/provider")
    for count in (1, 2, 4):
        for models in (1, 3, 6):
            scaled = [synthetic_config(r, models) for r in SCALE_REGIONS[:count]]
            run = lambda s=scaled: [synthesize(c.stack, c.values, c.secret_keys) for c in s]  # noqa: E731
            seconds = timed({"regions": run}, args.repeat)["regions"]
            resources = sum(len(s.resources) for s in run())
            line = f"  {count} x {models}  {resources:5d}  {1000 * seconds:8.1f}  {1000 * seconds / resources:6.2f}"
            scaled_router = router_config(router, scaled)
            outputs = region_outputs(scaled)
            try:
                router_s = timed({"router": run_stack(scaled_router, outputs)}, args.repeat)["router"]
            except AssertionError as failed:  # reported, not hidden
                print(f"{line}  | router failed: {str(failed).strip().splitlines()[-1][:100]}")
                continue
            providers = len(run_stack(scaled_router, outputs)()[0].outputs["routerConfig"]["providers"])
            print(f"{line}  | {providers:4d}  {1000 * router_s:7.1f}  {1000 * router_s / providers:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
