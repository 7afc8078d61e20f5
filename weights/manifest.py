"""The weights manifest: every file of a model's pinned revision with its size and sha256, and one digest over them.

A manifest is computed once by `python -m weights.manifest <model>` where a hub is reachable and committed under
weights/manifests/, so a plan is reproducible offline. A hash nobody has computed yet is recorded as unknown
(null), never guessed; while any is unknown the digest says it is provisional. The first sync into a bucket
computes such a hash and records it there ("trust on first use"); every later sync fails if the bytes differ.

The digest covers what identifies the bytes (repo, revision, each file's path, size and sha256), not the notes
saying where a figure came from: a better-sourced note does not change which weights are served.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

SCHEMA = "beacon-weights-manifest/v1"
MANIFEST_DIR = Path(__file__).resolve().parent / "manifests"
# Another folder of manifests, for tools that plan synthetic models (bench/plan_cost.py); unset in real use.
MANIFEST_DIR_ENV = "BEACON_WEIGHTS_MANIFESTS"


def manifest_dir() -> Path:
    return Path(os.environ.get(MANIFEST_DIR_ENV) or MANIFEST_DIR)


BUCKET_MANIFEST_NAME = "beacon-weights-manifest.json"  # written beside the weights in the bucket, last
PROVISIONAL = "provisional-sha256:"
FINAL = "sha256:"
FIRST_USE = "trust on first use"


class ManifestError(ValueError):
    """A manifest that cannot be read or does not describe the model it is used for."""


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int | None  # bytes; None: not yet known
    sha256: str | None  # None: not yet known (computed and recorded by the first sync)
    sha256_prefix: str = ""  # a partial figure a source gave; the hash computed on first use must start with it
    source: str = ""  # where size and sha256 came from, and how far to trust it

    @property
    def known(self) -> bool:
        return self.sha256 is not None


@dataclass(frozen=True)
class Manifest:
    model: str
    hf_repo: str
    revision: str
    files: tuple[FileEntry, ...]
    ms_repo: str = ""
    ms_revision: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def unknown(self) -> list[str]:
        return [f.path for f in self.files if not f.known]

    @property
    def provisional(self) -> bool:
        return bool(self.unknown)

    @property
    def digest(self) -> str:
        return (PROVISIONAL if self.provisional else FINAL) + hashlib.sha256(canonical(self.identity())).hexdigest()

    def identity(self) -> dict:
        return {
            "schema": SCHEMA,
            "hfRepo": self.hf_repo,
            "revision": self.revision,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }

    def entry(self, path: str) -> FileEntry:
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(path)

    def with_recorded(self, recorded: Mapping[str, tuple[int, str]], note: str) -> Manifest:
        """The manifest with unknown hashes (and sizes) filled from what a sync computed, each marked first-use."""
        files = []
        for f in self.files:
            if f.path in recorded and not f.known:
                size, sha = recorded[f.path]
                f = replace(f, size=size, sha256=sha, source=f"{FIRST_USE}: {note}")
            files.append(f)
        return replace(self, files=tuple(files))

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "model": self.model,
            "hfRepo": self.hf_repo,
            "revision": self.revision,
            "msRepo": self.ms_repo,
            "msRevision": self.ms_revision,
            "digest": self.digest,
            "provisional": self.provisional,
            "unknown": self.unknown,
            "notes": list(self.notes),
            "files": [
                {
                    "path": f.path,
                    "size": f.size,
                    "sha256": f.sha256,
                    **({"sha256Prefix": f.sha256_prefix} if f.sha256_prefix else {}),
                    "source": f.source,
                }
                for f in self.files
            ],
        }

    def to_json(self) -> str:
        """Stable, reviewable text: indented, keys sorted, one trailing newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def canonical(value: object) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8. Equal data, equal bytes, equal digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def parse(text: str) -> Manifest:
    """A manifest from its JSON; every problem found is reported in one error."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"not JSON: {error}") from error
    problems: list[str] = []
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ManifestError(f"not a {SCHEMA} manifest")
    for key in ("model", "hfRepo", "revision"):
        if not isinstance(data.get(key), str) or not data[key]:
            problems.append(f"{key}: missing")
    files = []
    paths: set[str] = set()
    for index, raw in enumerate(data.get("files") or []):
        path, size, sha = raw.get("path"), raw.get("size"), raw.get("sha256")
        where = f"files[{index}]"
        if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
            problems.append(f"{where}.path: must be a relative path inside the repo, got {path!r}")
            continue
        if path in paths:
            problems.append(f"{where}.path: {path} is listed twice")
        paths.add(path)
        if size is not None and (not isinstance(size, int) or size < 0):
            problems.append(f"{where}.size: must be a byte count or null, got {size!r}")
        if sha is not None and not _is_sha256(sha):
            problems.append(f"{where}.sha256: must be 64 lowercase hex digits or null (unknown), got {sha!r}")
        files.append(FileEntry(path, size, sha, str(raw.get("sha256Prefix") or ""), str(raw.get("source") or "")))
    if not files:
        problems.append("files: lists no file")
    if problems:
        raise ManifestError("; ".join(problems))
    manifest = Manifest(
        model=data["model"],
        hf_repo=data["hfRepo"],
        revision=data["revision"],
        files=tuple(files),
        ms_repo=str(data.get("msRepo") or ""),
        ms_revision=str(data.get("msRevision") or ""),
        notes=tuple(data.get("notes") or ()),
    )
    if "digest" in data and data["digest"] != manifest.digest:
        raise ManifestError(
            f"digest {data['digest']} does not match the files listed ({manifest.digest}); regenerate it with"
            f" `python -m weights.manifest {manifest.model}` rather than editing by hand"
        )
    return manifest


def manifest_path(model_id: str, directory: Path | None = None) -> Path:
    return (directory or manifest_dir()) / f"{model_id}.json"


def manifest_text(model_id: str, directory: Path | None = None) -> str:
    """The committed manifest of a model, as text: what a region stack passes to ModelWeights."""
    path = manifest_path(model_id, directory)
    if not path.is_file():
        raise ManifestError(
            f"no weights manifest for {model_id} at {path}; create it with `python -m weights.manifest {model_id}`"
        )
    return path.read_text(encoding="utf-8")


def load(model_id: str, directory: Path | None = None) -> Manifest:
    return parse(manifest_text(model_id, directory))


# --- building a manifest ----------------------------------------------------------------------------------------


def build(
    model: str,
    hf_repo: str,
    revision: str,
    paths: Sequence[str],
    figures: Mapping[str, FileEntry],
    ms_repo: str = "",
    ms_revision: str = "",
    previous: Manifest | None = None,
    notes: Sequence[str] = (),
) -> Manifest:
    """A manifest of `paths` from the figures a source gave; a known hash of the previous manifest (same repo
    and revision) is kept when the source has none, so regenerating offline never loses a hash."""
    kept = {}
    if previous is not None and (previous.hf_repo, previous.revision) == (hf_repo, revision):
        kept = {f.path: f for f in previous.files if f.known}
    files = []
    for path in paths:
        entry = figures.get(path) or kept.get(path) or FileEntry(path, None, None, source="not yet known")
        if not entry.known and path in kept:
            entry = kept[path]
        files.append(entry)
    return Manifest(model, hf_repo, revision, tuple(files), ms_repo, ms_revision, tuple(notes))


def main(argv: Sequence[str] | None = None) -> int:
    from weights import hub_figures

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


# --- requests that carry a hub token ------------------------------------------------------------------------


class InsecureTokenError(ValueError):
    """A hub token would travel in clear text: refused before any request is sent."""


def hub_request(url: str, token: str | None, user_agent: str, data: bytes | None = None) -> urllib.request.Request:
    """A request whose token goes to `url`'s host only: urllib copies ordinary headers onto every redirect
    (Hugging Face redirects large files to CDN hosts), but never an unredirected one. Plain http is refused
    with a token, except on loopback (the tests' hub stand-in)."""
    request = urllib.request.Request(url, data=data, headers={"User-Agent": user_agent})
    if token:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise InsecureTokenError(f"refusing to send a hub token over {parts.scheme} to {parts.hostname}")
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    return request
