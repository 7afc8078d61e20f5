"""The layers point down only: stacks (composition) → components → fleet (pure logic).

Read from the source with `ast`, so a new module is covered the day it is added.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from fleet.config_schema import PROJECT_ROOT

PROVIDER_SDKS = ("pulumi_alicloud", "pulumi_kubernetes", "pulumi_docker", "pulumi_random", "runpodinfra", "modal")
# What declares resources, reads other stacks or calls the cloud: none of it belongs in the pure layer.
DECLARING_NAMES = ("ComponentResource", "CustomResource", "StackReference", "export", "invoke")
MAX_PURE_MODULE_LINES = 400
NOT_OURS = ("venv", "node_modules", "plan", "__pycache__")


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
    upper = {"components", "stacks", "providers", "offline", "policy", "weights", "probe"}
    found = roots(imported(path)) & {*PROVIDER_SDKS, *upper}
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


# --- no circles ---------------------------------------------------------------------------------------------
# Inside a package the imports form layers too: each module builds on the ones below it, never on one that builds
# on it. Every import counts, also one made inside a function or only for type checking (`if TYPE_CHECKING:`):
# an import hidden from the run time still says which module is the lower one, and a circle hides the answer.


def project_modules(root: Path = PROJECT_ROOT) -> dict[str, Path]:
    """Every module of the project's packages by dotted name (a package's __init__.py by the package's name)."""
    found: dict[str, Path] = {}
    for folder, subfolders, files in os.walk(root):
        # Virtualenvs, node packages and build output are not ours; nor is a hidden folder.
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in NOT_OURS)
        parts = Path(folder).relative_to(root).parts
        if not parts:
            continue  # the entry point beside Pulumi.yaml is in no package
        for file in sorted(f for f in files if f.endswith(".py")):
            name = [*parts] if file == "__init__.py" else [*parts, file[:-3]]
            found[".".join(name)] = Path(folder) / file
    return found


def module_imports(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The project's modules `name` imports: `from a import b` names module a.b where there is one, else a."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {target for target in targets if target in known and target != name}


def import_circles(known: Mapping[str, Path]) -> list[list[str]]:
    """Every circle of imports among modules of one package (the strongly connected parts of the graph, Tarjan)."""
    graph = {
        name: {t for t in module_imports(name, path, known) if t.split(".")[0] == name.split(".")[0]}
        for name, path in known.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while not part or part[-1] != node:
                part.append(stack.pop())
            if len(part) > 1:
                circles.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(circles)


PROJECT_PACKAGES = sorted({name.split(".")[0] for name in project_modules()})


@functools.cache
def project_circles() -> list[list[str]]:
    return import_circles(project_modules())


@pytest.mark.parametrize("package", PROJECT_PACKAGES)
def test_no_package_imports_in_a_circle_type_only_imports_included(package):
    circles = [c for c in project_circles() if c[0].split(".")[0] == package]
    assert not circles, (
        f"{package} has import circles (type-only imports count): {circles}; move what the lower module needs"
        " below both (as fleet/settings_types.py holds the settings' types below the planners)"
    )


def test_the_circle_check_catches_a_runtime_and_a_type_only_circle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.d import D\n")
    (pkg / "a.py").write_text("def f():\n    from pkg import b\n")  # an import inside a function counts
    (pkg / "b.py").write_text("from . import a\n")  # a relative one too
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub import D\n")
    (pkg / "sub" / "d.py").write_text("from pkg.c import x\n")  # d -> c -> sub (its __init__) -> d
    (pkg / "e.py").write_text("import pkg.a\nfrom pkg import c\n")  # below nothing, in no circle
    assert import_circles(project_modules(tmp_path)) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.sub", "pkg.sub.d"]]


def test_the_planners_sit_below_the_settings_and_fleet_below_weights():
    """fleet/settings/ validates with the planners, so no other module of fleet imports it (the planners take
    fleet/settings_types.py's dataclasses); weights/ builds on fleet (the manifest format is
    fleet/weights_manifest.py), so fleet imports nothing of weights."""
    known = project_modules()
    wrong = {}
    for name, path in known.items():
        reached = module_imports(name, path, known)
        if name.startswith("fleet.") and not name.startswith("fleet.settings"):
            wrong[name] = sorted(r for r in reached if r == "fleet.settings" or r.startswith("fleet.settings."))
        if name.split(".")[0] == "fleet":
            wrong.setdefault(name, []).extend(sorted(r for r in reached if r.split(".")[0] == "weights"))
    assert not {name: up for name, up in wrong.items() if up}, "these modules import a layer above them"


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
