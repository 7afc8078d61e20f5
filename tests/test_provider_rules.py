"""The bridged provider's own input rules, offline: generated from its Go source, applied to every `alicloud`
resource the fleet declares, read by the plan diff for what forces a replacement, and reproducible."""

from __future__ import annotations

import ast
import copy
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import pulumi_alicloud
import pytest

from offline import plan_diff, policy_check
from offline.engine import ProviderRuleRefusal, _revealed, synthesize
from offline.real_cloud import Registration
from offline.report import plan_document, plan_json
from offline.stack_files import load_stack_config
from policy import beacon_policies as bp
from policy import provider_rules
from tests.conftest import REGION_STACKS, settled_ok, shared_synthesis, shared_synthesize, with_overrides

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Where the `fetch` tool leaves aliyun/terraform-provider-alicloud (a bare git directory); override with
# BEACON_PROVIDER_SOURCE to point at another copy.
PROVIDER_SOURCE = Path(
    os.environ.get("BEACON_PROVIDER_SOURCE", "/work/.mirror/aliyun+terraform-provider-alicloud/repo")
)
FUNCTION = "alicloud:fc/v3Function:V3Function"
# Models that start cold on FC within the router's limit (mistral-7b at fp16 does not: fleet/settings/fc.py).
FC_MODELS = {"models": ["llama3.2-1b", "qwen2.5-1.5b"]}
FC_MAINLAND = {"servingPlatforms": ["fc"], "icpLicence": "京ICP备12345678号", **FC_MODELS}
# Every way the program declares an alicloud type: the shipped stacks, and the options that add types.
VARIANTS = {
    **{stack: (stack, {}) for stack in REGION_STACKS},
    "cn-beijing on fc": ("cn-beijing", FC_MAINLAND),
    "ap-southeast on fc": ("ap-southeast", {"servingPlatforms": ["fc"], **FC_MODELS}),
    "us-east with deployer cidrs": ("us-east", {"deployerCidrs": ["203.0.113.0/24"]}),
    "us-east on internet": (
        "us-east",
        {"ackExposure": "internet", "servingAllowedCidrs": ["203.0.113.0/24"], "servingTlsCertId": "1234-us-east-1"},
    ),
    "us-east with personal acr": (
        "us-east",
        {"registryEdition": "personal", "registryUsername": "u", "registryPassword": "x", "servingPlatforms": ["eas"]},
    ),
}


def run(stack: str, overrides: dict[str, Any]):
    config = with_overrides(load_stack_config(stack), overrides)
    return synthesize(stack, config.values, config.secret_keys)


@pytest.fixture(scope="module")
def fleets():
    return {label: settled_ok(shared_synthesis(stack, overrides)) for label, (stack, overrides) in VARIANTS.items()}


def missing_rules(types: set[str], data: dict[str, Any]) -> set[str]:
    return {t for t in types if t.startswith("alicloud:") and t not in data["resources"]}


# --- coverage ---------------------------------------------------------------------------------------------------


def test_every_alicloud_type_the_fleet_declares_has_the_providers_rules(fleets):
    declared = {r.type for result in fleets.values() for r in result.resources if r.type.startswith("alicloud:")}
    assert FUNCTION in declared and "alicloud:cr/repo:Repo" in declared, "a variant lost the types it is here for"
    assert not missing_rules(declared, provider_rules.rules()), "regenerate with tools/alicloud_rules.py"


def constructed_types() -> set[str]:
    """Every alicloud resource class components/ constructs, by the token its SDK class registers."""
    found = set()
    for path in sorted((PROJECT_ROOT / "components").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = node.func if isinstance(node, ast.Call) else None
            if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute)):
                continue
            if not (isinstance(func.value.value, ast.Name) and func.value.value.id == "alicloud"):
                continue
            cls = getattr(getattr(pulumi_alicloud, func.value.attr), func.attr)
            if isinstance(cls, type) and hasattr(cls, "_internal_init"):
                consts = cls._internal_init.__code__.co_consts
                found |= {c for c in consts if isinstance(c, str) and c.startswith("alicloud:")}
    return found


def test_every_alicloud_resource_a_component_can_construct_has_the_providers_rules():
    types = constructed_types()
    assert FUNCTION in types and len(types) >= 20, sorted(types)
    assert not missing_rules(types, provider_rules.rules()), "regenerate with tools/alicloud_rules.py"


def test_a_declared_type_without_rules_fails_the_coverage_check():
    data = copy.deepcopy(provider_rules.rules())
    del data["resources"][FUNCTION]
    assert missing_rules(constructed_types(), data) == {FUNCTION}


def test_the_data_says_which_provider_version_and_where_each_rule_is_stated():
    data = provider_rules.rules()
    assert data["provider"]["version"] == "v1.289.0" and len(data["provider"]["commit"]) == 40
    assert "v1.295.0" in data["provider"]["settled"]
    for token, spec in data["resources"].items():
        assert spec["file"].startswith("alicloud/resource_alicloud_") and spec["line"] > 0, token
        assert all(f["line"] > 0 and f["tf"] for f in spec["fields"].values()), token


def test_every_validator_the_checker_cannot_apply_is_listed_not_skipped():
    data = provider_rules.rules()
    listed = {(u["type"], u["field"]) for u in data["unreadable"]}

    def walk(token, fields, prefix=""):
        for name, field in fields.items():
            for key in ("validate", "elemValidate"):
                rule = field.get(key)
                kinds = [rule, *rule.get("of", [])] if rule else []
                if any(r.get("unreadable") or r["kind"] not in provider_rules.SUPPORTED_VALIDATORS for r in kinds):
                    assert (token, prefix + name) in listed, (token, prefix + name)
            walk(token, field.get("fields") or {}, f"{prefix}{name}.")

    for token, spec in data["resources"].items():
        walk(token, spec["fields"])
    assert listed, "the provider's custom validators must show up here"


# --- the FC health check, through `make plan`'s engine ------------------------------------------------------------


def test_the_shipped_fleet_breaks_no_provider_rule(fleets):
    for label, result in fleets.items():
        for r in result.resources:
            assert provider_rules.violations(r.type, _revealed(r.inputs)) == [], (label, r.name)


def test_an_fc_health_check_timeout_outside_the_providers_range_fails_the_plan(monkeypatch):
    """Before the fix every function set 5; the provider takes IntBetween(0, 3) and a real preview fails."""
    original = pulumi_alicloud.fc.V3FunctionCustomContainerConfigHealthCheckConfigArgs
    monkeypatch.setattr(
        pulumi_alicloud.fc,
        "V3FunctionCustomContainerConfigHealthCheckConfigArgs",
        lambda **kwargs: original(**{**kwargs, "timeout_seconds": 5}),
    )
    result = run("cn-beijing", FC_MAINLAND)
    spec = provider_rules.resource_rules(FUNCTION)["fields"]["customContainerConfig"]["fields"]
    line = spec["healthCheckConfig"]["fields"]["timeoutSeconds"]["validate"]["line"]
    assert not result.ok
    assert "V3Function 'fc-" in result.error
    assert "customContainerConfig.healthCheckConfig.timeoutSeconds = 5" in result.error
    assert "IntBetween(0, 3)" in result.error
    assert f"v1.289.0 alicloud/resource_alicloud_fcv3_function.go:{line}" in result.error


def test_the_engine_refuses_before_the_simulated_cloud_answers_and_skips_unknowns():
    from offline.engine import _admit_by_provider_rules

    bad = {"functionName": "beacon fn", "runtime": "custom-container", "handler": "x", "memorySize": 32}
    with pytest.raises(ProviderRuleRefusal) as refused:
        _admit_by_provider_rules(Registration(urn="", type=FUNCTION, name="fn", inputs=bad))
    assert "functionName" in str(refused.value) and "memorySize = 32" in str(refused.value)
    with pytest.raises(ProviderRuleRefusal) as masked:
        _admit_by_provider_rules(
            Registration(urn="", type=FUNCTION, name="fn", inputs=bad), {**bad, "memorySize": "[secret]"}
        )
    assert "memorySize = [secret]" in str(masked.value) and "memorySize = 32" not in str(masked.value)
    unknown = {**bad, "functionName": "[unknown]", "memorySize": "[unknown]"}
    _admit_by_provider_rules(Registration(urn="", type=FUNCTION, name="fn", inputs=unknown))


# --- ten and more rules of the other types the fleet declares ---------------------------------------------------


def _set(inputs: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(inputs)
    *parents, last = path.split(".")
    target = changed
    for part in parents:
        target = target.setdefault(part, {})
    if value is _DROP:
        target.pop(last, None)
    else:
        target[last] = value
    return changed


_DROP = object()
CASES = [
    ("alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo", "repoType", "SECRET", "StringInSlice"),
    ("alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace", "defaultVisibility", "NO", "StringInSlice"),
    ("alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance", "instanceType", "Premium", "StringInSlice"),
    ("alicloud:cr/vpcEndpointLinkedVpc:VpcEndpointLinkedVpc", "moduleName", "Helm", "StringInSlice"),
    ("alicloud:cr/namespace:Namespace", "name", "b", "StringLenBetween(2, 30)"),
    ("alicloud:cr/repo:Repo", "summary", "", "StringLenBetween(1, 100)"),  # "" is set, and too short
    ("alicloud:cr/repo:Repo", "repoType", _DROP, "Required"),
    ("alicloud:ecs/securityGroup:SecurityGroup", "innerAccessPolicy", "Allow", "StringInSlice"),
    ("alicloud:vpc/switch:Switch", "availabilityZone", "us-east-1a", "ExactlyOneOf(zone_id, availability_zone)"),
    ("alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer", "addressType", "private", "StringInSlice"),
    ("alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer", "bandwidth", 6000, "IntBetween(1, 5120)"),
    ("alicloud:slb/acl:Acl", "ipVersion", "ipv5", "StringInSlice"),
    ("alicloud:ram/role:Role", "assumeRolePolicyDocument", "Version: 1", "StringIsJSON()"),
    ("alicloud:ram/policy:Policy", "policyDocument", "{not json", "StringIsJSON()"),
    ("alicloud:ram/rolePolicyAttachment:RolePolicyAttachment", "policyType", "Managed", "StringInSlice"),
    ("alicloud:pai/service:Service", "serviceConfig", "service: yaml", "StringIsJSON()"),
    ("alicloud:cs/nodePool:NodePool", "scalingConfig.maxSize", 5000, "IntBetween(0, 2000)"),
    ("alicloud:cs/nodePool:NodePool", "clusterId", _DROP, "Required"),
    ("alicloud:cs/managedKubernetes:ManagedKubernetes", "vswitchIds", ["subnet-1"], "StringMatch"),
    ("alicloud:cs/managedKubernetes:ManagedKubernetes", "nodeCidrMask", 30, "IntBetween(24, 28)"),
    ("alicloud:oss/bucket:Bucket", "bucket", "ab", "StringLenBetween(3, 63)"),
    ("alicloud:oss/bucket:Bucket", "serverSideEncryptionRule.sseAlgorithm", "DES", "StringInSlice"),
    ("alicloud:oss/bucket:Bucket", "versioning.status", "On", "StringInSlice"),
    ("alicloud:oss/bucketAcl:BucketAcl", "bucket", _DROP, "Required"),
    ("alicloud:fc/v3Function:V3Function", "memorySize", 32, "IntBetween(64, 32768)"),
]  # fmt: skip


# Where the provider states the rule on another field than the one the case sets.
REPORTED_ON = {"availabilityZone": "zoneId", "vswitchIds": "vswitchIds[0]"}


CASE_IDS = [f"{t.split(':')[-1]}.{p}" for t, p, *_ in CASES]


@pytest.mark.parametrize(("token", "path", "value", "rule"), CASES, ids=CASE_IDS)
def test_a_value_outside_a_provider_rule_is_refused_naming_field_rule_and_line(fleets, token, path, value, rule):
    declared = next(r for result in fleets.values() for r in result.resources if r.type == token)
    inputs = _revealed(declared.inputs)
    found = provider_rules.violations(token, _set(inputs, path, value))
    assert len(found) == 1, found
    (violation,) = found
    shown = REPORTED_ON.get(path, path)
    assert violation.field == shown and violation.rule.startswith(rule)
    source = f"terraform-provider-alicloud v1.289.0 {provider_rules.resource_rules(token)['file']}:"
    assert violation.source.startswith(source) and int(violation.source.rsplit(":", 1)[1]) > 0
    assert f"{shown} " in str(violation) and violation.rule in str(violation)


def test_the_cases_cover_ten_rules_on_types_other_than_fc():
    assert len({(t, p) for t, p, _, _ in CASES if t != FUNCTION}) >= 10
    assert len({t for t, _, _, _ in CASES}) >= 10


def test_a_single_object_block_given_twice_breaks_max_items(fleets):
    bucket = next(r for r in fleets["us-east"].resources if r.type == "alicloud:oss/bucket:Bucket")
    inputs = _revealed(bucket.inputs)
    rule = inputs["serverSideEncryptionRule"]
    (violation,) = provider_rules.violations(bucket.type, {**inputs, "serverSideEncryptionRule": [rule, rule]})
    assert violation.rule == "MaxItems(1)" and violation.field == "serverSideEncryptionRule"


def test_conflicting_fields_break_conflicts_with():
    role = {"roleName": "beacon", "name": "beacon", "assumeRolePolicyDocument": "{}"}
    rules = {v.rule for v in provider_rules.violations("alicloud:ram/role:Role", role)}
    assert {"ConflictsWith(role_name)", "ConflictsWith(name)"} <= rules


def test_a_one_of_group_with_none_set_is_refused_once():
    switch = {"vpcId": "vpc-1", "cidrBlock": "10.0.0.0/24"}
    (violation,) = provider_rules.violations("alicloud:vpc/switch:Switch", switch)
    assert violation.field == "zoneId" and violation.rule == "ExactlyOneOf(zone_id, availability_zone)"
    assert provider_rules.violations("alicloud:vpc/switch:Switch", {**switch, "zoneId": "[unknown]"}) == []


def test_an_ignore_case_list_accepts_any_case():
    balancer = {"internetChargeType": "paybytraffic", "addressType": "internet"}
    assert provider_rules.violations("alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer", balancer) == []


# --- the policy pack applies the same list --------------------------------------------------------------------


def test_the_policy_pack_applies_the_same_rules_and_skips_unknowns(fleets):
    function = next(r for r in fleets["cn-beijing on fc"].resources if r.type == FUNCTION)
    inputs = _revealed(function.inputs)
    bad = _set(inputs, "customContainerConfig.healthCheckConfig.timeoutSeconds", 5)
    found = policy_check.check([_with_inputs(function, bad)], [bp.alicloud_provider_schema])
    assert len(found) == 1 and "IntBetween(0, 3)" in found[0].message and found[0].enforcement == "mandatory"
    unknown = _set(inputs, "customContainerConfig.healthCheckConfig.timeoutSeconds", "[unknown]")
    assert policy_check.check([_with_inputs(function, unknown)], [bp.alicloud_provider_schema]) == []


def _with_inputs(resource, inputs):
    from dataclasses import replace

    return replace(resource, inputs=inputs)


# --- the plan diff's ForceNew -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "resource", "field"),
    [
        ({"bucketRedundancy": "ZRS"}, "(alicloud:oss/bucket:Bucket)", "inputs.redundancyType"),
        ({"serviceCidr": "172.30.0.0/16"}, "(alicloud:cs/managedKubernetes:ManagedKubernetes)", "inputs.serviceCidr"),
    ],
    ids=["bucketRedundancy", "serviceCidr"],
)
def test_plan_diff_refuses_a_change_that_replaces_a_protected_resource(tmp_path, capsys, overrides, resource, field):
    for side, extra in (("base", {}), ("head", overrides)):
        config = with_overrides(load_stack_config("us-east"), extra)
        synthesis = settled_ok(shared_synthesize("us-east", config.values, config.secret_keys))
        (tmp_path / side).mkdir()
        (tmp_path / side / "us-east.json").write_text(plan_json(plan_document(config, synthesis)), encoding="utf-8")
    assert plan_diff.main([str(tmp_path / "base"), str(tmp_path / "head")]) == 1
    shown = capsys.readouterr().out
    (risk,) = [line for line in shown.splitlines() if "would be replaced" in line]
    token = resource.strip("()")
    line = provider_rules.force_new_field(token, field)["line"]
    assert resource in risk and f"{field} changes" in risk
    file = provider_rules.resource_rules(token)["file"]
    assert f"ForceNew in terraform-provider-alicloud v1.289.0 {file}:{line}" in risk


def test_force_new_is_read_through_blocks_and_json_documents():
    assert provider_rules.forces_replacement("alicloud:oss/bucket:Bucket", "inputs.redundancyType")
    assert provider_rules.forces_replacement("alicloud:cs/nodePool:NodePool", "inputs.teeConfig.teeEnable")
    assert provider_rules.forces_replacement("alicloud:vpc/switch:Switch", "inputs.cidrBlock")
    assert not provider_rules.forces_replacement("alicloud:oss/bucket:Bucket", "inputs.versioning.status")
    assert not provider_rules.forces_replacement("alicloud:pai/service:Service", "inputs.serviceConfig.metadata.name")


# --- the generator ----------------------------------------------------------------------------------------------


def test_the_go_reader_uses_only_the_standard_library():
    go_mod = (PROJECT_ROOT / "tools" / "tfschema" / "go.mod").read_text(encoding="utf-8")
    assert "require" not in go_mod and not (PROJECT_ROOT / "tools" / "tfschema" / "go.sum").exists()


@pytest.mark.slow
def test_the_generator_reproduces_the_committed_file_byte_for_byte(capsys):
    """Runs where the fetched provider source and Go are present; says plainly that it skipped elsewhere."""
    if not (PROVIDER_SOURCE / "HEAD").exists():
        pytest.skip(f"SKIPPED: no terraform-provider-alicloud source at {PROVIDER_SOURCE} (set BEACON_PROVIDER_SOURCE)")
    if shutil.which("go") is None:
        pytest.skip("SKIPPED: no Go toolchain to build tools/tfschema (apt-get install golang-go)")
    provider = provider_rules.rules()["provider"]
    survey = sorted(set(provider["survey"]) - {provider["version"]})
    # The generator's own main, in this process: its imports (the SDK, the policy pack) are already loaded here.
    spec = importlib.util.spec_from_file_location("alicloud_rules", PROJECT_ROOT / "tools" / "alicloud_rules.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    args = ["--provider", str(PROVIDER_SOURCE), "--ref", provider["version"], "--survey", *survey, "--check"]
    assert generator.main(args) == 0, capsys.readouterr().out
    assert "up to date" in capsys.readouterr().out
