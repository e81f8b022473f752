"""Machine clients (client credentials) speak Vault's protocol too: their access token in
``X-Vault-Token`` opens what their scopes allow, as a user's does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hvac.exceptions as hx
import pytest

from tests.service._oauth import AuthServer, auth_server
from tests.service._transit import b64, unb64
from tests.service._vault import hvac_client, read


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


def test_a_client_credentials_token_drives_transit_and_kv_through_hvac(authz: AuthServer) -> None:
    machine = authz.register(
        "billing-batch",
        "transit:admin",
        "transit:encrypt:billing",
        "transit:decrypt:billing",
        "kv:write:secret/billing",
        "kv:read:secret/billing",
    )
    answer = authz.client_token(machine)
    assert answer.status_code == 200, answer.text
    assert "refresh_token" not in answer.json()
    vault = hvac_client(authz.svc, answer.json()["access_token"])
    assert vault.is_authenticated()
    transit = vault.secrets.transit
    transit.create_key(name="billing")
    sealed = transit.encrypt_data(name="billing", plaintext=b64(b"invoice 7"))["data"]
    opened = transit.decrypt_data(name="billing", ciphertext=sealed["ciphertext"])["data"]
    assert unb64(opened["plaintext"]) == b"invoice 7"
    vault.secrets.kv.v2.create_or_update_secret(path="billing/db", secret={"password": "pw-7"})
    assert read(vault, "billing/db")["data"]["data"] == {"password": "pw-7"}
    with pytest.raises(hx.Forbidden):
        vault.secrets.kv.v2.create_or_update_secret(path="payroll/db", secret={"x": "y"})
    with pytest.raises(hx.Forbidden):
        transit.encrypt_data(name="payroll", plaintext=b64(b"x"))


def test_a_revoked_client_token_gets_vaults_403(authz: AuthServer) -> None:
    machine = authz.register("short-lived", "kv:read:secret/")
    token = authz.client_token(machine).json()["access_token"]
    vault = hvac_client(authz.svc, token)
    assert vault.is_authenticated()
    with authz.client() as c:
        revoked = c.post("/auth/revoke", data={"token": token}, headers=machine.basic)
    assert revoked.status_code == 200
    assert not vault.is_authenticated()
    with pytest.raises(hx.Forbidden):
        read(vault, "anything")
