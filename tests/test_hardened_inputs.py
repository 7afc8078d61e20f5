"""Issue 27's classes of input that must be refused: numbers and patterns (10), stack-file values as the Pulumi
CLI reads them (11), credentials in URL-valued keys (12). Each bad value: one clean error, in under a second."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fleet import numbers, residency
from fleet.config_schema import load_project_schema
from fleet.settings import ConfigError, parse_router_settings, parse_settings
from tests.test_bad_inputs import raw_for

SCHEMA = load_project_schema()
SECONDS = 1.0


def refused(stack: str, overrides: dict[str, Any]) -> list[str]:
    parse = parse_router_settings if stack == "router" else parse_settings
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        parse(SCHEMA, stack, raw_for(stack, overrides))
    assert time.perf_counter() - started < SECONDS
    assert "Traceback" not in str(caught.value)
    return caught.value.problems


# --- 10: numbers are ASCII, finite and bounded; patterns match ASCII only ----------------------------------

BAD_DECIMALS = [
    "1e308",
    "1e309",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "٣",
    "１",
    "2.٥",
    "1_000",
    "-2",
    "+2",
    "2\n",
    " 2",
    "0x10",
    "1e3",
    "",
    "2.0.0",
    "9" * 40,
    "3601",
]


@pytest.mark.parametrize("text", BAD_DECIMALS)
@pytest.mark.parametrize("key", ["averageSecondsPerRequest", "costWarningMultiple"])
def test_a_decimal_setting_is_ascii_finite_and_bounded(key, text):
    problems = refused("us-east", {key: text})
    assert len(problems) == 1 and problems[0].startswith(f"beacon-fleet:{key}: ") and "at most" in problems[0]


@pytest.mark.parametrize("text", ["٣", "１２", "12\n", "1_000", "1e3", "12.0", "nan", "99999999999999999999"])
def test_a_whole_number_setting_is_ascii_and_bounded(text):
    problems = refused("us-east", {"expectedRequestsPerMonth": text})
    assert len(problems) == 1 and problems[0].startswith("beacon-fleet:expectedRequestsPerMonth: ")


@pytest.mark.parametrize(("text", "value"), [("2", 2.0), ("2.5", 2.5), ("0.25", 0.25), ("3600", 3600.0)])
def test_plain_decimals_still_parse(text, value):
    assert numbers.parse_decimal(text, 0, 3600, low_inclusive=False) == value


@pytest.mark.parametrize(
    "licence",
    [
        "京ICP备１２３４５６７８号",  # full-width digits
        "京ICP备١٢٣٤٥٦٧٨号",  # Arabic-Indic digits
        "ＡICP备12345678号",  # a full-width letter for the province
        "AICP备12345678号",
        "京ICP备12345678号\n",
        "京京ICP备12345678号",
        "京ICP备12345678号-١",
    ],
)
def test_an_icp_number_is_ascii_digits_after_one_province_character(licence):
    assert not residency.ICP_NUMBER.fullmatch(licence)
    problems = refused("cn-beijing", {"icpLicence": licence})
    assert any(p.startswith("beacon-fleet:icpLicence: ") for p in problems), problems


@pytest.mark.parametrize("licence", ["京ICP备12345678号", "京ICP备12345678号-1", "沪ICP证123456号"])
def test_real_icp_numbers_are_accepted(licence):
    assert residency.ICP_NUMBER.fullmatch(licence)


def test_the_policy_pack_reads_icp_numbers_the_same_way():
    from policy import beacon_policies

    assert beacon_policies.ICP_NUMBER.pattern == residency.ICP_NUMBER.pattern


# --- 12: a credential in any URL-valued key is refused like a plain-text secret ----------------------------

CREDENTIAL_URLS = [
    "https://mirror.example/simple/?token=abc123def",
    "https://mirror.example/simple/?page=1&access_token=abc123def",
    "https://mirror.example/simple/?X-Amz-Signature=abc123def",
    "https://mirror.example/simple/?api_key=abc123def",
    "https://ghp_abc123def@mirror.example/simple/",
    "https://user:pass@mirror.example/simple/",
]


@pytest.mark.parametrize("url", CREDENTIAL_URLS)
@pytest.mark.parametrize(("stack", "key"), [("us-east", "pythonPackageIndex"), ("router", "railwayApiUrl")])
def test_a_url_valued_setting_carrying_a_credential_is_refused(stack, key, url):
    problems = refused(stack, {key: url})
    assert len(problems) == 1 and problems[0].startswith(f"beacon-fleet:{key}: "), problems
    assert "abc123def" not in problems[0] and "pass@" not in problems[0]  # the credential is never repeated


@pytest.mark.parametrize("url", CREDENTIAL_URLS)
def test_a_credential_url_in_a_stack_file_is_refused_like_a_plain_text_secret(tmp_path, url):
    from offline.stack_files import InvalidStackFileError, load_stack_config

    path = tmp_path / "Pulumi.eu-test.yaml"
    path.write_text(
        f"config:\n  alicloud:region: us-east-1\n  beacon-fleet:pythonPackageIndex: '{url}'\n", encoding="utf-8"
    )
    with pytest.raises(InvalidStackFileError) as caught:
        load_stack_config("eu-test", path)
    assert any("pythonPackageIndex: the value looks like a URL with" in p for p in caught.value.problems)
    assert "abc123def" not in str(caught.value)


def test_an_ordinary_mirror_url_is_accepted():
    assert parse_settings(
        SCHEMA, "us-east", raw_for("us-east", {"pythonPackageIndex": "https://mirrors.aliyun.com/pypi/simple/"})
    )


# --- 11: stack files are read as the Pulumi CLI reads them (yaml.v3, YAML 1.2 core schema) ------------------


def stack_file(tmp_path, lines: str):
    from offline.stack_files import load_stack_config

    path = tmp_path / "Pulumi.eu-test.yaml"
    path.write_text(f"config:\n  alicloud:region: us-east-1\n{lines}", encoding="utf-8")
    return load_stack_config("eu-test", path)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("yes", "yes"),  # YAML 1.1 (PyYAML) made these booleans; yaml.v3 keeps them strings
        ("on", "on"),
        ("No", "No"),
        ("off", "off"),
        ("true", "true"),
        ("True", "true"),
        ("017", "15"),  # Go's ParseInt base 0: a leading 0 is octal
        ("0x1F", "31"),
        ("1_000", "1000"),
        ("1e3", "1000"),  # a float in YAML 1.2; a string in 1.1
        ("2.0", "2"),  # Go's encoding/json writes a whole float without a fraction
        ("2.5", "2.5"),
        ("1:30", "1:30"),  # base 60 in YAML 1.1 (90); a string in 1.2
    ],
)
def test_a_stack_value_reads_as_the_cli_reads_it(tmp_path, written, read):
    config = stack_file(tmp_path, f"  beacon-fleet:owner: {written}\n")
    assert config.values["beacon-fleet:owner"] == read


@pytest.mark.parametrize(("key", "written"), [("residencyBound", "yes"), ("gpuSpot", "on"), ("residencyBound", "Y")])
def test_a_yaml_1_1_boolean_is_refused_for_a_boolean_key_as_the_cli_refuses_it(tmp_path, key, written):
    from tests.conftest import with_overrides

    config = stack_file(tmp_path, f"  beacon-fleet:{key}: {written}\n")
    assert config.values[f"beacon-fleet:{key}"] == written
    raw = dict(with_overrides(config).values)
    with pytest.raises(ConfigError) as caught:
        parse_settings(SCHEMA, "us-east", {**raw_for("us-east", {}), f"beacon-fleet:{key}": raw[f"beacon-fleet:{key}"]})
    assert any(p.startswith(f"beacon-fleet:{key}: expected boolean, got '{written}'") for p in caught.value.problems)


@pytest.mark.parametrize(
    "written",
    [
        ".nan",
        ".inf",
        "-.Inf",
        "2001-12-14",
        '"two\\nlines"',
        '"tab\\there"',
        '"ends with a space "',
        "|\n    two\n    lines",
    ],
)
def test_a_value_the_cli_cannot_pass_on_or_with_stray_whitespace_is_refused(tmp_path, written):
    from offline.stack_files import InvalidStackFileError

    started = time.perf_counter()
    with pytest.raises(InvalidStackFileError) as caught:
        stack_file(tmp_path, f"  beacon-fleet:owner: {written}\n")
    assert time.perf_counter() - started < SECONDS
    assert len(caught.value.problems) == 1 and "beacon-fleet:owner" in caught.value.problems[0]


@pytest.mark.parametrize("value", [0, -8, 10_001])
def test_a_job_size_outside_one_to_ten_thousand_is_one_problem_naming_the_key(value):
    problems = refused("us-east", {"requestsPerJob": value})
    assert problems == [f"beacon-fleet:requestsPerJob: must be 1 to 10000 (a job's requests to a model), got {value}"]
