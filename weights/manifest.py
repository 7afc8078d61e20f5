"""`python -m weights.manifest <model>`: write weights/manifests/<model>.json from the hub's figures.

The manifest's format is fleet/weights_manifest.py; where the figures come from, weights/hub_figures.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fleet.weights_manifest import ManifestError, build, manifest_path, parse
from weights import hub_figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m weights.manifest",
        description="Write weights/manifests/<model>.json: each pinned file's size and sha256, and their digest.",
    )
    parser.add_argument("model", help="a catalog id: built in (llama3.2-1b, qwen2.5-1.5b, mistral-7b) or custom")
    parser.add_argument("--hf-repo", help="a custom model's Hugging Face repo (org/name)")
    parser.add_argument("--revision", help="a custom model's pinned commit (40 hex characters)")
    parser.add_argument("--file", action="append", default=[], help="a custom model's weight file (repeatable)")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="do not ask a hub: use the recorded reference figures only (unknown hashes stay null)",
    )
    parser.add_argument("--hf-endpoint", default=hub_figures.HF_ENDPOINT, help="Hugging Face API base URL")
    parser.add_argument("--directory", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        if args.hf_repo:
            # A custom model: its files with unknown hashes, recorded by the first sync and checked after it.
            if not args.revision or not args.file:
                raise ManifestError("a custom model needs --revision and at least one --file")
            manifest = build(args.model, args.hf_repo, args.revision, args.file, {})
            parse(manifest.to_json())  # the names given become URLs and paths: refuse what parse would refuse
        else:
            manifest = hub_figures.manifest_for(
                args.model, offline=args.offline, hf_endpoint=args.hf_endpoint, directory=args.directory
            )
    except (ManifestError, hub_figures.HubError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    path = manifest_path(args.model, args.directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest.to_json(), encoding="utf-8")
    state = f"provisional: {len(manifest.unknown)} unknown hash(es)" if manifest.provisional else "complete"
    print(f"{path}: {manifest.digest} ({state})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
