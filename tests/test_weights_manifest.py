"""The weights manifest: its digest, what it says while a hash is unknown, and the committed manifests."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from fleet import catalog
from fleet import weights_manifest as wm
from tests.hub_standin import HubServer
from weights import hub_figures
from weights import manifest as manifest_command

SHA_A = "a" * 64


def small_manifest(sha: str | None = SHA_A) -> wm.Manifest:
    return wm.Manifest(
        model="m",
        hf_repo="org/m",
        revision="c" * 40,
        files=(wm.FileEntry("config.json", 10, SHA_A, source="x"), wm.FileEntry("model.safetensors", 20, sha)),
    )


def test_the_digest_is_sha256_of_canonical_json_of_what_identifies_the_bytes():
    manifest = small_manifest()
    expected = hashlib.sha256(
        json.dumps(manifest.identity(), sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert manifest.digest == f"sha256:{expected}"


def test_a_note_about_a_source_does_not_change_the_digest():
    manifest = small_manifest()
    renoted = wm.Manifest(**{**manifest.__dict__, "notes": ("checked against the hub",)})
    assert renoted.digest == manifest.digest


def test_the_digest_says_provisional_while_any_hash_is_unknown():
    manifest = small_manifest(sha=None)
    assert manifest.provisional and manifest.unknown == ["model.safetensors"]
    assert manifest.digest.startswith("provisional-sha256:")


def test_recording_a_first_use_hash_completes_the_manifest_and_says_how_it_was_trusted():
    recorded = small_manifest(sha=None).with_recorded({"model.safetensors": (20, "b" * 64)}, "bucket x, 2026-11-25")
    entry = recorded.entry("model.safetensors")
    assert entry.sha256 == "b" * 64 and entry.source.startswith("trust on first use")
    assert not recorded.provisional and recorded.digest.startswith("sha256:")


def test_a_manifest_round_trips_through_its_json():
    manifest = small_manifest(sha=None)
    assert wm.parse(manifest.to_json()) == manifest


def test_a_hand_edited_hash_is_caught_by_the_digest():
    data = json.loads(small_manifest().to_json())
    data["files"][1]["sha256"] = "b" * 64
    with pytest.raises(wm.ManifestError, match="does not match the files listed"):
        wm.parse(json.dumps(data))


def test_every_problem_of_a_bad_manifest_is_reported_together():
    data = json.loads(small_manifest().to_json())
    del data["digest"]
    data["files"][0]["path"] = "../etc/passwd"
    data["files"][1]["sha256"] = "not-a-hash"
    with pytest.raises(wm.ManifestError) as caught:
        wm.parse(json.dumps(data))
    assert "files[0].path" in str(caught.value) and "files[1].sha256" in str(caught.value)


@pytest.mark.parametrize("model_id", sorted(catalog.BUILTIN_MODELS))
def test_the_committed_manifest_pins_the_catalog_revision_and_files(model_id):
    manifest = wm.load(model_id)
    spec = catalog.BUILTIN_MODELS[model_id]
    assert (manifest.model, manifest.hf_repo, manifest.revision) == (model_id, spec.hf_repo, spec.revision)
    assert (manifest.ms_repo, manifest.ms_revision) == (spec.ms_repo, spec.ms_revision)
    assert [f.path for f in manifest.files] == list(catalog.BUILTIN_WEIGHT_FILES[model_id])


@pytest.mark.parametrize("model_id", sorted(catalog.BUILTIN_MODELS))
def test_the_committed_manifest_holds_only_hashes_a_source_gave(model_id):
    """No hub is reachable from here: every known hash must be one of the recorded reference figures."""
    manifest = wm.load(model_id)
    reference = hub_figures.REFERENCE_FIGURES.get(model_id, {})
    for entry in manifest.files:
        if entry.known:
            assert entry.sha256 == reference[entry.path].sha256, entry.path
            assert entry.source == reference[entry.path].source
        else:
            assert entry.sha256 is None
    assert manifest.provisional  # tokenizer and config files have no published sha256


def test_the_manifest_command_offline_rewrites_the_committed_files_unchanged(tmp_path):
    for model_id in catalog.BUILTIN_MODELS:
        assert manifest_command.main([model_id, "--offline", "--directory", str(tmp_path)]) == 0
        assert (tmp_path / f"{model_id}.json").read_text() == wm.manifest_path(model_id).read_text()


def test_the_manifest_command_reads_lfs_hashes_from_the_api_and_hashes_small_files(tmp_path):
    spec = catalog.BUILTIN_MODELS["qwen2.5-1.5b"]
    with HubServer() as hub:
        for path in catalog.BUILTIN_WEIGHT_FILES[spec.id]:
            hub.add(spec.hf_repo, spec.revision, path, f"bytes of {path}".encode())
        hub.lfs.add("model.safetensors")
        assert manifest_command.main([spec.id, "--hf-endpoint", hub.url, "--directory", str(tmp_path)]) == 0
    manifest = wm.load(spec.id, tmp_path)
    assert not manifest.provisional and manifest.digest.startswith("sha256:")
    weights = manifest.entry("model.safetensors")
    assert weights.sha256 == hashlib.sha256(b"bytes of model.safetensors").hexdigest()
    assert weights.source.startswith("Hugging Face API: LFS sha256")
    assert manifest.entry("vocab.json").source.startswith("hashed here")
    # Only the small files were downloaded; the weights' hash came from the API.
    assert "model.safetensors" not in {p for p, _ in hub.requests}


def test_the_manifest_command_names_a_file_the_revision_lacks(tmp_path, capsys):
    spec = catalog.BUILTIN_MODELS["qwen2.5-1.5b"]
    with HubServer() as hub:
        hub.add(spec.hf_repo, spec.revision, "config.json", b"{}")
        assert manifest_command.main([spec.id, "--hf-endpoint", hub.url, "--directory", str(tmp_path)]) == 1
    assert "has no generation_config.json" in capsys.readouterr().err


def test_the_manifest_command_stops_at_a_small_file_larger_than_it_reads_and_writes_nothing(tmp_path, capsys):
    spec = catalog.BUILTIN_MODELS["qwen2.5-1.5b"]
    with HubServer() as hub:
        for path in catalog.BUILTIN_WEIGHT_FILES[spec.id]:
            hub.add(spec.hf_repo, spec.revision, path, b"{}")
        hub.announce["config.json"] = hub_figures.MAX_SMALL_FILE_BYTES + 1  # and streams that many bytes
        assert manifest_command.main([spec.id, "--hf-endpoint", hub.url, "--directory", str(tmp_path)]) == 1
        assert hub.written["config.json"] < hub_figures.MAX_SMALL_FILE_BYTES + 65536 + 2  # it stopped reading
    assert f"more than {hub_figures.MAX_SMALL_FILE_BYTES} bytes" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_hub_error_names_its_status_code_never_the_servers_words(tmp_path, capsys):
    spec = catalog.BUILTIN_MODELS["qwen2.5-1.5b"]
    with HubServer() as hub:
        for path in catalog.BUILTIN_WEIGHT_FILES[spec.id]:
            hub.add(spec.hf_repo, spec.revision, path, b"{}")
        hub.gone.add("config.json")  # listed by the API, answered 404 with a body of the server's words
        assert manifest_command.main([spec.id, "--hf-endpoint", hub.url, "--directory", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "config.json: answered HTTP 404" in err and "Entry not found" not in err and "Not Found" not in err


# --- malformed manifests: one clear error naming the field, fast, never a traceback -----------------------------


def _with(**changes) -> str:
    """The small manifest's JSON with top-level keys replaced (no digest: the field checks come first)."""
    data = json.loads(small_manifest().to_json())
    del data["digest"]
    data.update(changes)
    return json.dumps(data)


def _with_file(index: int = 0, **changes) -> str:
    data = json.loads(small_manifest().to_json())
    del data["digest"]
    data["files"][index].update(changes)
    return json.dumps(data)


def _deeply_nested_file() -> str:
    text = _with(files=["NESTED"])
    return text.replace('"NESTED"', "[" * 100_000 + "]" * 100_000)


MALFORMED = {
    # The examples.
    "a file given as a bare name": (_with(files=["config.json"]), "files[0]: must be an object"),
    "files given as a number": (_with(files=5), "files: must be a list"),
    "a deeply nested file": (_deeply_nested_file(), "nested too deeply"),
    "a size of true": (_with_file(size=True), "files[0].size"),
    "a size of 10**30": (_with_file(size=10**30), "files[0].size"),
    "a path with NUL": (_with_file(path="config\x00.json"), "files[0].path"),
    "a path with a newline": (_with_file(path="config.json\nmodel.safetensors"), "files[0].path"),
    "a ./ duplicate": (_with_file(1, path="./config.json"), "files[1].path"),
    "a path with U+202E": (_with_file(1, path="model\u202esnoj.safetensors"), "files[1].path"),
    "a path of 5,000 characters": (_with_file(1, path="a" * 5000), "files[1].path: must be at most 512"),
    "the bucket record's key": (_with_file(1, path=wm.BUCKET_MANIFEST_NAME), "files[1].path: beacon-weights-manifest"),
    "a sha256 prefix zz": (_with_file(1, sha256=None, sha256Prefix="zz"), "files[1].sha256Prefix"),
    # More members of the same classes.
    "files given as an object": (_with(files={"config.json": {}}), "files: must be a list"),
    "a file given as null": (_with(files=[None]), "files[0]: must be an object"),
    "a path 50 folders deep": (_with_file(1, path="a/" * 50 + "x.bin"), "files[1].path: must be at most 8 folders"),
    "a negative size": (_with_file(size=-1), "files[0].size"),
    "a fractional size": (_with_file(size=1.5), "files[0].size"),
    "a size as text": (_with_file(size="10"), "files[0].size"),
    "an uppercase sha256": (_with_file(sha256="A" * 64), "files[0].sha256"),
    "a sha256 prefix that contradicts the sha256": (_with_file(sha256Prefix="b"), "files[0].sha256Prefix"),
    "a path with a tab": (_with_file(1, path="model\t.safetensors"), "files[1].path"),
    "a path with a zero-width space": (_with_file(1, path="model\u200b.safetensors"), "files[1].path"),
    "a full-width look-alike": (_with_file(1, path="ｍodel.safetensors"), "files[1].path"),
    "a path with a query": (_with_file(1, path="model.safetensors?Revision=x"), "files[1].path"),
    "a path through ..": (_with_file(1, path="a/../../model.safetensors"), "files[1].path"),
    "a path with an empty part": (_with_file(1, path="a//model.safetensors"), "files[1].path"),
    "a file that is also a folder": (_with_file(1, path="config.json/model.safetensors"), "also the folder of"),
    "an unknown file field": (_with_file(url="http://x"), "files[0].'url': unknown field"),
    "a source that is not text": (_with_file(source=["x"]), "files[0].source"),
    "notes that are not text": (_with(notes="x"), "notes: must be a list"),
    "a revision that moves staging": (_with(revision="../../../tmp"), "revision: the Hugging Face commit must be"),
    "a repo with a query": (_with(hfRepo="org/m?revision=main"), "hfRepo:"),
    "an msRevision that climbs": (_with(msRepo="org/m", msRevision="../../x"), "msRevision:"),
    "an msRepo with a query": (_with(msRepo="org/m?Revision=other", msRevision="master"), "msRepo:"),
    "an msRepo of three parts": (_with(msRepo="org/m/x", msRevision="master"), "msRepo:"),
    "an msRevision with a slash": (_with(msRepo="org/m", msRevision="refs/pr/1"), "msRevision:"),
    "an msRepo without msRevision": (_with(msRepo="org/m"), "msRepo and msRevision go together"),
    "a top level that is a list": ("[]", "not a beacon-weights-manifest/v1 manifest"),
    "an enormous text": (" " * 2_000_000, "at most 1000000 characters"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_manifest_gets_one_clear_error_naming_the_field_in_under_a_second(case):
    text, expected = MALFORMED[case]
    started = time.monotonic()
    with pytest.raises(wm.ManifestError) as caught:
        wm.parse(text)
    assert time.monotonic() - started < 1.0
    message = str(caught.value)
    assert expected in message
    assert "Traceback" not in message and len(message) < 2000
    assert "\x00" not in message and "\n" not in message and "\u202e" not in message  # shown escaped


def test_every_bad_file_of_a_manifest_is_named_in_the_one_error():
    data = json.loads(small_manifest().to_json())
    del data["digest"]
    data["files"][0]["size"] = True
    data["files"][1]["path"] = "./config.json"
    with pytest.raises(wm.ManifestError) as caught:
        wm.parse(json.dumps(data))
    assert "files[0].size" in str(caught.value) and "files[1].path" in str(caught.value)


def test_the_modelscope_source_is_covered_by_the_digest():
    manifest = small_manifest()
    moved = wm.Manifest(**{**manifest.__dict__, "ms_repo": "org/m", "ms_revision": "master"})
    other = wm.Manifest(**{**manifest.__dict__, "ms_repo": "org/m", "ms_revision": "v2"})
    assert len({manifest.digest, moved.digest, other.digest}) == 3


@pytest.mark.parametrize(
    "args",
    [
        ["--hf-repo", "org/m", "--revision", "c" * 40, "--file", "../../etc/passwd"],
        ["--hf-repo", "org/m?revision=main", "--revision", "c" * 40, "--file", "model.safetensors"],
        ["--hf-repo", "org/m", "--revision", "c" * 40, "--file", wm.BUCKET_MANIFEST_NAME],
    ],
)
def test_the_manifest_command_refuses_names_a_sync_would_refuse(args, tmp_path, capsys):
    assert manifest_command.main(["custom-model", *args, "--directory", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert not (tmp_path / "custom-model.json").exists()
