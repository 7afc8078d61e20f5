"""The consistency check (python -m probe --consistency) against local stand-ins of vLLM-served endpoints.

The stand-ins (tests/provider_standins.py) answer like vLLM for one model, each behind its provider type's own
credential; a variant stands for other weights, another precision, another chat template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet import router_config
from probe import consistency
from probe.command import main
from probe.consistency import Answer, Endpoint, choose_reference, compare
from tests.provider_standins import MODEL, REVISION, SECRET, TYPES, Fleet


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    running = Fleet()
    yield running
    running.stop()


def run_check(fleet: Fleet, order: list[str] | None = None, **kwargs) -> consistency.Report:
    _, prompts = consistency.load_prompts()
    options = {"timeout": 5.0, "deadline_seconds": 30.0} | kwargs
    return consistency.check(fleet.config(order), fleet.environ, prompts=prompts, **options)


def test_providers_of_every_type_that_answer_alike_agree(fleet):
    for index, kind in enumerate(TYPES):
        fleet.add(f"p{index}-{kind.replace('_', '-')}", kind=kind)
    report = run_check(fleet)
    verdict = report.verdicts[MODEL]
    assert verdict.verdict == "agree" and report.ok
    assert sorted(verdict.results.values()).count("agree") == len(TYPES) - 1
    fingerprints = {e.fingerprint for e in report.endpoints[MODEL]}
    assert len(fingerprints) == 1 and "" not in fingerprints
    for server in fleet.servers.values():
        sent = next(b for b in server.bodies if "max_tokens" in b)
        assert (sent["temperature"], sent["seed"], sent["logprobs"]) == (0, consistency.SEED, True)
        assert {"/v1/chat/completions", "/v1/models", "/tokenize"} <= set(server.paths)


def test_a_provider_serving_other_weights_is_named_with_the_first_differing_token(fleet):
    fleet.add("a-same")
    fleet.add("b-same")
    fleet.add("c-other", "other-weights")
    verdict = run_check(fleet).verdicts[MODEL]
    assert verdict.verdict == "disagree"
    assert verdict.results == {"a-same": "reference", "b-same": "agree", "c-other": "DISAGREE"}
    assert "token 3 is 'wXX'" in verdict.details["c-other"] and "not a near tie" in verdict.details["c-other"]
    assert verdict.reference_reason.startswith("the majority: 2 of 3")


def test_with_two_providers_the_reference_is_the_first_in_the_failover_order(fleet):
    fleet.add("a-first", "other-weights")
    fleet.add("b-second")
    verdict = run_check(fleet, order=["b-second", "a-first"]).verdicts[MODEL]
    assert verdict.reference == "b-second" and "first in the failover order" in verdict.reference_reason
    assert verdict.results["a-first"] == "DISAGREE"


def test_greedy_paths_that_part_at_a_near_tie_agree_within_the_tolerance(fleet):
    fleet.add("a-tie", "near-tie")
    fleet.add("b-flipped", "near-tie-flipped")
    report = run_check(fleet, order=["a-tie", "b-flipped"])
    assert report.verdicts[MODEL].results["b-flipped"] == "within tolerance" and report.ok
    strict = run_check(fleet, order=["a-tie", "b-flipped"], tolerance=0.0)
    assert strict.verdicts[MODEL].results["b-flipped"] == "DISAGREE" and not strict.ok


def test_the_same_tokens_with_a_shifted_distribution_disagree(fleet):
    fleet.add("a-fp16")
    fleet.add("b-other-precision", "other-precision")
    verdict = run_check(fleet, order=["a-fp16", "b-other-precision"]).verdicts[MODEL]
    assert verdict.results["b-other-precision"] == "DISAGREE"
    assert (
        "token 2" in verdict.details["b-other-precision"]
        and "log-probability differs by 0.550" in (verdict.details["b-other-precision"])
    )


def test_another_chat_template_is_caught_by_the_tokenization_even_when_answers_match(fleet):
    fleet.add("a-template")
    fleet.add("b-template", "other-template")
    verdict = run_check(fleet, order=["a-template", "b-template"]).verdicts[MODEL]
    assert verdict.results["b-template"] == "DISAGREE"
    assert "token ids differ from position 0 (tokenizer or chat template)" in verdict.details["b-template"]


def test_a_different_maximum_context_and_different_declared_weights_disagree(fleet):
    fleet.add("a-ctx")
    fleet.add("b-ctx", "shorter-context")
    fleet.providers["b-ctx"]["weights"] = {**REVISION, "digest": "sha256:" + "cd" * 32}
    detail = run_check(fleet, order=["a-ctx", "b-ctx"]).verdicts[MODEL].details["b-ctx"]
    assert "maximum context 4096, the reference's 8192" in detail and "declared weights" in detail


def test_an_endpoint_without_tokenize_is_noted_not_failed(fleet):
    fleet.add("a-tok")
    fleet.add("b-no-tok", "no-tokenize")
    report = run_check(fleet, order=["a-tok", "b-no-tok"])
    assert report.ok and {e.provider: e.tokenize for e in report.endpoints[MODEL]}["b-no-tok"] == "not offered"


def test_without_log_probabilities_only_the_same_text_agrees(fleet):
    fleet.add("a-lp")
    fleet.add("b-text", "no-logprobs")
    fleet.add("c-text-other", "other-weights")
    fleet.servers["c-text-other"].variant = "no-logprobs"  # the same text as a: a text comparison agrees
    report = run_check(fleet, order=["a-lp", "b-text", "c-text-other"])
    assert report.verdicts[MODEL].verdict == "agree"
    assert compare(Answer("p", tuple("abc")), Answer("p", tuple("abd")), 0.1).position == 2


def test_a_provider_that_does_not_answer_leaves_the_model_incomplete_and_fails(fleet):
    fleet.add("a-ok")
    fleet.add("b-failing", "failing")
    report = run_check(fleet, order=["a-ok", "b-failing"])
    assert report.verdicts[MODEL].verdict == "incomplete" and not report.ok
    assert "HTTP 500" in report.verdicts[MODEL].details["b-failing"]


def test_a_redirect_is_not_followed_and_the_credential_reaches_no_other_host(fleet):
    fleet.add("a-ok")
    bouncer = fleet.add("b-bouncer", "redirecting")
    elsewhere = fleet.add("z-elsewhere")  # the host the redirect names
    bouncer.redirect_to = elsewhere.base_url + "/chat/completions"
    before = len(elsewhere.paths)
    report = run_check(fleet, order=["a-ok", "b-bouncer"], only=["a-ok", "b-bouncer"])
    assert len(elsewhere.paths) == before
    assert "redirected (HTTP 302); not followed" in report.verdicts[MODEL].details["b-bouncer"]


def test_the_check_sends_nothing_once_its_deadline_has_passed(fleet):
    server = fleet.add("a-late")
    ticks = iter([0.0] + [1000.0] * 100)  # an injected clock: the deadline passes right after the start
    report = run_check(fleet, deadline_seconds=10.0, clock=lambda: next(ticks))
    assert server.paths == [] and report.endpoints[MODEL][0].detail.startswith("timeout: the check's deadline")


def test_vpc_only_providers_are_skipped_unless_asked(fleet):
    fleet.add("a-public")
    private = fleet.add("b-vpc", network="vpc")
    report = run_check(fleet)
    assert private.paths == [] and report.verdicts[MODEL].results["b-vpc"] == "skipped"
    assert report.verdicts[MODEL].verdict == "single"


def test_the_command_prints_a_table_writes_json_and_exits_non_zero_on_disagreement(fleet, tmp_path, capsys):
    fleet.add("a-same")
    fleet.add("b-same")
    fleet.add("c-other", "other-weights")
    path = tmp_path / "router-config.json"
    path.write_text(router_config.to_json(fleet.config()), encoding="utf-8")
    report = tmp_path / "consistency.json"
    assert main(["--config", str(path), "--consistency", "--json", str(report)], environ=fleet.environ) == 1
    printed = capsys.readouterr().out
    assert f"{MODEL}: DISAGREE (reference a-same" in printed and "0 models consistent, 1 inconsistent" in printed
    document = json.loads(report.read_text())
    assert document["models"][MODEL]["providers"]["c-other"]["result"] == "DISAGREE"
    assert document["logprob_tolerance"] == consistency.DEFAULT_LOGPROB_TOLERANCE
    assert SECRET not in report.read_text() and SECRET not in printed


def test_the_command_passes_when_every_model_agrees(fleet, tmp_path):
    fleet.add("a-same", kind="alibaba_eas")
    fleet.add("b-same", kind="modal")
    path = tmp_path / "router-config.json"
    path.write_text(router_config.to_json(fleet.config()), encoding="utf-8")
    assert main(["--config", str(path), "--consistency"], environ=fleet.environ) == 0


def test_a_tolerance_out_of_range_or_without_the_check_is_a_usage_error(fleet, tmp_path, capsys):
    fleet.add("a-same")
    path = tmp_path / "router-config.json"
    path.write_text(router_config.to_json(fleet.config()), encoding="utf-8")
    assert main(["--config", str(path), "--consistency", "--logprob-tolerance", "nan"], environ={}) == 2
    assert main(["--config", str(path), "--logprob-tolerance", "0.1"], environ={}) == 2
    assert "goes with --consistency" in capsys.readouterr().err


def test_the_majority_is_the_reference_and_a_tie_falls_to_the_failover_order():
    def answered(pid: str, token: str) -> Endpoint:
        return Endpoint(pid, "ack", MODEL, "answered", answers=[Answer("p", (token,), (-0.1,), ({token: -0.1},))])

    alike, other = answered("b", "x"), answered("a", "y")
    chosen, why = choose_reference([other, alike, answered("c", "x")], order=["a", "b", "c"])
    assert chosen.provider == "b" and why.startswith("the majority")
    chosen, why = choose_reference([alike, other], order=["a", "b"])
    assert chosen.provider == "a" and "failover order" in why


def test_the_docs_state_the_check_s_own_settings():
    doc = (Path(__file__).parent.parent / "docs" / "router-config.md").read_text(encoding="utf-8")
    section = " ".join(doc.split("## Same model, same answers")[1].split("\n## ")[0].split())
    assert f"`seed: {consistency.SEED}`, {consistency.MAX_TOKENS} tokens" in section
    assert f"top {consistency.TOP_LOGPROBS} log-probabilities" in section
    assert f"{consistency.DEFAULT_LOGPROB_TOLERANCE:g} nats" in section
