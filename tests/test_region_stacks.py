"""Every shipped region stack, run as the language host would run it, under fresh mocks."""

from __future__ import annotations

import ipaddress
import json

import pytest

from fleet.settings import ConfigError
from fleet.settings.source import load_settings
from offline.engine import is_secret, masked, synthesize
from offline.simulated_cloud import simulated_zone_ids
from offline.stack_files import load_stack_config
from tests.conftest import ALIBABA_STACKS, PROJECT, REGION_STACKS, SHIPPED_STACKS, settled_ok

VPC = "alicloud:vpc/network:Network"
VSWITCH = "alicloud:vpc/switch:Switch"
BUCKET = "alicloud:oss/bucket:Bucket"
BUCKET_ACL = "alicloud:oss/bucketAcl:BucketAcl"
PUBLIC_ACCESS_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"


def node_vswitches(result):
    found = [v for v in result.of_type(VSWITCH) if "-nodes-" in v.name]
    assert found, "no node vSwitches declared"
    return found


@pytest.mark.parametrize("stack", ALIBABA_STACKS)
def test_shipped_stack_declares_a_vpc_with_vswitches_in_two_zones(synth, stack):
    result = settled_ok(synth(stack))
    vpc = result.one(VPC)
    vswitches = node_vswitches(result)
    assert len(vswitches) >= 2
    assert len({v.inputs["zoneId"] for v in vswitches}) == len(vswitches) >= 2
    network = ipaddress.ip_network(vpc.inputs["cidrBlock"])
    cidrs = [ipaddress.ip_network(v.inputs["cidrBlock"]) for v in vswitches]
    assert all(c.subnet_of(network) for c in cidrs)
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])
    assert {v.inputs["vpcId"] for v in vswitches} == {f"sim-{vpc.name}"}


@pytest.mark.parametrize("stack", ALIBABA_STACKS)
def test_shipped_stack_declares_a_protected_encrypted_versioned_private_bucket(synth, stack):
    result = settled_ok(synth(stack))
    bucket = result.one(BUCKET)
    assert bucket.protect is True
    assert bucket.inputs["serverSideEncryptionRule"]["sseAlgorithm"] in ("AES256", "KMS")
    assert bucket.inputs["versioning"] == {"status": "Enabled"}
    assert bucket.inputs["forceDestroy"] is False
    assert bucket.inputs["lifecycleRules"] == [
        {
            "id": "abort-incomplete-multipart-uploads",
            "enabled": True,
            "prefix": "",
            "abortMultipartUploads": [{"days": 7}],
        }
    ]
    name = bucket.inputs["bucket"]
    assert result.one(BUCKET_ACL).inputs == {"bucket": name, "acl": "private"}
    assert result.one(PUBLIC_ACCESS_BLOCK).inputs == {"bucket": name, "blockPublicAccess": True}


# The components each serving platform and counterpart declares; every Alibaba platform shares the first set.
ALIBABA_COMPONENTS = {
    "beacon-fleet:network:RegionNetwork",
    "beacon-fleet:storage:ModelBucket",
    "beacon-fleet:storage:ModelWeights",
    "beacon-fleet:registry:ServingRegistry",
    "beacon-fleet:registry:ServingImage",
    "beacon-fleet:iam:ModelReadAccess",
}
PLATFORM_COMPONENTS = {
    "ack": {
        "beacon-fleet:kubernetes:AckCluster",
        "beacon-fleet:kubernetes:CgpuNodePool",
        "beacon-fleet:kubernetes:InferenceRelease",
    },
    "eas": {"beacon-fleet:serving:EasModelService"},
    "fc": {"beacon-fleet:serving:FcModelFunction"},
}
COUNTERPART_COMPONENTS = {
    "runpod": {"beacon-fleet:counterpart:RunpodCounterpart"},
    "modal": {"beacon-fleet:counterpart:ModalCounterpart"},
    "none": set(),
}


def expected_components(stack: str) -> set[str]:
    """What a shipped region stack declares, from what its file says it serves."""
    values = load_stack_config(stack).values
    platforms = json.loads(values[f"{PROJECT}:servingPlatforms"])
    # Every region stack declares its cost view beside its budget (components/cost_budget.py).
    expected = {"beacon-fleet:cost:Budget", *COUNTERPART_COMPONENTS[values[f"{PROJECT}:counterpartProvider"]]}
    for platform in platforms:
        expected |= ALIBABA_COMPONENTS | PLATFORM_COMPONENTS[platform]
    return expected


def test_the_expected_components_follow_the_stack_files_for_the_shipped_regions():
    # The shipped stacks all serve on ACK and EAS beside a counterpart: Modal in us-east, RunPod elsewhere.
    assert expected_components("us-east") == ALIBABA_COMPONENTS | PLATFORM_COMPONENTS["ack"] | PLATFORM_COMPONENTS[
        "eas"
    ] | {"beacon-fleet:counterpart:ModalCounterpart", "beacon-fleet:cost:Budget"}
    assert "beacon-fleet:counterpart:RunpodCounterpart" in expected_components("cn-beijing")


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_every_resource_lives_under_a_component_of_the_project(synth, stack):
    result = settled_ok(synth(stack))
    by_urn = result.by_urn()
    components = [r for r in result.resources if not r.custom]
    assert {c.type for c in components} == expected_components(stack)
    for resource in result.resources:
        if resource.custom:
            parent = by_urn.get(resource.parent_urn)
            assert parent is not None and not parent.custom, f"{resource.name} is not parented to a component"


@pytest.mark.parametrize("stack", ALIBABA_STACKS)
def test_every_taggable_resource_carries_the_fleet_tags(synth, stack):
    result = settled_ok(synth(stack))
    tagged = [r for r in result.resources if r.type in (VPC, VSWITCH, BUCKET)]
    assert len(tagged) >= 4
    for resource in tagged:
        tags = resource.inputs["tags"]
        assert tags["project"] == "beacon-fleet" and tags["stack"] == stack and tags["owner"] == "project-beacon"


def test_cn_beijing_exports_mainland_residency(synth):
    outputs = settled_ok(synth("cn-beijing")).outputs
    assert outputs["residency"] == {
        "jurisdiction": "cn-mainland",
        "mainland": True,
        "residencyBound": True,
        "allowCrossBorderFailover": False,
        "icpLicence": "",
    }
    assert outputs["routerRegion"] == "asia-east"


def test_zones_are_looked_up_for_the_gpu_type_unless_listed(synth):
    looked_up = settled_ok(synth("us-east"))
    assert "alicloud:index/getZones:getZones" in looked_up.invokes
    assert sorted(v.inputs["zoneId"] for v in node_vswitches(looked_up)) == simulated_zone_ids("us-east-1")[:2]

    listed = settled_ok(synth("us-east", overrides={"zones": ["us-east-1a", "us-east-1b"]}))
    assert "alicloud:index/getZones:getZones" not in listed.invokes
    assert sorted(v.inputs["zoneId"] for v in node_vswitches(listed)) == ["us-east-1a", "us-east-1b"]


def test_too_few_zones_for_the_gpu_type_is_a_clear_error_before_any_resource(synth):
    result = synth("us-east", overrides={"zoneCount": 4})
    assert not result.ok
    assert result.error.startswith("beacon-fleet:zoneCount: us-east-1 has 3 zone(s) offering ecs.gn7i-c8g1.2xlarge")
    assert result.resources == []


def test_several_mistakes_give_one_error_and_declare_nothing(stack_file):
    config = stack_file(
        "typos",
        {
            "alicloud:region": "cn-beijing",
            "beacon-fleet:routerRegion": "asia-east",
            "beacon-fleet:residencyBound": True,
            "beacon-fleet:modles": ["llama3.2-1b"],
            "beacon-fleet:zoneCount": "two",
            "beacon-fleet:models": ["llama3.2-1b", "gpt-5"],
        },
    )
    result = synthesize(config.stack, config.values, config.secret_keys)
    assert not result.ok
    assert result.error.startswith("stack 'typos' has 3 configuration problems; nothing was declared.")
    assert "beacon-fleet:modles: unknown key" in result.error
    assert "beacon-fleet:zoneCount: expected integer" in result.error
    assert "beacon-fleet:models[1]: unknown model 'gpt-5'" in result.error
    assert "Traceback" not in result.error
    assert result.resources == []


def test_a_region_no_file_ships_synthesizes_from_one_new_stack_file(stack_file, synth):
    # The README's example name, unless a shipped stack already has it (a user who added it as the README says).
    name = next(n for n in ("eu-central", "eu-central-new", "eu-central-example") if n not in SHIPPED_STACKS)
    config = stack_file(
        name,
        {
            "alicloud:region": "eu-central-1",
            "beacon-fleet:routerRegion": "eu-central",
            "beacon-fleet:vpcCidr": "10.40.0.0/16",
        },
    )
    result = settled_ok(synthesize(config.stack, config.values, config.secret_keys))
    assert result.outputs["residency"]["jurisdiction"] == "de"
    assert result.one(VPC).inputs["vpcName"] == f"beacon-{name}-vpc"

    cloud_names = {result.one(BUCKET).inputs["bucket"], result.one(VPC).inputs["vpcName"]}
    for stack in ALIBABA_STACKS:
        shipped = settled_ok(synth(stack))
        for name in (shipped.one(BUCKET).inputs["bucket"], shipped.one(VPC).inputs["vpcName"]):
            assert name not in cloud_names, f"{name} collides"
            cloud_names.add(name)


def run_probe_program(tmp_path, source: str):
    """Synthesize a throw-away program: for checks on the harness itself rather than on the fleet."""
    (tmp_path / "__main__.py").write_text(source)
    return synthesize("probe", {"alicloud:region": "cn-beijing"}, program_dir=str(tmp_path))


def test_secret_inputs_stay_marked_on_the_wire(tmp_path):
    """The harness itself: a secret passed to a resource is seen as a secret, not as its value."""
    result = run_probe_program(
        tmp_path,
        "import pulumi, pulumi_alicloud as alicloud\n"
        "alicloud.vpc.Network('n', description=pulumi.Output.secret('hush'))\n"
        "pulumi.export('leak', pulumi.Output.secret('hush'))\n",
    )
    settled_ok(result)
    assert is_secret(result.one(VPC).inputs["description"])
    assert is_secret(result.outputs["leak"])
    assert "hush" not in str(masked(result.outputs)) and "hush" not in str(masked(result.one(VPC).inputs))


def test_a_failure_inside_an_apply_fails_the_run(tmp_path):
    """The harness awaits every Output: an error no one exports still fails, so tests cannot pass vacuously."""
    result = run_probe_program(
        tmp_path,
        "import pulumi, pulumi_alicloud as alicloud\n"
        "n = alicloud.vpc.Network('n', cidr_block='10.0.0.0/16')\n"
        "n.id.apply(lambda _: 1 / 0)\n",
    )
    assert not result.ok and "ZeroDivisionError" in result.error


def test_a_kms_key_switches_the_bucket_to_kms_encryption(synth):
    result = settled_ok(synth("ap-southeast", overrides={"bucketKmsKeyId": "key-sg-1234"}))
    assert result.one(BUCKET).inputs["serverSideEncryptionRule"] == {
        "sseAlgorithm": "KMS",
        "kmsMasterKeyId": "key-sg-1234",
    }


def test_importing_the_program_modules_declares_nothing(tmp_path):
    """Only __main__.py declares; the modules it imports are inert, so tests and tools can import them."""
    result = run_probe_program(
        tmp_path,
        "import importlib, pkgutil, sys\n"
        "for name in [m for m in sys.modules if m.split('.')[0] in ('components', 'fleet', 'stacks')]:\n"
        "    del sys.modules[name]  # import them afresh, as a new process would\n"
        "import components, fleet, stacks\n"
        "for package in (components, fleet, stacks):\n"
        "    for module in pkgutil.walk_packages(package.__path__, f'{package.__name__}.'):\n"
        "        importlib.import_module(module.name)\n",
    )
    assert result.ok, result.error
    assert result.resources == [] and result.invokes == []


def test_config_handed_over_in_the_environment_is_read_as_the_cli_passes_it(monkeypatch):
    """The language host may pass config as PULUMI_CONFIG; a plain key marked secret there is still refused."""
    config = {"alicloud:region": "us-east-1", "beacon-fleet:routerRegion": "us-east", "beacon-fleet:owner": "ops"}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    assert load_settings().owner == "ops"
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["beacon-fleet:owner"]))
    with pytest.raises(ConfigError, match="beacon-fleet:owner: is stored as a secret but is plain configuration"):
        load_settings()
