"""The router stack: every region stack's endpoints, merged into the router's configuration and published.

It reads each region stack's `routerProviders` (plain), the `region`, `routerRegion` and `residency` outputs it
checks them against (fleet/router_trust.py: the router derives jurisdiction and residency from the cloud region,
never from the stack's own claims), and `routerSecrets` (secret) through StackReference. It merges and validates
them with the same pure functions the region stacks use (fleet/router_config.py), placing each region's routes
with the router that can reach them (fleet/router_reach.py: Railway on the internet, or the in-cluster router in
the VPC of routerKubernetesRegionStack), checks the result against the versioned JSON Schema, and publishes to
each target only its own regions and their credentials: a ConfigMap and a Secret in the router's cluster, and
the router's Railway service variables. Secret values travel only as Pulumi secrets, apart from the config,
which names them by environment variable.

A problem found here (a region stack missing or contradicting its cloud region, a route that breaks residency or
that its router cannot reach, a secret the config names but no stack supplies) fails the stack before any
publishing resource is registered: every one of them takes its inputs from the validated config.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pulumi

from components.router_kubernetes_config import RouterKubernetesConfig, RouterKubernetesConfigArgs
from fleet import router_config, router_reach
from fleet.router_merge import REGION_OUTPUTS, merged_config, secret_values
from fleet.settings import RouterSettings
from fleet.settings.source import secret
from providers.railway_variables import ROUTER_CONFIG_VARIABLE, RailwayServiceVariables

NIL_UUID = str(UUID(int=0))


def declare_router(settings: RouterSettings) -> None:
    references = [pulumi.StackReference(name) for name in settings.region_stacks]
    # Each stack's router entry, and the outputs the router checks it against (its cloud region first of all).
    read = _gathered(
        [
            _gathered([ref.get_output(key) for key in REGION_OUTPUTS]).apply(
                lambda values: {k: v for k, v in zip(REGION_OUTPUTS, values, strict=True) if v is not None}
            )
            for ref in references
        ]
    )
    # Carried as its JSON text: wherever it meets Output.all, Output.secret or a resource input, a dict would be
    # rebuilt value by value as nested Outputs (Output.from_input); a string is one value.
    config_json = read.apply(
        lambda found: router_config.to_json(
            merged_config(
                settings.region_stacks,
                found,
                settings.publish_targets,
                settings.kubernetes_region_stack,
                settings.accepted_schema_version,
            )
        )
    )
    secret_maps = _gathered([ref.get_output("routerSecrets") for ref in references])
    secrets = pulumi.Output.secret(
        _gathered([config_json, secret_maps]).apply(
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
                config_json=_for_target(config_json, "kubernetes"),
                secret_values=_secrets_for(secrets, config_json, "kubernetes"),
                labels={"beacon-fleet/stack": settings.stack},
            ),
        )
        published["kubernetes"] = {
            "namespace": settings.namespace,
            "configMap": in_cluster.config_map_name,
            "secret": in_cluster.secret_name,
            "regions": _served_regions(config_json, "kubernetes"),
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
            variables=pulumi.Output.all(
                _for_target(config_json, "railway"), _secrets_for(secrets, config_json, "railway")
            ).apply(lambda both: {ROUTER_CONFIG_VARIABLE: both[0], **both[1]}),
        )
        published["railway"] = {
            "serviceId": railway.service_id,
            "configVariable": ROUTER_CONFIG_VARIABLE,
            "regions": _served_regions(config_json, "railway"),
        }
    pulumi.export("routerPublished", published)


def _gathered(outputs: list[pulumi.Output[Any]]) -> pulumi.Output[list[Any]]:
    """Output.all of these Outputs, without its deep copy: Output.all passes each one through Output.from_input,
    which rebuilds every nested dict and list of a resolved value as Outputs of their own (for the shipped
    fleet's router entries, twice over, some 3,400 Outputs: a fifth of the router stack's plan). Chaining applies
    awaits each Output as it is; the result keeps their resources, and is secret or unknown when one of them is."""
    gathered: pulumi.Output[list[Any]] = pulumi.Output.from_input([])
    for output in outputs:
        gathered = gathered.apply(lambda done, output=output: output.apply(lambda value: [*done, value]))
    return gathered


def _served_regions(config_json: pulumi.Output[str], target: str) -> pulumi.Output[list[str]]:
    def regions(text: str) -> list[str]:
        served = sorted(router_reach.for_target(json.loads(text), target)["regions"])
        if not served:
            # Published anyway (it replaces a stale config), but a router with no route is worth a look.
            pulumi.log.warn(f"the {target} router serves no region: every region is served by another target")
        return served

    return config_json.apply(regions)


def _for_target(config_json: pulumi.Output[str], target: str) -> pulumi.Output[str]:
    """The config one published router gets: only the regions it serves (router_reach.served_from)."""
    return config_json.apply(lambda text: router_config.to_json(router_reach.for_target(json.loads(text), target)))


def _secrets_for(secrets: pulumi.Output, config_json: pulumi.Output[str], target: str) -> pulumi.Output:
    """Only the credentials that router's config names: a router never holds keys it has no route for."""
    return pulumi.Output.secret(
        pulumi.Output.all(secrets, _for_target(config_json, target)).apply(
            lambda both: {k: v for k, v in both[0].items() if k in router_config.secret_env_names(json.loads(both[1]))}
        )
    )
