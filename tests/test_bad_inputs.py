# ruff: noqa: E501 - a table of exact user-facing messages, kept one message per line
"""Bad input, everywhere: a table of bad values, each with the exact message a user sees.

Every case must end in one ConfigError (settings) or InvalidStackFileError (stack files), never a traceback,
a hang or a plan that `pulumi up` would refuse; each message names its key and says what to do. Each case's
time is recorded (`record_property`) and held to a generous bound, as these are pure functions that take
milliseconds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fleet.config_schema import load_project_schema
from fleet.settings import ConfigError, parse_router_settings, parse_settings
from offline.stack_files import InvalidStackFileError, cross_stack_problems, load_stack_config
from tests.conftest import SHIPPED_STACKS, with_overrides

SCHEMA = load_project_schema()
SECONDS = 1.0  # generous: each case takes milliseconds; a hang or a quadratic blow-up takes far longer
PHI = (
    "id={id};hfRepo={repo};paramsB={p};layers={layers};hiddenSize=3072;attentionHeads=32;kvHeads=32;headDim=96;"
    "maxContext=4096;vocab=32064;revision=" + "0" * 40  # a well-formed commit id: only the field under test is bad
)


def custom(id="phi-3-mini", repo="microsoft/Phi-3-mini-4k-instruct", p="3.82", layers="32") -> list[str]:  # noqa: A002
    return [PHI.format(id=id, repo=repo, p=p, layers=layers)]


def case(name: str, stack: str, overrides: dict[str, Any], expected: list[str]):
    return pytest.param(stack, overrides, expected, id=name)


def file_case(name: str, text: str, expected: list[str]):
    return pytest.param(text, expected, id=name)


def raw_for(stack: str, overrides: dict[str, Any]) -> dict[str, str]:
    return dict(with_overrides(load_stack_config(stack), overrides).values)


SETTINGS_CASES = [
    case(
        "gpu type typo",
        "cn-beijing",
        {"gpuInstanceTypes": ["ecs.gn7i-c8g1.2xlrage"]},
        [
            "beacon-fleet:gpuInstanceTypes[0]: 'ecs.gn7i-c8g1.2xlrage' is not an ECS instance type of gn7i (A10 24 GB); did you mean ecs.gn7i-c8g1.2xlarge? gn7i types: ecs.gn7i-c8g1.2xlarge, ecs.gn7i-c16g1.4xlarge, ecs.gn7i-c32g1.8xlarge, ecs.gn7i-c32g1.16xlarge, ecs.gn7i-c32g1.32xlarge, ecs.gn7i-2x.8xlarge, ecs.gn7i-4x.8xlarge, ecs.gn7i-8x.16xlarge"
        ],
    ),
    case(
        "gpu type with an invented size",
        "cn-beijing",
        {"gpuInstanceTypes": ["ecs.gn7i-c8g1.3xlarge"]},
        [
            "beacon-fleet:gpuInstanceTypes[0]: 'ecs.gn7i-c8g1.3xlarge' is not an ECS instance type of gn7i (A10 24 GB); did you mean ecs.gn7i-c8g1.2xlarge? gn7i types: ecs.gn7i-c8g1.2xlarge, ecs.gn7i-c16g1.4xlarge, ecs.gn7i-c32g1.8xlarge, ecs.gn7i-c32g1.16xlarge, ecs.gn7i-c32g1.32xlarge, ecs.gn7i-2x.8xlarge, ecs.gn7i-4x.8xlarge, ecs.gn7i-8x.16xlarge"
        ],
    ),
    case(
        "gpu type of an unknown family",
        "cn-beijing",
        {"gpuInstanceTypes": ["ecs.gn9x-c8g1.2xlarge"]},
        [
            "beacon-fleet:gpuInstanceTypes[0]: 'ecs.gn9x-c8g1.2xlarge' is not an ECS GPU instance type of a known family; did you mean ecs.gn7s-c8g1.2xlarge? families: gn6i (T4 16 GB), gn6v (V100-16GB 16 GB), gn6e (V100-32GB 32 GB), gn7i (A10 24 GB), gn7s (A30 24 GB), gn7 (A100-class 40GB 40 GB), gn7e (A100-class 80GB 80 GB), gn8is (L20 48 GB), gn8v (96GB HBM3 96 GB)"
        ],
    ),
    case(
        "eas type typo",
        "cn-beijing",
        {"easInstanceType": "ecs.gn6i-c4g1.xlrge"},
        [
            "beacon-fleet:easInstanceType: 'ecs.gn6i-c4g1.xlrge' is not an ECS instance type of gn6i (T4 16 GB); did you mean ecs.gn6i-c4g1.xlarge? gn6i types: ecs.gn6i-c4g1.xlarge, ecs.gn6i-c8g1.2xlarge, ecs.gn6i-c16g1.4xlarge, ecs.gn6i-c24g1.12xlarge, ecs.gn6i-c24g1.24xlarge"
        ],
    ),
    case(
        "gpu type listed twice",
        "cn-beijing",
        {"gpuInstanceTypes": ["ecs.gn7i-c8g1.2xlarge", "ecs.gn7i-c8g1.2xlarge"]},
        ["beacon-fleet:gpuInstanceTypes[1]: ecs.gn7i-c8g1.2xlarge is listed twice; keep one entry"],
    ),
    case(
        "custom paramsB nan",
        "us-east",
        {"customModels": custom(p="nan")},
        [
            "beacon-fleet:customModels[0]: paramsB must be a number above 0 and at most 5000, such as 3.82, got 'nan'; write id=...;hfRepo=...;paramsB=...;... (see README)"
        ],
    ),
    case(
        "custom paramsB inf",
        "us-east",
        {"customModels": custom(p="inf")},
        [
            "beacon-fleet:customModels[0]: paramsB must be a number above 0 and at most 5000, such as 3.82, got 'inf'; write id=...;hfRepo=...;paramsB=...;... (see README)"
        ],
    ),
    case(
        "custom layers in Arabic-Indic digits",
        "us-east",
        {"customModels": custom(layers="١٢")},
        [
            "beacon-fleet:customModels[0]: layers must be a whole number from 1 to 65536, got '١٢'; write id=...;hfRepo=...;paramsB=...;... (see README)"
        ],
    ),
    case(
        "custom layers superscript digit",
        "us-east",
        {"customModels": custom(layers="²")},
        [
            "beacon-fleet:customModels[0]: layers must be a whole number from 1 to 65536, got '²'; write id=...;hfRepo=...;paramsB=...;... (see README)"
        ],
    ),
    case(
        "custom paramsB 1e999",
        "us-east",
        {"customModels": custom(p="1e999")},
        [
            "beacon-fleet:customModels[0]: paramsB must be a number above 0 and at most 5000, such as 3.82, got '1e999'; write id=...;hfRepo=...;paramsB=...;... (see README)"
        ],
    ),
    case(
        "custom id colliding with llama3.2-1b (hyphens)",
        "us-east",
        {"customModels": custom(id="llama3-2-1b")},
        [
            "beacon-fleet:customModels[0]: id 'llama3-2-1b' names the same cloud resources as 'llama3.2-1b' once normalised (Kubernetes and EAS names replace '.' and '_'); choose an id that differs in a letter or digit"
        ],
    ),
    case(
        "custom id colliding with llama3.2-1b (underscores)",
        "us-east",
        {"customModels": custom(id="llama3_2_1b")},
        [
            "beacon-fleet:customModels[0]: id 'llama3_2_1b' names the same cloud resources as 'llama3.2-1b' once normalised (Kubernetes and EAS names replace '.' and '_'); choose an id that differs in a letter or digit"
        ],
    ),
    case(
        "custom id the chart rejects (uppercase)",
        "us-east",
        {"customModels": custom(id="Phi-3")},
        [
            "beacon-fleet:customModels[0]: id 'Phi-3' must be 1-63 of lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (the name clients send, and the chart's servedName); choose another id"
        ],
    ),
    case(
        "custom id the chart rejects (non-ASCII)",
        "us-east",
        {"customModels": custom(id="モデル")},
        [
            "beacon-fleet:customModels[0]: id 'モデル' must be 1-63 of lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (the name clients send, and the chart's servedName); choose another id"
        ],
    ),
    case(
        "custom hfRepo not org/name",
        "us-east",
        {"customModels": custom(repo="not a repo")},
        [
            "beacon-fleet:customModels[0]: hfRepo must be a Hugging Face repository such as org/model, got 'not a repo'; write id=...;hfRepo=...;paramsB=...;... (see README)"
        ],
    ),
    case(
        "context below the chart's minimum",
        "us-east",
        {"maxContextTokens": 100},
        [
            "beacon-fleet:maxContextTokens: must be between 256 and 1048576 tokens (the chart's maxModelLen and vLLM's --max-model-len), got 100"
        ],
    ),
    case(
        "context above the chart's maximum",
        "us-east",
        {"maxContextTokens": 2000000},
        [
            "beacon-fleet:maxContextTokens: must be between 256 and 1048576 tokens (the chart's maxModelLen and vLLM's --max-model-len), got 2000000"
        ],
    ),
    case(
        "no sequences",
        "us-east",
        {"maxConcurrentSequences": 0},
        [
            "beacon-fleet:maxConcurrentSequences: must be between 1 and 1024 (the chart's maxNumSeqs and vLLM's --max-num-seqs), got 0"
        ],
    ),
    case(
        "sequences above vLLM's maximum",
        "us-east",
        {"maxConcurrentSequences": 5000},
        [
            "beacon-fleet:maxConcurrentSequences: must be between 1 and 1024 (the chart's maxNumSeqs and vLLM's --max-num-seqs), got 5000"
        ],
    ),
    case(
        "replicas unbounded",
        "us-east",
        {"maxReplicasPerModel": 100000},
        [
            "beacon-fleet:maxReplicasPerModel: must be at most 32, got 100000 (a sane bound on pods per model; split the model over regions instead)"
        ],
    ),
    case(
        "min replicas unbounded",
        "us-east",
        {"minReplicasPerModel": 1000},
        ["beacon-fleet:minReplicasPerModel: must be at most 32, got 1000 (a sane bound on pods per model kept warm)"],
    ),
    case(
        "zones unbounded",
        "us-east",
        {"zoneCount": 1000},
        [
            "beacon-fleet:zoneCount: must be at most 8, got 1000 (a sane bound: more zones only fragment the GPU pool, and each costs two vSwitches)"
        ],
    ),
    case(
        "counterpart workers unbounded",
        "ap-southeast",
        {"counterpartMaxWorkers": 10000},
        [
            "beacon-fleet:counterpartMaxWorkers: must be at most 50, got 10000 (a sane bound on serverless workers per model)"
        ],
    ),
    case(
        "too many models",
        "us-east",
        {"models": [f"m{i}" for i in range(17)]},
        [
            "beacon-fleet:models: lists 17 items; at most 16 (each model declares about ten resources per platform; serve more from another region)"
        ],
    ),
    case(
        "zone count in Arabic-Indic digits",
        "us-east",
        {"zoneCount": "١٢"},
        ["beacon-fleet:zoneCount: expected integer, got '١٢'; set a whole number such as 2"],
    ),
    case(
        "eas qps unbounded",
        "us-east",
        {"easQpsTarget": 1000000},
        ["beacon-fleet:easQpsTarget: must be between 1 and 1000 requests per second, got 1000000"],
    ),
    case(
        "residency-bound stack allowing cross-border failover",
        "cn-beijing",
        {"allowCrossBorderFailover": True},
        [
            "beacon-fleet:allowCrossBorderFailover: residencyBound is true, so this region's traffic may not fail over outside its jurisdiction; set allowCrossBorderFailover: false (or residencyBound: false, where the data may leave)"
        ],
    ),
    case(
        "jurisdiction not a country",
        "us-east",
        {"jurisdiction": "xx"},
        [
            "beacon-fleet:jurisdiction: 'xx' is not cn-mainland or an ISO 3166-1 alpha-2 country code (lowercase, such as sg, de or gb); set the region's country code, or remove the key where beacon-fleet knows the region"
        ],
    ),
    case(
        "jurisdiction uk",
        "us-east",
        {"alicloud:region": "eu-north-9", "jurisdiction": "UK"},
        [
            "beacon-fleet:jurisdiction: 'UK' is not cn-mainland or an ISO 3166-1 alpha-2 country code (lowercase, such as sg, de or gb); did you mean gb? set the region's country code, or remove the key where beacon-fleet knows the region"
        ],
    ),
    case(
        "jurisdiction in capitals",
        "us-east",
        {"alicloud:region": "eu-north-9", "jurisdiction": "DE"},
        [
            "beacon-fleet:jurisdiction: 'DE' is not cn-mainland or an ISO 3166-1 alpha-2 country code (lowercase, such as sg, de or gb); write it as de; set the region's country code, or remove the key where beacon-fleet knows the region"
        ],
    ),
    case(
        "deployer allowlist of two /1s",
        "us-east",
        {"deployerCidrs": ["0.0.0.0/1", "128.0.0.0/1"]},
        [
            "beacon-fleet:deployerCidrs: 0.0.0.0/1, 128.0.0.0/1 together open 4,294,967,296 addresses (100% of IPv4), more than the 16,777,216 of a /8 an allowlist may open; list only the deployer's public egress CIDRs"
        ],
    ),
    case(
        "deployer allowlist of a /4",
        "us-east",
        {"deployerCidrs": ["16.0.0.0/4"]},
        [
            "beacon-fleet:deployerCidrs: 16.0.0.0/4 opens 268,435,456 addresses (6.25% of IPv4), more than the 16,777,216 of a /8 an allowlist may open; list only the deployer's public egress CIDRs"
        ],
    ),
    case(
        "serving allowlist of everyone",
        "us-east",
        {"servingAllowedCidrs": ["0.0.0.0/0"]},
        ["beacon-fleet:servingAllowedCidrs[0]: 0.0.0.0/0 allows everyone; list the router's egress CIDRs"],
    ),
    case(
        "serving allowlist of three /9s",
        "us-east",
        {"servingAllowedCidrs": ["16.0.0.0/9", "16.128.0.0/9", "32.0.0.0/9"]},
        [
            "beacon-fleet:servingAllowedCidrs: 16.0.0.0/9, 16.128.0.0/9, 32.0.0.0/9 together open 25,165,824 addresses (0.586% of IPv4), more than the 16,777,216 of a /8 an allowlist may open; list only the router's egress CIDRs"
        ],
    ),
    case(
        "kms key id wildcard",
        "us-east",
        {"bucketKmsKeyId": "*"},
        [
            "beacon-fleet:bucketKmsKeyId: '*' is not a KMS key id; copy the key's id (key-… or a UUID) from the KMS console, not an alias or ARN, or leave it empty for OSS-managed AES256"
        ],
    ),
    case(
        "kms key alias",
        "us-east",
        {"bucketKmsKeyId": "alias/models"},
        [
            "beacon-fleet:bucketKmsKeyId: 'alias/models' is not a KMS key id; copy the key's id (key-… or a UUID) from the KMS console, not an alias or ARN, or leave it empty for OSS-managed AES256"
        ],
    ),
    case(
        "package index with a password",
        "us-east",
        {"pythonPackageIndex": "https://deploy:hunter2@pypi.example.com/simple"},
        [
            "beacon-fleet:pythonPackageIndex: embeds user-info (user:password@ before the host), a credential in the URL; it would be copied into the plan and everything built from it: remove it, and set a credential encrypted with `pulumi config set --secret <key>` in the key that needs it (or use a URL that needs none)"
        ],
    ),
    case(
        "image reference with a login",
        "us-east",
        {"servingImageBase": "deploy:hunter2@registry.example.com/python:3.12"},
        [
            "beacon-fleet:servingImageBase: an image reference's '@' introduces a sha256 digest; a registry login never goes in the reference (remove it; the build logs in with the registry's own credentials)"
        ],
    ),
    case(
        "a value too long",
        "us-east",
        {"owner": "x" * 3000},
        ["beacon-fleet:owner: holds a value longer than 2048 characters; no setting needs one that long"],
    ),
    case(
        "railway url with a password",
        "router",
        {"railwayApiUrl": "https://me:hunter2@backboard.railway.com/graphql/v2"},
        [
            "beacon-fleet:railwayApiUrl: embeds user-info (user:password@ before the host), a credential in the URL; it would be copied into the plan and everything built from it: remove it, and set a credential encrypted with `pulumi config set --secret <key>` in the key that needs it (or use a URL that needs none)"
        ],
    ),
]

FILE_CASES = [
    file_case(
        "duplicate key",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:vpcCidr: 10.40.0.0/16\n  beacon-fleet:vpcCidr: 10.41.0.0/16\n",
        [
            "Pulumi.eu-test.yaml line 5: beacon-fleet:vpcCidr is set twice (also line 4); YAML would silently keep the last; keep one"
        ],
    ),
    file_case(
        "key outside config",
        "models: [llama3.2-1b]\nconfig:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n",
        [
            "Pulumi.eu-test.yaml line 1: 'models' is outside config:, so Pulumi ignores it; indent config keys under config:"
        ],
    ),
    file_case(
        "misspelled namespace",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-flet:models: [llama3.2-1b]\n",
        [
            "Pulumi.eu-test.yaml line 4: beacon-flet:models: unknown namespace 'beacon-flet', so nothing would read this key; did you mean beacon-fleet:models? project keys are beacon-fleet:<key>, provider keys alicloud:, kubernetes:, docker:, random:, runpod:, pulumi:"
        ],
    ),
    file_case(
        "trailing newline in a value",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:owner: |\n    team-a\n",
        [
            "Pulumi.eu-test.yaml line 4: beacon-fleet:owner: the value starts or ends with whitespace, or holds a line break or control character (a YAML `|` or `>` block keeps its line breaks); write it on one line, without surrounding spaces"
        ],
    ),
    file_case(
        "yaml error",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:models: [llama3.2-1b\n  beacon-fleet:owner: x\n",
        [
            "Pulumi.eu-test.yaml line 5, column 21 (in what starts at line 4, column 24): not valid YAML (while parsing a flow sequence did not find expected ',' or ']'); fix the YAML there (indent with spaces, close brackets, quote a value holding ': ' or ' #')"
        ],
    ),
    file_case(
        "alibaba access key in plain text",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  alicloud:accessKey: LTAI5tQx8mLrT2vN9pZkW3aB\n",
        [
            "Pulumi.eu-test.yaml line 4: alicloud:accessKey: a credential in plain text (its value is not shown); remove it from Pulumi.eu-test.yaml, rotate it (it is in the file's history), and set it encrypted with `pulumi config set --secret alicloud:accessKey`"
        ],
    ),
    file_case(
        "alibaba secret key in plain text",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  alicloud:secretKey: x8mLrT2vN9pZkW3aBq7Yt\n",
        [
            "Pulumi.eu-test.yaml line 4: alicloud:secretKey: a credential in plain text (its value is not shown); remove it from Pulumi.eu-test.yaml, rotate it (it is in the file's history), and set it encrypted with `pulumi config set --secret alicloud:secretKey`"
        ],
    ),
    file_case(
        "runpod token in plain text",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  runpod:token: rpa_ABCDEFGHIJKLMNOPQRSTUVWX1234\n",
        [
            "Pulumi.eu-test.yaml line 4: runpod:token: a credential in plain text (its value is not shown); remove it from Pulumi.eu-test.yaml, rotate it (it is in the file's history), and set it encrypted with `pulumi config set --secret runpod:token`"
        ],
    ),
    file_case(
        "project secret key in plain text",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:runpodRouterApiKey: abc123\n",
        [
            "Pulumi.eu-test.yaml line 4: beacon-fleet:runpodRouterApiKey: a credential in plain text (its value is not shown); remove it from Pulumi.eu-test.yaml, rotate it (it is in the file's history), and set it encrypted with `pulumi config set --secret runpodRouterApiKey`"
        ],
    ),
    file_case(
        "credential-named key",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:hfApiKey: abc123\n",
        [
            "Pulumi.eu-test.yaml line 4: beacon-fleet:hfApiKey: a credential in plain text (its value is not shown); remove it from Pulumi.eu-test.yaml, rotate it (it is in the file's history), and set it encrypted with `pulumi config set --secret hfApiKey`"
        ],
    ),
    file_case(
        "access key shaped value in a plain key",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:owner: LTAI5tQx8mLrT2vN9pZkW3aB\n",
        [
            "Pulumi.eu-test.yaml line 4: beacon-fleet:owner: the value looks like an Alibaba Cloud AccessKey id (LTAI…) in plain text (not shown); remove it from Pulumi.eu-test.yaml and rotate it; a credential is set encrypted, in the key that needs it, with `pulumi config set --secret <key>`"
        ],
    ),
    file_case(
        "runpod key shaped value in a list",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:counterpartLocations: [rpa_ABCDEFGHIJKLMNOPQRSTUVWX1234]\n",
        [
            "Pulumi.eu-test.yaml line 4: beacon-fleet:counterpartLocations: the value looks like a RunPod API key (rpa_…) in plain text (not shown); remove it from Pulumi.eu-test.yaml and rotate it; a credential is set encrypted, in the key that needs it, with `pulumi config set --secret <key>`"
        ],
    ),
    file_case(
        "sk- shaped value",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:owner: sk-proj-AbCdEfGhIjKlMnOpQrSt\n",
        [
            "Pulumi.eu-test.yaml line 4: beacon-fleet:owner: the value looks like an API secret key (sk-…) in plain text (not shown); remove it from Pulumi.eu-test.yaml and rotate it; a credential is set encrypted, in the key that needs it, with `pulumi config set --secret <key>`"
        ],
    ),
    file_case(
        "password in a URL",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  beacon-fleet:pythonPackageIndex: https://deploy:hunter2@pypi.example.com/simple\n",
        [
            "Pulumi.eu-test.yaml line 4: beacon-fleet:pythonPackageIndex: the value looks like a URL with a password (user:password@) in plain text (not shown); remove it from Pulumi.eu-test.yaml and rotate it; a credential is set encrypted, in the key that needs it, with `pulumi config set --secret <key>`"
        ],
    ),
    file_case(
        "config is a list",
        "config:\n  - alicloud:region: us-east-1\n",
        ["Pulumi.eu-test.yaml line 1: config: must be a mapping of keys to values"],
    ),
    file_case(
        "yaml alias bomb",
        "config:\n  beacon-fleet:owner: &a [x, x, x]\n  beacon-fleet:zones: [*a, *a, *a]\n",
        ["Pulumi.eu-test.yaml line 2: uses a YAML alias (*name); write each value out in full"],
    ),
    file_case(
        "values nested thousands deep",
        "config:\n  beacon-fleet:zones: " + "[" * 3000 + "]" * 3000 + "\n",
        ["Pulumi.eu-test.yaml: values are nested too deeply to read; write each value as a flat list"],
    ),
    file_case(
        "tab indentation",
        "config:\n\tbeacon-fleet:owner: x\n",
        [
            "Pulumi.eu-test.yaml line 2, column 1: not valid YAML (while scanning for the next token found character"
            " that cannot start any token); fix the YAML there (indent with spaces, close brackets, quote a value"
            " holding ': ' or ' #')"
        ],
    ),
    file_case(
        "bare and qualified key",
        "config:\n  alicloud:region: us-east-1\n  beacon-fleet:routerRegion: us-east\n  owner: a\n  beacon-fleet:owner: b\n",
        ["Pulumi.eu-test.yaml line 5: beacon-fleet:owner: the same key as owner (line 4); keep one"],
    ),
]


def test_the_table_holds_at_least_forty_bad_inputs():
    assert len(SETTINGS_CASES) + len(FILE_CASES) >= 40


def assert_named_and_fixable(messages: list[str]) -> None:
    """Each message starts with its key (or its stack file and line) and says what to do, or what is accepted."""
    for message in messages:
        assert "Traceback" not in message
        assert message.startswith(("beacon-fleet:", "alicloud:", "Pulumi.eu-test.yaml")), f"no key: {message}"
        fixes = ("; ", " must ", "keep one", "did you mean", " at most ")
        assert any(fix in message for fix in fixes), f"no fix: {message}"


@pytest.mark.parametrize(("stack", "overrides", "expected"), SETTINGS_CASES)
def test_each_bad_setting_gets_its_exact_message(stack, overrides, expected, record_property):
    parse = parse_router_settings if stack == "router" else parse_settings
    raw = raw_for(stack, overrides)
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        parse(SCHEMA, stack, raw)
    elapsed = time.perf_counter() - started
    record_property("seconds", round(elapsed, 4))
    assert caught.value.problems == expected
    assert_named_and_fixable(caught.value.problems)
    assert elapsed < SECONDS


@pytest.mark.parametrize(("text", "expected"), FILE_CASES)
def test_each_bad_stack_file_gets_its_exact_message(text, expected, tmp_path, record_property):
    path = tmp_path / "Pulumi.eu-test.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(InvalidStackFileError) as caught:
        load_stack_config("eu-test", path)
    elapsed = time.perf_counter() - started
    record_property("seconds", round(elapsed, 4))
    assert caught.value.problems == expected
    assert_named_and_fixable(caught.value.problems)
    assert elapsed < SECONDS


def test_a_plain_text_credential_is_never_repeated_in_the_error(tmp_path):
    secret = "LTAI5tQx8mLrT2vN9pZkW3aB"
    path = tmp_path / "Pulumi.eu-test.yaml"
    path.write_text(f"config:\n  alicloud:accessKey: {secret}\n  beacon-fleet:owner: {secret}\n", encoding="utf-8")
    with pytest.raises(InvalidStackFileError) as caught:
        load_stack_config("eu-test", path)
    assert secret not in str(caught.value) and len(caught.value.problems) == 2


def test_the_limits_reject_huge_values_quickly_without_declaring_anything():
    raw = raw_for("us-east", {"zoneCount": 10**6, "maxReplicasPerModel": 10**9, "vswitchPrefixLength": 28})
    raw["beacon-fleet:vpcCidr"] = "10.0.0.0/8"
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        parse_settings(SCHEMA, "us-east", raw)
    assert time.perf_counter() - started < SECONDS
    assert {p.split(":")[1] for p in caught.value.problems} == {"zoneCount", "maxReplicasPerModel"}


def test_a_region_that_is_not_residency_bound_may_allow_cross_border_failover():
    settings = parse_settings(SCHEMA, "ap-southeast", raw_for("ap-southeast", {"allowCrossBorderFailover": True}))
    assert settings.residency.allow_cross_border_failover and not settings.residency.residency_bound


@pytest.mark.parametrize("cidrs", [["203.0.113.0/24"], ["198.51.100.7/32", "203.0.113.0/24"], ["100.64.0.0/10"]])
def test_ordinary_allowlists_are_accepted(cidrs):
    parse_settings(SCHEMA, "us-east", raw_for("us-east", {"servingAllowedCidrs": cidrs}))


def test_real_kms_key_ids_are_accepted():
    for key_id in ("key-hzz62f1cb66fa42qo0ybp", "0987f5e8-1234-4abc-9def-1234567890ab"):
        settings = parse_settings(SCHEMA, "us-east", raw_for("us-east", {"bucketKmsKeyId": key_id}))
        assert settings.bucket.kms_key_id == key_id


# --- across stacks -----------------------------------------------------------------------------------------------


def test_overlapping_vpc_ranges_of_two_region_stacks_are_reported():
    east = load_stack_config("us-east")
    overlapping = with_overrides(load_stack_config("ap-southeast"), {"vpcCidr": "10.30.128.0/17"})
    (problem,) = cross_stack_problems([east, overlapping, load_stack_config("router")])
    assert problem == (
        frozenset({"ap-southeast", "us-east"}),
        "Pulumi.ap-southeast.yaml: beacon-fleet:vpcCidr 10.30.128.0/17 overlaps 10.30.0.0/16 of stack us-east;"
        " give each region its own range (e.g. the next free 10.N.0.0/16) so the VPCs can be peered",
    )


def test_a_region_stack_missing_from_the_routers_region_stacks_is_reported():
    router = with_overrides(load_stack_config("router"), {"regionStacks": ["organization/beacon-fleet/us-east"]})
    problems = cross_stack_problems([load_stack_config("us-east"), load_stack_config("cn-beijing"), router])
    assert problems == [
        (
            frozenset({"router", "cn-beijing"}),
            "Pulumi.router.yaml: beacon-fleet:regionStacks does not list region stack cn-beijing, so the router"
            " would never route to it; add organization/beacon-fleet/cn-beijing (your organization on Pulumi Cloud)",
        )
    ]


def test_the_shipped_stacks_agree_with_each_other():
    from offline.stack_files import shipped_stacks

    assert cross_stack_problems([load_stack_config(s) for s in shipped_stacks()]) == []


def test_cross_stack_problems_fail_the_plan(tmp_path, monkeypatch, capsys, shared_plan_syntheses):
    from offline import plan

    real_loader = plan.load_stack_config

    def loader(stack: str, path: Path | None = None):
        config = real_loader(stack, path)
        return with_overrides(config, {"vpcCidr": "10.30.0.0/16"}) if stack == "ap-southeast" else config

    monkeypatch.setattr(plan, "load_stack_config", loader)
    assert plan.main(["--stack", "us-east", "--json-only", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "the stacks disagree (1 problem):" in err
    assert "beacon-fleet:vpcCidr 10.30.0.0/16 overlaps 10.30.0.0/16 of stack ap-southeast" in " ".join(err.split())


# --- secrets never reach an artefact ----------------------------------------------------------------------------

PLAIN_CREDENTIALS = {
    "alicloud:accessKey": "LTAI5tQx8mLrT2vN9pZkW3aB",
    "alicloud:secretKey": "x8mLrT2vN9pZkW3aBq7YtPlainSecret",
    "runpod:token": "rpa_PLAINTOKEN0123456789ABCDEF",
    "beacon-fleet:railwayToken": "plain-railway-token-4f1c9a",
    "beacon-fleet:owner": "sk-proj-PlainOwnerKey0123456789",
}


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_no_secret_value_reaches_the_plan_json_text_or_diff(
    stack, tmp_path, monkeypatch, capsys, shared_plan_syntheses
):
    from fleet.config_schema import SECRET_KEYS
    from offline import plan, plan_diff
    from offline.stack_files import stack_file

    shipped = stack_file(stack).read_text(encoding="utf-8")
    role = "router" if stack == "router" else "region"  # every secret key of its kind (the other kind is refused)
    own = [key for key in SECRET_KEYS if SCHEMA.keys[key].scope == role]
    ciphertexts = {f"beacon-fleet:{key}": f"v1:CIPHERTEXT-{key}-0123456789" for key in own}
    variants = {
        "encrypted": shipped + "".join(f"  {k}:\n    secure: {v}\n" for k, v in ciphertexts.items()),
        "plain": shipped + "".join(f"  {k}: {v}\n" for k, v in PLAIN_CREDENTIALS.items()),
    }
    real_loader = plan.load_stack_config
    outputs = []
    for name, text in variants.items():
        path = tmp_path / name / f"Pulumi.{stack}.yaml"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        monkeypatch.setattr(
            plan, "load_stack_config", lambda s, p=None, _f=path: real_loader(s, _f if s == stack else p)
        )
        code = plan.main(["--stack", stack, "--out", str(tmp_path / f"{name}-plan")])
        assert code == (0 if name == "encrypted" else 1)
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err, (tmp_path / f"{name}-plan" / f"{stack}.json").read_text()]
    for base, head in (("encrypted", "plain"), ("plain", "encrypted")):
        plan_diff.main([str(tmp_path / f"{base}-plan"), str(tmp_path / f"{head}-plan")])
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err]
    everything = "\n".join(outputs)
    for value in [*ciphertexts.values(), *PLAIN_CREDENTIALS.values()]:
        assert value not in everything, f"{value} leaked"
    assert "set it encrypted with `pulumi config set --secret railwayToken`" in " ".join(everything.split())


# --- any value of any key ----------------------------------------------------------------------------------------

ODD_VALUES = [
    "", " ", "\n", "x" * 5000, "١٢", "-1", "0", "99999999999999999999", "nan", "inf", "1e999", "1.5", " 5",
    "[]", "{}", "null", "true", '["a"]', "[1,2]", "[null]", '[{"a":1}]', '["' + "x" * 3000 + '"]',
    '["0.0.0.0/0"]', '["::/0"]', '["ecs.gn7i"]', "*", "key-*", "https://a:b@c", "モデル", '["id=a;id=b"]',
    '["id=;hfRepo=/;paramsB=0"]', "[" + ",".join(['"x"'] * 500) + "]",
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["ap-southeast", "us-east", "router"])
def test_no_value_of_any_key_raises_anything_but_a_config_error(stack, record_property):
    parse = parse_router_settings if stack == "router" else parse_settings
    base = dict(load_stack_config(stack).values)
    slowest = 0.0
    for name, spec in SCHEMA.keys.items():
        if spec.secret:
            continue  # read only as secrets, never decoded here
        for value in ODD_VALUES:
            raw = {**base, f"{SCHEMA.project}:{name}": value}
            started = time.perf_counter()
            try:
                parse(SCHEMA, stack, raw)
            except ConfigError as error:
                assert all(p.startswith(("beacon-fleet:", "alicloud:")) for p in error.problems)
            slowest = max(slowest, time.perf_counter() - started)
    record_property("slowest_seconds", round(slowest, 4))
    assert slowest < SECONDS
