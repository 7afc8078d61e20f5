"""Typed settings: every rule, its message naming the key and the fix, and all problems reported at once."""

from __future__ import annotations

import json
import shutil

import pytest

from fleet import weights_manifest as manifest
from fleet.config_schema import encode_config_value, load_project_schema
from fleet.settings import ConfigError, parse_settings
from offline.stack_files import load_stack_config
from weights import manifest as manifest_command

SCHEMA = load_project_schema()


def raw_for(stack: str = "cn-beijing", **overrides) -> dict[str, str]:
    raw = dict(load_stack_config(stack).values)
    for key, value in overrides.items():
        full_key = key if ":" in key else f"beacon-fleet:{key}"
        if value is None:
            raw.pop(full_key, None)
        else:
            raw[full_key] = encode_config_value(value)
    return raw


def problems(stack: str = "cn-beijing", secret_keys: frozenset[str] = frozenset(), **overrides) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(SCHEMA, stack, raw_for(stack, **overrides), secret_keys)
    return caught.value.problems


def test_shipped_cn_beijing_settings_are_typed_and_mainland():
    settings = parse_settings(SCHEMA, "cn-beijing", raw_for())
    assert settings.region == "cn-beijing"
    assert settings.residency.jurisdiction == "cn-mainland"
    assert settings.residency.mainland and settings.residency.residency_bound
    assert not settings.residency.allow_cross_border_failover
    # The models in the order the stack file (or Pulumi.yaml's default) lists them, with their default dtype.
    listed = json.loads(raw_for()["beacon-fleet:models"])
    assert [m.id for m in settings.models] == [str(m).split(":", 1)[0] for m in listed]
    assert all(m.dtype == "fp16" for m, entry in zip(settings.models, listed, strict=True) if ":" not in entry)
    assert settings.gpu.family.gpu == "A10" and settings.gpu.family.memory_gib == 24
    assert settings.network.node_vswitch_cidrs == ("10.10.0.0/20", "10.10.16.0/20")
    assert settings.tags["owner"] == "project-beacon" and settings.tags["stack"] == "cn-beijing"


def test_defaults_come_from_pulumi_yaml_when_the_stack_is_silent():
    raw = {"alicloud:region": "us-east-1", "beacon-fleet:routerRegion": "us-east"}
    settings = parse_settings(SCHEMA, "bare", raw)
    assert settings.max_context_tokens == SCHEMA.keys["maxContextTokens"].default
    assert settings.network.vpc_cidr == SCHEMA.keys["vpcCidr"].default
    assert settings.serving_platforms == tuple(SCHEMA.keys["servingPlatforms"].default)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"modles": ["llama3.2-1b"]}, "beacon-fleet:modles: unknown key; did you mean beacon-fleet:models?"),
        ({"zoneCount": "two"}, "beacon-fleet:zoneCount: expected integer, got 'two'"),
        ({"residencyBound": "yes"}, "beacon-fleet:residencyBound: expected boolean, got 'yes'; set true or false"),
        ({"models": "llama3.2-1b"}, "beacon-fleet:models: expected array<string>"),
        ({"models": ["gpt-5"]}, "beacon-fleet:models[0]: unknown model 'gpt-5'"),
        ({"models": ["mistral-7b:int3"]}, "beacon-fleet:models[0]: unknown dtype 'int3' for mistral-7b"),
        ({"models": ["mistral-7b", "mistral-7b:fp8"]}, "beacon-fleet:models[1]: mistral-7b is listed twice"),
        ({"models": []}, "beacon-fleet:models: serves no model"),
        ({"routerRegion": None}, "beacon-fleet:routerRegion: required in a region stack"),
        ({"alicloud:region": None}, "alicloud:region: not set"),
        ({"alicloud:region": "Beijing"}, "alicloud:region: 'Beijing' is not an Alibaba Cloud region id"),
        ({"residencyBound": False}, "beacon-fleet:residencyBound: personal data must stay in mainland China"),
        ({"jurisdiction": "sg"}, "beacon-fleet:jurisdiction: cn-beijing is in mainland China"),
        ({"vpcCidr": "10.10.0.1/16"}, "beacon-fleet:vpcCidr: '10.10.0.1/16' is not an IPv4 CIDR"),
        ({"vpcCidr": "8.8.0.0/16"}, "beacon-fleet:vpcCidr: 8.8.0.0/16 must be a private (RFC 1918) range"),
        ({"vswitchPrefixLength": 16}, "beacon-fleet:vswitchPrefixLength: must be longer than the VPC's /16"),
        ({"zoneCount": 1}, "beacon-fleet:zoneCount: must be at least 2"),
        ({"zones": ["cn-beijing-h"]}, "beacon-fleet:zones: list at least two zones"),
        (
            {"zones": ["cn-beijing-h", "cn-shanghai-a"]},
            "beacon-fleet:zones[1]: 'cn-shanghai-a' is not a zone of cn-beijing",
        ),
        ({"gpuInstanceTypes": ["ecs.g7.large"]}, "beacon-fleet:gpuInstanceTypes[0]: 'ecs.g7.large' is not an ECS GPU"),
        (
            {"gpuInstanceTypes": ["ecs.gn7i-c8g1.2xlarge", "ecs.gn6i-c4g1.xlarge"]},
            "beacon-fleet:gpuInstanceTypes: mixes GPU",
        ),
        ({"minReplicasPerModel": 3}, "beacon-fleet:minReplicasPerModel: 3 is more than maxReplicasPerModel (1)"),
        ({"maxReplicasPerModel": 0}, "beacon-fleet:maxReplicasPerModel: must be at least 1"),
        ({"servingPlatforms": ["eas", "gke"]}, "beacon-fleet:servingPlatforms[1]: unknown platform 'gke'"),
        ({"maxContextTokens": 65536}, "beacon-fleet:maxContextTokens: 65536 exceeds qwen2.5-1.5b's maximum context"),
        ({"bucketRedundancy": "GRS"}, "beacon-fleet:bucketRedundancy: 'GRS' must be LRS or ZRS"),
        ({"incompleteUploadExpiryDays": 0}, "beacon-fleet:incompleteUploadExpiryDays: must be between 1 and 365"),
        ({"namePrefix": "Beacon_"}, "beacon-fleet:namePrefix: 'Beacon_' must start with a letter"),
        ({"customModels": ["id=phi;hfRepo=x/y"]}, "beacon-fleet:customModels[0]: missing field 'paramsB'"),
        ({"customModels": ["id=phi;color=red"]}, "beacon-fleet:customModels[0]: unknown field 'color'"),
    ],
)
def test_each_rule_names_its_key_and_the_fix(overrides, expected):
    found = problems(**overrides)
    assert any(p.startswith(expected) for p in found), found


def test_an_icp_licence_that_is_not_an_icp_number_is_refused():
    found = problems("cn-beijing", icpLicence="pending")
    assert found == [
        "beacon-fleet:icpLicence: 'pending' is not an ICP number; write it as on the filing, e.g. 京ICP备12345678号"
    ]
    licensed = parse_settings(SCHEMA, "cn-beijing", raw_for(icpLicence="京ICP备12345678号-1"))
    assert licensed.tags["icp-licence"] == "京ICP备12345678号-1"  # the policy pack looks for it on public endpoints


def test_icp_licence_outside_the_mainland_is_refused():
    found = problems("ap-southeast", icpLicence="京ICP备12345678号")
    assert found == [
        "beacon-fleet:icpLicence: an ICP licence only applies in mainland China, not ap-southeast-1; remove it"
    ]


def test_a_region_beacon_fleet_does_not_know_must_state_its_jurisdiction():
    found = problems("us-east", **{"alicloud:region": "eu-north-9"})
    assert found == [
        "beacon-fleet:jurisdiction: beacon-fleet does not know where eu-north-9 is; set it,"
        " e.g. `pulumi config set jurisdiction de`"
    ]
    settings = parse_settings(
        SCHEMA, "us-east", raw_for("us-east", **{"alicloud:region": "eu-north-9", "jurisdiction": "se"})
    )
    assert settings.residency.jurisdiction == "se"


def test_a_jurisdiction_that_contradicts_a_known_region_is_refused():
    assert problems("us-east", jurisdiction="sg") == [
        "beacon-fleet:jurisdiction: us-east-1 is in 'us', not 'sg'; remove the key or correct it"
    ]


def test_plain_key_stored_as_secret_is_refused_rather_than_read_in_clear():
    found = problems(secret_keys=frozenset({"beacon-fleet:icpLicence"}), icpLicence="京ICP备12345678号")
    assert found == [
        "beacon-fleet:icpLicence: is stored as a secret but is plain configuration;"
        " run `pulumi config set icpLicence <value>`"
    ]


def test_several_mistakes_are_reported_together_in_one_error():
    with pytest.raises(ConfigError) as caught:
        parse_settings(SCHEMA, "cn-beijing", raw_for(modles=["x"], zoneCount="two", models=["llama3.2-1b", "gpt-5"]))
    error = caught.value
    assert len(error.problems) == 3
    message = str(error)
    assert message.startswith("stack 'cn-beijing' has 3 configuration problems; nothing was declared.")
    for key in ("beacon-fleet:modles", "beacon-fleet:zoneCount", "beacon-fleet:models[1]"):
        assert key in message


@pytest.fixture
def manifests(tmp_path, monkeypatch):
    """A manifests folder holding the committed ones; `add(id, repo, revision)` commits one for a custom model."""
    for path in manifest.MANIFEST_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setenv(manifest.MANIFEST_DIR_ENV, str(tmp_path))

    def add(model_id: str, repo: str, revision: str) -> None:
        args = [model_id, "--hf-repo", repo, "--revision", revision, "--file", "model.safetensors"]
        assert manifest_command.main(args) == 0

    return add


def test_a_served_custom_model_without_a_weights_manifest_is_refused_with_the_command_to_write_it(manifests):
    phi = (
        "id=phi-3-mini;hfRepo=microsoft/Phi-3-mini-4k-instruct;paramsB=3.82;layers=32;hiddenSize=3072;"
        f"attentionHeads=32;kvHeads=32;headDim=96;maxContext=4096;vocab=32064;revision={'b' * 40}"
    )
    found = problems("us-east", customModels=[phi], models=["phi-3-mini:fp8"])
    assert found == [
        "beacon-fleet:models[0]: phi-3-mini has no weights manifest (phi-3-mini.json in weights/manifests); write one"
        " with `python -m weights.manifest phi-3-mini --hf-repo microsoft/Phi-3-mini-4k-instruct"
        f" --revision {'b' * 40} --file <each weight file>` and commit it"
    ]
    manifests("phi-3-mini", "microsoft/Phi-3-mini-4k-instruct", "b" * 40)
    served = parse_settings(SCHEMA, "us-east", raw_for("us-east", customModels=[phi], models=["phi-3-mini:fp8"]))
    assert [m.id for m in served.models] == ["phi-3-mini"]


def test_custom_models_join_the_catalog_and_can_be_served(manifests):
    phi = (
        "id=phi-3-mini;hfRepo=microsoft/Phi-3-mini-4k-instruct;paramsB=3.82;layers=32;hiddenSize=3072;"
        "attentionHeads=32;kvHeads=32;headDim=96;maxContext=4096;vocab=32064;"
        f"revision={'b' * 40}"  # a stand-in commit id: the shape is what the settings check
    )
    manifests("phi-3-mini", "microsoft/Phi-3-mini-4k-instruct", "b" * 40)
    settings = parse_settings(SCHEMA, "us-east", raw_for("us-east", customModels=[phi], models=["phi-3-mini:fp8"]))
    (served,) = settings.models
    assert served.id == "phi-3-mini" and served.dtype == "fp8"
    assert served.spec.params_b == 3.82 and served.spec.head_dim == 96
    assert served.spec.revision == "b" * 40 and served.spec.ms_repo == ""


def test_a_custom_model_pinned_to_a_branch_is_refused():
    text = (
        "id=phi;hfRepo=x/y;paramsB=1;layers=2;hiddenSize=8;attentionHeads=4;kvHeads=2;headDim=2;maxContext=8192;"
        "vocab=9;revision=main;msRepo=x/y"
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(SCHEMA, "us-east", raw_for("us-east", customModels=[text]))
    message = str(caught.value)
    assert "customModels[0]: revision must be the 40-character commit id of x/y" in message
    assert "customModels[0]: msRepo and msRevision go together" in message


def test_a_mainland_region_refuses_a_model_without_a_modelscope_source(manifests):
    text = (
        "id=phi;hfRepo=x/y;paramsB=1;layers=2;hiddenSize=8;attentionHeads=4;kvHeads=2;headDim=2;maxContext=8192;"
        f"vocab=9;revision={'d' * 40}"
    )
    manifests("phi", "x/y", "d" * 40)
    found = problems("cn-beijing", customModels=[text], models=["llama3.2-1b", "phi"])
    assert any(p.startswith("beacon-fleet:models[1]: phi has no ModelScope source") for p in found), found
    settings = parse_settings(SCHEMA, "us-east", raw_for("us-east", customModels=[text], models=["llama3.2-1b", "phi"]))
    assert [m.id for m in settings.models] == ["llama3.2-1b", "phi"]  # Hugging Face is enough outside the mainland


def test_explicit_zones_are_used_and_get_one_vswitch_cidr_each():
    settings = parse_settings(SCHEMA, "cn-beijing", raw_for(zones=["cn-beijing-h", "cn-beijing-i", "cn-beijing-k"]))
    assert settings.network.zones == ("cn-beijing-h", "cn-beijing-i", "cn-beijing-k")
    assert settings.network.node_vswitch_cidrs == ("10.10.0.0/20", "10.10.16.0/20", "10.10.32.0/20")


def test_pulumi_yaml_declares_only_keys_the_cli_accepts_in_every_stack():
    """The CLI stops a stack that lacks a declared key without a default ("missing configuration value"),
    and since 3.202 refuses a secret key with a default (pulumi/pulumi#21865); so every key Pulumi.yaml
    declares has a default and none is secret. Secrets are declared in fleet/config_schema.py."""
    import yaml

    from fleet.config_schema import PROJECT_FILE, SECRET_KEYS

    declared = yaml.safe_load(PROJECT_FILE.read_text(encoding="utf-8"))["config"]
    project_keys = {name: d for name, d in declared.items() if ":" not in name}
    assert [name for name, d in project_keys.items() if "default" not in d] == []
    assert [name for name, d in project_keys.items() if d.get("secret")] == []
    assert set(SECRET_KEYS).isdisjoint(project_keys)
    assert all(SCHEMA.keys[name].secret for name in SECRET_KEYS)


def _custom(extra: str) -> str:
    return (
        "id=tiny;hfRepo=org/tiny;paramsB=1;layers=2;hiddenSize=8;attentionHeads=4;kvHeads=2;headDim=2;"
        f"maxContext=8192;vocab=9;revision={'c' * 40};{extra}"
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("msRepo=org/tiny;msRevision=../../../tmp", "msRevision must be a branch, tag or commit id"),
        ("msRepo=org/tiny?Revision=other;msRevision=master", "msRepo must be owner/name"),
        ("msRepo=org/tiny;msRevision=master?x=1", "msRevision must be a branch, tag or commit id"),
        ("msRepo=org/../tiny;msRevision=master", "msRepo must be owner/name"),
        ("msRepo=org/tiny#x;msRevision=master", "msRepo must be owner/name"),
        ("msRepo=org/tiny;msRevision=refs/heads/master", "msRevision must be a branch, tag or commit id"),
        ("msRepo=org/tiny;msRevision=mas\u202eter", "msRevision must be a branch, tag or commit id"),
    ],
)
def test_a_modelscope_name_that_would_change_a_url_or_a_path_is_one_clear_config_error(extra, expected):
    found = problems("cn-beijing", customModels=[_custom(extra)], models=["tiny"])
    assert any(p.startswith("beacon-fleet:customModels[0]: ") and expected in p for p in found), found


def test_a_hugging_face_repo_with_a_query_is_refused():
    found = problems("us-east", customModels=[_custom("").replace("org/tiny", "org/tiny?revision=main")])
    assert any("customModels[0]: hfRepo must be a Hugging Face repository" in p for p in found), found


def test_a_malformed_committed_manifest_is_a_config_error_naming_the_file_and_field(tmp_path, monkeypatch):
    shutil.copytree(manifest.MANIFEST_DIR, tmp_path, dirs_exist_ok=True)
    monkeypatch.setenv(manifest.MANIFEST_DIR_ENV, str(tmp_path))
    bad = tmp_path / "qwen2.5-1.5b.json"
    bad.write_text(bad.read_text().replace('"size": 3087467144', '"size": true'))
    found = problems("us-east")
    assert any(
        "models[1]: qwen2.5-1.5b's weights manifest weights/manifests/qwen2.5-1.5b.json:" in p and ".size:" in p
        for p in found
    ), found
    bad.write_text('{"schema": "beacon-weights-manifest/v1", "files": 5}')
    assert any("qwen2.5-1.5b.json: " in p and "files: must be a list" in p for p in problems("us-east"))


@pytest.mark.parametrize(
    ("models", "bad"),
    [
        (["llama3.2-1b", "qwen2.5-1.5b", "mistral-7b:awq"], "mistral-7b:awq"),  # the example
        (["llama3.2-1b:gptq"], "llama3.2-1b:gptq"),
        (["qwen2.5-1.5b:int8"], "qwen2.5-1.5b:int8"),
    ],
)
def test_a_quantization_over_full_precision_files_is_refused_until_its_own_checkpoint_is_pinned(models, bad):
    found = problems("us-east", models=models)
    (problem,) = [p for p in found if bad in p]
    assert "are a checkpoint of their own and none is pinned" in problem
    assert "quantization=" in problem and ":fp8" in problem  # the two ways forward


AWQ_CHECKPOINT = (
    "id=mistral-7b-awq;hfRepo=org/Mistral-7B-Instruct-v0.3-AWQ;paramsB=7.25;layers=32;hiddenSize=4096;"
    f"attentionHeads=32;kvHeads=8;headDim=128;maxContext=32768;vocab=32768;revision={'d' * 40};quantization=awq"
)


def test_a_quantized_checkpoint_of_its_own_is_served_with_its_quantization(manifests):
    manifests("mistral-7b-awq", "org/Mistral-7B-Instruct-v0.3-AWQ", "d" * 40)
    for ref in ("mistral-7b-awq", "mistral-7b-awq:awq"):
        settings = parse_settings(SCHEMA, "us-east", raw_for("us-east", customModels=[AWQ_CHECKPOINT], models=[ref]))
        (served,) = settings.models
        assert (served.id, served.dtype, served.spec.quantization) == ("mistral-7b-awq", "awq", "awq")
    found = problems("us-east", customModels=[AWQ_CHECKPOINT], models=["mistral-7b-awq:fp16"])
    assert found == [
        "beacon-fleet:models[0]: mistral-7b-awq is a checkpoint quantized with awq; serve it as mistral-7b-awq (or"
        " mistral-7b-awq:awq), not as fp16"
    ]


def test_a_custom_model_with_an_unknown_quantization_is_refused():
    found = problems("us-east", customModels=[AWQ_CHECKPOINT.replace("quantization=awq", "quantization=fp8")])
    assert any("customModels[0]: quantization must be one of awq, gptq, int8" in p for p in found), found


def test_another_quantization_is_other_weights_to_the_routers_same_weights_check():
    from fleet import router_weights
    from stacks.region_exports import weights_served

    full = weights_served(parse_settings(SCHEMA, "us-east", raw_for("us-east")))
    fp8 = weights_served(parse_settings(SCHEMA, "us-east", raw_for("us-east", models=["mistral-7b:fp8"])))
    assert fp8["mistral-7b"]["digest"] != full["mistral-7b"]["digest"]
    assert fp8["mistral-7b"]["revision"] == full["mistral-7b"]["revision"]
    assert fp8["mistral-7b"]["digest"].startswith("provisional-sha256:")  # the router schema's form, still provisional
    config = {
        "providers": {
            "us-east-eas": {"models": ["mistral-7b"], "weights": full["mistral-7b"]},
            "ap-southeast-eas": {"models": ["mistral-7b"], "weights": fp8["mistral-7b"]},
        }
    }
    (problem,) = router_weights.weights_problems(config)
    assert problem.startswith("model mistral-7b is served with different weights")
