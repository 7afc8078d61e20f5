"""`make docs`: write docs/configuration.md from Pulumi.yaml's config block and fleet.config_schema.SECRET_KEYS.

    python -m offline.config_docs           # (re)write docs/configuration.md
    python -m offline.config_docs --check   # exit 1, saying so, when the committed file is stale

Each key's type, default and description come from its declaration, so the reference cannot drift from the
code; this module adds only the grouping (GROUPS) and the prose around the tables. A key declared but in no
group, or grouped but no longer declared, is an error naming it: place it in a group, then run `make docs`.

Imports nothing but the standard library and fleet.config_schema (pure: no Pulumi SDK).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from fleet.config_schema import PROJECT_ROOT, ROUTER_KEY_ORDER, ProjectSchema, load_project_schema

OUTPUT = PROJECT_ROOT / "docs" / "configuration.md"

# (title, what the group is for, its keys in the order shown). Every declared key, secret or not, is in one.
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Stack role, naming and tags",
        "What a stack declares, and how its cloud resources are named and tagged.",
        ("stackRole", "namePrefix", "owner"),
    ),
    (
        "Residency",
        "Where personal data may go; checked before anything is declared (`fleet/residency.py`).",
        ("jurisdiction", "residencyBound", "allowCrossBorderFailover", "icpLicence"),
    ),
    (
        "Network",
        "The region's VPC and the zones its vSwitches span.",
        ("vpcCidr", "vswitchPrefixLength", "zones", "zoneCount"),
    ),
    (
        "Models and replicas",
        "What the region serves, with what context, and how far each model scales.",
        (
            "models",
            "customModels",
            "servingPlatforms",
            "maxContextTokens",
            "maxConcurrentSequences",
            "minReplicasPerModel",
            "maxReplicasPerModel",
        ),
    ),
    (
        "Model bucket (OSS)",
        "The private bucket holding the model weights.",
        ("bucketRedundancy", "bucketKmsKeyId", "incompleteUploadExpiryDays"),
    ),
    (
        "Kubernetes: ACK and the cGPU pool",
        "The ACK Pro cluster, its CPU system pool and its shared-GPU pool.",
        (
            "kubernetesVersion",
            "serviceCidr",
            "deployerCidrs",
            "systemNodeInstanceTypes",
            "systemNodeCount",
            "gpuInstanceTypes",
            "gpuIsolation",
            "gpuSpot",
            "gpuSystemDiskGiB",
        ),
    ),
    (
        "ACK endpoints",
        "How the router reaches each model served on ACK, through its own load balancer.",
        ("ackExposure", "servingAllowedCidrs", "servingTlsCertId"),
    ),
    (
        "Registry and serving image",
        "The ACR registry and the serving image built into it.",
        (
            "registryEdition",
            "registryInstanceType",
            "registryUsername",
            "registryPassword",
            "servingImageBase",
            "servingAptMirror",
            "pythonPackageIndex",
        ),
    ),
    (
        "PAI-EAS",
        "One EAS service per model.",
        ("easInstanceType", "easQpsTarget"),
    ),
    (
        "Function Compute GPU",
        "One FC 3.0 GPU function per model, scaling to zero ([region.md](region.md)).",
        ("fcGpuType", "fcMaxInstances"),
    ),
    (
        "Expected workload and cost",
        "The volume the cost view prices each platform at ([cost.md](cost.md)).",
        (
            "expectedRequestsPerMonth",
            "requestsPerJob",
            "averageSecondsPerRequest",
            "costWarningMultiple",
            "yearlyBudgetUsd",
        ),
    ),
    (
        "Counterparts: RunPod and Modal",
        "The region's models outside Alibaba Cloud ([counterparts.md](counterparts.md)).",
        (
            "counterpartProvider",
            "counterpartLocations",
            "counterpartGpus",
            "counterpartModels",
            "counterpartMinWorkers",
            "counterpartMaxWorkers",
            "counterpartIdleTimeoutSeconds",
            "counterpartRequestTimeoutSeconds",
            "runpodWorkerImage",
            "runpodHfTokenSecret",
            "modalEnvironment",
            "modalHfSecret",
            "runpodRouterApiKey",
            "modalProxyTokenId",
            "modalProxyTokenSecret",
        ),
    ),
    (
        "A partner's endpoint (option C)",
        "An OpenAI-compatible endpoint a partner hosts for the region's models; nothing is provisioned, the router"
        " routes to it ([router-config.md](router-config.md#a-partners-endpoint-option-c)).",
        (
            "partnerBaseUrl",
            "partnerName",
            "partnerJurisdiction",
            "partnerModels",
            "partnerRequestTimeoutSeconds",
            "partnerApiKey",
        ),
    ),
    (
        "The region in the router",
        "How a region stack appears in the hybrid router's configuration ([router-config.md](router-config.md)).",
        ("routerRegion", "failoverOrder"),
    ),
    (
        "Router stack",
        "Keys only the router stack (`stackRole: router`) reads ([router-config.md](router-config.md)).",
        ROUTER_KEY_ORDER,  # the router's keys are listed once, where their scope is declared
    ),
)

# The stacks column: which stacks read the key (fleet/config_schema.py's scopes).
STACKS = {"region": "region", "router": "router", "every": "region, router"}

HEADER = """\
<!-- Generated by `make docs` (python -m offline.config_docs) from Pulumi.yaml's config block and
     fleet/config_schema.py's SECRET_KEYS. Do not edit by hand: change those, then run `make docs`. -->
# Configuration

Every plain project key is declared once, in the `config:` block of `Pulumi.yaml`, with its type,
description and default; this page is generated from it. Secret keys are declared in
`fleet/config_schema.py` (`SECRET_KEYS`) instead: the Pulumi CLI requires a declared key without a default in
every stack, and refuses a secret key with a default (pulumi/pulumi#21865), so an optional secret cannot live
in `Pulumi.yaml`. A stack file (`Pulumi.<stack>.yaml`) sets keys as `beacon-fleet:<key>`; region stacks also
set the provider key `alicloud:region`.

Each key belongs to region stacks, the router stack (`stackRole: router`) or both: the **stacks** column, from
`fleet/config_schema.py` (`ROUTER_KEYS`, `EVERY_STACK_KEYS`; every other key is a region key). A stack that sets a
key of the other kind is refused, since it would be ignored.

The settings (`fleet.settings`) read the stack's config into frozen, typed settings and validate all of it
before any resource is declared. An unknown key is refused. Every problem is reported in one error, each naming its key
and the fix:

```
stack 'cn-beijing' has 3 configuration problems; nothing was declared.
  - beacon-fleet:modles: unknown key; did you mean beacon-fleet:models?
  - beacon-fleet:zoneCount: expected integer, got 'two'; set a whole number such as 2
  - beacon-fleet:models[1]: unknown model 'gpt-5'; known: llama3.2-1b, mistral-7b, qwen2.5-1.5b (declare others in customModels)
```
"""  # noqa: E501 (a real error message, not wrapped)

FORMATS = """\
## Models and custom models

Pulumi's config types are string, integer, boolean and array only, so a model and its dtype is one string,
and a custom model is one string of `key=value` pairs with the built-in catalog's fields:

```yaml
  beacon-fleet:customModels:
    - id=phi-3-mini;hfRepo=microsoft/Phi-3-mini-4k-instruct;revision=<40-character commit id>;paramsB=3.82;layers=32;hiddenSize=3072;attentionHeads=32;kvHeads=32;headDim=96;maxContext=4096;vocab=32064
  beacon-fleet:models: [llama3.2-1b, phi-3-mini:fp8]
```

`revision` is required: the Hugging Face commit every endpoint serves (a branch or tag moves). A model served in a
mainland region also needs `msRepo` and `msRevision` (its ModelScope repo and branch or tag); the weights
manifest's sha256s, not the branch, pin what is synced there (see [models.md](models.md#pinned-weights)).
`fp8` is quantized by vLLM from the pinned files as they load; AWQ, GPTQ and int8 weights are checkpoints of
their own: declare one as a custom model with `quantization=awq` (or `gptq`, `int8`), its own repo, revision
and weights manifest, and serve it by its id.

The built-in catalog (`fleet/catalog.py`, figures from each model's published `config.json`):
`llama3.2-1b` (meta-llama/Llama-3.2-1B-Instruct), `qwen2.5-1.5b` (Qwen/Qwen2.5-1.5B-Instruct) and
`mistral-7b` (mistralai/Mistral-7B-Instruct-v0.3). See [models.md](models.md).
"""  # noqa: E501 (a config value, not wrapped)


class ConfigDocsError(Exception):
    """The grouping and the declared keys disagree."""


def grouping_problems(schema: ProjectSchema) -> list[str]:
    """Every mismatch between GROUPS and the declared keys, so one run lists them all."""
    grouped = [key for _, _, keys in GROUPS for key in keys]
    problems = [f"{key}: in more than one group" for key in sorted({k for k in grouped if grouped.count(k) > 1})]
    problems += [
        f"{key}: declared but in no group; add it to a group in offline/config_docs.py GROUPS"
        for key in schema.keys
        if key not in grouped
    ]
    problems += [
        f"{key}: grouped but not declared in Pulumi.yaml or SECRET_KEYS; remove it from GROUPS"
        for key in dict.fromkeys(grouped)
        if key not in schema.keys
    ]
    return problems


def render(schema: ProjectSchema) -> str:
    """The whole of docs/configuration.md for this schema."""
    problems = grouping_problems(schema)
    if problems:
        raise ConfigDocsError(
            "offline/config_docs.py cannot place every config key:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    out = [HEADER]
    out.append("**Groups:** " + " · ".join(f"[{title}](#{heading_anchor(title)})" for title, _, _ in GROUPS) + " · ")
    out[-1] += "[Secret keys](#secret-keys) · [Models and custom models](#models-and-custom-models)\n"
    for title, purpose, keys in GROUPS:
        out.append(f"## {title}\n\n{purpose}\n\n| key | type | default | stacks | description |\n|---|---|---|---|---|")
        for key in keys:
            spec = schema.keys[key]
            kind = f"{spec.type_name}, secret" if spec.secret else spec.type_name
            default = "— (set with `--secret`)" if spec.secret else _default(spec.default, spec.has_default)
            out.append(f"| `{key}` | {_cell(kind)} | {default} | {STACKS[spec.scope]} | {_cell(spec.description)} |")
        out.append("")
    out.append(_secrets_section(schema))
    out.append(FORMATS)
    return "\n".join(out)


def _secrets_section(schema: ProjectSchema) -> str:
    secrets = [spec for spec in schema.keys.values() if spec.secret]
    lines = [
        "## Secret keys",
        "",
        "Each is needed only by some stacks; the settings check each where it is needed. Set one encrypted in the",
        "stack file, never in plain text (a test refuses plain-text credentials in `Pulumi.*.yaml`):",
        "",
        "```bash",
        "pulumi config set --secret --stack <stack> <key>                   # prompts for the value",
        "pulumi config set --secret --stack <stack> <key> < kubeconfig.yaml  # multi-line values from stdin",
        "```",
        "",
        "`make plan` shows a secret that a stack file holds encrypted, or a required one it does not set, as a",
        "visible placeholder, never a made-up value.",
        "",
        "| key | stacks | how to set it | what it is |",
        "|---|---|---|---|",
    ]
    for spec in secrets:
        how = f"`pulumi config set --secret {spec.name}`"
        lines.append(f"| `{spec.name}` | {STACKS[spec.scope]} | {how} | {_cell(spec.description)} |")
    return "\n".join(lines) + "\n"


def _default(value: Any, has_default: bool) -> str:
    if not has_default:
        return "—"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, list):
        return "`[" + ", ".join(str(item) for item in value) + "]`"
    if value == "":
        return '`""`'
    return f"`{value}`"


def _cell(text: str) -> str:
    # Markdown would take <stack> for an HTML tag and drop it, and | for a column break.
    return " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def heading_anchor(title: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped, spaces to hyphens."""
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -")
    return kept.replace(" ", "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.config_docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from what it should be")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="the file (default: docs/configuration.md)")
    args = parser.parse_args(argv)
    try:
        expected = render(load_project_schema())
    except ConfigDocsError as error:
        print(error, file=sys.stderr)
        return 1
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current == expected:
            print(f"{args.out.name} is up to date")
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), expected.splitlines(), "committed", "generated", lineterm="", n=0
        )
        shown = list(diff)[:20]
        print(
            f"{args.out} is stale: it differs from what Pulumi.yaml and SECRET_KEYS generate.\n"
            "Run `make docs` (python -m offline.config_docs) and commit the result. First differences:\n"
            + "\n".join(shown),
            file=sys.stderr,
        )
        return 1
    args.out.write_text(expected, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
