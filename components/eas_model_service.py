"""EasModelService: one model served on PAI-EAS from the region's image and bucket, behind a token we generate."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud
import pulumi_random as random

from fleet import eas


@dataclass(frozen=True)
class EasModelServiceArgs:
    plan: eas.EasServicePlan
    account_id: str
    region: str
    image: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    vswitch_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    role_arn: pulumi.Input[str]
    tags: dict[str, str]


class EasModelService(pulumi.ComponentResource):
    """An autoscaled EAS service; its token is generated here so the router can be given it as a secret."""

    model_id: str
    service_name: str
    vpc_url: str
    public_url: str | None  # None while the service is VPC-only
    token: pulumi.Output[str]  # secret

    def __init__(self, name: str, args: EasModelServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:serving:EasModelService", name, None, opts)
        plan = args.plan

        # EAS would generate a token itself, but only its API could read it back; generating it here makes it a
        # Pulumi secret from the start. Alphanumeric so it travels unquoted in headers.
        self.token_source = random.RandomPassword(
            f"{name}-token", length=48, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        self.token = pulumi.Output.secret(self.token_source.result)

        document = pulumi.Output.all(
            args.image, args.vpc_id, args.vswitch_id, args.security_group_id, args.role_arn, self.token
        ).apply(
            lambda parts: json.dumps(
                eas.service_config(
                    plan,
                    eas.EasPlacement(
                        image=parts[0],
                        vpc_id=parts[1],
                        vswitch_id=parts[2],
                        security_group_id=parts[3],
                        role_arn=parts[4],
                    ),
                    token=parts[5],
                ),
                sort_keys=True,
                separators=(",", ":"),
            )
        )
        self.service = alicloud.pai.Service(
            f"{name}-service",
            service_config=pulumi.Output.secret(document),
            status="Running",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                # The provider waits for Running for 5 minutes by default; a GPU instance, the image pull and the
                # model load take longer, and a timed-out create leaves a half-made service.
                custom_timeouts=pulumi.CustomTimeouts(
                    create=eas.create_timeout(plan), update=eas.create_timeout(plan), delete="30m"
                ),
            ),
        )

        self.plan = plan
        self.model_id = plan.model_id
        self.service_name = plan.service_name
        self.vpc_url = eas.vpc_endpoint(args.account_id, args.region, plan.service_name)
        self.public_url = (
            eas.public_endpoint(args.account_id, args.region, plan.service_name) if plan.public_endpoint else None
        )
        self.register_outputs({"service_name": self.service_name, "vpc_url": self.vpc_url, "token": self.token})
