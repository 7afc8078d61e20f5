"""README and stack files stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from fleet.config_schema import PROJECT_ROOT, load_project_schema

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_documents_every_config_key_with_its_default():
    rows = dict(re.findall(r"^\| `([A-Za-z:]+)` \| \w+ \| ([^|]+) \|", README, flags=re.MULTILINE))
    for name, spec in load_project_schema().keys.items():
        assert name in rows, f"README's config table lacks {name}"
        if spec.has_default and isinstance(spec.default, (int, str)) and spec.default not in ("", []):
            assert str(spec.default).lower() in rows[name].lower(), f"README gives {name} a stale default"


def test_readme_shows_the_two_set_up_commands_and_ci_runs_the_test_one():
    assert "make plan" in README and "make test" in README
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_no_stack_file_holds_a_credential_in_plain_text():
    credential = re.compile(r"(token|secret|password|apikey|api_key|accesskey)", re.IGNORECASE)
    for path in Path(PROJECT_ROOT).glob("Pulumi.*.yaml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, value = line.strip().partition(":")
            if credential.search(line.split("#")[0]) and value.strip() and "secure" not in value:
                raise AssertionError(f"{path.name}: '{line.strip()}' looks like a plain-text credential")
