"""Copy a model's pinned files from a hub into a region's bucket, verifying every sha256 against the manifest.

Per file: an object already in the bucket whose recorded sha256 (object metadata written by this sync) and size
match the manifest is skipped. Otherwise the file is downloaded into a staging file (resumed with an HTTP Range
request if a previous run was cut short), hashed, and compared with the manifest *before* anything is uploaded;
then uploaded in parts (a multipart upload left by an interrupted run is resumed, keeping each stored part whose
size and bytes are known to match: see `upload`). A file whose hash the manifest does not know is hashed and
recorded on first use in the bucket's copy of the manifest; later syncs compare against that record. The
manifest copy is written last, beside the weights, so its presence says every file was verified.

Bounds: a download never writes past the manifest's size for the file (or, for a file of unknown size, past the
largest file a sync can upload), a server's answer that cannot be told whole (a 416 to a resumed range, no
length) is never counted as whole, and the whole sync runs under one deadline (`Deadline`, its clock injectable).

ModelScope (mainland regions) serves a branch, not a commit: the sync resolves the branch to its commit before
copying and again after, records it beside the weights, and accepts from ModelScope only files whose sha256 the
Hugging Face manifest pins, so a mainland bucket holds the bytes every other region serves or nothing.

Object storage is reached through the S3 API, which OSS implements; what this relies on: PutObject, HeadObject,
GetObject, CreateMultipartUpload / UploadPart / ListParts / ListMultipartUploads / CompleteMultipartUpload /
AbortMultipartUpload, user metadata (x-amz-meta-* maps to x-oss-meta-*), ListParts reporting each part's size,
virtual-hosted addressing and Signature V4. It does not rely on a part's ETag being its MD5: with SSE-KMS (and
SSE-C) the ETag is not the MD5 of the data (S3's documented behaviour, quoted by minio's `internal/etag` and
cyberduck issue 10371; no Alibaba statement on OSS's KMS ETags was found, so none is assumed).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleet import credentials, hub_names
from fleet import weights_manifest as manifest_module
from fleet.weights_manifest import BUCKET_MANIFEST_NAME, FileEntry, Manifest, ManifestError, parse
from weights.hub import HubReadError, InsecureTokenError, hub_request, read_bounded

HUBS = ("huggingface", "modelscope")
HUB_ENDPOINTS = {"huggingface": "https://huggingface.co", "modelscope": "https://www.modelscope.cn"}
META_SHA256 = "sha256"  # x-amz-meta-sha256 / x-oss-meta-sha256: set only on bytes this sync verified
META_TRUST = "sha256-trust"  # "manifest" or "first-use"
PART_SIZE = manifest_module.PART_SIZE  # 64 MiB: a 5 GB shard is ~75 parts, far below the 10,000-part limit
CHUNK = 1024 * 1024
TIMEOUT_SECONDS = 120  # one socket read or connect; the sync as a whole is bounded by DEADLINE_SECONDS
# The whole sync of one model, every file downloaded, hashed and uploaded: Mistral 7B's 14.5 GB at a modest
# 5 MB/s each way takes under 2 h. A sync cut off here keeps what it verified and resumes on the next run.
DEADLINE_SECONDS = 6 * 3600
MAX_API_ANSWER_BYTES = 1 << 20  # a commit listing of one entry is a few hundred bytes

Progress = Callable[[str], None]


class SyncError(RuntimeError):
    """The sync could not finish; what was verified so far stays, and the next run resumes."""


class WeightsMismatchError(SyncError):
    """A source served bytes other than the manifest's: the deployment must fail, never serve them."""


class Deadline:
    """One bound on the whole sync. `clock` is injectable so a test can run out of time in milliseconds.

    Each socket read also has its own timeout (at most TIMEOUT_SECONDS, never more than the time left when the
    request was sent), so the sync stops at the deadline or within one read timeout after it."""

    def __init__(self, seconds: float = DEADLINE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.seconds, self._clock = seconds, clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return self._end - self._clock()

    def check(self, what: str) -> float:
        """The seconds left; a SyncError naming `what` once there are none."""
        left = self.remaining()
        if left <= 0:
            raise SyncError(
                f"{what}: the sync ran out of its {self.seconds:g} s deadline; what was verified stays in the bucket"
                " and the staging folder, run again to resume"
            )
        return left

    def timeout(self, what: str) -> float:
        return min(TIMEOUT_SECONDS, self.check(what))


@dataclass(frozen=True)
class Source:
    hub: str  # huggingface or modelscope
    repo: str
    revision: str  # a commit id on Hugging Face; a branch or tag on ModelScope
    endpoint: str = ""  # a mirror of the hub; empty: the hub itself

    def problems(self) -> list[str]:
        """What makes this source unsafe to turn into URLs and staging paths (checked again here, at the sync's
        boundary, whatever the settings checked: the state or a hand-edited stack can carry anything)."""
        found = []
        if self.hub not in HUBS:
            found.append(f"hub {self.hub!r} must be one of {', '.join(HUBS)}")
        if (problem := hub_names.repo_problem(self.repo, f"{self.hub} repository")) is not None:
            found.append(problem)
        check = hub_names.commit_problem if self.hub == "huggingface" else hub_names.ref_problem
        if (problem := check(self.revision, f"{self.hub} revision")) is not None:
            found.append(problem)
        if self.endpoint:
            parts = urllib.parse.urlsplit(self.endpoint)
            if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
                found.append(f"endpoint must be an http(s) URL without user-info, got {self.endpoint[:80]!r}")
            elif parts.query or parts.fragment:
                found.append(f"endpoint must have no query or fragment, got {self.endpoint[:80]!r}")
        return found

    def _base(self) -> str:
        return (self.endpoint or HUB_ENDPOINTS[self.hub]).rstrip("/")

    def url(self, path: str) -> str:
        base = self._base()
        quoted = urllib.parse.quote(path)
        if self.hub == "modelscope":
            query = urllib.parse.urlencode({"Revision": self.revision, "FilePath": path})
            return f"{base}/api/v1/models/{urllib.parse.quote(self.repo)}/repo?{query}"
        return f"{base}/{urllib.parse.quote(self.repo)}/resolve/{urllib.parse.quote(self.revision)}/{quoted}"

    def commits_url(self) -> str:
        """ModelScope's commit history of the branch, newest first, one entry: modelscope v1.37.1
        `HubApi.list_repo_commits` (GET /api/v1/models/<repo>/commits, params Ref, PageNumber, PageSize; the
        answer's Data.Commit[].Id, modelscope/utils/repo_utils.py `CommitHistoryResponse`)."""
        query = urllib.parse.urlencode({"Ref": self.revision, "PageNumber": 1, "PageSize": 1})
        return f"{self._base()}/api/v1/models/{urllib.parse.quote(self.repo)}/commits?{query}"

    def describe(self) -> str:
        return f"{self.hub}:{self.repo}@{self.revision}"


@dataclass(frozen=True)
class Destination:
    bucket: str
    prefix: str  # models/<id>/

    def key(self, path: str) -> str:
        return f"{self.prefix}{path}"


@dataclass
class SyncReport:
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    first_use: dict[str, str] = field(default_factory=dict)  # path -> sha256 recorded on first use (this run)
    bytes_copied: int = 0
    manifest: Manifest | None = None  # the manifest as written to the bucket, first-use hashes filled in
    source_commit: str = ""  # the commit a ModelScope branch pointed at, before and after the copy

    @property
    def digest(self) -> str:
        assert self.manifest is not None
        return self.manifest.digest


def _mismatch(path: str, source: Source, expected: str, actual: str, what: str) -> WeightsMismatchError:
    return WeightsMismatchError(
        f"{path}: sha256 mismatch: {what} says {expected}, {source.describe()} served {actual}."
        f" Nothing was uploaded for {path}; the bucket keeps what it had. Check the source, or regenerate the"
        " manifest where the hub is reachable if the pin itself is wrong."
    )


def _human(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _request(source: Source, path: str, environ: Mapping[str, str], url: str | None = None) -> urllib.request.Request:
    # Tokens come from the deployer's environment, never from inputs or state, and go to the hub's host only.
    token = environ.get("HF_TOKEN") if source.hub == "huggingface" else environ.get("MODELSCOPE_API_TOKEN")
    try:
        return hub_request(url or source.url(path), token, "beacon-fleet-weights-sync")
    except InsecureTokenError as error:
        raise SyncError(f"{path}: {error}") from None


def _served_total(response: Any, have: int) -> int | None:
    """The whole file's size as the server states it: Content-Range's total on a 206, else Content-Length."""
    if response.status == 206:
        _, _, total = (response.headers.get("Content-Range") or "").rpartition("/")
        return int(total) if total.isascii() and total.isdigit() else None
    length = response.headers.get("Content-Length") or ""
    return int(length) if length.isascii() and length.isdigit() else None


def _range_start(response: Any) -> int | None:
    unit, _, rest = (response.headers.get("Content-Range") or "").partition(" ")
    start = rest.partition("-")[0]
    return int(start) if unit == "bytes" and start.isascii() and start.isdigit() else None


def download(
    source: Source,
    path: str,
    staging: Path,
    expected_size: int | None,
    progress: Progress,
    environ: Mapping[str, str],
    deadline: Deadline | None = None,
) -> None:
    """Download `path` into `staging`, resuming from the bytes already there.

    Never writes past `expected_size` (or, when the manifest does not know the size, past the largest file a
    sync can upload), and returns only when the staged file is as long as the server (or the manifest) says the
    file is: a 416 answer to a resumed range, or an answer that states no length, never counts as whole."""
    deadline = deadline or Deadline()
    limit = expected_size if expected_size is not None else manifest_module.MAX_FILE_BYTES
    staging.parent.mkdir(parents=True, exist_ok=True)
    have = staging.stat().st_size if staging.exists() else 0
    if have > limit:
        staging.unlink()
        have = 0
    if expected_size is not None and have == expected_size:
        return  # as long as the manifest says; the hash decides whether it is the file
    for _attempt in range(2):
        request = _request(source, path, environ)
        if have:
            request.add_header("Range", f"bytes={have}-")
            progress(f"{path}: resuming the download at {_human(have)}")
        try:
            response = urllib.request.urlopen(request, timeout=deadline.timeout(path))
        except urllib.error.HTTPError as error:
            if error.code == 416 and have:
                # The range starts past the end of what the server has: the staged bytes are not known to be the
                # file (the file may have changed, or the server may be lying). Start again from byte 0.
                progress(f"{path}: the server refused to resume at {_human(have)} (HTTP 416); downloading afresh")
                staging.unlink()
                have = 0
                continue
            if error.code == 404:
                where = f"{source.describe()} ({source.url(path)} answered 404)"
                raise SyncError(f"{path}: not found at {where}") from error
            raise SyncError(f"{path}: {source.url(path)} answered HTTP {error.code}") from error
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise SyncError(f"{path}: cannot reach {source.url(path)}: {error}") from error
        with response:
            _receive(response, source, path, staging, expected_size, limit, have, progress, deadline)
        return
    raise SyncError(f"{path}: {source.url(path)} refused every range, even from byte 0 (HTTP 416)")


def _receive(
    response: Any,
    source: Source,
    path: str,
    staging: Path,
    expected_size: int | None,
    limit: int,
    have: int,
    progress: Progress,
    deadline: Deadline,
) -> None:
    if have and (response.status != 206 or _range_start(response) != have):
        have = 0  # the server ignored the range (or answered another): start over
    total = _served_total(response, have)
    if total is not None and total != (expected_size if expected_size is not None else total):
        staging.unlink(missing_ok=True)
        raise WeightsMismatchError(
            f"{path}: size mismatch: the manifest says {expected_size} bytes, {source.describe()} served {total}."
            f" Nothing was uploaded for {path}; nothing past the manifest's size was written."
        )
    if total is not None and total > limit:
        staging.unlink(missing_ok=True)
        raise SyncError(
            f"{path}: {source.describe()} offers {total} bytes, more than the largest file a sync can upload"
            f" ({limit}); nothing was written"
        )
    if total is None and expected_size is None:
        raise SyncError(
            f"{path}: {source.url(path)} states no length and the manifest knows no size, so a download cut short"
            " could not be told from a whole one; nothing was written"
        )
    expected_total = expected_size if expected_size is not None else total
    assert expected_total is not None
    last = time.monotonic()
    try:
        with staging.open("ab" if have else "wb") as out:
            while True:
                deadline.check(f"{path}: download at {_human(have)}")
                chunk = response.read1(min(CHUNK, expected_total - have + 1))
                if not chunk:
                    break
                if have + len(chunk) > expected_total:
                    out.truncate(0)
                    raise WeightsMismatchError(
                        f"{path}: size mismatch: the manifest says {expected_total} bytes, {source.describe()} served"
                        f" more; the download stopped there and nothing was uploaded for {path}"
                    )
                out.write(chunk)
                have += len(chunk)
                if time.monotonic() - last > 10:
                    last = time.monotonic()
                    progress(f"{path}: downloaded {_human(have)} ({100 * have // max(expected_total, 1)}%)")
    except WeightsMismatchError:
        staging.unlink(missing_ok=True)
        raise
    except (OSError, urllib.error.URLError, http.client.HTTPException) as error:
        raise SyncError(f"{path}: download interrupted at {_human(have)}: {error}; run again to resume") from error
    if have < expected_total:
        raise SyncError(
            f"{path}: download interrupted at {_human(have)} of {_human(expected_total)}; run again to resume"
        )


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    md5: str  # hex; what an unencrypted (or SSE-S3/OSS-managed) store returns as the part's ETag
    sha256: str


def _file_digests(staging: Path, part_size: int) -> tuple[str, list[Part], int]:
    """The file's sha256, each part's size, MD5 and sha256, and the file's size."""
    sha = hashlib.sha256()
    parts = []
    size = 0
    with staging.open("rb") as f:
        while body := f.read(part_size):
            sha.update(body)
            md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
            parts.append(Part(len(parts) + 1, len(body), md5, hashlib.sha256(body).hexdigest()))
            size += len(body)
    return sha.hexdigest(), parts, size


def _upload_record_path(staging: Path) -> Path:
    return staging.with_name(staging.name.removesuffix(".partial") + ".upload.json")


def _read_upload_record(record_path: Path, key: str, sha256: str, part_size: int) -> dict:
    """What this machine recorded while uploading the same bytes to the same key: {uploadId, parts}."""
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    same = isinstance(record, dict) and (record.get("key"), record.get("sha256"), record.get("partSize")) == (
        key,
        sha256,
        part_size,
    )
    return record if same and isinstance(record.get("parts"), dict) else {}


def _write_upload_record(record_path: Path, record: dict) -> None:
    temporary = record_path.with_name(record_path.name + ".tmp")
    temporary.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
    temporary.replace(record_path)


def _listed_parts(client: Any, bucket: str, key: str, upload_id: str) -> list[dict]:
    parts: list[dict] = []
    marker = 0
    while True:
        page = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
        parts.extend(page.get("Parts", []))
        if not page.get("IsTruncated"):
            return parts
        marker = int(page.get("NextPartNumberMarker") or 0)
        if not marker:
            return parts


def _kept_parts(listed: list[dict], parts: list[Part], recorded: dict) -> dict[int, str]:
    """Stored parts known to hold this file's bytes: the listed size matches, and either the ETag is the part's MD5
    (a store that returns MD5 ETags) or this machine recorded uploading exactly these bytes and got this ETag
    back (SSE-KMS and SSE-C stores, whose ETags are not MD5s)."""
    kept = {}
    for listed_part in listed:
        number, etag = listed_part.get("PartNumber"), str(listed_part.get("ETag") or "")
        if not isinstance(number, int) or not 1 <= number <= len(parts):
            continue
        part = parts[number - 1]
        if listed_part.get("Size") not in (None, part.size):
            continue
        mine = recorded.get(str(number))
        mine = mine if isinstance(mine, dict) else {}
        by_md5 = etag.strip('"').lower() == part.md5
        by_record = (mine.get("sha256"), mine.get("size"), mine.get("etag")) == (part.sha256, part.size, etag)
        if by_md5 or by_record:
            kept[number] = etag
    return kept


def upload(
    client: Any,
    dest: Destination,
    path: str,
    staging: Path,
    sha256: str,
    trust: str,
    part_size: int,
    parts: list[Part],
    progress: Progress,
    deadline: Deadline | None = None,
) -> None:
    """Upload the staged file in parts, resuming a multipart upload an interrupted run left for the same key.

    Each part carries its Content-MD5, so the store checks the bytes it receives whatever its ETags are. The
    machine records each stored part (number, size, sha256, the ETag it got back) beside the staged file; a
    resumed upload keeps a listed part only when that record, or an MD5 ETag, shows it holds these bytes."""
    deadline = deadline or Deadline()
    key = dest.key(path)
    record_path = _upload_record_path(staging)
    recorded = _read_upload_record(record_path, key, sha256, part_size)
    upload_id, done = None, {}
    listing = client.list_multipart_uploads(Bucket=dest.bucket, Prefix=key)
    for candidate in listing.get("Uploads", []):
        if candidate["Key"] != key:
            continue
        ours = candidate["UploadId"] == recorded.get("uploadId")
        listed = _listed_parts(client, dest.bucket, key, candidate["UploadId"])
        usable = _kept_parts(listed, parts, recorded.get("parts", {}) if ours else {})
        if upload_id is None and usable:
            upload_id, done = candidate["UploadId"], usable
        else:  # another run's leftovers, for other bytes: abort so its parts stop being billed
            client.abort_multipart_upload(Bucket=dest.bucket, Key=key, UploadId=candidate["UploadId"])
    if upload_id is None:
        created = client.create_multipart_upload(
            Bucket=dest.bucket, Key=key, Metadata={META_SHA256: sha256, META_TRUST: trust}
        )
        upload_id = created["UploadId"]
    else:
        progress(f"{path}: resuming the upload; {len(done)} of {len(parts)} parts already in the bucket")
    record = {"key": key, "sha256": sha256, "partSize": part_size, "uploadId": upload_id, "parts": {}}
    if upload_id == recorded.get("uploadId"):
        record["parts"] = {n: p for n, p in recorded.get("parts", {}).items() if n.isdigit() and int(n) in done}
    _write_upload_record(record_path, record)
    try:
        with staging.open("rb") as f:
            for part in parts:
                if part.number in done:
                    f.seek(part.size, os.SEEK_CUR)
                    continue
                deadline.check(f"{path}: upload of part {part.number}/{len(parts)}")
                body = f.read(part_size)
                response = client.upload_part(
                    Bucket=dest.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=part.number,
                    Body=body,
                    ContentMD5=base64.b64encode(bytes.fromhex(part.md5)).decode(),
                )
                done[part.number] = response["ETag"]
                record["parts"][str(part.number)] = {"size": part.size, "sha256": part.sha256, "etag": response["ETag"]}
                _write_upload_record(record_path, record)
                progress(f"{path}: uploaded part {part.number}/{len(parts)}")
    except SyncError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure leaves the parts for the next run to resume
        raise SyncError(
            f"{path}: upload interrupted after {len(done)} of {len(parts)} parts: {error}; run again to resume"
        ) from error
    client.complete_multipart_upload(
        Bucket=dest.bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": done[n]} for n in sorted(done)]},
    )
    record_path.unlink(missing_ok=True)


def _head(client: Any, bucket: str, key: str) -> dict | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def bucket_record(client: Any, dest: Destination) -> Manifest | None:
    """The manifest a previous sync wrote beside the weights, with the hashes it recorded on first use."""
    limit = 4 * manifest_module.MAX_MANIFEST_CHARS  # UTF-8 takes at most 4 bytes a character
    try:
        body = client.get_object(Bucket=dest.bucket, Key=dest.key(BUCKET_MANIFEST_NAME))["Body"].read(limit + 1)
    except client.exceptions.NoSuchKey:
        return None
    if len(body) > limit:
        raise SyncError(f"the bucket's {dest.key(BUCKET_MANIFEST_NAME)} is larger than any manifest; remove it")
    try:
        return parse(body.decode("utf-8"))
    except (ManifestError, UnicodeDecodeError) as error:
        raise SyncError(f"the bucket's {dest.key(BUCKET_MANIFEST_NAME)} is unreadable ({error}); remove it") from error


def expected_hashes(manifest: Manifest, record: Manifest | None, source: Source) -> dict[str, tuple[str | None, str]]:
    """path -> (sha256 to check, what says so): the manifest's, or the bucket's first-use record of an unknown."""
    recorded = {}
    if record is not None and (record.hf_repo, record.revision) == (manifest.hf_repo, manifest.revision):
        recorded = {f.path: f.sha256 for f in record.files if f.known}
    expected = {}
    for entry in manifest.files:
        if entry.known:
            earlier = recorded.get(entry.path)
            if earlier is not None and earlier != entry.sha256:
                raise _mismatch(entry.path, source, entry.sha256, earlier, "the manifest")  # type: ignore[arg-type]
            expected[entry.path] = (entry.sha256, "the manifest")
        elif entry.path in recorded:
            expected[entry.path] = (recorded[entry.path], "the bucket's first-use record")
        else:
            expected[entry.path] = (None, "")
    return expected


def boundary_problems(manifest: Manifest, source: Source, dest: Destination, staging_dir: Path) -> list[str]:
    """Every name the sync turns into a URL, an object key or a staging path, checked where it is used."""
    found = source.problems()
    pinned = {
        "huggingface": (manifest.hf_repo, manifest.revision),
        "modelscope": (manifest.ms_repo, manifest.ms_revision),
    }
    if source.hub in pinned and (source.repo, source.revision) != pinned[source.hub]:
        found.append(
            f"source {source.describe()} is not what the manifest pins ({source.hub}:{'@'.join(pinned[source.hub])})"
        )
    prefix_problem = hub_names.path_problem(dest.prefix.removesuffix("/"))
    if prefix_problem is not None or not dest.prefix.endswith("/"):
        found.append(f"prefix {dest.prefix[:80]!r} must be a relative folder ending in '/': {prefix_problem or ''}")
    root = staging_dir.resolve()
    for entry in manifest.files:
        if (problem := hub_names.path_problem(entry.path)) is not None:
            found.append(f"{entry.path[:80]!r}: {problem}")
        elif not (staging_dir / f"{entry.path}.partial").resolve().is_relative_to(root):
            found.append(f"{entry.path}: its staging file would leave {root}")
    return found


def resolve_commit(source: Source, environ: Mapping[str, str], deadline: Deadline) -> str:
    """The commit ModelScope's branch points at now (its newest commit), read with a bound on time and size."""
    url = source.commits_url()
    what = f"resolving {source.describe()} to a commit"
    try:
        body = read_bounded(_request(source, what, environ, url), MAX_API_ANSWER_BYTES, deadline.timeout(what))
    except HubReadError as error:
        raise SyncError(f"{what}: {url} {error}") from error
    try:
        commits = json.loads(body)["Data"]["Commit"]
        commit = commits[0]["Id"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise SyncError(f"{what}: {url} did not answer a commit listing (Data.Commit[0].Id)") from None
    if (problem := hub_names.commit_problem(commit, "the commit ModelScope named")) is not None:
        raise SyncError(f"{what}: {problem}")
    return commit


def _mainland_checks(manifest: Manifest, source: Source) -> None:
    """ModelScope serves a branch: only a pinned sha256 (from the Hugging Face manifest) says its files are the
    bytes every other region serves. A file without one would be trusted on first use per bucket, never compared
    with anything, so the sync refuses before it copies anything."""
    unpinned = [f.path for f in manifest.files if not f.known]
    if unpinned:
        raise WeightsMismatchError(
            f"cannot copy {manifest.model} from {source.describe()}: a mainland bucket must hold the bytes every"
            f" other region serves, and the manifest pins no sha256 for {', '.join(unpinned)}, so ModelScope's"
            " copies could not be compared with them. Pin them with `python -m weights.manifest"
            f" {manifest.model}` where huggingface.co is reachable and commit the manifest. Nothing was copied."
        )


def sync(
    manifest: Manifest,
    source: Source,
    dest: Destination,
    client: Any,
    staging_dir: Path,
    progress: Progress = print,
    part_size: int = PART_SIZE,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    deadline: Deadline | None = None,
) -> SyncReport:
    environ = os.environ if environ is None else environ
    deadline = deadline or Deadline()
    problems = boundary_problems(manifest, source, dest, staging_dir)
    if problems:
        raise SyncError("refusing to sync: " + "; ".join(problems))
    report = SyncReport()
    if source.hub == "modelscope":
        _mainland_checks(manifest, source)
        report.source_commit = resolve_commit(source, environ, deadline)
        progress(f"{source.describe()} is commit {report.source_commit}")
    record = bucket_record(client, dest)
    expected = expected_hashes(manifest, record, source)
    unknown = set(manifest.unknown)
    # Hashes an earlier sync recorded on first use, kept with their original note.
    earlier = {f.path: f for f in (record.files if record else ()) if f.known and f.path in unknown}
    recorded: dict[str, tuple[int, str]] = {}

    for entry in manifest.files:
        deadline.check(entry.path)
        sha_expected, said_by = expected[entry.path]
        head = _head(client, dest.bucket, dest.key(entry.path))
        if head is not None and sha_expected is not None:
            meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
            size_ok = entry.size is None or head.get("ContentLength") == entry.size
            if meta.get(META_SHA256) == sha_expected and size_ok:
                report.skipped.append(entry.path)
                progress(f"{entry.path}: already in the bucket and verified; skipped")
                continue
        size, sha = _copy(
            entry, sha_expected, said_by, source, dest, client, staging_dir, progress, part_size, environ, deadline
        )
        report.copied.append(entry.path)
        report.bytes_copied += size
        if sha_expected is None:
            report.first_use[entry.path] = sha
            recorded[entry.path] = (size, sha)

    if report.source_commit:
        after = resolve_commit(source, environ, deadline)
        if after != report.source_commit:
            raise SyncError(
                f"{source.describe()} moved from commit {report.source_commit} to {after} during the sync; every file"
                " copied matched the pinned sha256, but the record would name the wrong commit. Run again."
            )
    note = f"computed by the sync into oss://{dest.bucket}/{dest.prefix} from {source.describe()} at {now():%Y-%m-%d}"
    final = manifest.with_recorded(recorded, note)
    final = replace(final, files=tuple(earlier.get(f.path, f) for f in final.files), ms_commit=report.source_commit)
    client.put_object(
        Bucket=dest.bucket,
        Key=dest.key(BUCKET_MANIFEST_NAME),
        Body=final.to_json().encode("utf-8"),
        ContentType="application/json",
    )
    report.manifest = final
    if report.first_use:
        progress(
            f"trust on first use: no published sha256 for {', '.join(sorted(report.first_use))}; recorded the hashes"
            f" computed now in oss://{dest.bucket}/{dest.key(BUCKET_MANIFEST_NAME)}; every later sync must match them"
        )
    return report


def _copy(
    entry: FileEntry,
    sha_expected: str | None,
    said_by: str,
    source: Source,
    dest: Destination,
    client: Any,
    staging_dir: Path,
    progress: Progress,
    part_size: int,
    environ: Mapping[str, str],
    deadline: Deadline,
) -> tuple[int, str]:
    staging = staging_dir / f"{entry.path}.partial"
    download(source, entry.path, staging, entry.size, progress, environ, deadline)
    sha, parts, size = _file_digests(staging, part_size)
    if entry.size is not None and size != entry.size:
        staging.unlink()
        raise WeightsMismatchError(
            f"{entry.path}: size mismatch: the manifest says {entry.size} bytes, {source.describe()} served {size}"
            f" (sha256 {sha}; expected {sha_expected or 'unknown'}). Nothing was uploaded for {entry.path}."
        )
    if sha_expected is not None and sha != sha_expected:
        staging.unlink()  # bad bytes: the next run downloads afresh rather than resuming them
        raise _mismatch(entry.path, source, sha_expected, sha, said_by)
    if sha_expected is None and entry.sha256_prefix and not sha.startswith(entry.sha256_prefix):
        staging.unlink()
        raise _mismatch(entry.path, source, entry.sha256_prefix + "…", sha, "the manifest's partial figure")
    trust = "manifest" if entry.known else "first-use"
    upload(client, dest, entry.path, staging, sha, trust, part_size, parts, progress, deadline)
    staging.unlink()
    progress(f"{entry.path}: copied {_human(size)}, sha256 {sha} verified ({said_by or 'recorded on first use'})")
    return size, sha


def oss_client(endpoint: str, region: str, environ: Mapping[str, str] | None = None) -> Any:
    """An S3 client for OSS with the deployer's credentials from the environment (the variables the Alibaba
    Cloud CLI, SDKs and the alicloud Pulumi provider read). They never become inputs or state."""
    import boto3
    from botocore.config import Config

    keys = credentials.alibaba_keys(os.environ if environ is None else environ)
    if keys is None:
        raise SyncError(f"no OSS credentials: {credentials.MISSING_ALIBABA_KEYS}")
    url = endpoint if "://" in endpoint else f"https://{endpoint}"
    host = urllib.parse.urlparse(url).hostname or ""
    local = host in ("127.0.0.1", "localhost", "::1")
    config = Config(
        signature_version="s3v4",
        # OSS serves buckets only as <bucket>.<endpoint>; a local S3 server only by path.
        s3={"addressing_style": "path" if local else "virtual"},
        # botocore's default CRC checksums (since 1.36) are not part of the S3 API OSS implements.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 5, "mode": "standard"},
    )
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.access_key_secret,
        aws_session_token=keys.security_token or None,
        config=config,
    )


def report_outputs(report: SyncReport, source: Source) -> dict[str, Any]:
    """What the sync leaves in state: no credential, only what was verified."""
    assert report.manifest is not None
    return {
        "synced_digest": report.digest,
        "first_use": {f.path: f.sha256 for f in report.manifest.files if f.source.startswith("trust on first use")},
        "copied": len(report.copied),
        "skipped": len(report.skipped),
        "source": source.describe(),
        "source_commit": report.source_commit,
    }
