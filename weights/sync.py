"""Copy a model's pinned files from a hub into a region's bucket, verifying every sha256 against the manifest.

Per file: an object already in the bucket whose recorded sha256 (object metadata written by this sync) and size
match the manifest is skipped. Otherwise the file is downloaded into a staging file (resumed with an HTTP Range
request if a previous run was cut short), hashed, and compared with the manifest *before* anything is uploaded;
then uploaded in parts (a multipart upload left by an interrupted run is resumed: parts whose ETag is the MD5 of
the staged bytes are kept). A file whose hash the manifest does not know is hashed and recorded on first use in
the bucket's copy of the manifest; later syncs compare against that record. The manifest copy is written last,
beside the weights, so its presence says every file was verified.

Object storage is reached through the S3 API, which OSS implements; what this relies on: PutObject, HeadObject,
GetObject, CreateMultipartUpload / UploadPart / ListParts / ListMultipartUploads / CompleteMultipartUpload /
AbortMultipartUpload, user metadata (x-amz-meta-* maps to x-oss-meta-*), an unencrypted-by-KMS part's ETag
being its MD5, virtual-hosted addressing and Signature V4.
"""

from __future__ import annotations

import hashlib
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

from fleet import credentials
from weights.manifest import (
    BUCKET_MANIFEST_NAME,
    FileEntry,
    InsecureTokenError,
    Manifest,
    ManifestError,
    hub_request,
    parse,
)

HUBS = ("huggingface", "modelscope")
HUB_ENDPOINTS = {"huggingface": "https://huggingface.co", "modelscope": "https://www.modelscope.cn"}
META_SHA256 = "sha256"  # x-amz-meta-sha256 / x-oss-meta-sha256: set only on bytes this sync verified
META_TRUST = "sha256-trust"  # "manifest" or "first-use"
PART_SIZE = 64 * 1024 * 1024  # 64 MiB: a 5 GB shard is ~75 parts, far below the 10,000-part limit
CHUNK = 1024 * 1024
TIMEOUT_SECONDS = 120

Progress = Callable[[str], None]


class SyncError(RuntimeError):
    """The sync could not finish; what was verified so far stays, and the next run resumes."""


class WeightsMismatchError(SyncError):
    """A source served bytes other than the manifest's: the deployment must fail, never serve them."""


@dataclass(frozen=True)
class Source:
    hub: str  # huggingface or modelscope
    repo: str
    revision: str  # a commit id on Hugging Face; a branch or tag on ModelScope
    endpoint: str = ""  # a mirror of the hub; empty: the hub itself

    def url(self, path: str) -> str:
        base = (self.endpoint or HUB_ENDPOINTS[self.hub]).rstrip("/")
        quoted = urllib.parse.quote(path)
        if self.hub == "modelscope":
            query = urllib.parse.urlencode({"Revision": self.revision, "FilePath": path})
            return f"{base}/api/v1/models/{self.repo}/repo?{query}"
        return f"{base}/{self.repo}/resolve/{self.revision}/{quoted}"

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


def _request(source: Source, path: str, environ: Mapping[str, str]) -> urllib.request.Request:
    # Tokens come from the deployer's environment, never from inputs or state, and go to the hub's host only.
    token = environ.get("HF_TOKEN") if source.hub == "huggingface" else environ.get("MODELSCOPE_API_TOKEN")
    try:
        return hub_request(source.url(path), token, "beacon-fleet-weights-sync")
    except InsecureTokenError as error:
        raise SyncError(f"{path}: {error}") from None


def download(
    source: Source, path: str, staging: Path, expected_size: int | None, progress: Progress, environ: Mapping[str, str]
) -> None:
    """Download `path` into `staging`, resuming from the bytes already there."""
    staging.parent.mkdir(parents=True, exist_ok=True)
    have = staging.stat().st_size if staging.exists() else 0
    if expected_size is not None and have == expected_size:
        return
    if expected_size is not None and have > expected_size:
        staging.unlink()
        have = 0
    request = _request(source, path, environ)
    if have:
        request.add_header("Range", f"bytes={have}-")
        progress(f"{path}: resuming the download at {_human(have)}")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the range starts at the end: the staged file is whole
            return
        if error.code == 404:
            raise SyncError(f"{path}: not found at {source.describe()} ({source.url(path)} answered 404)") from error
        raise SyncError(f"{path}: {source.url(path)} answered HTTP {error.code}") from error
    except (urllib.error.URLError, OSError) as error:
        raise SyncError(f"{path}: cannot reach {source.url(path)}: {error}") from error
    with response:
        if have and response.status != 206:  # the server ignored Range: start over
            have = 0
        total = expected_size or (int(response.headers.get("Content-Length") or 0) + have) or None
        last = time.monotonic()
        try:
            with staging.open("ab" if have else "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    have += len(chunk)
                    if time.monotonic() - last > 10:
                        last = time.monotonic()
                        share = f" ({100 * have // total}%)" if total else ""
                        progress(f"{path}: downloaded {_human(have)}{share}")
        except (OSError, urllib.error.URLError) as error:
            raise SyncError(f"{path}: download interrupted at {_human(have)}: {error}; run again to resume") from error
    if total is not None and have < total:
        raise SyncError(f"{path}: download interrupted at {_human(have)} of {_human(total)}; run again to resume")


def _file_digests(staging: Path, part_size: int) -> tuple[str, list[str], int]:
    """The file's sha256, each part's MD5 (what S3 and OSS return as a part's ETag), and its size."""
    sha = hashlib.sha256()
    md5s = []
    size = 0
    with staging.open("rb") as f:
        while part := f.read(part_size):
            sha.update(part)
            md5s.append(hashlib.md5(part, usedforsecurity=False).hexdigest())
            size += len(part)
    return sha.hexdigest(), md5s, size


def upload(
    client: Any,
    dest: Destination,
    path: str,
    staging: Path,
    sha256: str,
    trust: str,
    part_size: int,
    md5s: list[str],
    progress: Progress,
) -> None:
    """Upload the staged file in parts, resuming a multipart upload an interrupted run left for the same key."""
    key = dest.key(path)
    upload_id, done = None, {}
    listing = client.list_multipart_uploads(Bucket=dest.bucket, Prefix=key)
    for candidate in listing.get("Uploads", []):
        if candidate["Key"] != key:
            continue
        parts = client.list_parts(Bucket=dest.bucket, Key=key, UploadId=candidate["UploadId"]).get("Parts", [])
        usable = {
            p["PartNumber"]: p["ETag"]
            for p in parts
            if p["PartNumber"] <= len(md5s) and p["ETag"].strip('"').lower() == md5s[p["PartNumber"] - 1]
        }
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
        progress(f"{path}: resuming the upload; {len(done)} of {len(md5s)} parts already in the bucket")
    try:
        with staging.open("rb") as f:
            for number in range(1, len(md5s) + 1):
                if number in done:
                    f.seek(part_size, os.SEEK_CUR)
                    continue
                body = f.read(part_size)
                response = client.upload_part(
                    Bucket=dest.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
                )
                done[number] = response["ETag"]
                progress(f"{path}: uploaded part {number}/{len(md5s)}")
    except Exception as error:  # noqa: BLE001 - any failure leaves the parts for the next run to resume
        raise SyncError(
            f"{path}: upload interrupted after {len(done)} of {len(md5s)} parts: {error}; run again to resume"
        ) from error
    client.complete_multipart_upload(
        Bucket=dest.bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": done[n]} for n in sorted(done)]},
    )


def _head(client: Any, bucket: str, key: str) -> dict | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def bucket_record(client: Any, dest: Destination) -> Manifest | None:
    """The manifest a previous sync wrote beside the weights, with the hashes it recorded on first use."""
    try:
        body = client.get_object(Bucket=dest.bucket, Key=dest.key(BUCKET_MANIFEST_NAME))["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    try:
        return parse(body.decode("utf-8"))
    except ManifestError as error:
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
) -> SyncReport:
    environ = os.environ if environ is None else environ
    report = SyncReport()
    record = bucket_record(client, dest)
    expected = expected_hashes(manifest, record, source)
    unknown = set(manifest.unknown)
    # Hashes an earlier sync recorded on first use, kept with their original note.
    earlier = {f.path: f for f in (record.files if record else ()) if f.known and f.path in unknown}
    recorded: dict[str, tuple[int, str]] = {}

    for entry in manifest.files:
        sha_expected, said_by = expected[entry.path]
        head = _head(client, dest.bucket, dest.key(entry.path))
        if head is not None and sha_expected is not None:
            meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
            size_ok = entry.size is None or head.get("ContentLength") == entry.size
            if meta.get(META_SHA256) == sha_expected and size_ok:
                report.skipped.append(entry.path)
                progress(f"{entry.path}: already in the bucket and verified; skipped")
                continue
        size, sha = _copy(entry, sha_expected, said_by, source, dest, client, staging_dir, progress, part_size, environ)
        report.copied.append(entry.path)
        report.bytes_copied += size
        if sha_expected is None:
            report.first_use[entry.path] = sha
            recorded[entry.path] = (size, sha)

    note = f"computed by the sync into oss://{dest.bucket}/{dest.prefix} from {source.describe()} at {now():%Y-%m-%d}"
    final = manifest.with_recorded(recorded, note)
    final = replace(final, files=tuple(earlier.get(f.path, f) for f in final.files))
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
) -> tuple[int, str]:
    staging = staging_dir / f"{entry.path}.partial"
    download(source, entry.path, staging, entry.size, progress, environ)
    sha, md5s, size = _file_digests(staging, part_size)
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
    upload(client, dest, entry.path, staging, sha, trust, part_size, md5s, progress)
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
    }
