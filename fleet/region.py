"""A region stack: the components of one region, wired from its settings, and the stack's outputs."""

from __future__ import annotations

import pulumi

from components.model_bucket import ModelBucket, ModelBucketArgs
from components.region_network import RegionNetwork, RegionNetworkArgs, VSwitchSpec
from fleet import capacity, lookups, naming
from fleet.settings import RegionSettings


def declare_region(settings: RegionSettings) -> None:
    account = lookups.account_id()
    zones = lookups.zone_ids(settings)
    tags = settings.tags

    network = RegionNetwork(
        "network",
        RegionNetworkArgs(
            vpc_name=naming.vpc_name(settings.name_prefix, settings.stack),
            cidr_block=settings.network.vpc_cidr,
            node_vswitches=[
                VSwitchSpec(
                    name=naming.vswitch_name(settings.name_prefix, settings.stack, "nodes", index),
                    zone_id=zone,
                    cidr_block=cidr,
                )
                for index, (zone, cidr) in enumerate(zip(zones, settings.network.node_vswitch_cidrs, strict=True))
            ],
            tags=tags,
        ),
    )
    models = ModelBucket(
        "models",
        ModelBucketArgs(
            bucket_name=naming.bucket_name(settings.name_prefix, settings.stack, settings.region, account),
            redundancy=settings.bucket.redundancy,
            kms_key_id=settings.bucket.kms_key_id,
            incomplete_upload_expiry_days=settings.bucket.incomplete_upload_expiry_days,
            tags=tags,
        ),
    )

    pulumi.export("region", settings.region)
    pulumi.export("routerRegion", settings.router_region)
    pulumi.export(
        "residency",
        {
            "jurisdiction": settings.residency.jurisdiction,
            "mainland": settings.residency.mainland,
            "residencyBound": settings.residency.residency_bound,
            "allowCrossBorderFailover": settings.residency.allow_cross_border_failover,
        },
    )
    pulumi.export("zones", list(zones))
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("nodeVswitchIds", network.node_vswitch_ids)
    pulumi.export("modelBucket", models.bucket_name)
    pulumi.export("modelBucketIntranetEndpoint", models.intranet_endpoint)
    pulumi.export("gpuPacking", gpu_packing(settings).as_output())
    pulumi.export(
        "models",
        [{"id": m.id, "dtype": m.dtype, "hfRepo": m.spec.hf_repo} for m in settings.models],
    )


def gpu_packing(settings: RegionSettings) -> capacity.Packing:
    """How the region's minimum replicas share GPUs of the chosen type through cGPU slices."""
    estimates = [
        capacity.estimate_memory(m.spec, m.dtype, settings.max_context_tokens, settings.max_concurrent_sequences)
        for m in settings.models
    ]
    slices = capacity.replica_slices(estimates, max(settings.scaling.min_replicas, 1))
    return capacity.pack(slices, settings.gpu.family.gpu, settings.gpu.family.memory_gib)
