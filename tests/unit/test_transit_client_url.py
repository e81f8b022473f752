"""The transit client refuses a service URL or a timeout it cannot use before any request,
and never quotes a user name or password that a URL carries."""

from __future__ import annotations

import math

import httpx2
import pytest

from sealbox.exceptions import ConfigError
from sealbox.secret import Secret
from sealbox.transit import TransitClient
from sealbox.transit.client import MAX_TIMEOUT

CANARY = "canary-pw-9e2f"
TOKEN = Secret("t")


def _everything_shown(exc: BaseException) -> str:
    facts = getattr(exc, "facts", {})
    return f"{exc} {exc!r} {exc.args} {getattr(exc, 'hint', '')} {facts}"


@pytest.mark.parametrize(
    "url",
    [
        f"user:{CANARY}@example.com:8200",  # no scheme
        f"https:/user:{CANARY}@example.com",  # one slash
        f"https:///user:{CANARY}@example.com",  # three slashes
        f"//user:{CANARY}@example.com",
        f"ftp://user:{CANARY}@example.com",
        f"https://user:{CANARY}@[::1",  # unparsable
        f"https://user:{CANARY}@exa mple.com:99999",
        # A raw '/', '?' or '#' in a password makes the rest look like a path, a query
        # or a fragment.
        f"https://user:{CANARY}/x@example.com",
        f"https://user:{CANARY}?x@example.com",
        f"https://user:{CANARY}#x@example.com",
    ],
)
def test_a_malformed_url_with_a_password_is_refused_as_userinfo_without_showing_it(
    url: str,
) -> None:
    with pytest.raises(ConfigError) as info:
        TransitClient(url, token=TOKEN)
    assert info.value.code == "url_userinfo"
    assert CANARY not in _everything_shown(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


@pytest.mark.parametrize(
    ("url", "suggestion"),
    [
        ("example.com:8200", "https://example.com:8200"),
        ("localhost", "https://localhost"),
        ("https:/localhost:8443", "https://localhost:8443"),
        ("http://localhost:8443/", "https://localhost:8443"),
    ],
)
def test_a_url_missing_only_its_scheme_is_not_https_with_a_suggestion(
    url: str, suggestion: str
) -> None:
    with pytest.raises(ConfigError) as info:
        TransitClient(url, token=TOKEN)
    assert info.value.code == "not_https"
    assert info.value.facts["suggestion"] == suggestion
    assert info.value.hint is not None
    assert info.value.hint.startswith(f"did you mean {suggestion}?")


def test_a_url_that_mending_the_scheme_would_not_save_gets_no_suggestion() -> None:
    for url in ("ftp://example.com", "example.com:99999", "http://:1"):
        with pytest.raises(ConfigError) as info:
            TransitClient(url, token=TOKEN)
        assert info.value.code == "not_https"
        assert "suggestion" not in info.value.facts
        assert "did you mean" not in str(info.value.hint)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com:99999", "port must be a number from 1 to 65535 (got '99999')"),
        ("https://example.com:0", "port must be a number from 1 to 65535 (got '0')"),
        ("https://example.com:abc", "port must be a number from 1 to 65535 (got 'abc')"),
        ("https://example.com:", "port must be a number from 1 to 65535 (got '')"),
        ("https://:8200", "has no host name (got 'https://:8200')"),
        ("https://", "has no host name (got 'https://')"),
        ("https://exa!mple.com", "host name 'exa!mple.com' is not valid"),
        ("https://[::g]:8443", "is not valid (got 'https://[::g]:8443')"),
        ("https://exa mple.com", "holds a space or a control character"),
        ("https://example.com\n/x", "holds a space or a control character"),
        ("https://example.com/?token=abc", "may not have a query (?…) or a fragment (#…)"),
        ("https://example.com/#x", "may not have a query (?…) or a fragment (#…)"),
    ],
)
def test_a_url_with_a_bad_port_or_host_is_url_invalid_before_any_connection(
    url: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sealbox.tls.client

    def no_connection(**_kwargs: object) -> None:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(sealbox.tls.client, "secure_client", no_connection)
    with pytest.raises(ConfigError) as info:
        TransitClient(url, token=TOKEN).list_keys()
    assert info.value.code == "url_invalid"
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_query_which_may_hold_a_token_is_refused_without_quoting_it() -> None:
    with pytest.raises(ConfigError) as info:
        TransitClient(f"https://example.com/?access_token={CANARY}", token=TOKEN)
    assert info.value.code == "url_invalid"
    assert CANARY not in _everything_shown(info.value)


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://localhost:8443/", "https://localhost:8443"),
        ("HTTPS://Example.com", "HTTPS://Example.com"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://[fe80::1%25eth0]:8443", "https://[fe80::1%25eth0]:8443"),
        ("https://café.example/sealbox/", "https://café.example/sealbox"),
        ("https://10.0.0.1:65535", "https://10.0.0.1:65535"),
    ],
)
def test_a_usable_url_is_kept_without_its_trailing_slash(url: str, kept: str) -> None:
    assert TransitClient(url, token=TOKEN).url == kept


def test_a_url_httpx_cannot_use_is_url_invalid_not_an_internal_error() -> None:
    class Refusing:
        def request(self, *_args: object, **_kwargs: object) -> None:
            raise httpx2.InvalidURL(f"bad https://example.com/{CANARY}")

    client = TransitClient("https://example.com", token=TOKEN)
    client._client = Refusing()  # type: ignore[assignment]
    with pytest.raises(ConfigError) as info:
        client.list_keys()
    assert info.value.code == "url_invalid"
    assert CANARY not in _everything_shown(info.value)


@pytest.mark.parametrize(
    "timeout", [math.nan, math.inf, -math.inf, 1e300, 10**400, 0, -1, MAX_TIMEOUT + 0.5]
)
def test_a_timeout_that_is_not_a_finite_number_of_seconds_in_range_is_refused(
    timeout: float,
) -> None:
    with pytest.raises(ConfigError) as info:
        TransitClient("https://localhost:8443", token=TOKEN, timeout=timeout)
    assert info.value.code == "timeout_invalid"
    assert f"at most {MAX_TIMEOUT:g}" in str(info.value)


@pytest.mark.parametrize("timeout", [None, True, "30"])
def test_a_timeout_that_is_not_a_number_is_a_type_error(timeout: object) -> None:
    with pytest.raises(TypeError, match="timeout must be a number of seconds"):
        TransitClient("https://localhost:8443", token=TOKEN, timeout=timeout)  # type: ignore[arg-type]


def test_the_longest_timeout_is_accepted() -> None:
    TransitClient("https://localhost:8443", token=TOKEN, timeout=MAX_TIMEOUT)
    TransitClient("https://localhost:8443", token=TOKEN, timeout=1)
