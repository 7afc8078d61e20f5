"""A Pulumi dynamic provider that copies a model's pinned weights into a region's bucket during `pulumi up`.

Where it runs, and why: on the deploying machine, inside `pulumi up`. The copy is then an ordinary step of the
deployment: serving declared with depends_on waits for it, and a mismatch with the manifest fails the deployment
with the file and both hashes in the error. It needs nothing that must exist first (a Kubernetes Job needs the
ACK cluster, which EAS-only regions do not have; a Function Compute function needs its own role, image and a way
to report back), and it uses the deployer's own OSS credentials. The cost: the weights flow hub -> deployer ->
OSS, and the deployer needs disk for the largest file (staged, then deleted). For a mainland region whose bucket
is reachable only inside the VPC, the deploying machine is the in-VPC runner, which reaches the internal endpoint
and ModelScope.

Credentials: the OSS client reads ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (/ _SECURITY_TOKEN), or the alicloud
provider's ALICLOUD_ACCESS_KEY / ALICLOUD_SECRET_KEY, and the hubs' tokens (HF_TOKEN, MODELSCOPE_API_TOKEN), from
the environment at `up` time; none is an input, so none reaches the state.

Offline (`make plan`, tests) the mock engine registers this resource and echoes its inputs; it never calls a
dynamic provider's create, so no weights are downloaded (tests/test_model_weights.py pins that).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

REPLACE_ON = ("bucket", "prefix")  # another place: copy there; the old copy stays (see delete)
RESYNC_ON = ("endpoint", "region", "source", "manifest_digest")
STAGING_ENV = "BEACON_WEIGHTS_STAGING"


def staging_dir(model_id: str, revision: str) -> Path:
    """<root>/<model id>/<revision>: both are checked as single safe names, so neither can leave the root."""
    from fleet import hub_names
    from weights.sync import SyncError

    root = Path(os.environ.get(STAGING_ENV) or Path.home() / ".cache" / "beacon-fleet" / "weights")
    for what, name in (("model id", model_id), ("revision", revision)):
        if (problem := hub_names.ref_problem(name, what)) is not None:
            raise SyncError(f"refusing to stage weights: {problem}")
    return root / model_id / revision


def _progress(model_id: str):
    def report(message: str) -> None:
        print(f"[weights {model_id}] {message}", file=sys.stderr, flush=True)

    return report


def _sync(props: dict[str, Any]) -> dict[str, Any]:
    from fleet.weights_manifest import parse
    from weights import sync

    manifest = parse(props["manifest"])
    src = props["source"]
    source = sync.Source(src["hub"], src["repo"], src["revision"], src.get("endpoint") or "")
    client = sync.oss_client(props["endpoint"], props["region"])
    report = sync.sync(
        manifest,
        source,
        sync.Destination(props["bucket"], props["prefix"]),
        client,
        staging_dir(props["model_id"], src["revision"]),
        progress=_progress(props["model_id"]),
    )
    outs = sync.report_outputs(report, source)
    # source_commit: the commit a ModelScope branch resolved to (empty for Hugging Face, pinned by commit already).
    return {
        **props,
        "digest": outs["synced_digest"],
        "first_use": outs["first_use"],
        "provisional": False,
        "source_commit": outs["source_commit"],
    }


class WeightsSyncProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"oss://{props['bucket']}/{props['prefix']}", outs=_sync(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in REPLACE_ON if olds.get(k) != news.get(k)]
        changed = replaces + [k for k in RESYNC_ON if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_sync(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # The weights stay: the bucket is protected and versioned, and a replica still serving them must not lose
        # its files because a stack stopped declaring the sync. Remove a model's prefix deliberately, by hand.
        return None


class WeightsSync(pulumi.dynamic.Resource, module="weights", name="Sync"):
    """The pinned files of one model, copied and verified into oss://<bucket>/<prefix>."""

    digest: pulumi.Output[str]
    provisional: pulumi.Output[bool]
    first_use: pulumi.Output[dict]

    def __init__(
        self,
        name: str,
        bucket: pulumi.Input[str],
        region: str,
        endpoint: str,
        model_id: str,
        prefix: str,
        source: dict[str, str],
        manifest: str,
        manifest_digest: str,
        provisional: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "bucket": bucket,
            "region": region,
            "endpoint": endpoint,
            "model_id": model_id,
            "prefix": prefix,
            "source": source,
            "manifest": manifest,
            "manifest_digest": manifest_digest,
            # Before the first sync (and in an offline plan) the digest is the committed manifest's.
            "digest": manifest_digest,
            "provisional": provisional,
            "first_use": {},
        }
        super().__init__(WeightsSyncProvider(), name, props, opts)
