"""The layers point down only: stacks (composition) → components → fleet (pure logic).

Read from the source with `ast`, so a new module is covered the day it is added.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fleet.config_schema import PROJECT_ROOT

PROVIDER_SDKS = ("pulumi_alicloud", "pulumi_kubernetes", "pulumi_docker", "pulumi_random", "runpodinfra", "modal")
# What declares resources, reads other stacks or calls the cloud: none of it belongs in the pure layer.
DECLARING_NAMES = ("ComponentResource", "CustomResource", "StackReference", "export", "invoke")
MAX_PURE_MODULE_LINES = 400


def modules(package: str) -> list[Path]:
    return sorted((PROJECT_ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module a file imports, by its full dotted name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def roots(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def relative(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def impure(path: Path) -> set[str]:
    """What a module of the pure layer must not touch: upper layers, provider SDKs, declaring calls."""
    found = roots(imported(path)) & {*PROVIDER_SDKS, "components", "stacks", "providers", "offline", "policy"}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    used |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return found | (used & set(DECLARING_NAMES))


@pytest.mark.parametrize("path", modules("fleet"), ids=relative)
def test_the_pure_layer_imports_no_sdk_or_upper_layer_and_declares_nothing(path):
    assert not impure(path), f"{relative(path)} uses {sorted(impure(path))}"


@pytest.mark.parametrize("path", modules("components"), ids=relative)
def test_components_take_plain_data_not_settings_and_never_reach_up(path):
    names = imported(path)
    assert "stacks" not in roots(names), f"{relative(path)} imports the composition layer"
    assert not any(n == "fleet.settings" or n.startswith("fleet.settings.") for n in names), (
        f"{relative(path)} imports settings; pass the component plain values instead"
    )


@pytest.mark.parametrize("package", ["providers", "probe", "policy", "weights"])
def test_the_side_packages_do_not_reach_into_the_composition(package):
    for path in modules(package):
        assert not roots(imported(path)) & {"stacks", "components"}, relative(path)


@pytest.mark.parametrize("path", modules("fleet"), ids=relative)
def test_no_pure_module_grows_past_a_readable_length(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_PURE_MODULE_LINES, f"{relative(path)} has {lines} lines; split it by what it does"


def test_the_program_entry_point_only_chooses_a_stack():
    lines = [line for line in (PROJECT_ROOT / "__main__.py").read_text().splitlines() if line.strip()]
    assert len(lines) <= 15
    assert roots(imported(PROJECT_ROOT / "__main__.py")) <= {"fleet", "stacks"}


def test_the_pure_layer_check_catches_a_module_that_reaches_up(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pulumi\nimport pulumi_alicloud as alicloud\nfrom components.ack_cluster import AckCluster\n"
        "from stacks import region\npulumi.export('x', 1)\n"
    )
    assert impure(bad) == {"pulumi_alicloud", "components", "stacks", "export"}


# The simulated cloud takes its facts from offline/cloud_facts.json and policy/alicloud_rules.json, never from the
# program's tables in fleet/ (fleet.capacity, fleet.catalog, fleet.gpus, fleet.fc, fleet.eas, fleet.serving, ...):
# a wrong table would then pass both the program and its "cloud". Checked for the two modules and everything of this
# project they import, transitively.
SIMULATED_CLOUD = ("offline/real_cloud.py", "offline/simulated_cloud.py")
# Names the cloud may import from fleet: interface contracts, spelled alike on both sides because the cloud reads
# them off what the program declares (which label marks a pool, which annotation names a role), not facts about a
# service, so importing one cannot hide a wrong figure. None is imported today; a new one is added here on purpose.
CLOUD_INTERFACE_NAMES = frozenset(
    {
        "fleet.serving.NODE_POOL_LABEL",
        "fleet.serving.SERVING_NAMESPACE",
        "fleet.serving.POD_IDENTITY_NAMESPACE_LABEL",
        "fleet.serving.POD_IDENTITY_ROLE_ANNOTATION",
    }
)


def fleet_imports(path: Path) -> set[str]:
    """What a file imports from fleet, by full dotted name, less the allowed interface names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if roots({a.name}) == {"fleet"})
        elif isinstance(node, ast.ImportFrom) and node.module and roots({node.module}) == {"fleet"}:
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found - CLOUD_INTERFACE_NAMES


def project_closure(path: Path) -> list[Path]:
    """The file and every module of this project outside fleet/ it imports, transitively."""
    seen: list[Path] = []
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        for name in imported(current):
            if roots({name}) == {"fleet"}:
                continue
            candidate = PROJECT_ROOT / (name.replace(".", "/") + ".py")
            if candidate.is_file():
                todo.append(candidate)
    return seen


@pytest.mark.parametrize("module", SIMULATED_CLOUD)
def test_the_simulated_cloud_imports_none_of_the_programs_tables(module):
    reached = {relative(p): sorted(fleet_imports(p)) for p in project_closure(PROJECT_ROOT / module)}
    offending = {where: names for where, names in reached.items() if names}
    assert not offending, (
        f"{module} reaches the program's own tables through {offending}: take the fact from offline/cloud_facts.json"
        " (with its source) and compare the program's table with it in tests/test_cloud_facts.py"
    )


def test_the_simulated_cloud_check_catches_a_table_import_and_allows_an_interface_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import fleet.capacity\nfrom fleet import gpus\nfrom fleet.serving import NODE_POOL_LABEL, SERVING_PORT\n"
        "from fleet.catalog import BUILTIN_MODELS\n"
    )
    assert fleet_imports(bad) == {
        "fleet.capacity",
        "fleet.gpus",
        "fleet.serving.SERVING_PORT",
        "fleet.catalog.BUILTIN_MODELS",
    }
