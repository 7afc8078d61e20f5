"""The GitHub Actions workflow: valid against GitHub's schema, and wired the way the README says.

Validation is check-jsonschema's vendored copy of GitHub's workflow schema (offline). It checks structure,
not an action's inputs, so the inputs that matter are pinned here one by one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from offline.stack_files import shipped_stacks
from tests.conftest import PROJECT, REGION_STACKS

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CI = ROOT / ".github" / "workflows" / "ci.yml"


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
    return subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, check=False)


def workflow() -> dict:
    return yaml.safe_load(CI.read_text(encoding="utf-8"))


def triggers(document: dict) -> dict:
    return document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true


def job(name: str) -> dict:
    return workflow()["jobs"][name]


def pulumi_step(job_: dict) -> dict:
    (step,) = [s for s in job_["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]
    return step


def test_every_workflow_validates_against_githubs_schema():
    assert WORKFLOWS == [CI]
    result = check_jsonschema(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validation_is_not_vacuous(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(CI.read_text(encoding="utf-8").replace("runs-on:", "runs_on:", 1), encoding="utf-8")
    result = check_jsonschema(broken)
    assert result.returncode == 1 and "'runs-on' is a required property" in result.stdout


def test_the_test_job_runs_the_readmes_test_command_like_ci_does():
    runs = [step.get("run") for step in job("test")["steps"]]
    assert "make test" in runs
    assert "make test" in (ROOT / ".ci" / "run").read_text() and "make test" in (ROOT / "README.md").read_text()


def listed_stacks() -> dict[str, list[str]]:
    """What the workflow's `stacks` job computes: its own command, run here on this checkout."""
    (step,) = [s for s in job("stacks")["steps"] if s.get("id") == "list"]
    assert "python -m offline.stack_list --github-output" in step["run"]
    completed = subprocess.run(
        [sys.executable, "-m", "offline.stack_list", "--github-output"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        name: json.loads(value)
        for name, _, value in (line.partition("=") for line in completed.stdout.split("\n") if line)
    }


def test_the_stack_matrices_are_generated_from_the_stack_files():
    """Adding Pulumi.<stack>.yaml adds the stack to preview and up with no edit to the workflow. If this fails, the
    preview and up-regions matrices must read `fromJSON(needs.stacks.outputs.all)` and `...regions`."""
    lists = listed_stacks()
    assert lists["all"] == sorted(shipped_stacks()), "offline/stack_list.py must list every Pulumi.<stack>.yaml"
    assert lists["regions"] == sorted(REGION_STACKS)
    assert job("stacks")["outputs"] == {
        "all": "${{ steps.list.outputs.all }}",
        "regions": "${{ steps.list.outputs.regions }}",
        "alibaba": "${{ steps.list.outputs.alibaba }}",
    }
    assert job("preview")["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.all) }}"
    assert job("up-regions")["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.regions) }}"
    assert lists["routers"] == ["router"], "up-router deploys the stack named router; rename it there too"


def test_preview_covers_every_stack_with_the_policy_pack_a_diff_and_a_pr_comment():
    preview = job("preview")
    assert preview["needs"] == ["test", "stacks"]
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.all) }}"
    step = pulumi_step(preview)
    assert step["uses"] == "pulumi/actions@v7"
    options = step["with"]
    assert options["command"] == "preview"
    assert options["comment-on-pr"] is True and options["diff"] is True and options["refresh"] is True
    assert options["policyPacks"] == "policy" and (ROOT / options["policyPacks"] / "PulumiPolicy.yaml").exists()
    assert options["stack-name"].endswith(f"/{PROJECT}/${{{{ matrix.stack }}}}")
    assert preview["permissions"]["pull-requests"] == "write"


def test_the_pr_comment_compares_the_real_preview_with_the_offline_plan_through_the_plan_diff():
    steps = job("preview")["steps"]
    (compare,) = [s for s in steps if "offline.plan_diff" in s.get("run", "")]
    assert steps.index(compare) > steps.index(pulumi_step(job("preview")))
    run = compare["run"]
    assert "pulumi preview" in run and "--json" in run and '> "real-preview/$STACK.json"' in run
    assert 'offline.plan --stack "$STACK" --json-only --out offline-plan' in run
    assert "offline.plan_diff offline-plan real-preview" in run and "gh pr comment" in run


@pytest.mark.parametrize("name", ["preview", "up-regions", "up-router"])
def test_dependencies_are_installed_into_the_programs_virtualenv_before_pulumi_runs(name):
    steps = job(name)["steps"]
    install = next(i for i, s in enumerate(steps) if "pip install" in s.get("run", ""))
    assert "-r requirements.txt" in steps[install]["run"] and ".venv" in steps[install]["run"]
    assert install < steps.index(pulumi_step(job(name)))
    assert yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]["virtualenv"] == ".venv"


def test_up_runs_on_main_behind_each_stacks_environment_regions_before_the_router():
    assert triggers(workflow())["push"]["branches"] == ["main"]
    regions, router = job("up-regions"), job("up-router")
    for up in (regions, router):
        assert up["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
        assert pulumi_step(up)["with"]["command"] == "up"
        assert pulumi_step(up)["with"]["policyPacks"] == "policy"
        assert up["concurrency"]["cancel-in-progress"] is False
    assert regions["needs"] == ["test", "stacks"]
    assert regions["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.regions) }}"
    assert regions["environment"] == "${{ matrix.stack }}"  # required reviewers are set on each environment
    assert regions["concurrency"]["group"] == "pulumi-up-${{ matrix.stack }}"
    assert router["environment"] == "router" and router["needs"] == "up-regions"
    # The router's kubernetes target reaches the cluster's intranet endpoint: the runner the regions' up runs on.
    assert router["runs-on"] == regions["runs-on"] == "${{ vars.PULUMI_UP_RUNNER || 'ubuntu-24.04' }}"
    assert pulumi_step(router)["with"]["stack-name"].endswith(f"/{PROJECT}/router")


def test_the_plan_diff_runs_for_every_pull_request_without_a_single_secret():
    diff = job("plan-diff")
    assert diff["if"] == "github.event_name == 'pull_request'" and "needs" not in diff
    assert "secrets." not in json.dumps(diff)
    assert "permissions" not in diff and workflow()["permissions"] == {"contents": "read"}
    (checkout,) = [s for s in diff["steps"] if s.get("uses", "").startswith("actions/checkout")]
    assert checkout["with"]["fetch-depth"] == 0
    step = next(s for s in diff["steps"] if "plan-diff" in s.get("run", ""))
    assert "--base-ref $BASE_SHA" in step["run"] and "--out $GITHUB_STEP_SUMMARY" in step["run"]
    assert step["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"


def test_secrets_reach_steps_only_through_the_environment_never_a_command_line():
    for name, job_ in workflow()["jobs"].items():
        for step in job_["steps"]:
            assert "secrets." not in step.get("run", ""), f"{name}: a secret in a shell command"
            assert "secrets." not in json.dumps(step.get("with", {})), f"{name}: a secret as an action input"


def test_the_pulumi_cli_is_pinned_to_the_sdks_version():
    pinned = next(
        line.split("==")[1]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("pulumi==")
    )
    for name in ("preview", "up-regions", "up-router"):
        assert pulumi_step(job(name))["with"]["pulumi-version"] == pinned


# --- Alibaba credentials only for the stacks that declare Alibaba resources ---------------------------------------

ALIBABA_STEP = "aliyun/configure-aliyun-credentials-action@"


def evaluate(expression: str, context: dict) -> object:
    """A GitHub Actions expression, evaluated the way the runner does for the few forms an `if:` here uses: literals,
    context paths, ==, !=, !, &&, ||, parentheses, and the functions contains, fromJSON, startsWith, endsWith."""
    tokens = re.findall(r"'(?:[^']|'')*'|[A-Za-z_][\w.-]*|==|!=|&&|\|\||[()!,]|\S", expression)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal position
        token = tokens[position]
        assert expected is None or token == expected, f"expected {expected} at {token} in {expression}"
        position += 1
        return token

    def primary() -> object:
        token = take()
        if token == "!":
            return not primary()
        if token == "(":
            value = either()
            take(")")
            return value
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token in ("true", "false"):
            return token == "true"
        if peek() == "(":
            take("(")
            args = [either()]
            while peek() == ",":
                take(",")
                args.append(either())
            take(")")
            functions = {
                "contains": lambda haystack, needle: needle in haystack,
                "fromjson": json.loads,
                "startswith": lambda text, prefix: str(text).lower().startswith(str(prefix).lower()),
                "endswith": lambda text, suffix: str(text).lower().endswith(str(suffix).lower()),
            }
            return functions[token.lower()](*args)
        value: object = context
        for part in token.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def comparison() -> object:
        left = primary()
        while peek() in ("==", "!="):
            operator, right = take(), primary()
            left = (left == right) if operator == "==" else (left != right)
        return left

    def both() -> object:
        left = comparison()
        while peek() == "&&":
            take()
            right = comparison()
            left = left and right
        return left

    def either() -> object:
        left = both()
        while peek() == "||":
            take()
            right = both()
            left = left or right
        return left

    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        return evaluate(text[3:-2], context)
    result = either()
    assert position == len(tokens), f"unparsed tail in {expression}: {tokens[position:]}"
    return result


def credential_steps(name: str) -> list[dict]:
    return [s for s in job(name)["steps"] if str(s.get("uses", "")).startswith(ALIBABA_STEP)]


def runs(step: dict, stack: str, outputs: dict[str, list[str]]) -> bool:
    """Whether the step runs in the matrix job of `stack`, given the `stacks` job's outputs (JSON strings there)."""
    context = {
        "matrix": {"stack": stack},
        "needs": {"stacks": {"outputs": {name: json.dumps(value) for name, value in outputs.items()}}},
        "github": {"event_name": "pull_request"},
    }
    return bool(evaluate(str(step.get("if", "true")), context))


def stack_list_output(*args: str, cwd: Path = ROOT) -> dict[str, list[str]]:
    completed = subprocess.run(
        [sys.executable, "-m", "offline.stack_list", *args, "--github-output"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = (line.partition("=") for line in completed.stdout.split("\n") if line)
    return {name: json.loads(value) for name, _, value in lines}


def test_the_expression_evaluator_reads_the_forms_the_workflow_uses():
    context = {"matrix": {"stack": "b"}, "needs": {"stacks": {"outputs": {"alibaba": '["a", "b"]'}}}}
    assert evaluate("${{ contains(fromJSON(needs.stacks.outputs.alibaba), matrix.stack) }}", context) is True
    assert evaluate("contains(fromJSON(needs.stacks.outputs.alibaba), 'c')", context) is False
    assert evaluate("matrix.stack != 'router' && !(matrix.stack == 'a')", context) is True
    with pytest.raises((AssertionError, IndexError)):
        evaluate("contains(fromJSON(needs.stacks.outputs.alibaba), matrix.stack", context)


def test_the_stacks_job_exports_the_alibaba_list():
    assert job("stacks")["outputs"]["alibaba"] == "${{ steps.list.outputs.alibaba }}"
    lists = listed_stacks()
    assert set(lists["alibaba"]) <= set(lists["regions"]), "a router stack declares nothing on Alibaba Cloud"


@pytest.mark.parametrize("name", ["preview", "up-regions", "up-router"])
def test_the_alibaba_credential_step_runs_only_for_stacks_that_declare_alibaba_resources(name):
    """Every stack of the matrix, as the workflow evaluates its `if:`: the step runs exactly for the stacks in the
    `alibaba` list, so a stack served by RunPod or Modal alone (and the router) runs with its own tokens only."""
    outputs = listed_stacks()
    matrix = job(name).get("strategy", {}).get("matrix", {}).get("stack")
    stacks = outputs["all"] if matrix == "${{ fromJSON(needs.stacks.outputs.all) }}" else outputs["regions"]
    if name == "up-router":
        assert not credential_steps(name), "the router stack declares nothing on Alibaba Cloud"
        return
    (step,) = credential_steps(name)
    for stack in stacks:
        assert runs(step, stack, outputs) == (stack in outputs["alibaba"]), stack


@pytest.mark.parametrize("fleet", ["mvp", "option-a"])
def test_an_example_fleets_stacks_without_alibaba_would_get_no_alibaba_credentials(fleet):
    """The same `if:` over an example fleet's lists: the MVP (RunPod only) asks for no Alibaba credential at all."""
    outputs = stack_list_output("--fleet", fleet)
    for name in ("preview", "up-regions"):
        (step,) = credential_steps(name)
        given = {stack for stack in outputs["all"] if runs(step, stack, outputs)}
        assert given == set(outputs["alibaba"])
    if fleet == "mvp":
        assert outputs["alibaba"] == [] and outputs["regions"]
