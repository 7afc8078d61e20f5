"""FcModelFunction: one model served by a Function Compute 3.0 GPU function that scales to zero, behind an
HTTPS trigger whose requests must carry a key we generate."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud
import pulumi_random as random

from fleet import fc, serving


@dataclass(frozen=True)
class FcModelFunctionArgs:
    plan: fc.FcFunctionPlan
    image: pulumi.Input[str]  # the serving image by digest, through the registry's VPC domain
    vpc_id: pulumi.Input[str]
    vswitch_ids: pulumi.Input[list[str]]  # those linked to the ACR Enterprise instance (FC pulls through them)
    security_group_id: pulumi.Input[str]
    role_arn: pulumi.Input[str]  # FC assumes it to pull the image and to mount the bucket read-only
    tags: dict[str, str]
    # The ACR Enterprise instance the image is in: FC's API (2023-03-30 CustomContainerConfig) says acrInstanceId
    # "must" be given for an Enterprise image; the provider marks the field deprecated yet still sends it.
    acr_instance_id: pulumi.Input[str] | None = None


class FcModelFunction(pulumi.ComponentResource):
    """A GPU function (minimum 0 instances, maximum `plan.max_instances`), its instance cap and its trigger."""

    model_id: str
    function_name: str
    url: pulumi.Output[str]  # the trigger's public URL, over HTTPS
    api_key: pulumi.Output[str]  # secret

    def __init__(self, name: str, args: FcModelFunctionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:serving:FcModelFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plan = args.plan

        # vLLM checks it (VLLM_API_KEY) as `Authorization: Bearer <key>`; alphanumeric, so it travels unquoted.
        self.key_source = random.RandomPassword(f"{name}-api-key", length=48, special=False, opts=child)
        self.api_key = pulumi.Output.secret(self.key_source.result)
        mount = plan.environment["MODEL_DIR"]

        self.function = alicloud.fc.V3Function(
            f"{name}-function",
            function_name=plan.function_name,
            description=f"vLLM serving {plan.model_id} (beacon-fleet)",
            runtime="custom-container",
            handler="index.handler",  # required by the API, unused by a custom container
            custom_container_config=alicloud.fc.V3FunctionCustomContainerConfigArgs(
                image=args.image,
                acr_instance_id=args.acr_instance_id,
                port=serving.SERVING_PORT,  # serve.py's PORT; FC's own default is 9000
                health_check_config=alicloud.fc.V3FunctionCustomContainerConfigHealthCheckConfigArgs(
                    http_get_url="/health",  # vLLM answers it without the key, once the model is loaded
                    initial_delay_seconds=min(plan.startup_budget_seconds, 120),
                    period_seconds=10,
                    timeout_seconds=fc.HEALTH_CHECK_TIMEOUT_SECONDS,
                    failure_threshold=max(3, plan.startup_budget_seconds // 10),
                    success_threshold=1,
                ),
            ),
            gpu_config=alicloud.fc.V3FunctionGpuConfigArgs(gpu_type=plan.gpu_type, gpu_memory_size=plan.gpu_memory_mb),
            cpu=fc.VCPU,
            memory_size=fc.MEMORY_MB,
            disk_size=fc.DISK_MB,
            timeout=plan.request_timeout_seconds,
            instance_concurrency=plan.instance_concurrency,
            environment_variables=pulumi.Output.secret(
                pulumi.Output.from_input(self.api_key).apply(lambda key: {**plan.environment, "VLLM_API_KEY": key})
            ),
            role=args.role_arn,
            vpc_config=alicloud.fc.V3FunctionVpcConfigArgs(
                vpc_id=args.vpc_id, vswitch_ids=args.vswitch_ids, security_group_id=args.security_group_id
            ),
            internet_access=False,  # weights come from the bucket; nothing is fetched from the internet
            oss_mount_config=alicloud.fc.V3FunctionOssMountConfigArgs(
                mount_points=[
                    alicloud.fc.V3FunctionOssMountConfigMountPointArgs(
                        bucket_name=plan.bucket,
                        bucket_path=f"/{serving.model_prefix(plan.model_id)}",
                        endpoint=f"http://{plan.oss_endpoint}",
                        mount_dir=mount,
                        read_only=True,
                    )
                ]
            ),
            tags=dict(args.tags),
            opts=child,
        )
        # FC 3.0 "Specify the maximum number of instances": the function's reserved concurrency caps its
        # instances (provisioned and on-demand together). There is no provision config: the minimum is 0.
        self.instance_cap = alicloud.fc.V3ConcurrencyConfig(
            f"{name}-max-instances",
            function_name=self.function.function_name,
            reserved_concurrency=plan.max_instances,
            opts=child,
        )
        self.trigger = alicloud.fc.V3Trigger(
            f"{name}-http",
            function_name=self.function.function_name,
            qualifier="LATEST",
            trigger_type="http",
            trigger_name="https",
            # Anonymous at FC; the container refuses requests without the Bearer key (see fleet/fc.py for why).
            trigger_config=json.dumps(
                {"authType": "anonymous", "methods": ["GET", "POST"], "disableURLInternet": False},
                sort_keys=True,
            ),
            opts=child,
        )

        self.plan = plan
        self.model_id = plan.model_id
        self.function_name = plan.function_name
        self.url = self.trigger.http_trigger.apply(lambda t: fc.https((t.url_internet if t else "") or ""))
        self.register_outputs({"function_name": self.function_name, "url": self.url, "api_key": self.api_key})
