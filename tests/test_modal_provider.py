"""The Modal dynamic provider against a fake `modal` executable on PATH that records how it was called."""

from __future__ import annotations

import inspect
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from providers import modal_app
from providers.modal_app import CONSOLE_ENV, PASSED_ENV, ModalApp, ModalAppProvider, ModalCliError, web_urls

FAKE_MODAL = """#!{python}
import json, os, sys, time
STATE = {state!r}
with open(os.path.join(STATE, "calls.jsonl"), "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ)}}) + "\\n")
path = os.path.join(STATE, "behaviour.json")
behaviour = json.load(open(path)) if os.path.exists(path) else {{}}
if behaviour.get("sleep"):
    if behaviour.get("orphan"):  # a child of its own that keeps stdout open
        import subprocess
        subprocess.Popen(["sleep", "10"])
    time.sleep(behaviour["sleep"])
if behaviour.get("fail"):
    print(behaviour["fail"], file=sys.stderr)
    sys.exit(1)
if sys.argv[1] == "deploy":
    name = sys.argv[sys.argv.index("--name") + 1]
    url = behaviour.get("url") or f"https://ws--{{name}}-serve.modal.run"
    if behaviour.get("columns"):  # a CLI that ignores the console width it was given
        os.environ["COLUMNS"] = str(behaviour["columns"])
    if behaviour.get("rich"):
        sys.path.insert(0, {here!r})
        import modal_deploy_output
        modal_deploy_output.print_deploy(url)
    else:
        print(f"Created web function serve => {{url}}")
if sys.argv[1:3] == ["app", "stop"] and behaviour.get("stop_error"):
    print(behaviour["stop_error"], file=sys.stderr)
    sys.exit(1)
"""

PROPS = {
    "app_name": "beacon-us-east-llama3-2-1b",
    "environment": "main",
    "app_file": "modal_apps/vllm_server.py",
    "source_hash": "aaa",
    "settings": {"COUNTERPART_MODEL": "llama3.2-1b", "COUNTERPART_GPU": "L4"},
    "url": None,
}


class FakeModal:
    """A `modal` on PATH that logs each call (argv and its whole environment) and behaves as told."""

    def __init__(self, state):
        self.state = state

    def __call__(self) -> list[dict]:
        log = self.state / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def behave(self, **behaviour) -> None:
        (self.state / "behaviour.json").write_text(json.dumps(behaviour))


@pytest.fixture
def fake_modal(tmp_path, monkeypatch):
    """A `modal` on PATH, credentials in the environment, and other credentials the CLI must not get."""
    executable = tmp_path / "bin" / "modal"
    executable.parent.mkdir()
    here = str(Path(__file__).parent)
    executable.write_text(FAKE_MODAL.format(python=sys.executable, state=str(tmp_path), here=here))
    executable.chmod(executable.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{executable.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-test-token-id")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-test-token-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-not-for-modal")
    monkeypatch.setenv("RAILWAY_API_TOKEN", "railway-token-not-for-modal")
    monkeypatch.setenv("US_EAST_MODAL_SECRET", "router-proxy-secret-not-for-the-cli")
    return FakeModal(tmp_path)


def test_create_deploys_the_app_and_reads_back_its_url(fake_modal):
    result = ModalAppProvider().create(dict(PROPS))
    (call,) = fake_modal()
    assert call["argv"] == ["deploy", "modal_apps/vllm_server.py", "--name", PROPS["app_name"], "--env", "main"]
    assert call["env"]["COUNTERPART_MODEL"] == "llama3.2-1b" and call["env"]["COUNTERPART_APP"] == PROPS["app_name"]
    assert result.id == "main/beacon-us-east-llama3-2-1b"
    assert result.outs["url"] == "https://ws--beacon-us-east-llama3-2-1b-serve.modal.run"


def test_nothing_changed_is_a_no_op(fake_modal):
    olds = {**PROPS, "url": "https://ws--x.modal.run"}
    diff = ModalAppProvider().diff("main/x", olds, dict(PROPS, url=None))
    assert diff.changes is False and diff.replaces == []
    assert fake_modal() == []


def test_a_source_change_redeploys_in_place(fake_modal):
    provider = ModalAppProvider()
    news = {**PROPS, "source_hash": "bbb"}
    diff = provider.diff("main/x", dict(PROPS), news)
    assert diff.changes is True and diff.replaces == [] and diff.delete_before_replace is False
    outs = provider.update("main/x", dict(PROPS), news).outs
    assert [c["argv"][0] for c in fake_modal()] == ["deploy"] and outs["source_hash"] == "bbb"


def test_a_rename_replaces_deleting_the_old_app_first(fake_modal):
    diff = ModalAppProvider().diff("main/x", dict(PROPS), {**PROPS, "app_name": "beacon-us-east-llama"})
    assert diff.changes is True and diff.replaces == ["app_name"] and diff.delete_before_replace is True


def test_delete_stops_the_app_and_tolerates_one_already_gone(fake_modal, monkeypatch):
    ModalAppProvider().delete("main/x", dict(PROPS))
    assert fake_modal()[-1]["argv"] == ["app", "stop", PROPS["app_name"], "--env", "main", "--yes"]
    # modal 1.6.4's words for an app with no deployment under that name
    fake_modal.behave(stop_error=f"Error: No App with name '{PROPS['app_name']}' found in the 'main' environment.")
    ModalAppProvider().delete("main/x", dict(PROPS))
    fake_modal.behave(stop_error="Error: App is already stopped. (Stopped at 2026-11-25 10:00 UTC by 'ci').")
    ModalAppProvider().delete("main/x", dict(PROPS))


def test_a_failing_cli_is_a_clear_error(fake_modal, monkeypatch):
    fake_modal.behave(fail="Error: deployment failed: quota exceeded")
    with pytest.raises(ModalCliError, match=r"`modal deploy modal_apps/vllm_server.py` failed \(1\): .*quota exceeded"):
        ModalAppProvider().create(dict(PROPS))


def test_missing_credentials_are_a_clear_error_before_the_cli_runs(fake_modal, monkeypatch, tmp_path):
    monkeypatch.delenv("MODAL_TOKEN_ID")
    monkeypatch.delenv("MODAL_TOKEN_SECRET")
    monkeypatch.setenv("MODAL_CONFIG_PATH", str(tmp_path / "absent.toml"))
    with pytest.raises(ModalCliError, match="no Modal credentials: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET"):
        ModalAppProvider().create(dict(PROPS))
    assert fake_modal() == []


def test_credentials_never_become_inputs():
    parameters = set(inspect.signature(ModalApp.__init__).parameters)
    assert parameters == {"self", "name", "app_name", "environment", "app_file", "source_hash", "settings", "opts"}


# --- The deployer's URL, however long -------------------------------------------------------------------------

# 87 characters: a long workspace and app name, as a region with a long model id produces.
LONG_URL = "https://beacon-workspace--beacon-asia-southeast-qwen2-5-7b-instruct-awq-serve.modal.run"


def test_rich_really_folds_a_long_url_at_80_columns_and_the_parser_still_finds_it():
    script = f"import modal_deploy_output; modal_deploy_output.print_deploy({LONG_URL!r})"
    here = str(Path(__file__).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | {"PYTHONPATH": here}
    printed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert LONG_URL not in printed  # folded: the reason this test exists
    assert web_urls(printed) == [LONG_URL]


def test_a_long_web_url_folded_by_a_cli_ignoring_the_console_width_is_still_found(fake_modal):
    fake_modal.behave(rich=True, columns=80, url=LONG_URL)
    assert ModalAppProvider().create(dict(PROPS)).outs["url"] == LONG_URL


def test_the_cli_gets_a_wide_plain_console_so_a_long_url_stays_on_one_line(fake_modal):
    fake_modal.behave(rich=True, url=LONG_URL)
    assert ModalAppProvider().create(dict(PROPS)).outs["url"] == LONG_URL
    (call,) = fake_modal()
    assert call["env"]["COLUMNS"] == "1000" and call["env"]["TERM"] == "dumb"


# --- What the CLI gets, and what it says ----------------------------------------------------------------------


def test_the_cli_gets_only_the_environment_it_needs_not_the_deployers_other_credentials(fake_modal):
    ModalAppProvider().create(dict(PROPS))
    (call,) = fake_modal()
    env = call["env"]
    assert env["MODAL_TOKEN_ID"] == "ak-test-token-id" and env["MODAL_TOKEN_SECRET"] == "as-test-token-secret"
    for other in ("AWS_SECRET_ACCESS_KEY", "RAILWAY_API_TOKEN", "US_EAST_MODAL_SECRET"):
        assert other not in env
    allowed = PASSED_ENV | set(CONSOLE_ENV)
    # The interpreter running the fake may add a few of its own (LC_CTYPE coercion, say).
    assert {k for k in env if k not in allowed and not k.startswith(("COUNTERPART_", "LC_"))} == set()


def test_the_cli_output_in_an_error_never_shows_the_modal_token(fake_modal):
    fake_modal.behave(fail="Error: token ak-test-token-id:as-test-token-secret rejected \x1b]0;owned\x07")
    with pytest.raises(ModalCliError) as caught:
        ModalAppProvider().create(dict(PROPS))
    message = str(caught.value)
    assert "ak-test-token-id" not in message and "as-test-token-secret" not in message and "\x1b" not in message
    assert "[redacted]" in message


def test_settings_that_are_not_the_apps_own_variables_are_refused_before_the_cli_runs(fake_modal):
    with pytest.raises(ModalCliError, match="must be COUNTERPART_"):
        ModalAppProvider().create({**PROPS, "settings": {"PATH": "/tmp/evil", "COUNTERPART_GPU": "L4"}})
    assert fake_modal() == []


@pytest.mark.parametrize(
    "said",
    [
        "Error: Environment 'main' not found",
        "Error: Workspace not found. Check MODAL_PROFILE.",
        "Error: Token not found; run `modal token new`",
        "Error: No App with name 'some-other-app' found in the 'main' environment.",
    ],
)
def test_a_not_found_about_something_other_than_the_app_fails_the_delete(fake_modal, said):
    fake_modal.behave(stop_error=said)
    with pytest.raises(ModalCliError):
        ModalAppProvider().delete("main/x", dict(PROPS))


def test_a_cli_that_hangs_is_stopped_at_the_deadline_as_the_providers_own_error(fake_modal, monkeypatch):
    monkeypatch.setattr(modal_app, "CLI_TIMEOUT_SECONDS", 0.5)
    fake_modal.behave(sleep=5, orphan=True)
    started = time.monotonic()
    with pytest.raises(ModalCliError, match=r"did not finish within 0\.5 s"):
        ModalAppProvider().create(dict(PROPS))
    assert time.monotonic() - started < 4


def test_a_cli_that_cannot_be_executed_is_the_providers_own_error(fake_modal, tmp_path):
    (tmp_path / "bin" / "modal").write_text("#!/nonexistent/interpreter\n")
    with pytest.raises(ModalCliError, match="cannot run the modal CLI"):
        ModalAppProvider().create(dict(PROPS))
