"""ModelReadAccess: one RAM role per consumer of the model bucket, each allowed to read that bucket only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud

from fleet import ram_policies

# Function Compute assumes a function's role to pull its image and to mount OSS (FC 3.0 docs).
FC_SERVICE_PRINCIPAL = "fc.aliyuncs.com"
# The system policy that lets it pull from ACR (GetAuthorizationToken, pull), read-only.
ACR_READ_POLICY = "AliyunContainerRegistryReadOnlyAccess"


@dataclass(frozen=True)
class RrsaSubject:
    oidc_provider_arn: pulumi.Input[str]
    issuer_url: pulumi.Input[str]
    service_accounts: tuple[str, ...]  # namespace:name, each allowed to assume the role


@dataclass(frozen=True)
class ModelReadAccessArgs:
    name_stem: str  # role and policy names start with it (stack slug)
    bucket_name: pulumi.Input[str]
    kms_key_arn: str = ""
    fc: bool = False  # a role for Function Compute functions (also allowed to pull images)
    rrsa: RrsaSubject | None = None  # a role for ACK pods, through RRSA
    tags: Mapping[str, str] = field(default_factory=dict)


class ModelReadAccess(pulumi.ComponentResource):
    """A read-only bucket policy, and roles for FC and for the serving pods' service account that carry it."""

    serving_role_arn: pulumi.Output[str] | None
    serving_role_name: str | None
    fc_role_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: ModelReadAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:iam:ModelReadAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stem = args.name_stem

        self.policy = alicloud.ram.Policy(
            f"{name}-read-models",
            policy_name=f"{stem}-read-models"[:128],
            policy_document=pulumi.Output.from_input(args.bucket_name).apply(
                lambda bucket: ram_policies.to_json(ram_policies.bucket_read_policy(bucket, args.kms_key_arn))
            ),
            description="Read the region's model bucket; nothing else",
            tags=dict(args.tags),
            opts=child,
        )

        # No role for PAI-EAS: it mounts the bucket with its service-linked role and pulls a same-account,
        # same-region image without credentials (fleet/eas.py says where that is written).
        self.fc_role_arn = None
        if args.fc:
            fc_role = self._role(
                f"{name}-fc-role",
                f"{stem}-fc"[:64],
                ram_policies.to_json(ram_policies.service_trust_policy(FC_SERVICE_PRINCIPAL)),
                "Function Compute GPU functions of this region",
                args.tags,
            )
            alicloud.ram.RolePolicyAttachment(
                f"{name}-fc-role-pull-images",
                role_name=fc_role.role_name,
                policy_name=ACR_READ_POLICY,
                policy_type="System",
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.fc_role_arn = fc_role.arn

        self.serving_role_arn = self.serving_role_name = None
        if args.rrsa is not None:
            subject = args.rrsa
            self.serving_role_name = f"{stem}-serving"[:64]
            trust = pulumi.Output.all(subject.oidc_provider_arn, subject.issuer_url).apply(
                lambda parts: ram_policies.to_json(
                    ram_policies.rrsa_trust_policy(parts[0], parts[1], subject.service_accounts)
                )
            )
            serving_role = self._role(
                f"{name}-serving-role",
                self.serving_role_name,
                trust,
                "ACK inference pods and their OSS weights mount (RRSA)",
                args.tags,
            )
            self.serving_role_arn = serving_role.arn

        self.register_outputs(
            {
                "serving_role_arn": self.serving_role_arn,
                "fc_role_arn": self.fc_role_arn,
            }
        )

    def _role(
        self, resource_name: str, role_name: str, trust: pulumi.Input[str], description: str, tags: Mapping[str, str]
    ) -> alicloud.ram.Role:
        role = alicloud.ram.Role(
            resource_name,
            role_name=role_name,
            assume_role_policy_document=trust,
            description=description,
            max_session_duration=3600,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        alicloud.ram.RolePolicyAttachment(
            f"{resource_name}-read-models",
            role_name=role.role_name,
            policy_name=self.policy.policy_name,
            policy_type=self.policy.type,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role
