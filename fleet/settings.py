"""Read a stack's config once into frozen, typed settings, validating everything before anything is declared.

Every problem is collected and reported together in one ``ConfigError`` (a ``pulumi.RunError``, which the
language host prints without a traceback), each line naming its config key and the fix, so a stack file can
be mended in one pass.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from fleet import capacity, catalog, counterparts, gpus, residency
from fleet.config_schema import KeySpec, ProjectSchema, load_project_schema

PLATFORMS = ("eas", "ack")
BUCKET_REDUNDANCY = ("LRS", "ZRS")
REGISTRY_EDITIONS = ("enterprise", "personal")
REGISTRY_INSTANCE_TYPES = ("Basic", "Standard", "Advanced")
# The node label value cGPU reads for each isolation mode (ack.node.gpu.schedule).
GPU_ISOLATION_LABELS = {"memory": "cgpu", "memory-and-compute": "core_mem"}
MIN_GPU_SYSTEM_DISK_GIB = 120
_K8S_VERSION = re.compile(r"^1\.(?P<minor>[0-9]+)\.[0-9]+-aliyun\.[0-9]+$")
_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_ECS_TYPE = re.compile(r"^ecs\.[a-z0-9]+[.-][a-z0-9.-]+$")
_REGION = re.compile(r"^[a-z]{2,}-[a-z]+(-[0-9]+)?$")
_NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
_ROUTER_REGION = re.compile(r"^[a-z][a-z0-9-]{1,31}$")


class ConfigError(pulumi.RunError):
    """Every configuration problem of a stack, reported at once, before any resource is declared."""

    def __init__(self, stack: str, problems: list[str]):
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"stack '{stack}' has {len(problems)} configuration {noun}; nothing was declared.\n{lines}")


@dataclass(frozen=True)
class ServedModel:
    spec: catalog.ModelSpec
    dtype: str

    @property
    def id(self) -> str:
        return self.spec.id


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
class RegistrySettings:
    edition: str
    instance_type: str
    username: str  # Personal Edition only


@dataclass(frozen=True)
class ImageSettings:
    base_image: str
    package_index: str


@dataclass(frozen=True)
class EasSettings:
    instance_type: str
    family: gpus.GpuFamily
    qps_target: int


@dataclass(frozen=True)
class Scaling:
    min_replicas: int
    max_replicas: int


@dataclass(frozen=True)
class BucketSettings:
    redundancy: str
    kms_key_id: str
    incomplete_upload_expiry_days: int


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
    failover_order: tuple[str, ...] = ("ack", "eas", "counterpart")

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


def load_settings() -> RegionSettings:
    """The current stack's settings, from Pulumi config; raises ConfigError listing every problem."""
    raw = current_config()
    return parse_settings(
        schema=load_project_schema(),
        stack=pulumi.get_stack(),
        raw=raw,
        secret_keys=current_secret_keys(raw),
    )


def current_config() -> dict[str, str]:
    """Every config key the program was given: explicitly set, or passed by the CLI in PULUMI_CONFIG."""
    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return merged


def current_secret_keys(raw: Mapping[str, str]) -> frozenset[str]:
    """Keys the CLI marked secret, whichever way it handed them over (set explicitly or by environment)."""
    from_env = set(runtime_config.get_config_secret_keys_env())
    return frozenset(k for k in raw if k in from_env or runtime_config.is_config_secret(k))


def parse_settings(
    schema: ProjectSchema, stack: str, raw: Mapping[str, str], secret_keys: frozenset[str] = frozenset()
) -> RegionSettings:
    """Pure: turn raw config strings into RegionSettings, or raise ConfigError with every problem found."""
    p = Problems(schema.project)
    values = typed_values(schema, raw, secret_keys, p)

    region = str(raw.get("alicloud:region") or "")
    if not region:
        p.add_key("alicloud:region", "not set; run `pulumi config set alicloud:region <region-id>` (e.g. cn-beijing)")
    elif not _REGION.match(region):
        p.add_key(
            "alicloud:region", f"'{region}' is not an Alibaba Cloud region id such as cn-beijing or ap-southeast-1"
        )

    router_region = values.get("routerRegion")
    if router_region == "":
        p.add(
            "routerRegion", "required in a region stack; run `pulumi config set routerRegion <label>` (e.g. asia-east)"
        )
    elif isinstance(router_region, str) and not _ROUTER_REGION.match(router_region):
        p.add("routerRegion", f"'{router_region}' must be a lowercase label such as asia-east")

    name_prefix = values.get("namePrefix", "")
    if isinstance(name_prefix, str) and not _NAME_PREFIX.match(name_prefix):
        p.add("namePrefix", f"'{name_prefix}' must start with a letter and use at most 16 of [a-z0-9-]")

    residency_settings = _residency(values, region, p)
    network = _network(values, region, p)
    model_catalog = _catalog(values, p)
    models = _served_models(values, model_catalog, p)
    platforms = _platforms(values, p)
    gpu = _gpu_choice(values, p)
    _check_scaling(values, p)
    _check_bucket(values, p)
    kubernetes = _kubernetes(values, network, p)
    ack_serving = _ack_serving(values, residency_settings, p)
    registry = _registry(values, raw, schema.project, p)
    image = _image(values, p)
    eas = _eas(values, p)
    counterpart = _counterpart(values, raw, schema.project, models, residency_settings, p)
    failover = tuple(values.get("failoverOrder") or ())
    if not failover:
        p.add("failoverOrder", "list at least one of ack, eas, counterpart")
    for index, step in enumerate(failover):
        if step not in FAILOVER_STEPS:
            p.add(f"failoverOrder[{index}]", f"'{step}' is not one of {', '.join(FAILOVER_STEPS)}")
        elif step in failover[:index]:
            p.add(f"failoverOrder[{index}]", f"'{step}' is listed twice; each step appears once")

    for key in ("maxContextTokens", "maxConcurrentSequences"):
        if isinstance(values.get(key), int) and values[key] < 1:
            p.add(key, f"must be at least 1, got {values[key]}")
    context = values.get("maxContextTokens")
    if isinstance(context, int):
        for index, model in enumerate(models):
            if context > model.spec.max_context:
                p.add(
                    "maxContextTokens",
                    f"{context} exceeds {model.id}'s maximum context of {model.spec.max_context}"
                    f" (models[{index}]); lower maxContextTokens",
                )

    sequences = values.get("maxConcurrentSequences")
    if isinstance(context, int) and isinstance(sequences, int):
        if gpu is not None and "ack" in platforms:
            _check_models_fit(models, gpu.family, "gpuInstanceTypes", context, sequences, p)
        if eas is not None and "eas" in platforms:
            _check_models_fit(models, eas.family, "easInstanceType", context, sequences, p)

    p.raise_if_any(stack)
    assert gpu is not None and residency_settings is not None and network is not None
    assert kubernetes is not None and ack_serving is not None and registry is not None
    assert image is not None and eas is not None
    return RegionSettings(
        project=schema.project,
        stack=stack,
        region=region,
        router_region=values["routerRegion"],
        name_prefix=name_prefix,
        owner=values["owner"],
        residency=residency_settings,
        network=network,
        models=tuple(models),
        catalog=model_catalog,
        serving_platforms=platforms,
        max_context_tokens=values["maxContextTokens"],
        max_concurrent_sequences=values["maxConcurrentSequences"],
        gpu=gpu,
        scaling=Scaling(min_replicas=values["minReplicasPerModel"], max_replicas=values["maxReplicasPerModel"]),
        bucket=BucketSettings(
            redundancy=values["bucketRedundancy"],
            kms_key_id=values["bucketKmsKeyId"],
            incomplete_upload_expiry_days=values["incompleteUploadExpiryDays"],
        ),
        kubernetes=kubernetes,
        ack_serving=ack_serving,
        registry=registry,
        image=image,
        eas=eas,
        counterpart=counterpart,
        failover_order=failover,
    )


class Problems:
    """Every problem found in a stack's config, each naming its key; raised together as one ConfigError."""

    def __init__(self, project: str):
        self.project = project
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.add_key(f"{self.project}:{key}", message)

    def add_key(self, full_key: str, message: str) -> None:
        self.items.append(f"{full_key}: {message}")

    def raise_if_any(self, stack: str) -> None:
        if self.items:
            raise ConfigError(stack, self.items)


def typed_values(
    schema: ProjectSchema, raw: Mapping[str, str], secret_keys: frozenset[str], p: Problems
) -> dict[str, Any]:
    """Check every key of the project's namespace against its declaration; apply Pulumi.yaml defaults."""
    prefix = f"{schema.project}:"
    values: dict[str, Any] = {}
    for full_key in sorted(k for k in raw if k.startswith(prefix)):
        name = full_key[len(prefix) :]
        if name not in schema.keys:
            close = difflib.get_close_matches(name, list(schema.keys), n=1)
            hint = f"did you mean {prefix}{close[0]}?" if close else "see the config block of Pulumi.yaml for the keys"
            p.add(name, f"unknown key; {hint}")
    for name, spec in schema.keys.items():
        full_key = f"{prefix}{name}"
        if spec.secret:
            continue  # secrets are only ever read as secrets, through pulumi.Config.get_secret
        if full_key in secret_keys:
            # Reading it here would turn a secret into plain text; the key is not meant to be secret.
            p.add(name, f"is stored as a secret but is plain configuration; run `pulumi config set {name} <value>`")
            continue
        if full_key in raw:
            value = _decode(spec, raw[full_key], p)
        elif spec.has_default:
            value = spec.default
        else:
            p.add(name, f"required but not set; run `pulumi config set {name} <value>` ({spec.description})")
            continue
        if value is not None:
            values[name] = value
    return values


def _decode(spec: KeySpec, text: str, p: Problems) -> Any:
    """Decode one config string by its declared type, the way typed Pulumi config getters do."""
    want = spec.type_name
    if spec.type == "string":
        return text if isinstance(text, str) else str(text)
    if spec.type == "integer":
        try:
            return int(text)
        except (TypeError, ValueError):
            p.add(spec.name, f"expected {want}, got '{text}'; set a whole number such as {spec.default}")
            return None
    if spec.type == "boolean":
        if text in ("true", "false"):
            return text == "true"
        p.add(spec.name, f"expected boolean, got '{text}'; set true or false")
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, list):
        p.add(spec.name, f"expected {want}, got '{text}'; write a YAML list under the key")
        return None
    item_type = {"string": str, "integer": int, "boolean": bool}.get(spec.items_type or "", object)
    bad = [
        i
        for i, item in enumerate(value)
        if not isinstance(item, item_type) or isinstance(item, bool) != (item_type is bool)
    ]
    if bad:
        p.add(spec.name, f"expected {want}; items {bad} are not {spec.items_type}s")
        return None
    return value


def _residency(values: dict[str, Any], region: str, p: Problems) -> Residency | None:
    declared = values.get("jurisdiction", "")
    derived = residency.derived_jurisdiction(region) if region else None
    mainland = residency.is_mainland_region(region)
    jurisdiction = declared or derived
    if declared and not residency.is_valid_jurisdiction(declared):
        p.add("jurisdiction", f"'{declared}' must be cn-mainland or a two-letter country code such as sg")
    elif mainland and declared and declared != residency.MAINLAND:
        p.add("jurisdiction", f"{region} is in mainland China; the jurisdiction must be {residency.MAINLAND}")
    elif derived and declared and declared != derived:
        p.add("jurisdiction", f"{region} is in '{derived}', not '{declared}'; remove the key or correct it")
    elif region and not jurisdiction:
        p.add(
            "jurisdiction",
            f"beacon-fleet does not know where {region} is; set it, e.g. `pulumi config set jurisdiction de`",
        )

    bound = values.get("residencyBound")
    if mainland and bound is False:
        p.add("residencyBound", f"personal data must stay in mainland China; set residencyBound: true for {region}")
    cross_border = values.get("allowCrossBorderFailover", False)
    icp = values.get("icpLicence", "")
    if isinstance(icp, str) and icp and not mainland:
        p.add("icpLicence", f"an ICP licence only applies in mainland China, not {region}; remove it")
    elif isinstance(icp, str) and icp and not residency.ICP_NUMBER.match(icp):
        p.add("icpLicence", f"'{icp}' is not an ICP number; write it as on the filing, e.g. 京ICP备12345678号")
    if jurisdiction is None or bound is None:
        return None
    return Residency(
        jurisdiction=jurisdiction,
        mainland=mainland,
        residency_bound=bool(bound),
        allow_cross_border_failover=bool(cross_border),
        icp_licence=icp or "",
    )


def _network(values: dict[str, Any], region: str, p: Problems) -> NetworkSettings | None:
    cidr_text = values.get("vpcCidr")
    prefix_length = values.get("vswitchPrefixLength")
    zones = values.get("zones")
    zone_count = values.get("zoneCount")
    if cidr_text is None or prefix_length is None or zones is None or zone_count is None:
        return None
    try:
        vpc = ipaddress.IPv4Network(cidr_text)
    except ValueError:
        p.add("vpcCidr", f"'{cidr_text}' is not an IPv4 CIDR such as 10.10.0.0/16 (host bits must be zero)")
        return None
    if not vpc.is_private or not 8 <= vpc.prefixlen <= 24:
        p.add("vpcCidr", f"{vpc} must be a private (RFC 1918) range between /8 and /24")
        return None

    if zones:
        if len(set(zones)) != len(zones):
            p.add("zones", f"zone ids repeat: {zones}")
        for index, zone in enumerate(zones):
            # Zone ids are the region id plus a letter, hyphenated or not: cn-beijing-h, us-east-1a.
            if region and not re.fullmatch(rf"{re.escape(region)}-?[a-z]", zone):
                p.add(f"zones[{index}]", f"'{zone}' is not a zone of {region} (like {region}-h or {region}a)")
        count = len(zones)
        if count < 2:
            p.add("zones", "list at least two zones, so a zone outage does not take the region down")
    else:
        count = zone_count
        if count < 2:
            p.add("zoneCount", f"must be at least 2 so a zone outage does not take the region down, got {count}")

    if not vpc.prefixlen < prefix_length <= 28:
        p.add(
            "vswitchPrefixLength", f"must be longer than the VPC's /{vpc.prefixlen} and at most 28, got {prefix_length}"
        )
        return None
    available = 2 ** (prefix_length - vpc.prefixlen)
    if 2 * count > available:
        p.add(
            "vswitchPrefixLength",
            f"/{prefix_length} gives only {available} vSwitches in {vpc}; {count} zones need {2 * count}"
            " (a node and a Terway pod vSwitch each); use a shorter prefix length",
        )
        return None
    subnets = vpc.subnets(new_prefix=prefix_length)
    cidrs = [str(next(subnets)) for _ in range(max(2 * count, 0))]
    return NetworkSettings(
        vpc_cidr=str(vpc),
        zones=tuple(zones),
        zone_count=count,
        node_vswitch_cidrs=tuple(cidrs[:count]),
        pod_vswitch_cidrs=tuple(cidrs[count:]),
    )


def _catalog(values: dict[str, Any], p: Problems) -> dict[str, catalog.ModelSpec]:
    entries = dict(catalog.BUILTIN_MODELS)
    for index, text in enumerate(values.get("customModels") or []):
        spec, problems = catalog.parse_custom_model(text)
        for problem in problems:
            p.add(f"customModels[{index}]", f"{problem}; write id=...;hfRepo=...;paramsB=...;... (see README)")
        if spec is None:
            continue
        if spec.id in entries:
            p.add(f"customModels[{index}]", f"id '{spec.id}' is already in the catalog; choose another id")
            continue
        entries[spec.id] = spec
    return entries


def _served_models(
    values: dict[str, Any], model_catalog: Mapping[str, catalog.ModelSpec], p: Problems
) -> list[ServedModel]:
    models: list[ServedModel] = []
    seen: set[str] = set()
    refs = values.get("models")
    if refs is None:
        return models
    if not refs:
        p.add("models", "serves no model; list at least one catalog id")
    for index, ref in enumerate(refs):
        model_id, _, dtype = ref.partition(":")
        dtype = dtype or catalog.DEFAULT_DTYPE
        spec = model_catalog.get(model_id)
        if spec is None:
            p.add(
                f"models[{index}]",
                f"unknown model '{model_id}'; {_did_you_mean(model_id, model_catalog)}"
                f"known: {', '.join(sorted(model_catalog))}"
                " (declare others in customModels)",
            )
            continue
        if dtype not in catalog.DTYPE_BYTES:
            p.add(
                f"models[{index}]",
                f"unknown dtype '{dtype}' for {model_id}; use one of {', '.join(catalog.DTYPE_BYTES)}",
            )
            continue
        if model_id in seen:
            p.add(f"models[{index}]", f"{model_id} is listed twice; keep one entry")
            continue
        seen.add(model_id)
        models.append(ServedModel(spec=spec, dtype=dtype))
    return models


def _check_models_fit(
    models: list[ServedModel], family: gpus.GpuFamily, gpu_key: str, context: int, sequences: int, p: Problems
) -> None:
    for index, model in enumerate(models):
        estimate = capacity.estimate_memory(model.spec, model.dtype, context, sequences)
        if estimate.slice_gib <= family.memory_gib:
            continue
        fixes = [f"a larger GPU in {gpu_key} (e.g. {_larger_family(estimate.slice_gib)})"]
        if catalog.DTYPE_BYTES[model.dtype] > catalog.DTYPE_BYTES["awq"]:
            fixes.insert(0, f"quantization: {model.id}:awq")
        fixes.append("a smaller maxContextTokens or maxConcurrentSequences")
        p.add(
            f"models[{index}]",
            f"{model.id} ({model.dtype}) needs {estimate.slice_gib} GiB of GPU memory ({estimate.explain()}),"
            f" but a {family.gpu} has {family.memory_gib} GiB ({gpu_key}); try {', or '.join(fixes)}",
        )


def _larger_family(needed_gib: int) -> str:
    fitting = [f for f in gpus.GPU_FAMILIES.values() if f.memory_gib >= needed_gib]
    best = min(fitting, key=lambda f: f.memory_gib, default=None)
    return f"{best.family}, {best.gpu} {best.memory_gib} GiB" if best else "none is large enough"


def _platforms(values: dict[str, Any], p: Problems) -> tuple[str, ...]:
    platforms = values.get("servingPlatforms") or []
    for index, platform in enumerate(platforms):
        if platform not in PLATFORMS:
            p.add(f"servingPlatforms[{index}]", f"unknown platform '{platform}'; use {' or '.join(PLATFORMS)}")
    if len(set(platforms)) != len(platforms):
        p.add("servingPlatforms", f"platforms repeat: {platforms}")
    return tuple(dict.fromkeys(pl for pl in platforms if pl in PLATFORMS))


def _gpu_choice(values: dict[str, Any], p: Problems) -> GpuChoice | None:
    types = values.get("gpuInstanceTypes")
    if types is None:
        return None
    if not types:
        p.add("gpuInstanceTypes", "list at least one ECS GPU instance type, e.g. ecs.gn7i-c8g1.2xlarge (A10 24 GB)")
        return None
    families = []
    for index, instance_type in enumerate(types):
        family = gpus.gpu_family_of(instance_type)
        if family is None:
            known = ", ".join(f"{f.family} ({f.gpu} {f.memory_gib} GB)" for f in gpus.GPU_FAMILIES.values())
            p.add(
                f"gpuInstanceTypes[{index}]",
                f"'{instance_type}' is not an ECS GPU instance type of a known family: {known}",
            )
        else:
            families.append(family)
    if len({f.gpu for f in families}) > 1:
        p.add(
            "gpuInstanceTypes",
            f"mixes GPU models ({', '.join(sorted({f.gpu for f in families}))});"
            " cGPU slices are sized for one GPU model",
        )
    isolation = values.get("gpuIsolation")
    if isinstance(isolation, str) and isolation not in GPU_ISOLATION_LABELS:
        p.add("gpuIsolation", f"'{isolation}' must be one of {', '.join(GPU_ISOLATION_LABELS)}")
    disk = values.get("gpuSystemDiskGiB")
    if isinstance(disk, int) and not MIN_GPU_SYSTEM_DISK_GIB <= disk <= 2048:
        p.add(
            "gpuSystemDiskGiB",
            f"{disk} GiB; CUDA serving images need at least {MIN_GPU_SYSTEM_DISK_GIB} GiB (ESSD maximum 2048)",
        )
    if not families or len(families) != len(types) or isolation not in GPU_ISOLATION_LABELS:
        return None
    return GpuChoice(
        instance_types=tuple(types),
        family=families[0],
        isolation=isolation,
        spot=bool(values.get("gpuSpot")),
        system_disk_gib=disk if isinstance(disk, int) else MIN_GPU_SYSTEM_DISK_GIB,
    )


ACK_EXPOSURES = ("intranet", "internet")
FAILOVER_STEPS = ("ack", "eas", "counterpart")
_CERT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _allowlist(texts: list[str], key: str, open_why: str, p: Problems) -> list[tuple[int, ipaddress.IPv4Network]]:
    """The CIDRs of an allowlist that parse and are not 0.0.0.0/0, by index; the others are reported."""
    cidrs = []
    for index, text in enumerate(texts):
        try:
            cidr = ipaddress.IPv4Network(text)
        except ValueError:
            p.add(f"{key}[{index}]", f"'{text}' is not an IPv4 CIDR such as 203.0.113.0/24")
            continue
        if cidr.prefixlen == 0:
            p.add(f"{key}[{index}]", f"0.0.0.0/0 {open_why}")
        else:
            cidrs.append((index, cidr))
    return cidrs


def _ack_serving(values: dict[str, Any], residency: Residency | None, p: Problems) -> AckServingSettings | None:
    exposure = values.get("ackExposure")
    if exposure not in ACK_EXPOSURES:
        p.add("ackExposure", f"'{exposure}' must be intranet or internet")
    cidrs = values.get("servingAllowedCidrs") or []
    _allowlist(cidrs, "servingAllowedCidrs", "allows everyone; list the router's egress CIDRs", p)
    cert = values.get("servingTlsCertId", "")
    if cert and not _CERT_ID.match(str(cert)):
        p.add("servingTlsCertId", f"'{cert}' is not a certificate id; copy it from the Certificate Management Service")
    if exposure == "internet":
        if not cidrs:
            p.add(
                "servingAllowedCidrs",
                "ackExposure is internet but no CIDR is allowed; list the router's egress CIDRs so the load"
                " balancers are not open to everyone",
            )
        if not cert:
            p.add(
                "servingTlsCertId",
                "ackExposure is internet, which needs HTTPS at the load balancer (the API key must not cross the"
                " internet in clear text); set the certificate id, or keep ackExposure intranet",
            )
        if residency is not None and residency.mainland and not residency.icp_licence:
            p.add(
                "ackExposure",
                "internet exposure in mainland China needs an ICP licence; set icpLicence, or keep intranet",
            )
    if exposure not in ACK_EXPOSURES:
        return None
    return AckServingSettings(exposure=exposure, allowed_cidrs=tuple(cidrs), tls_cert_id=str(cert or ""))


def _kubernetes(values: dict[str, Any], network: NetworkSettings | None, p: Problems) -> KubernetesSettings | None:
    version = values.get("kubernetesVersion")
    match = _K8S_VERSION.match(version) if isinstance(version, str) else None
    if isinstance(version, str) and match is None:
        p.add("kubernetesVersion", f"'{version}' is not an ACK version such as 1.36.1-aliyun.1")
    elif match is not None and int(match["minor"]) < 23:
        p.add("kubernetesVersion", f"{version} is too old for RRSA (needs 1.22.3 or later); pick a supported version")

    service_text = values.get("serviceCidr")
    try:
        service = ipaddress.IPv4Network(service_text) if isinstance(service_text, str) else None
    except ValueError:
        p.add("serviceCidr", f"'{service_text}' is not an IPv4 CIDR such as 192.168.0.0/16")
        service = None
    if service is not None:
        if not service.is_private or not 12 <= service.prefixlen <= 24:
            p.add("serviceCidr", f"{service} must be a private (RFC 1918) range between /12 and /24")
        elif network is not None and service.overlaps(ipaddress.IPv4Network(network.vpc_cidr)):
            p.add("serviceCidr", f"{service} overlaps vpcCidr {network.vpc_cidr}; choose a range outside the VPC")

    deployers = values.get("deployerCidrs") or []
    opens = "opens the API server to the internet; list your egress CIDRs"
    for index, cidr in _allowlist(deployers, "deployerCidrs", opens, p):
        if any(cidr.overlaps(private) for private in _RFC1918):
            p.add(
                f"deployerCidrs[{index}]",
                f"{cidr} is private; the VPC can always reach the API server, list public egress CIDRs only",
            )

    system_types = values.get("systemNodeInstanceTypes")
    if system_types is not None:
        if not system_types:
            p.add("systemNodeInstanceTypes", "list at least one ECS instance type, e.g. ecs.g7.xlarge")
        for index, instance_type in enumerate(system_types):
            if not _ECS_TYPE.match(instance_type):
                p.add(f"systemNodeInstanceTypes[{index}]", f"'{instance_type}' is not an ECS instance type")
            elif gpus.gpu_family_of(instance_type) is not None:
                p.add(
                    f"systemNodeInstanceTypes[{index}]",
                    f"{instance_type} is a GPU type; system pods belong on CPU nodes such as ecs.g7.xlarge",
                )
    count = values.get("systemNodeCount")
    if isinstance(count, int) and not 2 <= count <= 20:
        p.add("systemNodeCount", f"must be between 2 and 20 so system pods survive a node loss, got {count}")

    if not (isinstance(version, str) and service is not None and system_types and isinstance(count, int)):
        return None
    return KubernetesSettings(
        version=version,
        service_cidr=str(service),
        deployer_cidrs=tuple(deployers),
        system_instance_types=tuple(system_types),
        system_node_count=count,
    )


def _registry(values: dict[str, Any], raw: Mapping[str, str], project: str, p: Problems) -> RegistrySettings | None:
    edition = values.get("registryEdition")
    instance_type = values.get("registryInstanceType")
    if isinstance(edition, str) and edition not in REGISTRY_EDITIONS:
        p.add("registryEdition", f"'{edition}' must be enterprise or personal")
    if isinstance(instance_type, str) and instance_type not in REGISTRY_INSTANCE_TYPES:
        p.add("registryInstanceType", f"'{instance_type}' must be one of {', '.join(REGISTRY_INSTANCE_TYPES)}")
    username = values.get("registryUsername", "")
    if edition == "personal":
        if not username:
            p.add("registryUsername", "Personal Edition needs the account name that logs in to the registry")
        if f"{project}:registryPassword" not in raw:
            p.add(
                "registryPassword",
                "Personal Edition needs the registry password; run `pulumi config set --secret registryPassword`",
            )
    if edition not in REGISTRY_EDITIONS or instance_type not in REGISTRY_INSTANCE_TYPES:
        return None
    return RegistrySettings(edition=edition, instance_type=instance_type, username=username)


def _image(values: dict[str, Any], p: Problems) -> ImageSettings | None:
    base = values.get("servingImageBase")
    index = values.get("pythonPackageIndex")
    if isinstance(base, str) and (not base or any(c.isspace() for c in base) or "@" not in base and ":" not in base):
        p.add("servingImageBase", f"'{base}' must be an image reference pinned by tag or digest, e.g. python:3.12-slim")
    if isinstance(index, str) and not re.match(r"^https://[^\s/]+(/\S*)?$", index):
        p.add("pythonPackageIndex", f"'{index}' must be an https URL such as https://pypi.org/simple")
    if not isinstance(base, str) or not isinstance(index, str):
        return None
    return ImageSettings(base_image=base, package_index=index)


def _eas(values: dict[str, Any], p: Problems) -> EasSettings | None:
    instance_type = values.get("easInstanceType")
    family = gpus.gpu_family_of(instance_type) if isinstance(instance_type, str) else None
    if isinstance(instance_type, str) and family is None:
        p.add("easInstanceType", f"'{instance_type}' is not an ECS GPU instance type of a known family")
    qps = values.get("easQpsTarget")
    if isinstance(qps, int) and qps < 1:
        p.add("easQpsTarget", f"must be at least 1 request per second, got {qps}")
    if family is None or not isinstance(qps, int):
        return None
    return EasSettings(instance_type=instance_type, family=family, qps_target=qps)


def _check_scaling(values: dict[str, Any], p: Problems) -> None:
    low, high = values.get("minReplicasPerModel"), values.get("maxReplicasPerModel")
    if isinstance(low, int) and low < 0:
        p.add("minReplicasPerModel", f"must be 0 or more, got {low}")
    if isinstance(high, int) and high < 1:
        p.add("maxReplicasPerModel", f"must be at least 1, got {high}")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        p.add(
            "minReplicasPerModel",
            f"{low} is more than maxReplicasPerModel ({high}); raise the maximum or lower the minimum",
        )


def _check_bucket(values: dict[str, Any], p: Problems) -> None:
    redundancy = values.get("bucketRedundancy")
    if isinstance(redundancy, str) and redundancy not in BUCKET_REDUNDANCY:
        p.add("bucketRedundancy", f"'{redundancy}' must be LRS or ZRS")
    days = values.get("incompleteUploadExpiryDays")
    if isinstance(days, int) and not 1 <= days <= 365:
        p.add("incompleteUploadExpiryDays", f"must be between 1 and 365 days, got {days}")


def _did_you_mean(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1)
    return f"did you mean {close[0]}? " if close else ""


def _check_known(key: str, items: tuple[str, ...], known: Mapping[str, Any], noun: str, p: Problems) -> None:
    """A non-empty list whose every item is one of `known`; an unknown item gets the nearest known one."""
    if not items:
        p.add(key, f"list at least one {noun}, e.g. {next(iter(known))}")
    for index, item in enumerate(items):
        if item not in known:
            p.add(f"{key}[{index}]", f"unknown {noun} '{item}'; {_did_you_mean(item, known)}known: {', '.join(known)}")


_RUNPOD_IMAGE = re.compile(r"^runpod/worker-v1-vllm:v[0-9]+\.[0-9]+\.[0-9]+$")
_SECRET_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def _counterpart(
    values: dict[str, Any],
    raw: Mapping[str, str],
    project: str,
    models: list[ServedModel],
    residency_settings: Residency | None,
    p: Problems,
) -> CounterpartSettings | None:
    provider = values.get("counterpartProvider")
    if provider not in counterparts.PROVIDERS:
        p.add("counterpartProvider", f"'{provider}' must be one of {', '.join(counterparts.PROVIDERS)}")
        return None
    if provider == "none":
        return None
    locations = tuple(values.get("counterpartLocations") or ())
    gpu_list = tuple(values.get("counterpartGpus") or ())
    known_locations = counterparts.RUNPOD_DATA_CENTERS if provider == "runpod" else counterparts.MODAL_REGIONS
    noun = "RunPod data center" if provider == "runpod" else "Modal region"
    _check_known("counterpartLocations", locations, known_locations, noun, p)
    known_gpus = counterparts.RUNPOD_POOLS if provider == "runpod" else counterparts.MODAL_GPUS
    gpu_noun = "RunPod GPU pool" if provider == "runpod" else "Modal GPU type"
    _check_known("counterpartGpus", gpu_list, known_gpus, gpu_noun, p)

    served = {m.id: m for m in models}
    mirrored = tuple(values.get("counterpartModels") or ()) or tuple(served)
    for index, model_id in enumerate(values.get("counterpartModels") or ()):
        if model_id not in served:
            p.add(
                f"counterpartModels[{index}]",
                f"'{model_id}' is not served by this region (models: {', '.join(served) or 'none'});"
                " a counterpart mirrors the region's own models",
            )
    smallest = min((known_gpus[g] for g in gpu_list if g in known_gpus), default=None)
    context, sequences = values.get("maxContextTokens"), values.get("maxConcurrentSequences")
    if smallest is not None and isinstance(context, int) and isinstance(sequences, int):
        for model_id in mirrored:
            if model_id not in served:
                continue
            model = served[model_id]
            need = capacity.estimate_memory(model.spec, model.dtype, context, sequences).slice_gib
            if need > smallest:
                p.add(
                    "counterpartGpus",
                    f"{model_id} ({model.dtype}) needs {need} GiB but the smallest listed GPU has {smallest} GB;"
                    " list larger GPUs only, or quantize the model",
                )

    low, high = values.get("counterpartMinWorkers"), values.get("counterpartMaxWorkers")
    if isinstance(low, int) and low < 0:
        p.add("counterpartMinWorkers", f"must be 0 or more, got {low}")
    if isinstance(high, int) and high < 1:
        p.add("counterpartMaxWorkers", f"must be at least 1, got {high}")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        p.add("counterpartMinWorkers", f"{low} is more than counterpartMaxWorkers ({high})")
    idle = values.get("counterpartIdleTimeoutSeconds")
    if isinstance(idle, int) and not 2 <= idle <= 3600:
        p.add("counterpartIdleTimeoutSeconds", f"must be between 2 and 3600 seconds, got {idle}")
    timeout = values.get("counterpartRequestTimeoutSeconds")
    limit = (
        counterparts.MODAL_WEB_LIMIT_SECONDS - 1 if provider == "modal" else counterparts.RUNPOD_EXECUTION_LIMIT_SECONDS
    )
    if isinstance(timeout, int) and not 1 <= timeout <= limit:
        why = "Modal cuts web requests at 150 s" if provider == "modal" else "RunPod's execution limit is 600 s"
        p.add("counterpartRequestTimeoutSeconds", f"{timeout} s is out of range; {why}, so use 1 to {limit}")

    image = values.get("runpodWorkerImage", "")
    if provider == "runpod" and not _RUNPOD_IMAGE.match(image):
        p.add("runpodWorkerImage", f"'{image}' must be runpod/worker-v1-vllm pinned to a release tag like v2.25.2")
    for key in ("runpodHfTokenSecret", "modalHfSecret", "modalEnvironment"):
        if not _SECRET_NAME.match(str(values.get(key, ""))):
            p.add(key, f"'{values.get(key)}' must be a name of letters, digits, '-' and '_'")
    required = ("runpodRouterApiKey",) if provider == "runpod" else ("modalProxyTokenId", "modalProxyTokenSecret")
    for key in required:
        if f"{project}:{key}" not in raw:
            p.add(
                key, f"the router needs it to call the {provider} counterpart; run `pulumi config set --secret {key}`"
            )

    if residency_settings is None or not isinstance(timeout, int) or not isinstance(low, int):
        return None
    where = counterparts.jurisdictions_of(provider, locations)
    return CounterpartSettings(
        provider=provider,
        locations=locations,
        gpus=gpu_list,
        model_ids=mirrored,
        min_workers=low,
        max_workers=high,
        idle_timeout_seconds=idle,
        request_timeout_seconds=timeout,
        jurisdictions=where,
        cross_border=any(j != residency_settings.jurisdiction for j in where),
        runpod_worker_image=image,
        runpod_hf_token_secret=values["runpodHfTokenSecret"],
        modal_environment=values["modalEnvironment"],
        modal_hf_secret=values["modalHfSecret"],
    )
