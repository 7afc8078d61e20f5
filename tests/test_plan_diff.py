"""The credential-free plan diff: what differs per stack between two plans of the fleet, said plainly. The command
itself, planning two commits in worktrees, is tests/test_plan_diff_cli.py."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from fleet.config_schema import encode_config_value
from offline import plan_diff
from offline.plan_diff import StackDiff, diff_plans, diff_stack, markdown
from offline.stack_files import StackConfig
from tests.conftest import PROJECT, REGION_STACKS, shared_synthesize

DROPPED_MODEL = "mistral-7b"
KEPT_MODELS = ["llama3.2-1b", "qwen2.5-1.5b"]  # us-east's models after the change


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> tuple[dict, dict]:
    """What `make plan` writes for this project's stacks, before and after us-east stops serving DROPPED_MODEL (the
    change tests/test_plan_diff_cli.py commits and diffs through the command): `offline.plan` in this process over
    the stack files, read back as the diff reads a folder of plans, its syntheses shared with the session's."""
    from offline import plan

    real_loader = plan.load_stack_config
    models = encode_config_value(KEPT_MODELS)
    folders = []
    for side in ("base", "head"):

        def loader(stack: str, path: Path | None = None, side: str = side) -> StackConfig:
            config = real_loader(stack, path)
            if side == "base" or stack != "us-east":
                return config
            return replace(config, values={**config.values, f"{PROJECT}:models": models})

        out = tmp_path_factory.mktemp(side)
        with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
            patch.setattr(plan, "load_stack_config", loader)
            patch.setattr(plan, "synthesize", shared_synthesize)
            assert plan.main(["--json-only", "--out", str(out)]) == 0
        folders.append(plan_diff.load_plans(out))
    return folders[0], folders[1]


def by_stack(diffs: list[StackDiff]) -> dict[str, StackDiff]:
    return {d.stack: d for d in diffs}


def test_dropping_one_model_names_exactly_that_change_in_every_stack(plans):
    diffs = by_stack(diff_plans(*plans))
    assert list(diffs) == [*REGION_STACKS, "router"]  # regions first, as planned
    assert all(diffs[stack].status == "unchanged" for stack in REGION_STACKS if stack != "us-east")

    us_east = diffs["us-east"]
    assert us_east.status == "changed"
    assert [key for key, _, _ in us_east.config] == ["beacon-fleet:models"]
    assert us_east.added == []
    assert us_east.removed and all(DROPPED_MODEL in name for _, name, _ in us_east.removed)
    removed_types = {type_ for type_, _, _ in us_east.removed}
    assert {"alicloud:pai/service:Service", "kubernetes:helm.sh/v3:Release"} <= removed_types
    # What stays changes only because the model left: a smaller GPU pool, one service account fewer in the trust.
    changed = {name: [path for path, _, _ in leaves] for (_, name, _), leaves in us_east.changed}
    budget = changed.pop("cost-budget")  # the region's cost view, which the policy pack holds to the budget
    assert "inputs.knownYearlyUsd" in budget and all(path.startswith("inputs.") for path in budget)
    assert changed == {
        "gpu-pool-pool": ["inputs.scalingConfig.maxSize"],  # its minimum is 0 nodes either way
        "model-access-serving-role": ["inputs.assumeRolePolicyDocument.Statement.0.Condition.StringEquals.oidc:sub[−]"],
        # The interceptor holds a request for the longest cold start of the models left.
        "ack-keda-http-addon": ["inputs.values.interceptor.readinessTimeout"],
    }

    router = diffs["router"]
    assert router.added == router.removed == []
    assert [(name, new) for name, _, new in router.routes] == [(f"us-east / {DROPPED_MODEL}", None)]
    assert [(name, new) for name, _, new in router.providers] == [
        (f"us-east-{kind}-{DROPPED_MODEL}", None) for kind in ("ack", "eas", "modal")
    ]
    changed = {name: [path for path, _, _ in leaves] for (_, name, _), leaves in router.changed}
    # The ConfigMap and Secret in cn-beijing's cluster hold only the region they serve (asia-east); us-east is
    # published to Railway, whose variables are secret inputs: counted, compared by fingerprint, never shown.
    assert changed.keys() == {"router-railway"}
    assert "secret inputs" in changed["router-railway"]


def test_the_reverse_change_adds_the_same_model_back(plans):
    base, head = plans
    diffs = by_stack(diff_plans(head, base))
    us_east, router = diffs["us-east"], diffs["router"]
    assert us_east.removed == [] and us_east.added
    assert all(DROPPED_MODEL in name for _, name, _ in us_east.added)
    assert [(name, old) for name, old, _ in router.routes] == [(f"us-east / {DROPPED_MODEL}", None)]


# --- the diff's rules, on small documents ---------------------------------------------------------------------


def plan(stack: str = "s", resources=(), outputs=None, ok=True, violations=(), **extra) -> dict:
    return {
        "format": "beacon-fleet-plan/1",
        "stack": stack,
        "ok": ok,
        "error": None if ok else "stack 's' has 1 configuration problem",
        "config": {"beacon-fleet:stackRole": "region"},
        "resources": list(resources),
        "outputs": outputs or {},
        "policies": {"violations": list(violations)},
        "warnings": [],
        **extra,
    }


def res(name: str, **inputs) -> dict:
    return {"type": "alicloud:ram/role:Role", "name": name, "parent": "", "protect": False, "inputs": inputs}


def test_a_secret_stays_masked_and_a_json_document_is_compared_as_data():
    before = plan(resources=[res("role", password="[secret]", policy=json.dumps({"Action": ["oss:GetObject"]}))])
    after = plan(resources=[res("role", password="[secret]", policy=json.dumps({"Action": ["oss:ListObjects"]}))])
    diff = diff_stack("s", before, after)
    assert diff.changed == [
        (("alicloud:ram/role:Role", "role", ""), [("inputs.policy.Action.0", "oss:GetObject", "oss:ListObjects")])
    ]


def test_a_head_that_fails_to_plan_or_breaks_a_mandatory_policy_fails_the_diff():
    failed = diff_stack("s", plan(), plan(ok=False))
    assert failed.status == "failed" and failed.head_failed
    assert "configuration problem" in markdown([failed], "base", "head")
    violation = {"policy": "ack-rrsa", "enforcement": "mandatory", "resource": "", "message": "no RRSA"}
    broken = diff_stack("s", plan(), plan(violations=[violation]))
    assert broken.violations_added == ["[mandatory] ack-rrsa: (stack): no RRSA"] and broken.head_failed
    assert not diff_stack("s", plan(violations=[violation]), plan()).head_failed  # fixed by the change


def test_a_stack_only_on_one_side_is_added_or_removed():
    diffs = by_stack(diff_plans({"old": plan("old")}, {"new": plan("new", resources=[res("role")])}))
    assert diffs["old"].status == "removed"
    assert diffs["new"].status == "added" and diffs["new"].added == [("alicloud:ram/role:Role", "role", "")]


def test_folders_of_plans_are_diffed_and_anything_else_is_a_usage_error(tmp_path, capsys):
    for side, outputs in (("base", {"url": "http://a"}), ("head", {"url": "http://b"})):
        (tmp_path / side).mkdir()
        (tmp_path / side / "s.json").write_text(json.dumps(plan(outputs=outputs)))
    assert plan_diff.main([str(tmp_path / "base"), str(tmp_path / "head")]) == 0
    assert "- `url`: `http://a` → `http://b`" in capsys.readouterr().out
    assert plan_diff.main([]) == 2
    (tmp_path / "head" / "other.json").write_text("{}")
    assert plan_diff.main([str(tmp_path / "base"), str(tmp_path / "head")]) == 2
    assert "is not a beacon-fleet-plan/1 plan" in capsys.readouterr().err


def test_a_changed_secret_counts_as_a_change_without_showing_either_value():
    older = plan(resources=[res("role", password="[secret]")])  # planned before fingerprints existed
    fingerprinted = plan(resources=[{**res("role", password="[secret]"), "secretDigest": "sha256:aaaa"}])
    fingerprinted["secretDigests"] = {"config": {}, "outputs": {}}
    assert diff_stack("s", older, fingerprinted).status == "unchanged"
    before = plan(resources=[{**res("role", password="[secret]"), "secretDigest": "sha256:aaaa"}])
    after = plan(resources=[{**res("role", password="[secret]"), "secretDigest": "sha256:bbbb"}])
    before["secretDigests"] = {"config": {"beacon-fleet:railwayToken": "sha256:1111"}, "outputs": {}}
    after["secretDigests"] = {"config": {"beacon-fleet:railwayToken": "sha256:2222"}, "outputs": {}}
    before["config"]["beacon-fleet:railwayToken"] = after["config"]["beacon-fleet:railwayToken"] = "[secret]"
    diff = diff_stack("s", before, after)
    assert diff.status == "changed"
    assert diff.config == [("beacon-fleet:railwayToken", "[secret]", "[secret, changed]")]
    assert [leaves for _, leaves in diff.changed] == [[("secret inputs", "sha256:aaaa", "sha256:bbbb")]]
    text = markdown([diff], "base", "head")
    assert "| s | changed | 0 | 1 | 0 |" in text
    assert "secret inputs changed (compared by fingerprint; values not shown)" in text
    assert "sha256:" not in text


def test_a_credential_in_an_old_base_plan_is_never_printed(capsys, tmp_path):
    leaked = "LTAI5tQx8mLrT2vN9pZkW3aB"
    base = plan()
    base["config"] |= {"alicloud:accessKey": "abc-plain-key-value", "beacon-fleet:owner": leaked}
    head = plan()
    for side, document in (("base", base), ("head", head)):
        (tmp_path / side).mkdir()
        (tmp_path / side / "s.json").write_text(json.dumps(document))
    assert plan_diff.main([str(tmp_path / "base"), str(tmp_path / "head")]) == 0
    out = capsys.readouterr().out
    assert leaked not in out and "abc-plain-key-value" not in out
    assert "`alicloud:accessKey`: removed (was `[secret]`)" in out


def test_a_long_value_shows_the_part_that_changed():
    policy = "x" * 150
    before = plan(resources=[res("role", note=policy + "-old-tail")])
    after = plan(resources=[res("role", note=policy + "-new-tail")])
    text = markdown([diff_stack("s", before, after)], "base", "head")
    assert "-old-tail" in text and "-new-tail" in text and "…" in text


def test_an_added_stack_lists_only_what_its_file_sets():
    from fleet.config_schema import load_project_schema

    defaults = load_project_schema().defaults_as_config()
    head = plan(
        config={
            **defaults,
            "alicloud:region": "eu-central-1",
            "beacon-fleet:vpcCidr": "10.40.0.0/16",
            "beacon-fleet:railwayToken": "[secret]",  # a secret the file does not set: a placeholder, not news
        }
    )
    diff = diff_stack("eu-central", None, head)
    assert diff.status == "added"
    assert [key for key, _, _ in diff.config] == ["alicloud:region", "beacon-fleet:vpcCidr"]


# --- protected (stateful) resources ---------------------------------------------------------------------------

BUCKET_TYPE = "alicloud:oss/bucket:Bucket"


def plan_with(*resources: dict) -> dict:
    return {"ok": True, "config": {}, "resources": list(resources), "outputs": {}}


def bucket(name: str = "models-bucket", bucket_name: str = "beacon-models", protect: bool = True) -> dict:
    return {"type": BUCKET_TYPE, "name": name, "parent": "", "protect": protect, "inputs": {"bucket": bucket_name}}


@pytest.mark.parametrize(
    "head,says",
    [
        (plan_with(), "`models-bucket` (alicloud:oss/bucket:Bucket) is protected and would be removed"),
        (
            plan_with(bucket(name="bucket")),
            "`models-bucket` (alicloud:oss/bucket:Bucket) is protected and would be removed",
        ),
        (plan_with(bucket(bucket_name="beacon-models-2")), "is protected and would be replaced: inputs.bucket changes"),
        (plan_with(bucket(protect=False)), "`models-bucket` (alicloud:oss/bucket:Bucket) would lose its protection"),
    ],
    ids=["dropped", "renamed", "replaced", "unprotected"],
)
def test_a_change_that_would_destroy_or_replace_a_protected_resource_says_so_and_fails(head, says):
    diff = plan_diff.diff_stack("us-east", plan_with(bucket()), head)
    assert diff.head_failed
    assert any(says in risk for risk in diff.protected), diff.protected
    shown = plan_diff.markdown([diff], "base", "head")
    assert "would destroy or replace protected (stateful) resources; the diff fails" in shown


def test_a_harmless_change_to_a_protected_resource_passes():
    changed = bucket()
    changed["inputs"] = {**changed["inputs"], "versioning": {"status": "Enabled"}}
    diff = plan_diff.diff_stack("us-east", plan_with(bucket()), plan_with(changed))
    assert diff.protected == [] and not diff.head_failed and diff.changed


# --- a real preview, read like an offline plan --------------------------------------------------------------------


def preview_of(document: dict) -> dict:
    """What `pulumi preview --json` would print for the stack the offline plan declares: the plan's own steps, a
    default provider the engine adds, the provider's defaults, and the digest's other fields."""
    steps = json.loads(json.dumps(document["steps"]))
    stack = document["stack"]
    default = f"urn:pulumi:{stack}::beacon-fleet::pulumi:providers:alicloud::default_3_86_1"
    for step in steps:
        step["newState"].get("inputs", {})["__defaults"] = []
        if step["newState"]["type"].startswith("alicloud:"):
            step["provider"] = default + "::04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    provider = {"urn": default, "custom": True, "type": "pulumi:providers:alicloud"}
    steps.insert(1, {"op": "create", "urn": default, "newState": provider})
    summary = {"create": len(steps)}
    return {"config": dict(document["config"]), "steps": steps, "changeSummary": summary, "duration": 1200000000}


def test_a_real_preview_reads_as_the_offline_plan_it_matches(tmp_path):
    from offline.report import plan_document
    from offline.stack_files import load_stack_config
    from tests.conftest import shared_synthesis

    offline_plan = json.loads(json.dumps(plan_document(load_stack_config("us-east"), shared_synthesis("us-east"))))
    (tmp_path / "offline").mkdir()
    (tmp_path / "preview").mkdir()
    (tmp_path / "offline" / "us-east.json").write_text(json.dumps(offline_plan))
    preview = preview_of(offline_plan)
    bucket = next(s for s in preview["steps"] if s["newState"]["type"] == BUCKET_TYPE)
    bucket["newState"]["inputs"]["bucket"] = "beacon-models-renamed"
    gone = next(s for s in preview["steps"] if s["newState"]["type"] == "alicloud:ram/role:Role")
    gone["op"] = "delete"
    gone["oldState"] = gone.pop("newState")
    (tmp_path / "preview" / "us-east.json").write_text(json.dumps(preview))

    (diff,) = diff_plans(*(plan_diff.load_plans(tmp_path / side) for side in ("offline", "preview")))
    assert diff.status == "changed" and diff.config == [] and diff.added == []
    assert diff.removed == [("alicloud:ram/role:Role", gone["oldState"]["urn"].rsplit("::", 1)[1], _parent(gone))]
    assert [(key[1], [path for path, _, _ in leaves]) for key, leaves in diff.changed] == [
        ("models-bucket", ["inputs.bucket"])
    ]
    assert any("is protected and would be replaced: inputs.bucket changes" in risk for risk in diff.protected)


def _parent(step: dict) -> str:
    parent = step["oldState"]["parent"]
    return "" if parent.endswith("::pulumi:pulumi:Stack::beacon-fleet-us-east") else parent.rsplit("::", 1)[1]


def test_a_preview_that_failed_is_the_stacks_failure_and_another_document_is_refused(tmp_path):
    failed = {
        "steps": [],
        "diagnostics": [{"message": "error: the ACK service roles are not authorized\n", "severity": "error"}],
    }
    (tmp_path / "cn-beijing.json").write_text(json.dumps(failed))
    plans = plan_diff.load_plans(tmp_path)
    assert plans["cn-beijing"]["ok"] is False
    error = diff_stack("cn-beijing", None, plans["cn-beijing"]).error
    assert error == "error: the ACK service roles are not authorized"
    (tmp_path / "notes.json").write_text(json.dumps({"resources": []}))
    with pytest.raises(ValueError, match="plan, nor the output of `pulumi preview --json`"):
        plan_diff.load_plans(tmp_path)


def test_a_real_previews_messages_reach_the_diff_scrubbed_and_bounded(tmp_path):
    # A provider error may quote request details; the cloud's text is untrusted and goes into a PR comment.
    echoed = "error: 403 for ak LTAI5tQ9xZyw8AbCdEfGh12 with header x-acs-security-token: \x1b[2Jabc " + "x" * 5000
    failed = {"steps": [], "diagnostics": [{"message": echoed, "severity": "error"}]}
    (tmp_path / "cn-beijing.json").write_text(json.dumps(failed))
    error = plan_diff.load_plans(tmp_path)["cn-beijing"]["error"]
    assert "LTAI5tQ9xZyw8AbCdEfGh12" not in error and "\x1b" not in error
    assert len(error) <= plan_diff.MAX_MESSAGE_CHARS and error.startswith("error: 403")
