"""sealbox's own Vault clients and the users' common hvac class, against ``sealbox serve``
as well as against the fake Vault (tests/fakes/vault.py), both ways.

The same test runs against each peer: what sealbox's KV v2 source
(:class:`~sealbox.secrets.VaultKV2Source`) and envelope KEK over Transit
(:class:`~sealbox.keysets.envelope.VaultTransitProvider`) do with Vault, they do with
sealbox; and what one client writes, the other reads.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest

from sealbox.exceptions import SecretSourceError
from sealbox.keysets.envelope import EnvelopeCipher, VaultTransitProvider
from sealbox.secrets.vault import VaultKV2Source
from tests.fakes.vault import fake_vault
from tests.service._transit import ALL_SCOPES
from tests.service._vault import read, token_for
from tests.service.conftest import make_settings, run_service

pytest.importorskip("trustme")

FAKE_TOKEN = "hvs.clients-canary-token-4e2d"
PLAINTEXT = b"canary-envelope-through-sealbox-6b1f"


@dataclass
class Peer:
    """A Vault to talk to: its address, a token, the CA file that signed its certificate."""

    kind: str
    url: str
    token: str
    ca: Path

    def hvac(self) -> hvac.Client:
        return hvac.Client(url=self.url, token=self.token, verify=str(self.ca))


pytestmark = pytest.mark.usefixtures("no_vault_environment")


@pytest.fixture(params=["fake", "sealbox"])
def peer(request, tmp_path: Path, vault_ca, vault_ca_file) -> Iterator[Peer]:
    if request.param == "fake":
        with fake_vault(vault_ca, FAKE_TOKEN) as server:
            yield Peer("fake", server.url, FAKE_TOKEN, vault_ca_file)
        return
    with run_service(make_settings(tmp_path / "data")) as service:
        token = token_for(service, "kv:admin", *ALL_SCOPES)
        yield Peer("sealbox", service.url, token, service.ca)


def test_the_kv_source_reads_and_writes_with_check_and_set(peer: Peer) -> None:
    source = VaultKV2Source(peer.url, "app/prod", token=peer.token, ca=peer.ca)
    assert source.write({"DB_PASSWORD": "first", "PORT": "5432"}, cas=0) == 1
    assert source.write({"DB_PASSWORD": "second", "PORT": "5432"}, cas=1) == 2
    with pytest.raises(SecretSourceError, match="check-and-set"):
        source.write({"DB_PASSWORD": "lost update"}, cas=1)
    fresh = VaultKV2Source(peer.url, "app/prod", token=peer.token, ca=peer.ca)
    assert fresh.lookup("DB_PASSWORD").expose_secret() == "second"
    assert fresh.names() == ["DB_PASSWORD", "PORT"]
    assert fresh.read_version == 2
    pinned = VaultKV2Source(peer.url, "app/prod", token=peer.token, ca=peer.ca, version=1)
    assert pinned.lookup("DB_PASSWORD").expose_secret() == "first"
    assert fresh.metadata()["current_version"] == 2


def test_what_hvac_writes_the_source_reads_and_back(peer: Peer) -> None:
    client = peer.hvac()
    client.secrets.kv.v2.create_or_update_secret(path="shared", secret={"API_KEY": "from-hvac"})
    source = VaultKV2Source(peer.url, "shared", token=peer.token, ca=peer.ca)
    assert source.lookup("API_KEY").expose_secret() == "from-hvac"
    source.write({"API_KEY": "from-sealbox"})
    assert read(client, "shared")["data"]["data"] == {"API_KEY": "from-sealbox"}


def test_the_envelope_kek_over_transit_wraps_rotates_and_rewraps(peer: Peer) -> None:
    peer.hvac().secrets.transit.create_key(name="app")
    provider = VaultTransitProvider(
        "app", url=peer.url, token=peer.token, ca=peer.ca, version_cache_seconds=0
    )
    cipher = EnvelopeCipher(provider)
    envelope = cipher.encrypt(PLAINTEXT, b"invoices/7")
    assert cipher.decrypt(envelope, b"invoices/7") == PLAINTEXT
    peer.hvac().secrets.transit.rotate_key(name="app")
    assert cipher.needs_rewrap(envelope)
    rewrapped = cipher.rewrap(envelope)
    assert not cipher.needs_rewrap(rewrapped)
    assert cipher.decrypt(rewrapped, b"invoices/7") == PLAINTEXT
    key, wrapped = provider.generate_data_key(256)
    assert wrapped.version == 2
    assert provider.unwrap(wrapped) == key.expose_secret()


class VaultSecretsManager:
    """The class people copy into their projects to read one value from Vault."""

    def __init__(self, vault_url, token):
        self.client = hvac.Client(url=vault_url, token=token)

    def get_secret(self, path, key):
        response = self.client.secrets.kv.v2.read_secret_version(path=path)
        return response["data"]["data"][key]


def test_the_common_hvac_class_runs_unchanged(peer: Peer, monkeypatch) -> None:
    peer.hvac().secrets.kv.v2.create_or_update_secret(
        path="myapp/config", secret={"db_password": "canary-manager-41d2"}
    )
    # The class takes no CA argument: as its users do, point requests at the CA's file.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(peer.ca))
    manager = VaultSecretsManager(peer.url, peer.token)
    with warnings.catch_warnings():  # hvac 2 warns about raise_on_deleted_version
        warnings.simplefilter("ignore", DeprecationWarning)
        assert manager.get_secret("myapp/config", "db_password") == "canary-manager-41d2"


def test_a_batch_rewrap_answers_each_envelope_on_its_own(peer: Peer) -> None:
    from sealbox.exceptions import DecryptionError
    from sealbox.keysets.envelope.format import WrappedKey

    peer.hvac().secrets.transit.create_key(name="app")
    provider = VaultTransitProvider(
        "app", url=peer.url, token=peer.token, ca=peer.ca, version_cache_seconds=0
    )
    good = [provider.wrap(bytes([i]) * 64) for i in range(3)]
    peer.hvac().secrets.transit.rotate_key(name="app")
    junk = WrappedKey("vault-transit", "app", 1, b"\x00" * 40)
    # Vault answers a batch in which some items failed with 400 and every item's result.
    results = provider.rewrap_batch([*good, junk])
    assert [type(r) for r in results] == [WrappedKey] * 3 + [DecryptionError]
    assert [provider.unwrap(r) for r in results[:3]] == [bytes([i]) * 64 for i in range(3)]
