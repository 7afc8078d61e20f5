"""Names that become parts of a hub URL or a local path: repositories, revisions and file paths.

Every such name is checked here, once, by the settings (a config error), by the weights manifest's parser and
again by the sync before it builds a URL or a staging path. The rules are narrower than the hubs': they accept
every name the catalog's models use and refuse what could change a URL's meaning (`?`, `#`, `%`, `&`, spaces),
leave a folder (`..`, an absolute path), or read differently to a person than to a machine (control characters,
bidirectional overrides such as U+202E, non-ASCII look-alikes).
"""

from __future__ import annotations

import re

# Hugging Face and ModelScope repository ids: <owner>/<name>, ASCII letters, digits, '.', '_' and '-', at most 96
# characters per part (Hugging Face's limit on a repo name: huggingface_hub `validate_repo_id`, "max length 96").
_REPO_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
# A Git branch or tag as the hubs accept it, narrowed to one path segment of safe characters.
_REF = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?")
COMMIT = re.compile(r"[0-9a-f]{40}")
# A file path inside a repository: relative segments of safe characters.
_SEGMENT = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._+-]{0,254})")
MAX_PATH_CHARS = 512
MAX_PATH_DEPTH = 8  # the catalog's models keep every file at the top; a few folders at most (e.g. original/)


def repo_problem(text: object, what: str = "repository") -> str | None:
    """Why `text` is not a hub repository id (owner/name), or None."""
    if not isinstance(text, str):
        return f"{what} must be text such as org/model, got {type(text).__name__}"
    owner, sep, name = text.partition("/")
    if not (sep and _REPO_PART.fullmatch(owner) and _REPO_PART.fullmatch(name)) or ".." in text:
        return (
            f"{what} must be owner/name of ASCII letters, digits, '.', '_' and '-' (each part 1-96 characters,"
            f" starting and ending with a letter or digit), got {text[:120]!r}"
        )
    return None


def ref_problem(text: object, what: str = "revision") -> str | None:
    """Why `text` is not a branch, tag or commit id usable as one URL and path segment, or None."""
    if not isinstance(text, str):
        return f"{what} must be text (a branch, tag or commit id), got {type(text).__name__}"
    if not _REF.fullmatch(text) or ".." in text:
        return (
            f"{what} must be a branch, tag or commit id of ASCII letters, digits, '.', '_' and '-' (1-128"
            f" characters, no '..', no '/'), got {text[:140]!r}"
        )
    return None


def commit_problem(text: object, what: str = "revision") -> str | None:
    if not isinstance(text, str) or not COMMIT.fullmatch(text):
        shown = text[:80] if isinstance(text, str) else type(text).__name__
        return f"{what} must be a 40-character lowercase hex commit id (not a branch or tag), got {shown!r}"
    return None


def path_problem(text: object) -> str | None:
    """Why `text` is not a relative file path this program may fetch and stage, or None."""
    if not isinstance(text, str):
        return f"must be a relative path (text), got {type(text).__name__}"
    if not text:
        return "must be a relative path inside the repo, got ''"
    shown = repr(text[:80]) + ("…" if len(text) > 80 else "")
    if len(text) > MAX_PATH_CHARS:
        return f"must be at most {MAX_PATH_CHARS} characters, got {len(text)}: {shown}"
    segments = text.split("/")
    if len(segments) > MAX_PATH_DEPTH:
        return f"must be at most {MAX_PATH_DEPTH} folders deep, got {len(segments)}: {shown}"
    if not all(_SEGMENT.fullmatch(s) for s in segments):
        return (
            "must be a relative path of '/'-separated names of ASCII letters, digits, '.', '_', '+' and '-'"
            f" (no '.' or '..' part, no leading '/', no control or invisible characters), got {shown}"
        )
    return None
