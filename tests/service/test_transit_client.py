"""sealbox.transit.client.TransitClient against a real service over HTTPS."""

from __future__ import annotations

import base64
import logging
import os
import pickle

import pytest

from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    KeyNotFoundError,
    TLSError,
    UnsupportedAlgorithmError,
)
from sealbox.keysets.lifecycle import KeyState
from sealbox.secret import Secret
from sealbox.transit import (
    KEY_TYPES,
    DataKey,
    DeletionNotAllowedError,
    InvalidCiphertextError,
    InvalidKeyVersionError,
    KeyExistsError,
    KeyVersionTooOldError,
    NotExportableError,
    ServiceError,
    ServiceUnreachableError,
    TransitClient,
    UnsupportedOperationError,
)
from sealbox.transit.client import error_from_answer
from tests.service._transit import ALL_SCOPES, add_user
from tests.service.conftest import free_port, login, make_settings, run_service


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("transit-client") / "data")
    with run_service(settings) as service:
        yield service


def token(service, *scopes: str) -> Secret[str]:
    name = f"client{os.urandom(4).hex()}"
    add_user(service.settings, name, list(scopes))
    with service.client() as c:
        return Secret(login(c, name).json()["access_token"])


@pytest.fixture(scope="module")
def admin_token(running) -> Secret[str]:
    return token(running, *ALL_SCOPES, "transit:export:*")


@pytest.fixture
def client(running, admin_token):
    with TransitClient(running.url, token=admin_token, ca=running.ca) as c:
        yield c


def fresh(prefix: str) -> str:
    return f"{prefix}-{os.urandom(3).hex()}"


def test_manage_keys_and_see_version_states(client: TransitClient) -> None:
    name = fresh("orders")
    info = client.create_key(name, "chacha20-poly1305")
    assert info["type"] == "chacha20-poly1305" and info["version_states"] == {"1": "active"}
    assert name in client.list_keys()
    with pytest.raises(KeyExistsError) as exc:
        client.create_key(name)
    assert exc.value.code == "key_exists"
    client.rotate_key(name)
    client.rotate_key(name)
    info = client.configure_key(name, min_decryption_version=2, min_encryption_version=3)
    states = {int(v): KeyState(s) for v, s in client.read_key(name)["version_states"].items()}
    assert states == {1: KeyState.DISABLED, 2: KeyState.DECRYPT_ONLY, 3: KeyState.ACTIVE}
    with pytest.raises(InvalidKeyVersionError, match="between 1 and the latest version"):
        client.configure_key(name, min_decryption_version=9)
    with pytest.raises(DeletionNotAllowedError):
        client.delete_key(name)
    client.configure_key(name, deletion_allowed=True)
    client.delete_key(name)
    with pytest.raises(KeyNotFoundError) as missing:
        client.read_key(name)
    assert missing.value.code == "not_found"
    assert str(missing.value) == f"no transit key named {name!r}"


def test_encrypt_decrypt_rewrap_and_data_keys(client: TransitClient) -> None:
    name = fresh("data")
    client.create_key(name)
    v1 = client.encrypt(name, b"\x00card\xff", associated_data=b"order:7")
    assert v1.startswith("sealbox:v1:")
    assert client.decrypt(name, v1, associated_data=b"order:7") == b"\x00card\xff"
    with pytest.raises(DecryptionError) as exc:
        client.decrypt(name, v1, associated_data=b"order:8")
    assert exc.value.code == "decryption_failed"
    with pytest.raises(InvalidCiphertextError):
        client.decrypt(name, "garbage")
    client.rotate_key(name)
    v2 = client.rewrap(name, v1, associated_data=b"order:7")
    assert v2.startswith("sealbox:v2:")
    client.configure_key(name, min_decryption_version=2)
    with pytest.raises(KeyVersionTooOldError) as old:
        client.decrypt(name, v1, associated_data=b"order:7")
    assert "min_decryption_version 2" in str(old.value)

    data_key = client.datakey(name, bits=128, associated_data=b"blob")
    assert isinstance(data_key, DataKey) and len(data_key.plaintext or b"") == 16
    assert client.decrypt(name, data_key.ciphertext, associated_data=b"blob") == data_key.plaintext
    assert data_key.plaintext is not None and data_key.plaintext.hex() not in repr(data_key)
    with pytest.raises(TypeError):
        pickle.dumps(data_key)
    wrapped = client.datakey(name, plaintext=False)
    assert wrapped.plaintext is None and wrapped.key_version == 2


def test_sign_verify_and_hmac(client: TransitClient) -> None:
    signer, mac = fresh("sig"), fresh("mac")
    client.create_key(signer, "ed25519")
    client.create_key(mac, "hmac")
    signature = client.sign(signer, b"release 1.2")
    assert client.verify(signer, b"release 1.2", signature)
    assert not client.verify(signer, b"release 1.3", signature)
    tag = client.hmac(mac, b"payload")
    assert client.verify_hmac(mac, b"payload", tag)
    assert not client.verify_hmac(mac, b"payload!", tag)
    with pytest.raises(UnsupportedOperationError):
        client.encrypt(signer, b"x")
    assert isinstance(
        error_from_answer({"error": "unsupported_algorithm"}, "x"), UnsupportedAlgorithmError
    )


def test_every_registry_type_can_be_created_through_the_client(client: TransitClient) -> None:
    for key_type in KEY_TYPES:
        assert client.create_key(fresh(key_type), key_type)["type"] == key_type


def test_batches_answer_each_item_or_its_library_error(client: TransitClient) -> None:
    name = fresh("batch")
    client.create_key(name)
    good = client.encrypt(name, b"one")
    items = [
        {"ciphertext": good, "reference": "a"},
        {"ciphertext": "garbage", "reference": "b"},
        {"ciphertext": good[:-4] + "AAAA"},
    ]
    results = client.batch(name, "decrypt", items)
    assert results[0] == {"plaintext": base64.b64encode(b"one").decode(), "reference": "a"}
    assert (
        isinstance(results[1], InvalidCiphertextError) and results[1].code == "invalid_ciphertext"
    )
    assert isinstance(results[2], DecryptionError)
    encrypted = client.batch(
        name, "encrypt", [{"plaintext": base64.b64encode(b"x").decode()}] * 3, key_version=1
    )
    assert [r["key_version"] for r in encrypted if isinstance(r, dict)] == [1, 1, 1]
    with pytest.raises(ValueError, match="unknown operation"):
        client.batch(name, "shred", items)


def test_service_refusals_carry_the_service_code(running, client: TransitClient) -> None:
    name = fresh("scoped")
    client.create_key(name)
    weak = token(running, f"transit:encrypt:{name}")
    with TransitClient(running.url, token=weak, ca=running.ca) as c:
        assert c.encrypt(name, b"x").startswith("sealbox:v1:")
        with pytest.raises(ServiceError) as exc:
            c.decrypt(name, "sealbox:v1:AAAA")
        assert exc.value.code == "insufficient_scope"
        assert str(exc.value) == f"this needs the scope transit:decrypt:{name}"
    with pytest.raises(NotExportableError):
        client.request("GET", f"/v1/keys/{name}/export")
    bad = Secret("not-a-token")
    with (
        TransitClient(running.url, token=bad, ca=running.ca) as c,
        pytest.raises(ServiceError) as exc,
    ):
        c.list_keys()
    assert exc.value.code == "invalid_token"


def test_the_token_comes_from_the_environment_and_never_shows(
    running, admin_token, monkeypatch, caplog
) -> None:
    monkeypatch.setenv("SEALBOX_TOKEN", admin_token.expose_secret())
    caplog.set_level(logging.DEBUG)
    with TransitClient(running.url, ca=running.ca) as c:
        assert isinstance(c.list_keys(), list)
        shown = repr(c)
        with pytest.raises(TypeError):
            pickle.dumps(c)
    assert admin_token.expose_secret() not in shown + caplog.text
    monkeypatch.delenv("SEALBOX_TOKEN")
    with pytest.raises(ConfigError) as exc:
        TransitClient(running.url, ca=running.ca)
    assert exc.value.code == "token_missing"
    with pytest.raises(ConfigError) as exc:
        TransitClient("http://localhost:1", token=admin_token)
    assert exc.value.code == "not_https"


def test_tls_and_connection_failures(running, admin_token) -> None:
    with TransitClient(running.url, token=admin_token) as c, pytest.raises(TLSError) as exc:
        c.list_keys()
    assert exc.value.code == "server_unverified"
    assert exc.value.facts == {"url": running.url, "failed": "issuer"}
    url = f"https://localhost:{free_port()}"
    with (
        TransitClient(url, token=admin_token, ca=running.ca) as c,
        pytest.raises(ServiceUnreachableError) as down,
    ):
        c.list_keys()
    assert (
        down.value.code == "service_unreachable" and str(down.value) == f"cannot connect to {url}"
    )


def _guide_blocks() -> list[str]:
    import re

    from tests.conftest import ROOT

    guide = (ROOT / "docs" / "transit.md").read_text()
    section = guide[guide.index("## From Python") : guide.index("## Command line")]
    return re.findall(r"```python\n(.*?)\n```", section, re.DOTALL)


def test_the_library_examples_of_the_guide_run(running, admin_token, monkeypatch) -> None:
    in_process, with_client = _guide_blocks()
    exec(in_process, {})
    example = with_client.replace(".sealbox/tls/ca.crt", str(running.ca))
    example = example.replace("https://localhost:8443", running.url)
    monkeypatch.setenv("SEALBOX_TOKEN", admin_token.expose_secret())
    # The guide's quick start made "orders" before this example runs.
    with TransitClient(running.url, token=admin_token, ca=running.ca) as c:
        c.create_key("orders")
    exec(example, {})


def test_a_url_with_a_password_or_without_https_is_refused_without_showing_it(
    admin_token,
) -> None:
    for url in ("https://ops:canary-url-pw-4c1d@localhost:8443", "https://:canary-url-pw-4c1d@h"):
        with pytest.raises(ConfigError) as exc:
            TransitClient(url, token=admin_token)
        assert exc.value.code == "url_userinfo"
        assert "canary-url-pw-4c1d" not in f"{exc.value} {exc.value.hint} {exc.value.facts}"
    for url in ("localhost:8443", "https:/localhost", "ftp://h"):
        with pytest.raises(ConfigError) as exc:
            TransitClient(url, token=admin_token)
        assert exc.value.code == "not_https"
        assert str(exc.value) == f"the service URL must be https://HOST[:PORT] (got {url!r})"


def test_a_token_no_header_can_carry_is_refused_without_showing_it(monkeypatch) -> None:
    for raw in ("tökén-canary", "two words", "a\nb"):
        monkeypatch.setenv("SEALBOX_TOKEN", raw)
        with pytest.raises(ConfigError) as exc:
            TransitClient("https://localhost:8443")
        assert exc.value.code == "token_malformed"
        assert "$SEALBOX_TOKEN" in str(exc.value) and "canary" not in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        TransitClient("https://localhost:8443", token=Secret("tökén"))
    assert exc.value.code == "token_malformed" and "given" in str(exc.value)
    with pytest.raises(TypeError, match="token=Secret"):
        TransitClient("https://localhost:8443", token="plain")  # type: ignore[arg-type]


def test_a_token_given_with_its_bearer_scheme_is_refused_saying_so(monkeypatch) -> None:
    for raw in ("Bearer eyJ.canary-x.y", "bearer  eyJ.canary-x.y", "BEARER\teyJ.canary"):
        monkeypatch.setenv("SEALBOX_TOKEN", raw)
        with pytest.raises(ConfigError) as exc:
            TransitClient("https://localhost:8443")
        assert exc.value.code == "token_malformed"
        assert str(exc.value) == (
            "the access token in $SEALBOX_TOKEN starts with 'Bearer ': give the token alone "
            "(the client sends the Authorization header itself)"
        )
        assert "canary" not in f"{exc.value} {exc.value.hint} {exc.value.facts}"
    with pytest.raises(ConfigError, match="the access token given starts with 'Bearer '"):
        TransitClient("https://localhost:8443", token=Secret("Bearer abc"))


def test_a_url_that_is_not_the_service_base_is_no_such_route(running, admin_token) -> None:
    with (
        TransitClient(f"{running.url}/wrong", token=admin_token, ca=running.ca) as c,
        pytest.raises(ServiceError) as exc,
    ):
        c.encrypt("orders", b"x")
    assert exc.value.code == "no_such_route"
    assert str(exc.value) == (
        f"{running.url}/wrong has no sealbox transit route /v1/keys/orders/encrypt (404)"
    )
    # A batch to that URL is the same mistake, not a missing key.
    with (
        TransitClient(f"{running.url}/wrong", token=admin_token, ca=running.ca) as c,
        pytest.raises(ServiceError) as exc,
    ):
        c.batch("orders", "encrypt", [{"plaintext": "AA=="}])
    assert exc.value.code == "no_such_route"
    # A key that is missing is still that, alone or in a batch.
    with TransitClient(running.url, token=admin_token, ca=running.ca) as c:
        with pytest.raises(KeyNotFoundError):
            c.encrypt(fresh("missing"), b"x")
        with pytest.raises(KeyNotFoundError):
            c.batch(fresh("missing"), "encrypt", [{"plaintext": "AA=="}])


def test_a_service_that_does_not_answer_in_time_is_a_timeout(running, admin_token) -> None:
    import socket

    with socket.socket() as silent:  # accepts connections, never answers a handshake
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"https://localhost:{silent.getsockname()[1]}"
        with (
            TransitClient(url, token=admin_token, ca=running.ca, timeout=0.5) as c,
            pytest.raises(ServiceUnreachableError) as exc,
        ):
            c.list_keys()
    assert exc.value.code == "timeout"
    assert str(exc.value) == f"{url} did not answer within 0.5 s"
