"""A Pulumi dynamic provider for a deployed Modal app, since Modal has no Pulumi provider.

It drives the `modal` CLI: `modal deploy` on create and update, `modal app stop` on delete. Modal
credentials stay out of inputs and state: the CLI reads MODAL_TOKEN_ID / MODAL_TOKEN_SECRET from the
environment, or its own ~/.modal.toml. A change of app name or environment replaces the app, deleting the
old one first: the app name is fixed per model, and create-before-delete would stop the app just deployed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

REPLACE_ON = ("app_name", "environment")
REDEPLOY_ON = ("app_file", "source_hash", "settings")
_WEB_URL = re.compile(r"https://[A-Za-z0-9.-]+\.modal\.run\b")
CLI_TIMEOUT_SECONDS = 20 * 60  # building the vLLM image on first deploy takes minutes


class ModalCliError(RuntimeError):
    """The modal CLI failed, or cannot run at all; the message says what to do."""


def modal_credentials_present(environ: dict[str, str] | None = None, home: Path | None = None) -> bool:
    environ = dict(os.environ if environ is None else environ)
    if environ.get("MODAL_TOKEN_ID") and environ.get("MODAL_TOKEN_SECRET"):
        return True
    config = Path(environ.get("MODAL_CONFIG_PATH") or (home or Path.home()) / ".modal.toml")
    return config.is_file()


def _run(args: list[str], extra_env: dict[str, str]) -> str:
    executable = shutil.which("modal")
    if executable is None:
        raise ModalCliError("the modal CLI is not on PATH; install requirements.txt (modal) into the environment")
    if not modal_credentials_present():
        raise ModalCliError(
            "no Modal credentials: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET in the environment"
            " (or run `modal token new`); they are deliberately not Pulumi inputs"
        )
    completed = subprocess.run(
        [executable, *args],
        env={**os.environ, **extra_env},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise ModalCliError(f"`modal {' '.join(args[:2])}` failed ({completed.returncode}): {' / '.join(tail)}")
    return completed.stdout


def _deploy(props: dict[str, Any]) -> dict[str, Any]:
    settings = {k: str(v) for k, v in (props.get("settings") or {}).items()}
    stdout = _run(
        ["deploy", props["app_file"], "--name", props["app_name"], "--env", props["environment"]],
        {**settings, "COUNTERPART_APP": props["app_name"]},
    )
    urls = _WEB_URL.findall(stdout)
    if not urls:
        raise ModalCliError(f"`modal deploy` of {props['app_name']} printed no web URL; is serve() a web_server?")
    return {**props, "url": urls[-1]}


class ModalAppProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = _deploy(props)
        return CreateResult(id_=f"{props['environment']}/{props['app_name']}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in REPLACE_ON if olds.get(k) != news.get(k)]
        changed = replaces + [k for k in REDEPLOY_ON if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(replaces))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_deploy(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        try:
            _run(["app", "stop", props["app_name"], "--env", props["environment"], "--yes"], {})
        except ModalCliError as error:
            if "not found" not in str(error).lower():
                raise


class ModalApp(pulumi.dynamic.Resource, module="modal", name="App"):
    """A Modal app deployed from a module of this repository; `url` is its web endpoint."""

    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        app_name: str,
        environment: str,
        app_file: str,
        source_hash: str,
        settings: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "app_name": app_name,
            "environment": environment,
            "app_file": app_file,
            "source_hash": source_hash,
            "settings": settings,
            "url": None,
        }
        super().__init__(ModalAppProvider(), name, props, opts)
