"""The Modal dynamic provider against a fake `modal` executable on PATH that records how it was called."""

from __future__ import annotations

import inspect
import json
import os
import stat

import pytest

from providers.modal_app import ModalApp, ModalAppProvider, ModalCliError

FAKE_MODAL = """#!/usr/bin/env python3
import json, os, sys
log = os.environ["FAKE_MODAL_LOG"]
with open(log, "a") as f:
    env = {k: v for k, v in os.environ.items() if k.startswith("COUNTERPART_")}
    f.write(json.dumps({"argv": sys.argv[1:], "env": env}) + "\\n")
if os.environ.get("FAKE_MODAL_FAIL"):
    print("Error: deployment failed: quota exceeded", file=sys.stderr)
    sys.exit(1)
if sys.argv[1] == "deploy":
    name = sys.argv[sys.argv.index("--name") + 1]
    print(f"Created web function serve => https://ws--{name}-serve.modal.run")
if sys.argv[1:3] == ["app", "stop"] and os.environ.get("FAKE_MODAL_MISSING"):
    print("Error: App not found", file=sys.stderr)
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


@pytest.fixture
def fake_modal(tmp_path, monkeypatch):
    """A `modal` on PATH and credentials in the environment; returns the calls it received."""
    executable = tmp_path / "bin" / "modal"
    executable.parent.mkdir()
    executable.write_text(FAKE_MODAL)
    executable.chmod(executable.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{executable.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_MODAL_LOG", str(log))
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-test")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-test")

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return calls


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
    monkeypatch.setenv("FAKE_MODAL_MISSING", "1")
    ModalAppProvider().delete("main/x", dict(PROPS))


def test_a_failing_cli_is_a_clear_error(fake_modal, monkeypatch):
    monkeypatch.setenv("FAKE_MODAL_FAIL", "1")
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
