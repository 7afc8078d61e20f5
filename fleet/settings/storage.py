"""Where the fleet keeps its artefacts: the model bucket, the container registry, and how the image is built."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fleet import urls
from fleet.settings.problems import Problems
from fleet.settings_types import BucketSettings, ImageSettings, RegistrySettings

BUCKET_REDUNDANCY = ("LRS", "ZRS")
REGISTRY_EDITIONS = ("enterprise", "personal")
REGISTRY_INSTANCE_TYPES = ("Basic", "Standard", "Advanced")
MAX_INCOMPLETE_UPLOAD_DAYS = 365
# Alibaba Cloud KMS key ids: key-<id> (e.g. key-hzz62f1cb66fa42qo0ybp), or a UUID for keys created before key-
# ids. Either way only letters, digits and '-': the id is the last part of the kms:Decrypt statement's resource
# (fleet/ram_policies.py), where '*', '/', ':' or an alias would grant more than the one key.
_KMS_KEY_ID = re.compile(
    r"^(key-[a-z0-9][a-z0-9-]{2,62}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.ASCII
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


# servingImageBase: acr-subscription:<namespace>/<repository>:<tag> (a Docker Hub image the region's registry syncs).
BASE_SUBSCRIPTION_PREFIX = "acr-subscription:"
_SUBSCRIPTION = re.compile(
    r"^(?P<namespace>[a-z0-9][a-z0-9._-]*)/(?P<repo>[a-z0-9][a-z0-9._-]*):(?P<tag>[\w][\w.-]{0,127})$"
)


def parse_bucket(values: dict[str, Any], p: Problems) -> BucketSettings | None:
    redundancy = values.get("bucketRedundancy")
    if isinstance(redundancy, str) and redundancy not in BUCKET_REDUNDANCY:
        p.add("bucketRedundancy", f"'{redundancy}' must be LRS or ZRS")
    days = values.get("incompleteUploadExpiryDays")
    if isinstance(days, int) and not 1 <= days <= MAX_INCOMPLETE_UPLOAD_DAYS:
        p.add("incompleteUploadExpiryDays", f"must be between 1 and {MAX_INCOMPLETE_UPLOAD_DAYS} days, got {days}")
    kms_key_id = values.get("bucketKmsKeyId", "")
    if isinstance(kms_key_id, str) and kms_key_id and not _KMS_KEY_ID.match(kms_key_id):
        p.add(
            "bucketKmsKeyId",
            f"'{kms_key_id}' is not a KMS key id; copy the key's id (key-… or a UUID) from the KMS console,"
            " not an alias or ARN, or leave it empty for OSS-managed AES256",
        )
    if not isinstance(redundancy, str) or not isinstance(days, int) or not isinstance(kms_key_id, str):
        return None
    return BucketSettings(redundancy=redundancy, kms_key_id=kms_key_id, incomplete_upload_expiry_days=days)


def parse_registry(
    values: dict[str, Any], raw: Mapping[str, str], project: str, p: Problems
) -> RegistrySettings | None:
    edition = values.get("registryEdition")
    instance_type = values.get("registryInstanceType")
    if isinstance(edition, str) and edition not in REGISTRY_EDITIONS:
        p.add("registryEdition", f"'{edition}' must be enterprise or personal")
    if isinstance(instance_type, str) and instance_type not in REGISTRY_INSTANCE_TYPES:
        p.add("registryInstanceType", f"'{instance_type}' must be one of {', '.join(REGISTRY_INSTANCE_TYPES)}")
    username = values.get("registryUsername", "")
    if edition == "personal":
        if not username:
            p.add("registryUsername", "Personal Edition needs the account name that logs in to the registry")
        if f"{project}:registryPassword" not in raw:
            p.add(
                "registryPassword",
                "Personal Edition needs the registry password; run `pulumi config set --secret registryPassword`",
            )
    if edition not in REGISTRY_EDITIONS or instance_type not in REGISTRY_INSTANCE_TYPES:
        return None
    return RegistrySettings(edition=edition, instance_type=instance_type, username=username)


def parse_image(values: dict[str, Any], p: Problems) -> ImageSettings | None:
    base = values.get("servingImageBase")
    index = values.get("pythonPackageIndex")
    apt = values.get("servingAptMirror", "")
    subscription = None
    subscribed = isinstance(base, str) and base.startswith(BASE_SUBSCRIPTION_PREFIX)
    if subscribed:
        found = _SUBSCRIPTION.match(base[len(BASE_SUBSCRIPTION_PREFIX) :])
        if found is None:
            p.add(
                "servingImageBase",
                f"'{base}' must be {BASE_SUBSCRIPTION_PREFIX}<namespace>/<repository>:<tag>, a Docker Hub image such as"
                f" {BASE_SUBSCRIPTION_PREFIX}library/python:3.12-slim-bookworm",
            )
        elif values.get("registryEdition", "enterprise") != "enterprise":
            p.add(
                "servingImageBase", "artifact subscription is an ACR Enterprise feature; use registryEdition enterprise"
            )
        else:
            subscription = (found["namespace"], found["repo"], found["tag"])
        base = ""
    if isinstance(apt, str) and apt and not re.match(r"^https://[^\s/@]+(/\S*)?$", apt):
        p.add("servingAptMirror", f"'{apt}' must be an https URL such as https://mirrors.aliyun.com, or empty")
    if (
        isinstance(base, str)
        and not subscribed
        and (not base or any(c.isspace() for c in base) or "@" not in base and ":" not in base)
    ):
        p.add("servingImageBase", f"'{base}' must be an image reference pinned by tag or digest, e.g. python:3.12-slim")
    if isinstance(base, str) and "@" in base and not _DIGEST.match(base.rsplit("@", 1)[1]):
        p.add(
            "servingImageBase",
            "an image reference's '@' introduces a sha256 digest; a registry login never goes in the reference"
            " (remove it; the build logs in with the registry's own credentials)",
        )
    if isinstance(index, str) and urls.credential_problem(index):
        pass  # reported with every URL-valued key's (settings/problems.url_credential_problems)
    elif isinstance(index, str) and not re.match(r"^https://[^\s/@]+(/\S*)?$", index):
        p.add("pythonPackageIndex", f"'{index}' must be an https URL such as https://pypi.org/simple")
    if not isinstance(base, str) or not isinstance(index, str) or not isinstance(apt, str):
        return None
    return ImageSettings(base_image=base, package_index=index, base_subscription=subscription, apt_mirror=apt)
