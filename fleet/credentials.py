"""What a credential looks like, by its key's name or by the shape of its value.

Used where config is read from a file (a credential in plain text fails the plan) and where config values are
shown (the plan and the plan diff never print one). Pure; no Pulumi.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fleet import urls

# Provider keys that are credentials (each provider's own config; read from the environment in CI).
PROVIDER_CREDENTIAL_KEYS = frozenset(
    {
        "alicloud:accessKey",
        "alicloud:secretKey",
        "alicloud:securityToken",
        "runpod:token",
        "kubernetes:kubeconfig",
        "docker:registryAuth",
    }
)

# A key named like a credential, in any namespace: ...Token, ...Secret, password, apiKey, accessKey, ...
_SECRET_NAME = re.compile(
    r"(token|secret|passw(or)?d|passphrase|api[-_]?key|access[-_]?key|private[-_]?key|credential|kubeconfig)",
    re.IGNORECASE,
)

# Values shaped like a credential, whatever key holds them: (what it looks like, pattern).
VALUE_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (what, re.compile(pattern))
    for what, pattern in (
        ("an Alibaba Cloud AccessKey id (LTAI…)", r"\bLTAI[0-9A-Za-z]{12,30}"),
        ("a RunPod API key (rpa_…)", r"\brpa_[0-9A-Za-z]{16,}"),
        ("an API secret key (sk-…)", r"\bsk-[0-9A-Za-z_-]{16,}"),
        ("a Hugging Face token (hf_…)", r"\bhf_[0-9A-Za-z]{30,}"),
        ("a GitHub token (ghp_…)", r"\bgh[pousr]_[0-9A-Za-z]{30,}"),
        ("an AWS access key id (AKIA…)", r"\bAKIA[0-9A-Z]{16}\b"),
        ("a Modal token (ak-/as-/wk-/ws-…)", r"\b(ak|as|wk|ws)-[0-9A-Za-z]{16,}"),
        ("a private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
        ("a URL with a password (user:password@)", r"://[^/\s:@]+:[^/\s@]+@"),
        ("a URL with user-info (user@ before the host)", r"://[^/?#\s@]+@"),
        (
            "a URL with a credential in its query (?token=…)",
            rf"(?i)[?&#;]([^=&#\s]*[-_.])?({urls.CREDENTIAL_PARAM_NAMES})=[^&#\s]+",
        ),
    )
)


def key_is_credential(full_key: str, plain_keys: Iterable[str] = ()) -> bool:
    """A key that holds a credential: a provider credential, or named like one and not a declared plain key.

    `plain_keys` are fully qualified keys the project declares as plain configuration (runpodHfTokenSecret
    names a RunPod secret; it does not hold one)."""
    if full_key in PROVIDER_CREDENTIAL_KEYS:
        return True
    if full_key in set(plain_keys):
        return False
    return bool(_SECRET_NAME.search(full_key.rpartition(":")[2]))


def value_credential_shape(value: object) -> str | None:
    """What the value looks like if it is shaped like a credential (any string in it), else None."""
    texts = value if isinstance(value, (list, tuple)) else [value]
    for text in texts:
        if not isinstance(text, str):
            continue
        for what, pattern in VALUE_SHAPES:
            if pattern.search(text):
                return what
    return None


def redact(text: str) -> str:
    """The text with every credential-shaped part replaced by [redacted]; for messages that quote values."""
    for _, pattern in VALUE_SHAPES:
        text = pattern.sub("[redacted]", text)
    return text


def digest(value: object) -> str:
    """A short fingerprint that tells whether a secret changed without revealing it.

    Only ever taken of what the offline plan holds: ciphertext from a stack file, placeholders and simulated
    values (the offline plan decrypts nothing), so it reveals nothing a reader could not already see."""
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(f"beacon-fleet secret\0{text}".encode()).hexdigest()[:16]


# The deployer's Alibaba Cloud keys, as the Alibaba Cloud CLI and SDKs name them, or as the alicloud Pulumi provider
# does. Code that calls Alibaba Cloud itself during `pulumi up` (the weights sync, the EAS token read) reads them
# from the environment, so they are never Pulumi inputs and never reach the state.
ALIBABA_KEY_ENV = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALICLOUD_ACCESS_KEY")
ALIBABA_SECRET_ENV = ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALICLOUD_SECRET_KEY")
ALIBABA_STS_ENV = ("ALIBABA_CLOUD_SECURITY_TOKEN", "ALICLOUD_SECURITY_TOKEN")
MISSING_ALIBABA_KEYS = (
    f"set {ALIBABA_KEY_ENV[0]} and {ALIBABA_SECRET_ENV[0]} (or {ALIBABA_KEY_ENV[1]} / {ALIBABA_SECRET_ENV[1]})"
    " for `pulumi up`; they are deliberately not Pulumi inputs"
)


@dataclass(frozen=True)
class AlibabaKeys:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(default="", repr=False)  # set for STS credentials


def alibaba_keys(environ: Mapping[str, str]) -> AlibabaKeys | None:
    """The deployer's keys from this environment, or None when the pair is incomplete."""

    def first(names: tuple[str, ...]) -> str:
        return next((environ[n] for n in names if environ.get(n)), "")

    key, secret = first(ALIBABA_KEY_ENV), first(ALIBABA_SECRET_ENV)
    return AlibabaKeys(key, secret, first(ALIBABA_STS_ENV)) if key and secret else None
