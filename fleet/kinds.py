"""Every serving kind beacon-fleet routes to, declared once: the platforms on Alibaba Cloud (PAI-EAS, ACK,
Function Compute), the counterparts (RunPod, Modal) and a partner's endpoint in the mainland.

Each consumer derives its list from KINDS: the settings (servingPlatforms, failoverOrder, counterpartProvider),
the region stack's exports and router entry, the router's trust and merge, the cost view and the probe. What
cannot import it is pinned to it by tests/test_kinds.py: the schema's enums, and the policy pack's public endpoint
types (the pack runs without beacon-fleet). A new kind is one entry here plus its own code; tests/test_kinds.py
fails while a consumer has no answer for it.

Pure data: no imports from the rest of the fleet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Where a figure comes from, when the kind's entry states one.
MODAL_WEB_LIMIT = "Modal cuts every web request at 150 s (modal.com/docs/guide/webhook-timeouts)"
RUNPOD_EXECUTION_LIMIT = "RunPod's default job execution timeout is 600 s (docs.runpod.io, endpoint configurations)"
GATEWAY_LIMIT = "the load balancers and gateways beacon-fleet declares in front of it are sized to 600 s"


@dataclass(frozen=True)
class Kind:
    """One kind of endpoint the router can send a request to."""

    platform: str  # its id in servingPlatforms / counterpartProvider, in provider ids and in cost lines
    router_type: str  # the router config's provider `type`
    title: str  # as messages and names say it
    failover_step: str  # its step in a region's failoverOrder
    on_alibaba: bool  # declared on Alibaba Cloud in the region's own account, region and VPC
    counterpart: bool  # a serverless counterpart outside Alibaba Cloud, in the provider's own locations
    provisioned: bool  # beacon-fleet declares it; False: it exists already and is only routed to
    output_key: str  # the region stack output with its endpoints by model; "" when it has none of its own
    auth_type: str  # the router config's auth type
    # The router's environment variables for its credentials: parts after the router region; "{model}" is the
    # model id, so a kind with it has one credential per model, one per region otherwise.
    env_parts: tuple[tuple[str, ...], ...]
    # The secret stack config keys holding those credentials; empty when the stack makes them itself.
    secret_keys: tuple[str, ...]
    health_mode: str  # active | passive | scale-to-zero (passive when it scales to zero, active otherwise)
    health_path: str  # appended to the endpoint's root for its health URL
    timeout_limit: int  # the longest request timeout the router may use, in seconds
    timeout_source: str
    cold_start: str  # what a user waits for on the first request after scale to zero, with its source
    host_suffix: str = ""  # the host every endpoint of a counterpart lives under
    # The Alibaba resource types that expose it to the internet (the policy pack's ICP check covers each).
    public_endpoint_types: tuple[str, ...] = ()
    # Billed by the hour per node or instance, busy or not, while one runs (an ACK GPU node, an EAS instance); the
    # cost view says at what volume one of it all month beats the serverless kinds.
    dedicated: bool = False

    def env_names(self, router_region: str, model_id: str) -> tuple[str, ...]:
        """The environment variables holding this kind's credentials for one model of one router region."""
        return tuple(
            env_name(router_region, *(model_id if part == "{model}" else part for part in parts))
            for parts in self.env_parts
        )

    def router_auth(self, router_region: str, model_id: str) -> dict[str, str]:
        """The config's `auth` for one model of one router region: variable names only."""
        names = self.env_names(router_region, model_id)
        if self.auth_type == "modal_proxy":
            return {"type": self.auth_type, "key_env": names[0], "secret_env": names[1]}
        return {"type": self.auth_type, "env": names[0]}

    @property
    def per_model_credentials(self) -> bool:
        return any("{model}" in parts for parts in self.env_parts)


def env_name(router_region: str, *parts: str) -> str:
    """ASIA_EAST_EAS_LLAMA3_2_1B_TOKEN: upper snake case, what shells and Railway accept."""
    return re.sub(r"[^A-Z0-9]+", "_", "_".join((router_region, *parts)).upper()).strip("_")


# In the order a region's router tries them by default (failoverOrder's default).
KINDS: tuple[Kind, ...] = (
    Kind(
        platform="ack",
        dedicated=True,
        router_type="ack",
        title="ACK",
        failover_step="ack",
        on_alibaba=True,
        counterpart=False,
        provisioned=True,
        output_key="ackEndpoints",
        auth_type="bearer",  # vLLM's API key
        env_parts=(("ACK", "{model}", "KEY"),),
        secret_keys=(),
        health_mode="active",
        health_path="/health",
        timeout_limit=600,
        timeout_source=GATEWAY_LIMIT,
        cold_start="none while the GPU pool has nodes; from zero nodes (minReplicasPerModel 0, KEDA's HTTP add-on) a"
        " GPU node's creation (no source times it; the cluster autoscaler waits up to 15 min), the image pull and the"
        " model load; the woken nodes are billed through KEDA's 300 s scale-down and the autoscaler's 10 min"
        " unneeded_duration",
        public_endpoint_types=(
            "kubernetes:helm.sh/v3:Release",
            "kubernetes:helm.sh/v4:Chart",
            "kubernetes:core/v1:Service",
            "alicloud:slb/loadBalancer:LoadBalancer",
        ),
    ),
    Kind(
        platform="eas",
        dedicated=True,
        router_type="alibaba_eas",
        title="PAI-EAS",
        failover_step="eas",
        on_alibaba=True,
        counterpart=False,
        provisioned=True,
        output_key="easEndpoints",
        # EAS checks its service token in the Authorization header, without a scheme.
        auth_type="eas_token",
        env_parts=(("EAS", "{model}", "TOKEN"),),
        secret_keys=(),
        health_mode="active",
        health_path="/health",
        timeout_limit=600,
        timeout_source=GATEWAY_LIMIT,
        cold_start="at minimum 0, the model's startup budget up to 15 min provisioning plus it (no source times it);"
        " idle instances are billed for onZero.scaleDownGracePeriodSeconds (600 s default) before scaling to zero",
        public_endpoint_types=("alicloud:pai/service:Service",),
    ),
    Kind(
        platform="fc",
        router_type="alibaba_fc",
        title="Function Compute",
        failover_step="fc",
        on_alibaba=True,
        counterpart=False,
        provisioned=True,
        output_key="fcEndpoints",
        auth_type="bearer",  # the trigger is anonymous; vLLM in the function checks the key
        env_parts=(("FC", "{model}", "KEY"),),
        secret_keys=(),
        # Scale to zero: an active probe would start, and bill, a GPU instance.
        health_mode="passive",
        health_path="/health",
        timeout_limit=600,
        timeout_source=GATEWAY_LIMIT,
        cold_start="10-30 s to a GPU instance (FC 3.0 GPU docs, '10到30秒'), plus the model's load from the OSS mount",
        public_endpoint_types=(
            "alicloud:fc/v3Trigger:V3Trigger",
            "alicloud:fc/trigger:Trigger",
            "alicloud:fc/v3CustomDomain:V3CustomDomain",
            "alicloud:fc/customDomain:CustomDomain",
        ),
    ),
    Kind(
        platform="partner",
        router_type="partner",
        title="partner",
        failover_step="partner",
        on_alibaba=False,
        counterpart=False,
        provisioned=False,
        output_key="partnerEndpoint",
        auth_type="bearer",  # OpenAI-compatible: Authorization: Bearer <key>
        env_parts=(("PARTNER", "KEY"),),
        secret_keys=("partnerApiKey",),
        # Nothing says whether the partner's health call is free or wakes a GPU; the router watches traffic.
        health_mode="passive",
        health_path="/v1/models",
        # The partner's own limit is unknown (set by agreement); the router keeps the ceiling it uses elsewhere.
        timeout_limit=600,
        timeout_source="unknown for a partner (agree it); the router's ceiling for every other kind is 600 s",
        cold_start="unknown: the partner runs it (agree it with the partner)",
    ),
    Kind(
        platform="runpod",
        router_type="runpod",
        title="RunPod",
        failover_step="counterpart",
        on_alibaba=False,
        counterpart=True,
        provisioned=True,
        output_key="",
        auth_type="bearer",
        env_parts=(("RUNPOD_API_KEY",),),
        secret_keys=("runpodRouterApiKey",),
        # /health is a control-plane call: it reports queue and workers without waking a worker.
        health_mode="active",
        health_path="/health",
        timeout_limit=600,
        timeout_source=RUNPOD_EXECUTION_LIMIT,
        cold_start="none with active workers; from 0, 0.2 s (FlashBoot, the study: 48% of requests) up to the startup"
        " budget; idle workers billed for counterpartIdleTimeoutSeconds",
        host_suffix="api.runpod.ai",
    ),
    Kind(
        platform="modal",
        router_type="modal",
        title="Modal",
        failover_step="counterpart",
        on_alibaba=False,
        counterpart=True,
        provisioned=True,
        output_key="",
        auth_type="modal_proxy",
        env_parts=(("MODAL_KEY",), ("MODAL_SECRET",)),
        secret_keys=("modalProxyTokenId", "modalProxyTokenSecret"),
        # vLLM's own /health: reaching it wakes a scaled-to-zero container.
        health_mode="scale-to-zero",
        health_path="/health",
        timeout_limit=149,
        timeout_source=MODAL_WEB_LIMIT,
        cold_start="none with warm containers; from 0, 2-4 s (the study) up to the startup budget; idle containers"
        " billed for counterpartIdleTimeoutSeconds (scaledown_window)",
        host_suffix="modal.run",
    ),
)

BY_PLATFORM = {k.platform: k for k in KINDS}
BY_ROUTER_TYPE = {k.router_type: k for k in KINDS}
ALIBABA = tuple(k for k in KINDS if k.on_alibaba)
COUNTERPARTS = tuple(k for k in KINDS if k.counterpart)
# servingPlatforms: what a region declares on Alibaba Cloud.
PLATFORMS = tuple(k.platform for k in ALIBABA)
# failoverOrder's steps, in KINDS' order: the region's own platforms, the partner, then its counterpart.
FAILOVER_STEPS = tuple(dict.fromkeys(k.failover_step for k in KINDS))
ROUTER_TYPES = tuple(k.router_type for k in KINDS)
AUTH_TYPES = tuple(dict.fromkeys(k.auth_type for k in KINDS))
