"""The transit client checks a key name before it becomes part of a URL."""

from __future__ import annotations

import pytest

from sealbox.secret import Secret
from sealbox.transit import TransitClient
from sealbox.transit.errors import InvalidRequestError


@pytest.mark.parametrize("name", ["../../users/me", "orders/rotate#", "a?b=1", "..", "", "a b"])
def test_a_name_that_would_reach_another_route_is_refused_before_any_request(name: str) -> None:
    # Port 9 on loopback: a request would fail to connect, not raise this.
    client = TransitClient("https://127.0.0.1:9", token=Secret("t"))
    calls = [
        lambda: client.encrypt(name, b"x"),
        lambda: client.read_key(name),
        lambda: client.rotate_key(name),
        lambda: client.delete_key(name),
        lambda: client.create_key(name),
    ]
    for call in calls:
        with pytest.raises(InvalidRequestError, match="is not a transit key name"):
            call()
