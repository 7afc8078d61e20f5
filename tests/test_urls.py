"""fleet/urls: loopback decided on the parsed host; user-info and credentials in a URL found wherever they are."""

from __future__ import annotations

import pytest

from fleet import urls


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost/v1", True),
        ("http://LOCALHOST:1/v1", True),
        ("http://[::1]:9/v1", True),
        ("http://127.0.0.2/v1", True),
        ("http://localhost:1@evil.example:8080/v1", False),  # the host is evil.example
        ("http://127.0.0.1@evil.example/v1", False),
        ("http://localhost.evil.example/v1", False),
        ("http://127.0.0.1.nip.io/v1", False),
        ("http://evil.example/127.0.0.1", False),
        ("http://localhost:99999/v1", False),  # does not parse: never local
        ("http://[::1/v1", False),
        ("", False),
    ],
)
def test_loopback_is_decided_on_the_parsed_host(url, loopback):
    assert urls.is_loopback(url) is loopback


@pytest.mark.parametrize(
    "url",
    [
        "https://mirror.example/simple/?token=abc123",
        "https://mirror.example/simple/?x=1&api_key=abc",
        "https://mirror.example/simple/?X-Amz-Signature=abc",
        "https://bucket.example/o?sig=abc",
        "https://mirror.example/simple/#access_token=abc",
        "https://user:pass@mirror.example/simple/",
        "https://ghp_token@mirror.example/simple/",
    ],
)
def test_a_credential_in_a_url_is_found(url):
    assert urls.credential_problem(url)
    assert urls.transport_problem(url)


@pytest.mark.parametrize("url", ["https://pypi.org/simple", "https://mirrors.aliyun.com/pypi/simple/?page=2"])
def test_an_ordinary_url_carries_no_credential(url):
    assert urls.credential_problem(url) == "" and urls.transport_problem(url) == ""


def test_plain_http_is_only_for_loopback():
    assert urls.transport_problem("http://127.0.0.1:9/v1") == ""
    assert "plain http" in urls.transport_problem("http://api.example/v1")
    assert "user-info" in urls.transport_problem("http://localhost:1@api.example/v1")


@pytest.mark.parametrize("url", ["https://h:99999/v1", "https://[::1/v1"])
def test_a_url_that_does_not_parse_is_named_as_such_not_as_user_info(url):
    assert urls.credential_problem(url) == "is not a valid URL (its host or port cannot be read)"
    assert not urls.is_loopback(url)
