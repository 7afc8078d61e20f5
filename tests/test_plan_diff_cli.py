"""`python -m offline.plan_diff --base-ref A --head-ref B`, as CI runs it on a pull request: two commits of a copy of
this project, each planned in a real temporary worktree by its own interpreter, the summary appended to a file.
What the diff says about each stack is tests/test_plan_diff.py, on the same change planned in-process."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from offline import plan_diff

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_OUTPUT = (".git", ".venv", "plan", "__pycache__", ".pytest_cache", ".ruff_cache", "venv", "results")
DROPPED_MODEL = "mistral-7b"


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=beacon-test", "-c", "user.email=test@beacon.invalid", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def two_commits(tmp_path_factory) -> Path:
    """A copy of this project as a git repository with two commits: the second drops one model from us-east."""
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(PROJECT_ROOT, repo, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*BUILD_OUTPUT))
    git(repo, "init", "--quiet")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "base")
    stack_file = repo / "Pulumi.us-east.yaml"
    stack_file.write_text(
        stack_file.read_text() + "  beacon-fleet:models: [llama3.2-1b, qwen2.5-1.5b]\n", encoding="utf-8"
    )
    git(repo, "commit", "--quiet", "-am", f"Stop serving {DROPPED_MODEL} in us-east")
    return repo


@pytest.mark.slow  # two plans of every stack, each by a fresh interpreter
def test_the_command_plans_both_commits_and_writes_the_summary(two_commits, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.chdir(two_commits)
        code = plan_diff.main(["--base-ref", "HEAD~1", "--head-ref", "HEAD", "--out", str(summary)])
    printed = printed.getvalue()
    assert code == 0
    assert summary.read_text() == "earlier step\n" + printed  # appended, as a job summary is
    assert "| cn-beijing | unchanged | 0 | 0 | 0 |" in printed
    # 12 removed, every one named for the dropped model (tests/test_plan_diff.py), its weights sync and its pods'
    # service account among them.
    assert "| us-east | changed | 0 | 4 | 12 |" in printed
    # Served from Railway, us-east tries its EAS endpoint first: ACK is VPC-only and goes last.
    assert f"- us-east / {DROPPED_MODEL}: removed (was `us-east-eas-{DROPPED_MODEL} → " in printed
    assert "nothing was deployed, no credentials were used" in printed
    assert not list(Path(two_commits).glob("plan")), "the diff must not leave plans in the checkout"
    assert git(two_commits, "worktree", "list").count("\n") == 0, "the temporary worktree was left behind"
