"""A name or scope far longer than any account, client or scope can have is refused with a
message that quotes only its start: an administrator's typo (or a script's runaway argument)
of 100 kB is not printed back whole on the terminal, nor sent back in the HTTP answer. The
error's code is as for any unknown name or invalid scope. Real CLI and service over HTTPS."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.accounts.admin import AccountNotFoundError
from sealbox.accounts.scopes import check_scopes
from sealbox.exceptions import ConfigError
from sealbox.service.admin import create_user
from tests.service._oauth import auth_server
from tests.service.conftest import PASSWORD, bearer, login, register

ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}
# Each message names its subject in a few hundred characters at most.
SHORT = 400


def test_the_cli_quotes_only_the_start_of_a_huge_name_or_scope(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = cli(["users", "create", "lena", "--data-dir", data], input=PASSWORD.encode(), env=ENV)
    assert made.code == 0, made.stderr
    huge = "n" * 100_000
    for args in (
        ["users", "show", huge],
        ["users", "grant", "lena", "s" * 100_000],
        ["users", "revoke", "lena", "s" * 100_000],
        ["clients", "show", huge],
        ["clients", "grant", huge, "orders:read"],
    ):
        r = cli([*args, "--data-dir", data], env=ENV)
        assert r.code == 1, r.stderr[:SHORT]
        assert r.stderr.startswith("sealbox: error: "), r.stderr[:SHORT]
        assert len(r.stderr) < SHORT, r.stderr[:SHORT]
        assert "…" in r.stderr


def test_the_service_quotes_only_the_start_of_a_huge_name_or_scope(tmp_path: Path) -> None:
    with auth_server(tmp_path) as authz:
        create_user(
            authz.svc.settings, "root", lambda _name: PASSWORD, ["users:admin", "clients:admin"]
        )
        with authz.client() as c:
            assert register(c, "lena").status_code == 201
            admin = bearer(login(c, "root").json()["access_token"])
            answers = {
                "account_not_found": c.get("/users/" + "n" * 5000, headers=admin),
                "invalid_scope": c.delete("/users/lena/scopes/" + "s" * 5000, headers=admin),
                "client_not_found": c.post(f"/clients/{'n' * 5000}/disable", headers=admin),
            }
    for code, answer in answers.items():
        assert answer.json()["error"] == code, answer.text[:SHORT]
        assert len(answer.json()["message"]) < SHORT, answer.text[:SHORT]


def test_a_name_or_scope_of_an_ordinary_length_is_quoted_whole() -> None:
    name = "ü" * 150  # the longest account name
    assert name in str(AccountNotFoundError(name))
    scope = "s" * 129  # one past the longest scope: quoted whole, to see it is one too long
    with pytest.raises(ConfigError) as refused:
        check_scopes([scope])
    assert repr(scope) in str(refused.value)
