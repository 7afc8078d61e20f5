"""`make plan`: synthesize every stack offline and show what each declares.

    python -m offline.plan                      # every stack: tables on stdout, JSON in plan/
    python -m offline.plan --stack cn-beijing   # one stack (repeatable)
    python -m offline.plan --fleet mvp          # an example fleet's stacks (fleets/mvp/), JSON in plan/mvp/
    python -m offline.plan --json-only          # JSON files only, one status line per stack
    python -m offline.plan --out build/plan     # another output folder
    python -m offline.plan --view cost          # only the cost tables, per region and for the fleet
    python -m offline.plan --view cost-json     # the same as JSON, for tools
    python -m offline.plan --prices mine.yaml   # add prices (Alibaba's) to prices/prices.yaml's

The router stack reads the region stacks' outputs through StackReference; offline, those are the outputs
of the region stacks' own syntheses (planned first, silently if not asked for), so the router's config comes
from the same code path as in a real deployment.

Each stack is also checked by the policy pack in policy/, as `pulumi preview --policy-pack policy` would.

Exit code 0 when every stack synthesized and passed every mandatory policy, 1 when one did not, 2 for a usage
error such as an unknown stack.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from fleet import cost, credentials, platform_cost
from fleet.config_schema import load_project_schema
from offline import policy_check
from offline.engine import Synthesis, as_stack_outputs, synthesize
from offline.report import (
    PLAN_FORMAT,
    cost_lines,
    fit,
    plan_document,
    plan_json,
    plan_table,
    plural,
    policy_lines,
    region_cost,
    study_lines,
)
from offline.stack_files import (
    InvalidStackFileError,
    StackConfig,
    StackFileError,
    cross_stack_problems,
    load_stack_config,
    shipped_stacks,
    stack_file,
)
from offline.stack_list import DEFAULT_FLEET, fleet_names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.plan", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stack", action="append", help="a stack to plan (repeatable); default: every Pulumi.<stack>.yaml"
    )
    parser.add_argument(
        "--fleet",
        default=DEFAULT_FLEET,
        help=f"the fleet whose stacks to plan: {DEFAULT_FLEET} (the project root's stack files) or a folder under"
        " fleets/ (default: default)",
    )
    parser.add_argument("--json-only", action="store_true", help="write the JSON plans; print no tables")
    parser.add_argument(
        "--out", type=Path, help="folder for <stack>.json (default: plan/, or plan/<fleet>/ for an example fleet)"
    )
    parser.add_argument(
        "--view", choices=("full", "cost", "cost-json"), default="full", help="what to print (default: full)"
    )
    parser.add_argument("--prices", type=Path, action="append", default=[], help="extra price file (repeatable)")
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=cost.DEFAULT_LATENCY_SECONDS,
        help="average inference latency for the per-million figures (default: the study's 2 s)",
    )
    args = parser.parse_args(argv)
    try:
        prices = cost.load_prices([cost.PRICES_PATH, *args.prices])
    except (OSError, cost.PriceTableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    fleet = None if args.fleet == DEFAULT_FLEET else args.fleet
    if fleet is not None and fleet not in fleet_names():
        known = ", ".join([DEFAULT_FLEET, *fleet_names()])
        print(f"error: no fleet '{fleet}': no fleets/{fleet}/ with stack files (fleets: {known})", file=sys.stderr)
        return 2
    if args.out is None:
        args.out = Path("plan") if fleet is None else Path("plan") / fleet
    stacks = list(dict.fromkeys(args.stack or shipped_stacks(fleet=fleet)))
    configs, broken = [], []
    for stack in stacks:
        try:
            configs.append(_load(stack, fleet))
        except InvalidStackFileError as error:  # the file exists but is not a valid stack file: that stack fails
            broken.append((StackConfig(stack, {}, ()), Synthesis(stack, error=str(error))))
        except StackFileError as error:  # no such stack: a usage error
            print(f"error: {error}", file=sys.stderr)
            return 2

    args.out.mkdir(parents=True, exist_ok=True)
    if not args.stack:
        _remove_stale_plans(args.out, set(stacks))
    failed = []
    over_budget: list[str] = []
    region_costs = []
    for config, synthesis in broken + plan_stacks(configs, fleet=fleet):
        path = args.out / f"{config.stack}.json"
        violations = policy_check.check_synthesis(synthesis)
        path.write_text(plan_json(plan_document(config, synthesis, prices, violations=violations)), encoding="utf-8")
        if not synthesis.ok or policy_check.mandatory(violations):
            failed.append(config.stack)  # a mandatory policy violation fails `pulumi preview` too
        region = region_cost(synthesis, prices, args.latency_seconds)
        if region:
            region_costs.append(region)
            budget = platform_cost.budget_view(region)
            if budget and budget["problems"]:  # over its yearlyBudgetUsd: the plan fails, saying what to change
                over_budget.extend(f"  - {config.stack}: {problem}" for problem in budget["problems"])
        reasons = failure_lines(synthesis, violations)
        if args.view == "cost":
            if reasons:
                print(f"== stack {config.stack}: FAILED -> {path}", *reasons, sep="\n")
            else:
                print(
                    f"== stack {config.stack}"
                    + ("\n".join(cost_lines(region)) if region else ": no cost (not a region)")
                )
        elif args.view == "cost-json":
            if reasons:  # stdout is JSON only; why a stack failed goes to stderr
                print(f"{config.stack}: FAILED -> {path}", *reasons, sep="\n", file=sys.stderr)
        elif args.json_only:
            status = plural(len(synthesis.resources), "resource") if synthesis.ok else "FAILED"
            if config.stack in failed and synthesis.ok:
                status += ", mandatory policy violations"
            print(f"{config.stack}: {status} -> {path}", *reasons, sep="\n")
        else:
            print(plan_table(config, synthesis, prices, violations))
            if reasons:
                print(f"{config.stack} FAILED (the error is also in {path})\n")
            else:
                print(f"plan written to {path}\n")

    across = [message for involved, message in _cross_stack(fleet) if involved & set(stacks)]

    fleet_cost = {
        "regions": [cost.as_json(r) for r in region_costs],
        "monthMin": cost.total(r.month_min for r in region_costs).as_json(),
        "monthMax": cost.total(r.month_max for r in region_costs).as_json(),
        "headline": platform_cost.headline_json(region_costs),
        "study": cost.study_scenario(prices),
    }
    if args.view == "cost-json":
        print(plan_json(fleet_cost), end="")
    elif not args.json_only and not failed:  # a fleet total over the stacks that planned would read as the fleet's
        fleet_lines = [
            *platform_cost.headline_lines(region_costs, f"Fleet, {plural(len(region_costs), 'region')}"),
            *platform_cost.fleet_lines(region_costs),
            # The study's reference scenario is the same on every run: the cost view's, not every plan's.
            *(study_lines(prices)[1:] if args.view == "cost" else []),
        ]
        print("\n".join(fit(fleet_lines)))
        print()
    if across:
        print(f"the stacks disagree ({plural(len(across), 'problem')}):", file=sys.stderr)
        print("\n".join(fit([f"  - {message}" for message in across])), file=sys.stderr)
    if over_budget:
        print("over budget (yearlyBudgetUsd):", file=sys.stderr)
        print("\n".join(fit(over_budget)), file=sys.stderr)
    if failed:
        print(
            f"{len(failed)} of {plural(len(stacks), 'stack')} failed to synthesize or broke a mandatory policy:"
            f" {', '.join(failed)}",
            file=sys.stderr,
        )
    if failed or across or over_budget:
        return 1
    # With --view cost-json, stdout is JSON only; the status goes to stderr.
    status = sys.stderr if args.view == "cost-json" else sys.stdout
    every = "the 1 stack" if len(stacks) == 1 else f"all {len(stacks)} stacks"
    print(f"{every} synthesized offline (simulated, nothing deployed)", file=status)
    return 0


def failure_lines(synthesis: Synthesis, violations: list[policy_check.Violation]) -> list[str]:
    """Why a stack failed, as the terminal shows it in every view: its error, or its mandatory policy violations;
    nothing when it planned."""
    if not synthesis.ok:
        return fit([f"  {line}" for line in credentials.redact(synthesis.error or "").splitlines() if line.strip()])
    return fit([f"  {line.strip()}" for line in policy_lines(policy_check.mandatory(violations))[2:]])


def _cross_stack(fleet: str | None = None) -> list[tuple[frozenset[str], str]]:
    """Cross-stack problems among every stack file of the fleet that loads (not only the ones asked for)."""
    configs = []
    for stack in shipped_stacks(fleet=fleet):
        try:
            configs.append(_load(stack, fleet))
        except StackFileError:
            continue  # reported as that stack's own failure when it is planned
    return cross_stack_problems(configs)


def _remove_stale_plans(out: Path, stacks: set[str]) -> None:
    """Delete the plans of stacks whose file is gone, so a deleted stack does not linger in plan/ or a diff."""
    for path in out.glob("*.json"):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and document.get("format") == PLAN_FORMAT and document.get("stack") not in stacks:
            path.unlink()


def plan_stacks(configs: Iterable[StackConfig], fleet: str | None = None) -> list[tuple[StackConfig, Synthesis]]:
    """Synthesize each stack, region stacks first; a router stack reads their outputs as its StackReferences.

    A region stack a router references but that was not asked for is synthesized too (from the same fleet's
    folder), and not returned.
    """
    asked = sorted(configs, key=lambda c: (_role(c) == "router", c.stack))
    done: dict[str, Synthesis] = {}
    results = []
    for config in asked:
        if _role(config) == "router":
            for name in _referenced(config):
                if name not in done:
                    try:
                        region = _load(name, fleet)
                    except StackFileError:
                        continue  # the router's synthesis reports the stack as exporting nothing
                    done[name] = synthesize(region.stack, region.values, region.secret_keys)
            stacks = {name: as_stack_outputs(s) for name, s in done.items() if s.ok}
            synthesis = synthesize(config.stack, config.values, config.secret_keys, stacks=stacks)
        else:
            synthesis = synthesize(config.stack, config.values, config.secret_keys)
        done[config.stack] = synthesis
        results.append((config, synthesis))
    return results


def _load(stack: str, fleet: str | None) -> StackConfig:
    """A stack's config from the default fleet's file at the project root, or from fleets/<fleet>/."""
    # The fleet goes along, so an unknown stack is named with the fleet's own stacks, not the default fleet's.
    return (
        load_stack_config(stack)
        if fleet is None
        else load_stack_config(stack, stack_file(stack, fleet=fleet), fleet=fleet)
    )


def _role(config: StackConfig) -> str:
    return config.values.get(f"{load_project_schema().project}:stackRole", "region")


def _referenced(config: StackConfig) -> list[str]:
    try:
        names = json.loads(config.values.get(f"{load_project_schema().project}:regionStacks", "[]"))
    except ValueError:
        return []  # the router's own settings report the malformed key
    return [str(name).rsplit("/", 1)[-1] for name in names if isinstance(name, str)]


if __name__ == "__main__":
    sys.exit(main())
