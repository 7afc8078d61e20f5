"""InferenceRelease: one model on the region's ACK cluster, through charts/inference-server.

helm.v3.Release, not helm.v4.Chart: the chart is installed as a real Helm release, so Helm lints it and
validates the values against values.schema.json before installing, `atomic` rolls back an upgrade whose pods
never become ready (a model that fails to load), and operators keep `helm history` and `helm rollback`.
helm.v4.Chart would expand the chart into separate Pulumi resources without a Helm release.
The cost is that a preview shows a change of values, not a diff per Kubernetes object; the tests render the
chart with exactly the registered values to make up for it.

The API key is generated here and kept in a Kubernetes Secret that the chart only references, so the key
never passes through Helm values or Helm's release history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s
import pulumi_random as random

from fleet import inference_chart, serving

RELEASE_MARGIN_SECONDS = serving.IMAGE_PULL_SECONDS  # image pull and load-balancer set-up, on top of the startup budget


# Pulumi waits, before the release that depends on the account, until the credential helper has patched it with
# its pull secret: pulumi-kubernetes' await annotations ("pulumi.com/waitFor" with a JSONPath, and
# "pulumi.com/timeoutSeconds"; pulumi-kubernetes 4.18 and later, CHANGELOG). Without the wait, Pulumi creates the
# account and installs the release at once, and a pod admitted before the patch keeps no pull secret.
PULL_SECRET_WAIT = {"pulumi.com/waitFor": "jsonpath={.imagePullSecrets[0].name}", "pulumi.com/timeoutSeconds": "600"}


@dataclass(frozen=True)
class InferenceReleaseArgs:
    release_name: str
    api_key_secret_name: str  # the Secret the chart's values reference for VLLM_API_KEY
    namespace: pulumi.Input[str]
    load_balancer_name: str
    address_type: str  # intranet | internet
    vswitch_id: pulumi.Input[str]  # where an intranet load balancer takes its address
    allowed_cidrs: Sequence[str]  # the load balancer's allowlist; empty: none
    image: pulumi.Input[str]  # by digest
    bucket: pulumi.Input[str]
    values: Mapping[str, Any]  # what settings decide (fleet.inference_chart.release_values); the cloud's ids added here
    scheme: str  # http | https, as the load balancer's listener serves
    port: int
    startup_budget_seconds: int
    tags: Mapping[str, str] = field(default_factory=dict)
    service_account_name: str = ""  # the pods' service account, declared here before the release
    # What must exist before that service account: the ACR credential helper, which patches it with its pull secret.
    service_account_after: Sequence[pulumi.Resource] = ()
    # Scale to zero: what must exist before the release (KEDA and its HTTP add-on, whose CRD the release's
    # HTTPScaledObject is), and the seconds a first pod may take on a pool at zero nodes (node, image, model).
    release_after: Sequence[pulumi.Resource] = ()
    cold_start_seconds: int = 0


class InferenceRelease(pulumi.ComponentResource):
    url: pulumi.Output[str]
    api_key: pulumi.Output[str]  # secret
    release_name: str

    def __init__(
        self,
        name: str,
        args: InferenceReleaseArgs,
        provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("beacon-fleet:kubernetes:InferenceRelease", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        in_cluster = pulumi.ResourceOptions(parent=self, provider=provider)
        self.release_name = args.release_name
        secret_name = args.api_key_secret_name

        key = random.RandomPassword(f"{name}-api-key", length=48, special=False, opts=child)
        self.api_key = pulumi.Output.secret(key.result)
        secret = k8s.core.v1.Secret(
            f"{name}-api-key",
            metadata={"name": secret_name, "namespace": args.namespace},
            type="Opaque",
            string_data={inference_chart.API_KEY_SECRET_KEY: self.api_key},
            opts=in_cluster,
        )

        # Declared here rather than by the cloud controller, so its address is known to Pulumi and the router.
        self.load_balancer = alicloud.slb.ApplicationLoadBalancer(
            f"{name}-load-balancer",
            load_balancer_name=args.load_balancer_name,
            address_type=args.address_type,
            vswitch_id=args.vswitch_id if args.address_type == "intranet" else None,
            payment_type="PayAsYouGo",
            instance_charge_type="PayByCLCU",
            tags=dict(args.tags),
            opts=child,
        )

        acl_id: pulumi.Input[str] = ""
        if args.allowed_cidrs:
            acl = alicloud.slb.Acl(
                f"{name}-allowlist",
                name=f"{args.load_balancer_name}-allowlist",
                ip_version="ipv4",
                entry_lists=[{"entry": cidr, "comment": "router"} for cidr in args.allowed_cidrs],
                tags=dict(args.tags),
                opts=child,
            )
            acl_id = acl.id
        values = pulumi.Output.all(
            self.load_balancer.id, acl_id, args.image, args.bucket, self.load_balancer.address
        ).apply(
            lambda resolved: inference_chart.with_cloud_values(
                dict(args.values),
                inference_chart.CloudValues(
                    image=resolved[2],
                    bucket=resolved[3],
                    load_balancer_id=resolved[0],
                    acl_id=resolved[1] or "",
                    load_balancer_address=resolved[4] or "",
                    port=args.port,
                ),
            )
        )
        # The pods' service account, declared after the ACR credential helper and before the release: the helper
        # patches service accounts with its pull secret once they exist, and Kubernetes copies a service account's
        # imagePullSecrets into a pod only when the pod is admitted. Created by the chart, the account would be
        # patched after the first pods were admitted, and those would keep no pull secret (ImagePullBackOff).
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": args.service_account_name,
                "namespace": args.namespace,
                # ack-pod-identity-webhook injects credentials for this RAM role (RRSA) into the pods.
                "annotations": {
                    serving.POD_IDENTITY_ROLE_ANNOTATION: str(args.values["serviceAccount"]["roleName"]),
                    **PULL_SECRET_WAIT,
                },
            },
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(args.service_account_after)),
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=self.release_name,
            # Relative to the project directory, where Pulumi runs the program: plans stay the same per clone.
            chart=inference_chart.CHART_DIR,
            namespace=args.namespace,
            values=values,
            lint=True,
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            # Helm waits for the Deployment's pods: with replicas at the minimum, a pod may first need a GPU node
            # (the pool can be at zero), then its image and the model; at zero replicas it waits for none.
            timeout=max(args.startup_budget_seconds + RELEASE_MARGIN_SECONDS, args.cold_start_seconds),
            opts=pulumi.ResourceOptions(
                parent=self, provider=provider, depends_on=[secret, self.service_account, *args.release_after]
            ),
        )
        self.url = self.load_balancer.address.apply(
            lambda address: inference_chart.base_url(args.scheme, address, args.port)
        )
        self.register_outputs({"url": self.url, "api_key": self.api_key})
