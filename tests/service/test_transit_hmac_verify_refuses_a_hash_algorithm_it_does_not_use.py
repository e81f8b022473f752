"""``verify`` of an HMAC refuses a ``hash_algorithm`` it would not use, as ``hmac`` does.

Vault Transit reads the hash of an HMAC verify from ``hash_algorithm`` (``algorithm`` is
its older name), and hvac's ``verify_signed_data`` sends ``hash_algorithm``: a
``sha2-512`` there, checked as HMAC-SHA-256, would answer ``valid: false`` for a tag
that is right, instead of saying that the hash is not offered.
"""

from __future__ import annotations

import pytest

from tests.service._transit import ALL_SCOPES, Transit, b64
from tests.service.conftest import make_settings, run_service


@pytest.fixture
def transit(tmp_path):
    with run_service(make_settings(tmp_path / "data")) as service, service.client() as client:
        yield Transit(service, client)


def test_hmac_verify_with_another_hash_algorithm_is_unsupported_not_invalid(
    transit: Transit,
) -> None:
    t = transit
    admin = t.headers(*ALL_SCOPES)
    t.post("/v1/keys/tags", {"type": "hmac"}, admin)
    data = b64(b"release 1.2")
    tag = t.post("/v1/keys/tags/hmac", {"input": data}, admin).json()["hmac"]

    for field in ("hash_algorithm", "algorithm"):
        r = t.post("/v1/keys/tags/verify", {"input": data, "hmac": tag, field: "sha2-512"}, admin)
        assert r.status_code == 400, (field, r.text)
        assert r.json() == {
            "error": "unsupported_algorithm",
            "message": "algorithm must be sha2-256",
        }
        batch = {"batch_input": [{"input": data, "hmac": tag}], field: "sha2-512"}
        r = t.post("/v1/keys/tags/verify", batch, admin)
        assert (r.status_code, r.json()["error"]) == (400, "unsupported_algorithm"), field

    # The hash it does use, named either way, still verifies.
    for field in ("hash_algorithm", "algorithm"):
        r = t.post("/v1/keys/tags/verify", {"input": data, "hmac": tag, field: "sha2-256"}, admin)
        assert r.json() == {"valid": True}, field
    assert "error=unsupported_algorithm" in t.audit()
