"""A region stack's settings: every domain parsed from one config, checked against each other, or one
ConfigError listing every problem."""

from __future__ import annotations

import re
from collections.abc import Mapping

from fleet.config_schema import ProjectSchema
from fleet.settings.counterparts import parse_counterpart
from fleet.settings.eas import parse_eas
from fleet.settings.fc import check_fc_fit, parse_fc, parse_workload
from fleet.settings.kubernetes import parse_ack_serving, parse_kubernetes
from fleet.settings.models import (
    FAILOVER_STEPS,
    check_context,
    check_models_fit,
    check_scaling,
    check_weights_manifests,
    check_weights_sources,
    parse_catalog,
    parse_gpu_choice,
    parse_platforms,
    parse_served_models,
)
from fleet.settings.network import parse_network
from fleet.settings.partner import parse_partner
from fleet.settings.problems import Problems
from fleet.settings.residency import check_region, parse_residency
from fleet.settings.storage import (
    parse_bucket,
    parse_image,
    parse_registry,
)
from fleet.settings.typed import check_scope, typed_values
from fleet.settings_types import CounterpartSettings, PartnerSettings, RegionSettings, Residency, Scaling

_NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
_ROUTER_REGION = re.compile(r"^[a-z][a-z0-9-]{1,31}$")


def parse_settings(
    schema: ProjectSchema, stack: str, raw: Mapping[str, str], secret_keys: frozenset[str] = frozenset()
) -> RegionSettings:
    """Pure: turn raw config strings into RegionSettings, or raise ConfigError with every problem found."""
    p = Problems(schema.project)
    values = typed_values(schema, raw, secret_keys, p)
    check_scope(schema, raw, values, "region", p)

    region = str(raw.get("alicloud:region") or "")
    platforms = parse_platforms(values, p)
    _check_region_or_counterpart_only(region, platforms, values, p)
    _check_names(values, p)

    residency_settings = parse_residency(values, region, p)
    network = parse_network(values, region, p)
    model_catalog = parse_catalog(values, p)
    models = parse_served_models(values, model_catalog, p)
    check_context(values, models, p)  # first: out-of-range context or sequences are dropped before any sizing
    gpu = parse_gpu_choice(values, p)
    check_scaling(values, p)
    bucket = parse_bucket(values, p)
    kubernetes = parse_kubernetes(values, network, p)
    ack_serving = parse_ack_serving(values, residency_settings, p)
    registry = parse_registry(values, raw, schema.project, p)
    image = parse_image(values, p)
    eas = parse_eas(values, p)
    counterpart = parse_counterpart(values, raw, schema.project, models, residency_settings, p)
    partner = parse_partner(values, raw, schema.project, models, residency_settings, p)
    failover = _failover_order(values, p)
    _check_mainland_served(region, platforms, residency_settings, counterpart, partner, values, p)
    if registry is not None and registry.edition == "personal" and "ack" in platforms:
        p.add(
            "registryEdition",
            "personal cannot serve ACK: pods pull the private image through the managed ACR credential helper,"
            " which serves Enterprise instances (and only Personal ones created before 2024-09-08), and"
            " beacon-fleet manages no imagePullSecrets; use enterprise, or serve on eas or fc",
        )
    fc_settings = parse_fc(values, region, platforms, residency_settings, p)
    workload = parse_workload(values, p)
    check_weights_sources(models, residency_settings, p)
    if platforms or counterpart is not None or partner is not None:
        check_weights_manifests(models, p)

    context, sequences = values.get("maxContextTokens"), values.get("maxConcurrentSequences")
    if isinstance(context, int) and isinstance(sequences, int):
        if gpu is not None and "ack" in platforms:
            check_models_fit(models, gpu.family, "gpuInstanceTypes", context, sequences, p, shared=True)
        if eas is not None and "eas" in platforms:
            check_models_fit(models, eas.family, "easInstanceType", context, sequences, p)
        if "fc" in platforms:
            check_fc_fit(fc_settings, models, context, sequences, p)

    p.raise_if_any(stack)
    assert gpu is not None and residency_settings is not None and network is not None and bucket is not None
    assert kubernetes is not None and ack_serving is not None and registry is not None
    assert image is not None and eas is not None
    return RegionSettings(
        project=schema.project,
        stack=stack,
        region=region,
        router_region=values["routerRegion"],
        name_prefix=values["namePrefix"],
        owner=values["owner"],
        residency=residency_settings,
        network=network,
        models=tuple(models),
        catalog=model_catalog,
        serving_platforms=platforms,
        max_context_tokens=context,
        max_concurrent_sequences=sequences,
        gpu=gpu,
        scaling=Scaling(min_replicas=values["minReplicasPerModel"], max_replicas=values["maxReplicasPerModel"]),
        bucket=bucket,
        kubernetes=kubernetes,
        ack_serving=ack_serving,
        registry=registry,
        image=image,
        eas=eas,
        counterpart=counterpart,
        failover_order=failover,
        fc=fc_settings,
        workload=workload,
        partner=partner,
    )


def _check_region_or_counterpart_only(region: str, platforms: tuple[str, ...], values: dict, p: Problems) -> None:
    """A stack serving nothing on Alibaba Cloud needs no Alibaba region, but then serves through a counterpart."""
    if not platforms and values.get("counterpartProvider") in (None, "none") and not values.get("partnerBaseUrl"):
        p.add(
            "servingPlatforms",
            "is empty and there is no counterpart or partner, so the region serves nothing; list a platform",
        )
    if region or platforms:
        check_region(region, p)
    elif not values.get("jurisdiction"):
        p.add("jurisdiction", "required when alicloud:region is unset (a counterpart-only region), e.g. de")


def _check_mainland_served(
    region: str,
    platforms: tuple[str, ...],
    residency_settings: Residency | None,
    counterpart: CounterpartSettings | None,
    partner: PartnerSettings | None,
    values: dict,
    p: Problems,
) -> None:
    """A region bound to the mainland by its declared jurisdiction alone (no Alibaba region) must have something in
    the mainland to serve its residency-bound traffic: no counterpart location is (fleet/counterparts.py)."""
    if residency_settings is None or not residency_settings.mainland or platforms:
        return
    if (partner is not None and not partner.cross_border) or (partner is None and values.get("partnerBaseUrl")):
        return  # served by the partner in the mainland, or its own settings' problem is reported already
    abroad = f"{counterpart.provider} in {', '.join(counterpart.locations)}" if counterpart else "nothing"
    p.add(
        "jurisdiction",
        f"cn-mainland binds this region to mainland China's residency rules, but it serves only through {abroad},"
        " outside the mainland, where its residency-bound traffic may not go; serve it in the mainland (alicloud:region"
        " with servingPlatforms, or a partner's endpoint there: partnerBaseUrl with partnerJurisdiction: cn-mainland),"
        " or set the jurisdiction its counterpart's traffic really belongs to",
    )


def _check_names(values: dict, p: Problems) -> None:
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


def _failover_order(values: dict, p: Problems) -> tuple[str, ...]:
    failover = tuple(values.get("failoverOrder") or ())
    if not failover:
        p.add("failoverOrder", f"list at least one of {', '.join(FAILOVER_STEPS)}")
    for index, step in enumerate(failover):
        if step not in FAILOVER_STEPS:
            p.add(f"failoverOrder[{index}]", f"'{step}' is not one of {', '.join(FAILOVER_STEPS)}")
        elif step in failover[:index]:
            p.add(f"failoverOrder[{index}]", f"'{step}' is listed twice; each step appears once")
    return failover
