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


def test_the_model_tables_are_what_make_docs_generates_from_the_catalog(monkeypatch):
    from dataclasses import replace

    from offline import model_docs

    committed = model_docs.OUTPUT.read_text(encoding="utf-8")
    assert committed == model_docs.render(committed), "docs/models.md's tables are stale: run make docs"
    catalog = dict(model_docs.BUILTIN_MODELS)
    catalog["mistral-7b"] = replace(catalog["mistral-7b"], layers=33, revision="f" * 40)
    monkeypatch.setattr(model_docs, "BUILTIN_MODELS", catalog)
    changed = model_docs.render(committed)
    assert "| 7.25 B | 33 | 4096 |" in changed and f"| mistral-7b | {'f' * 40} |" in changed


def vllm_pin() -> str:
    requirements = (PROJECT_ROOT / "images" / "inference-server" / "requirements.txt").read_text(encoding="utf-8")
    (pin,) = re.findall(r"^vllm==(\S+)$", requirements, flags=re.MULTILINE)
    return pin


def test_every_vllm_version_the_docs_name_is_the_one_the_serving_image_pins():
    pages = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    pages += sorted((PROJECT_ROOT / "charts").rglob("*.md"))
    named = {
        (page.name, version)
        for page in pages
        for version in re.findall(r"\bvLLM v?(\d+\.\d+(?:\.\d+)?)", page.read_text(encoding="utf-8"))
    }
    assert named, "no page names vLLM's version"
    assert {(page, version) for page, version in named if version != vllm_pin()} == set()


def readme_block(after: str) -> list[str]:
    """The lines of the README's first fenced block after the line that starts with `after`."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(after))
    opening = next(i for i in range(start, len(lines)) if lines[i].startswith("```"))
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i].startswith("```"))
    return lines[opening + 1 : closing]


def test_the_readmes_plan_excerpt_is_what_the_plan_prints():
    from offline.report import plan_table
    from offline.stack_files import load_stack_config, shipped_stacks
    from tests.conftest import shared_synthesis

    excerpt = [line for line in readme_block("### What `make plan` shows") if line.strip() != "…"]
    stack = excerpt[0].split()[2]
    printed = plan_table(load_stack_config(stack), shared_synthesis(stack)).splitlines()
    printed.append(f"all {len(shipped_stacks())} stacks synthesized offline (simulated, nothing deployed)")
    assert [line for line in excerpt if line not in printed] == []


def test_the_readmes_test_sample_runs_the_makefiles_commands_and_counts_the_tests_there_are(request):
    sample = readme_block("### What `make test` shows")
    recipe = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8").split("\ntest:", 1)[1].split("\n\n", 1)[0]
    commands = [line.strip().replace("$(PY)", ".venv/bin/python") for line in recipe.splitlines()]
    commands = [command.replace(" $(ARGS)", "") for command in commands]
    assert [line for line in sample if line.startswith(".venv/")] == [c for c in commands if c.startswith(".venv/")]
    (summary,) = [m for line in sample if (m := re.search(r" (\d+) passed(?:, (\d+) skipped)? in [\d.]+s ", line))]
    whole_suite = request.config.args in (["tests"], [str(PROJECT_ROOT / "tests")]) and not (
        request.config.option.deselect or request.config.option.keyword or request.config.option.markexpr
    )
    if not whole_suite:
        pytest.skip("the README's count is checked when the whole suite is collected (make test)")
    assert int(summary[1]) + int(summary[2] or 0) == len(request.session.items), "update the README's test sample"
