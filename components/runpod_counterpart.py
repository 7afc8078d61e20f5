"""RunpodCounterpart: the region's models on RunPod serverless, one vLLM worker template and endpoint each.

runpodinfra quirks handled here: `docker_args` cannot be empty (the provider sends it to a non-null GraphQL
field, so it carries one space), `readme` must be non-empty, and a resource's `.id` is its Pulumi name, not
RunPod's id, so ids are read from `template.template.id` and `endpoint.endpoint.id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import runpodinfra as runpod

from fleet import counterparts


@dataclass(frozen=True)
class RunpodModel:
    model_id: str
    hf_repo: str
    env: dict[str, str]  # vLLM worker settings (MAX_MODEL_LEN, DTYPE, ...)


@dataclass(frozen=True)
class RunpodCounterpartArgs:
    name_stem: str  # RunPod names are unique per account: stack slug
    worker_image: str
    gpu_pools: Sequence[str]
    locations: Sequence[str]
    min_workers: int
    max_workers: int
    idle_timeout_seconds: int
    hf_token_secret: str  # name of a RunPod secret, referenced, never read
    models: Sequence[RunpodModel]


class RunpodCounterpart(pulumi.ComponentResource):
    urls: dict[str, dict[str, pulumi.Output[str]]]  # model -> baseUrl, healthUrl

    def __init__(self, name: str, args: RunpodCounterpartArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:counterpart:RunpodCounterpart", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.urls = {}
        for model in args.models:
            runpod_name = f"{args.name_stem}-{model.model_id}"
            env = {
                "MODEL_NAME": model.hf_repo,
                "OPENAI_SERVED_MODEL_NAME_OVERRIDE": model.model_id,
                # RunPod substitutes its own secret at run time; the token never enters Pulumi state.
                "HF_TOKEN": f"{{{{ RUNPOD_SECRET_{args.hf_token_secret} }}}}",
                **model.env,
            }
            template = runpod.Template(
                f"{name}-{model.model_id}-template",
                name=runpod_name,
                image_name=args.worker_image,
                is_serverless=True,
                container_disk_in_gb=50,
                volume_in_gb=0,
                docker_args=" ",  # never empty: the provider fails on ""
                readme=f"Project Beacon counterpart of {model.model_id}; managed by Pulumi (beacon-fleet).",
                env=[runpod.PodEnvArgs(key=k, value=v) for k, v in sorted(env.items())],
                opts=child,
            )
            endpoint = runpod.Endpoint(
                f"{name}-{model.model_id}-endpoint",
                name=runpod_name,
                template_id=template.template.id,
                gpu_ids=",".join(args.gpu_pools),
                locations=",".join(args.locations),
                workers_min=args.min_workers,
                workers_max=args.max_workers,
                idle_timeout=args.idle_timeout_seconds,
                scaler_type=counterparts.RUNPOD_SCALER_TYPE,
                scaler_value=counterparts.RUNPOD_QUEUE_DELAY_SECONDS,
                opts=child,
            )
            endpoint_id = endpoint.endpoint.id
            self.urls[model.model_id] = {
                "baseUrl": endpoint_id.apply(lambda i: counterparts.runpod_urls(i).base_url),
                "healthUrl": endpoint_id.apply(lambda i: counterparts.runpod_urls(i).health_url),
            }
        self.register_outputs({"urls": self.urls})
