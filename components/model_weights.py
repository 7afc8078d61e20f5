"""ModelWeights: one model's pinned weights, copied into a region's bucket and verified against its manifest.

Declare one per served model and make serving depend on it (`depends_on=[weights]`), so no endpoint starts on
files that are missing or differ from the manifest. The copy runs on the deploying machine during `pulumi up`
(providers/weights_sync.py says why); offline plans never run it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from fleet import serving, weights
from fleet.weights import HUGGING_FACE, MODELSCOPE
from fleet.weights_manifest import Manifest, ManifestError, parse
from providers.weights_sync import WeightsSync

HUBS = (HUGGING_FACE, MODELSCOPE)


@dataclass(frozen=True)
class ModelWeightsArgs:
    bucket_name: pulumi.Input[str]  # the region's ModelBucket.bucket_name
    region: str  # Alibaba Cloud region id, e.g. cn-beijing
    endpoint: str  # the OSS endpoint the deploying machine reaches: internal for VPC-only buckets
    model_id: str
    source_hub: str  # huggingface or modelscope (fleet.weights.source_for picks by residency)
    source_repo: str
    source_revision: str  # the Hugging Face commit, or the ModelScope branch or tag
    manifest_json: str  # fleet.weights_manifest.manifest_text(model_id): the committed manifest
    source_endpoint: str = ""  # a mirror of the hub; empty: the hub itself


def args_problems(args: ModelWeightsArgs) -> tuple[Manifest | None, list[str]]:
    """The parsed manifest and every problem with the args, so a stack is fixed in one pass."""
    problems = []
    if args.source_hub not in HUBS:
        problems.append(f"source_hub: '{args.source_hub}' must be one of {', '.join(HUBS)}")
    if not args.endpoint:
        problems.append("endpoint: give the OSS endpoint the deploying machine reaches")
    if not args.region:
        problems.append("region: required")
    try:
        manifest: Manifest | None = parse(args.manifest_json)
    except ManifestError as error:
        return None, [*problems, f"manifest_json: {error}"]
    assert manifest is not None
    if manifest.model != args.model_id:
        problems.append(f"manifest_json: describes {manifest.model}, not {args.model_id}")
    pinned = {
        HUGGING_FACE: (manifest.hf_repo, manifest.revision),
        MODELSCOPE: (manifest.ms_repo, manifest.ms_revision),
    }.get(args.source_hub)
    if pinned is not None and (args.source_repo, args.source_revision) != pinned:
        problems.append(
            f"source: {args.source_hub}:{args.source_repo}@{args.source_revision} is not what the manifest pins"
            f" ({args.source_hub}:{pinned[0]}@{pinned[1]}); regenerate the manifest or fix the catalog"
        )
    return manifest, problems


class ModelWeights(pulumi.ComponentResource):
    """The files of one model at its pinned revision in oss://<bucket>/models/<id>/, each sha256 verified."""

    digest: pulumi.Output[str]
    provisional: pulumi.Output[bool]
    revision: pulumi.Output[str]
    source: pulumi.Output[str]
    uri: pulumi.Output[str]

    def __init__(self, name: str, args: ModelWeightsArgs, opts: pulumi.ResourceOptions | None = None):
        manifest, problems = args_problems(args)
        if problems:
            raise ValueError(f"ModelWeights '{name}': " + "; ".join(problems))
        assert manifest is not None
        super().__init__("beacon-fleet:storage:ModelWeights", name, None, opts)
        prefix = serving.model_prefix(args.model_id)
        source = {"hub": args.source_hub, "repo": args.source_repo, "revision": args.source_revision}
        if args.source_endpoint:
            source["endpoint"] = args.source_endpoint
        self.sync = WeightsSync(
            f"{name}-sync",
            bucket=args.bucket_name,
            region=args.region,
            endpoint=args.endpoint,
            model_id=args.model_id,
            prefix=prefix,
            source=source,
            manifest=args.manifest_json,
            manifest_digest=manifest.digest,
            provisional=manifest.provisional,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.digest = self.sync.digest
        self.provisional = self.sync.provisional
        # The Hugging Face commit is the revision every endpoint serves, whichever hub the bytes came from.
        self.revision = pulumi.Output.from_input(manifest.revision)
        self.source = pulumi.Output.from_input(f"{args.source_hub}:{args.source_repo}@{args.source_revision}")
        self.uri = pulumi.Output.from_input(args.bucket_name).apply(lambda b: weights.weights_uri(b, args.model_id))
        self.register_outputs(
            {
                "digest": self.digest,
                "provisional": self.provisional,
                "revision": self.revision,
                "source": self.source,
                "uri": self.uri,
            }
        )
