"""ModelBucket: the private, encrypted, versioned OSS bucket that holds a region's model weights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


@dataclass(frozen=True)
class ModelBucketArgs:
    bucket_name: str
    redundancy: str = "LRS"
    kms_key_id: str = ""  # empty: OSS-managed AES256
    incomplete_upload_expiry_days: int = 7
    tags: Mapping[str, str] = field(default_factory=dict)


def encryption_rule(kms_key_id: str) -> dict[str, str]:
    """SSE with the given KMS key, or OSS-managed AES256 when none is given."""
    if kms_key_id:
        return {"sse_algorithm": "KMS", "kms_master_key_id": kms_key_id}
    return {"sse_algorithm": "AES256"}


def lifecycle_rules(incomplete_upload_expiry_days: int) -> list[dict]:
    """Abort multipart uploads left incomplete: multi-GB weight uploads fail, and their parts are billed."""
    return [
        {
            "id": "abort-incomplete-multipart-uploads",
            "enabled": True,
            "prefix": "",
            "abort_multipart_uploads": [{"days": incomplete_upload_expiry_days}],
        }
    ]


class ModelBucket(pulumi.ComponentResource):
    """A private OSS bucket for model weights: encrypted, versioned, public access blocked, protected."""

    bucket_name: pulumi.Output[str]
    intranet_endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: ModelBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:storage:ModelBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.bucket = alicloud.oss.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            storage_class="Standard",
            redundancy_type=args.redundancy,
            server_side_encryption_rule=encryption_rule(args.kms_key_id),
            versioning={"status": "Enabled"},
            lifecycle_rules=lifecycle_rules(args.incomplete_upload_expiry_days),
            force_destroy=False,
            tags=dict(args.tags),
            # Weights take hours to upload again; deleting the bucket must be a deliberate act.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        # Explicitly private, and public access blocked, whatever the account default is.
        self.acl = alicloud.oss.BucketAcl(f"{name}-acl", bucket=self.bucket.bucket, acl="private", opts=child)
        self.public_access_block = alicloud.oss.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.bucket,
            block_public_access=True,
            opts=child,
        )

        self.bucket_name = self.bucket.bucket
        self.intranet_endpoint = self.bucket.intranet_endpoint
        self.register_outputs({"bucket_name": self.bucket_name, "intranet_endpoint": self.intranet_endpoint})
