"""Plans for people (tables) and for tools (JSON that is byte-identical for the same input)."""

from __future__ import annotations

import json
from typing import Any

from fleet import cost
from offline import policy_check
from offline.engine import DeclaredResource, Synthesis, masked
from offline.simulated_cloud import SIMULATED_ACCOUNT_ID, SIMULATED_ID_PREFIX
from offline.stack_files import StackConfig

PLAN_FORMAT = "beacon-fleet-plan/1"

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
    "push tokens, generated tokens, image digests (no image was built or pushed: the digest hashes the build "
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
    inputs = masked(resource.inputs)
    paths = KEY_SETTINGS.get(resource.type)
    if paths is None:
        paths = tuple(k for k, v in sorted(inputs.items()) if isinstance(v, (str, int, bool)))[:3]
    parts = []
    for path in paths:
        value = _lookup(inputs, path)
        if value is not None:
            parts.append(f"{path.split('.')[-1] if not path.split('.')[-1].isdigit() else path}={_scalar(value)}")
    return " ".join(parts)


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
        }
        for _, r in ordered(synthesis)
    ]
    by_type: dict[str, int] = {}
    for r in synthesis.resources:
        by_type[r.type] = by_type.get(r.type, 0) + 1
    secret_keys = set(config.secret_keys)
    return {
        "format": PLAN_FORMAT,
        "stack": synthesis.stack,
        "ok": synthesis.ok,
        "error": synthesis.error,
        "simulated": SIMULATION_NOTE,
        "config": {k: ("[secret]" if k in secret_keys else v) for k, v in sorted(config.values.items())},
        "placeholders": dict(sorted(config.placeholders.items())),
        "resources": resources,
        "outputs": masked(synthesis.outputs),
        "summary": {"resources": len(resources), "byType": dict(sorted(by_type.items()))},
        "cost": cost.as_json(region_costs) if region_costs else None,
        "warnings": sorted(set(synthesis.warnings)),
        "policies": {
            "pack": policy_check.PACK_NAME,
            "checked": [p.name for p in policy_check.ALL_POLICIES],
            "violations": [v.as_json() for v in violations],
        },
    }


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
                line.month_min.text(),
                line.month_max.text(),
                line.per_million.text(),
                line.basis,
            )
        )
    rows.append(("total", "", region.month_min.text(), region.month_max.text(), "", "unknown if any part is"))
    saved = region.gpus_whole - region.gpus_packed
    lines = [
        "",
        f"Cost, {region.region} (USD; a month is {cost.HOURS_PER_MONTH} h):",
        *_columns(rows),
        f"  cGPU packing: {region.gpus_packed} GPU(s) instead of {region.gpus_whole} whole GPUs, {saved} saved,"
        f" {region.packing_saving_month.text()} a month",
    ]
    if region.missing():
        lines.append(
            "  unknown until these prices are added to prices/prices.yaml (or a file given with --prices),"
            f" each with its unit, currency, source and date: {', '.join(region.missing())}"
        )
    lines.extend(region.notes)  # the cost at the expected volume (fleet/platform_cost.py)
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
        lines.append(f"FAILED: {synthesis.error}")
        return "\n".join(lines) + "\n"
    rows = [("TYPE", "NAME", "PARENT", "PROTECT", "KEY SETTINGS")]
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
                key_settings(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    lines.append(f"{len(synthesis.resources)} resources")
    lines.append("")
    lines.append("Outputs (secrets masked):")
    for key, value in sorted(masked(shown_outputs).items()):
        lines.append(f"  {key}: {_scalar(value)}")
    if config.placeholders:
        lines.append("")
        lines.append("Secret placeholders (visible stand-ins, never values):")
        for key, why in sorted(config.placeholders.items()):
            lines.append(f"  {key}: {why}")
    lines.extend(_packing_lines(synthesis.outputs))
    lines.extend(_release_lines(synthesis.outputs))
    lines.extend(_counterpart_lines(synthesis.outputs))
    lines.extend(router_lines(synthesis.outputs))
    region_costs = region_cost(synthesis, prices, cost.DEFAULT_LATENCY_SECONDS)
    if region_costs:
        lines.extend(cost_lines(region_costs))
    lines.extend(policy_lines(policy_check.check_synthesis(synthesis) if violations is None else violations))
    if synthesis.warnings:
        lines.append("")
    for warning in sorted(set(synthesis.warnings)):
        lines.append(f"warning: {warning}")
    lines.append("")
    lines.append(SIMULATION_NOTE)
    return "\n".join(lines) + "\n"


ROUTER_OUTPUTS_SHOWN_BELOW = ("routerConfig", "routerMermaid")


def policy_lines(found: list[policy_check.Violation]) -> list[str]:
    """The policy pack's verdict, as `pulumi preview --policy-pack policy` would give it."""
    count = len(policy_check.ALL_POLICIES)
    if not found:
        return ["", f"Policy pack {policy_check.PACK_NAME}: all {count} policies pass"]
    lines = ["", f"Policy pack {policy_check.PACK_NAME}: {len(found)} violations"]
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
        f"Router config (version {config['version']}): {len(providers)} providers,"
        f" {sum(len(m) for m in config['routes'].values())} routes; credentials by variable name only",
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
        lines += ["", "Routes (Mermaid):", "```mermaid", mermaid.rstrip("\n"), "```"]
    return lines


def _packing_lines(outputs: dict[str, Any]) -> list[str]:
    """The cGPU packing as people read it: which slices share which GPU, and what sharing saves."""
    packing = outputs.get("gpuPacking")
    if not isinstance(packing, dict):
        return []
    lines = [
        "",
        f"GPU packing ({packing['gpu']}, minimum replicas): {packing['gpusNeeded']} GPU(s) instead of"
        f" {packing['wholeGpuPerReplica']} whole GPUs, {packing['gpusSaved']} saved",
    ]
    for gpu in packing["gpus"]:
        lines.append(
            f"  GPU {gpu['index']}: {', '.join(gpu['slices'])}  used {gpu['usedGiB']} GiB, free {gpu['freeGiB']} GiB"
        )
    return lines


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned columns, the last one left ragged."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1] for row in rows]


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
