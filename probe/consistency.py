"""Same model, same answers: every provider of a model answers the same fixed prompts, and the answers are compared.

Beacon attributes differences between answers to where a model runs. That holds only if every endpoint of a
model serves the same weights, tokenizer, chat template and precision. The router config says what each
provider was given; this check asks what each one serves:

- each provider of a model gets the prompts of consistency_prompts.json under greedy decoding (temperature 0,
  a fixed seed, MAX_TOKENS tokens) with the top TOP_LOGPROBS log-probabilities of every generated token;
- each says what it is, where its API tells: the model listing (`GET /v1/models`: id and vLLM's
  `max_model_len`) and its tokenization of the first prompt as a chat (vLLM's `POST /tokenize` with
  `add_generation_prompt`, which applies the served chat template);
- per model, one provider is the reference (see `choose_reference`) and every other one is compared with it
  token by token: identical sequences agree; a sequence that parts from the reference's at a near tie (both
  tokens within the tolerance of each other in both answers) agrees within tolerance; anything else disagrees,
  and the first differing position is named.

Why a tolerance at all: vLLM promises reproducible results only on the same hardware and the same vLLM version
(docs.vllm.ai/en/latest/usage/reproducibility), and a fleet serves one model on T4, A10 and Ada GPUs. Kernels
differ in the order they add numbers, so two GPUs can give log-probabilities that differ in the last bits of
half precision; where two candidate tokens are almost tied, greedy decoding may then pick either. Other
weights, another quantization or dtype, another tokenizer or chat template change the distribution itself: a
different token where there was no near tie, a log-probability of the same token off by more than noise, or
different token ids for the same chat. DEFAULT_LOGPROB_TOLERANCE is that line, in nats; see docs/probe.md.

Standard library only, like the rest of the probe; every request goes through providers.bounded_http (one host,
no redirect followed, a total deadline per exchange) and the whole check has a deadline too.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from probe.run import PARALLEL_PROVIDERS, Prepared, UsageError, percentile, prepare
from providers import bounded_http
from providers.redact import printable

PROMPTS_PATH = Path(__file__).with_name("consistency_prompts.json")
SEED = 1234
MAX_TOKENS = 32
TOP_LOGPROBS = 5  # OpenAI's chat API takes 0..20; vLLM's default server cap is 20
# Half precision keeps 8 (bf16) or 11 (fp16) significant bits: a logit of 20 is exact to about 0.08 or 0.01.
# Numerical noise between GPUs stays within that; other weights or precision move log-probabilities further.
DEFAULT_LOGPROB_TOLERANCE = 0.1


@dataclass(frozen=True)
class Answer:
    """One prompt's answer: its tokens with their log-probabilities, or, where the API gave none, its text as
    characters (then only an exact match agrees)."""

    prompt: str
    tokens: tuple[str, ...]
    logprobs: tuple[float, ...] | None = None
    top: tuple[dict[str, float], ...] | None = None

    @property
    def unit(self) -> str:
        return "token" if self.logprobs is not None else "character"


@dataclass(frozen=True)
class Divergence:
    """Where an answer first parts from the reference's."""

    prompt: str
    position: int
    unit: str
    expected: str
    got: str
    within_tolerance: bool
    why: str

    def describe(self) -> str:
        return (
            f"{self.prompt}: {self.unit} {self.position} is {printable(repr(self.got), limit=40)} where the"
            f" reference has {printable(repr(self.expected), limit=40)} ({self.why})"
        )


@dataclass
class Endpoint:
    """What one provider answered for one model, and what it says about itself."""

    provider: str
    type: str
    model: str
    status: str  # answered | failed | skipped
    detail: str = ""
    answers: list[Answer] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    listed: bool | None = None  # the model listing names the model; None where there is no listing
    max_model_len: int | None = None
    chat_token_ids: tuple[int, ...] | None = None
    tokenize: str = "not asked"  # offered | not offered | refused | failed | not asked
    weights: dict[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """A short digest of every token answered, in prompt order: equal fingerprints, equal answers."""
        if self.status != "answered":
            return ""
        canonical = json.dumps([[a.prompt, list(a.tokens)] for a in self.answers], ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

    @property
    def p50_ms(self) -> float | None:
        p50 = percentile(self.seconds, 0.5)
        return None if p50 is None else round(p50 * 1000, 1)


@dataclass
class ModelVerdict:
    model: str
    verdict: str  # agree | disagree | incomplete | single | unchecked
    reference: str = ""
    reference_reason: str = ""
    results: dict[str, str] = field(default_factory=dict)  # provider -> agree | within tolerance | DISAGREE | ...
    details: dict[str, str] = field(default_factory=dict)


def load_prompts(path: Path = PROMPTS_PATH) -> tuple[int, list[dict[str, Any]]]:
    """The consistency prompts and their file's version (part of every fingerprint's meaning)."""
    from probe.run import load_prompts as load_golden  # the same shape checks as the golden prompts

    prompts = load_golden(path)
    if any(not isinstance(p.get("id"), str) or not p["id"] for p in prompts):
        raise UsageError(f"{printable(str(path))}: every consistency prompt needs an id")
    version = json.loads(path.read_text(encoding="utf-8")).get("version", 0)
    return int(version) if isinstance(version, int) else 0, prompts


# --- Comparing answers: pure functions. ------------------------------------------------------------------------


def compare(reference: Answer, other: Answer, tolerance: float) -> Divergence | None:
    """None when the answers are the same; else the first position where `other` parts from `reference`."""
    if reference.logprobs is None or other.logprobs is None:
        return _compare_text(reference, other)
    ref_top, other_top = reference.top or (), other.top or ()
    for i in range(max(len(reference.tokens), len(other.tokens))):
        if i >= len(reference.tokens) or i >= len(other.tokens):
            ended = "the reference" if i >= len(reference.tokens) else "this answer"
            expected = reference.tokens[i] if i < len(reference.tokens) else "<end>"
            got = other.tokens[i] if i < len(other.tokens) else "<end>"
            return Divergence(reference.prompt, i, "token", expected, got, False, f"{ended} ended here")
        expected, got = reference.tokens[i], other.tokens[i]
        if expected == got:
            gap = abs(reference.logprobs[i] - other.logprobs[i])
            if gap > tolerance:
                why = f"the same token, but its log-probability differs by {gap:.3f} > {tolerance:g}"
                return Divergence(reference.prompt, i, "token", expected, got, False, why)
            continue
        near_tie = (
            i < len(ref_top)
            and i < len(other_top)
            and _within(ref_top[i], expected, got, tolerance)
            and _within(other_top[i], got, expected, tolerance)
        )
        why = (
            f"a near tie in both answers (within {tolerance:g}): greedy paths may part here on other GPUs"
            if near_tie
            else "not a near tie: other weights, precision, tokenizer or template"
        )
        return Divergence(reference.prompt, i, "token", expected, got, near_tie, why)
    return None


def _within(top: Mapping[str, float], chosen: str, rival: str, tolerance: float) -> bool:
    return chosen in top and rival in top and abs(top[chosen] - top[rival]) <= tolerance


def _compare_text(reference: Answer, other: Answer) -> Divergence | None:
    expected, got = "".join(reference.tokens), "".join(other.tokens)
    if expected == got:
        return None
    i = _first_difference(expected, got)
    why = "no log-probabilities to weigh a near tie, so only the same text agrees"
    return Divergence(
        reference.prompt, i, "character", expected[i : i + 8] or "<end>", got[i : i + 8] or "<end>", False, why
    )


def failover_order(config: Mapping[str, Any], model: str) -> list[str]:
    """The model's providers, earliest failover position first (over every route of the model), then by id."""
    position: dict[str, int] = {}
    for routes in config.get("routes", {}).values():
        for index, pid in enumerate(routes.get(model, [])):
            position[pid] = min(index, position.get(pid, index))
    serving = [pid for pid, p in config["providers"].items() if model in p["models"]]
    return sorted(serving, key=lambda pid: (position.get(pid, len(serving)), pid))


def choose_reference(endpoints: Sequence[Endpoint], order: Sequence[str]) -> tuple[Endpoint, str]:
    """The provider the others are compared with, and why it was chosen.

    With three or more answers, the largest group of identical answers is the reference: one deviant provider
    is then named, not the two that agree. With two (or a tie), nothing tells which is right, so the reference
    is the one earliest in the failover order: the provider the router sends the model's traffic to first,
    whose answers are most of what Beacon measures.
    """
    rank = {pid: i for i, pid in enumerate(order)}
    ordered = sorted(endpoints, key=lambda e: (rank.get(e.provider, len(rank)), e.provider))
    counts = Counter(e.fingerprint for e in ordered)
    top = max(counts.values())
    leaders = [fp for fp, n in counts.items() if n == top]
    if len(leaders) == 1 and top > 1:
        chosen = next(e for e in ordered if e.fingerprint == leaders[0])
        return chosen, f"the majority: {top} of {len(ordered)} providers answered alike"
    chosen = ordered[0]
    return chosen, f"no majority among {len(ordered)} providers: the first in the failover order"


def judge(model: str, endpoints: Sequence[Endpoint], order: Sequence[str], tolerance: float) -> ModelVerdict:
    """Compare every provider of one model with the reference: answers, listing, context, chat tokens, weights."""
    answered = [e for e in endpoints if e.status == "answered"]
    verdict = ModelVerdict(model, "unchecked")
    for e in endpoints:
        if e.status != "answered":
            verdict.results[e.provider] = e.status
            verdict.details[e.provider] = e.detail
    if not answered:
        verdict.verdict = "incomplete" if any(e.status == "failed" for e in endpoints) else "unchecked"
        return verdict
    reference, verdict.reference_reason = choose_reference(answered, order)
    verdict.reference = reference.provider
    disagree = False
    for e in answered:
        problems = [] if e is reference else _self_description_problems(e, reference)
        if e.listed is False:
            problems.insert(0, "its model listing does not name the model")
        tolerated: list[Divergence] = []
        if e is not reference:
            by_prompt = {a.prompt: a for a in e.answers}
            for ref_answer in reference.answers:
                divergence = compare(ref_answer, by_prompt[ref_answer.prompt], tolerance)
                if divergence is None:
                    continue
                (tolerated if divergence.within_tolerance else problems).append(
                    divergence if divergence.within_tolerance else divergence.describe()
                )
        if problems:
            disagree = True
            verdict.results[e.provider] = "DISAGREE"
            verdict.details[e.provider] = "; ".join(problems)
        elif tolerated:
            verdict.results[e.provider] = "within tolerance"
            verdict.details[e.provider] = "; ".join(d.describe() for d in tolerated)
        else:
            verdict.results[e.provider] = "reference" if e is reference else "agree"
    if disagree:
        verdict.verdict = "disagree"
    elif any(e.status == "failed" for e in endpoints):
        verdict.verdict = "incomplete"
    else:
        verdict.verdict = "single" if len(answered) == 1 else "agree"
    return verdict


def _self_description_problems(endpoint: Endpoint, reference: Endpoint) -> list[str]:
    problems = []
    if endpoint.weights and reference.weights and endpoint.weights != reference.weights:
        problems.append(
            f"declared weights {_short(endpoint.weights)} differ from the reference's {_short(reference.weights)}"
        )
    ours_len, theirs_len = endpoint.max_model_len, reference.max_model_len
    if ours_len is not None and theirs_len is not None and ours_len != theirs_len:
        problems.append(f"maximum context {ours_len}, the reference's {theirs_len}")
    ours, theirs = endpoint.chat_token_ids, reference.chat_token_ids
    if ours is not None and theirs is not None and ours != theirs:
        problems.append(
            f"the chat's token ids differ from position {_first_difference(ours, theirs)} (tokenizer or chat template)"
        )
    return problems


def _first_difference(ours: Sequence[Any], theirs: Sequence[Any]) -> int:
    return next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs)))


def _short(weights: Mapping[str, str]) -> str:
    return f"{str(weights.get('revision', ''))[:12]}/{str(weights.get('digest', '')).split(':')[-1][:12]}"


# --- Asking the endpoints. -------------------------------------------------------------------------------------


class Deadline:
    """The whole check's time budget; `clock` is injectable so tests of slow servers take milliseconds."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.clock, self.ends = clock, clock() + seconds

    def left(self) -> float:
        return self.ends - self.clock()


def parse_answer(prompt_id: str, payload: Any) -> Answer | None:
    """The answer's tokens and log-probabilities from an OpenAI chat completion; None if it is not one."""
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    logprobs = choices[0].get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if isinstance(content, list) and content:
        tokens, values, tops = [], [], []
        for item in content:
            if not (isinstance(item, dict) and isinstance(item.get("token"), str) and _finite(item.get("logprob"))):
                return None
            tokens.append(item["token"])
            values.append(float(item["logprob"]))
            top = item.get("top_logprobs") if isinstance(item.get("top_logprobs"), list) else []
            tops.append({t["token"]: float(t["logprob"]) for t in top if _is_candidate(t)})
        return Answer(prompt_id, tuple(tokens), tuple(values), tuple(tops))
    message = choices[0].get("message")
    text = message.get("content") if isinstance(message, dict) else None
    return Answer(prompt_id, tuple(text)) if isinstance(text, str) else None


def _is_candidate(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("token"), str) and _finite(item.get("logprob"))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _json(response: bounded_http.HttpResponse) -> Any:
    try:
        return json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None


def _refusal(response: bounded_http.HttpResponse) -> str:
    if response.is_redirect:
        return f"redirected (HTTP {response.status}); not followed with the credential"
    if response.status in (401, 403):
        return f"rejected the credential (HTTP {response.status})"
    return f"HTTP {response.status}"


def ask_endpoint(
    pid: str,
    provider: Mapping[str, Any],
    model: str,
    prepared: Prepared,
    prompts: Sequence[Mapping[str, Any]],
    timeout: float,
    deadline: Deadline,
) -> Endpoint:
    """The prompts, the model listing and the chat tokenization of one provider for one model."""
    endpoint = Endpoint(pid, provider["type"], model, "failed", weights=dict(provider.get("weights") or {}))
    if prepared.headers is None:
        endpoint.status, endpoint.detail = prepared.status, prepared.detail
        return endpoint
    base = provider["base_url"].rstrip("/")
    headers = {"Content-Type": "application/json", **prepared.headers}
    limit = min(timeout, float(provider["timeout"]))  # never wait longer than the router itself would

    def exchange(method: str, url: str, body: Mapping[str, Any] | None) -> bounded_http.HttpResponse:
        left = min(limit, deadline.left())
        if left <= 0:
            raise bounded_http.ExchangeError("timeout", "the check's deadline passed before this request")
        if method == "GET":
            return bounded_http.get(url, headers, left)
        return bounded_http.post(url, headers, json.dumps(body).encode(), left)

    try:
        for prompt in prompts:
            body = {
                "model": model,
                "messages": prompt["messages"],
                "max_tokens": MAX_TOKENS,
                "temperature": 0,
                "seed": SEED,
                "logprobs": True,
                "top_logprobs": TOP_LOGPROBS,
            }
            started = deadline.clock()
            response = exchange("POST", base + "/chat/completions", body)
            endpoint.seconds.append(max(0.0, deadline.clock() - started))
            if response.status != 200:
                endpoint.detail = f"{prompt['id']}: {_refusal(response)}"
                return endpoint
            payload = _json(response)
            answered_as = str(payload.get("model", "")) if isinstance(payload, dict) else ""
            if answered_as != model:
                endpoint.detail = f"{prompt['id']}: answered as {printable(answered_as, limit=60) or 'no model'}"
                return endpoint
            answer = parse_answer(prompt["id"], payload)
            if answer is None:
                endpoint.detail = f"{prompt['id']}: not a chat completion"
                return endpoint
            endpoint.answers.append(answer)
        endpoint.status = "answered"
        _describe_self(endpoint, base, model, prompts[0], exchange)
    except bounded_http.ExchangeError as failure:
        endpoint.detail = f"{failure.kind}: {printable(str(failure), limit=120)}"
    return endpoint


def _describe_self(
    endpoint: Endpoint,
    base: str,
    model: str,
    prompt: Mapping[str, Any],
    exchange: Callable[[str, str, Mapping[str, Any] | None], bounded_http.HttpResponse],
) -> None:
    """What the endpoint says it serves. A listing or tokenizer it does not offer is noted, not a failure."""
    listing = exchange("GET", base + "/models", None)
    data = _json(listing).get("data") if listing.status == 200 and isinstance(_json(listing), dict) else None
    if isinstance(data, list):
        entry = next((d for d in data if isinstance(d, dict) and d.get("id") == model), None)
        endpoint.listed = entry is not None
        length = entry.get("max_model_len") if entry else None
        endpoint.max_model_len = length if isinstance(length, int) and not isinstance(length, bool) else None
    if not base.endswith("/v1"):
        endpoint.tokenize = "not offered"
        return
    # vLLM serves /tokenize beside /v1, not under it; the same host, so the same credential rules.
    body = {"model": model, "messages": prompt["messages"], "add_generation_prompt": True}
    response = exchange("POST", base.removesuffix("/v1") + "/tokenize", body)
    if response.status in (404, 405):
        endpoint.tokenize = "not offered"
    elif response.status in (401, 403) or response.is_redirect:
        endpoint.tokenize = "refused"
    elif response.status != 200:
        endpoint.tokenize = "failed"
    else:
        tokens = _json(response).get("tokens") if isinstance(_json(response), dict) else None
        if isinstance(tokens, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
            endpoint.tokenize, endpoint.chat_token_ids = "offered", tuple(tokens)
        else:
            endpoint.tokenize = "failed"


@dataclass
class Report:
    prompts_version: int
    tolerance: float
    endpoints: dict[str, list[Endpoint]]  # model -> its providers' results
    verdicts: dict[str, ModelVerdict]

    @property
    def ok(self) -> bool:
        return all(v.verdict in ("agree", "single", "unchecked") for v in self.verdicts.values())

    def to_json(self) -> dict[str, Any]:
        models = {}
        for model, verdict in self.verdicts.items():
            providers = {}
            for e in self.endpoints[model]:
                providers[e.provider] = {
                    "type": e.type,
                    "status": e.status,
                    "result": verdict.results.get(e.provider, e.status),
                    "detail": verdict.details.get(e.provider, e.detail),
                    "fingerprint": e.fingerprint,
                    "p50_ms": e.p50_ms,
                    "listed": e.listed,
                    "max_model_len": e.max_model_len,
                    "tokenize": e.tokenize,
                    "weights": e.weights,
                    "answers": [asdict(a) for a in e.answers],
                }
            models[model] = {
                "verdict": verdict.verdict,
                "reference": verdict.reference,
                "reference_reason": verdict.reference_reason,
                "providers": providers,
            }
        return {
            "check": "consistency",
            "prompts_version": self.prompts_version,
            "seed": SEED,
            "max_tokens": MAX_TOKENS,
            "top_logprobs": TOP_LOGPROBS,
            "logprob_tolerance": self.tolerance,
            "ok": self.ok,
            "models": models,
        }


def check(
    config: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    prompts: Sequence[Mapping[str, Any]],
    prompts_version: int = 0,
    timeout: float,
    deadline_seconds: float,
    tolerance: float = DEFAULT_LOGPROB_TOLERANCE,
    include_vpc: bool = False,
    only: Sequence[str] = (),
    clock: Callable[[], float] = time.monotonic,
) -> Report:
    """Ask every provider of every model (in parallel by provider) and judge each model."""
    chosen = {pid: p for pid, p in sorted(config["providers"].items()) if not only or pid in only}
    prepared = {pid: prepare(p, environ, include_vpc) for pid, p in chosen.items()}
    deadline = Deadline(deadline_seconds, clock)

    def ask_all(pid: str) -> list[Endpoint]:
        p = chosen[pid]
        return [ask_endpoint(pid, p, m, prepared[pid], prompts, timeout, deadline) for m in p["models"]]

    with ThreadPoolExecutor(max_workers=PARALLEL_PROVIDERS) as pool:
        found = [e for endpoints in pool.map(ask_all, chosen) for e in endpoints]
    by_model: dict[str, list[Endpoint]] = {}
    for e in found:
        by_model.setdefault(e.model, []).append(e)
    verdicts = {
        model: judge(model, endpoints, failover_order(config, model), tolerance)
        for model, endpoints in sorted(by_model.items())
    }
    return Report(prompts_version, tolerance, dict(sorted(by_model.items())), verdicts)


def report_text(report: Report) -> str:
    """A table per model: each provider's result against the reference, its fingerprint and latency."""
    lines = []
    for model, verdict in report.verdicts.items():
        head = f"{printable(model)}: {verdict.verdict.upper()}"
        if verdict.reference:
            head += f" (reference {printable(verdict.reference)}: {verdict.reference_reason})"
        lines.append(head)
        rows = [("PROVIDER", "TYPE", "RESULT", "FINGERPRINT", "P50 ms", "MAX CTX", "TOKENIZE", "DETAIL")]
        for e in report.endpoints[model]:
            rows.append(
                (
                    e.provider,
                    e.type,
                    verdict.results.get(e.provider, e.status),
                    e.fingerprint or "-",
                    "-" if e.p50_ms is None else f"{e.p50_ms:.0f}",
                    "-" if e.max_model_len is None else str(e.max_model_len),
                    e.tokenize,
                    verdict.details.get(e.provider, e.detail),
                )
            )
        shown = [[printable(cell, limit=300) for cell in row] for row in rows]
        widths = [max(len(row[i]) for row in shown) for i in range(len(shown[0]) - 1)]
        lines += ["  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(r[:-1])) + "  " + r[-1] for r in shown]
        lines.append("")
    agree = sum(v.verdict in ("agree", "single") for v in report.verdicts.values())
    disagree = sum(v.verdict == "disagree" for v in report.verdicts.values())
    incomplete = sum(v.verdict == "incomplete" for v in report.verdicts.values())
    lines.append(
        f"{agree} models consistent, {disagree} inconsistent, {incomplete} incomplete"
        f" (greedy, seed {SEED}, {MAX_TOKENS} tokens, log-probability tolerance {report.tolerance:g} nats)"
    )
    return "\n".join(lines)
