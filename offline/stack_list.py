"""The stacks, from their Pulumi.<stack>.yaml files: which are regions and which is the router.

    python -m offline.stack_list                 # {"all": [...], "regions": [...], "routers": [...], "alibaba": [...]}
    python -m offline.stack_list --github-output # the same as all=/regions=/routers=/alibaba= lines for $GITHUB_OUTPUT
    python -m offline.stack_list --fleet mvp     # the stacks of an example fleet (fleets/mvp/)
    python -m offline.stack_list --fleets        # the example fleets: ["four-region", "hybrid", ...]

Needs only PyYAML (and fleet/kinds.py, which is standard library only), so CI can list the stacks for its job
matrices before installing anything else; the files themselves are validated by the plan (offline/stack_files.py).
Adding a region's stack file adds it to every list, so CI needs no edit.

`alibaba` lists the stacks that declare resources on Alibaba Cloud, the only ones CI gives Alibaba credentials:
a region stack whose servingPlatforms (its file's, else Pulumi.yaml's default) names a kind that is on Alibaba
Cloud (fleet/kinds.py's on_alibaba). A region with no such platform declares nothing there, not even a look-up
(stacks/region.py), and the router stack never does. tests/test_workflows.py checks the list against each stack's
offline plan.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from fleet.kinds import BY_PLATFORM

ROOT = Path(__file__).resolve().parent.parent
# libyaml's parser where PyYAML has it (its wheels do): the same documents as SafeLoader's, in a tenth of the time.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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
    project_file = yaml.load((root / "Pulumi.yaml").read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
    project = project_file["name"]
    default_platforms = ((project_file.get("config") or {}).get("servingPlatforms") or {}).get("default", [])
    root = fleet_dir(fleet, root)
    roles = {}
    on_alibaba = set()
    for path in sorted(root.glob("Pulumi.*.yaml")):
        stack = path.name[len("Pulumi.") : -len(".yaml")]
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
        except yaml.YAMLError:
            document = {}  # listed as a region; the plan reports what is wrong with the file
        config = document.get("config") if isinstance(document, dict) else None
        config = config if isinstance(config, dict) else {}
        roles[stack] = config.get(f"{project}:stackRole", config.get("stackRole", "region"))
        platforms = config.get(f"{project}:servingPlatforms", config.get("servingPlatforms", default_platforms))
        if roles[stack] != "router" and declares_on_alibaba(platforms):
            on_alibaba.add(stack)
    return {
        "all": sorted(roles),
        "regions": sorted(s for s, role in roles.items() if role != "router"),
        "routers": sorted(s for s, role in roles.items() if role == "router"),
        "alibaba": sorted(on_alibaba),
    }


def declares_on_alibaba(platforms: object) -> bool:
    """Whether a region stack's servingPlatforms makes it declare resources on Alibaba Cloud. A value that is not a
    list of known platforms counts as yes: the plan refuses it anyway, and credentials too many beat a preview that
    fails for want of them."""
    if isinstance(platforms, str):  # a value written as a string, e.g. '[]' or '["fc"]'
        try:
            platforms = yaml.safe_load(platforms)
        except yaml.YAMLError:
            return True
    if not isinstance(platforms, list):
        return True
    return any(not isinstance(p, str) or p not in BY_PLATFORM or BY_PLATFORM[p].on_alibaba for p in platforms)


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
