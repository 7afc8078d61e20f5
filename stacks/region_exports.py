"""A region stack's outputs: what operators read, and this region's entry for the router stack.

The router entry is built from the same values the stack exports, by the pure fleet.router_entry.region_entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.ack_cluster import AckCluster
from components.cost_budget import CostBudget, CostBudgetArgs
from components.eas_model_service import EasModelService
from components.fc_model_function import FcModelFunction
from components.inference_release import InferenceRelease
from components.model_bucket import ModelBucket
from components.model_read_access import ModelReadAccess
from components.model_weights import ModelWeights
from components.region_network import RegionNetwork
from components.serving_image import ServingImage
from components.serving_registry import ServingRegistry
from fleet import (
    capacity,
    cost,
    fc,
    inference_chart,
    kinds,
    platform_cost,
    router_entry,
    serving,
    weights,
    weights_manifest,
)
from fleet.settings import RegionSettings
from fleet.settings import partner as partner_settings
from fleet.settings.source import secret


@dataclass(frozen=True)
class Counterpart:
    view: dict[str, Any]  # the counterpart as the router reads it (fleet.counterparts.router_view)
    secrets: dict[str, pulumi.Output[str]]  # router environment variable -> credential, each a secret


@dataclass(frozen=True)
class RegionResources:
    """What a region stack declared, for its outputs."""

    zones: Sequence[str]
    network: RegionNetwork
    models: ModelBucket
    registry: ServingRegistry
    image: ServingImage
    access: ModelReadAccess
    cluster: AckCluster | None
    eas_services: Sequence[EasModelService]
    releases: Mapping[str, InferenceRelease]  # by model id
    counterpart: Counterpart | None
    weights: Mapping[str, ModelWeights]  # by model id; empty when nothing is served on Alibaba Cloud
    fc_functions: Mapping[str, FcModelFunction] = dataclasses.field(default_factory=dict)  # by model id


def export_region(settings: RegionSettings, declared: RegionResources) -> None:
    export = _Exports()
    image = declared.image
    counterpart = declared.counterpart
    export("region", settings.region)
    export("routerRegion", settings.router_region)
    residency = residency_view(settings)
    export("residency", residency)
    if counterpart is not None:
        export("counterpart", counterpart.view)
        export("counterpartSecrets", pulumi.Output.secret(counterpart.secrets))
    partner = _export_partner(settings, export)
    export("zones", list(declared.zones))
    export("vpcId", declared.network.vpc_id)
    export("nodeVswitchIds", declared.network.node_vswitch_ids)
    export("modelBucket", declared.models.bucket_name)
    export("modelBucketIntranetEndpoint", declared.models.intranet_endpoint)
    export("gpuPacking", capacity.region_packing(settings).as_output())
    _export_models_and_workload(settings, export)
    if declared.weights:
        # Which weights each endpoint serves: where they came from, the pinned revision, the manifest's digest.
        export(
            "weights",
            {
                model_id: {"source": w.source, "revision": w.revision, "digest": w.digest, "uri": w.uri}
                for model_id, w in declared.weights.items()
            },
        )
    export(
        "registry",
        {
            "edition": settings.registry.edition,
            "publicDomain": declared.registry.domains.public,
            "vpcDomain": declared.registry.domains.vpc,
            "repository": declared.registry.repository_path,
            "instanceType": settings.registry.instance_type if settings.registry.edition == "enterprise" else "",
        },
    )
    export("servingImage", {"tag": image.tag, "digest": image.repo_digest, "vpcImage": image.vpc_image})
    export("modelAccessRoles", {"servingPods": declared.access.serving_role_arn})
    eas_endpoints = {
        s.model_id: {
            "service": s.service_name,
            "vpcUrl": s.vpc_url,
            "publicUrl": s.public_url or "",
            "publicEndpoint": s.public_url is not None,
            "instanceType": s.plan.instance_type,
            "autoscaler": {"min": s.plan.min_replicas, "max": s.plan.max_replicas, "qps": s.plan.qps_target},
            "modelMount": f"{weights.weights_uri(s.plan.bucket, s.model_id)} (read-only)",
            "image": image.vpc_image,
        }
        for s in declared.eas_services
    }
    fc_endpoints = {
        f.model_id: {
            "function": f.function_name,
            "url": f.url,
            "gpuType": f.plan.gpu_type,
            "gpuMemoryMB": f.plan.gpu_memory_mb,
            "vcpu": fc.VCPU,
            "memoryMB": fc.MEMORY_MB,
            "diskMB": fc.DISK_MB,
            "instances": {"min": 0, "max": f.plan.max_instances},
            # The first request after scale-to-zero waits this long; the router's timeout covers it.
            "coldStartSeconds": f.plan.cold_start_seconds,
            "auth": "Authorization: Bearer <key>, checked by vLLM in the function (the trigger is anonymous)",
            "modelMount": f"{weights.weights_uri(f.plan.bucket, f.model_id)} (read-only)",
            "image": image.vpc_image,
        }
        for f in declared.fc_functions.values()
    }
    served = {m.id: m for m in settings.models}
    ack_endpoints = {
        model_id: {
            "release": r.release_name,
            "namespace": serving.SERVING_NAMESPACE,
            "url": r.url,
            "exposure": settings.ack_serving.exposure,
            "gpuMemGiB": inference_chart.memory_estimate(settings, served[model_id]).slice_gib,
            # KEDA's HTTP add-on starts the model on its first request; that request waits this long at most.
            "scalesToZero": inference_chart.scales_to_zero(settings),
            "coldStartSeconds": inference_chart.cold_start_seconds(settings, served[model_id]),
        }
        for model_id, r in declared.releases.items()
    }
    endpoints = {"eas": eas_endpoints, "ack": ack_endpoints, "fc": fc_endpoints}
    view = {
        "weights": weights_served(settings),
        "region": settings.region,
        "routerRegion": settings.router_region,
        "residency": residency,
        # Each Alibaba kind's endpoints under its output key (fleet/kinds.py), as the router entry reads them.
        **{kind.output_key: endpoints[kind.platform] for kind in kinds.ALIBABA},
        "counterpart": counterpart.view if counterpart else None,
        PARTNER.output_key: partner,
    }
    _export_router_entry(settings, view, router_secrets(settings, declared), export)
    if declared.fc_functions:
        export("fcEndpoints", fc_endpoints)
        export("fcApiKeys", pulumi.Output.secret({m: f.api_key for m, f in declared.fc_functions.items()}))
    # What the cost view prices beyond the serving platforms (fleet/cost.py): one load balancer per ACK model,
    # plus the ACK API server's (ACK Pro bills its CLB to the account).
    export(
        "loadBalancers",
        {"clb": len(declared.releases) + (1 if declared.cluster is not None else 0)},
    )
    if declared.eas_services:
        export("easEndpoints", eas_endpoints)
        export("easTokens", pulumi.Output.secret({s.model_id: s.token for s in declared.eas_services}))
    if declared.cluster is not None:
        _export_kubernetes(settings, declared.cluster, export)
        export("ackEndpoints", ack_endpoints)
        export("ackApiKeys", pulumi.Output.secret({m: r.api_key for m, r in declared.releases.items()}))
    declare_budget(settings, export.plain)


class _Exports:
    """pulumi.export, also keeping each value's plain part (every Output left out) for the cost view."""

    def __init__(self) -> None:
        self.plain: dict[str, Any] = {}

    def __call__(self, name: str, value: Any) -> None:
        pulumi.export(name, value)
        self.plain[name] = _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return None  # known only once the cloud answers; the cost view reads none of these
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def declare_budget(settings: RegionSettings, exported: Mapping[str, Any]) -> CostBudget | None:
    """The region's cost view (fleet/cost.py over what the stack exports, at the committed prices) held beside
    yearlyBudgetUsd, as a resource the policy pack refuses when over (`pulumi preview` sees it; the plan's
    `--prices` files do not reach a preview, so the committed table is the one both agree on)."""
    if settings.workload is None:
        return None
    region = cost.region_cost(exported, cost.load_prices())
    view = platform_cost.budget_view(region)
    workload = region.workload or {}
    platforms = workload.get("platforms") or {}
    dearest = sorted(platforms, key=lambda name: platforms[name]["month"].usd, reverse=True)[:2]
    year = region.year()
    return CostBudget(
        "cost-budget",
        CostBudgetArgs(
            region=settings.region or settings.router_region,
            known_yearly_usd=year.usd,
            yearly_budget_usd=settings.workload.yearly_budget_usd,
            ceiling_yearly_usd=region.month_max.times(12).usd,
            requests_per_month=int(workload.get("requestsPerMonth") or 0),
            requests_per_job=int(workload.get("requestsPerJob") or 1),
            unknown_parts=tuple(year.missing),
            dearest=tuple(f"{name} {platforms[name]['month'].text()} a month" for name in dearest),
            cheapest_placement=workload.get("cheapest") or "",
            maxima=(view or {}).get("allowedMaxima", {}),
            price_source=str(cost.PRICES_PATH.relative_to(cost.PRICES_PATH.parents[1])),
        ),
    )


def weights_served(settings: RegionSettings) -> dict[str, dict[str, str]]:
    """Per model, the pinned revision and the committed manifest's digest (a quantization vLLM applies as it
    loads makes it other weights: fleet.weights.served_digest): the same on every provider."""
    manifests = {m.id: (weights_manifest.load(m.id), m.dtype) for m in settings.models}
    return {
        model_id: {"revision": m.revision, "digest": weights.served_digest(m.digest, dtype)}
        for model_id, (m, dtype) in manifests.items()
    }


def residency_view(settings: RegionSettings) -> dict[str, Any]:
    return {
        "jurisdiction": settings.residency.jurisdiction,
        "mainland": settings.residency.mainland,
        "residencyBound": settings.residency.residency_bound,
        "allowCrossBorderFailover": settings.residency.allow_cross_border_failover,
        "icpLicence": settings.residency.icp_licence,
    }


def router_secrets(settings: RegionSettings, declared: RegionResources) -> dict[str, Any]:
    """Every credential the router needs for this region, by the environment variable the config names."""
    made = {
        "eas": {s.model_id: s.token for s in declared.eas_services},
        "ack": {model_id: r.api_key for model_id, r in declared.releases.items()},
        "fc": {model_id: f.api_key for model_id, f in declared.fc_functions.items()},
    }
    return {
        **{
            kind.env_names(settings.router_region, model_id)[0]: credential
            for kind in kinds.ALIBABA
            for model_id, credential in made[kind.platform].items()
        },
        **partner_secrets(settings),
        **(declared.counterpart.secrets if declared.counterpart else {}),
    }


def export_without_alibaba(settings: RegionSettings, counterpart: Counterpart | None) -> None:
    """A region served only by its counterpart or a partner: where it runs (`region`: its alicloud:region, or ''
    when it has none), its residency, models, the weights its providers serve, cost inputs and router entry;
    nothing on Alibaba Cloud."""
    export = _Exports()
    export("region", settings.region)
    export("routerRegion", settings.router_region)
    residency = residency_view(settings)
    export("residency", residency)
    if counterpart is not None:
        export("counterpart", counterpart.view)
        export("counterpartSecrets", pulumi.Output.secret(counterpart.secrets))
    partner = _export_partner(settings, export)
    _export_models_and_workload(settings, export)
    served = weights_served(settings)
    # Which weights its providers serve: the pinned revision and the committed manifest's digest, as every
    # provider of the model serves them. Nothing here copies them into a bucket: the counterpart fetches the
    # pinned revision from the hub itself, a partner serves it by agreement.
    models = {m.id: m for m in settings.models}
    export(
        "weights",
        {
            model_id: {"source": f"huggingface:{models[model_id].spec.hf_repo}@{pinned['revision']}", **pinned}
            for model_id, pinned in served.items()
        },
    )
    view = {
        "weights": served,
        "region": settings.region,
        "routerRegion": settings.router_region,
        "residency": residency,
        "counterpart": counterpart.view if counterpart else None,
        PARTNER.output_key: partner,
    }
    secrets = {**partner_secrets(settings), **(counterpart.secrets if counterpart else {})}
    _export_router_entry(settings, view, secrets, export)
    declare_budget(settings, export.plain)


PARTNER = kinds.BY_PLATFORM["partner"]


def _export_partner(settings: RegionSettings, export: _Exports) -> dict[str, Any] | None:
    if settings.partner is None:
        return None
    view = partner_settings.router_view(settings.partner)
    export(PARTNER.output_key, view)
    return view


def partner_secrets(settings: RegionSettings) -> dict[str, pulumi.Output[str]]:
    """The router's variable for the partner's key, from its secret config key (fleet/kinds.py)."""
    if settings.partner is None:
        return {}
    names = PARTNER.env_names(settings.router_region, "")
    return {name: secret(key) for name, key in zip(names, PARTNER.secret_keys, strict=True)}


def _export_router_entry(
    settings: RegionSettings, view: dict[str, Any], secrets: Mapping[str, Any], export: _Exports
) -> None:
    export(
        "routerProviders",
        pulumi.Output.from_input(view).apply(lambda v: router_entry.region_entry(v, settings.failover_order)),
    )
    export("routerSecrets", pulumi.Output.secret(dict(secrets)))


def _export_models_and_workload(settings: RegionSettings, export: _Exports) -> None:
    export(
        "models",
        [
            {
                "id": m.id,
                "dtype": m.dtype,
                "hfRepo": m.spec.hf_repo,
                "revision": m.spec.revision,
                # The planner's estimate of the weights' size (parameters x bytes): what the bucket stores.
                "weightsGiB": round(
                    capacity.estimate_memory(
                        m.spec, m.dtype, settings.max_context_tokens, settings.max_concurrent_sequences
                    ).weights_gib,
                    2,
                ),
            }
            for m in settings.models
        ],
    )
    if settings.workload is not None:
        export(
            "workload",
            {
                # The region's requests, all models together (the cost view's volume), and each model's.
                "requestsPerMonth": settings.workload.requests_per_month * len(settings.models),
                "requestsPerModelPerMonth": settings.workload.requests_per_month,
                "secondsPerRequest": settings.workload.seconds_per_request,
                "requestsPerJob": settings.workload.requests_per_job,
                "costWarningMultiple": settings.workload.cost_warning_multiple,
                "yearlyBudgetUsd": settings.workload.yearly_budget_usd,
                "servingPlatforms": list(settings.serving_platforms),
                "failoverOrder": list(settings.failover_order),
            },
        )


def _export_kubernetes(settings: RegionSettings, cluster: AckCluster, export: _Exports) -> None:
    export(
        "kubernetes",
        {
            "clusterId": cluster.cluster_id,
            "version": settings.kubernetes.version,
            "servingNamespace": serving.SERVING_NAMESPACE,
            "apiServerPublic": bool(settings.kubernetes.deployer_cidrs),
            # Instance types in the order the pool tries them; the cost view prices the first.
            "gpuPool": {**capacity.gpu_pool_size(settings), "instanceTypes": list(settings.gpu.instance_types)},
            "systemPool": {
                "nodes": settings.kubernetes.system_node_count,
                "instanceTypes": list(settings.kubernetes.system_instance_types),
            },
            "clusterSpec": "ack.pro.small",
        },
    )
    if cluster.api_server_acl_id is not None:
        export(
            "apiServerAclAttachCommand",
            pulumi.Output.all(cluster.api_server_slb_id, cluster.api_server_acl_id).apply(
                lambda ids: (
                    f"aliyun slb SetLoadBalancerTCPListenerAttribute --RegionId {settings.region}"
                    f" --LoadBalancerId {ids[0]} --ListenerPort 6443 --AclStatus on --AclType white"
                    f" --AclId {ids[1]}"
                )
            ),
        )
