"""RAM policy documents as pure functions: what each consumer may do, and who may assume each role."""

from __future__ import annotations

import json
from collections.abc import Sequence

READ_OBJECT_ACTIONS = ("oss:GetObject", "oss:GetObjectMeta")
LIST_BUCKET_ACTIONS = ("oss:ListObjects", "oss:GetBucketInfo")


def bucket_read_policy(bucket: str, kms_key_arn: str = "") -> dict:
    """Read one bucket's objects and list it; nothing else. Never a `*` resource."""
    statements = [
        {"Effect": "Allow", "Action": list(READ_OBJECT_ACTIONS), "Resource": [f"acs:oss:*:*:{bucket}/*"]},
        {"Effect": "Allow", "Action": list(LIST_BUCKET_ACTIONS), "Resource": [f"acs:oss:*:*:{bucket}"]},
    ]
    if kms_key_arn:
        # Objects encrypted with a customer KMS key are unreadable without it.
        statements.append({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [kms_key_arn]})
    return {"Version": "1", "Statement": statements}


def kms_key_arn(region: str, account_id: str, key_id: str) -> str:
    return f"acs:kms:{region}:{account_id}:key/{key_id}" if key_id else ""


def rrsa_trust_policy(oidc_provider_arn: str, issuer_url: str, service_accounts: Sequence[str]) -> dict:
    """Only pods of one cluster running as the listed service accounts ("namespace:name") may assume the role."""
    subjects = sorted(f"system:serviceaccount:{account}" for account in service_accounts)
    return {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Federated": [oidc_provider_arn]},
                "Condition": {
                    "StringEquals": {
                        "oidc:aud": "sts.aliyuncs.com",
                        "oidc:iss": issuer_url,
                        "oidc:sub": subjects,
                    }
                },
            }
        ],
    }


def service_trust_policy(service: str) -> dict:
    """A role an Alibaba Cloud service (e.g. PAI) assumes on the account's behalf."""
    return {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": [service]}}],
    }


def to_json(document: dict) -> str:
    """Compact and key-sorted: RAM compares documents as text, so the same policy must give the same bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
