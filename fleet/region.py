"""A region stack: the components of one region, wired from its settings, and the stack's outputs."""

from __future__ import annotations

import functools

import pulumi

from components.ack_cluster import AckCluster, AckClusterArgs
from components.cgpu_node_pool import CgpuNodePool, CgpuNodePoolArgs
from components.eas_model_service import EasModelService, EasModelServiceArgs
from components.inference_release import InferenceRelease, InferenceReleaseArgs
from components.modal_counterpart import ModalCounterpart, ModalCounterpartArgs, ModalModel
from components.model_bucket import ModelBucket, ModelBucketArgs
from components.model_read_access import ModelReadAccess, ModelReadAccessArgs, RrsaSubject
from components.region_network import RegionNetwork, RegionNetworkArgs, VSwitchSpec
from components.runpod_counterpart import RunpodCounterpart, RunpodCounterpartArgs, RunpodModel
from components.serving_image import ServingImage, ServingImageArgs
from components.serving_registry import ServingRegistry, ServingRegistryArgs
from fleet import capacity, eas, inference_chart, lookups, naming, ram_policies, router_config, serving
from fleet.settings import RegionSettings

SERVING_REPOSITORY = "inference-server"


def declare_region(settings: RegionSettings) -> None:
    account = lookups.account_id()
    zones = lookups.zone_ids(settings)
    tags = settings.tags
    slug = naming.stack_slug(settings.name_prefix, settings.stack)
    bucket = naming.bucket_name(settings.name_prefix, settings.stack, settings.region, account)

    network = RegionNetwork(
        "network",
        RegionNetworkArgs(
            vpc_name=naming.vpc_name(settings.name_prefix, settings.stack),
            cidr_block=settings.network.vpc_cidr,
            node_vswitches=_vswitches(settings, zones, "nodes", settings.network.node_vswitch_cidrs),
            pod_vswitches=_vswitches(settings, zones, "pods", settings.network.pod_vswitch_cidrs),
            tags=tags,
        ),
    )
    models = ModelBucket(
        "models",
        ModelBucketArgs(
            bucket_name=bucket,
            redundancy=settings.bucket.redundancy,
            kms_key_id=settings.bucket.kms_key_id,
            incomplete_upload_expiry_days=settings.bucket.incomplete_upload_expiry_days,
            tags=tags,
        ),
    )

    registry = ServingRegistry(
        "registry",
        ServingRegistryArgs(
            region=settings.region,
            edition=settings.registry.edition,
            instance_name=naming.registry_instance_name(settings.name_prefix, settings.stack, settings.region, account),
            namespace=naming.registry_namespace(settings.name_prefix, settings.stack, settings.region, account),
            repository=SERVING_REPOSITORY,
            vpc_id=network.vpc_id,
            vswitch_id=network.node_vswitches[0].id,
            instance_type=settings.registry.instance_type,
            deployer_cidrs=settings.kubernetes.deployer_cidrs,
            username=settings.registry.username,
            password=_registry_password(settings),
            tags=tags,
        ),
    )
    image = ServingImage(
        "serving-image",
        ServingImageArgs(
            registry_server=registry.domains.public,
            vpc_registry_server=registry.domains.vpc,
            repository_path=registry.repository_path,
            base_image=settings.image.base_image,
            package_index=settings.image.package_index,
            username=registry.push_username,
            password=registry.push_password,
        ),
        opts=pulumi.ResourceOptions(depends_on=[registry]),
    )

    cluster = _declare_ack(settings, network, tags) if settings.serves_on("ack") else None
    access = ModelReadAccess(
        "model-access",
        ModelReadAccessArgs(
            name_stem=slug,
            bucket_name=models.bucket_name,
            kms_key_arn=ram_policies.kms_key_arn(settings.region, account, settings.bucket.kms_key_id),
            eas=settings.serves_on("eas"),
            rrsa=RrsaSubject(
                oidc_provider_arn=cluster.rrsa_oidc_provider_arn,
                issuer_url=cluster.rrsa_oidc_issuer_url,
                service_accounts=(*inference_chart.service_accounts(settings), serving.OSS_FUSE_SERVICE_ACCOUNT),
            )
            if cluster
            else None,
            tags=tags,
        ),
    )

    eas_services = []
    if settings.serves_on("eas"):
        for plan in eas_plans(settings, bucket):
            eas_services.append(
                EasModelService(
                    f"eas-{plan.model_id}",
                    EasModelServiceArgs(
                        plan=plan,
                        account_id=account,
                        region=settings.region,
                        image=image.vpc_image,
                        vpc_id=network.vpc_id,
                        vswitch_id=network.node_vswitches[0].id,
                        security_group_id=network.serving_security_group_id,
                        role_arn=access.eas_role_arn,
                        tags=tags,
                    ),
                    opts=pulumi.ResourceOptions(depends_on=[models, registry]),
                )
            )
        if settings.residency.mainland and not settings.residency.icp_licence:
            pulumi.log.warn(
                f"{settings.stack}: PAI-EAS endpoints in {settings.region} are VPC-only because no ICP licence is"
                f" configured; to serve them publicly, obtain one and run"
                f" `pulumi config set {settings.project}:icpLicence <licence number>`"
            )

    releases = []
    if cluster is not None:
        releases = _declare_inference(settings, slug, cluster, network, image.vpc_image, models, access)

    counterpart, counterpart_secrets = (
        _declare_counterpart(settings, slug) if settings.counterpart is not None else (None, {})
    )

    pulumi.export("region", settings.region)
    pulumi.export("routerRegion", settings.router_region)
    residency = {
        "jurisdiction": settings.residency.jurisdiction,
        "mainland": settings.residency.mainland,
        "residencyBound": settings.residency.residency_bound,
        "allowCrossBorderFailover": settings.residency.allow_cross_border_failover,
        "icpLicence": settings.residency.icp_licence,
    }
    pulumi.export("residency", residency)
    if counterpart is not None:
        pulumi.export("counterpart", counterpart)
        pulumi.export("counterpartSecrets", pulumi.Output.secret(counterpart_secrets))
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
    pulumi.export(
        "registry",
        {
            "edition": settings.registry.edition,
            "publicDomain": registry.domains.public,
            "vpcDomain": registry.domains.vpc,
            "repository": registry.repository_path,
        },
    )
    pulumi.export("servingImage", {"tag": image.tag, "digest": image.repo_digest, "vpcImage": image.vpc_image})
    pulumi.export("modelAccessRoles", {"eas": access.eas_role_arn, "servingPods": access.serving_role_arn})
    eas_endpoints = {
        s.model_id: {
            "service": s.service_name,
            "vpcUrl": s.vpc_url,
            "publicUrl": s.public_url or "",
            "publicEndpoint": s.public_url is not None,
            "instanceType": s.plan.instance_type,
            "autoscaler": {"min": s.plan.min_replicas, "max": s.plan.max_replicas, "qps": s.plan.qps_target},
            "modelMount": f"oss://{s.plan.bucket}/{serving.model_prefix(s.model_id)} (read-only)",
            "image": image.vpc_image,
        }
        for s in eas_services
    }
    ack_endpoints = {
        r.model.id: {
            "release": r.release_name,
            "namespace": serving.SERVING_NAMESPACE,
            "url": r.url,
            "exposure": settings.ack_serving.exposure,
            "gpuMemGiB": inference_chart.memory_estimate(settings, r.model).slice_gib,
        }
        for r in releases
    }
    _export_router_entry(settings, residency, eas_endpoints, ack_endpoints, counterpart)
    pulumi.export(
        "routerSecrets",
        pulumi.Output.secret(
            {
                **{
                    router_config.env_name(settings.router_region, "EAS", s.model_id, "TOKEN"): s.token
                    for s in eas_services
                },
                **{
                    router_config.env_name(settings.router_region, "ACK", r.model.id, "KEY"): r.api_key
                    for r in releases
                },
                **counterpart_secrets,
            }
        ),
    )
    if eas_services:
        pulumi.export("easEndpoints", eas_endpoints)
        pulumi.export("easTokens", pulumi.Output.secret({s.model_id: s.token for s in eas_services}))
    if cluster is not None:
        pulumi.export(
            "kubernetes",
            {
                "clusterId": cluster.cluster_id,
                "version": settings.kubernetes.version,
                "servingNamespace": serving.SERVING_NAMESPACE,
                "apiServerPublic": bool(settings.kubernetes.deployer_cidrs),
                # Instance types in the order the pool tries them; the cost view prices the first.
                "gpuPool": {**gpu_pool_size(settings), "instanceTypes": list(settings.gpu.instance_types)},
            },
        )
        pulumi.export("ackEndpoints", ack_endpoints)
        pulumi.export("ackApiKeys", pulumi.Output.secret({r.model.id: r.api_key for r in releases}))
        if cluster.api_server_acl_id is not None:
            pulumi.export(
                "apiServerAclAttachCommand",
                pulumi.Output.all(cluster.api_server_slb_id, cluster.api_server_acl_id).apply(
                    lambda ids: (
                        f"aliyun slb SetLoadBalancerTCPListenerAttribute --RegionId {settings.region}"
                        f" --LoadBalancerId {ids[0]} --ListenerPort 6443 --AclStatus on --AclType white"
                        f" --AclId {ids[1]}"
                    )
                ),
            )


def _vswitches(settings: RegionSettings, zones, role: str, cidrs) -> list[VSwitchSpec]:
    return [
        VSwitchSpec(
            name=naming.vswitch_name(settings.name_prefix, settings.stack, role, index),
            zone_id=zone,
            cidr_block=cidr,
        )
        for index, (zone, cidr) in enumerate(zip(zones, cidrs, strict=True))
    ]


def _registry_password(settings: RegionSettings) -> pulumi.Output[str] | None:
    if settings.registry.edition != "personal":
        return None
    return _secret("registryPassword")


def _export_router_entry(settings: RegionSettings, residency, eas_endpoints, ack_endpoints, counterpart) -> None:
    """This region's providers for the router config, built from the same values the stack exports."""
    view = {
        "region": settings.region,
        "routerRegion": settings.router_region,
        "residency": residency,
        "easEndpoints": eas_endpoints,
        "ackEndpoints": ack_endpoints,
        "counterpart": counterpart,
    }
    pulumi.export(
        "routerProviders",
        pulumi.Output.from_input(view).apply(lambda v: router_config.region_entry(v, settings.failover_order)),
    )


def _declare_ack(settings: RegionSettings, network: RegionNetwork, tags) -> AckCluster:
    cluster = AckCluster(
        "ack",
        AckClusterArgs(
            cluster_name=naming.cluster_name(settings.name_prefix, settings.stack),
            kubernetes_version=settings.kubernetes.version,
            node_vswitch_ids=network.node_vswitch_ids,
            pod_vswitch_ids=network.pod_vswitch_ids,
            service_cidr=settings.kubernetes.service_cidr,
            system_instance_types=settings.kubernetes.system_instance_types,
            system_node_count=settings.kubernetes.system_node_count,
            deployer_cidrs=settings.kubernetes.deployer_cidrs,
            tags=tags,
        ),
    )
    size = gpu_pool_size(settings)
    CgpuNodePool(
        "gpu-pool",
        CgpuNodePoolArgs(
            cluster_id=cluster.cluster_id,
            vswitch_ids=network.node_vswitch_ids,
            instance_types=settings.gpu.instance_types,
            schedule_label=settings.gpu.schedule_label,
            min_nodes=size["minNodes"],
            max_nodes=size["maxNodes"],
            system_disk_gib=settings.gpu.system_disk_gib,
            spot=settings.gpu.spot,
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(depends_on=[cluster]),
    )
    return cluster


def _declare_inference(
    settings: RegionSettings,
    slug: str,
    cluster: AckCluster,
    network: RegionNetwork,
    image: pulumi.Output[str],
    models: ModelBucket,
    access: ModelReadAccess,
) -> list[InferenceRelease]:
    """One inference-server release per model on the cGPU pool, each behind its own load balancer."""
    exposure = settings.ack_serving
    releases = []
    for model in settings.models:
        release = InferenceRelease(
            f"ack-{model.id}",
            InferenceReleaseArgs(
                model=model,
                namespace=cluster.serving_namespace,
                load_balancer_name=f"{slug}-{naming.dns_label(model.id)}"[:80],
                address_type=exposure.exposure,
                vswitch_id=network.node_vswitches[0].id,
                allowed_cidrs=exposure.allowed_cidrs,
                image=image,
                bucket=models.bucket_name,
                role_name=access.serving_role_name,
                startup_budget_seconds=inference_chart.startup_budget_seconds(settings, model),
                values=functools.partial(inference_chart.chart_values, settings, model),
                endpoint_url=functools.partial(inference_chart.endpoint_url, settings),
                tags=settings.tags,
            ),
            provider=cluster.provider,
            opts=pulumi.ResourceOptions(depends_on=[cluster, models]),
        )
        releases.append(release)
    return releases


def eas_plans(settings: RegionSettings, bucket: str) -> list[eas.EasServicePlan]:
    """One EAS service per served model; public only where the jurisdiction allows it."""
    public = not settings.residency.mainland or bool(settings.residency.icp_licence)
    return [
        eas.EasServicePlan(
            service_name=eas.service_name(settings.name_prefix, settings.stack, model.id),
            model_id=model.id,
            dtype=model.dtype,
            instance_type=settings.eas.instance_type,
            min_replicas=settings.scaling.min_replicas,
            max_replicas=settings.scaling.max_replicas,
            qps_target=settings.eas.qps_target,
            max_model_len=settings.max_context_tokens,
            max_num_seqs=settings.max_concurrent_sequences,
            bucket=bucket,
            oss_endpoint=f"oss-{settings.region}-internal.aliyuncs.com",
            public_endpoint=public,
        )
        for model in settings.models
    ]


def gpu_packing(settings: RegionSettings, replicas: int | None = None) -> capacity.Packing:
    """How the region's replicas (by default the minimum, at least one) share GPUs through cGPU slices."""
    estimates = [
        capacity.estimate_memory(m.spec, m.dtype, settings.max_context_tokens, settings.max_concurrent_sequences)
        for m in settings.models
    ]
    count = replicas if replicas is not None else max(settings.scaling.min_replicas, 1)
    slices = capacity.replica_slices(estimates, count)
    return capacity.pack(slices, settings.gpu.family.gpu, settings.gpu.family.memory_gib)


def gpu_pool_size(settings: RegionSettings) -> dict[str, int]:
    """GPU nodes (one GPU each) for the minimum and the maximum replicas, packed by the planner."""
    low = settings.scaling.min_replicas
    return {
        "minNodes": gpu_packing(settings, low).gpus_needed if low > 0 else 0,
        "maxNodes": gpu_packing(settings, settings.scaling.max_replicas).gpus_needed,
    }


def _declare_counterpart(settings: RegionSettings, slug: str) -> tuple[dict, dict]:
    """The region's models outside Alibaba Cloud; exported with residency facts and, apart, its secrets."""
    spec = settings.counterpart
    assert spec is not None
    served = {m.id: m for m in settings.models}
    mirrored = [served[model_id] for model_id in spec.model_ids]
    if spec.provider == "runpod":
        component = RunpodCounterpart(
            "counterpart",
            RunpodCounterpartArgs(
                name_stem=slug,
                worker_image=spec.runpod_worker_image,
                gpu_pools=spec.gpus,
                locations=spec.locations,
                min_workers=spec.min_workers,
                max_workers=spec.max_workers,
                idle_timeout_seconds=spec.idle_timeout_seconds,
                hf_token_secret=spec.runpod_hf_token_secret,
                models=[RunpodModel(m.id, m.spec.hf_repo, _vllm_env(settings, m)) for m in mirrored],
            ),
        )
        key_env = router_config.env_name(settings.router_region, "RUNPOD_API_KEY")
        secrets = {key_env: _secret("runpodRouterApiKey")}
        auth = {"type": "bearer", "env": key_env}
    else:
        component = ModalCounterpart(
            "counterpart",
            ModalCounterpartArgs(
                name_stem=slug,
                environment=spec.modal_environment,
                models=[ModalModel(m.id, _modal_settings(settings, m)) for m in mirrored],
            ),
        )
        key_env = router_config.env_name(settings.router_region, "MODAL_KEY")
        secret_env = router_config.env_name(settings.router_region, "MODAL_SECRET")
        secrets = {key_env: _secret("modalProxyTokenId"), secret_env: _secret("modalProxyTokenSecret")}
        auth = {"type": "modal_proxy", "keyEnv": key_env, "secretEnv": secret_env}
    view = {
        "provider": spec.provider,
        "locations": list(spec.locations),
        "gpus": list(spec.gpus),
        "jurisdictions": list(spec.jurisdictions),
        "crossBorder": spec.cross_border,
        "scaling": {
            "minWorkers": spec.min_workers,
            "maxWorkers": spec.max_workers,
            "idleTimeoutSeconds": spec.idle_timeout_seconds,
        },
        "requestTimeoutSeconds": spec.request_timeout_seconds,
        # RunPod's /health is a control-plane call; Modal's reaches vLLM and wakes a scaled-to-zero app.
        "healthWakesBackend": spec.provider == "modal" and spec.min_workers == 0,
        "auth": auth,
        "models": component.urls,
    }
    return view, secrets


def _secret(key: str) -> pulumi.Output[str]:
    """A secret key's value, only ever as a secret Output; settings have already checked it is set."""
    return pulumi.Config().require_secret(key)


def _vllm_env(settings: RegionSettings, model) -> dict[str, str]:
    dtype, quantization = eas.vllm_dtype(model.dtype)
    env = {
        "MAX_MODEL_LEN": str(settings.max_context_tokens),
        "MAX_NUM_SEQS": str(settings.max_concurrent_sequences),
        "DTYPE": dtype,
    }
    if quantization:
        env["QUANTIZATION"] = quantization
    return env


def _modal_settings(settings: RegionSettings, model) -> dict[str, str]:
    spec = settings.counterpart
    assert spec is not None
    dtype, quantization = eas.vllm_dtype(model.dtype)
    return {
        "COUNTERPART_MODEL": model.id,
        "COUNTERPART_HF_REPO": model.spec.hf_repo,
        "COUNTERPART_GPU": ",".join(spec.gpus),
        "COUNTERPART_REGION": ",".join(spec.locations),
        "COUNTERPART_MIN_CONTAINERS": str(spec.min_workers),
        "COUNTERPART_MAX_CONTAINERS": str(spec.max_workers),
        "COUNTERPART_SCALEDOWN_SECONDS": str(spec.idle_timeout_seconds),
        "COUNTERPART_HF_SECRET": spec.modal_hf_secret,
        "COUNTERPART_MAX_MODEL_LEN": str(settings.max_context_tokens),
        "COUNTERPART_MAX_NUM_SEQS": str(settings.max_concurrent_sequences),
        "COUNTERPART_DTYPE": dtype,
        "COUNTERPART_QUANTIZATION": quantization,
    }
