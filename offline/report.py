"""Plans for people (tables) and for tools (JSON that is byte-identical for the same input)."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from fleet import cost, credentials, platform_cost
from fleet.config_schema import load_project_schema
from offline import policy_check
from offline.engine import STACK_TYPE, DeclaredResource, Synthesis, _replacing_secrets, masked
from offline.simulated_cloud import SIMULATED_ACCOUNT_ID, SIMULATED_ID_PREFIX
from offline.stack_files import StackConfig

PLAN_FORMAT = "beacon-fleet-plan/1"
# The widest line of the plan text; longer values are cut (tables, outputs) or wrapped (prose). Full values stay
# in plan/<stack>.json.
MAX_LINE = 160


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 resource', '2 resources'."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def cut(line: str, width: int = MAX_LINE) -> str:
    """The line, cut to `width` with an ellipsis when longer."""
    return line if len(line) <= width else line[: width - 1] + "…"


def fit(lines: list[str], width: int = MAX_LINE) -> list[str]:
    """Prose lines wrapped to `width`, continuation lines indented two more than the first; a fenced block (```)
    is code, kept line for line so it still renders."""
    fitted = []
    fenced = False
    for line in (part for entry in lines for part in entry.split("\n")):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or len(line) <= width or line.startswith("```"):
            fitted.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")))
        fitted += textwrap.wrap(
            line, width, initial_indent="", subsequent_indent=indent + "  ", break_on_hyphens=False
        ) or [line]
    return fitted


# The inputs worth a glance in the table, per resource type (paths into the wire inputs).
KEY_SETTINGS: dict[str, tuple[str, ...]] = {
    "alicloud:vpc/network:Network": ("vpcName", "cidrBlock"),
    "alicloud:vpc/switch:Switch": ("vswitchName", "zoneId", "cidrBlock"),
    "alicloud:oss/bucket:Bucket": (
        "bucket",
        "redundancyType",
        "serverSideEncryptionRule.sseAlgorithm",
        "versioning.status",
        "lifecycleRules.0.abortMultipartUploads.0.days",
    ),
    "alicloud:oss/bucketAcl:BucketAcl": ("acl",),
    "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock": ("blockPublicAccess",),
    "alicloud:ecs/securityGroup:SecurityGroup": ("securityGroupName",),
    "alicloud:cs/managedKubernetes:ManagedKubernetes": (
        "name",
        "clusterSpec",
        "version",
        "deletionProtection",
        "enableRrsa",
        "slbInternetEnabled",
        "addons",
    ),
    "alicloud:slb/acl:Acl": ("name", "entryLists"),
    "alicloud:cs/nodePool:NodePool": (
        "nodePoolName",
        "instanceTypes",
        "desiredSize",
        "scalingConfig.minSize",
        "scalingConfig.maxSize",
        "labels",
        "taints",
        "spotStrategy",
        "systemDiskSize",
    ),
    "alicloud:cs/kubernetesAddon:KubernetesAddon": ("name",),
    "pulumi:providers:kubernetes": ("kubeconfig",),
    "kubernetes:core/v1:Namespace": ("metadata.name", "metadata.labels"),
    "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance": ("instanceName", "instanceType"),
    "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace": ("name", "defaultVisibility"),
    "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo": ("name", "repoType", "tagImmutability"),
    "alicloud:cr/namespace:Namespace": ("name", "defaultVisibility"),
    "alicloud:cr/repo:Repo": ("name", "repoType"),
    "alicloud:cr/vpcEndpointLinkedVpc:VpcEndpointLinkedVpc": ("moduleName", "vpcId"),
    "alicloud:cr/internetEndpoint:InternetEndpoint": ("entries",),
    "docker:index/image:Image": ("imageName", "build.platform", "registry.password"),
    "random:index/randomPassword:RandomPassword": ("length", "special"),
    "alicloud:pai/service:Service": ("status", "serviceConfig"),
    "pulumi-python:dynamic/eas:ServiceToken": ("region", "service_name"),
    "alicloud:ram/policy:Policy": ("policyName", "policyDocument"),
    "alicloud:ram/role:Role": ("roleName", "assumeRolePolicyDocument"),
    "alicloud:ram/rolePolicyAttachment:RolePolicyAttachment": ("roleName", "policyName"),
    "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer": ("loadBalancerName", "addressType"),
    "kubernetes:core/v1:Secret": ("metadata.name", "stringData"),
    "kubernetes:helm.sh/v3:Release": (
        "name",
        "chart",
        "values.model.servedName",
        "values.gpu.memGiB",
        "values.service.addressType",
        "values.replicas",
        "values.autoscaling.maxReplicas",
    ),
    "runpod:index:Template": ("name", "imageName", "isServerless"),
    "runpod:index:Endpoint": ("name", "gpuIds", "locations", "workersMin", "workersMax", "idleTimeout", "scalerType"),
    "pulumi:pulumi:StackReference": ("name",),
    "kubernetes:core/v1:ConfigMap": ("metadata.namespace", "metadata.name", "metadata.annotations"),
    "pulumi-python:dynamic/railway:ServiceVariables": (
        "api_url",
        "service_id",
        "token_type",
        "variables",
    ),
    "pulumi-python:dynamic/modal:App": (
        "app_name",
        "environment",
        "settings.COUNTERPART_GPU",
        "settings.COUNTERPART_REGION",
        "settings.COUNTERPART_MIN_CONTAINERS",
        "settings.COUNTERPART_MAX_CONTAINERS",
    ),
}

SIMULATION_NOTE = (
    "Simulated by the Pulumi SDK's mock engine; no cloud was called. Simulated values: the account id "
    f"({SIMULATED_ACCOUNT_ID}), zone ids looked up from the cloud (<region>-sim-*), "
    f"resource ids ({SIMULATED_ID_PREFIX}*), "
    "endpoints the cloud computes (OSS endpoints), the ACK cluster's RRSA OIDC provider and kubeconfig, registry "
    "push tokens, generated tokens, the tokens EAS generates for its services (`pulumi up` reads them back from EAS), "
    "image digests (no image was built or pushed: the digest hashes the build "
    "request), and counterpart endpoints (RunPod endpoint ids, Modal URLs under .invalid; nothing was deployed "
    "to RunPod or Modal). Names derived from the account id (bucket, registry) differ in a real deployment."
)


def ordered(synthesis: Synthesis) -> list[tuple[int, DeclaredResource]]:
    """Resources in tree order (each parent before its children, siblings by name), with their depth.

    Registration order depends on when Outputs resolve; the tree order does not, so plans stay stable.
    """
    by_parent: dict[str, list[DeclaredResource]] = {}
    urns = {r.urn for r in synthesis.resources}
    for resource in synthesis.resources:
        parent = resource.parent_urn if resource.parent_urn in urns else ""
        by_parent.setdefault(parent, []).append(resource)
    result: list[tuple[int, DeclaredResource]] = []

    def walk(parent: str, depth: int) -> None:
        for child in sorted(by_parent.get(parent, []), key=lambda r: (r.name, r.type)):
            result.append((depth, child))
            walk(child.urn, depth + 1)

    walk("", 0)
    return result


def short_type(token: str) -> str:
    """alicloud:vpc/network:Network -> alicloud:vpc:Network."""
    package, _, rest = token.partition(":")
    module, _, kind = rest.partition(":")
    return f"{package}:{module.split('/')[0]}:{kind}" if kind else token


def _lookup(inputs: Any, path: str) -> Any:
    value = inputs
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def key_settings(resource: DeclaredResource) -> str:
    return " ".join(key_setting_parts(resource))


def key_setting_parts(resource: DeclaredResource) -> list[str]:
    inputs = masked(resource.inputs)
    paths = KEY_SETTINGS.get(resource.type)
    if paths is None:
        paths = tuple(k for k, v in sorted(inputs.items()) if isinstance(v, (str, int, bool)))[:3]
    parts = []
    for path in paths:
        value = _lookup(inputs, path)
        if value is not None:
            parts.append(f"{path.split('.')[-1] if not path.split('.')[-1].isdigit() else path}={_scalar(value)}")
    return parts


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def region_cost(synthesis: Synthesis, prices: cost.PriceTable | None, latency: float) -> cost.RegionCost | None:
    """The cost of a region stack that synthesized; None for the router stack or a failed one."""
    if not synthesis.ok or "routerProviders" not in synthesis.outputs:  # region stacks, counterpart-only too
        return None
    return cost.region_cost(synthesis.outputs, prices or cost.load_prices(), latency)


def plan_document(
    config: StackConfig,
    synthesis: Synthesis,
    prices: cost.PriceTable | None = None,
    latency: float = cost.DEFAULT_LATENCY_SECONDS,
    violations: list[policy_check.Violation] | None = None,
) -> dict[str, Any]:
    """The plan as data: sorted, masked, free of timestamps, so the same input gives the same bytes.

    `violations` is the policy pack's verdict when the caller already has it; otherwise it is computed."""
    if violations is None:
        violations = policy_check.check_synthesis(synthesis)
    region_costs = region_cost(synthesis, prices, latency)
    names = {r.urn: r.name for r in synthesis.resources}
    resources = [
        {
            "type": r.type,
            "name": r.name,
            "parent": names.get(r.parent_urn, ""),
            "custom": r.custom,
            "read": r.read,
            "protect": r.protect,
            "inputs": masked(r.inputs),
            **({"secretDigest": d} if (d := _secrets_digest(r.inputs)) else {}),
        }
        for _, r in ordered(synthesis)
    ]
    by_type: dict[str, int] = {}
    for r in synthesis.resources:
        by_type[r.type] = by_type.get(r.type, 0) + 1
    secret_keys = set(config.secret_keys)
    warnings = sorted(set(synthesis.warnings) | set(config_warnings(config)))
    return {
        "format": PLAN_FORMAT,
        "stack": synthesis.stack,
        "ok": synthesis.ok,
        "error": credentials.redact(synthesis.error) if synthesis.error else None,
        "simulated": SIMULATION_NOTE,
        "config": {k: ("[secret]" if _hidden(k, v, secret_keys) else v) for k, v in sorted(config.values.items())},
        "placeholders": dict(sorted(config.placeholders.items())),
        # Fingerprints of secret values (ciphertext, placeholders, simulated values: nothing decrypted), so the
        # plan diff counts a changed secret as a change without showing it.
        "secretDigests": {
            "config": dict(sorted(config.secret_digests.items())),
            "outputs": {k: d for k, v in sorted(synthesis.outputs.items()) if (d := _secrets_digest(v))},
        },
        "resources": resources,
        "steps": preview_steps(synthesis),
        "outputs": masked(synthesis.outputs),
        "summary": {"resources": len(resources), "byType": dict(sorted(by_type.items()))},
        "cost": cost.as_json(region_costs) if region_costs else None,
        "warnings": warnings,
        "policies": {
            "pack": policy_check.PACK_NAME,
            "checked": [p.name for p in policy_check.ALL_POLICIES],
            "violations": [v.as_json() for v in violations],
        },
    }


def stack_urn(stack: str) -> str:
    """The URN of a stack's root resource, as Pulumi names it."""
    project = load_project_schema().project
    return f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"


def preview_steps(synthesis: Synthesis) -> list[dict[str, Any]]:
    """What the stack declares as the steps `pulumi preview --json` gives against an empty stack (its
    PreviewDigest's `steps`: op, urn, newState with type, inputs, parent, protect), so the plan diff reads an
    offline plan and a real preview the same way. Secrets are `[secret]`, as the CLI writes them."""
    root = stack_urn(synthesis.stack)
    steps = [{"op": "create", "urn": root, "newState": {"urn": root, "custom": False, "type": STACK_TYPE}}]
    for _, r in ordered(synthesis):
        urn = _engine_urn(r.urn)
        state: dict[str, Any] = {"urn": urn, "custom": r.custom, "type": r.type, "inputs": masked(r.inputs)}
        state["parent"] = _engine_urn(r.parent_urn) if r.parent_urn else root
        if r.protect:
            state["protect"] = True
        if r.read:
            state["external"] = True
        steps.append({"op": "read" if r.read else "create", "urn": urn, "newState": state})
    return steps


def _engine_urn(urn: str) -> str:
    """The URN as the Pulumi engine writes it: the SDK's mock monitor qualifies a top-level resource's type with
    the root stack's (`pulumi:pulumi:Stack$...`), the engine does not."""
    return urn.replace("::" + STACK_TYPE + "$", "::", 1)


def _secrets_digest(value: Any) -> str | None:
    """A fingerprint of the secret values inside `value`, or None when it holds none."""
    found: list[Any] = []
    _replacing_secrets(value, lambda secret: found.append(secret.value))
    return credentials.digest(found) if found else None


def _hidden(key: str, value: Any, secret_keys: set[str]) -> bool:
    """A config value the plan never shows: a secret, or anything that looks like a credential."""
    plain_keys = {f"{p}:{n}" for p, n in _plain_project_keys()}
    return (
        key in secret_keys
        or credentials.key_is_credential(key, plain_keys)
        or bool(credentials.value_credential_shape(value))
    )


def _plain_project_keys() -> list[tuple[str, str]]:
    schema = load_project_schema()
    return [(schema.project, name) for name, spec in schema.keys.items() if not spec.secret]


def config_warnings(config: StackConfig) -> list[str]:
    """What the plan says loudly about a stack's config that is allowed but risky."""
    project = load_project_schema().project
    values = config.values
    if values.get(f"{project}:stackRole", "region") == "router":
        return []
    bound = values.get(f"{project}:residencyBound") == "true"
    if values.get(f"{project}:allowCrossBorderFailover") == "true" and not bound:
        return [
            f"{config.stack}: allowCrossBorderFailover is true, so the router may send this region's traffic to"
            " providers outside its jurisdiction (the stack is not residencyBound); make sure no personal data"
            " that must stay in the jurisdiction reaches it"
        ]
    return []


def plan_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def cost_lines(region: cost.RegionCost) -> list[str]:
    """A region's cost as people read it: per provider, per month at min and max, per million inferences."""
    rows = [("PROVIDER", "WHAT", "MONTH AT MIN", "MONTH AT MAX", f"PER 1M @ {region.latency_seconds:g}s", "BASIS")]
    for line in region.lines:
        rows.append(
            (
                line.provider,
                line.what,
                line.month_min.short(),
                line.month_max.short(),
                line.per_million.short(),
                line.basis,
            )
        )
    rows.append(
        (
            "total",
            "",
            region.month_min.short(),
            region.month_max.short(),
            "",
            "known figure..upper end of bounded prices, + the unknown parts (named below)",
        )
    )
    saved = region.gpus_whole - region.gpus_packed
    lines = [
        "",
        f"Cost, {region.region} (USD; a month is {cost.HOURS_PER_MONTH} h):",
        *_columns(rows),
        *(  # a region with no GPU pool packs nothing
            [
                f"  cGPU packing: {plural(region.gpus_packed, 'GPU')} instead of"
                f" {plural(region.gpus_whole, 'whole GPU')}, {saved} saved,"
                f" {region.packing_saving_month.text()} a month"
            ]
            if region.gpus_whole
            else []
        ),
    ]
    if region.missing():
        lines.append(
            "  unknown until these prices are added to prices/prices.yaml (or a file given with --prices),"
            f" each with its unit, currency, source and date: {', '.join(region.missing())}"
        )
    lines.extend(region.notes)  # the cost at the expected volume (fleet/platform_cost.py)
    lines.extend(platform_cost.headline_lines([region], f"  Region {region.region}"))
    lines.extend(platform_cost.budget_lines(region))
    return lines


def study_lines(prices: cost.PriceTable) -> list[str]:
    scenario = cost.study_scenario(prices)
    lines = [
        "",
        "The Beacon study's scenario (3 models x 3 regions, 1M inferences per endpoint per year, 2 s each,"
        " T4-equivalent rates):",
    ]
    lines += [
        f"  {row['provider']:8} {row['arithmetic']}, ${row['perEndpointUsd']:,.0f} per endpoint  ({row['source']})"
        for row in scenario["rows"]
    ]
    lines.append(f"  {scenario['note']}")
    return lines


def plan_table(
    config: StackConfig,
    synthesis: Synthesis,
    prices: cost.PriceTable | None = None,
    violations: list[policy_check.Violation] | None = None,
) -> str:
    """A readable table of what the stack declares, its outputs with secrets masked, and what was simulated."""
    lines = [f"== stack {synthesis.stack} " + "=" * max(0, 90 - len(synthesis.stack))]
    if not synthesis.ok:
        lines.append(f"FAILED: {credentials.redact(synthesis.error or '')}")
        return "\n".join(fit("\n".join(lines).splitlines())) + "\n"
    rows: list[tuple[str, str, str, str, str | list[str]]] = [("TYPE", "NAME", "PARENT", "PROTECT", "KEY SETTINGS")]
    # Router configs are long: shown as tables and a diagram below, whole in the JSON plan.
    shown_outputs = {k: v for k, v in synthesis.outputs.items() if k not in ROUTER_OUTPUTS_SHOWN_BELOW}
    names = {r.urn: r.name for r in synthesis.resources}
    for depth, r in ordered(synthesis):
        rows.append(
            (
                "  " * depth + short_type(r.type),
                r.name,
                names.get(r.parent_urn, "(stack)"),
                "yes" if r.protect else ("read" if r.read else ""),
                key_setting_parts(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        head = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  "
        lines += _packed(head, [row[4]] if isinstance(row[4], str) else row[4])
    lines.append(
        plural(len(synthesis.resources), "resource") + f" (long settings cut; whole in plan/{synthesis.stack}.json)"
    )
    lines.append("")
    lines.append("Outputs (secrets masked):")
    for key, value in sorted(masked(shown_outputs).items()):
        lines.append(cut(f"  {key}: {_scalar(value)}"))
    if config.placeholders:
        lines.append("")
        lines.append("Secret placeholders (visible stand-ins, never values):")
        for key, why in sorted(config.placeholders.items()):
            lines.append(f"  {key}: {why}")
    lines.extend(_packing_lines(synthesis.outputs))
    lines.extend(_release_lines(synthesis.outputs))
    lines.extend(_weights_lines(synthesis.outputs))
    lines.extend(_counterpart_lines(synthesis.outputs))
    lines.extend(router_lines(synthesis.outputs))
    region_costs = region_cost(synthesis, prices, cost.DEFAULT_LATENCY_SECONDS)
    if region_costs:
        lines.extend(cost_lines(region_costs))
    lines.extend(policy_lines(policy_check.check_synthesis(synthesis) if violations is None else violations))
    warnings = sorted(set(synthesis.warnings) | set(config_warnings(config)))
    if warnings:
        lines.append("")
    for warning in warnings:
        lines.append(f"warning: {warning}")
    lines.append("")
    lines.append(SIMULATION_NOTE)
    return "\n".join(fit(lines)) + "\n"


def _packed(head: str, parts: list[str]) -> list[str]:
    """`head` then the parts, as many per line as fit MAX_LINE, continuation lines aligned under the first part;
    a part too long for a line of its own is cut."""
    room = max(MAX_LINE - len(head), 40)
    lines: list[str] = []
    current = ""
    for part in (cut(p, room) for p in parts):
        if current and len(current) + 1 + len(part) > room:
            lines.append(current)
            current = part
        else:
            current = f"{current} {part}" if current else part
    lines.append(current)
    return [cut((head if i == 0 else " " * len(head)) + line).rstrip() for i, line in enumerate(lines)]


ROUTER_OUTPUTS_SHOWN_BELOW = ("routerConfig", "routerMermaid")


def policy_lines(found: list[policy_check.Violation]) -> list[str]:
    """The policy pack's verdict, as `pulumi preview --policy-pack policy` would give it."""
    count = len(policy_check.ALL_POLICIES)
    if not found:
        return ["", f"Policy pack {policy_check.PACK_NAME}: all {count} policies pass"]
    lines = ["", f"Policy pack {policy_check.PACK_NAME}: {plural(len(found), 'violation')}"]
    lines += [f"  [{v.enforcement}] {v.policy}: {v.resource or '(stack)'}: {v.message}" for v in found]
    return lines


def router_lines(outputs: dict[str, Any]) -> list[str]:
    """The router stack's merged config as people read it: routes, providers (credentials by name only), and
    the routes as a Mermaid diagram."""
    config = outputs.get("routerConfig")
    if not isinstance(config, dict):
        return []
    providers = config["providers"]
    routes = [("REGION", "MODEL", "FAILOVER ORDER")]
    for label, by_model in sorted(config["routes"].items()):
        for model, chain in sorted(by_model.items()):
            routes.append(
                (label, model, " -> ".join(f"{providers[p]['type']}@{providers[p]['cloud_region']}" for p in chain))
            )
    table = [("PROVIDER", "TYPE", "NETWORK", "BORDER", "TIMEOUT", "HEALTH", "CREDENTIAL ENV")]
    for pid, provider in sorted(providers.items()):
        auth = provider["auth"]
        table.append(
            (
                pid,
                provider["type"],
                provider["network"],
                "cross-border" if provider["cross_border"] else "",
                f"{provider['timeout']}s",
                provider["health"]["mode"],
                ",".join(v for k, v in sorted(auth.items()) if k.endswith("env")),
            )
        )
    unrouted = sorted(
        set(providers) - {p for by_model in config["routes"].values() for c in by_model.values() for p in c}
    )
    lines = [
        "",
        f"Router config (version {config['version']}): {plural(len(providers), 'provider')},"
        f" {plural(sum(len(m) for m in config['routes'].values()), 'route')}; credentials by variable name only",
        *_columns(routes),
        "",
        *_columns(table),
    ]
    if unrouted:
        lines.append(
            f"  in no route (kept for comparison runs; residency forbids failing over to them): {', '.join(unrouted)}"
        )
    mermaid = outputs.get("routerMermaid")
    if isinstance(mermaid, str):
        lines += ["", "Routes (Mermaid):", "```mermaid", *mermaid.rstrip("\n").splitlines(), "```"]
    return lines


def _packing_lines(outputs: dict[str, Any]) -> list[str]:
    """The cGPU packing as people read it: which slices share which GPU, and what sharing saves."""
    packing = outputs.get("gpuPacking")
    if not isinstance(packing, dict):
        return []
    lines = [
        "",
        f"GPU packing ({packing['gpu']}, minimum replicas): {plural(packing['gpusNeeded'], 'GPU')} instead of"
        f" {plural(packing['wholeGpuPerReplica'], 'whole GPU')}, {packing['gpusSaved']} saved",
    ]
    for gpu in packing["gpus"]:
        lines.append(
            f"  GPU {gpu['index']}: {', '.join(gpu['slices'])}  used {gpu['usedGiB']} GiB, free {gpu['freeGiB']} GiB"
        )
    return lines


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned columns, the last one left ragged and wrapped under itself to fit MAX_LINE."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        head = "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  "
        room = max(MAX_LINE - len(head), 30)
        last = textwrap.wrap(row[-1], room, break_on_hyphens=False) or [""]
        lines.append(cut(head + last[0]))
        lines += [cut(" " * len(head) + more) for more in last[1:]]
    return lines


def _release_lines(outputs: dict[str, Any]) -> list[str]:
    """Each model's Helm release on ACK: its GPU slice and where the router reaches it."""
    releases = outputs.get("ackEndpoints")
    if not isinstance(releases, dict) or not releases:
        return []
    rows = [("MODEL", "RELEASE", "NAMESPACE", "GPU SLICE", "EXPOSURE", "ENDPOINT")]
    for model_id, release in sorted(releases.items()):
        rows.append(
            (
                model_id,
                release["release"],
                release["namespace"],
                f"{release['gpuMemGiB']} GiB",
                release["exposure"],
                str(release["url"]),
            )
        )
    return ["", "Inference releases on ACK (charts/inference-server):", *_columns(rows)]


def _weights_lines(outputs: dict[str, Any]) -> list[str]:
    """Which weights each model serves here: the hub the region copies from, the pinned revision, the digest."""
    synced = outputs.get("weights")
    if not isinstance(synced, dict) or not synced:
        return []
    rows = [("MODEL", "SOURCE", "REVISION", "MANIFEST DIGEST (in full in plan/<stack>.json)")]
    for model_id, pinned in sorted(synced.items()):
        source = str(pinned["source"]).rsplit("@", 1)[0]
        kind, _, digest = str(pinned["digest"]).rpartition(":")
        rows.append((model_id, source, str(pinned["revision"])[:12], f"{kind}:{digest[:16]}…"))
    where = (
        "synced into the bucket and verified before serving"
        if "modelBucket" in outputs
        else "pinned for its counterpart and partner, which fetch or host them (no bucket here)"
    )
    return ["", f"Model weights, {where} (weights/manifests):", *_columns(rows)]


def _counterpart_lines(outputs: dict[str, Any]) -> list[str]:
    """The counterpart outside Alibaba, a row per mirrored model: where it runs, on what, how it scales."""
    counterpart = outputs.get("counterpart")
    if not isinstance(counterpart, dict) or not counterpart.get("models"):
        return []
    scaling = counterpart["scaling"]
    scale = f"{scaling['minWorkers']}..{scaling['maxWorkers']} workers, idle {scaling['idleTimeoutSeconds']}s"
    where = ",".join(counterpart["locations"])
    jurisdiction = ",".join(counterpart["jurisdictions"])
    border = "cross-border" if counterpart["crossBorder"] else "in-jurisdiction"
    rows = [("MODEL", "PROVIDER", "LOCATION", "GPU", "SCALING", "BASE URL")]
    for model_id, urls in sorted(counterpart["models"].items()):
        rows.append((model_id, counterpart["provider"], where, ",".join(counterpart["gpus"]), scale, urls["baseUrl"]))
    return [
        "",
        f"Counterpart ({counterpart['provider']}, jurisdiction {jurisdiction}, {border},"
        f" request timeout {counterpart['requestTimeoutSeconds']}s):",
        *_columns(rows),
    ]
