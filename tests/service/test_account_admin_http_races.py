"""Two administrators acting on each other at the same instant, over HTTP, through two
services sharing PostgreSQL and Redis: some enabled account always keeps users:admin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from sealbox.service.admin import create_user
from tests.service._workers import together
from tests.service.conftest import (
    PASSWORD,
    bearer,
    login,
    make_settings,
    reset_shared_state,
    run_service,
    shared_settings,
)


@pytest.mark.postgres
@pytest.mark.redis
def test_two_last_administrators_acting_on_each_other_through_two_services_keep_one(
    tmp_path: Path,
) -> None:
    shared = shared_settings()
    reset_shared_state()
    data = tmp_path / "data"
    # Each pair's requests: what the first sends on the second, and back.
    moves = [
        ("POST", "/users/{}/disable"),
        ("DELETE", "/users/{}"),
        ("DELETE", "/users/{}/scopes/users:admin"),
    ]
    try:
        with (
            run_service(make_settings(data, **shared)) as one,
            run_service(make_settings(data, **shared)) as two,
        ):
            previous: list[str] = []
            for n, (mine, theirs) in enumerate([(a, b) for a in moves for b in moves]):
                names = [f"ann{n}", f"ben{n}"]
                for name in names:
                    create_user(one.settings, name, lambda _n: PASSWORD, ["users:admin"])
                clients = [one.client(), two.client()]
                try:
                    tokens = [
                        bearer(login(c, name).json()["access_token"])
                        for c, name in zip(clients, names, strict=True)
                    ]
                    # Only this round's two hold the scope, enabled.
                    for name in previous:
                        r = clients[0].post(f"/users/{name}/disable", headers=tokens[0])
                        assert r.status_code in (200, 404), r.text
                    answers = together(clients, _sender([mine, theirs], names, tokens))
                    # Exactly one acted, and it is the one left holding the scope; the
                    # other was refused: 409 last_admin, or, when the change reached its
                    # token first, 401 (disabled, deleted) or 403 (scope taken back).
                    acted = [i for i, r in enumerate(answers) if r.status_code in (200, 204)]
                    assert len(acted) == 1, (n, [r.text for r in answers])
                    other = answers[1 - acted[0]]
                    assert other.status_code in (401, 403, 409), other.text
                    if other.status_code == 409:
                        assert other.json()["error"] == "last_admin"
                    listed = clients[acted[0]].get("/users", headers=tokens[acted[0]])
                    assert listed.status_code == 200, listed.text
                    holders = [
                        a["username"]
                        for a in listed.json()
                        if not a["disabled"] and "users:admin" in a["scopes"]
                    ]
                    assert holders == [names[acted[0]]], (n, holders)
                finally:
                    for c in clients:
                        c.close()
                previous = names
    finally:
        reset_shared_state()


def _sender(
    sent: list[tuple[str, str]], names: list[str], tokens: list[dict[str, str]]
) -> Callable[[int, httpx2.Client], httpx2.Response]:
    def send(i: int, c: httpx2.Client) -> httpx2.Response:
        method, path = sent[i]
        return c.request(method, path.format(names[1 - i]), headers=tokens[i])

    return send
