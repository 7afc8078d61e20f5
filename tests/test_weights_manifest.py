"""The weights manifest: its digest, what it says while a hash is unknown, and the committed manifests."""

from __future__ import annotations

import hashlib
import json

import pytest

from fleet import catalog
from tests.hub_standin import HubServer
from weights import hub_figures
from weights import manifest as wm

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
        assert wm.main([model_id, "--offline", "--directory", str(tmp_path)]) == 0
        assert (tmp_path / f"{model_id}.json").read_text() == wm.manifest_path(model_id).read_text()


def test_the_manifest_command_reads_lfs_hashes_from_the_api_and_hashes_small_files(tmp_path):
    spec = catalog.BUILTIN_MODELS["qwen2.5-1.5b"]
    with HubServer() as hub:
        for path in catalog.BUILTIN_WEIGHT_FILES[spec.id]:
            hub.add(spec.hf_repo, spec.revision, path, f"bytes of {path}".encode())
        hub.lfs.add("model.safetensors")
        assert wm.main([spec.id, "--hf-endpoint", hub.url, "--directory", str(tmp_path)]) == 0
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
        assert wm.main([spec.id, "--hf-endpoint", hub.url, "--directory", str(tmp_path)]) == 1
    assert "has no generation_config.json" in capsys.readouterr().err
