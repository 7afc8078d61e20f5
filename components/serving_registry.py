"""ServingRegistry: the region's private Container Registry, reachable from the VPC, pushable by the deployer.

Enterprise Edition is the default: it has VPC endpoints and issues short-lived push tokens. Personal Edition
is selectable for small accounts, but Alibaba Cloud marks its resources deprecated and it needs a long-lived
password kept as a Pulumi secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


@dataclass(frozen=True)
class ServingRegistryArgs:
    region: str
    edition: str  # enterprise or personal
    instance_name: str  # Enterprise Edition instance; also names its domains
    namespace: str
    repository: str
    vpc_id: pulumi.Input[str]
    vswitch_id: pulumi.Input[str]
    instance_type: str = "Basic"
    deployer_cidrs: Sequence[str] = ()  # empty: no internet endpoint (pushes from inside the VPC only)
    username: str = ""  # Personal Edition only
    password: pulumi.Input[str] | None = None  # Personal Edition only; a secret
    tags: Mapping[str, str] = field(default_factory=dict)
    # (namespace, repository, tag) of a Docker Hub image to sync into this instance for the serving image's base
    # (ACR "Sync images from sources outside China using artifact subscription"); Enterprise Edition only.
    base_subscription: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class RegistryDomains:
    public: str  # the internet domain; an Enterprise instance answers on it only with its internet endpoint on
    vpc: str  # where EAS and ACK pull, inside the region


def registry_domains(edition: str, instance_name: str, region: str) -> RegistryDomains:
    if edition == "enterprise":
        return RegistryDomains(
            public=f"{instance_name}-registry.{region}.cr.aliyuncs.com",
            vpc=f"{instance_name}-registry-vpc.{region}.cr.aliyuncs.com",
        )
    return RegistryDomains(public=f"registry.{region}.aliyuncs.com", vpc=f"registry-vpc.{region}.aliyuncs.com")


class ServingRegistry(pulumi.ComponentResource):
    """A private namespace and repository, linked to the VPC, with credentials the image build pushes with."""

    domains: RegistryDomains
    push_domain: str  # where `pulumi up` pushes: the public domain only where it answers, else the VPC domain
    repository_path: str  # namespace/repository
    push_username: pulumi.Output[str]
    push_password: pulumi.Output[str]  # secret

    def __init__(self, name: str, args: ServingRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:registry:ServingRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Images are the only copy of what each region serves; losing the registry loses the audit trail.
        protected = pulumi.ResourceOptions(parent=self, protect=True)
        self.domains = registry_domains(args.edition, args.instance_name, args.region)
        internet = args.edition == "personal" or bool(args.deployer_cidrs)
        self.push_domain = self.domains.public if internet else self.domains.vpc
        self.repository_path = f"{args.namespace}/{args.repository}"

        if args.edition == "enterprise":
            self.instance = alicloud.cr.RegistryEnterpriseInstance(
                f"{name}-instance",
                instance_name=args.instance_name,
                instance_type=args.instance_type,
                payment_type="Subscription",
                period=1,
                renewal_status="AutoRenewal",
                renew_period=1,
                image_scanner="ACR",
                tags=dict(args.tags),
                opts=protected,
            )
            self.namespace = alicloud.cs.RegistryEnterpriseNamespace(
                f"{name}-namespace",
                instance_id=self.instance.id,
                name=args.namespace,
                auto_create=False,
                default_visibility="PRIVATE",
                opts=protected,
            )
            self.repository = alicloud.cs.RegistryEnterpriseRepo(
                f"{name}-repository",
                instance_id=self.instance.id,
                namespace=self.namespace.name,
                name=args.repository,
                repo_type="PRIVATE",
                summary="vLLM serving image for Project Beacon",
                # Tags are content hashes; an immutable tag means a digest never changes under a name.
                tag_immutability=True,
                opts=protected,
            )
            self.vpc_link = alicloud.cr.VpcEndpointLinkedVpc(
                f"{name}-vpc-endpoint",
                instance_id=self.instance.id,
                vpc_id=args.vpc_id,
                vswitch_id=args.vswitch_id,
                module_name="Registry",
                enable_create_dns_record_in_pvzt=True,  # the -vpc domain resolves inside the VPC
                opts=child,
            )
            if args.deployer_cidrs:
                self.internet_endpoint = alicloud.cr.InternetEndpoint(
                    f"{name}-internet-endpoint",
                    instance_id=self.instance.id,
                    entries=[{"entry": cidr, "comment": "deployer"} for cidr in args.deployer_cidrs],
                    opts=child,
                )
            # A token valid for an hour, issued to whoever runs `pulumi up`; nothing long-lived is stored.
            details = alicloud.cs.get_registry_enterprise_instances_output(
                ids=[self.instance.id], enable_details=True, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self.push_username = details.instances.apply(lambda found: found[0].temp_username)
            self.push_password = pulumi.Output.secret(
                details.instances.apply(lambda found: found[0].authorization_token)
            )
            self.instance_id: pulumi.Output[str] | None = self.instance.id
            self.base_image = ""
            if args.base_subscription is not None:
                self.base_image = self._subscribe_base(name, args, protected, child)
        else:
            self.namespace = alicloud.cr.Namespace(
                f"{name}-namespace",
                name=args.namespace,
                auto_create=False,
                default_visibility="PRIVATE",
                opts=protected,
            )
            self.repository = alicloud.cr.Repo(
                f"{name}-repository",
                namespace=self.namespace.name,
                name=args.repository,
                repo_type="PRIVATE",
                summary="vLLM serving image for Project Beacon",
                opts=protected,
            )
            self.push_username = pulumi.Output.from_input(args.username)
            self.push_password = pulumi.Output.secret(args.password or "")
            self.instance_id = None
            self.base_image = ""

        self.register_outputs(
            {
                "base_image": self.base_image,
                "public_domain": self.domains.public,
                "vpc_domain": self.domains.vpc,
                "repository_path": self.repository_path,
            }
        )

    def _subscribe_base(
        self, name: str, args: ServingRegistryArgs, protected: pulumi.ResourceOptions, child: pulumi.ResourceOptions
    ) -> str:
        """A repository in the region's namespace that ACR keeps in step with one Docker Hub tag: the build pulls its
        base from the region's own registry, never from Docker Hub or a third-party mirror."""
        assert args.base_subscription is not None
        source_namespace, source_repo, tag = args.base_subscription
        repository = f"base-{source_repo}"
        self.base_repository = alicloud.cs.RegistryEnterpriseRepo(
            f"{name}-base-repository",
            instance_id=self.instance.id,
            namespace=self.namespace.name,
            name=repository,
            repo_type="PRIVATE",
            summary=f"Docker Hub {source_namespace}/{source_repo}:{tag}, synced by artifact subscription",
            opts=protected,
        )
        self.base_subscription = alicloud.cr.ArtifactSubscriptionRule(
            f"{name}-base-subscription",
            instance_id=self.instance.id,
            namespace_name=self.namespace.name,
            repo_name=self.base_repository.name,
            source_provider="DOCKER_HUB",
            source_namespace_name=source_namespace,
            source_repo_name=source_repo,
            tag_regexp=f"^{re.escape(tag)}$",
            tag_count=1,
            platforms=["linux/amd64"],
            override=True,
            opts=child,
        )
        return f"{self.push_domain}/{args.namespace}/{repository}:{tag}"
