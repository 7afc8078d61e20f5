"""EasModelService: one model served on PAI-EAS from the region's image and bucket, behind the token EAS generates."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud

from fleet import eas
from providers.eas_token import EasServiceToken


@dataclass(frozen=True)
class EasModelServiceArgs:
    plan: eas.EasServicePlan
    account_id: str
    region: str
    image: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    vswitch_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    tags: dict[str, str]


class EasModelService(pulumi.ComponentResource):
    """An autoscaled EAS service; the token EAS generates for it is read back as a secret for the router."""

    model_id: str
    service_name: str
    vpc_url: str
    public_url: str | None  # None while the service is VPC-only
    token: pulumi.Output[str]  # secret

    def __init__(self, name: str, args: EasModelServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:serving:EasModelService", name, None, opts)
        plan = args.plan

        # No token in the document: EAS hides it when it exports the config, so a written token would show as a
        # change on every preview. EAS generates one instead, and EasServiceToken reads it back.
        document = pulumi.Output.all(args.image, args.vpc_id, args.vswitch_id, args.security_group_id).apply(
            lambda parts: json.dumps(
                eas.service_config(
                    plan,
                    eas.EasPlacement(
                        image=parts[0],
                        vpc_id=parts[1],
                        vswitch_id=parts[2],
                        security_group_id=parts[3],
                    ),
                ),
                sort_keys=True,
                separators=(",", ":"),
            )
        )
        self.service = alicloud.pai.Service(
            f"{name}-service",
            service_config=document,
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

        # The service's id is its name (the provider sets it from CreateService's answer); its creation time
        # changes when it is re-created, and so does its token.
        self.token_reader = EasServiceToken(
            f"{name}-token",
            region=args.region,
            service_name=self.service.id,
            service_created=self.service.create_time,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.token = pulumi.Output.secret(self.token_reader.token)

        self.plan = plan
        self.model_id = plan.model_id
        self.service_name = plan.service_name
        self.vpc_url = eas.vpc_endpoint(args.account_id, args.region, plan.service_name)
        self.public_url = (
            eas.public_endpoint(args.account_id, args.region, plan.service_name) if plan.public_endpoint else None
        )
        self.register_outputs({"service_name": self.service_name, "vpc_url": self.vpc_url, "token": self.token})
