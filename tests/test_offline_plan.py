"""The offline plan: readable per stack, byte-identical JSON, plain about what it simulated and masked."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace

import pytest

from fleet.config_schema import KeySpec, load_project_schema
from offline import plan
from offline.engine import synthesize
from offline.report import SIMULATION_NOTE, plan_document, plan_json, plan_table
from offline.simulated_cloud import SIMULATED_ACCOUNT_ID
from offline.stack_files import load_stack_config
from tests.conftest import REGION_STACKS, SHIPPED_STACKS, served_models, shared_synthesis, shared_synthesize


def plan_bytes(stack: str, shared: bool = False) -> str:
    config = load_stack_config(stack)
    synthesis = shared_synthesis(stack) if shared else synthesize(stack, config.values, config.secret_keys)
    return plan_json(plan_document(config, synthesis))


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_plan_json_is_byte_identical_across_two_runs(stack):
    # Two runs of the program: this one, and the session's shared one (run earlier, or now, on its own).
    first, second = plan_bytes(stack), plan_bytes(stack, shared=True)
    assert first == second
    document = json.loads(first)
    assert document["ok"] is True and document["summary"]["resources"] == len(document["resources"]) > 0


def test_plan_cli_writes_identical_files_in_two_runs(tmp_path, capsys):
    # Two runs of the program: the session's shared syntheses (run on their own), and this command's.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plan, "synthesize", shared_synthesize)
        assert plan.main(["--json-only", "--out", str(tmp_path / "a")]) == 0
    assert plan.main(["--json-only", "--out", str(tmp_path / "b")]) == 0
    for stack in SHIPPED_STACKS:
        assert (tmp_path / "a" / f"{stack}.json").read_bytes() == (tmp_path / "b" / f"{stack}.json").read_bytes()
    out = capsys.readouterr().out
    assert f"all {len(SHIPPED_STACKS)} stacks synthesized offline (simulated, nothing deployed)" in out


def test_plan_table_shows_type_name_parent_settings_and_what_was_simulated():
    config = load_stack_config("cn-beijing")
    table = plan_table(config, shared_synthesis("cn-beijing"))
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if "alicloud:oss:Bucket " in line)
    row = [lines[start]]
    for line in lines[start + 1 :]:  # settings that do not fit continue on lines aligned under the column
        if not line.startswith(" " * 40):
            break
        row.append(line)
    bucket_row = " ".join(row)
    assert "models-bucket" in bucket_row and "models" in bucket_row.split("models-bucket", 1)[1]
    assert "yes" in bucket_row and "sseAlgorithm=AES256" in bucket_row and "status=Enabled" in bucket_row
    assert "Outputs (secrets masked):" in table
    assert SIMULATION_NOTE in " ".join(table.split()) and SIMULATED_ACCOUNT_ID in table  # wrapped to 160


def test_unknown_stack_is_a_clear_usage_error(capsys):
    assert plan.main(["--stack", "eu-nowhere", "--json-only"]) == 2
    err = capsys.readouterr().err
    assert "unknown stack 'eu-nowhere': no Pulumi.eu-nowhere.yaml" in err
    assert "cn-beijing" in err


def test_a_stack_that_fails_makes_the_exit_code_say_so(tmp_path, monkeypatch, capsys, shared_plan_syntheses):
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text(
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:zoneCount: 1\n"
    )
    real_loader = plan.load_stack_config
    monkeypatch.setattr(plan, "load_stack_config", lambda s: real_loader(s, broken if s == "broken" else None))
    assert plan.main(["--stack", "broken", "--stack", "us-east", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "FAILED: stack 'broken' has 1 configuration problem" in captured.out
    assert "1 of 2 stacks failed to synthesize or broke a mandatory policy: broken" in captured.err
    assert json.loads((tmp_path / "broken.json").read_text())["ok"] is False


def test_a_mandatory_policy_violation_fails_the_plan_as_it_fails_a_preview(tmp_path, monkeypatch, capsys):
    from offline import policy_check

    real_check = policy_check.check

    def without_versioning(resources, *args, **kwargs):
        resources = [
            dataclasses.replace(r, inputs={**r.inputs, "versioning": {"status": "Suspended"}})
            if r.type == "alicloud:oss/bucket:Bucket"
            else r
            for r in resources
        ]
        return real_check(resources, *args, **kwargs)

    monkeypatch.setattr(policy_check, "check", without_versioning)
    assert plan.main(["--stack", "us-east", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "[mandatory] oss-bucket-versioned: alicloud:oss/bucket:Bucket models-bucket" in captured.out
    (violation,) = json.loads((tmp_path / "us-east.json").read_text())["policies"]["violations"]
    assert violation["policy"] == "oss-bucket-versioned" and violation["enforcement"] == "mandatory"


def test_the_plan_records_which_policies_checked_the_stack(tmp_path, shared_plan_syntheses):
    assert plan.main(["--stack", "us-east", "--json-only", "--out", str(tmp_path)]) == 0
    policies = json.loads((tmp_path / "us-east.json").read_text())["policies"]
    assert policies["pack"] == "beacon-fleet-guardrails" and policies["violations"] == []
    assert "cgpu-pods-request-gpu-memory" in policies["checked"] and len(policies["checked"]) == 12
    assert "alicloud-provider-schema" in policies["checked"]


def test_encrypted_stack_values_become_visible_placeholders_and_stay_masked(tmp_path):
    path = tmp_path / "Pulumi.keyed.yaml"
    path.write_text(
        "config:\n  alicloud:region: us-east-1\n  alicloud:secretKey:\n    secure: v1:AAAABBBBCCCC\n"
        "  beacon-fleet:routerRegion: us-east\n"
    )
    config = load_stack_config("keyed", path)
    assert config.values["alicloud:secretKey"].startswith("[secret placeholder: encrypted in Pulumi.keyed.yaml")
    assert "alicloud:secretKey" in config.secret_keys
    document = plan_document(config, synthesize("keyed", config.values, config.secret_keys))
    assert document["ok"] is True
    assert document["config"]["alicloud:secretKey"] == "[secret]"
    assert "v1:AAAABBBBCCCC" not in plan_json(document)
    assert "alicloud:secretKey" in document["placeholders"]


def test_a_required_secret_left_unset_is_a_visible_placeholder_never_a_made_up_value(tmp_path):
    schema = load_project_schema()
    token = KeySpec(name="demoToken", type="string", description="a token", secret=True)
    with_secret = replace(schema, keys={**schema.keys, "demoToken": token})
    path = tmp_path / "Pulumi.tokenless.yaml"
    path.write_text("config:\n  alicloud:region: us-east-1\n  beacon-fleet:registryEdition: personal\n")
    config = load_stack_config("tokenless", path, schema=with_secret)
    assert (
        config.values["beacon-fleet:demoToken"]
        == "[secret placeholder: beacon-fleet:demoToken is not set in Pulumi.tokenless.yaml]"
    )
    assert "beacon-fleet:demoToken" in config.secret_keys
    # Only the secrets this stack needs are listed: Personal Edition needs the registry password.
    assert list(config.placeholders) == ["beacon-fleet:registryPassword"]
    assert config.placeholders["beacon-fleet:registryPassword"].startswith(
        "not set; run `pulumi config set --secret registryPassword`"
    )


@pytest.mark.parametrize(
    ("stack", "needed"),
    [
        ("cn-beijing", ["runpodRouterApiKey"]),
        ("ap-southeast", ["runpodRouterApiKey"]),
        ("us-east", ["modalProxyTokenId", "modalProxyTokenSecret"]),
        ("router", ["railwayToken", "routerKubeconfig"]),
    ],
)
def test_secret_placeholders_list_only_the_secrets_the_stack_needs(stack, needed):
    config = load_stack_config(stack)
    assert sorted(config.placeholders) == [f"beacon-fleet:{name}" for name in needed]


def test_plan_table_lists_each_counterpart_with_provider_location_gpu_scaling_and_url():
    config = load_stack_config("cn-beijing")
    table = plan_table(config, shared_synthesis("cn-beijing"))
    section = table.split("\nCounterpart (", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section[0] == "runpod, jurisdiction jp, cross-border, request timeout 120s):"
    rows = {line.split()[0]: line.split() for line in section[2:]}
    assert set(rows) == served_models("cn-beijing")
    assert rows["mistral-7b"][1:4] == ["runpod", "AP-JP-1", "ADA_24,AMPERE_24"]
    assert "0..1 workers, idle 300s" in " ".join(rows["mistral-7b"])
    assert rows["mistral-7b"][-1] == "https://api.runpod.ai/v2/ep-sim-counterpart-mistral-7b-endpoint/openai/v1"


def test_a_stack_without_a_counterpart_has_no_counterpart_section():
    config = load_stack_config("us-east")
    config = replace(config, values={**config.values, "beacon-fleet:counterpartProvider": "none"})
    table = plan_table(config, synthesize("us-east", config.values, config.secret_keys))
    assert "\nCounterpart (" not in table and "Outputs (secrets masked):" in table


def test_the_plan_text_of_every_shipped_stack_keeps_to_160_characters_a_line(tmp_path, capsys, shared_plan_syntheses):
    assert plan.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    long_lines = [line for line in out.splitlines() if len(line) > 160]
    assert long_lines == []
    for stack in SHIPPED_STACKS:
        assert f"== stack {stack} " in out and (tmp_path / f"{stack}.json").exists()
    assert " GPU(s)" not in out


def test_counts_read_right():
    from offline.report import plural

    assert [plural(n, "resource") for n in (0, 1, 2)] == ["0 resources", "1 resource", "2 resources"]
    assert plural(1, "policy", "policies") == "1 policy"


def test_the_plan_of_a_deleted_stack_is_removed_from_the_output_folder(tmp_path, shared_plan_syntheses):
    stale = tmp_path / "eu-gone.json"
    stale.write_text(json.dumps({"format": "beacon-fleet-plan/1", "stack": "eu-gone"}))
    unrelated = tmp_path / "notes.json"
    unrelated.write_text("{}")
    assert plan.main(["--json-only", "--out", str(tmp_path)]) == 0
    assert not stale.exists() and unrelated.exists()


def test_the_cost_json_view_prints_only_json(capsys, shared_plan_syntheses):
    assert plan.main(["--view", "cost-json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["regions"]
    assert "synthesized offline" in captured.err


def test_a_broken_stack_file_fails_that_stack_and_the_others_still_plan(
    tmp_path, monkeypatch, capsys, shared_plan_syntheses
):
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text("config:\n  alicloud:region: us-east-1\n  alicloud:region: us-east-2\n")
    real_loader = plan.load_stack_config
    monkeypatch.setattr(plan, "load_stack_config", lambda s, p=None: real_loader(s, broken if s == "broken" else p))
    assert plan.main(["--stack", "broken", "--stack", "us-east", "--json-only", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "us-east: 73 resources" in captured.out and "broken: FAILED" in captured.out
    document = json.loads((tmp_path / "broken.json").read_text())
    assert document["ok"] is False and "alicloud:region is set twice (also line 2)" in document["error"]


def test_a_region_that_allows_cross_border_failover_is_warned_about_loudly():
    config = load_stack_config("ap-southeast")
    config = replace(config, values={**config.values, "beacon-fleet:allowCrossBorderFailover": "true"})
    synthesis = synthesize("ap-southeast", config.values, config.secret_keys)
    table = " ".join(plan_table(config, synthesis).split())
    warning = "warning: ap-southeast: allowCrossBorderFailover is true, so the router may send this region's traffic"
    assert warning in table
    assert any("allowCrossBorderFailover" in w for w in plan_document(config, synthesis)["warnings"])


@pytest.mark.parametrize("stack,hub", [("cn-beijing", "modelscope"), ("ap-southeast", "huggingface")])
def test_the_plan_shows_each_models_weights_source_revision_and_digest(stack, hub):
    config = load_stack_config(stack)
    synthesis = shared_synthesis(stack)
    table = plan_table(config, synthesis)
    assert "Model weights, synced into the bucket and verified before serving" in table
    for model_id, pinned in synthesis.outputs["weights"].items():
        row = next(line for line in table.splitlines() if line.strip().startswith(model_id + " ") and hub in line)
        assert pinned["revision"][:12] in row and pinned["digest"].rpartition(":")[2][:16] in row


# --- a plan that reads like a review ----------------------------------------------------------------------------


@pytest.fixture
def broken_stack(tmp_path, monkeypatch):
    """A stack file with a configuration mistake (one zone), planned as `--stack broken`."""
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text(
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:zoneCount: 1\n"
    )
    real_loader = plan.load_stack_config
    monkeypatch.setattr(plan, "load_stack_config", lambda s, p=None: real_loader(s, broken if s == "broken" else p))
    return tmp_path / "out"


@pytest.mark.parametrize("view", [[], ["--json-only"], ["--view", "cost"], ["--view", "cost-json"]])
def test_a_failed_stack_says_why_in_every_view_and_nothing_that_reads_as_success(broken_stack, capsys, view):
    assert plan.main(["--stack", "broken", "--out", str(broken_stack), *view]) == 1
    captured = capsys.readouterr()
    reason = "stack 'broken' has 1 configuration problem"
    assert reason in captured.out + captured.err
    assert reason in json.loads((broken_stack / "broken.json").read_text())["error"]
    assert "plan written to" not in captured.out and "synthesized offline (simulated" not in captured.out
    assert "Fleet, " not in captured.out  # no fleet total over what did plan
    if view == ["--view", "cost-json"]:
        json.loads(captured.out)  # stdout stays JSON only; the reason is on stderr
        assert reason in captured.err


def test_a_mandatory_violation_is_the_reason_a_stack_fails_in_the_status_lines():
    from offline.engine import Synthesis
    from offline.policy_check import Violation

    violations = [
        Violation("oss-bucket-versioned", "mandatory", "alicloud:oss/bucket:Bucket models-bucket", "not versioned"),
        Violation("some-advice", "advisory", "", "only advice"),
    ]
    lines = plan.failure_lines(Synthesis("us-east", resources=[]), violations)
    assert lines == ["  [mandatory] oss-bucket-versioned: alicloud:oss/bucket:Bucket models-bucket: not versioned"]
    assert plan.failure_lines(Synthesis("us-east"), violations[1:]) == []


def test_the_studys_scenario_is_in_the_cost_view_only(tmp_path, capsys, shared_plan_syntheses):
    assert plan.main(["--stack", "us-east", "--out", str(tmp_path)]) == 0
    full = capsys.readouterr().out
    assert "The Beacon study's scenario" not in full and "Fleet, 1 region:" in full
    assert plan.main(["--stack", "us-east", "--view", "cost", "--out", str(tmp_path)]) == 0
    assert "The Beacon study's scenario" in capsys.readouterr().out


def test_the_packing_line_is_there_only_where_a_gpu_pool_packs_models():
    from offline.report import cost_lines, region_cost

    def packing(synthesis) -> list[str]:
        region = region_cost(synthesis, None, 2.0)
        assert region is not None
        return [line for line in cost_lines(region) if "cGPU packing" in line]

    assert packing(shared_synthesis("us-east")) != []
    without_pool = shared_synthesis("us-east", {"servingPlatforms": []})  # the counterpart alone
    assert "gpuPacking" not in without_pool.outputs or not without_pool.outputs["gpuPacking"]
    assert packing(without_pool) == []


def test_the_route_diagram_is_a_fenced_mermaid_block_line_for_line():
    from tests.conftest import shared_plan

    router = shared_plan()["router"]
    table = plan_table(load_stack_config("router"), router)
    block = table.split("```mermaid\n", 1)[1].split("\n```\n", 1)[0]
    assert block == router.outputs["routerMermaid"].rstrip("\n")
    assert block.splitlines()[0] == "flowchart LR"


# --- the steps, as `pulumi preview --json` gives them -----------------------------------------------------------


def test_the_plan_holds_each_resource_as_a_step_in_the_shape_of_pulumi_preview_json():
    config = load_stack_config("cn-beijing")
    document = plan_document(config, shared_synthesis("cn-beijing"))
    steps = document["steps"]
    root, *rest = steps
    assert root == {
        "op": "create",
        "urn": "urn:pulumi:cn-beijing::beacon-fleet::pulumi:pulumi:Stack::beacon-fleet-cn-beijing",
        "newState": {"urn": root["urn"], "custom": False, "type": "pulumi:pulumi:Stack"},
    }
    assert len(rest) == len(document["resources"])
    urns = {step["urn"] for step in steps}
    for step, resource in zip(rest, document["resources"], strict=True):
        state = step["newState"]
        assert step["op"] == ("read" if resource["read"] else "create") and state["urn"] == step["urn"]
        assert (state["type"], state["inputs"], state.get("protect", False)) == (
            resource["type"],
            resource["inputs"],
            resource["protect"],
        )
        assert state["parent"] in urns and step["urn"].endswith("::" + resource["name"])
        # URNs as the engine writes them: a top-level resource's type is not qualified by the root stack's
        assert "pulumi:pulumi:Stack$" not in step["urn"]
    assert any(step["newState"].get("protect") for step in rest)
