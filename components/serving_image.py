"""ServingImage: the vLLM serving image, built from images/inference-server and pushed to the region's registry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from fleet.config_schema import PROJECT_ROOT

# Relative to the project root, where `pulumi up` runs: state and plans carry no machine's absolute path.
BUILD_CONTEXT = "images/inference-server"
CONTEXT_FILES = ("Dockerfile", "requirements.txt", "serve.py")


@dataclass(frozen=True)
class ServingImageArgs:
    registry_server: str  # the domain `pulumi up` pushes to (the VPC domain when run from inside the VPC)
    vpc_registry_server: str  # domain EAS and ACK pull from
    repository_path: str  # namespace/repository
    base_image: str
    package_index: str
    username: pulumi.Input[str]
    password: pulumi.Input[str]  # secret
    apt_mirror: str = ""  # replaces deb.debian.org in the build; "" keeps Debian's own servers


def content_tag(base_image: str, package_index: str, root: Path = PROJECT_ROOT, apt_mirror: str = "") -> str:
    """A tag that changes exactly when what goes into the image does (files or build arguments)."""
    digest = hashlib.sha256()
    for name in CONTEXT_FILES:
        digest.update(name.encode() + b"\0" + (root / BUILD_CONTEXT / name).read_bytes() + b"\0")
    digest.update(f"BASE_IMAGE={base_image}\0PIP_INDEX_URL={package_index}".encode())
    if apt_mirror:  # only when set, so the tags of builds without a mirror stay what they were
        digest.update(f"\0APT_MIRROR={apt_mirror}".encode())
    return f"c-{digest.hexdigest()[:16]}"


def vpc_reference(repo_digest: str, push_server: str, vpc_server: str) -> str:
    """The same image by digest, pulled through the registry's VPC domain (whichever domain it was pushed to)."""
    if not repo_digest.startswith(f"{push_server}/"):
        raise ValueError(f"{repo_digest} is not in registry {push_server}")
    return vpc_server + repo_digest[len(push_server) :]


class ServingImage(pulumi.ComponentResource):
    """Built with BuildKit for linux/amd64, pushed with short-lived credentials, referenced by digest."""

    tag: str
    repo_digest: pulumi.Output[str]  # <push domain>/<ns>/<repo>@sha256:...
    vpc_image: pulumi.Output[str]  # <vpc domain>/<ns>/<repo>@sha256:..., what EAS and ACK run

    def __init__(self, name: str, args: ServingImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:registry:ServingImage", name, None, opts)
        self.tag = content_tag(args.base_image, args.package_index, apt_mirror=args.apt_mirror)

        self.image = docker.Image(
            f"{name}-image",
            image_name=f"{args.registry_server}/{args.repository_path}:{self.tag}",
            build=docker.DockerBuildArgs(
                context=BUILD_CONTEXT,
                dockerfile=f"{BUILD_CONTEXT}/Dockerfile",
                platform="linux/amd64",
                builder_version=docker.BuilderVersion.BUILDER_BUILD_KIT,
                args={"BASE_IMAGE": args.base_image, "PIP_INDEX_URL": args.package_index}
                | ({"APT_MIRROR": args.apt_mirror} if args.apt_mirror else {}),
            ),
            registry=docker.RegistryArgs(
                server=args.registry_server,
                username=args.username,
                password=pulumi.Output.secret(args.password),
            ),
            skip_push=False,
            build_on_preview=False,  # previews in pull requests must not need Docker or the registry
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.repo_digest = self.image.repo_digest
        self.vpc_image = self.image.repo_digest.apply(
            lambda digest: vpc_reference(digest, args.registry_server, args.vpc_registry_server)
        )
        self.register_outputs({"repo_digest": self.repo_digest, "vpc_image": self.vpc_image})
