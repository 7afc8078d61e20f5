"""docs/deploying.md is a script a first real deployment follows: its shell commands are checked against the code.

Every fenced shell block of the page is read command by command. A `pulumi` command's stack must be a stack of the
default fleet or of an example fleet (and an example fleet's stack is given its own file with --config-file); a
`pulumi config set --secret K` must name a secret key the code declares that the stack's config makes it read (the
plan's placeholders), and every placeholder of the followed fleets must be set by some command; a URN must name a
resource the stack's offline plan declares; `make X` must be a Makefile target with the variables it names valid;
`python -m M` must be a module here. The offline parts run for real: `make plan FLEET=mvp` as the plan in-process
(conftest's fleet_plan, the same code path) and the stack lists. A doctored copy of the page shows the check fails.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleet.config_schema import SECRET_KEYS, load_project_schema
from offline import stack_list
from offline.stack_files import load_stack_config
from offline.stack_list import DEFAULT_FLEET, fleet_dir, fleet_names, stack_lists

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "deploying.md"
PROJECT = load_project_schema().project
# The fleets the page follows from stack init to teardown, each with every secret its stacks need.
FOLLOWED = (DEFAULT_FLEET, "mvp")
# pulumi subcommands that read a stack's config file, so an example fleet's stack needs --config-file there.
READS_CONFIG = ("up", "preview", "destroy", "refresh", "config")


@dataclass(frozen=True)
class Command:
    line: int
    argv: tuple[str, ...]

    def option(self, *names: str) -> str | None:
        for index, word in enumerate(self.argv):
            for name in names:
                if word == name and index + 1 < len(self.argv):
                    return self.argv[index + 1]
                if word.startswith(name + "="):
                    return word.split("=", 1)[1]
        return None

    def __str__(self) -> str:
        return f"line {self.line}: {shlex.join(self.argv)}"


def shell_commands(text: str) -> list[Command]:
    """Every command of every ```bash/sh/shell block: comments dropped, continuations joined, split at && ; |."""
    commands: list[Command] = []
    for block in re.finditer(r"^```(?:bash|sh|shell|console)\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        first_line = text[: block.start()].count("\n") + 2
        joined = block.group(1).replace("\\\n", " ")
        for offset, line in enumerate(joined.split("\n")):
            try:
                words = shlex.split(line, comments=True)
            except ValueError as error:
                raise AssertionError(f"line {first_line + offset}: unreadable shell: {error}") from None
            current: list[str] = []
            skip = False
            for word in [*words, ";"]:
                if skip:  # a redirection's file
                    skip = False
                elif word in ("&&", "||", ";", "|"):
                    if current:
                        commands.append(Command(first_line + offset, tuple(current)))
                    current = []
                elif word in ("<", ">", ">>"):
                    skip = True
                else:
                    current.append(word)
    return commands


def all_stacks() -> dict[str, str]:
    """stack -> its fleet, for the default fleet and every example fleet."""
    return {s: f for f in (DEFAULT_FLEET, *fleet_names()) for s in stack_lists(fleet=f)["all"]}


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.MULTILINE))


def stack_of(command: Command) -> str | None:
    """The stack a pulumi command names: --stack/-s, or the positional name of `stack init`."""
    named = command.option("--stack", "-s")
    if named is None and command.argv[1:3] in (("stack", "init"), ("stack", "new")):
        positional = [w for w in command.argv[3:] if not w.startswith("-")]
        named = positional[0] if positional else None
    return named


def plan_urns(documents: dict[str, dict]) -> dict[str, set[str]]:
    """Every URN each stack's offline plan declares, built as the engine builds them (type chain, then name)."""
    return {stack: _urns(stack, document["resources"]) for stack, document in documents.items()}


def _urns(stack: str, resources: list[dict]) -> set[str]:
    by_name = {r["name"]: r for r in resources}

    def chain(resource: dict) -> str:
        parent = by_name.get(resource["parent"])
        return f"{chain(parent)}${resource['type']}" if parent else resource["type"]

    return {f"urn:pulumi:{stack}::{PROJECT}::{chain(r)}::{r['name']}" for r in resources}


class PageCheck:
    """Reads the page's commands one by one and collects what they name that the code does not have."""

    def __init__(self, urns: dict[str, set[str]] | None):
        self.urns = urns
        self.found: list[str] = []
        self.stacks = all_stacks()
        self.schema = load_project_schema()
        self.targets = makefile_targets()
        self.secrets_set: set[tuple[str, str]] = set()
        self.pin = next(
            line.split("==", 1)[1]
            for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.startswith("pulumi==")
        )

    def command(self, command: Command) -> None:
        argv = command.argv
        if argv[0] == "sh" and "--version" in argv and command.option("--version") != self.pin:
            self.found.append(f"{command}: installs a Pulumi CLI other than the SDK's pin {self.pin}")
        elif argv[0] == "pulumi":
            self.pulumi(command)
        elif argv[0] == "make":
            self.make(command)
        elif argv[0].startswith("python") and argv[1:2] == ("-m",) and importlib.util.find_spec(argv[2]) is None:
            self.found.append(f"{command}: no module '{argv[2]}'")

    def pulumi(self, command: Command) -> None:
        argv = command.argv
        stack = stack_of(command)
        if stack is not None:
            parts = stack.split("/")
            if len(parts) == 3 and parts[1] != PROJECT:
                self.found.append(f"{command}: project '{parts[1]}' is not {PROJECT}")
            stack = parts[-1]
            if stack not in self.stacks:
                self.found.append(f"{command}: no stack '{stack}' in any fleet")
                return
            fleet = self.stacks[stack]
            config_file = command.option("--config-file")
            expected = fleet_dir(fleet, Path(".")) / f"Pulumi.{stack}.yaml"
            if config_file is not None and Path(config_file) != expected:
                self.found.append(f"{command}: --config-file {config_file}, but {stack}'s file is {expected}")
            elif config_file is None and fleet != DEFAULT_FLEET and argv[1] in READS_CONFIG:
                self.found.append(f"{command}: {stack} is in fleet {fleet}; give it --config-file")
        if argv[1:3] == ("config", "set"):
            self.config_set(command, stack)
        for word in argv:
            if word.startswith("urn:pulumi:") and self.urns is not None:
                urn_stack = word.split(":")[2]
                pattern = re.escape(word).replace(r"\*\*", ".*").replace(r"\*", ".*")
                if not any(re.fullmatch(pattern, urn) for urn in self.urns.get(urn_stack, ())):
                    self.found.append(f"{command}: {word} matches nothing stack {urn_stack}'s plan declares")

    def config_set(self, command: Command, stack: str | None) -> None:
        values = {command.option("--stack", "-s"), command.option("--config-file"), command.option("--path")}
        positional = [w for w in command.argv[3:] if not w.startswith("-") and w not in values]
        key = command.option("--path") or (positional[0] if positional else "")
        short = re.split(r"[\[.]", key.removeprefix(f"{PROJECT}:"))[0]
        if "--secret" not in command.argv:
            if ":" not in short and short not in self.schema.keys:
                self.found.append(f"{command}: '{short}' is not a key Pulumi.yaml declares")
        elif short not in SECRET_KEYS:
            self.found.append(f"{command}: '{short}' is not a secret key the code declares")
        elif stack is not None:
            placeholders = load_stack_config(stack, fleet=self.stacks[stack]).placeholders
            needed = sorted(k.split(":", 1)[1] for k in placeholders)
            if short not in needed:
                self.found.append(f"{command}: stack {stack} does not need '{short}' (it needs {needed})")
            self.secrets_set.add((stack, short))

    def make(self, command: Command) -> None:
        names = [w for w in command.argv[1:] if "=" not in w and not w.startswith("-")]
        for name in names or ["(default)"]:
            if name not in self.targets:
                self.found.append(f"{command}: the Makefile has no target '{name}'")
        variables = dict(w.split("=", 1) for w in command.argv[1:] if "=" in w)
        if "FLEET" in variables and variables["FLEET"] not in (DEFAULT_FLEET, *fleet_names()):
            self.found.append(f"{command}: no fleet '{variables['FLEET']}'")
        if "STACK" in variables and variables["STACK"] not in self.stacks:
            self.found.append(f"{command}: no stack '{variables['STACK']}'")

    def every_secret_set(self) -> None:
        for fleet in FOLLOWED:
            for stack in stack_lists(fleet=fleet)["all"]:
                for key in sorted(load_stack_config(stack, fleet=fleet).placeholders):
                    if (stack, key.split(":", 1)[1]) not in self.secrets_set:
                        self.found.append(f"no command sets the secret {key} of stack {stack} (fleet {fleet})")


def problems(text: str, urns: dict[str, set[str]] | None = None) -> list[str]:
    """What the page's commands name that the code does not have; empty when every command holds."""
    check = PageCheck(urns)
    for command in shell_commands(text):
        check.command(command)
    check.every_secret_set()
    return check.found


DOC_TEXT = DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def followed_urns(fleet_plan) -> dict[str, set[str]]:
    urns: dict[str, set[str]] = {}
    for fleet in FOLLOWED:
        result = fleet_plan(fleet)
        assert result.exit_code == 0, result.why()
        urns |= plan_urns(result.documents)
    return urns


def test_every_command_of_the_page_names_stacks_keys_and_targets_the_code_has(followed_urns):
    assert problems(DOC_TEXT, followed_urns) == []


def test_the_page_is_read_whole_not_vacuously():
    commands = shell_commands(DOC_TEXT)
    said = {" ".join(c.argv[:3]) for c in commands}
    assert {"pulumi stack init", "pulumi config set", "pulumi up --stack", "pulumi destroy --stack"} <= said
    assert any(c.argv[:2] == ("make", "smoke") for c in commands)
    assert any(c.argv[:3] == ("pulumi", "state", "unprotect") for c in commands)
    assert sum(1 for c in commands if "--secret" in c.argv) >= 10


def test_the_mvp_commands_run_offline_as_the_page_says(fleet_plan, capsys):
    """`make plan FLEET=mvp` (the plan in-process, as make runs it) and the stack list the page runs both succeed,
    and the plan's placeholders are exactly the secrets the page sets for the MVP's stacks."""
    commands = shell_commands(DOC_TEXT)
    assert any(c.argv == ("make", "plan", "FLEET=mvp") for c in commands)
    result = fleet_plan("mvp")
    assert result.exit_code == 0, result.why()
    set_by_page = {
        (c.option("--stack"), c.argv[4]) for c in commands if c.argv[:4] == ("pulumi", "config", "set", "--secret")
    }
    for stack, document in result.documents.items():
        for key in document["placeholders"]:
            assert (stack, key.split(":", 1)[1]) in set_by_page, f"{stack}: {key} is not set by the page"
    listing = next(c for c in commands if c.argv[:3] == ("python", "-m", "offline.stack_list"))
    assert stack_list.main(list(listing.argv[3:])) == 0
    assert '"mvp-router"' in capsys.readouterr().out


def test_the_page_says_how_long_it_takes_and_what_protection_blocks():
    for needed in ("90 min", "22 min", "27 min", "protect", "deletion_protection", "pulumi state unprotect"):
        assert needed in DOC_TEXT, needed
    assert "## Not verified" in DOC_TEXT


@pytest.mark.parametrize(
    ("doctor", "named"),
    [
        (lambda t: t.replace("--stack mvp-eu --config", "--stack mvp-europe --config", 1), "no stack 'mvp-europe'"),
        (
            lambda t: t.replace(
                "set --secret runpodRouterApiKey --stack cn", "set --secret runpodApiKey --stack cn", 1
            ),
            "'runpodApiKey' is not a secret key",
        ),
        (
            lambda t: t.replace(
                "--secret modalProxyTokenId --stack us-east", "--secret modalProxyTokenId --stack router"
            ),
            "stack router does not need 'modalProxyTokenId'",
        ),
        (lambda t: t.replace("make smoke STACK=router", "make smoke-test STACK=router"), "no target 'smoke-test'"),
        (lambda t: t.replace("make plan FLEET=mvp", "make plan FLEET=minimal"), "no fleet 'minimal'"),
        (lambda t: t.replace(" --config-file fleets/mvp/Pulumi.mvp-eu.yaml", "", 1), "give it --config-file"),
        (
            lambda t: t.replace("ModelBucket$alicloud:oss/bucket:Bucket::models-bucket", "ModelBucket::bucket"),
            "matches nothing",
        ),
        (lambda t: t.replace("--version 3.272.0", "--version 3.200.0"), "other than the SDK's pin"),
        (lambda t: t.replace("python -m offline.stack_list", "python -m offline.stacks"), "no module 'offline.stacks'"),
        (
            lambda t: t.replace("pulumi config set --secret railwayToken --stack mvp-router", "true"),
            "secret beacon-fleet:railwayToken of stack mvp-router",
        ),
    ],
)
def test_a_doctored_page_fails_naming_what_the_code_does_not_have(doctor, named, followed_urns):
    doctored = doctor(DOC_TEXT)
    assert doctored != DOC_TEXT, "the doctoring found nothing to change: the page changed, update the case"
    found = problems(doctored, followed_urns)
    assert any(named in problem for problem in found), found
