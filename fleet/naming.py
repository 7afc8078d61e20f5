"""Cloud names: deterministic, unique per stack and region, and valid for each service's rules."""

from __future__ import annotations

import hashlib
import re

_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def dns_label(text: str) -> str:
    """Lowercase letters, digits and single hyphens, no hyphen at either end."""
    label = _NOT_DNS.sub("-", text.lower())
    return re.sub(r"-{2,}", "-", label).strip("-")


def stack_slug(name_prefix: str, stack: str) -> str:
    """The stem of every cloud name in a stack, e.g. beacon-cn-beijing."""
    return dns_label(f"{name_prefix}-{stack}")


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def bucket_name(name_prefix: str, stack: str, region: str, account_id: str) -> str:
    """An OSS bucket name: 3-63 characters of [a-z0-9-], globally unique.

    OSS names are global across all accounts, so a hash of the account, region and stack is appended;
    the stem is cut, never the hash, when the whole would exceed 63 characters.
    """
    suffix = f"-models-{short_hash(account_id, region, stack)}"
    stem = stack_slug(name_prefix, stack)[: 63 - len(suffix)].rstrip("-")
    return f"{stem}{suffix}"


def vpc_name(name_prefix: str, stack: str) -> str:
    return f"{stack_slug(name_prefix, stack)}-vpc"[:128]


def vswitch_name(name_prefix: str, stack: str, role: str, index: int) -> str:
    return f"{stack_slug(name_prefix, stack)}-{role}-{index + 1}"[:128]


def cluster_name(name_prefix: str, stack: str) -> str:
    return f"{stack_slug(name_prefix, stack)}-ack"[:63]


def registry_instance_name(name_prefix: str, stack: str, region: str, account_id: str) -> str:
    """An ACR Enterprise instance name (3-30 of [a-z0-9-]); it names public domains, so it carries a hash."""
    suffix = f"-{short_hash(account_id, region, stack, length=6)}"
    return f"{stack_slug(name_prefix, stack)[: 30 - len(suffix)].rstrip('-')}{suffix}"


def registry_namespace(name_prefix: str, stack: str, region: str, account_id: str) -> str:
    """Personal Edition namespaces are unique across all accounts in a region, so this one carries a hash."""
    return f"{dns_label(name_prefix)}-{short_hash(account_id, region, stack)}"
