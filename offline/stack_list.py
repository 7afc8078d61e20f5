"""The stacks, from their Pulumi.<stack>.yaml files: which are regions and which is the router.

    python -m offline.stack_list                 # {"all": [...], "regions": [...], "routers": [...]}
    python -m offline.stack_list --github-output # the same as all=/regions=/routers= lines for $GITHUB_OUTPUT
    python -m offline.stack_list --fleet mvp     # the stacks of an example fleet (fleets/mvp/)
    python -m offline.stack_list --fleets        # the example fleets: ["four-region", "hybrid", ...]

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
# The project root holds the default fleet; each example fleet is a folder of stack files under fleets/.
FLEETS_DIR = "fleets"
DEFAULT_FLEET = "default"


def fleet_names(root: Path = ROOT) -> list[str]:
    """The example fleets: every folder under fleets/ that holds a Pulumi.<stack>.yaml."""
    return sorted(p.name for p in (root / FLEETS_DIR).glob("*") if p.is_dir() and any(p.glob("Pulumi.*.yaml")))


def fleet_dir(fleet: str | None = None, root: Path = ROOT) -> Path:
    """Where a fleet's stack files are: the project root for the default fleet, else fleets/<fleet>/."""
    return root if fleet in (None, "", DEFAULT_FLEET) else root / FLEETS_DIR / fleet


def stack_lists(root: Path = ROOT, fleet: str | None = None) -> dict[str, list[str]]:
    # The project file is at the project root, also for a fleet whose stack files are in fleets/<fleet>/.
    project = (yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8")) or {})["name"]
    root = fleet_dir(fleet, root)
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
    args = argv if argv is not None else sys.argv[1:]
    if "--fleets" in args:
        print(json.dumps(fleet_names()))
        return 0
    fleet = args[args.index("--fleet") + 1] if "--fleet" in args[:-1] else None
    if fleet is not None and fleet != DEFAULT_FLEET and fleet not in fleet_names():
        print(f"error: no fleet '{fleet}' (fleets: {', '.join([DEFAULT_FLEET, *fleet_names()])})", file=sys.stderr)
        return 2
    lists = stack_lists(fleet=fleet)
    if "--github-output" in args:
        print("\n".join(f"{name}={json.dumps(stacks)}" for name, stacks in lists.items()))
    else:
        print(json.dumps(lists))
    return 0


if __name__ == "__main__":
    sys.exit(main())
