"""The pieces of the Vault-shaped API that need no server: LIST, scopes, paths, errors."""

from __future__ import annotations

import pytest

from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.framing import list_as_get
from sealbox.service.vault.auth import kv_allows
from sealbox.service.vault.errors import from_api_error, item_message
from sealbox.service.vault.kv_store import InvalidPathError, check_path


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            b"LIST /v1/secret/metadata/app HTTP/1.1\r\n",
            b"GET /v1/secret/metadata/app?list=true HTTP/1.1\r\n",
        ),
        (
            b"LIST /v1/transit/keys?x=1 HTTP/1.1\r\n",
            b"GET /v1/transit/keys?x=1&list=true HTTP/1.1\r\n",
        ),
        # The method lists: a list= the target carries is dropped, as Vault ignores it.
        (
            b"LIST /v1/transit/keys?list=false&x=1&list=1&%6Cist=0&listing=2 HTTP/1.1\r\n",
            b"GET /v1/transit/keys?x=1&listing=2&list=true HTTP/1.1\r\n",
        ),
        (
            b"LIST /v1/transit/keys?list HTTP/1.1\r\n",
            b"GET /v1/transit/keys?list=true HTTP/1.1\r\n",
        ),
        (b"GET /v1/secret/data/a HTTP/1.1\r\n", b"GET /v1/secret/data/a HTTP/1.1\r\n"),
        (b"LISTEN /x HTTP/1.1\r\n", b"LISTEN /x HTTP/1.1\r\n"),
        (b"LIST /v1/secret/metadata/very-long", b"LIST /v1/secret/metadata/very-long"),
    ],
)
def test_list_is_read_as_get_with_list_true(line: bytes, expected: bytes) -> None:
    assert list_as_get(line) == expected


@pytest.mark.parametrize(
    ("scopes", "action", "where", "allowed"),
    [
        ({"kv:admin"}, "admin", "secret/a", True),
        ({"kv:admin"}, "read", "secret/a", True),
        ({"kv:read:*"}, "read", "team/x", True),
        ({"kv:read:*"}, "write", "team/x", False),
        ({"kv:read:secret/app/"}, "read", "secret/app/db", True),
        ({"kv:read:secret/app/"}, "read", "secret/app/", True),
        ({"kv:read:secret/app/"}, "read", "secret/apple", False),
        ({"kv:read:secret/app"}, "read", "secret/apple", True),
        ({"kv:read:secret/app/*"}, "read", "secret/app/db", True),
        ({"kv:read:"}, "read", "secret/app/db", False),
        ({"kv:write:secret/"}, "admin", "secret/a", False),
        ({"kv:write:secret/"}, "read", "secret/a", False),
        ({"transit:admin"}, "read", "secret/a", False),
    ],
)
def test_kv_scopes_name_path_prefixes(scopes, action, where, allowed) -> None:
    assert kv_allows(frozenset(scopes), action, where) is allowed


@pytest.mark.parametrize("path", ["", "/", "a//b", "a/./b", "../a", "a/\x00", "x" * 513])
def test_bad_secret_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidPathError):
        check_path(path)


def test_secret_paths_lose_their_outer_slashes() -> None:
    assert check_path("/app/db/") == "app/db"


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        (ErrorCode.INVALID_TOKEN, 403, "permission denied"),
        (ErrorCode.INSUFFICIENT_SCOPE, 403, "permission denied"),
        (ErrorCode.NOT_FOUND, 400, "encryption key not found"),
        (ErrorCode.DECRYPTION_FAILED, 400, "cipher: message authentication failed"),
        (
            ErrorCode.KEY_VERSION_TOO_OLD,
            400,
            "ciphertext or signature version is disallowed by policy (too old)",
        ),
        (ErrorCode.VALIDATION_ERROR, 400, "sealbox's own words"),
        (ErrorCode.BATCH_TOO_LARGE, 400, "sealbox's own words"),
        (ErrorCode.AUDIT_UNAVAILABLE, 503, "sealbox's own words"),
    ],
)
def test_native_refusals_take_vaults_status_and_words(code, status, message) -> None:
    answer = from_api_error(ApiError(418, code, "sealbox's own words"))
    assert (answer.status, answer.body()) == (status, {"errors": [message]})


def test_batch_items_take_vaults_words() -> None:
    assert item_message("decryption_failed", "x") == "cipher: message authentication failed"
    assert item_message("invalid_ciphertext", "bad form") == "invalid ciphertext: bad form"
    assert item_message("invalid_request", "plaintext is not valid base64") == (
        "plaintext is not valid base64"
    )
    assert item_message("no_such_code", "as it is") == "as it is"
