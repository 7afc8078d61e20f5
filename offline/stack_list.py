"""The stacks, from their Pulumi.<stack>.yaml files: which are regions and which is the router.

    python -m offline.stack_list                 # {"all": [...], "regions": [...], "routers": [...]}
    python -m offline.stack_list --github-output # the same as all=/regions=/routers= lines for $GITHUB_OUTPUT

Needs only PyYAML, so CI can list the stacks for its job matrices before installing anything else; the
files themselves are validated by the plan (offline/stack_files.py). Adding a region's stack file adds it
to every list, so CI needs no edit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def stack_lists(root: Path = ROOT) -> dict[str, list[str]]:
    project = (yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8")) or {})["name"]
    roles = {}
    for path in sorted(root.glob("Pulumi.*.yaml")):
        stack = path.name[len("Pulumi.") : -len(".yaml")]
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            document = {}  # listed as a region; the plan reports what is wrong with the file
        config = document.get("config") if isinstance(document, dict) else None
        config = config if isinstance(config, dict) else {}
        roles[stack] = config.get(f"{project}:stackRole", config.get("stackRole", "region"))
    return {
        "all": sorted(roles),
        "regions": sorted(s for s, role in roles.items() if role != "router"),
        "routers": sorted(s for s, role in roles.items() if role == "router"),
    }


def main(argv: list[str] | None = None) -> int:
    lists = stack_lists()
    if "--github-output" in (argv if argv is not None else sys.argv[1:]):
        print("\n".join(f"{name}={json.dumps(stacks)}" for name, stacks in lists.items()))
    else:
        print(json.dumps(lists))
    return 0


if __name__ == "__main__":
    sys.exit(main())
