"""Stack files read the way the Pulumi CLI reads them: YAML 1.2's core schema, as gopkg.in/yaml.v3 resolves it.

The CLI (pulumi/pulumi sdk/go/common/encoding/marshal.go) unmarshals stack files with gopkg.in/yaml.v3, and each
config value (sdk/go/common/resource/config/value.go and object.go) is decoded into an untyped value first:
yaml.v3's resolve.go (v3.0.1) makes only true/True/TRUE and false/False/FALSE booleans, so `yes`, `no`, `on`
and `off` stay strings; integers are Go's ParseInt with base prefixes (0x, 0o, 0b, and 0777 as octal) after
underscores are removed; floats match `^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (so 1e3 is a
float, which YAML 1.1 makes a string) or are .nan/.inf; there are no base-60 numbers (YAML 1.1's 1:30 is 90).
object.go's MarshalString then writes a boolean or a number as its JSON text. A boolean key given `yes` is
refused by the CLI ("must be of type 'boolean'", pkg/workspace/config.go's ValidateConfigValue only takes
true/false); offline it reaches the same refusal as the string 'yes'.

PyYAML implements YAML 1.1: `yes`/`on` are booleans, `017` is 15, `1:30` is 90 and `1e3` a string. This loader
keeps PyYAML's (libyaml's) parser and replaces the implicit resolvers for booleans, integers and floats with
yaml.v3's. Timestamps stay as PyYAML resolves them, so the reader can refuse them (the CLI would pass Go's
time.Time text, which no setting expects).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import yaml

from fleet.config_schema import SAFE_LOADER

_CORE_TAGS = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
# Go's strconv.ParseInt(s, 0, 64) after yaml.v3 removed every underscore: sign, then 0b/0o/0x or a leading 0
# for octal, or decimal.
_INT = re.compile(r"^[-+]?(?:0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class PulumiYamlLoader(SAFE_LOADER):  # type: ignore[misc,valid-type]
    """PyYAML's safe loader with yaml.v3's (YAML 1.2 core) booleans, integers and floats."""


PulumiYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in _CORE_TAGS]
    for first, resolvers in SAFE_LOADER.yaml_implicit_resolvers.items()
}
PulumiYamlLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
PulumiYamlLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
PulumiYamlLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789"))


def _construct_bool(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> bool:
    return loader.construct_scalar(node).lower() == "true"


def _construct_int(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> int | float | str:
    text = str(loader.construct_scalar(node))
    if not _INT.match(text):  # an explicit !!int on something else: leave it as written
        return text
    plain = text.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    prefix = digits[:2].lower()
    if prefix in ("0b", "0o", "0x"):
        value = int(digits[2:], {"0b": 2, "0o": 8, "0x": 16}[prefix])
    elif len(digits) > 1 and digits.startswith("0"):
        if not set(digits) <= set("01234567"):
            return sign * float(digits)  # Go's ParseInt refuses 089 in base 0; yaml.v3 reads it as a float
        value = int(digits, 8)
    else:
        value = int(digits)
    return sign * value


def _construct_float(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    lowered = text.lower()
    if lowered.endswith(".nan"):
        return math.nan
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    return float(text)


PulumiYamlLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
PulumiYamlLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
PulumiYamlLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def go_json_number(value: float) -> str:
    """A float as Go's encoding/json writes it (object.go's MarshalString): 2.0 is '2', 1e21 is '1e+21'."""
    if value == 0:
        return "0"
    if 1e-6 <= abs(value) < 1e21:
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    # Go's 'e' format, then encoding/json's clean-up of e-07 to e-7 (Python's repr writes 1e-07 and 1e+21).
    mantissa, _, exponent = repr(value).partition("e")
    sign, digits = exponent[0], exponent[1:]
    return f"{mantissa.removesuffix('.0')}e{sign}{digits.lstrip('0') if sign == '-' else digits}"


def problems_of_values(value: Any) -> list[str]:
    """What the CLI could not pass on: NaN or infinity (Go's JSON refuses them), or an unquoted timestamp."""
    found = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, float) and not math.isfinite(item):
            found.append(f"'{item}' is not a finite number (the CLI cannot pass NaN or infinity on); write a number")
        elif item.__class__.__module__ == "datetime":
            found.append("an unquoted date or time; the CLI passes Go's time text on, which no setting reads: quote it")
    return found
