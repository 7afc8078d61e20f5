"""A Pulumi dynamic provider for a deployed Modal app, since Modal has no Pulumi provider.

It drives the `modal` CLI: `modal deploy` on create and update, `modal app stop` on delete. Modal
credentials stay out of inputs and state: the CLI reads MODAL_TOKEN_ID / MODAL_TOKEN_SECRET from the
environment, or its own ~/.modal.toml. The CLI gets an allowlisted environment, not the deployer's whole one
(which may hold cloud keys and the router's secrets), and whatever it prints is scrubbed before it is shown.
A change of app name or environment replaces the app, deleting the old one first: the app name is fixed per
model, and create-before-delete would stop the app just deployed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from providers.redact import scrub

REPLACE_ON = ("app_name", "environment")
REDEPLOY_ON = ("app_file", "source_hash", "settings")
CLI_TIMEOUT_SECONDS = 20 * 60  # building the vLLM image on first deploy takes minutes
SETTINGS_PREFIX = "COUNTERPART_"  # what modal_apps/vllm_server.py reads; nothing else may be set

# The only variables the CLI gets from the deployer's environment: enough to find Python and certificates,
# reach Modal (through a proxy if there is one) and authenticate as the Modal workspace. Not AWS or Alibaba
# keys, not the router's provider keys, not the Railway token.
PASSED_ENV = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "VIRTUAL_ENV",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
        "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
        "MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET", "MODAL_CONFIG_PATH", "MODAL_PROFILE", "MODAL_SERVER_URL",
    }
)  # fmt: skip
PASSED_PREFIXES = ("LC_",)
# rich wraps at 80 columns when stdout is a pipe, splitting a long web URL across lines; a wide, plain
# console keeps it on one line.
CONSOLE_ENV = {"COLUMNS": "1000", "TERM": "dumb", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
# Values of these are not secrets; every other value the CLI gets is scrubbed from what it prints.
_PLAIN_ENV = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "VIRTUAL_ENV"})

# CSI sequences (colours, cursor moves) and OSC ones (rich's hyperlinks), should a console emit them anyway.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_TREE_GUIDES = " \t│├└─┃┣┗━╭╮╰╯┆┊"
_URL_SO_FAR = re.compile(r"https://[A-Za-z0-9.-]*")
_URL_CONTINUED = re.compile(r"[A-Za-z0-9.-]+")
_WEB_URL = re.compile(r"https://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.modal\.run")


def web_urls(output: str) -> list[str]:
    """The *.modal.run URLs in `modal deploy` output, also where rich has folded one across lines.

    rich folds a word longer than the console at the last column and goes on at the start of the next
    line, after the object tree's guides: so a URL that runs to the end of a line, unfinished, continues
    with the first word of the next.
    """
    lines = _ESCAPES.sub("", output).splitlines()
    found = []
    for index, line in enumerate(lines):
        for match in _URL_SO_FAR.finditer(line):
            url, rest, following = match.group(0), line[match.end() :], index + 1
            while not url.endswith(".modal.run") and not rest.strip() and following < min(len(lines), index + 6):
                continued = lines[following].lstrip(_TREE_GUIDES)
                piece = _URL_CONTINUED.match(continued)
                if piece is None:
                    break
                url, rest, following = url + piece.group(0), continued[piece.end() :], following + 1
            if _WEB_URL.fullmatch(url):
                found.append(url)
    return found


def cli_environment(environ: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """The CLI's whole environment: the allowlisted part of the deployer's, the app's settings, a wide console."""
    passed = {k: v for k, v in environ.items() if k in PASSED_ENV or k.startswith(PASSED_PREFIXES)}
    return {**passed, **settings, **CONSOLE_ENV}


class ModalCliError(RuntimeError):
    """The modal CLI failed, or cannot run at all; the message says what to do."""


def modal_credentials_present(environ: dict[str, str] | None = None, home: Path | None = None) -> bool:
    environ = dict(os.environ if environ is None else environ)
    if environ.get("MODAL_TOKEN_ID") and environ.get("MODAL_TOKEN_SECRET"):
        return True
    config = Path(environ.get("MODAL_CONFIG_PATH") or (home or Path.home()) / ".modal.toml")
    return config.is_file()


def _run(args: list[str], settings: dict[str, str]) -> str:
    """Run the modal CLI; its stdout, or ModalCliError with its last lines scrubbed of every secret."""
    command = f"modal {' '.join(args[:2])}"
    executable = shutil.which("modal")
    if executable is None:
        raise ModalCliError("the modal CLI is not on PATH; install requirements.txt (modal) into the environment")
    if not modal_credentials_present():
        raise ModalCliError(
            "no Modal credentials: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET in the environment"
            " (or run `modal token new`); they are deliberately not Pulumi inputs"
        )
    unexpected = sorted(k for k in settings if not k.startswith(SETTINGS_PREFIX))
    if unexpected:
        names = ", ".join(unexpected)
        raise ModalCliError(f"`{command}`: app settings must be {SETTINGS_PREFIX}* variables, not {names}")
    env = cli_environment(os.environ, settings)
    secrets = [v for k, v in env.items() if k not in _PLAIN_ENV and k not in CONSOLE_ENV and k not in settings]
    try:
        # Its own process group, so a timeout stops whatever it started too, not only the CLI itself.
        process = subprocess.Popen(
            [executable, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        raise ModalCliError(f"cannot run the modal CLI at {executable}: {error.strerror or error}") from None
    try:
        out, err = process.communicate(timeout=CLI_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=5)
        raise ModalCliError(f"`{command}` did not finish within {CLI_TIMEOUT_SECONDS:g} s; stopped it") from None
    stdout = out.decode("utf-8", errors="replace")
    if process.returncode != 0:
        shown = err.decode("utf-8", errors="replace") or stdout
        tail = [scrub(line, secrets, limit=300) for line in shown.strip().splitlines()[-5:]]
        raise ModalCliError(f"`{command}` failed ({process.returncode}): {' / '.join(tail)}")
    return stdout


def _deploy(props: dict[str, Any]) -> dict[str, Any]:
    settings = {k: str(v) for k, v in (props.get("settings") or {}).items()}
    stdout = _run(
        ["deploy", props["app_file"], "--name", props["app_name"], "--env", props["environment"]],
        {**settings, "COUNTERPART_APP": props["app_name"]},
    )
    urls = web_urls(stdout)
    if not urls:
        raise ModalCliError(f"`modal deploy` of {props['app_name']} printed no web URL; is serve() a web_server?")
    return {**props, "url": urls[-1]}


def app_is_gone(error: ModalCliError, app_name: str) -> bool:
    """Whether `modal app stop` failed because the app itself no longer runs: never found under its name, or
    already stopped. Not when the environment, the workspace or the token is what was not found."""
    said = " ".join(str(error).split())
    return f"No App with name '{app_name}' found in the " in said or "App is already stopped" in said


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
            if not app_is_gone(error, props["app_name"]):
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
