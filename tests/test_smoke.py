"""`make smoke STACK=…` after `pulumi up`, offline: a stand-in `pulumi` CLI serves the stack's outputs, and local
stand-ins of every provider type answer (or do not)."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe import smoke
from tests.provider_standins import SECRET, TYPES, Fleet

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    running = Fleet()
    yield running
    running.stop()


@pytest.fixture
def fake_pulumi(tmp_path, monkeypatch):
    """A `pulumi` on PATH that prints the outputs written for it, as `pulumi stack output NAME --json` does, and
    records its arguments; --show-secrets is required for the secret output, as with the real CLI."""
    outputs = tmp_path / "outputs.json"
    calls = tmp_path / "calls.jsonl"
    script = tmp_path / "bin" / "pulumi"
    script.parent.mkdir()
    script.write_text(
        f"""#!{sys.executable}
import json, sys
args = sys.argv[1:]
open({str(calls)!r}, "a").write(json.dumps(args) + "\\n")
outputs = json.load(open({str(outputs)!r}))
stack = args[args.index("--stack") + 1]
if stack not in outputs:
    sys.stderr.write("error: no stack named '" + stack + "' found\\n"); sys.exit(255)
name = args[2]
if name == "routerSecrets" and "--show-secrets" not in args:
    print(json.dumps("[secret]")); sys.exit(0)
print(json.dumps(outputs[stack][name]))
""",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")

    def publish(stack: str, config: dict, secrets: dict[str, str]) -> Path:
        outputs.write_text(json.dumps({stack: {"routerConfig": config, "routerSecrets": secrets}}), encoding="utf-8")
        return calls

    return publish


def test_every_provider_of_every_type_answers_and_the_smoke_passes(fleet, fake_pulumi, capsys):
    for index, kind in enumerate(TYPES):
        fleet.add(f"p{index}-{kind.replace('_', '-')}", kind=kind)
    fake_pulumi("router", fleet.config(), {})
    assert smoke.main(["--stack", "router"], environ=fleet.environ) == 0
    printed = capsys.readouterr().out
    assert f"{len(TYPES)} answered, 0 did not, 0 skipped" in printed
    for pid in fleet.providers:
        row = next(line for line in printed.splitlines() if line.startswith(pid))
        assert "  yes  " in row


def test_a_provider_that_does_not_answer_fails_the_smoke_and_says_what_to_check(fleet, fake_pulumi, capsys):
    fleet.add("a-ok")
    fleet.add("b-failing", "failing")
    fake_pulumi("router", fleet.config(), {})
    assert smoke.main(["--stack", "router"], environ=fleet.environ) == 1
    printed = capsys.readouterr().out
    failing = next(line for line in printed.splitlines() if line.startswith("b-failing"))
    assert "NO" in failing and "read its logs" in failing
    assert "1 answered, 1 did not, 0 skipped" in printed


def test_a_missing_credential_names_where_its_value_is(fleet, fake_pulumi, capsys):
    fleet.add("a-ok")
    fake_pulumi("router", fleet.config(), {})
    assert smoke.main(["--stack", "router"], environ={}) == 1
    assert "pulumi stack output routerSecrets --stack router --show-secrets" in capsys.readouterr().out


def test_credentials_from_the_stack_stay_in_memory(fleet, fake_pulumi, capsys, tmp_path):
    fleet.add("a-ok")
    fleet.add("b-ok", kind="modal")
    calls = fake_pulumi("router", fleet.config(), dict(fleet.environ))
    assert smoke.main(["--stack", "router", "--secrets-from-stack"], environ={}) == 0
    printed = capsys.readouterr()
    assert SECRET not in printed.out + printed.err
    asked = [json.loads(line) for line in calls.read_text().splitlines()]
    assert ["stack", "output", "routerSecrets", "--stack", "router", "--json", "--show-secrets"] in asked
    # The stand-in CLI's own state holds the secret, as a backend does; nothing the smoke test wrote does.
    written = [
        p for p in tmp_path.rglob("*") if p.is_file() and p.name not in ("outputs.json", "calls.jsonl", "pulumi")
    ]
    assert not any(SECRET in p.read_text(errors="replace") for p in written)


def test_an_unknown_stack_or_no_cli_is_a_usage_error(fleet, fake_pulumi, capsys, monkeypatch):
    fleet.add("a-ok")
    fake_pulumi("router", fleet.config(), {})
    assert smoke.main(["--stack", "nope"], environ={}) == 2
    assert "no stack named 'nope'" in capsys.readouterr().err
    monkeypatch.setenv("PATH", "/nonexistent")
    assert smoke.main(["--stack", "router"], environ={}) == 2
    assert "the Pulumi CLI is not on PATH" in capsys.readouterr().err


def test_an_output_that_is_not_a_router_config_is_refused_before_anything_is_sent(fleet, fake_pulumi, capsys):
    server = fleet.add("a-ok")
    config = fleet.config()
    config["providers"]["a-ok"]["endpoint"] = "http://localhost:1@example.invalid/v1"
    fake_pulumi("router", config, {})
    assert smoke.main(["--stack", "router"], environ=fleet.environ) == 2
    assert "is not a router config" in capsys.readouterr().err and server.paths == []


def test_make_smoke_runs_the_smoke_command():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nsmoke:", 1)[1].split("\n\n", 1)[0]
    assert "-m probe.smoke --stack $(STACK)" in recipe
