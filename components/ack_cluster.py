"""AckCluster: an ACK Pro cluster, its CPU system pool, the add-ons cGPU and RRSA need, and a Kubernetes provider."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from fleet import kubeconfig, serving

CONTROL_PLANE_LOG_COMPONENTS = ("apiserver", "kcm", "scheduler", "ccm", "controlplane-events")
# Installed at creation only (the provider ignores later changes to this list); Terway gives pods VPC
# addresses from the pod vSwitches and enforces NetworkPolicy (off unless asked for, and only at creation),
# the CSI plugins mount OSS for model weights.
CREATION_ADDONS: dict[str, dict[str, str]] = {
    "terway-eniip": {"IPVlan": "false", "NetworkPolicy": "true"},
    "csi-plugin": {},
    "csi-provisioner": {},
}
KUBECONFIG_LIFETIME_MINUTES = 4320  # the longest ACK issues; refreshed on every `pulumi up`


@dataclass(frozen=True)
class AckClusterArgs:
    cluster_name: str
    kubernetes_version: str
    node_vswitch_ids: pulumi.Input[Sequence[str]]
    pod_vswitch_ids: pulumi.Input[Sequence[str]]
    service_cidr: str
    system_instance_types: Sequence[str]
    system_node_count: int
    deployer_cidrs: Sequence[str] = ()  # empty: no public API server endpoint
    region: str = ""
    # The ACR Enterprise instance serving pulls from, by the managed credential helper; None: no helper.
    acr_instance_id: pulumi.Input[str] | None = None
    log_ttl_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)
    # Models scale to zero pods through KEDA's HTTP add-on (fleet/serving.py); 0: no add-on. Otherwise the seconds
    # its interceptor holds a request for a pod to be ready: the longest cold start of the region's models.
    scale_to_zero_wait_seconds: int = 0


def acr_helper_config(instance_id: str, region: str) -> str:
    """The managed aliyun-acr-credential-helper's config: temporary pull credentials for the serving namespace's
    service accounts, refreshed before they expire (ACK: "Use the passwordless component to pull images")."""
    return json.dumps(
        {
            "AcrInstanceInfo": [{"instanceId": instance_id, "regionId": region}],
            "watchNamespace": serving.SERVING_NAMESPACE,
            "serviceAccount": "*",
            "expiringThreshold": "15m",
            "enableRRSA": False,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def http_addon_values(wait_seconds: int) -> dict:
    """The kedacore keda-add-ons-http chart's values (its values.yaml, 0.15.0): watch the serving namespace, hold a
    request until the model's pod is ready (the HTTPScaledObject's own conditionWait overrides it per model), and
    run the add-on on the system pool, never on the GPU nodes."""
    system = {serving.NODE_POOL_LABEL: "system"}
    return {
        "crds": {"install": True},
        "operator": {"watchNamespace": serving.SERVING_NAMESPACE, "nodeSelector": system},
        "scaler": {"nodeSelector": system},
        "interceptor": {"readinessTimeout": f"{wait_seconds}s", "nodeSelector": system},
    }


def control_plane_addons() -> list[dict[str, str]]:
    return [
        {"name": name, **({"config": json.dumps(config, sort_keys=True, separators=(",", ":"))} if config else {})}
        for name, config in CREATION_ADDONS.items()
    ]


class AckCluster(pulumi.ComponentResource):
    """ACK Pro with deletion protection, RRSA, Terway, control-plane logs, and an API server the deployer reaches."""

    cluster_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]  # secret
    rrsa_oidc_provider_arn: pulumi.Output[str]
    rrsa_oidc_issuer_url: pulumi.Output[str]
    serving_namespace: pulumi.Output[str]

    def __init__(self, name: str, args: AckClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:kubernetes:AckCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        public_api = bool(args.deployer_cidrs)

        self.cluster = alicloud.cs.ManagedKubernetes(
            f"{name}-cluster",
            name=args.cluster_name,
            cluster_spec="ack.pro.small",  # shared GPU scheduling is an ACK Pro feature
            profile="Default",
            version=args.kubernetes_version,
            vswitch_ids=args.node_vswitch_ids,
            pod_vswitch_ids=args.pod_vswitch_ids,
            service_cidr=args.service_cidr,
            addons=control_plane_addons(),
            proxy_mode="ipvs",
            deletion_protection=True,
            enable_rrsa=True,
            # Nodes only reach in-region VPC endpoints (ACR, OSS); nothing needs a NAT gateway.
            new_nat_gateway=False,
            # A public API server only when deployers outside the VPC are listed; the access-control list below
            # admits only them. Otherwise `pulumi up` runs inside the VPC and uses the intranet endpoint.
            slb_internet_enabled=public_api,
            control_plane_log_components=list(CONTROL_PLANE_LOG_COMPONENTS),
            control_plane_log_ttl=str(args.log_ttl_days),
            audit_log_config={"enabled": True},
            skip_set_certificate_authority=True,
            # Keep the control-plane logs if the cluster is ever deleted; they are the audit trail.
            delete_options=[
                {"resource_type": "SLS_Data", "delete_mode": "retain"},
                {"resource_type": "SLS_ControlPlane", "delete_mode": "retain"},
            ],
            tags=dict(args.tags),
            # The cluster is the region's serving plane; deleting it must be deliberate (and ACK's own deletion
            # protection must be lifted too).
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )

        # ACK's API server listens on a CLB the cluster owns. The provider can create the list but cannot yet
        # attach it to that listener (aliyun/terraform-provider-alicloud#8290); `apiServerAclAttachCommand`
        # in the stack outputs attaches it once, by hand.
        self.api_server_acl = None
        if public_api:
            self.api_server_acl = alicloud.slb.Acl(
                f"{name}-api-server-acl",
                name=f"{args.cluster_name}-api-server",
                ip_version="ipv4",
                entry_lists=[{"entry": cidr, "comment": "deployer"} for cidr in args.deployer_cidrs],
                tags=dict(args.tags),
                opts=child,
            )

        self.system_pool = alicloud.cs.NodePool(
            f"{name}-system-pool",
            cluster_id=self.cluster.id,
            node_pool_name="system",
            vswitch_ids=args.node_vswitch_ids,
            instance_types=list(args.system_instance_types),
            desired_size=str(args.system_node_count),
            multi_az_policy="BALANCE",
            system_disk_category="cloud_essd",
            system_disk_size=120,
            image_type="AliyunLinux3",
            runtime_name="containerd",
            install_cloud_monitor=True,
            management={"enable": True, "auto_repair": True, "max_unavailable": 1},
            labels=[{"key": serving.NODE_POOL_LABEL, "value": "system"}],
            tags=dict(args.tags),
            opts=child,
        )

        # cGPU (gpushare device plugin + cgpu installer) and RRSA credential injection.
        self.shared_gpu_addon = alicloud.cs.KubernetesAddon(
            f"{name}-shared-gpu-addon",
            cluster_id=self.cluster.id,
            name=serving.SHARED_GPU_ADDON,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_pool]),
        )
        self.pod_identity_addon = alicloud.cs.KubernetesAddon(
            f"{name}-pod-identity-addon",
            cluster_id=self.cluster.id,
            name=serving.POD_IDENTITY_ADDON,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_pool]),
        )

        # Node pools' min/max mean nothing until the cluster autoscaler runs (it needs the account's
        # AliyunCSManagedAutoScalerRole, which stacks/lookups.py checks); GPU pools may then start at zero nodes.
        self.autoscaler = alicloud.cs.AutoscalingConfig(
            f"{name}-autoscaler",
            cluster_id=self.cluster.id,
            scaler_type="cluster-autoscaler",
            expander="least-waste",
            scale_up_from_zero=True,
            scale_down_enabled=True,
            # An empty GPU node is billed until these pass (the provider's defaults, stated: the cost view bills
            # them as idle time; fleet/serving.py NODE_UNNEEDED_SECONDS).
            unneeded_duration=f"{serving.NODE_UNNEEDED_SECONDS // 60}m",
            cool_down_duration=f"{serving.NODE_UNNEEDED_SECONDS // 60}m",
            opts=child,
        )

        # Serving pulls a private image: the managed credential helper gives the namespace's service accounts
        # temporary credentials for the Enterprise instance (its prerequisite, AliyunCSManagedAcrRole, is checked
        # with the autoscaler's role).
        self.acr_helper = None
        if args.acr_instance_id is not None:
            self.acr_helper = alicloud.cs.KubernetesAddon(
                f"{name}-acr-credential-helper",
                cluster_id=self.cluster.id,
                name=serving.ACR_HELPER_ADDON,
                config=pulumi.Output.from_input(args.acr_instance_id).apply(
                    lambda instance_id: acr_helper_config(instance_id, args.region)
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_pool]),
            )

        # Scale to zero: ACK's managed KEDA, then KEDA's HTTP add-on, whose interceptor holds a request while KEDA
        # starts the model's pod (and the autoscaler a GPU node for it). Both before any release that scales so.
        self.keda_addon = None
        self.http_addon = None
        self.scale_to_zero_ready: list[pulumi.Resource] = []

        credential = alicloud.cs.get_cluster_credential_output(
            cluster_id=self.cluster.id,
            temporary_duration_minutes=KUBECONFIG_LIFETIME_MINUTES,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        if public_api:
            self.kubeconfig = pulumi.Output.secret(credential.kube_config)
        else:
            # The credential always names the internet endpoint, which this cluster does not have.
            intranet = self.cluster.connections.apply(lambda found: found[0].api_server_intranet if found else "")
            self.kubeconfig = pulumi.Output.secret(
                pulumi.Output.all(credential.kube_config, intranet).apply(
                    lambda both: kubeconfig.with_server(both[0], both[1])
                )
            )
        self.provider = k8s.Provider(
            f"{name}-kubernetes",
            kubeconfig=self.kubeconfig,
            # Server-side apply lets cluster add-ons own fields on shared objects without fights.
            enable_server_side_apply=True,
            opts=child,
        )

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-serving-namespace",
            metadata={
                "name": serving.SERVING_NAMESPACE,
                "labels": {
                    serving.POD_IDENTITY_NAMESPACE_LABEL: "on",
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            },
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.pod_identity_addon]),
        )

        if args.scale_to_zero_wait_seconds:
            self.keda_addon = alicloud.cs.KubernetesAddon(
                f"{name}-keda-addon",
                cluster_id=self.cluster.id,
                name=serving.KEDA_ADDON,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_pool]),
            )
            self.http_addon = k8s.helm.v3.Release(
                f"{name}-keda-http-addon",
                name=serving.HTTP_ADDON_RELEASE,
                chart=serving.HTTP_ADDON_CHART,
                version=serving.HTTP_ADDON_VERSION,
                repository_opts={"repo": serving.HTTP_ADDON_REPO},
                namespace=serving.HTTP_ADDON_NAMESPACE,
                create_namespace=True,
                values=http_addon_values(args.scale_to_zero_wait_seconds),
                atomic=True,
                cleanup_on_fail=True,
                max_history=10,
                opts=pulumi.ResourceOptions(
                    parent=self, provider=self.provider, depends_on=[self.keda_addon, self.namespace]
                ),
            )
            self.scale_to_zero_ready = [self.keda_addon, self.http_addon]

        rrsa = self.cluster.rrsa_metadata
        self.cluster_id = self.cluster.id
        self.rrsa_oidc_provider_arn = rrsa.apply(lambda m: m.ram_oidc_provider_arn if m else "")
        self.rrsa_oidc_issuer_url = rrsa.apply(lambda m: m.rrsa_oidc_issuer_url if m else "")
        self.api_server_slb_id = self.cluster.slb_id
        self.api_server_acl_id = self.api_server_acl.id if self.api_server_acl else None
        self.serving_namespace = self.namespace.metadata.apply(lambda m: m["name"])
        self.register_outputs(
            {
                "cluster_id": self.cluster_id,
                "kubeconfig": self.kubeconfig,
                "rrsa_oidc_provider_arn": self.rrsa_oidc_provider_arn,
                "serving_namespace": self.serving_namespace,
            }
        )
