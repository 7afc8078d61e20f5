"""Adding a region as the README says keeps everything green: the README's two examples (a region on Alibaba
Cloud with no counterpart, and a region served by its RunPod counterpart alone, without Alibaba), read from
the README itself, are added to a copy of the project with their names in the router's regionStacks; the copy
plans, CI lists them, and the tests that read the stack files pass there with no edit and nothing deselected.

One subprocess runs those test modules in the copy (not the whole suite): the modules whose cases or
expectations come from the stack files (conftest's REGION_STACKS, SHIPPED_STACKS, ROUTER_LABELS)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from offline import stack_files
from offline.stack_files import shipped_stacks
from tests.conftest import shared_synthesize

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Bytecode is copied too (the sources keep their times, so it stays valid): the copy's pytest then compiles nothing.
BUILD_OUTPUT = (".git", ".venv", "plan", ".pytest_cache", ".ruff_cache", "venv", "results")
README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
# The modules whose cases or expectations come from the stack files.
STACK_TESTS = (
    "tests/test_workflows.py",
    "tests/test_router_stack.py",
    "tests/test_router_config.py",
    "tests/test_region_stacks.py",
    "tests/test_policy_pack.py",
    "tests/test_plan_diff.py",
)


def readme_stack_files() -> dict[str, str]:
    """The README's example stack files under "Adding a region": name -> YAML text, as a user would copy them."""
    section = README.split("## Adding a region", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n# Pulumi\.([a-z0-9-]+)\.yaml\n(.*?)```", section, re.DOTALL)
    return {name: text for name, text in blocks}


EXAMPLES = readme_stack_files()


def run(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=repo, capture_output=True, text=True, check=False)


def add_to_router(repo: Path, names: list[str]) -> None:
    """The README's second edit: each name in the router stack's regionStacks."""
    router = repo / "Pulumi.router.yaml"
    text = router.read_text(encoding="utf-8")
    listed = re.findall(r"^    - organization/beacon-fleet/.+\n", text, re.MULTILINE)
    assert listed, "Pulumi.router.yaml lists no region stack"
    added = "".join(f"    - organization/beacon-fleet/{name}\n" for name in names)
    router.write_text(text.replace(listed[-1], listed[-1] + added), encoding="utf-8")


def copy_project(tmp: Path) -> Path:
    repo = tmp / "repo"
    shutil.copytree(PROJECT_ROOT, repo, ignore=shutil.ignore_patterns(*BUILD_OUTPUT))
    return repo


def test_the_readme_shows_a_region_on_alibaba_and_one_served_by_its_counterpart_alone():
    configs = {name: yaml.safe_load(text)["config"] for name, text in EXAMPLES.items()}
    assert len(configs) == 2, f"the README's examples under 'Adding a region': {sorted(EXAMPLES)}"
    on_alibaba = [c for c in configs.values() if "alicloud:region" in c]
    alone = [c for c in configs.values() if c.get("beacon-fleet:servingPlatforms") == []]
    assert len(on_alibaba) == 1 and "beacon-fleet:counterpartProvider" not in on_alibaba[0]
    assert len(alone) == 1 and "alicloud:region" not in alone[0]


def test_the_readme_examples_take_free_names():
    for name in EXAMPLES:
        assert name not in shipped_stacks(), f"the README's example {name} is a shipped stack; pick a free name"


def readme_router_edits() -> dict[str, str]:
    """Router stack keys the README's "Adding a region" tells a user to set for its examples."""
    section = README.split("## Adding a region", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"`beacon-fleet:([A-Za-z]+): ([^`]+)` in `Pulumi\.router\.yaml`", section))


def set_router_keys(repo: Path, keys: dict[str, str]) -> None:
    router = repo / "Pulumi.router.yaml"
    lines = router.read_text(encoding="utf-8").splitlines(keepends=True)
    lines = [line for line in lines if not any(line.startswith(f"  beacon-fleet:{key}:") for key in keys)]
    at = next(i for i, line in enumerate(lines) if line.startswith("config:")) + 1
    lines[at:at] = [f"  beacon-fleet:{key}: {value}\n" for key, value in keys.items()]
    router.write_text("".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def with_readme_regions(tmp_path_factory) -> Path:
    repo = copy_project(tmp_path_factory.mktemp("new-region"))
    for name, text in EXAMPLES.items():
        (repo / f"Pulumi.{name}.yaml").write_text(text, encoding="utf-8")
    add_to_router(repo, sorted(EXAMPLES))
    set_router_keys(repo, readme_router_edits())  # the README's third edit, for the region without Alibaba
    return repo


def test_the_readme_says_what_the_router_needs_for_a_region_without_alibaba():
    assert readme_router_edits() == {"routerAcceptsSchemaVersion": "2"}


def plan_in(repo: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """`python -m offline.plan` over the stack files of `repo`, in this process: the copy's code is this checkout's,
    so only its stack files differ, and the stacks both have are synthesized once per session (shared_synthesize)."""
    from offline import plan

    monkeypatch.setattr(plan, "shipped_stacks", lambda fleet=None: stack_files.shipped_stacks(root=repo))
    monkeypatch.setattr(
        plan,
        "load_stack_config",
        lambda stack, path=None, fleet=None: stack_files.load_stack_config(
            stack, path or stack_files.stack_file(stack, root=repo)
        ),
    )
    monkeypatch.setattr(plan, "synthesize", shared_synthesize)
    return plan.main(list(args))


def test_the_new_regions_plan_with_the_others(with_readme_regions, monkeypatch, capsys, tmp_path):
    code = plan_in(with_readme_regions, monkeypatch, "--json-only", "--out", str(tmp_path))
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    total = len(shipped_stacks()) + len(EXAMPLES)
    assert f"all {total} stacks synthesized offline" in printed.out
    router = json.loads((tmp_path / "router.json").read_text())
    routes = router["outputs"]["routerConfig"]["routes"]
    for text in EXAMPLES.values():
        label = yaml.safe_load(text)["config"]["beacon-fleet:routerRegion"]
        assert routes[label] and all(routes[label].values()), f"{label} has a route without a provider"


def test_ci_lists_the_new_regions_with_no_edit(with_readme_regions):
    result = run(with_readme_regions, "-m", "offline.stack_list")
    regions = json.loads(result.stdout)["regions"]
    assert set(EXAMPLES) <= set(regions) and len(regions) == len(shipped_stacks()) - 1 + len(EXAMPLES)


@pytest.mark.slow
def test_the_tests_that_depend_on_the_stacks_pass_with_the_new_regions(with_readme_regions, tmp_path):
    # Every test of those modules runs in the copy but the cases of the regions already shipped, which this very
    # suite runs on the same files: the copy adds only the new regions' cases and the whole-fleet tests. One run,
    # whose JUnit report names each case it ran and how it ended.
    shipped_regions = [s for s in shipped_stacks() if s != "router"]
    report = tmp_path / "report.xml"
    keyword = " and ".join(f"not {s}" for s in shipped_regions)
    command = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", keyword, f"--junitxml={report}", *STACK_TESTS)
    result = run(with_readme_regions, *command)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1], result.stdout[-400:]
    cases = ElementTree.parse(report).getroot().iter("testcase")
    ended = {"failure", "error", "skipped"}  # how a case that did not pass ended, as a child element
    passed = [case.get("name", "") for case in cases if not any(child.tag in ended for child in case)]
    for name in EXAMPLES:
        assert any(f"[{name}]" in case for case in passed), f"{name} is not among the parametrized cases that passed"


def test_forgetting_the_router_fails_the_plan_with_what_to_add(tmp_path, monkeypatch, capsys):
    repo = tmp_path / "repo"  # the shipped stack files and one of the README's, the router left as it is
    repo.mkdir()
    for stack in shipped_stacks():
        shutil.copy2(stack_files.stack_file(stack), repo)
    name, text = next(iter(EXAMPLES.items()))
    (repo / f"Pulumi.{name}.yaml").write_text(text, encoding="utf-8")
    assert plan_in(repo, monkeypatch, "--stack", name, "--json-only", "--out", str(tmp_path / "plan")) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"regionStacks does not list region stack {name}" in err
    assert f"add organization/beacon-fleet/{name}" in err
