"""``BearerAuth.require``'s dependency takes a source's answer without waiting
(``authenticate_now``) where the source has one, awaits ``authenticate`` when that answer
needs a wait or the source has none, and hands the connection's certificate thumbprint to
either."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import Request

from sealbox.accounts.core import AccessClaims
from sealbox.exceptions import TokenError
from sealbox.integrations.fastapi import BearerAuth
from sealbox.integrations.fastapi.client_cert import PEER_STATE_KEY
from sealbox.integrations.fastapi.errors import ApiError
from sealbox.tls.server_session import ClientIdentity

CLAIMS = AccessClaims("alice", frozenset({"orders:read"}), "j1", 2e9, {"sub": "alice"})


class Awaited:
    """A source without an answer that needs no wait: ``authenticate`` only."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    async def authenticate(self, token: str, *, thumbprint: str | None = None) -> AccessClaims:
        self.calls.append((token, thumbprint))
        if token != "good":
            raise TokenError("refused", code="invalid_token")
        return CLAIMS


class AnswersNow(Awaited):
    """A source answering at once, or ``None`` for the token ``"later"`` (a wait needed)."""

    def __init__(self) -> None:
        super().__init__()
        self.now_calls: list[tuple[str, str | None]] = []

    def authenticate_now(self, token: str, *, thumbprint: str | None = None) -> AccessClaims | None:
        self.now_calls.append((token, thumbprint))
        if token == "later":
            return None
        if token != "good":
            raise TokenError("refused", code="token_revoked")
        return CLAIMS


def _request(token: str, state: dict[str, Any] | None = None) -> Request:
    headers = [(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())]
    return Request({"type": "http", "headers": headers, "state": state or {}})


def _check(source: Any, request: Request) -> Any:
    dependency = BearerAuth(source).require("orders:read").dependency
    return asyncio.run(dependency(request))


def test_a_source_answering_now_is_not_awaited() -> None:
    source = AnswersNow()
    assert _check(source, _request("good")) is CLAIMS
    assert source.now_calls == [("good", None)]
    assert source.calls == []


def test_an_answer_that_needs_a_wait_awaits_authenticate() -> None:
    source = AnswersNow()
    with pytest.raises(ApiError) as refused:
        _check(source, _request("later"))
    assert source.now_calls == [("later", None)]
    assert source.calls == [("later", None)]
    assert refused.value.status_code == 401


def test_a_refusal_given_now_is_the_401_of_a_refused_token() -> None:
    with pytest.raises(ApiError) as refused:
        _check(AnswersNow(), _request("revoked"))
    assert refused.value.status_code == 401
    assert "revoked" in str(refused.value.detail)


def test_a_source_without_an_answer_now_is_awaited() -> None:
    source = Awaited()
    assert _check(source, _request("good")) is CLAIMS
    assert source.calls == [("good", None)]


def test_the_certificate_of_the_connection_reaches_both_answers() -> None:
    identity = ClientIdentity(
        common_name="client",
        dns_names=(),
        emails=(),
        uris=(),
        issuer="ca",
        serial="01",
        fingerprint="ab" * 32,
        not_after="Jan  1 00:00:00 2030 GMT",
        subject="CN=client",
    )
    for source in (AnswersNow(), Awaited()):
        assert _check(source, _request("good", {PEER_STATE_KEY: identity})) is CLAIMS
        seen = source.now_calls if isinstance(source, AnswersNow) else source.calls
        ((_, thumbprint),) = seen
        assert thumbprint is not None
        assert len(thumbprint) == 43  # base64url of a SHA-256 digest, unpadded
