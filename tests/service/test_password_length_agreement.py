"""A new password is measured once, as the hasher measures it: over the limit before NFKC
normalisation is a 422 ``weak_password`` on /auth/register and /auth/password, never an
error of the hasher after the policy let it through."""

from __future__ import annotations

import unicodedata

from tests.service.conftest import PASSWORD, bearer, login, register

# 600 "e" + COMBINING ACUTE ACCENT: 1200 characters as typed, 600 "é" after NFKC.
SHRUNK_BY_NFKC = "e\u0301" * 600


def test_the_example_is_over_the_limit_as_typed_and_under_it_after_nfkc() -> None:
    assert len(SHRUNK_BY_NFKC) == 1200
    assert len(unicodedata.normalize("NFKC", SHRUNK_BY_NFKC)) == 600


def test_registering_a_password_nfkc_shortens_under_the_limit_is_a_weak_password_422(
    service,
) -> None:
    with service.client() as c:
        r = register(c, "hana", SHRUNK_BY_NFKC)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "weak_password"
        assert "1024" in r.json()["message"]
        # Nothing was made of it: the name is still free.
        assert register(c, "hana").status_code == 201


def test_changing_to_a_password_nfkc_shortens_under_the_limit_is_a_weak_password_422(
    service,
) -> None:
    with service.client() as c:
        register(c, "ivan")
        token = login(c, "ivan").json()["access_token"]
        body = {"current_password": PASSWORD, "new_password": SHRUNK_BY_NFKC}
        r = c.post("/auth/password", json=body, headers=bearer(token))
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "weak_password"
        # The password is unchanged: the old one still logs in.
        assert login(c, "ivan").status_code == 200
