"""Generate policy/alicloud_rules.json: terraform-provider-alicloud's input rules for every `alicloud` resource
type the program can declare, read from the provider's Go source with Go's own parser (tools/tfschema).

    python tools/alicloud_rules.py --provider /work/.mirror/aliyun+terraform-provider-alicloud/repo \\
        --ref v1.289.0 --survey v1.285.0 v1.288.0 [--out policy/alicloud_rules.json] [--check]

`--provider` is a checkout of the provider, or a bare git directory (as `fetch` brings it) with `--ref`: the
ref's `alicloud/` package goes from `git archive` straight into tfschema, never onto disk (tools/tfschema is
built once per run, and reads only the files the named resources need). The provider's source is never written
here; the data file holds facts (names, types, ranges, allowed values and the file:line stating each).

Each Pulumi type is tied to its Terraform resource in TOKENS; the bridge names each Pulumi input after its
Terraform field, and the SDK's generated code (`@pulumi.getter(name="timeoutSeconds")` over `def
timeout_seconds`) gives both names, which this generator reads with Python's own parser. Every Terraform field
the SDK lacks and every SDK input the provider lacks is recorded per type: the survey of other refs counts those
mismatches, which is how the provider version was settled (docs/plan.md).

The same source gives the same bytes: keys are sorted, and nothing from the machine (paths, times) is written.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import keyword
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policy.provider_rules import RULES_FILE, SUPPORTED_VALIDATORS  # noqa: E402

TFSCHEMA = ROOT / "tools" / "tfschema"
SDK_VERSION = "4.0.0"  # requirements.txt's pulumi-alicloud pin

# Pulumi type token -> (Terraform resource, the line of pulumi-alicloud's provider/resources.go naming it, at
# v3.105.0, the newest stored snapshot). Where no line is given (None), the type gets its token from the bridge's
# MappedModulesWithInferredFallback (resources.go:2626): the module prefix (`mappedMods`, resources.go:176) and
# the rest of the name in CamelCase. The SDK-field cross-check below confirms every pair.
TOKENS = {
    "alicloud:cr/artifactSubscriptionRule:ArtifactSubscriptionRule": ("alicloud_cr_artifact_subscription_rule", None),
    "alicloud:cr/internetEndpoint:InternetEndpoint": ("alicloud_cr_internet_endpoint", None),
    "alicloud:cr/namespace:Namespace": ("alicloud_cr_namespace", 687),
    "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance": ("alicloud_cr_ee_instance", 688),
    "alicloud:cr/repo:Repo": ("alicloud_cr_repo", 686),
    "alicloud:cr/vpcEndpointLinkedVpc:VpcEndpointLinkedVpc": (
        "alicloud_cr_vpc_endpoint_linked_vpc", None
    ),
    "alicloud:cs/autoscalingConfig:AutoscalingConfig": ("alicloud_cs_autoscaling_config", 705),
    "alicloud:cs/kubernetesAddon:KubernetesAddon": ("alicloud_cs_kubernetes_addon", 706),
    "alicloud:cs/managedKubernetes:ManagedKubernetes": ("alicloud_cs_managed_kubernetes", 697),
    "alicloud:cs/nodePool:NodePool": ("alicloud_cs_kubernetes_node_pool", 702),
    "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace": ("alicloud_cr_ee_namespace", 700),
    "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo": ("alicloud_cr_ee_repo", 699),
    "alicloud:ecs/securityGroup:SecurityGroup": ("alicloud_security_group", 859),
    "alicloud:fc/v3ConcurrencyConfig:V3ConcurrencyConfig": (
        "alicloud_fcv3_concurrency_config", None
    ),
    "alicloud:fc/v3Function:V3Function": ("alicloud_fcv3_function", None),
    "alicloud:fc/v3Trigger:V3Trigger": ("alicloud_fcv3_trigger", None),
    "alicloud:oss/bucket:Bucket": ("alicloud_oss_bucket", 1186),
    "alicloud:oss/bucketAcl:BucketAcl": ("alicloud_oss_bucket_acl", None),
    "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "alicloud_oss_bucket_public_access_block", None
    ),
    "alicloud:pai/service:Service": ("alicloud_pai_service", None),
    "alicloud:ram/policy:Policy": ("alicloud_ram_policy", 1275),
    "alicloud:ram/role:Role": ("alicloud_ram_role", 1276),
    "alicloud:ram/rolePolicyAttachment:RolePolicyAttachment": ("alicloud_ram_role_policy_attachment", 1278),
    "alicloud:slb/acl:Acl": ("alicloud_slb_acl", 1391),
    "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer": ("alicloud_slb_load_balancer", 1415),
    "alicloud:vpc/network:Network": ("alicloud_vpc", 1454),
    "alicloud:vpc/switch:Switch": ("alicloud_vswitch", 1455),
}  # fmt: skip


def sdk_root() -> Path:
    import pulumi_alicloud

    return Path(pulumi_alicloud.__file__).parent


# --- the SDK's names ------------------------------------------------------------------------------------------


class SdkTypes:
    """Input classes of one SDK module, read with Python's parser: class name -> {python name: (pulumi name,
    nested input class or None)}."""

    def __init__(self, module: str, resource_file: str):
        """The nested input types from the module's _inputs.py, the resource's own from its file (a nested type
        may share its name: cs.Kubernetes's `addons` items are also `KubernetesAddonArgs`)."""
        self.classes: dict[str, dict[str, tuple[str, str | None]]] = {}
        self.top = ""  # the resource's own input class (`KubernetesAddonInitArgs` where the name is taken)
        found: dict[str, ast.ClassDef] = {}
        for path in (sdk_root() / module / "_inputs.py", sdk_root() / module / resource_file):
            for node in _arg_classes(path):
                found[node.name] = node
                if path.name == resource_file:
                    self.top = node.name
        for name, node in found.items():
            self.classes[name] = dict(self._properties(node, found))

    @staticmethod
    def _properties(
        node: ast.ClassDef, known: Mapping[str, ast.ClassDef]
    ) -> Iterator[tuple[str, tuple[str, str | None]]]:
        for item in node.body:
            if not isinstance(item, ast.FunctionDef):
                continue
            for decorator in item.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if not (isinstance(target, ast.Attribute) and target.attr == "getter"):
                    continue
                if not (isinstance(target.value, ast.Name) and target.value.id == "pulumi"):
                    continue
                pulumi_name = item.name
                if isinstance(decorator, ast.Call):
                    for keyword in decorator.keywords:
                        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                            pulumi_name = keyword.value.value
                nested = [n for n in _names_in(item.returns) if n in known and n != node.name]
                yield item.name, (pulumi_name, nested[0] if nested else None)


@functools.cache
def _arg_classes(path: Path) -> list[ast.ClassDef]:
    """The input classes a file of the SDK defines, in order; a module's _inputs.py is read once per run."""
    return [n for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef) and n.name.endswith("Args")]


@functools.cache
def sdk_types(module: str, resource_file: str) -> SdkTypes:
    """The SDK's input classes of one resource, read once per run: the same SDK is compared with every ref."""
    return SdkTypes(module, resource_file)


def _names_in(annotation: ast.AST | None) -> list[str]:
    """Class names an annotation refers to, quoted forward references included."""
    found = []
    for node in ast.walk(annotation) if annotation is not None else ():
        if isinstance(node, ast.Name):
            found.append(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.extend(_names_in(ast.parse(node.value, mode="eval")))
    return found


# --- the provider's facts -------------------------------------------------------------------------------------


GO_ENV = {"GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}


def built_tfschema(into: Path) -> Path:
    """tools/tfschema built into a directory, once per run (every ref read uses the same binary)."""
    binary = into / "tfschema"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=TFSCHEMA, env={**os.environ, **GO_ENV}, check=True)
    return binary


def provider_schemas(
    binary: Path, provider: Path, ref: str | None, names: list[str], allow_missing: bool = False
) -> dict[str, Any]:
    """What tfschema reads of the named resources: from a checkout, or (with a ref) from a bare git directory,
    whose `alicloud/` package at that ref goes from `git archive` straight into tfschema, never onto disk."""
    command = [str(binary), *(["-allow-missing"] if allow_missing else []), "-" if ref else str(provider), *names]
    env = {**os.environ, **GO_ENV}
    if ref is None:
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    else:
        # Only what tfschema reads: the package's own .go files, not its tests (half of its 50 MB).
        paths = [":(glob)alicloud/*.go", ":(glob,exclude)alicloud/*_test.go"]
        archive = subprocess.Popen(
            ["git", f"--git-dir={provider}", "archive", ref, "--", *paths], stdout=subprocess.PIPE
        )
        try:
            done = subprocess.run(command, stdin=archive.stdout, capture_output=True, text=True, env=env)
        finally:
            archive.stdout.close()
            if archive.wait() != 0:
                raise SystemExit(f"git archive {ref} failed (exit {archive.returncode})")
    if done.returncode != 0:
        raise SystemExit(f"tfschema failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def commit_of(git_dir: Path, ref: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "rev-parse", f"{ref}^{{commit}}"], capture_output=True, text=True, check=True
    ).stdout.strip()


def joined(
    fields: Mapping[str, Any], sdk: SdkTypes, cls: str | None, token: str, path: str, report: dict[str, list]
) -> dict[str, Any]:
    """The provider's fields keyed by their Pulumi name, with the SDK's and the provider's differences recorded."""
    props = sdk.classes.get(cls or "", {})
    out: dict[str, Any] = {}
    matched = set()
    for tf_name, field in sorted(fields.items()):
        settable = field.get("required") or field.get("optional")
        python_name = _sdk_name(tf_name, field, props)
        if python_name is None:
            if settable and not field.get("removed"):
                report["notInSdk"].append(path + tf_name)
            continue
        matched.add(python_name)
        pulumi_name, nested = props[python_name]
        entry = {k: v for k, v in field.items() if k != "fields"}
        entry["tf"] = tf_name
        for key in ("validate", "elemValidate"):
            if key in entry:
                _note_unreadable(entry[key], token, path + pulumi_name, report)
        for what in field.get("unreadable", ()):
            report["unreadable"].append({"type": token, "field": path + pulumi_name, "what": what})
        if field.get("fields"):
            entry["fields"] = joined(field["fields"], sdk, nested, token, f"{path}{pulumi_name}.", report)
        out[pulumi_name] = entry
    for python_name, (pulumi_name, _) in sorted(props.items()):
        if python_name not in matched:
            report["notInProvider"].append(path + pulumi_name)
    return out


def _sdk_name(tf_name: str, field: Mapping[str, Any], props: Mapping[str, Any]) -> str | None:
    """The SDK's name for a Terraform field: the same, or for a list or set the bridge's plural (`cors_rule` ->
    `cors_rules`, `entry_list` -> `entry_lists`, `policy` -> `policies`)."""
    if tf_name in props:
        return tf_name
    if keyword.iskeyword(tf_name) and tf_name + "_" in props:
        return tf_name + "_"  # Python's keywords get a trailing underscore (`not` -> `not_`)
    if field.get("type") not in ("list", "set") or field.get("maxItems") == 1:
        return None
    plurals = (tf_name + "s", tf_name + "es", tf_name[:-1] + "ies" if tf_name.endswith("y") else "")
    return next((p for p in plurals if p in props), None)


def _note_unreadable(rule: Mapping[str, Any], token: str, path: str, report: dict[str, list]) -> None:
    if rule.get("unreadable"):
        report["unreadable"].append({"type": token, "field": path, "what": f"{rule['kind']}: {rule['unreadable']}"})
    elif rule["kind"] not in SUPPORTED_VALIDATORS:
        report["unreadable"].append(
            {"type": token, "field": path, "what": f"validator {rule['kind']} (line {rule['line']})"}
        )
    for inner in rule.get("of", ()):
        _note_unreadable(inner, token, path, report)


def build(
    binary: Path, provider: Path, ref: str | None = None, allow_missing: bool = False
) -> tuple[dict[str, Any], dict[str, list]]:
    schemas = provider_schemas(binary, provider, ref, sorted({tf for tf, _ in TOKENS.values()}), allow_missing)
    resources: dict[str, Any] = {}
    report: dict[str, list] = {"notInSdk": [], "notInProvider": [], "unreadable": [], "missingTypes": []}
    for token, (tf_name, mapping) in sorted(TOKENS.items()):
        if tf_name not in schemas:
            report["missingTypes"].append(token)
            continue
        module, name = token.split(":")[1].split("/")
        sdk = sdk_types(module, re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() + ".py")
        schema = schemas[tf_name]
        mine: dict[str, list] = {"notInSdk": [], "notInProvider": [], "unreadable": []}
        resources[token] = {
            "terraform": tf_name,
            "tokenSource": (
                f"pulumi-alicloud v3.105.0 provider/resources.go:{mapping}"
                if mapping
                else "inferred by the bridge: module prefix + CamelCase name (resources.go:2626)"
            ),
            "file": schema["file"],
            "line": schema["line"],
            "timeouts": schema.get("timeouts", {}),
            "fields": joined(schema["fields"], sdk, sdk.top, token, "", mine),
        }
        for what in schema.get("unreadable", ()):
            mine["unreadable"].append({"type": token, "field": "", "what": what})
        resources[token]["notInSdk"] = mine["notInSdk"]
        resources[token]["notInProvider"] = mine["notInProvider"]
        for key in mine:
            report[key] += [m if key == "unreadable" else f"{token} {m}" for m in mine[key]]
    return resources, report


def _counts(report: Mapping[str, list]) -> dict[str, int]:
    return {key: len(report[key]) for key in ("missingTypes", "notInProvider", "notInSdk")}


def generate(provider: Path, ref: str | None, survey: list[str]) -> str:
    git_dir = provider if (provider / "HEAD").exists() and not (provider / "alicloud").exists() else None
    if git_dir is None and (ref or survey):
        raise SystemExit("--ref and --survey need a git directory as --provider")
    if git_dir is not None and not ref:
        raise SystemExit("--provider is a git directory: name the --ref to read")
    counts = {}
    with tempfile.TemporaryDirectory() as tools:
        binary = built_tfschema(Path(tools))
        if git_dir is not None:
            commit = commit_of(git_dir, ref)
            resources, report = build(binary, git_dir, commit)
        else:
            commit, resources, report = "(a checkout)", *build(binary, provider)
        for other in survey:
            _, found = build(binary, git_dir, commit_of(git_dir, other), allow_missing=True)
            counts[other] = _counts(found)
    counts[ref or "checkout"] = _counts(report)
    document = {
        "provider": {
            "repository": "aliyun/terraform-provider-alicloud",
            "version": ref or "checkout",
            "commit": commit,
            "sdk": f"pulumi-alicloud=={SDK_VERSION}",
            "settled": (
                "The SDK's docs name resources 'Available since v1.295.0', so 4.0.0 bridges v1.295.0 or later, a"
                " version whose source is not stored (the stored tags end at v1.289.0). This file reads the newest"
                " stored tag; `survey` counts, for the types below and at each ref read, the types the provider does"
                " not register, the provider fields the SDK lacks and the SDK inputs the provider lacks (all 0: every"
                " declared type's inputs are exactly the SDK's). The newest tag has the fewest differences; each"
                " type's `notInProvider` lists the SDK inputs it lacks, added by a later provider whose rules are"
                " not here (docs/plan.md)."
            ),
            "survey": dict(sorted(counts.items())),
        },
        "generatedBy": "tools/alicloud_rules.py (Go's go/parser via tools/tfschema; the SDK's names via Python's ast)",
        "resources": resources,
        "unreadable": sorted(report["unreadable"], key=lambda u: (u["type"], u["field"], u["what"])),
    }
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", type=Path, required=True, help="a checkout, or a bare git dir with --ref")
    parser.add_argument("--ref", help="the tag to read from a git dir")
    parser.add_argument("--survey", nargs="*", default=[], help="other tags to compare with the SDK's inputs")
    parser.add_argument("--out", type=Path, default=RULES_FILE)
    parser.add_argument("--check", action="store_true", help="exit 1 when --out differs from what is generated")
    args = parser.parse_args(argv)
    text = generate(args.provider, args.ref, args.survey)
    if args.check:
        same = args.out.exists() and args.out.read_text() == text
        print(f"{args.out}: {'up to date' if same else 'differs from what the source gives'}")
        return 0 if same else 1
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
