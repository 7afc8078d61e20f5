"""What a change does to the fleet, from offline plans alone: no Pulumi CLI, no credentials, no cloud.

    python -m offline.plan_diff --base-ref origin/main           # plan origin/main and the working tree, diff
    python -m offline.plan_diff --base-ref A --head-ref B         # two commits
    python -m offline.plan_diff BASE_DIR HEAD_DIR                 # two folders of plan/<stack>.json, or of what
                                                                  # `pulumi preview --json` printed per stack
    ... --out diff.md                                             # also write the Markdown (a job summary)

Per stack: resources added, removed and changed (with the inputs that changed), outputs that changed, the
router's routes and providers, config keys, policy violations and warnings. Secrets stay masked: both plans
hold only `[secret]` and a fingerprint (`secretDigests`, a resource's `secretDigest`), so a changed secret
counts as a change without showing; a config value that is named or shaped like a credential is never
printed, even from a base planned by older code. An added stack lists only the keys that differ from
Pulumi.yaml's defaults, and a long value's change shows the part that changed.

A ref is planned in a temporary `git worktree` with this interpreter, so both sides run with the head's
installed dependencies. Exit code: 0 when the head plans cleanly, 1 when a head stack fails to synthesize or
breaks a mandatory policy (the diff is still printed), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet import credentials, platform_cost
from fleet.config_schema import load_project_schema
from offline.report import PLAN_FORMAT
from policy import provider_rules

MAX_LINES_PER_ITEM = 12
MAX_VALUE_CHARS = 100

ResourceKey = tuple[str, str, str]  # type, name, parent name


@dataclass
class StackDiff:
    stack: str
    status: str  # added, removed, changed, unchanged, failed (on the head), fixed (failed on the base)
    error: str | None = None
    config: list[tuple[str, Any, Any]] = field(default_factory=list)
    added: list[ResourceKey] = field(default_factory=list)
    removed: list[ResourceKey] = field(default_factory=list)
    changed: list[tuple[ResourceKey, list[tuple[str, Any, Any]]]] = field(default_factory=list)
    outputs: list[tuple[str, Any, Any]] = field(default_factory=list)
    routes: list[tuple[str, Any, Any]] = field(default_factory=list)  # "<region> / <model>", old order, new order
    providers: list[tuple[str, Any, Any]] = field(default_factory=list)  # name, old, new (None when absent)
    violations_added: list[str] = field(default_factory=list)
    violations_resolved: list[str] = field(default_factory=list)
    warnings_added: list[str] = field(default_factory=list)
    warnings_removed: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)  # what the change would do to protected (stateful) resources
    cost: list[str] = field(default_factory=list)  # what the change does to the monthly cost

    @property
    def head_failed(self) -> bool:
        return (
            self.status == "failed"
            or bool(self.protected)
            or any(v.startswith("[mandatory]") for v in self.violations_added)
        )


def protected_risks(before: Mapping, after: Mapping, changed: list) -> list[str]:
    """Every protected resource the change would remove, replace or unprotect: `pulumi up` refuses to delete a
    protected resource, so such a change fails the deployment (or, once unprotected, loses state)."""
    found = []
    for key, resource in before.items():
        if resource.get("protect") and key not in after:
            found.append(f"`{key[1]}` ({key[0]}) is protected and would be removed (renamed, re-parented or dropped)")
    for key, leaves in changed:
        if not before[key].get("protect"):
            continue
        paths = {path for path, _, _ in leaves}
        if "protect" in paths and not after[key].get("protect"):
            found.append(f"`{key[1]}` ({key[0]}) would lose its protection")
        # Inputs whose change makes the provider replace the resource: ForceNew in its schema (the field or a
        # block holding it), as policy/alicloud_rules.json records it with its source line.
        forced = sorted(p for p in paths if p.startswith("inputs.") and provider_rules.forces_replacement(key[0], p))
        if forced:
            found.append(
                f"`{key[1]}` ({key[0]}) is protected and would be replaced: {', '.join(forced)} changes"
                f" ({_force_new_source(key[0], forced[0])})"
            )
    return found


def _force_new_source(token: str, path: str) -> str:
    """Where the provider's source says the field at the path forces a new resource."""
    found = provider_rules.force_new_field(token, path) or {}
    return f"ForceNew in {provider_rules.source_of(token, found.get('line', 0))}"


# --- reading plans --------------------------------------------------------------------------------------------


def load_plans(folder: Path) -> dict[str, dict[str, Any]]:
    """Every <stack>.json in the folder, by stack: an offline plan (plan/<stack>.json) or what
    `pulumi preview --json` printed for the stack; documents of another format are refused."""
    plans = {}
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and document.get("format") == PLAN_FORMAT:
            plans[document["stack"]] = document
        elif isinstance(document, dict) and "format" not in document and isinstance(document.get("steps"), list):
            plan = plan_from_preview(document, path.stem)
            plans[plan["stack"]] = plan
        else:
            raise ValueError(f"{path} is not a {PLAN_FORMAT} plan, nor the output of `pulumi preview --json`")
    return plans


# Steps after which the resource is gone: what a preview plans to delete is not in the stack it leads to.
GONE_AFTER = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace"})
STACK_TYPE = "pulumi:pulumi:Stack"


def plan_from_preview(digest: dict[str, Any], fallback_stack: str) -> dict[str, Any]:
    """A `pulumi preview --json` document (its PreviewDigest) as the plan of the stack the preview leads to, in the
    offline plan's terms, so both diff alike: each step's newState (its oldState when the step leaves the resource
    as it is) as a resource keyed by type, name and parent name; the engine's default providers left out (the
    offline plan has none); its error diagnostics as the stack's error. What a preview does not give (cost, the
    policy verdict in JSON, outputs of resources not yet created) is absent, not guessed."""
    states = []
    for step in digest["steps"]:
        state = step.get("newState") or step.get("oldState")
        if step.get("op") in GONE_AFTER or not isinstance(state, dict):
            continue
        states.append((step.get("op"), state))
    urns = [state.get("urn", "") for _, state in states]
    stack = next((urn.split(":", 3)[2].split("::", 1)[0] for urn in urns if urn.startswith("urn:pulumi:")), None)
    names = {state.get("urn"): _urn_name(state.get("urn", "")) for _, state in states if state["type"] != STACK_TYPE}
    resources, outputs = [], {}
    for op, state in states:
        if state["type"] == STACK_TYPE:
            outputs = state.get("outputs") or {}
            continue
        name = _urn_name(state.get("urn", ""))
        if state["type"].startswith("pulumi:providers:") and name.startswith("default"):
            continue
        resources.append(
            {
                "type": state["type"],
                "name": name,
                "parent": names.get(state.get("parent"), ""),
                "custom": bool(state.get("custom")),
                "read": op == "read" or bool(state.get("external")),
                "protect": bool(state.get("protect")),
                "inputs": {k: v for k, v in (state.get("inputs") or {}).items() if k != "__defaults"},
            }
        )
    diagnostics = [d for d in digest.get("diagnostics") or [] if isinstance(d, dict)]
    errors = [_said(d) for d in diagnostics if d.get("severity") == "error"]
    return {
        "format": PLAN_FORMAT,
        "source": "pulumi preview --json",
        "stack": stack or fallback_stack,
        "ok": not errors,
        "error": "\n".join(errors) or None,
        "config": dict(sorted((digest.get("config") or {}).items())),
        "resources": sorted(resources, key=lambda r: (r["parent"], r["name"], r["type"])),
        "outputs": outputs,
        "warnings": sorted(_said(d) for d in diagnostics if d.get("severity") == "warning"),
        "policies": {"violations": []},
        "cost": None,
    }


# A real preview's messages come from the cloud and reach a PR comment: bounded, and scrubbed of anything shaped
# like a credential and of terminal control characters.
MAX_MESSAGE_CHARS = 2000


def _said(diagnostic: Mapping[str, Any]) -> str:
    text = credentials.redact(str(diagnostic.get("message", "")).strip())
    shown = "".join(c if c in "\n\t" or (c.isprintable() and not 0x202A <= ord(c) <= 0x202E) else "?" for c in text)
    return shown if len(shown) <= MAX_MESSAGE_CHARS else shown[: MAX_MESSAGE_CHARS - 1] + "…"


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def plan_ref(ref: str, out: Path, repo: Path | None = None) -> Path:
    """Plan a git ref into `out`, from a temporary worktree of `repo` (default: the current directory)."""
    repo = repo or Path.cwd()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="beacon-plan-") as scratch:
        tree = Path(scratch) / "tree"
        _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), ref)
        try:
            _run_plan(tree, out)
        finally:
            _git(repo, "worktree", "remove", "--force", str(tree))
    return out


def plan_working_tree(out: Path, repo: Path | None = None) -> Path:
    _run_plan(repo or Path.cwd(), out)
    return out


def _run_plan(tree: Path, out: Path) -> None:
    # Exit code 1 (a failing stack) still writes every plan; the diff reports it.
    completed = subprocess.run(
        [sys.executable, "-m", "offline.plan", "--json-only", "--out", str(out)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"the offline plan of {tree} exited {completed.returncode}: {completed.stderr.strip()}")


def _git(repo: Path, *args: str) -> str:
    completed = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {completed.stderr.strip()}")
    return completed.stdout.strip()


# --- diffing --------------------------------------------------------------------------------------------------


def diff_plans(base: Mapping[str, dict], head: Mapping[str, dict]) -> list[StackDiff]:
    """One StackDiff per stack in either side, region stacks first, then the router."""
    stacks = sorted(set(base) | set(head), key=lambda s: (_is_router(base.get(s) or head[s]), s))
    return [diff_stack(stack, base.get(stack), head.get(stack)) for stack in stacks]


def diff_stack(stack: str, base: dict | None, head: dict | None) -> StackDiff:
    if head is None:
        return StackDiff(stack, "removed")
    if not head.get("ok"):
        return StackDiff(stack, "failed", error=head.get("error"))
    diff = StackDiff(stack, "added" if base is None else ("fixed" if not base.get("ok") else "changed"))
    base = base if base is not None and base.get("ok") else {}
    # A new (or until now failing) stack is compared with Pulumi.yaml's defaults, not with nothing, so it lists
    # what its file sets rather than every default key.
    base_config = base.get("config") if base else _defaults(head.get("config", {}))
    diff.config = [
        (key, *_shown_config(key, old, new, base, head))
        for key, old, new in _changed_leaves(
            _config_for_diff(base_config, base), _config_for_diff(head.get("config", {}), head), flatten=False
        )
    ]

    before = {_key(r): r for r in base.get("resources", [])}
    after = {_key(r): r for r in head.get("resources", [])}
    diff.added = [k for k in after if k not in before]
    diff.removed = [k for k in before if k not in after]
    # Plans written before secret fingerprints existed have none: compare fingerprints only when both sides do.
    fingerprints = bool(base) and "secretDigests" in base and "secretDigests" in head
    for key in after.keys() & before.keys():
        changes = list(_changed_leaves(_settings(before[key], fingerprints), _settings(after[key], fingerprints)))
        if changes:
            diff.changed.append((key, changes))
    diff.changed.sort()
    diff.protected = protected_risks(before, after, diff.changed)

    outputs_before, outputs_after = base.get("outputs", {}), head.get("outputs", {})
    router_before, router_after = outputs_before.get("routerConfig"), outputs_after.get("routerConfig")
    if isinstance(router_after, dict):
        diff.routes, diff.providers = _router_changes(router_before or {}, router_after)
        outputs_before = {k: v for k, v in outputs_before.items() if k != "routerConfig"}
        outputs_after = {k: v for k, v in outputs_after.items() if k != "routerConfig"}
    diff.outputs = list(_changed_leaves(outputs_before, outputs_after))
    secrets_before = (base.get("secretDigests") or {}).get("outputs", {}) if base else {}
    secrets_after = (head.get("secretDigests") or {}).get("outputs", {})
    for key in sorted(secrets_before.keys() & secrets_after.keys()):
        if secrets_before[key] != secrets_after[key]:
            diff.outputs.append((f"{key} (secret)", "[secret]", "[secret, changed]"))

    violations_before = set(_violations(base)) if base else set()
    violations_after = set(_violations(head))
    diff.violations_added = sorted(violations_after - violations_before)
    diff.violations_resolved = sorted(violations_before - violations_after)
    diff.warnings_added = sorted(set(head.get("warnings", [])) - set(base.get("warnings", [])))
    diff.warnings_removed = sorted(set(base.get("warnings", [])) - set(head.get("warnings", [])))
    diff.cost = platform_cost.cost_changes(base.get("cost"), head.get("cost"))
    if diff.status == "changed" and not any(
        (diff.config, diff.added, diff.removed, diff.changed, diff.outputs, diff.routes, diff.providers)
        + (diff.violations_added, diff.violations_resolved, diff.warnings_added, diff.warnings_removed)
    ):
        diff.status = "unchanged"
    return diff


def _is_router(document: dict) -> bool:
    return any(key.endswith(":stackRole") and value == "router" for key, value in document.get("config", {}).items())


def _key(resource: dict) -> ResourceKey:
    return (resource["type"], resource["name"], resource.get("parent", ""))


def _settings(resource: dict, fingerprints: bool = True) -> dict:
    """What a change to a resource can touch: its inputs, its secret inputs (by fingerprint) and its protection."""
    settings = {"inputs": resource.get("inputs", {}), "protect": resource.get("protect", False)}
    if fingerprints and resource.get("secretDigest"):
        settings["secret inputs"] = resource["secretDigest"]
    return settings


def _defaults(config: dict) -> dict:
    """Pulumi.yaml's defaults in the plan's wire form, for the project keys this config has, and the secret
    placeholders every stack carries (a secret the file does not set)."""
    defaults = load_project_schema().defaults_as_config()
    unset_secrets = {k: v for k, v in config.items() if v == "[secret]" and k.startswith(f"{_project()}:")}
    return {k: v for k, v in defaults.items() if k in config} | unset_secrets


def _project() -> str:
    return load_project_schema().project


def _config_for_diff(config: dict, document: dict) -> dict:
    """Config values to compare: credential-like ones by fingerprint, secrets by their ciphertext's fingerprint."""
    digests = ((document or {}).get("secretDigests") or {}).get("config", {})
    compared = {}
    for key, value in config.items():
        if key in digests:
            compared[key] = f"[secret {digests[key]}]"
        elif _credential_like(key, value):
            compared[key] = f"[secret {credentials.digest(value)}]"
        else:
            compared[key] = value
    return compared


def _credential_like(key: str, value: Any) -> bool:
    if value == "[secret]":
        return False
    project = load_project_schema().project
    plain = {f"{project}:{name}" for name in _plain_keys()}
    return credentials.key_is_credential(key, plain) or bool(credentials.value_credential_shape(value))


def _plain_keys() -> list[str]:
    return [name for name, spec in load_project_schema().keys.items() if not spec.secret]


def _shown_config(key: str, old: Any, new: Any, base: dict, head: dict) -> tuple[Any, Any]:
    """What the diff prints for a config change: a secret's fingerprint is never printed, only that it changed."""

    def shown(value: Any) -> Any:
        return "[secret]" if isinstance(value, str) and value.startswith("[secret") else value

    old_shown, new_shown = shown(old), shown(new)
    if old_shown == new_shown == "[secret]":
        return "[secret]", "[secret, changed]"
    return old_shown, new_shown


def _violations(document: dict) -> list[str]:
    found = (document.get("policies") or {}).get("violations", [])
    return [f"[{v['enforcement']}] {v['policy']}: {v['resource'] or '(stack)'}: {v['message']}" for v in found]


def _changed_leaves(before: Any, after: Any, path: str = "", flatten: bool = True) -> Iterator[tuple[str, Any, Any]]:
    """(path, old, new) for every leaf that differs; None stands for absent.

    Maps are walked by key and lists of one length by index; a list that grew or shrank gives the items it
    lost and gained. A JSON document held in a string (a RAM policy, an EAS service config) is walked as
    data, and a multi-line string gives the lines that changed.
    """
    if before == after:
        return
    if not flatten:  # one level: whole values per key (config)
        for key in sorted(before.keys() | after.keys()):
            if before.get(key) != after.get(key):
                yield (key, before.get(key), after.get(key))
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            yield from _changed_leaves(before.get(key), after.get(key), _join(path, key))
    elif isinstance(before, list) and isinstance(after, list):
        if len(before) == len(after):
            for index, (old, new) in enumerate(zip(before, after, strict=True)):
                yield from _changed_leaves(old, new, _join(path, str(index)))
        else:
            yield from ((f"{path}[−]", item, None) for item in before if item not in after)
            yield from ((f"{path}[+]", None, item) for item in after if item not in before)
    elif isinstance(before, str) and isinstance(after, str) and (documents := _json_documents(before, after)):
        yield from _changed_leaves(*documents, path)
    elif isinstance(before, str) and isinstance(after, str) and ("\n" in before or "\n" in after):
        old_lines, new_lines = before.splitlines(), after.splitlines()
        yield from ((f"{path} (line)", line, None) for line in old_lines if line not in new_lines)
        yield from ((f"{path} (line)", None, line) for line in new_lines if line not in old_lines)
    else:
        yield (path, before, after)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_documents(before: str, after: str) -> tuple[Any, Any] | None:
    try:
        documents = json.loads(before), json.loads(after)
    except ValueError:
        return None
    return documents if all(isinstance(d, dict | list) for d in documents) else None


def _router_changes(before: dict, after: dict) -> tuple[list, list]:
    routes = []
    regions = sorted(set(before.get("routes", {})) | set(after.get("routes", {})))
    for region in regions:
        old_models, new_models = before.get("routes", {}).get(region, {}), after.get("routes", {}).get(region, {})
        for model in sorted(set(old_models) | set(new_models)):
            if old_models.get(model) != new_models.get(model):
                routes.append((f"{region} / {model}", old_models.get(model), new_models.get(model)))
    old_providers, new_providers = before.get("providers", {}), after.get("providers", {})
    providers = [
        (name, old_providers.get(name), new_providers.get(name))
        for name in sorted(set(old_providers) | set(new_providers))
        if old_providers.get(name) != new_providers.get(name)
    ]
    return routes, providers


# --- reporting ------------------------------------------------------------------------------------------------

SIMULATED = (
    "Both sides were planned offline by the Pulumi SDK's mock engine: nothing was deployed, no credentials were"
    " used, and ids, zones and endpoints the cloud would compute are simulated. `pulumi preview` in the"
    " per-stack jobs shows the real diff against deployed state."
)


PREVIEWED = (
    "One side is what `pulumi preview --json` said against the deployed stack (read as a plan: what the stack"
    " would hold after the preview's steps); the other was planned offline by the Pulumi SDK's mock engine, whose"
    " ids, zones and endpoints are simulated. Inputs the provider fills in are differences too."
)


def markdown(diffs: list[StackDiff], base_label: str, head_label: str, note: str = SIMULATED) -> str:
    title = "Offline plan diff" if note == SIMULATED else "Plan diff"
    lines = [f"## {title}: `{base_label}` → `{head_label}`", "", note, ""]
    lines += ["| Stack | Status | Added | Changed | Removed | Policy violations |", "|---|---|---|---|---|---|"]
    for d in diffs:
        policy = (
            f"+{len(d.violations_added)} / −{len(d.violations_resolved)}"
            if d.violations_added or d.violations_resolved
            else ""
        )
        lines.append(f"| {d.stack} | {d.status} | {len(d.added)} | {len(d.changed)} | {len(d.removed)} | {policy} |")
    for d in diffs:
        if d.status == "unchanged":
            continue
        lines += ["", f"### {d.stack}: {d.status}"]
        if d.status == "failed":
            lines += ["", "The head's plan of this stack failed:", "", "```", str(d.error).strip(), "```"]
            continue
        if d.status == "removed":
            lines += ["", "The head has no plan for this stack (its `Pulumi.<stack>.yaml` is gone)."]
            continue
        if d.protected:
            lines += ["", "**This change would destroy or replace protected (stateful) resources; the diff fails.**"]
            lines += [f"- {risk}" for risk in d.protected]
        lines += _section("Config", [f"`{k}`: {_change(old, new)}" for k, old, new in d.config])
        lines += _section("Added", [_resource(key) for key in d.added])
        lines += _section("Removed", [_resource(key) for key in d.removed])
        lines += _section(
            "Changed",
            [
                _resource(key) + "".join(f"\n  - {_leaf(*leaf)}" for leaf in _capped(changes))
                for key, changes in d.changed
            ],
        )
        lines += _section("Router routes", [f"{name}: {_change(_order(o), _order(n))}" for name, o, n in d.routes])
        lines += _section("Router providers", [_provider(name, o, n) for name, o, n in d.providers])
        lines += _section("Outputs", [_leaf(p, o, n) for p, o, n in _capped(d.outputs)])
        lines += _section("New policy violations", d.violations_added)
        lines += _section("Policy violations resolved", d.violations_resolved)
        lines += _section("New warnings", d.warnings_added)
        lines += _section("Warnings gone", d.warnings_removed)
        lines += _section("Monthly cost", d.cost)
    return "\n".join(lines) + "\n"


def _section(title: str, items: list[str]) -> list[str]:
    return ["", f"**{title}**", *(f"- {item}" for item in items)] if items else []


def _resource(key: ResourceKey) -> str:
    type_, name, parent = key
    return f"`{name}` ({type_}" + (f", in {parent})" if parent else ")")


def _capped(changes: list[tuple[str, Any, Any]]) -> list[tuple[str, Any, Any]]:
    if len(changes) <= MAX_LINES_PER_ITEM:
        return changes
    more = len(changes) - MAX_LINES_PER_ITEM
    return [*changes[:MAX_LINES_PER_ITEM], (f"… and {more} more", None, None)]


def _leaf(path: str, old: Any, new: Any) -> str:
    if path == "secret inputs":
        return "secret inputs changed (compared by fingerprint; values not shown)"
    return path if path.startswith("…") else f"`{path}`: {_change(old, new)}"


def _change(old: Any, new: Any) -> str:
    if old is None:
        return f"added {_value(new)}"
    if new is None:
        return f"removed (was {_value(old)})"
    old_text, new_text = _text(old), _text(new)
    if len(old_text) > MAX_VALUE_CHARS or len(new_text) > MAX_VALUE_CHARS:
        old_text, new_text = _changed_part(old_text, new_text)
    return f"{_value(old_text)} → {_value(new_text)}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _changed_part(old: str, new: str, context: int = 20) -> tuple[str, str]:
    """The part of two long strings that differs, with a little context and … where text was left out."""
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    start = max(prefix - context, 0)

    def part(text: str) -> str:
        end = min(len(text) - suffix + context, len(text))
        return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")

    return part(old), part(new)


def _value(value: Any) -> str:
    text = _text(value)
    if credentials.value_credential_shape(text):
        return "`[looks like a credential; not shown]`"
    text = text.replace("\n", "⏎").replace("`", "'")
    text = text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
    return f"`{text}`"


def _order(order: Any) -> Any:
    return " → ".join(order) if isinstance(order, list) else order


def _provider(name: str, old: Any, new: Any) -> str:
    if old is None:
        return f"added `{name}` ({new.get('type', '?')}, {new.get('network', '?')}, {new.get('endpoint', '?')})"
    if new is None:
        return f"removed `{name}`"
    return f"`{name}`" + "".join(f"\n  - {_leaf(*leaf)}" for leaf in _capped(list(_changed_leaves(old, new))))


# --- command line ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.plan_diff", description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="BASE_DIR HEAD_DIR: folders of plan/<stack>.json")
    parser.add_argument("--base-ref", help="git ref to plan as the base (e.g. origin/main)")
    parser.add_argument("--head-ref", help="git ref to plan as the head (default: the working tree)")
    parser.add_argument("--out", type=Path, help="also write the Markdown here (e.g. $GITHUB_STEP_SUMMARY)")
    args = parser.parse_args(argv)
    if bool(args.folders) == bool(args.base_ref) or (args.folders and len(args.folders) != 2):
        parser.print_usage(sys.stderr)
        print("error: give either BASE_DIR HEAD_DIR or --base-ref", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="beacon-diff-") as scratch:
            if args.folders:
                base_dir, head_dir = args.folders
                base_label, head_label = str(base_dir), str(head_dir)
            else:
                base_dir = plan_ref(args.base_ref, Path(scratch) / "base")
                head_dir = (
                    plan_ref(args.head_ref, Path(scratch) / "head")
                    if args.head_ref
                    else plan_working_tree(Path(scratch) / "head")
                )
                base_label = _describe(args.base_ref)
                head_label = _describe(args.head_ref) if args.head_ref else "working tree"
            base_plans, head_plans = load_plans(base_dir), load_plans(head_dir)
            diffs = diff_plans(base_plans, head_plans)
            previewed = any("source" in p for p in [*base_plans.values(), *head_plans.values()])
    except (OSError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = credentials.redact(
        markdown(diffs, base_label, head_label, PREVIEWED if previewed else SIMULATED)
    )  # nothing credential-shaped, whatever its source
    print(report, end="")
    if args.out:
        with args.out.open("a", encoding="utf-8") as out:  # a job summary may already hold other steps' text
            out.write(report)
    return 1 if any(d.head_failed for d in diffs) else 0


def _describe(ref: str) -> str:
    try:
        short = _git(Path.cwd(), "rev-parse", "--short", ref)
    except RuntimeError:
        return ref
    return ref if ref.startswith(short) else f"{ref} ({short})"


if __name__ == "__main__":
    sys.exit(main())
