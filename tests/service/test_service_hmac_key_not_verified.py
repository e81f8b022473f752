"""The running service verifies access tokens with the public keys of its signing keyset
only: an HMAC key provisioned before such keys were refused (still in the keyset) signs
no token the service accepts, and the service says at start which key to destroy; one that
is the primary key (every token it signs refused) stops the start, with the commands."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.conftest import run_sealbox
from tests.service.conftest import PASSWORD, bearer, login, serve_process

ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}


def _provisioned_with_an_hmac_key(tmp_path: Path) -> tuple[Path, str]:
    """A data folder with account alice whose keyset holds an HS256 key, put there through
    the library as ``jwt keyset add --type HS256 --data-dir`` did before it refused one."""
    from sealbox.service import DataDir, create_user, load_settings, prepare

    # Made in this process, as ``serve --check`` and ``users create`` make it (the
    # commands under test are the ones run after): two interpreters' starts fewer.
    data = tmp_path / "data"
    settings = load_settings(data_dir=data, password_profile="test", port=0)
    prepare(settings)
    create_user(settings, "alice", lambda _name: PASSWORD)
    folder = DataDir(data)
    keyset = folder.load_keyset()
    kid = keyset.add_key("HS256").kid
    folder.save_keyset(keyset)
    return data, kid


def _token(data: Path, like: str, kid: str | None = None) -> str:
    """An access token with the claims of ``like`` (alice's, from a login), signed by the
    folder's primary key or by key ``kid``."""
    from sealbox.jwt import decode_unverified
    from sealbox.jwt.defaults import REGISTERED_CLAIMS
    from sealbox.service import DataDir

    claims = decode_unverified(like).claims
    keyset = DataDir(data).load_keyset()  # in memory only: the file is not changed
    if kid is not None:
        keyset.set_primary(kid)
    return keyset.issue(
        claims["sub"],
        audience=claims["aud"],
        issuer=claims["iss"],
        scope=claims["scope"],
        claims={k: v for k, v in claims.items() if k not in REGISTERED_CLAIMS},
    )


def _header(token: str) -> dict[str, str]:
    part = token.split(".", maxsplit=1)[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_token_signed_with_an_hmac_key_of_the_service_keyset_is_refused(
    tmp_path: Path,
) -> None:
    data, hmac_kid = _provisioned_with_an_hmac_key(tmp_path)
    with serve_process(tmp_path, data_dir=data, env=ENV) as running, running.client() as c:
        r = login(c, "alice")
        assert r.status_code == 200, r.text
        issued = r.json()["access_token"]
        eddsa, hs256 = _token(data, issued), _token(data, issued, hmac_kid)
        assert _header(eddsa)["alg"] == "EdDSA"
        assert (_header(hs256)["alg"], _header(hs256)["kid"]) == ("HS256", hmac_kid)
        assert c.get("/users/me", headers=bearer(eddsa)).status_code == 200
        refused = c.get("/users/me", headers=bearer(hs256))
        assert refused.status_code == 401
        assert c.get("/users/me", headers=bearer(eddsa)).status_code == 200


def test_the_service_names_the_hmac_key_to_destroy_once_at_start_and_never_its_secret(
    tmp_path: Path,
) -> None:
    data, hmac_kid = _provisioned_with_an_hmac_key(tmp_path)
    from sealbox.service import DataDir

    document = json.loads(DataDir(data).load_keyset().serialize_unencrypted())
    secrets = [
        entry["jwk"][name]
        for entry in document["keys"]
        for name in ("k", "d")
        if name in entry["jwk"]
    ]
    assert len(secrets) == 2  # the HMAC key's and the EdDSA key's private part
    with serve_process(tmp_path, data_dir=data, env=ENV) as running:
        pass
    warnings = [line for line in running.stderr.splitlines() if hmac_kid in line]
    assert warnings == [
        (
            f"sealbox: warning: the signing keyset holds HMAC key {hmac_kid} (HS256), a shared "
            "secret no relying party can verify with: the service accepts no token it signs; "
            f"destroy it with 'sealbox jwt keyset destroy --data-dir {data} -- {hmac_kid}'"
        )
    ]
    assert [s for s in secrets if s in running.stderr] == []


def _primary_hmac(tmp_path: Path) -> tuple[Path, str]:
    """A folder whose keyset's primary key is an HS256 key, as a ``jwt keyset rotate --type
    HS256 --data-dir`` made it before the service's keyset refused one."""
    from sealbox.service import DataDir

    data, kid = _provisioned_with_an_hmac_key(tmp_path)
    folder = DataDir(data)
    keyset = folder.load_keyset()
    keyset.set_primary(kid)
    folder.save_keyset(keyset)
    return data, kid


def test_serve_refuses_to_start_when_the_primary_key_is_an_hmac_key_and_says_how_to_fix(
    tmp_path: Path,
) -> None:
    data, kid = _primary_hmac(tmp_path)
    for check in (["--check"], []):
        r = run_sealbox(["serve", "--data-dir", data, "--port", "0", *check], env=ENV, timeout=60)
        stderr = r.stderr.decode()
        assert r.returncode == 1, stderr
        assert stderr.splitlines() == [
            (
                f"sealbox: error: the primary key {kid} of the signing keyset "
                f"{data / 'jwt-keyset.sealed'} is an HMAC key (HS256): the service refuses "
                "every token it signs (401 after each sign-in)"
            ),
            (
                "sealbox: hint: make an EdDSA key sign: 'sealbox jwt keyset rotate --data-dir "
                f"{data} --type EdDSA', then destroy the HMAC key, a shared secret: 'sealbox "
                f"jwt keyset destroy --data-dir {data} -- {kid}'"
            ),
        ]
    # The commands of the hint, as said, make the folder serve again, without a warning.
    r = run_sealbox(["jwt", "keyset", "rotate", "--data-dir", data, "--type", "EdDSA"], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    r = run_sealbox(["jwt", "keyset", "destroy", "--data-dir", data, "--yes", "--", kid], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    r = run_sealbox(["serve", "--data-dir", data, "--port", "0", "--check"], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    # (The one warning left is of this test's cheap password profile.)
    warnings = [line for line in r.stderr.decode().splitlines() if "warning" in line]
    assert [line for line in warnings if "'test' password profile" not in line] == []


def test_the_library_refuses_to_prepare_a_folder_whose_primary_key_is_an_hmac_key(
    tmp_path: Path,
) -> None:
    from sealbox.exceptions import ConfigError
    from sealbox.service import load_settings, prepare

    data, kid = _primary_hmac(tmp_path)
    with pytest.raises(ConfigError) as info:
        prepare(load_settings(data_dir=data, password_profile="test", port=0))
    assert info.value.code == "service_key_symmetric"
    assert info.value.facts == {
        "key_id": kid,
        "algorithm": "HS256",
        "folder": str(data),
        "failed": "primary",
    }
    assert "sealbox " not in (info.value.hint or "")  # the library names no command
