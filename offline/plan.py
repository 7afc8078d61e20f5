"""`make plan`: synthesize every stack offline and show what each declares.

    python -m offline.plan                      # every stack: tables on stdout, JSON in plan/
    python -m offline.plan --stack cn-beijing   # one stack (repeatable)
    python -m offline.plan --json-only          # JSON files only, one status line per stack
    python -m offline.plan --out build/plan     # another output folder

Exit code 0 when every stack synthesized, 1 when one failed, 2 for a usage error such as an unknown stack.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from offline.engine import synthesize
from offline.report import plan_document, plan_json, plan_table
from offline.stack_files import StackFileError, load_stack_config, shipped_stacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.plan", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stack", action="append", help="a stack to plan (repeatable); default: every Pulumi.<stack>.yaml"
    )
    parser.add_argument("--json-only", action="store_true", help="write the JSON plans; print no tables")
    parser.add_argument("--out", type=Path, default=Path("plan"), help="folder for <stack>.json (default: plan/)")
    args = parser.parse_args(argv)

    stacks = args.stack or shipped_stacks()
    try:
        configs = [load_stack_config(stack) for stack in stacks]
    except StackFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for config in configs:
        synthesis = synthesize(config.stack, config.values, config.secret_keys)
        path = args.out / f"{config.stack}.json"
        path.write_text(plan_json(plan_document(config, synthesis)), encoding="utf-8")
        if not synthesis.ok:
            failed.append(config.stack)
        if args.json_only:
            status = f"{len(synthesis.resources)} resources" if synthesis.ok else "FAILED"
            print(f"{config.stack}: {status} -> {path}")
        else:
            print(plan_table(config, synthesis))
            print(f"plan written to {path}\n")

    if failed:
        print(f"{len(failed)} of {len(configs)} stacks failed to synthesize: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(configs)} stacks synthesized offline (simulated, nothing deployed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
