"""The router stack: every region stack's endpoints, merged into the router's configuration and published.

It reads each region stack's `routerProviders` (plain) and `routerSecrets` (secret) through StackReference,
merges and validates them with the same pure functions the region stacks use (fleet/router_config.py),
checks the result against the versioned JSON Schema, and publishes it where the router runs: a ConfigMap and
a Secret in the router's cluster, and the router's Railway service variables. Secret values travel only as
Pulumi secrets, apart from the config, which names them by environment variable.

A problem found here (a region stack missing, a route that breaks residency, a secret the config names but no
stack supplies) fails the stack before any publishing resource is registered: every one of them takes its
inputs from the validated config.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pulumi

from components.router_kubernetes_config import RouterKubernetesConfig, RouterKubernetesConfigArgs
from fleet import router_config
from fleet.router_merge import merged_config, secret_values
from fleet.settings import RouterSettings
from fleet.settings.source import secret
from providers.railway_variables import ROUTER_CONFIG_VARIABLE, RailwayServiceVariables

NIL_UUID = str(UUID(int=0))


def declare_router(settings: RouterSettings) -> None:
    references = [pulumi.StackReference(name) for name in settings.region_stacks]
    entries = pulumi.Output.all(*[ref.get_output("routerProviders") for ref in references])
    # Carried as its JSON text: an apply that returns a dict makes the SDK walk every nested value looking
    # for Outputs, which for a fleet-sized config cost more than registering the stack's resources.
    config_json = entries.apply(lambda found: router_config.to_json(merged_config(settings.region_stacks, found)))
    secret_maps = pulumi.Output.all(*[ref.get_output("routerSecrets") for ref in references])
    secrets = pulumi.Output.secret(
        pulumi.Output.all(config_json, secret_maps).apply(
            lambda both: secret_values(settings.region_stacks, json.loads(both[0]), both[1])
        )
    )

    pulumi.export("regionStacks", list(settings.region_stacks))
    pulumi.export("routerConfig", config_json.apply(json.loads))
    pulumi.export("routerMermaid", config_json.apply(lambda text: router_config.mermaid(json.loads(text))))
    pulumi.export("routerSecrets", secrets)

    published: dict[str, Any] = {}
    if settings.publishes_to("kubernetes"):
        in_cluster = RouterKubernetesConfig(
            "router",
            RouterKubernetesConfigArgs(
                kubeconfig=secret("routerKubeconfig"),
                namespace=settings.namespace,
                config_json=config_json,
                secret_values=secrets,
                labels={"beacon-fleet/stack": settings.stack},
            ),
        )
        published["kubernetes"] = {
            "namespace": settings.namespace,
            "configMap": in_cluster.config_map_name,
            "secret": in_cluster.secret_name,
        }
    railway = settings.railway  # set exactly when railway is a publish target
    if railway is not None:
        placeholders = [k for k, v in railway.ids().items() if v == NIL_UUID]
        if placeholders:
            pulumi.log.warn(
                f"{', '.join(placeholders)} still hold the all-zero placeholder; `pulumi up` fails at Railway until"
                " they are set to the router's real project, environment and service ids"
            )
        RailwayServiceVariables(
            "router-railway",
            api_url=railway.api_url,
            project_id=railway.project_id,
            environment_id=railway.environment_id,
            service_id=railway.service_id,
            token_type=railway.token_type,
            variables=pulumi.Output.all(config_json, secrets).apply(
                lambda both: {ROUTER_CONFIG_VARIABLE: both[0], **both[1]}
            ),
        )
        published["railway"] = {
            "serviceId": railway.service_id,
            "configVariable": ROUTER_CONFIG_VARIABLE,
        }
    pulumi.export("routerPublished", published)
