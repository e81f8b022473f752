"""The ``sys/`` status routes that Vault's clients read with no token: ``seal-status``,
``leader`` and ``init``.

``vault status`` reads ``sys/seal-status`` and then ``sys/leader`` (it fails if either
does); hvac's ``sys.is_sealed()`` and ``read_seal_status()`` read the first,
``sys.is_initialized()`` reads ``sys/init``. sealbox has no seal: it answers as an
initialised, unsealed Vault with one key share (what Vault's development server reports),
and as one that runs without high availability.
"""

from __future__ import annotations

from typing import Any

import hvac
import pytest

import sealbox
from tests.service._vault import hvac_client
from tests.service.conftest import Running


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def anonymous(service: Running) -> hvac.Client:
    """hvac with no token at all: these routes read none, as in Vault."""
    return hvac_client(service, "")


def send(service: Running, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    with service.client() as client:
        answer = client.request(method, path, **kw)
    return answer.status_code, answer.json()


def test_hvac_reads_an_unsealed_status_without_a_token(anonymous: hvac.Client) -> None:
    assert anonymous.sys.is_sealed() is False
    assert anonymous.seal_status["sealed"] is False


def test_seal_status_has_the_members_vaults_go_client_reads(anonymous: hvac.Client) -> None:
    status = anonymous.sys.read_seal_status()
    assert status == {
        "type": "shamir",
        "initialized": True,
        "sealed": False,
        "t": 1,
        "n": 1,
        "progress": 0,
        "nonce": "",
        "version": sealbox.__version__,
        "build_date": "",
        "migration": False,
        "cluster_name": "sealbox",
        "recovery_seal": False,
    }


def test_hvac_reads_the_service_as_initialized(anonymous: hvac.Client) -> None:
    assert anonymous.sys.is_initialized() is True
    assert anonymous.sys.read_init_status() == {"initialized": True}


def test_leader_says_high_availability_is_off_as_vault_status_reads_it(
    anonymous: hvac.Client,
) -> None:
    assert anonymous.sys.read_leader_status() == {
        "ha_enabled": False,
        "is_self": False,
        "active_time": "0001-01-01T00:00:00Z",
        "leader_address": "",
        "leader_cluster_address": "",
        "performance_standby": False,
        "performance_standby_last_remote_wal": 0,
    }


@pytest.mark.parametrize("path", ["/v1/sys/seal-status", "/v1/sys/leader", "/v1/sys/init"])
def test_a_bad_token_changes_nothing_on_the_routes_that_read_none(
    service: Running, path: str
) -> None:
    plain = send(service, "GET", path)
    assert plain[0] == 200
    assert send(service, "GET", path, headers={"X-Vault-Token": "not-a-token"}) == plain


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/sys/seal-status"),
        ("PUT", "/v1/sys/leader"),
        ("DELETE", "/v1/sys/init"),
    ],
)
def test_a_method_these_routes_do_not_take_is_405_without_a_token(
    service: Running, method: str, path: str
) -> None:
    assert send(service, method, path) == (405, {"errors": ["unsupported operation"]})


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_initializing_again_is_refused_as_vault_refuses_an_initialized_server(
    service: Running, method: str
) -> None:
    body = {"secret_shares": 1, "secret_threshold": 1}
    assert send(service, method, "/v1/sys/init", json=body) == (
        400,
        {"errors": ["already initialized"]},
    )
