"""The Alibaba serving plane each region stack declares: ACK Pro and its cGPU pool, ACR and the image, EAS, RAM."""

from __future__ import annotations

import json

import pulumi
import pytest

from fleet.config_schema import load_project_schema
from fleet.settings import ConfigError, parse_settings
from offline.engine import Secret, is_secret, masked
from offline.stack_files import load_stack_config
from providers.eas_token import EasServiceToken
from tests.conftest import ALIBABA_STACKS, served_models, settled_ok, stacks_on

CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes"
NODE_POOL = "alicloud:cs/nodePool:NodePool"
ADDON = "alicloud:cs/kubernetesAddon:KubernetesAddon"
K8S_PROVIDER = "pulumi:providers:kubernetes"
NAMESPACE = "kubernetes:core/v1:Namespace"
API_ACL = "alicloud:slb/acl:Acl"
EE_INSTANCE = "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance"
EE_NAMESPACE = "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace"
EE_REPO = "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo"
VPC_LINK = "alicloud:cr/vpcEndpointLinkedVpc:VpcEndpointLinkedVpc"
INTERNET_ENDPOINT = "alicloud:cr/internetEndpoint:InternetEndpoint"
PERSONAL_REPO = "alicloud:cr/repo:Repo"
IMAGE = "docker:index/image:Image"
EAS = "alicloud:pai/service:Service"
TOKEN_READER = "pulumi-python:dynamic/eas:ServiceToken"
POLICY = "alicloud:ram/policy:Policy"
ROLE = "alicloud:ram/role:Role"
ATTACHMENT = "alicloud:ram/rolePolicyAttachment:RolePolicyAttachment"
DEPLOYER = "198.51.100.0/24"


def gpu_pool(result):
    (pool,) = [p for p in result.of_type(NODE_POOL) if p.inputs["nodePoolName"] == "gpu-shared"]
    return pool


def labels(pool) -> dict[str, str]:
    return {label["key"]: label["value"] for label in pool.inputs["labels"]}


def eas_documents(result) -> dict[str, dict]:
    """Each EAS service's JSON: plain data, since it holds no credential (EAS generates the token)."""
    documents = {}
    for service in result.of_type(EAS):
        document = json.loads(service.inputs["serviceConfig"])
        documents[document["containers"][0]["env"][1]["value"]] = document
    assert documents, "no EAS service declared"
    return documents


# --- ACK Pro ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", stacks_on("ack"))
def test_the_cluster_is_ack_pro_with_deletion_protection_rrsa_terway_and_logs(synth, stack):
    result = settled_ok(synth(stack))
    cluster = result.one(CLUSTER)
    inputs = cluster.inputs
    assert cluster.protect is True
    assert inputs["clusterSpec"] == "ack.pro.small"
    assert inputs["version"] == "1.36.1-aliyun.1"
    assert inputs["deletionProtection"] is True and inputs["enableRrsa"] is True
    # Terway enforces NetworkPolicy only if asked at creation; the chart's policy depends on it.
    assert {"name": "terway-eniip", "config": '{"IPVlan":"false","NetworkPolicy":"true"}'} in inputs["addons"]
    assert len(inputs["podVswitchIds"]) == len(inputs["vswitchIds"]) == 2
    assert set(inputs["podVswitchIds"]).isdisjoint(inputs["vswitchIds"])
    assert {"apiserver", "kcm", "scheduler", "ccm"} <= set(inputs["controlPlaneLogComponents"])
    assert inputs["auditLogConfig"] == {"enabled": True}


def test_without_deployer_cidrs_the_api_server_has_no_public_endpoint(synth):
    result = settled_ok(synth("us-east"))
    assert result.one(CLUSTER).inputs["slbInternetEnabled"] is False
    assert result.of_type(API_ACL) == [] and result.of_type(INTERNET_ENDPOINT) == []
    assert result.outputs["kubernetes"]["apiServerPublic"] is False


def test_deployer_cidrs_open_the_api_server_and_registry_to_those_cidrs_only(synth):
    result = settled_ok(synth("us-east", overrides={"deployerCidrs": [DEPLOYER]}))
    assert result.one(CLUSTER).inputs["slbInternetEnabled"] is True
    assert result.one(API_ACL).inputs["entryLists"] == [{"entry": DEPLOYER, "comment": "deployer"}]
    assert result.one(INTERNET_ENDPOINT).inputs["entries"] == [{"entry": DEPLOYER, "comment": "deployer"}]
    command = result.outputs["apiServerAclAttachCommand"]
    assert "--ListenerPort 6443 --AclStatus on --AclType white" in command
    assert "--AclId acl-sim-ack-api-server-acl" in command


def test_the_kubeconfig_is_a_secret_and_feeds_one_kubernetes_provider(synth):
    result = settled_ok(synth("ap-southeast"))
    provider = result.one(K8S_PROVIDER)
    assert is_secret(provider.inputs["kubeconfig"])
    assert "alicloud:cs/getClusterCredential:getClusterCredential" in result.invokes
    namespace = result.one(NAMESPACE)
    assert namespace.inputs["metadata"]["labels"]["pod-identity.alibabacloud.com/injection"] == "on"
    assert "kubeconfig" not in json.dumps(masked(result.outputs))


@pytest.mark.parametrize("stack", stacks_on("ack"))
def test_shared_gpu_scheduling_pod_identity_and_pull_credentials_are_installed_as_addons(synth, stack):
    result = settled_ok(synth(stack))
    assert sorted(a.inputs["name"] for a in result.of_type(ADDON)) == [
        "ack-ai-installer",
        "ack-keda",  # at minReplicasPerModel 0: KEDA, under the HTTP add-on's interceptor (scale to zero)
        "ack-pod-identity-webhook",
        "managed-aliyun-acr-credential-helper",
    ]


# --- the cGPU pool ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", stacks_on("ack"))
def test_the_gpu_pool_is_labelled_for_isolated_cgpu_binpacked_and_tainted(synth, stack):
    pool = gpu_pool(settled_ok(synth(stack)))
    assert labels(pool)["ack.node.gpu.schedule"] == "cgpu"
    assert labels(pool)["ack.node.gpu.placement"] == "binpack"
    assert pool.inputs["taints"] == [{"key": "beacon-fleet/gpu", "value": "shared", "effect": "NoSchedule"}]
    assert pool.inputs["instanceTypes"] == ["ecs.gn7i-c8g1.2xlarge"]
    assert pool.inputs["systemDiskCategory"] == "cloud_essd" and pool.inputs["systemDiskSize"] >= 120
    assert pool.inputs["spotStrategy"] == "NoSpot"


def test_the_gpu_pool_is_sized_from_the_packing_of_min_and_max_replicas(synth):
    result = settled_ok(synth("cn-beijing", overrides={"minReplicasPerModel": 1, "maxReplicasPerModel": 2}))
    scaling = gpu_pool(result).inputs["scalingConfig"]
    # Three models, one replica each: 19 + 5 GiB on one A10 and 5 GiB on a second; two replicas need three.
    assert result.outputs["gpuPacking"]["gpusNeeded"] == 2
    assert scaling == {"enable": True, "minSize": 2, "maxSize": 3, "type": "gpushare"}
    # The shipped default, sized to Beacon: no replica when idle, one per model at most.
    default = gpu_pool(settled_ok(synth("cn-beijing"))).inputs["scalingConfig"]
    assert (default["minSize"], default["maxSize"]) == (0, 2)


def test_compute_isolation_and_spot_change_the_pool(synth):
    pool = gpu_pool(settled_ok(synth("us-east", overrides={"gpuIsolation": "memory-and-compute", "gpuSpot": True})))
    assert labels(pool)["ack.node.gpu.schedule"] == "core_mem"
    assert pool.inputs["spotStrategy"] == "SpotAsPriceGo"
    assert pool.inputs["compensateWithOnDemand"] is True and pool.inputs["spotInstanceRemedy"] is True


# --- ACR and the image -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ALIBABA_STACKS)
def test_a_private_enterprise_registry_linked_to_the_vpc_holds_the_image(synth, stack):
    result = settled_ok(synth(stack))
    # Stateful: the instance, its namespace and the repository holding every image a region served.
    # (cn-beijing also holds its base image, synced from Docker Hub by artifact subscription.)
    repos = result.of_type(EE_REPO)
    assert result.one(EE_INSTANCE).protect and result.one(EE_NAMESPACE).protect and all(r.protect for r in repos)
    assert result.one(EE_NAMESPACE).inputs["defaultVisibility"] == "PRIVATE"
    (repo,) = [r for r in repos if r.inputs["name"] == "inference-server"]
    assert all(r.inputs["repoType"] == "PRIVATE" for r in repos) and repo.inputs["tagImmutability"] is True
    assert result.one(VPC_LINK).inputs["vpcId"] == "sim-network-vpc"


@pytest.mark.parametrize("stack", ALIBABA_STACKS)
def test_the_image_is_built_from_this_repository_and_pushed_with_secret_credentials(synth, stack):
    result = settled_ok(synth(stack))
    image = result.one(IMAGE)
    build = image.inputs["build"]
    assert build["context"] == "images/inference-server" and build["platform"] == "linux/amd64"
    assert image.inputs["skipPush"] is False and image.inputs["buildOnPreview"] is False
    assert is_secret(image.inputs["registry"])
    # No deployerCidrs: the registry has no internet endpoint, so `up` pushes from inside the VPC.
    domain = result.outputs["registry"]["vpcDomain"]
    assert image.inputs["imageName"].startswith(f"{domain}/{result.outputs['registry']['repository']}:c-")


def test_mainland_builds_use_the_configured_mirrors(synth):
    result = settled_ok(synth("cn-beijing"))
    build = result.one(IMAGE).inputs["build"]
    namespace = result.outputs["registry"]["repository"].split("/")[0]
    assert build["args"] == {
        # The region's own registry, which syncs the Docker Hub image in (artifact subscription).
        "BASE_IMAGE": f"{result.outputs['registry']['vpcDomain']}/{namespace}/base-python:3.12-slim-bookworm",
        "PIP_INDEX_URL": "https://mirrors.aliyun.com/pypi/simple/",
        "APT_MIRROR": "https://mirrors.aliyun.com",
    }
    singapore = settled_ok(synth("ap-southeast")).one(IMAGE).inputs["build"]["args"]
    assert singapore["PIP_INDEX_URL"] == "https://pypi.org/simple"


def test_personal_edition_uses_the_deprecated_resources_and_the_secret_password(synth):
    # On EAS only: ACK could not pull from a Personal Edition instance (no credential helper for it).
    personal = {"registryEdition": "personal", "registryUsername": "beacon-ops", "servingPlatforms": ["eas"]}
    result = settled_ok(synth("us-east", overrides=personal))
    assert result.of_type(EE_INSTANCE) == []
    assert result.one(PERSONAL_REPO).inputs["repoType"] == "PRIVATE"
    assert result.one(PERSONAL_REPO).protect is True
    assert result.one(IMAGE).inputs["imageName"].startswith("registry.us-east-1.aliyuncs.com/")
    assert is_secret(result.one(IMAGE).inputs["registry"])


# --- PAI-EAS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", stacks_on("eas"))
def test_one_eas_service_per_model_mounts_the_bucket_read_only_and_autoscales(synth, stack):
    result = settled_ok(synth(stack))
    documents = eas_documents(result)
    assert sorted(documents) == sorted(served_models(stack))
    bucket = result.outputs["modelBucket"]
    region = result.outputs["region"]
    for model, document in documents.items():
        (mount,) = document["storage"]
        assert mount["oss"] == {"path": f"oss://{bucket}/models/{model}/", "readOnly": True}
        assert document["oss_endpoint"] == f"oss-{region}-internal.aliyuncs.com"
        assert document["autoscaler"] == {  # sized to Beacon: scale to zero, one instance per model at most
            "min": 0,
            "max": 1,
            "scaleStrategies": [{"metricName": "qps", "threshold": 10}],
        }
        assert "instance" not in document["metadata"]  # the autoscaler's (issue 26, finding 6)
        assert document["cloud"]["networking"]["vpc_id"] == "sim-network-vpc"
        image = document["containers"][0]["image"]
        assert image == result.outputs["servingImage"]["vpcImage"]
        assert image.startswith(result.outputs["registry"]["vpcDomain"] + "/") and "@sha256:" in image
        # The documented default: no custom role (issue 26, findings 2, 10, 11).
        assert "credential" not in document and "options" not in document and "role_arn" not in document


def test_each_eas_token_is_the_one_eas_generates_read_back_from_the_service_and_secret_end_to_end(synth):
    result = settled_ok(synth("ap-southeast"))
    services = {json.loads(s.inputs["serviceConfig"])["metadata"]["name"]: s for s in result.of_type(EAS)}
    readers = {r.name: r for r in result.of_type(TOKEN_READER)}
    exported = result.outputs["easTokens"]
    assert isinstance(exported, Secret)
    for model, document in eas_documents(result).items():
        # Nothing in the config a refresh would lose: EAS generates the token and hides it on export.
        assert "token" not in json.dumps(document)
        reader = readers[f"eas-{model}-token"]
        assert reader.parent_urn.endswith(f"EasModelService::eas-{model}")
        # The reader asks EAS for this service (the service's id is its name), in this region.
        assert reader.inputs["service_name"] in services and reader.inputs["region"] == "ap-southeast-1"
        token = exported.value[model]
        assert token.startswith("simulated-eas-token-")  # the simulated cloud's answer, nothing generated here
        # The gateway checks the token; vLLM behind it demands none (it would accept only `Bearer`).
        env = {e["name"]: e["value"] for e in document["containers"][0]["env"]}
        assert "VLLM_API_KEY" not in env and env["AUTH_AT_GATEWAY"] == "eas"
        plain = json.dumps([masked(r.inputs) for r in result.resources]) + json.dumps(masked(result.outputs))
        assert token not in plain
    generated = result.of_type("random:index/randomPassword:RandomPassword")
    assert not [r for r in generated if "EasModelService" in r.parent_urn]


def test_the_token_reader_has_pulumi_store_the_token_encrypted(monkeypatch):
    seen = {}
    monkeypatch.setattr(
        pulumi.dynamic.Resource, "__init__", lambda self, provider, name, props, opts=None: seen.update(opts=opts)
    )
    EasServiceToken("t", region="us-east-1", service_name="svc", service_created="now")
    assert seen["opts"].additional_secret_outputs == ["token"]


def test_eas_endpoints_are_built_from_the_account_and_region(synth):
    endpoints = settled_ok(synth("us-east")).outputs["easEndpoints"]
    llama = endpoints["llama3.2-1b"]
    assert llama["service"] == "beacon_us_east_llama3_2_1b"
    assert llama["vpcUrl"] == (
        "http://0000000000000000.vpc.us-east-1.pai-eas.aliyuncs.com/api/predict/beacon_us_east_llama3_2_1b"
    )
    # The public endpoint carries the token across the internet: HTTPS only.
    assert llama["publicUrl"] == (
        "https://0000000000000000.us-east-1.pai-eas.aliyuncs.com/api/predict/beacon_us_east_llama3_2_1b"
    )


def test_mainland_eas_is_vpc_only_without_an_icp_licence_and_the_plan_says_how_to_open_it(synth):
    result = settled_ok(synth("cn-beijing"))
    for document in eas_documents(result).values():
        assert document["networking"] == {"disable_internet_endpoint": "true"}
    assert all(e["publicUrl"] == "" and e["publicEndpoint"] is False for e in result.outputs["easEndpoints"].values())
    assert any("pulumi config set beacon-fleet:icpLicence" in w for w in result.warnings)

    licensed = settled_ok(synth("cn-beijing", overrides={"icpLicence": "京ICP备12345678号"}))
    assert all("networking" not in d for d in eas_documents(licensed).values())
    assert all(e["publicEndpoint"] for e in licensed.outputs["easEndpoints"].values())
    assert not any("icpLicence" in w for w in licensed.warnings)


def test_platforms_choose_what_is_declared(synth):
    eas_only = settled_ok(synth("us-east", overrides={"servingPlatforms": ["eas"]}))
    assert eas_only.of_type(CLUSTER) == [] and eas_only.of_type(NODE_POOL) == []
    assert len(eas_only.of_type(EAS)) == len(served_models("us-east")) and "kubernetes" not in eas_only.outputs
    ack_only = settled_ok(synth("us-east", overrides={"servingPlatforms": ["ack"]}))
    assert ack_only.of_type(EAS) == [] and "easTokens" not in ack_only.outputs
    assert ack_only.one(CLUSTER).inputs["enableRrsa"] is True


# --- RAM -------------------------------------------------------------------------------------------


def statements(resource) -> list[dict]:
    return json.loads(resource.inputs["policyDocument"])["Statement"]


@pytest.mark.parametrize("stack", ALIBABA_STACKS)
def test_the_read_policy_names_the_region_bucket_and_no_wildcard_resource(synth, stack):
    result = settled_ok(synth(stack))
    bucket = result.outputs["modelBucket"]
    found = statements(result.one(POLICY))
    assert {r for s in found for r in s["Resource"]} == {f"acs:oss:*:*:{bucket}", f"acs:oss:*:*:{bucket}/*"}
    assert all(a.startswith("oss:Get") or a == "oss:ListObjects" for s in found for a in s["Action"])
    # No EAS role: EAS mounts with its service-linked role (issue 26, findings 2, 10, 11).
    assert {(a.inputs["roleName"], a.inputs["policyType"]) for a in result.of_type(ATTACHMENT)} == {
        (f"beacon-{stack}-serving", "Custom"),
    }


def test_a_kms_encrypted_bucket_adds_decrypt_on_that_key_only(synth):
    result = settled_ok(synth("us-east", overrides={"bucketKmsKeyId": "key-abc123"}))
    decrypt = [s for s in statements(result.one(POLICY)) if s["Action"] == ["kms:Decrypt"]]
    key = "acs:kms:us-east-1:0000000000000000:key/key-abc123"
    assert decrypt == [{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key]}]


def test_the_pods_role_trusts_only_the_clusters_oidc_provider_and_the_inference_service_accounts(synth):
    result = settled_ok(synth("cn-beijing"))
    roles = {r.inputs["roleName"]: json.loads(r.inputs["assumeRolePolicyDocument"]) for r in result.of_type(ROLE)}
    (trust,) = roles["beacon-cn-beijing-serving"]["Statement"]
    assert trust["Principal"] == {"Federated": ["acs:ram::0000000000000000:oidc-provider/ack-rrsa-sim-ack-cluster"]}
    assert trust["Condition"]["StringEquals"] == {
        "oidc:aud": "sts.aliyuncs.com",
        "oidc:iss": "https://oidc-ack-cn-beijing.invalid/sim-ack-cluster",
        # Each release's service account, and the OSS CSI driver's ossfs pods that mount the weights.
        "oidc:sub": [
            "system:serviceaccount:ack-csi-fuse:csi-fuse-ossfs",
            "system:serviceaccount:beacon-serving:llama3-2-1b-inference-server",
            "system:serviceaccount:beacon-serving:mistral-7b-inference-server",
            "system:serviceaccount:beacon-serving:qwen2-5-1-5b-inference-server",
        ],
    }
    assert set(roles) == {"beacon-cn-beijing-serving"}  # and no custom role for EAS


# --- bad input -------------------------------------------------------------------------------------


def test_bad_serving_input_is_one_error_naming_every_key_and_nothing_is_declared(synth):
    result = synth(
        "us-east",
        overrides={
            "gpuInstanceTypes": ["ecs.g7.xlarge"],
            "minReplicasPerModel": 3,
            "maxReplicasPerModel": 2,
            "easInstanceType": "ecs.gn6i-c4g1.xlarge",
            "registryEdition": "personal",
            "serviceCidr": "10.30.0.0/16",
            "deployerCidrs": ["0.0.0.0/0"],
        },
    )
    assert not result.ok and result.resources == []
    assert result.error.startswith("stack 'us-east' has 7 configuration problems; nothing was declared.")
    for expected in (
        "beacon-fleet:gpuInstanceTypes[0]: 'ecs.g7.xlarge' is not an ECS GPU instance type",
        "beacon-fleet:minReplicasPerModel: 3 is more than maxReplicasPerModel (2)",
        "beacon-fleet:models[2]: mistral-7b (fp16) needs 19 GiB of GPU memory",
        "but a T4 has 16 GiB (easInstanceType); try quantization: mistral-7b:fp8",
        "beacon-fleet:registryUsername: Personal Edition needs the account name",
        "beacon-fleet:registryEdition: personal cannot serve ACK",
        "beacon-fleet:serviceCidr: 10.30.0.0/16 overlaps vpcCidr 10.30.0.0/16",
        "beacon-fleet:deployerCidrs[0]: 0.0.0.0/0 opens the API server to the internet",
    ):
        assert expected in result.error
    assert "Traceback" not in result.error


def test_a_missing_registry_password_is_a_config_error_where_the_cli_runs_the_program():
    # The offline plan stands a visible placeholder in for unset secrets; under the CLI the key is simply absent.
    config = load_stack_config("us-east")
    raw = {k: v for k, v in config.values.items() if k != "beacon-fleet:registryPassword"}
    raw["beacon-fleet:registryEdition"] = "personal"
    raw["beacon-fleet:registryUsername"] = "beacon-ops"
    raw["beacon-fleet:servingPlatforms"] = '["eas"]'
    with pytest.raises(ConfigError) as caught:
        parse_settings(load_project_schema(), "us-east", raw)
    assert caught.value.problems == [
        "beacon-fleet:registryPassword: Personal Edition needs the registry password;"
        " run `pulumi config set --secret registryPassword`"
    ]


def test_the_deployer_reaches_the_bucket_and_registry_where_it_runs(synth):
    """In the VPC (no deployerCidrs): internal OSS endpoint, VPC registry domain. Outside: the public ones."""
    inside = settled_ok(synth("us-east"))
    outside = settled_ok(synth("us-east", overrides={"deployerCidrs": ["203.0.113.0/24"]}))
    sync = "pulumi-python:dynamic/weights:Sync"
    assert {r.inputs["endpoint"] for r in inside.of_type(sync)} == {"oss-us-east-1-internal.aliyuncs.com"}
    assert {r.inputs["endpoint"] for r in outside.of_type(sync)} == {"oss-us-east-1.aliyuncs.com"}
    assert inside.one(IMAGE).inputs["imageName"].startswith(inside.outputs["registry"]["vpcDomain"])
    assert outside.one(IMAGE).inputs["imageName"].startswith(outside.outputs["registry"]["publicDomain"])
