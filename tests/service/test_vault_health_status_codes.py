"""``sys/health``'s query parameters, as load balancers and hvac's
``sys.read_health_status`` send them: ``activecode`` is the status of an active server
(which sealbox always is), and a code or flag that is not one is 400, as in Vault."""

from __future__ import annotations

from typing import Any

import hvac
import pytest

from tests.service._vault import hvac_client
from tests.service.conftest import Running


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


def send(service: Running, method: str, query: str) -> tuple[int, Any]:
    with service.client() as client:
        answer = client.request(method, "/v1/sys/health" + query)
    return answer.status_code, answer.json() if answer.content else None


def test_activecode_is_the_status_of_the_answer(service: Running) -> None:
    status, body = send(service, "GET", "?activecode=299")
    assert (status, body["initialized"], body["sealed"]) == (299, True, False)
    assert send(service, "HEAD", "?activecode=204") == (204, None)


def test_hvac_reads_health_with_its_status_codes(service: Running) -> None:
    anonymous: hvac.Client = hvac_client(service, "")
    answer = anonymous.sys.read_health_status(method="GET", active_code=218, standby_ok=True)
    assert answer.status_code == 218
    assert answer.json()["standby"] is False


def test_codes_for_states_sealbox_is_never_in_change_nothing(service: Running) -> None:
    query = "?standbyok=true&perfstandbyok=1&standbycode=200&sealedcode=200&uninitcode=200"
    status, body = send(service, "GET", query + "&drsecondarycode=200&performancestandbycode=200")
    assert (status, body["standby"]) == (200, False)


@pytest.mark.parametrize(
    "query",
    [
        "?activecode=abc",
        "?activecode=",
        "?activecode=99",
        "?activecode=1000",
        "?sealedcode=x",
        "?standbycode=2.5",
        "?standbyok=yes",
        "?perfstandbyok=",
    ],
)
def test_a_code_or_flag_that_is_none_is_refused(service: Running, query: str) -> None:
    status, body = send(service, "GET", query)
    assert status == 400
    assert set(body) == {"errors"}
