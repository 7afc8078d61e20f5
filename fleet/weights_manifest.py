"""The weights manifest: every file of a model's pinned revision with its size and sha256, and one digest over them.

A manifest is computed once by `python -m weights.manifest <model>` where a hub is reachable and committed under
weights/manifests/, so a plan is reproducible offline. A hash nobody has computed yet is recorded as unknown
(null), never guessed; while any is unknown the digest says it is provisional. The first sync into a bucket
computes such a hash and records it there ("trust on first use"); every later sync fails if the bytes differ.

The digest covers what identifies the bytes (repo, revision, each file's path, size and sha256), not the notes
saying where a figure came from: a better-sourced note does not change which weights are served.

The format only (reading, checking, digesting, building), pure and below the settings that check each served
model's manifest; writing one from a hub's figures is weights/ (the command in weights/manifest.py, the figures
in weights/hub_figures.py), which builds on this module.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from fleet import hub_names

SCHEMA = "beacon-weights-manifest/v1"
MANIFEST_DIR = Path(__file__).resolve().parent.parent / "weights" / "manifests"
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
    # The commit ModelScope's branch pointed at when a sync copied from it (recorded in the bucket's copy only).
    ms_commit: str = ""

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
            # Where a mainland region fetches the same files: it names a URL and a staging folder, so it is
            # covered too (a changed source is a changed manifest, re-synced and re-checked).
            "msRepo": self.ms_repo,
            "msRevision": self.ms_revision,
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
            **({"msCommit": self.ms_commit} if self.ms_commit else {}),
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


# The largest file a sync can upload: OSS (like S3) takes at most 10,000 parts per multipart upload, and the sync
# sends 64 MiB parts (weights/sync.py PART_SIZE), so 10,000 x 64 MiB = 671,088,640,000 bytes (about 625 GiB).
# Also the bound on a file whose size the manifest does not know: the download stops there.
MAX_PARTS = 10_000
PART_SIZE = 64 * 1024 * 1024
MAX_FILE_BYTES = MAX_PARTS * PART_SIZE
MAX_MANIFEST_CHARS = 1_000_000  # the largest committed manifest is ~4 KB; a megabyte is read in milliseconds
MAX_FILES = 10_000
MAX_SOURCE_CHARS = 2_000
_FILE_KEYS = {"path", "size", "sha256", "sha256Prefix", "source"}


def _file_problems(where: str, raw: object, paths: dict[str, str]) -> tuple[FileEntry | None, list[str]]:
    """One file entry, or every problem with it; `paths` maps each path seen so far to where it was listed."""
    if not isinstance(raw, dict):
        shown = repr(raw)[:60]
        return None, [f"{where}: must be an object {{path, size, sha256}}, got {type(raw).__name__} {shown}"]
    problems = [
        f"{where}.{key[:40]!r}: unknown field; use {', '.join(sorted(_FILE_KEYS))}"
        for key in raw
        if key not in _FILE_KEYS
    ]
    path, size, sha = raw.get("path"), raw.get("size"), raw.get("sha256")
    prefix, source = raw.get("sha256Prefix"), raw.get("source")
    path_problem = hub_names.path_problem(path)
    if path_problem is not None:
        problems.append(f"{where}.path: {path_problem}")
    elif path == BUCKET_MANIFEST_NAME:
        problems.append(f"{where}.path: {path} is the name of the record the sync writes beside the weights")
    elif path in paths:
        problems.append(f"{where}.path: {path} is listed twice (also {paths[path]})")
    if path_problem is None and isinstance(path, str):
        paths.setdefault(path, where)
    if size is not None and (type(size) is not int or not 0 <= size <= MAX_FILE_BYTES):
        problems.append(
            f"{where}.size: must be a whole number of bytes from 0 to {MAX_FILE_BYTES} (10,000 parts of 64 MiB),"
            f" or null (unknown), got {repr(size)[:40]}"
        )
    if sha is not None and not _is_sha256(sha):
        problems.append(f"{where}.sha256: must be 64 lowercase hex digits or null (unknown), got {repr(sha)[:80]}")
    if prefix is not None and not (
        isinstance(prefix, str) and 0 < len(prefix) <= 64 and all(c in "0123456789abcdef" for c in prefix)
    ):
        problems.append(f"{where}.sha256Prefix: must be 1-64 lowercase hex digits, got {repr(prefix)[:80]}")
    elif isinstance(prefix, str) and _is_sha256(sha) and not sha.startswith(prefix):
        problems.append(f"{where}.sha256Prefix: {prefix} is not the start of its sha256 {sha}")
    if source is not None and not (isinstance(source, str) and len(source) <= MAX_SOURCE_CHARS):
        problems.append(f"{where}.source: must be text of at most {MAX_SOURCE_CHARS} characters")
    if problems:
        return None, problems
    return FileEntry(path, size, sha, prefix or "", source or ""), []  # type: ignore[arg-type]


def _directory_clashes(paths: dict[str, str]) -> list[str]:
    """A path that is also another path's folder cannot be mounted as a file system (the serving mounts it)."""
    folders = {"/".join(p.split("/")[:n]): p for p in paths for n in range(1, p.count("/") + 1)}
    return [
        f"{paths[p]}.path: {p} is also the folder of {folders[p]}; a mounted bucket cannot hold both"
        for p in paths
        if p in folders
    ]


def parse(text: str) -> Manifest:
    """A manifest from its JSON; every problem found is reported in one error, each naming its field."""
    if not isinstance(text, str) or len(text) > MAX_MANIFEST_CHARS:
        raise ManifestError(f"must be JSON text of at most {MAX_MANIFEST_CHARS} characters")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"not JSON: {error}") from error
    except RecursionError:
        raise ManifestError("not a manifest: its JSON is nested too deeply to read") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ManifestError(f'not a {SCHEMA} manifest (the top level must be an object with "schema": "{SCHEMA}")')
    problems: list[str] = []
    if not isinstance(data.get("model"), str) or not data["model"]:
        problems.append("model: missing")
    for key, problem in (
        ("hfRepo", hub_names.repo_problem(data.get("hfRepo"), "a Hugging Face repository")),
        ("revision", hub_names.commit_problem(data.get("revision"), "the Hugging Face commit")),
    ):
        if problem is not None:
            problems.append(f"{key}: {problem}")
    ms_repo, ms_revision = data.get("msRepo") or "", data.get("msRevision") or ""
    if ms_repo and (problem := hub_names.repo_problem(ms_repo, "a ModelScope repository")) is not None:
        problems.append(f"msRepo: {problem}")
    if ms_revision and (problem := hub_names.ref_problem(ms_revision, "a ModelScope branch or tag")) is not None:
        problems.append(f"msRevision: {problem}")
    if bool(ms_repo) != bool(ms_revision):
        problems.append("msRepo and msRevision go together: give both, or neither")
    ms_commit = data.get("msCommit") or ""
    if ms_commit and (problem := hub_names.commit_problem(ms_commit, "the resolved ModelScope commit")) is not None:
        problems.append(f"msCommit: {problem}")
    notes = data.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        problems.append("notes: must be a list of text")
        notes = []
    raw_files = data.get("files")
    if isinstance(raw_files, list) and not raw_files:
        problems.append("files: lists no file")
    if not isinstance(raw_files, list):
        problems.append(f"files: must be a list of {{path, size, sha256}} objects, got {type(raw_files).__name__}")
        raw_files = []
    elif len(raw_files) > MAX_FILES:
        problems.append(f"files: lists {len(raw_files)} files; at most {MAX_FILES}")
        raw_files = []
    files = []
    paths: dict[str, str] = {}
    for index, raw in enumerate(raw_files):
        entry, found = _file_problems(f"files[{index}]", raw, paths)
        problems.extend(found)
        if entry is not None:
            files.append(entry)
    problems.extend(_directory_clashes(paths))
    if problems:
        raise ManifestError("; ".join(problems))
    manifest = Manifest(
        model=data["model"],
        hf_repo=data["hfRepo"],
        revision=data["revision"],
        files=tuple(files),
        ms_repo=ms_repo,
        ms_revision=ms_revision,
        notes=tuple(notes),
        ms_commit=ms_commit,
    )
    if "digest" in data and data["digest"] != manifest.digest:
        raise ManifestError(
            f"digest {str(data['digest'])[:90]} does not match the files listed ({manifest.digest}); regenerate it"
            f" with `python -m weights.manifest {manifest.model}` rather than editing by hand"
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
