"""A chunked body that passes the body limit on a Vault path is answered 413 in Vault's
error shape (``{"errors": [...]}``), as one whose ``Content-Length`` is over the limit is,
whether or not the request's token is good: never the internal-error 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service._vault import token_for
from tests.service.conftest import Running, make_settings, run_service

LIMIT = 4096


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = Path(tmp_path_factory.mktemp("vault-chunked")) / "data"
    settings = make_settings(data, max_body_bytes=LIMIT, transit_max_body_bytes=LIMIT)
    with run_service(settings) as running:
        yield running


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, "kv:admin", "transit:admin", "transit:encrypt:*")


def chunked(size: int) -> Iterator[bytes]:
    """A JSON body of about ``size`` bytes, in pieces (so sent chunked, with no length)."""
    yield b'{"data": {"x": "'
    for _ in range(size // 1024):
        yield b"a" * 1024
    yield b'"}}'


@pytest.mark.parametrize("path", ["/v1/secret/data/app/big", "/v1/transit/encrypt/big"])
@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
def test_a_chunked_body_over_the_limit_is_413_in_vaults_shape(
    service: Running, token: str, path: str, with_token: bool
) -> None:
    headers = {"X-Vault-Token": token} if with_token else {}
    with service.client() as client:
        answer = client.post(path, content=chunked(4 * LIMIT), headers=headers)
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413, answer.text
    assert answer.json() == {"errors": [f"the request body is larger than {LIMIT} bytes"]}
    assert answer.headers["connection"] == "close"
