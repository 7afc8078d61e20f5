"""RouterKubernetesConfig: the router's configuration and credentials in the cluster the router runs in.

A ConfigMap holds the config (no secret in it) and a Secret holds the credentials, keyed by the
environment-variable names the config refers to, so a Deployment can load both with `envFrom`. The cluster
is reached through a kubeconfig from secret stack config, never from the deployer's local kubeconfig.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

CONFIG_FILE = "router-config.json"
CONFIG_MAP_NAME = "beacon-router-config"
SECRET_NAME = "beacon-router-credentials"


@dataclass(frozen=True)
class RouterKubernetesConfigArgs:
    kubeconfig: pulumi.Input[str]  # secret
    namespace: str
    config_json: pulumi.Input[str]
    secret_values: pulumi.Input[Mapping[str, str]]  # secret: env name -> value
    labels: Mapping[str, str] = field(default_factory=dict)


class RouterKubernetesConfig(pulumi.ComponentResource):
    config_map_name: pulumi.Output[str]
    secret_name: pulumi.Output[str]

    def __init__(self, name: str, args: RouterKubernetesConfigArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:router:RouterKubernetesConfig", name, None, opts)
        provider = k8s.Provider(
            f"{name}-cluster",
            # An explicit kubeconfig: never the deployer's ~/.kube/config or its current context.
            kubeconfig=pulumi.Output.secret(args.kubeconfig),
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_cluster = pulumi.ResourceOptions(parent=self, provider=provider)
        labels = {"app.kubernetes.io/name": "beacon-router", "app.kubernetes.io/managed-by": "pulumi", **args.labels}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": labels},
            # The router's own workloads may live in it: destroying this stack must not delete them.
            opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(retain_on_delete=True)),
        )
        in_namespace = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[namespace])
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={
                "name": CONFIG_MAP_NAME,
                "namespace": args.namespace,
                "labels": labels,
                # Lets a Deployment roll when the config changes (checksum annotation on its pod template).
                "annotations": {
                    "beacon-fleet/config-sha256": pulumi.Output.from_input(args.config_json).apply(
                        lambda text: hashlib.sha256(text.encode()).hexdigest()
                    )
                },
            },
            data={CONFIG_FILE: args.config_json},
            opts=in_namespace,
        )
        secret = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={"name": SECRET_NAME, "namespace": args.namespace, "labels": labels},
            type="Opaque",
            string_data=pulumi.Output.secret(args.secret_values),
            opts=in_namespace,
        )
        self.config_map_name = config_map.metadata.apply(lambda m: m["name"])
        self.secret_name = secret.metadata.apply(lambda m: m["name"])
        self.register_outputs({"configMapName": self.config_map_name, "secretName": self.secret_name})
