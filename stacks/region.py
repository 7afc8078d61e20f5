"""A region stack: the components of one region, wired from its settings. Its outputs: stacks/region_exports.py."""

from __future__ import annotations

import pulumi

from components.ack_cluster import AckCluster, AckClusterArgs
from components.cgpu_node_pool import CgpuNodePool, CgpuNodePoolArgs
from components.eas_model_service import EasModelService, EasModelServiceArgs
from components.fc_model_function import FcModelFunction, FcModelFunctionArgs
from components.inference_release import InferenceRelease, InferenceReleaseArgs
from components.modal_counterpart import ModalCounterpart, ModalCounterpartArgs, ModalModel
from components.model_bucket import ModelBucket, ModelBucketArgs
from components.model_read_access import ModelReadAccess, ModelReadAccessArgs, RrsaSubject
from components.model_weights import ModelWeights, ModelWeightsArgs
from components.region_network import RegionNetwork, RegionNetworkArgs, VSwitchSpec
from components.runpod_counterpart import RunpodCounterpart, RunpodCounterpartArgs, RunpodModel
from components.serving_image import ServingImage, ServingImageArgs
from components.serving_registry import ServingRegistry, ServingRegistryArgs
from fleet import (
    capacity,
    counterparts,
    eas,
    fc,
    inference_chart,
    kinds,
    naming,
    ram_policies,
    serving,
    weights,
)
from fleet.settings import RegionSettings
from fleet.settings.source import secret
from fleet.weights_manifest import manifest_text
from stacks import lookups, region_exports
from stacks.region_exports import Counterpart

SERVING_REPOSITORY = "inference-server"


def declare_region(settings: RegionSettings) -> None:
    if not settings.serving_platforms:
        # Served by its counterpart or a partner only: nothing on Alibaba Cloud (no look-up either, so no alicloud
        # provider), and the router entry still exported. Settings have checked that one of them exists.
        slug = naming.stack_slug(settings.name_prefix, settings.stack)
        counterpart = _declare_counterpart(settings, slug) if settings.counterpart is not None else None
        region_exports.export_without_alibaba(settings, counterpart)
        return
    account = lookups.account_id()
    if settings.serves_on("ack"):
        lookups.require_service_roles(lookups.ack_service_roles(settings.registry.edition), settings.region)
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

    # Every served model's pinned files, copied and verified into the bucket before anything serves them.
    synced = (
        {m.id: _declare_weights(settings, m, models) for m in settings.models} if settings.serving_platforms else {}
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
            base_subscription=settings.image.base_subscription,
            deployer_cidrs=settings.kubernetes.deployer_cidrs,
            username=settings.registry.username,
            password=secret("registryPassword") if settings.registry.edition == "personal" else None,
            tags=tags,
        ),
    )
    image = ServingImage(
        "serving-image",
        ServingImageArgs(
            registry_server=registry.push_domain,
            vpc_registry_server=registry.domains.vpc,
            repository_path=registry.repository_path,
            base_image=registry.base_image or settings.image.base_image,
            package_index=settings.image.package_index,
            apt_mirror=settings.image.apt_mirror,
            username=registry.push_username,
            password=registry.push_password,
        ),
        opts=pulumi.ResourceOptions(depends_on=[registry]),
    )

    cluster, gpu_pool = (
        _declare_ack(settings, network, registry.instance_id, tags) if settings.serves_on("ack") else (None, None)
    )
    access = ModelReadAccess(
        "model-access",
        ModelReadAccessArgs(
            name_stem=slug,
            bucket_name=models.bucket_name,
            kms_key_arn=ram_policies.kms_key_arn(settings.region, account, settings.bucket.kms_key_id),
            fc=settings.serves_on("fc"),
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
        for plan in eas.plans(settings, bucket):
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
                        tags=tags,
                    ),
                    opts=pulumi.ResourceOptions(depends_on=[models, registry, synced[plan.model_id]]),
                )
            )
        if settings.residency.mainland and not settings.residency.icp_licence:
            pulumi.log.warn(
                f"{settings.stack}: PAI-EAS endpoints in {settings.region} are VPC-only because no ICP licence is"
                f" configured; to serve them publicly, obtain one and run"
                f" `pulumi config set {settings.project}:icpLicence <licence number>`"
            )

    fc_functions = {}
    if settings.serves_on("fc"):
        for plan in fc.plans(settings, bucket):
            fc_functions[plan.model_id] = FcModelFunction(
                f"fc-{plan.model_id}",
                FcModelFunctionArgs(
                    plan=plan,
                    image=image.vpc_image,
                    vpc_id=network.vpc_id,
                    # The vSwitch linked to the ACR Enterprise instance: FC pulls the image through it.
                    vswitch_ids=[network.node_vswitches[0].id],
                    security_group_id=network.serving_security_group_id,
                    role_arn=access.fc_role_arn,
                    tags=tags,
                    acr_instance_id=registry.instance_id,
                ),
                opts=pulumi.ResourceOptions(depends_on=[models, registry, image, synced[plan.model_id]]),
            )

    releases = {}
    # At minReplicasPerModel 0, KEDA's HTTP add-on starts a model on its first request (and the autoscaler a GPU
    # node for it); above it, replicas stay at the minimum.
    if (
        cluster is not None
        and not inference_chart.scales_to_zero(settings)
        and (settings.scaling.max_replicas > settings.scaling.min_replicas)
    ):
        pulumi.log.warn(
            f"{settings.stack}: models on ACK stay at minReplicasPerModel ({settings.scaling.min_replicas}); pod"
            " autoscaling is off because vLLM's queue metric needs ack-alibaba-cloud-metrics-adapter and Managed"
            " Prometheus, which this stack does not install (EAS and the counterparts do scale)"
        )
    if cluster is not None and gpu_pool is not None:
        releases = _declare_inference(
            settings, slug, cluster, gpu_pool, network, image.vpc_image, models, access, synced
        )

    counterpart = _declare_counterpart(settings, slug) if settings.counterpart is not None else None

    region_exports.export_region(
        settings,
        region_exports.RegionResources(
            zones=zones,
            network=network,
            models=models,
            registry=registry,
            image=image,
            access=access,
            cluster=cluster,
            eas_services=eas_services,
            fc_functions=fc_functions,
            releases=releases,
            counterpart=counterpart,
            weights=synced,
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


def _declare_ack(
    settings: RegionSettings, network: RegionNetwork, acr_instance_id: pulumi.Output[str] | None, tags
) -> tuple[AckCluster, CgpuNodePool]:
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
            region=settings.region,
            acr_instance_id=acr_instance_id,
            tags=tags,
            scale_to_zero_wait_seconds=(
                max(inference_chart.cold_start_seconds(settings, m) for m in settings.models)
                if inference_chart.scales_to_zero(settings)
                else 0
            ),
        ),
    )
    size = capacity.gpu_pool_size(settings)
    pool = CgpuNodePool(
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
    return cluster, pool


def _declare_inference(
    settings: RegionSettings,
    slug: str,
    cluster: AckCluster,
    gpu_pool: CgpuNodePool,
    network: RegionNetwork,
    image: pulumi.Output[str],
    models: ModelBucket,
    access: ModelReadAccess,
    synced: dict[str, ModelWeights],
) -> dict[str, InferenceRelease]:
    """One inference-server release per model on the cGPU pool, each behind its own load balancer."""
    exposure = settings.ack_serving
    releases = {}
    for model in settings.models:
        releases[model.id] = InferenceRelease(
            f"ack-{model.id}",
            InferenceReleaseArgs(
                release_name=inference_chart.release_name(model.id),
                api_key_secret_name=inference_chart.api_key_secret_name(model.id),
                namespace=cluster.serving_namespace,
                load_balancer_name=f"{slug}-{naming.dns_label(model.id)}"[:80],
                address_type=exposure.exposure,
                vswitch_id=network.node_vswitches[0].id,
                allowed_cidrs=exposure.allowed_cidrs,
                image=image,
                bucket=models.bucket_name,
                values=inference_chart.release_values(settings, model, access.serving_role_name),
                scheme=exposure.scheme,
                port=exposure.port,
                startup_budget_seconds=inference_chart.startup_budget_seconds(settings, model),
                tags=settings.tags,
                service_account_name=inference_chart.fullname(model.id),
                service_account_after=[cluster.acr_helper] if cluster.acr_helper is not None else [],
                release_after=cluster.scale_to_zero_ready,
                cold_start_seconds=inference_chart.cold_start_seconds(settings, model),
            ),
            provider=cluster.provider,
            # Its pods need GPU nodes: installed alongside the pool, they would wait Pending past Helm's timeout.
            opts=pulumi.ResourceOptions(depends_on=[cluster, gpu_pool, models, synced[model.id]]),
        )
    return releases


def _declare_weights(settings: RegionSettings, model, bucket: ModelBucket) -> ModelWeights:
    """The sync of one model's pinned files from the hub the region can reach (ModelScope in the mainland)."""
    source = weights.source_for(model.spec, settings.residency.mainland)
    return ModelWeights(
        f"weights-{model.id}",
        ModelWeightsArgs(
            bucket_name=bucket.bucket_name,
            region=settings.region,
            # From the deploying machine: the in-VPC runner uses the internal endpoint; with deployerCidrs the
            # deployer runs outside the VPC, where only the public one resolves (docs/deploying.md).
            endpoint=(
                serving.oss_public_endpoint(settings.region)
                if settings.kubernetes.deployer_cidrs
                else serving.oss_internal_endpoint(settings.region)
            ),
            model_id=model.id,
            source_hub=source.hub,
            source_repo=source.repo,
            source_revision=source.revision,
            manifest_json=manifest_text(model.id),
        ),
        opts=pulumi.ResourceOptions(depends_on=[bucket]),
    )


def _declare_counterpart(settings: RegionSettings, slug: str) -> Counterpart:
    """The region's models outside Alibaba Cloud, with the credentials the router calls them with."""
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
                models=[RunpodModel(m.id, m.spec.hf_repo, counterparts.runpod_env(settings, m)) for m in mirrored],
            ),
        )
        secrets, auth = _counterpart_credentials(settings)
    else:
        component = ModalCounterpart(
            "counterpart",
            ModalCounterpartArgs(
                name_stem=slug,
                environment=spec.modal_environment,
                models=[ModalModel(m.id, counterparts.modal_settings(settings, m)) for m in mirrored],
            ),
        )
        secrets, auth = _counterpart_credentials(settings)
    return Counterpart(view=counterparts.router_view(settings, auth, component.urls), secrets=secrets)


def _counterpart_credentials(settings: RegionSettings) -> tuple[dict[str, pulumi.Output[str]], dict[str, str]]:
    """The router's variables for the counterpart, each filled from its secret config key (fleet/kinds.py), and
    the auth the counterpart's output names them in."""
    assert settings.counterpart is not None
    kind = kinds.BY_PLATFORM[settings.counterpart.provider]
    names = kind.env_names(settings.router_region, "")
    secrets = {name: secret(key) for name, key in zip(names, kind.secret_keys, strict=True)}
    if kind.auth_type == "modal_proxy":
        return secrets, {"type": kind.auth_type, "keyEnv": names[0], "secretEnv": names[1]}
    return secrets, {"type": kind.auth_type, "env": names[0]}
