"""The weights sync against a local hub stand-in and a real S3-compatible object server (moto's, on 127.0.0.1).

OSS implements the S3 API the sync uses, so the same client code runs against both; nothing here mocks the
object store's behaviour (multipart parts, ETags, metadata are moto's)."""

from __future__ import annotations

import hashlib
import http.server
import json
import time
import urllib.request
from dataclasses import replace

import moto.s3.models
import pytest
from moto.server import ThreadedMotoServer

from fleet.weights_manifest import BUCKET_MANIFEST_NAME, FileEntry, Manifest, parse
from tests.hub_standin import HubServer
from tests.loopback import running
from weights import sync as ws
from weights.hub import InsecureTokenError, hub_request

REPO, REVISION = "org/tiny-model", "1" * 40
BUCKET, PREFIX = "beacon-weights-test", "models/tiny/"
PART = 1024  # bytes per part, so small real files still upload in several parts
FAKE_CREDENTIALS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "test-key", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "test-secret"}

CONTENT = {
    "config.json": b'{"model_type": "tiny", "hidden_size": 8}',
    "tokenizer_config.json": b'{"chat_template": "{{ messages }}"}',
    "model.safetensors": bytes(range(256)) * 20,  # 5,120 bytes: five parts
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(unknown: tuple[str, ...] = ()) -> Manifest:
    return Manifest(
        model="tiny",
        hf_repo=REPO,
        revision=REVISION,
        files=tuple(
            FileEntry(path, None if path in unknown else len(data), None if path in unknown else sha(data))
            for path, data in CONTENT.items()
        ),
    )


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def client(s3_endpoint, monkeypatch):
    # S3 (and moto) refuse parts under 5 MiB but the last; OSS's floor is 100 KB. Lowered so tests stay small.
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 256)
    s3 = ws.oss_client(s3_endpoint, "us-east-1", FAKE_CREDENTIALS)
    s3.create_bucket(Bucket=BUCKET)
    yield s3
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for obj in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"], VersionId=obj["VersionId"])
    for upload in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def hub():
    with HubServer() as hub:
        for path, data in CONTENT.items():
            hub.add(REPO, REVISION, path, data)
        yield hub


def run(hub, client, tmp_path, the_manifest=None, hub_name="huggingface", revision=REVISION, messages=None):
    source = ws.Source(hub_name, REPO, revision, endpoint=hub.url)
    return ws.sync(
        the_manifest or manifest(),
        source,
        ws.Destination(BUCKET, PREFIX),
        client,
        staging_dir=tmp_path / "staging",
        progress=(messages.append if messages is not None else lambda _m: None),
        part_size=PART,
        environ={},
    )


def stored(client, path: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=PREFIX + path)["Body"].read()


def test_a_first_sync_copies_every_file_verified_and_writes_the_manifest_beside_them(hub, client, tmp_path):
    messages: list[str] = []
    report = run(hub, client, tmp_path, messages=messages)
    assert report.copied == list(CONTENT) and report.skipped == []
    for path, data in CONTENT.items():
        assert stored(client, path) == data
        head = client.head_object(Bucket=BUCKET, Key=PREFIX + path)
        assert head["Metadata"] == {"sha256": sha(data), "sha256-trust": "manifest"}
    beside = parse(stored(client, BUCKET_MANIFEST_NAME).decode())
    assert beside.digest == manifest().digest == report.digest
    assert any("uploaded part 5/5" in m for m in messages)  # progress, part by part
    assert not list((tmp_path / "staging").rglob("*.partial"))  # staging cleaned up


def test_a_second_run_copies_nothing(hub, client, tmp_path):
    run(hub, client, tmp_path)
    downloads = len(hub.requests)
    report = run(hub, client, tmp_path)
    assert report.copied == [] and report.skipped == list(CONTENT)
    assert len(hub.requests) == downloads


def test_a_corrupted_file_fails_the_sync_naming_the_file_and_both_hashes(hub, client, tmp_path):
    bad = CONTENT["model.safetensors"][:-1] + b"\x00"
    hub.add(REPO, REVISION, "model.safetensors", bad)
    with pytest.raises(ws.WeightsMismatchError) as caught:
        run(hub, client, tmp_path)
    message = str(caught.value)
    assert message.startswith("model.safetensors: sha256 mismatch")
    assert sha(CONTENT["model.safetensors"]) in message and sha(bad) in message
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert PREFIX + "model.safetensors" not in keys  # never uploaded
    assert PREFIX + BUCKET_MANIFEST_NAME not in keys  # so nothing says the model is complete
    assert not (tmp_path / "staging" / "model.safetensors.partial").exists()  # not resumed from bad bytes


def test_a_file_of_the_wrong_size_fails_naming_both_sizes(hub, client, tmp_path):
    hub.add(REPO, REVISION, "config.json", CONTENT["config.json"] + b" ")
    with pytest.raises(
        ws.WeightsMismatchError, match=r"config.json: size mismatch: the manifest says 40 bytes.*served 41"
    ):
        run(hub, client, tmp_path)


def test_a_missing_file_fails_the_sync_naming_it(hub, client, tmp_path):
    del hub.files[(REPO, REVISION, "tokenizer_config.json")]
    with pytest.raises(ws.SyncError, match=r"tokenizer_config.json: not found at huggingface:org/tiny-model@1+ .*404"):
        run(hub, client, tmp_path)
    assert stored(client, "config.json") == CONTENT["config.json"]  # what was verified stays


def test_an_interrupted_download_resumes_where_it_stopped(hub, client, tmp_path):
    hub.cut_after["model.safetensors"] = 3000
    with pytest.raises(ws.SyncError, match="model.safetensors: download interrupted.*run again to resume"):
        run(hub, client, tmp_path)
    assert (tmp_path / "staging" / "model.safetensors.partial").stat().st_size == 3000
    report = run(hub, client, tmp_path)
    assert hub.downloads_of("model.safetensors") == [None, "bytes=3000-"]
    assert report.copied == ["model.safetensors"] and report.skipped == ["config.json", "tokenizer_config.json"]
    assert stored(client, "model.safetensors") == CONTENT["model.safetensors"]


class FailingUploads:
    """The real client, with the network failing once at one part number; counts the parts sent."""

    def __init__(self, client, fail_at: int | None):
        self._client, self.fail_at, self.parts_sent = client, fail_at, []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def upload_part(self, **kwargs):
        if kwargs["PartNumber"] == self.fail_at:
            self.fail_at = None
            raise ConnectionResetError("connection reset by peer")
        self.parts_sent.append((kwargs["Key"].rsplit("/", 1)[-1], kwargs["PartNumber"]))
        return self._client.upload_part(**kwargs)


def test_an_interrupted_upload_resumes_without_sending_the_parts_already_stored(hub, client, tmp_path):
    flaky = FailingUploads(client, fail_at=3)
    with pytest.raises(ws.SyncError, match="model.safetensors: upload interrupted after 2 of 5 parts"):
        run(hub, flaky, tmp_path)
    again = FailingUploads(client, fail_at=None)
    messages: list[str] = []
    run(hub, again, tmp_path, messages=messages)
    assert again.parts_sent == [("model.safetensors", 3), ("model.safetensors", 4), ("model.safetensors", 5)]
    assert any("resuming the upload; 2 of 5 parts already in the bucket" in m for m in messages)
    assert stored(client, "model.safetensors") == CONTENT["model.safetensors"]
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_an_unknown_hash_is_recorded_on_first_use_and_a_later_change_fails(hub, client, tmp_path):
    provisional = manifest(unknown=("tokenizer_config.json",))
    messages: list[str] = []
    report = run(hub, client, tmp_path, the_manifest=provisional, messages=messages)
    first = sha(CONTENT["tokenizer_config.json"])
    assert report.first_use == {"tokenizer_config.json": first}
    assert any(m.startswith("trust on first use: no published sha256 for tokenizer_config.json") for m in messages)
    beside = parse(stored(client, BUCKET_MANIFEST_NAME).decode())
    entry = beside.entry("tokenizer_config.json")
    assert entry.sha256 == first and entry.source.startswith("trust on first use: computed by the sync into oss://")
    assert not beside.provisional and provisional.provisional
    assert client.head_object(Bucket=BUCKET, Key=PREFIX + "tokenizer_config.json")["Metadata"]["sha256-trust"] == (
        "first-use"
    )

    # Unchanged: verified against the record, nothing copied, the record kept as it was.
    assert run(hub, client, tmp_path, the_manifest=provisional).copied == []

    # The hub now serves another chat template, and the object is gone (say, deleted by hand).
    changed = b'{"chat_template": "{{ other }}"}'
    hub.add(REPO, REVISION, "tokenizer_config.json", changed)
    client.delete_object(Bucket=BUCKET, Key=PREFIX + "tokenizer_config.json")
    with pytest.raises(ws.WeightsMismatchError) as caught:
        run(hub, client, tmp_path, the_manifest=provisional)
    message = str(caught.value)
    assert "tokenizer_config.json: sha256 mismatch: the bucket's first-use record says" in message
    assert first in message and sha(changed) in message


def test_a_manifest_hash_that_contradicts_the_buckets_first_use_record_fails(hub, client, tmp_path):
    run(hub, client, tmp_path, the_manifest=manifest(unknown=("config.json",)))
    other = "f" * 64
    later = Manifest(
        model="tiny",
        hf_repo=REPO,
        revision=REVISION,
        files=tuple(
            FileEntry(f.path, f.size, other if f.path == "config.json" else f.sha256) for f in manifest().files
        ),
    )
    with pytest.raises(ws.WeightsMismatchError, match=f"config.json: sha256 mismatch: the manifest says {other}"):
        run(hub, client, tmp_path, the_manifest=later)


def test_a_partial_hash_from_a_source_is_checked_on_first_use(hub, client, tmp_path):
    files = tuple(
        FileEntry(f.path, f.size, None, sha256_prefix="00000000") if f.path == "model.safetensors" else f
        for f in manifest().files
    )
    with pytest.raises(ws.WeightsMismatchError, match="model.safetensors: sha256 mismatch: the manifest's partial"):
        run(hub, client, tmp_path, the_manifest=Manifest("tiny", REPO, REVISION, files))


MS_REPO, MS_COMMIT = "LLM-Research/tiny-model", "2" * 40


def mainland(the_manifest: Manifest | None = None) -> Manifest:
    return replace(the_manifest or manifest(), ms_repo=MS_REPO, ms_revision="master")


def run_mainland(hub, client, tmp_path, the_manifest=None, messages=None):
    source = ws.Source("modelscope", MS_REPO, "master", endpoint=hub.url)
    report = ws.sync(
        mainland(the_manifest),
        source,
        ws.Destination(BUCKET, PREFIX),
        client,
        tmp_path / "staging",
        progress=(messages.append if messages is not None else lambda _m: None),
        part_size=PART,
        environ={},
    )
    return source, report


def test_mainland_regions_copy_the_same_files_from_modelscope_at_a_recorded_commit(hub, client, tmp_path):
    for path, data in CONTENT.items():
        hub.add(MS_REPO, "master", path, data)
    hub.heads[(MS_REPO, "master")] = [MS_COMMIT]
    source = ws.Source("modelscope", MS_REPO, "master", endpoint=hub.url)
    assert source.url("model.safetensors").endswith(
        "/api/v1/models/LLM-Research/tiny-model/repo?Revision=master&FilePath=model.safetensors"
    )
    messages: list[str] = []
    source, report = run_mainland(hub, client, tmp_path, messages=messages)
    assert report.copied == list(CONTENT)
    outputs = ws.report_outputs(report, source)
    assert outputs["source"] == "modelscope:LLM-Research/tiny-model@master"
    assert outputs["source_commit"] == MS_COMMIT
    assert f"modelscope:LLM-Research/tiny-model@master is commit {MS_COMMIT}" in messages
    beside = parse(stored(client, BUCKET_MANIFEST_NAME).decode())
    assert beside.ms_commit == MS_COMMIT and beside.digest == mainland().digest


def test_a_mainland_sync_refuses_files_the_hugging_face_manifest_does_not_pin(hub, client, tmp_path):
    """Trust on first use per bucket would never compare cn-beijing's bytes with anyone else's."""
    for path, data in CONTENT.items():
        hub.add(MS_REPO, "master", path, data)
    hub.heads[(MS_REPO, "master")] = [MS_COMMIT]
    with pytest.raises(ws.WeightsMismatchError) as caught:
        run_mainland(hub, client, tmp_path, the_manifest=manifest(unknown=("config.json", "tokenizer_config.json")))
    assert "the manifest pins no sha256 for config.json, tokenizer_config.json" in str(caught.value)
    assert hub.requests == []  # nothing downloaded
    assert client.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    # A partial figure is not a pin either.
    partial = Manifest(
        "tiny",
        REPO,
        REVISION,
        tuple(
            replace(f, sha256=None, sha256_prefix=f.sha256[:8]) if f.path == "model.safetensors" else f  # type: ignore[index]
            for f in manifest().files
        ),
    )
    with pytest.raises(ws.WeightsMismatchError, match="pins no sha256 for model.safetensors"):
        run_mainland(hub, client, tmp_path, the_manifest=partial)


def test_a_mainland_file_that_differs_from_the_hugging_face_bytes_fails_the_sync(hub, client, tmp_path):
    for path, data in CONTENT.items():
        hub.add(MS_REPO, "master", path, data)
    hub.add(MS_REPO, "master", "tokenizer_config.json", b'{"chat_template": "{{ mainland }}"}')
    hub.heads[(MS_REPO, "master")] = [MS_COMMIT]
    with pytest.raises(ws.WeightsMismatchError, match="tokenizer_config.json: s(ize|ha256) mismatch"):
        run_mainland(hub, client, tmp_path)
    assert PREFIX + BUCKET_MANIFEST_NAME not in {
        o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    }


def test_a_modelscope_branch_that_moves_during_the_sync_is_refused_before_the_record_is_written(hub, client, tmp_path):
    for path, data in CONTENT.items():
        hub.add(MS_REPO, "master", path, data)
    hub.heads[(MS_REPO, "master")] = [MS_COMMIT, "3" * 40]
    with pytest.raises(ws.SyncError, match=f"moved from commit {MS_COMMIT} to 3333"):
        run_mainland(hub, client, tmp_path)
    assert PREFIX + BUCKET_MANIFEST_NAME not in {
        o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    }


@pytest.mark.parametrize("answer", [[], ["main"], ["../../x" + "0" * 33]])
def test_a_modelscope_branch_that_resolves_to_no_commit_is_refused(hub, client, tmp_path, answer):
    for path, data in CONTENT.items():
        hub.add(MS_REPO, "master", path, data)
    if answer:
        hub.heads[(MS_REPO, "master")] = answer
    with pytest.raises(ws.SyncError, match="resolving modelscope:LLM-Research/tiny-model@master to a commit"):
        run_mainland(hub, client, tmp_path)
    assert [p for p, _ in hub.requests] == []


def test_the_hub_token_comes_from_the_environment_only():
    source = ws.Source("huggingface", REPO, REVISION)
    assert ws._request(source, "config.json", {"HF_TOKEN": "hf_x"}).unredirected_hdrs["Authorization"] == "Bearer hf_x"
    assert not ws._request(source, "config.json", {}).has_header("Authorization")


def test_a_hub_token_never_follows_a_redirect_to_another_host():
    """Hugging Face sends large files to CDN hosts: the token must stay with the hub."""
    seen: list[str | None] = []

    class Cdn(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the handler's protocol
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    cdn = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Cdn)

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{cdn.server_port}/blob")
            self.end_headers()

        def log_message(self, *args):
            pass

    hub = http.server.ThreadingHTTPServer(("localhost", 0), Hub)
    with running(cdn, hub):
        request = hub_request(f"http://localhost:{hub.server_port}/file", "hf_secret", "test")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.read() == b"ok"
    assert seen == [None]


def test_a_hub_token_is_never_sent_over_plain_http_to_a_real_host():
    with pytest.raises(InsecureTokenError, match="refusing to send a hub token over http to hub.example"):
        hub_request("http://hub.example/file", "hf_secret", "test")
    assert not hub_request("http://hub.example/file", None, "test").has_header("Authorization")


def test_without_oss_credentials_the_sync_says_which_variables_to_set():
    with pytest.raises(ws.SyncError, match="ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        ws.oss_client("oss-cn-beijing-internal.aliyuncs.com", "cn-beijing", environ={})


def test_oss_is_addressed_by_virtual_host_and_a_local_server_by_path():
    remote = ws.oss_client("oss-cn-beijing-internal.aliyuncs.com", "cn-beijing", FAKE_CREDENTIALS)
    assert remote.meta.endpoint_url == "https://oss-cn-beijing-internal.aliyuncs.com"
    assert remote.meta.config.s3["addressing_style"] == "virtual"
    assert ws.oss_client("http://127.0.0.1:9", "x", FAKE_CREDENTIALS).meta.config.s3["addressing_style"] == "path"


def test_the_dynamic_providers_create_syncs_and_leaves_only_verified_facts_in_state(
    hub, client, s3_endpoint, tmp_path, monkeypatch
):
    from providers.weights_sync import WeightsSyncProvider

    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BEACON_WEIGHTS_STAGING", str(tmp_path))
    provisional = manifest(unknown=("config.json",))
    props = {
        "bucket": BUCKET,
        "region": "us-east-1",
        "endpoint": s3_endpoint,
        "model_id": "tiny",
        "prefix": PREFIX,
        "source": {"hub": "huggingface", "repo": REPO, "revision": REVISION, "endpoint": hub.url},
        "manifest": provisional.to_json(),
        "manifest_digest": provisional.digest,
        "digest": provisional.digest,
        "provisional": True,
        "first_use": {},
    }
    result = WeightsSyncProvider().create(props)
    assert result.id == f"oss://{BUCKET}/{PREFIX}"
    assert result.outs["first_use"] == {"config.json": sha(CONTENT["config.json"])}
    assert result.outs["digest"].startswith("sha256:") and result.outs["provisional"] is False
    assert "test-secret" not in repr(result.outs)
    assert stored(client, "model.safetensors") == CONTENT["model.safetensors"]


# --- bounds: size, time, and what counts as a whole file ----------------------------------------------------------


def staged(tmp_path, path: str) -> int:
    staging = tmp_path / "staging" / f"{path}.partial"
    return staging.stat().st_size if staging.exists() else 0


def sent(hub, path: str) -> int:
    """What the server managed to push before the client stopped reading (socket buffers hold a few MB)."""
    time.sleep(0.2)  # let the server's writes fail once the client has closed
    return hub.written.get(path, 0)


def test_a_50_gb_content_length_is_refused_before_anything_is_written(hub, client, tmp_path):
    hub.announce["config.json"] = 50 * 10**9
    with pytest.raises(ws.WeightsMismatchError, match="config.json: size mismatch: the manifest says 40 bytes"):
        run(hub, client, tmp_path)
    assert staged(tmp_path, "config.json") == 0
    assert sent(hub, "config.json") < 16 << 20  # the server had 64 MiB to stream; the sync read none of it


def test_a_file_of_unknown_size_stops_at_the_largest_file_a_sync_can_upload(hub, client, tmp_path, monkeypatch):
    monkeypatch.setattr(ws.manifest_module, "MAX_FILE_BYTES", 1000)
    hub.announce["config.json"] = 50 * 10**9
    with pytest.raises(ws.SyncError, match="offers 50000000000 bytes, more than the largest file"):
        run(hub, client, tmp_path, the_manifest=manifest(unknown=("config.json",)))
    assert staged(tmp_path, "config.json") == 0


def test_a_body_longer_than_the_manifest_says_stops_at_the_manifest_size(hub, client, tmp_path):
    """No Content-Length: the body runs on until the server closes; the sync reads one byte past the size."""
    hub.no_length["model.safetensors"] = 64 << 20
    with pytest.raises(ws.WeightsMismatchError, match="model.safetensors: size mismatch: the manifest says 5120"):
        run(hub, client, tmp_path)
    assert staged(tmp_path, "model.safetensors") == 0  # the over-long bytes are gone, not resumed
    assert sent(hub, "model.safetensors") < 16 << 20  # read to the manifest's size and one byte, then stopped
    assert PREFIX + "model.safetensors" not in {
        o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    }


def test_a_body_without_a_length_for_a_file_of_unknown_size_is_refused(hub, client, tmp_path):
    hub.no_length["config.json"] = 0
    with pytest.raises(ws.SyncError, match="config.json: .* states no length and the manifest knows no size"):
        run(hub, client, tmp_path, the_manifest=manifest(unknown=("config.json",)))


@pytest.mark.parametrize("unknown", [("model.safetensors",), ()])
def test_a_416_on_resume_never_makes_a_truncated_file_whole(hub, client, tmp_path, unknown):
    """Example: the size and hash are unknown (first use), the staged file is cut at 3,000 bytes and the server
    answers 416 to `Range: bytes=3000-`. The file must be fetched whole, not hashed, recorded and uploaded short."""
    base = manifest(unknown=unknown)
    if unknown:  # the size is known but not the hash: a figure some sources give
        base = replace(base, files=tuple(replace(f, size=5120) if f.path in unknown else f for f in base.files))
    hub.cut_after["model.safetensors"] = 3000
    with pytest.raises(ws.SyncError, match="download interrupted"):
        run(hub, client, tmp_path, the_manifest=base)
    assert staged(tmp_path, "model.safetensors") == 3000
    hub.refuse_ranges.add("model.safetensors")
    messages: list[str] = []
    report = run(hub, client, tmp_path, the_manifest=base, messages=messages)
    assert stored(client, "model.safetensors") == CONTENT["model.safetensors"]
    assert report.first_use == ({"model.safetensors": sha(CONTENT["model.safetensors"])} if unknown else {})
    assert hub.downloads_of("model.safetensors") == [None, "bytes=3000-", None]
    assert any("refused to resume at" in m and "downloading afresh" in m for m in messages)


def test_a_416_for_a_file_of_unknown_size_restarts_it(hub, client, tmp_path):
    base = manifest(unknown=("model.safetensors",))
    hub.cut_after["model.safetensors"] = 3000
    with pytest.raises(ws.SyncError, match="download interrupted"):
        run(hub, client, tmp_path, the_manifest=base)
    hub.refuse_ranges.add("model.safetensors")
    report = run(hub, client, tmp_path, the_manifest=base)
    assert report.first_use["model.safetensors"] == sha(CONTENT["model.safetensors"])


def run_with_deadline(hub, client, tmp_path, deadline, the_manifest=None):
    return ws.sync(
        the_manifest or manifest(),
        ws.Source("huggingface", REPO, REVISION, endpoint=hub.url),
        ws.Destination(BUCKET, PREFIX),
        client,
        staging_dir=tmp_path / "staging",
        progress=lambda _m: None,
        part_size=PART,
        environ={},
        deadline=deadline,
    )


def test_a_trickling_server_is_cut_off_at_the_sync_deadline(hub, client, tmp_path):
    hub.trickle["config.json"] = 0.2  # 40 bytes at 5 bytes a second: 8 s, each byte well within a read timeout
    started = time.monotonic()
    with pytest.raises(ws.SyncError, match="config.json: .*ran out of its 1 s deadline"):
        run_with_deadline(hub, client, tmp_path, ws.Deadline(1.0))
    assert time.monotonic() - started < 2.5
    assert 0 < hub.written["config.json"] < 40  # cut off mid-file, not after it


def test_a_silent_server_is_cut_off_at_the_sync_deadline(hub, client, tmp_path):
    hub.trickle["config.json"] = 5.0  # one byte, then silence
    started = time.monotonic()
    with pytest.raises(ws.SyncError, match="config.json"):
        run_with_deadline(hub, client, tmp_path, ws.Deadline(1.0))
    assert time.monotonic() - started < 2.5  # not the 120 s of a read timeout


def test_the_deadline_runs_on_an_injected_clock(hub, client, tmp_path):
    """Each look at the clock costs an hour: a six-hour deadline passes within a few files, in no real time."""
    ticks = iter(range(0, 10**6, 3600))
    with pytest.raises(ws.SyncError, match="ran out of its 21600 s deadline"):
        run_with_deadline(hub, client, tmp_path, ws.Deadline(6 * 3600, clock=lambda: next(ticks)))
    assert len(hub.requests) < len(CONTENT)


# --- names that become URLs and paths, checked again at the sync's boundary --------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (ws.Source("modelscope", MS_REPO, "../../../../tmp/elsewhere"), "modelscope revision must be a branch"),
        (ws.Source("modelscope", MS_REPO + "?Revision=other", "master"), "modelscope repository must be owner/name"),
        (ws.Source("modelscope", MS_REPO, "master&Revision=other"), "modelscope revision must be a branch"),
        (ws.Source("huggingface", REPO, "main"), "huggingface revision must be a 40-character"),
        (ws.Source("huggingface", REPO + "#x", REVISION), "huggingface repository must be owner/name"),
        (ws.Source("huggingface", REPO, REVISION, endpoint="https://user:pw@mirror.example"), "without user-info"),
    ],
)
def test_a_source_name_that_would_change_a_url_or_a_path_is_refused_before_any_request(
    hub, client, tmp_path, source, expected
):
    if source.endpoint == "":
        source = replace(source, endpoint=hub.url)
    the_manifest = replace(manifest(), ms_repo=source.repo if source.hub == "modelscope" else "", ms_revision="")
    with pytest.raises(ws.SyncError, match="refusing to sync: ") as caught:
        ws.sync(the_manifest, source, ws.Destination(BUCKET, PREFIX), client, tmp_path / "staging", environ={})
    assert expected in str(caught.value)
    assert hub.requests == [] and not (tmp_path / "staging").exists() and not (tmp_path / "tmp").exists()


@pytest.mark.parametrize("path", ["../../escape.bin", "/etc/passwd", "a/./b", "x\u202ey.bin"])
def test_a_manifest_path_that_leaves_staging_is_refused_at_the_sync_even_when_built_without_the_parser(
    hub, client, tmp_path, path
):
    the_manifest = replace(manifest(), files=(FileEntry(path, 3, "a" * 64),))
    with pytest.raises(ws.SyncError, match="refusing to sync: "):
        run(hub, client, tmp_path, the_manifest=the_manifest)
    assert hub.requests == []


def test_a_source_other_than_the_manifests_pin_is_refused(hub, client, tmp_path):
    with pytest.raises(ws.SyncError, match="is not what the manifest pins"):
        run(hub, client, tmp_path, revision="9" * 40)


# --- upload resume where part ETags are not MD5s (SSE-KMS) --------------------------------------------------------


class KmsEtags(FailingUploads):
    """The real client, answering as an SSE-KMS bucket does: each part's ETag is opaque, not its MD5."""

    def __init__(self, client, fail_at):
        super().__init__(client, fail_at)
        self.real: dict[str, str] = {}  # opaque -> moto's

    def _opaque(self, etag: str) -> str:
        opaque = '"' + hashlib.sha256(b"kms" + etag.encode()).hexdigest()[:32] + '"'
        self.real[opaque] = etag
        return opaque

    def upload_part(self, **kwargs):
        response = dict(super().upload_part(**kwargs))
        response["ETag"] = self._opaque(response["ETag"])
        return response

    def list_parts(self, **kwargs):
        response = dict(self._client.list_parts(**kwargs))
        response["Parts"] = [{**p, "ETag": self._opaque(p["ETag"])} for p in response.get("Parts", [])]
        return response

    def complete_multipart_upload(self, **kwargs):
        parts = kwargs["MultipartUpload"]["Parts"]
        kwargs["MultipartUpload"] = {"Parts": [{**p, "ETag": self.real[p["ETag"]]} for p in parts]}
        return self._client.complete_multipart_upload(**kwargs)


def test_an_interrupted_upload_resumes_where_part_etags_are_not_md5s(hub, client, tmp_path):
    flaky = KmsEtags(client, fail_at=3)
    with pytest.raises(ws.SyncError, match="model.safetensors: upload interrupted after 2 of 5 parts"):
        run(hub, flaky, tmp_path)
    again = KmsEtags(client, fail_at=None)
    messages: list[str] = []
    run(hub, again, tmp_path, messages=messages)
    assert again.parts_sent == [("model.safetensors", 3), ("model.safetensors", 4), ("model.safetensors", 5)]
    assert any("resuming the upload; 2 of 5 parts already in the bucket" in m for m in messages)
    assert stored(client, "model.safetensors") == CONTENT["model.safetensors"]
    assert not list((tmp_path / "staging").rglob("*.upload.json"))  # the record goes with the upload


def test_a_stored_part_is_not_kept_when_the_staged_bytes_changed_since(hub, client, tmp_path):
    """An opaque ETag proves nothing by itself: parts are kept only for the bytes recorded when they were sent."""
    flaky = KmsEtags(client, fail_at=3)
    with pytest.raises(ws.SyncError, match="upload interrupted"):
        run(hub, flaky, tmp_path, the_manifest=manifest(unknown=("model.safetensors",)))
    changed = bytes(reversed(CONTENT["model.safetensors"]))
    hub.add(REPO, REVISION, "model.safetensors", changed)
    (tmp_path / "staging" / "model.safetensors.partial").unlink()  # say, the staging folder was cleaned
    again = KmsEtags(client, fail_at=None)
    run(hub, again, tmp_path, the_manifest=manifest(unknown=("model.safetensors",)))
    assert [n for _p, n in again.parts_sent] == [1, 2, 3, 4, 5]
    assert stored(client, "model.safetensors") == changed


@pytest.mark.parametrize(("model_id", "revision"), [("tiny", "../../../elsewhere"), ("../x", "master"), ("t", "a/b")])
def test_the_providers_staging_folder_never_leaves_its_root(model_id, revision, tmp_path, monkeypatch):
    from providers.weights_sync import staging_dir

    monkeypatch.setenv("BEACON_WEIGHTS_STAGING", str(tmp_path))
    with pytest.raises(ws.SyncError, match="refusing to stage weights"):
        staging_dir(model_id, revision)
    assert staging_dir("tiny", "master") == tmp_path / "tiny" / "master"


def test_an_oversized_or_garbled_bucket_record_is_refused_without_reading_it_whole(hub, client, tmp_path, monkeypatch):
    monkeypatch.setattr(ws.manifest_module, "MAX_MANIFEST_CHARS", 100)
    client.put_object(Bucket=BUCKET, Key=PREFIX + BUCKET_MANIFEST_NAME, Body=b"{" + b" " * 10_000)
    with pytest.raises(ws.SyncError, match="is larger than any manifest; remove it"):
        run(hub, client, tmp_path)
    client.put_object(Bucket=BUCKET, Key=PREFIX + BUCKET_MANIFEST_NAME, Body=b"\xff\xfe")
    with pytest.raises(ws.SyncError, match="is unreadable"):
        run(hub, client, tmp_path)


def test_a_tampered_upload_record_is_ignored_not_a_crash(hub, client, tmp_path):
    flaky = KmsEtags(client, fail_at=3)
    with pytest.raises(ws.SyncError, match="upload interrupted"):
        run(hub, flaky, tmp_path)
    record = tmp_path / "staging" / "model.safetensors.upload.json"
    data = json.loads(record.read_text())
    data["parts"] = {"x": 1, "1": "not a part", "2": data["parts"]["2"]}
    record.write_text(json.dumps(data))
    again = KmsEtags(client, fail_at=None)
    run(hub, again, tmp_path)
    assert [n for _p, n in again.parts_sent] == [1, 3, 4, 5]  # part 2's record still holds; part 1's does not
    assert stored(client, "model.safetensors") == CONTENT["model.safetensors"]
