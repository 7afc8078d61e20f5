"""README, docs and stack files stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fleet.config_schema import PROJECT_ROOT, SECRET_KEYS, load_project_schema
from offline import config_docs

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_configuration_doc_is_what_make_docs_generates():
    committed = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == config_docs.render(load_project_schema()), "docs/configuration.md is stale: run make docs"


def test_configuration_doc_gives_every_key_its_type_and_default():
    doc = config_docs.render(load_project_schema())
    for name, spec in load_project_schema().keys.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"docs/configuration.md lacks {name}"
        if spec.has_default and spec.default not in ("", []):
            shown = str(spec.default).lower() if not isinstance(spec.default, list) else spec.default[0]
            assert str(shown) in row.lower(), f"docs/configuration.md gives {name} a stale default"


def test_a_key_added_to_pulumi_yaml_fails_the_generator_until_it_is_grouped(tmp_path):
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    project["config"]["gpuDriverVersion"] = {"type": "string", "description": "A new key.", "default": "550"}
    path = tmp_path / "Pulumi.yaml"
    path.write_text(yaml.safe_dump(project), encoding="utf-8")
    with pytest.raises(config_docs.ConfigDocsError, match="gpuDriverVersion: declared but in no group"):
        config_docs.render(load_project_schema(path))


def test_secret_keys_are_documented_with_how_to_set_them():
    doc = config_docs.render(load_project_schema())
    for name in SECRET_KEYS:
        assert f"`pulumi config set --secret {name}`" in doc


def test_check_mode_exits_1_and_says_how_to_fix_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "configuration.md"
    stale.write_text("# Configuration\n", encoding="utf-8")
    assert config_docs.main(["--check", "--out", str(stale)]) == 1
    error = capsys.readouterr().err
    assert "is stale" in error and "make docs" in error
    assert config_docs.main(["--out", str(stale)]) == 0
    assert config_docs.main(["--check", "--out", str(stale)]) == 0


def test_readme_is_a_five_minute_read():
    assert len(README.splitlines()) <= 200, "keep the README short; move detail into docs/"


def test_every_relative_link_in_the_readme_and_docs_reaches_a_real_file_and_heading():
    pages = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {config_docs.heading_anchor(heading) for heading in headings}


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
