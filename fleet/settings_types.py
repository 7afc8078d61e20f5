"""The settings' types: what fleet/settings/ parses a stack's config into, as frozen dataclasses of plain data.

They sit below everything that uses them: the planners (capacity, eas, fc, counterparts, inference_chart, ...)
take these types, and the settings (fleet/settings/), which validate with the planners, build them. Nothing
here validates or imports a planner or the settings, so neither imports the other in a circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fleet import catalog, gpus, kinds, residency

# The node label value cGPU reads for each isolation mode (ack.node.gpu.schedule).
GPU_ISOLATION_LABELS = {"memory": "cgpu", "memory-and-compute": "core_mem"}


@dataclass(frozen=True)
class Residency:
    jurisdiction: str
    mainland: bool
    residency_bound: bool
    allow_cross_border_failover: bool
    icp_licence: str


@dataclass(frozen=True)
class NetworkSettings:
    vpc_cidr: str
    zones: tuple[str, ...]  # explicit zone ids; empty means look them up
    zone_count: int
    node_vswitch_cidrs: tuple[str, ...]  # one per zone, in zone order
    pod_vswitch_cidrs: tuple[str, ...]  # Terway pod vSwitches, one per zone, after the node ones


@dataclass(frozen=True)
class ServedModel:
    spec: catalog.ModelSpec
    dtype: str

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class GpuChoice:
    instance_types: tuple[str, ...]
    family: gpus.GpuFamily
    isolation: str = "memory"
    spot: bool = False
    system_disk_gib: int = 200

    @property
    def schedule_label(self) -> str:
        return GPU_ISOLATION_LABELS[self.isolation]


@dataclass(frozen=True)
class Scaling:
    min_replicas: int
    max_replicas: int


@dataclass(frozen=True)
class KubernetesSettings:
    version: str
    service_cidr: str
    deployer_cidrs: tuple[str, ...]  # empty: API server reachable from the VPC only
    system_instance_types: tuple[str, ...]
    system_node_count: int


@dataclass(frozen=True)
class AckServingSettings:
    """How the router reaches models served on ACK: a load balancer per model, allowlisted, TLS when public."""

    exposure: str  # intranet | internet
    allowed_cidrs: tuple[str, ...]
    tls_cert_id: str  # empty: HTTP, VPC only

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert_id else "http"

    @property
    def port(self) -> int:
        return 443 if self.tls_cert_id else 80


@dataclass(frozen=True)
class BucketSettings:
    redundancy: str
    kms_key_id: str
    incomplete_upload_expiry_days: int


@dataclass(frozen=True)
class RegistrySettings:
    edition: str
    instance_type: str
    username: str  # Personal Edition only


@dataclass(frozen=True)
class ImageSettings:
    base_image: str  # a reference, or "" when the base comes from the region's own registry (below)
    package_index: str
    # (namespace, repository, tag) on Docker Hub that the region's ACR Enterprise instance syncs in by artifact
    # subscription, so a mainland build pulls its base from Alibaba, not from Docker Hub or a third-party mirror.
    base_subscription: tuple[str, str, str] | None = None
    apt_mirror: str = ""  # replaces deb.debian.org in the build; "" keeps Debian's own servers


@dataclass(frozen=True)
class EasSettings:
    instance_type: str
    family: gpus.GpuFamily
    qps_target: int


@dataclass(frozen=True)
class FcSettings:
    gpu_type: str
    max_instances: int  # per model; the minimum is always 0 (scale to zero)


@dataclass(frozen=True)
class Workload:
    requests_per_month: int  # each model's expected requests a month in the region
    seconds_per_request: float
    cost_warning_multiple: float  # warn when the declared platforms cost more than this times the cheapest
    yearly_budget_usd: float | None = None  # the plan fails above it (fleet/platform_cost.budget_view)
    requests_per_job: int = 1  # requests one job sends each model at once (idle and cold starts: once a job)


@dataclass(frozen=True)
class CounterpartSettings:
    provider: str  # runpod or modal
    locations: tuple[str, ...]
    gpus: tuple[str, ...]
    model_ids: tuple[str, ...]
    min_workers: int
    max_workers: int
    idle_timeout_seconds: int
    request_timeout_seconds: int
    jurisdictions: tuple[str, ...]
    cross_border: bool  # outside the region's jurisdiction: residency-bound traffic may not go there
    runpod_worker_image: str
    runpod_hf_token_secret: str
    modal_environment: str
    modal_hf_secret: str


@dataclass(frozen=True)
class PartnerSettings:
    name: str
    base_url: str  # OpenAI-compatible base, https, without a trailing slash
    jurisdiction: str  # where the partner hosts it, as the agreement says
    model_ids: tuple[str, ...]
    request_timeout_seconds: int
    cross_border: bool  # outside the region's jurisdiction


@dataclass(frozen=True)
class RegionSettings:
    project: str
    stack: str
    region: str
    router_region: str
    name_prefix: str
    owner: str
    residency: Residency
    network: NetworkSettings
    models: tuple[ServedModel, ...]
    catalog: Mapping[str, catalog.ModelSpec]
    serving_platforms: tuple[str, ...]
    max_context_tokens: int
    max_concurrent_sequences: int
    gpu: GpuChoice
    scaling: Scaling
    bucket: BucketSettings
    kubernetes: KubernetesSettings
    ack_serving: AckServingSettings
    registry: RegistrySettings
    image: ImageSettings
    eas: EasSettings
    counterpart: CounterpartSettings | None
    failover_order: tuple[str, ...] = kinds.FAILOVER_STEPS
    fc: FcSettings | None = None
    workload: Workload | None = None
    partner: PartnerSettings | None = None

    def serves_on(self, platform: str) -> bool:
        return platform in self.serving_platforms

    @property
    def tags(self) -> dict[str, str]:
        """Tags every taggable resource carries; the policy pack requires project, stack and owner."""
        return {
            "project": self.project,
            "stack": self.stack,
            "region": self.region,
            "jurisdiction": self.residency.jurisdiction,
            "owner": self.owner,
            "managed-by": "pulumi",
        } | ({residency.ICP_TAG: self.residency.icp_licence} if self.residency.icp_licence else {})


@dataclass(frozen=True)
class RailwayTarget:
    api_url: str
    project_id: str
    environment_id: str
    service_id: str
    token_type: str  # project | account

    def ids(self) -> dict[str, str]:
        return {
            "railwayProjectId": self.project_id,
            "railwayEnvironmentId": self.environment_id,
            "railwayServiceId": self.service_id,
        }


@dataclass(frozen=True)
class RouterSettings:
    project: str
    stack: str
    region_stacks: tuple[str, ...]
    publish_targets: tuple[str, ...]
    namespace: str
    railway: RailwayTarget | None
    # The region stack (one of region_stacks) whose VPC the kubernetes target's router runs in; '' = unknown,
    # then the in-cluster router is trusted with internet endpoints only (fleet/router_reach.py).
    kubernetes_region_stack: str = ""
    # The newest router config schema version the published routers accept (schemas/router-config.v<N>.json).
    accepted_schema_version: int = 1

    def publishes_to(self, target: str) -> bool:
        return target in self.publish_targets
