"""An HMAC key made primary in the keyset file of a running ``sealbox serve``.

The service refuses to start on an HMAC primary key; one rotated in while it runs (through
the library, a restore, an older sealbox: ``jwt keyset rotate --data-dir`` refuses HMAC) is
not taken either. The worker keeps its keys, says so once with the rotate-then-destroy
way out, and takes the file again once a public-key key is primary. Real process, real
file rewrites, HTTPS.
"""

from __future__ import annotations

import json

from tests.conftest import run_sealbox
from tests.service.conftest import register
from tests.service.test_signing_key_rotation import (
    jwks_kids,
    kid_of,
    me,
    served,  # noqa: F401 - the fixture
    token_of,
    wait_for,
)

ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}


def test_an_hmac_key_rotated_in_as_primary_is_not_taken_by_the_running_service(
    served,  # noqa: F811 - the fixture
) -> None:
    from sealbox.service import DataDir

    data = served.data_dir
    with served.client() as c:
        assert register(c, "erin").status_code == 201
    token = token_of(served, "erin")
    kids = jwks_kids(served)

    folder = DataDir(data)
    keyset = folder.load_keyset()
    hmac_kid = keyset.rotate("HS256").kid
    folder.save_keyset(keyset)
    err = data.parent / f"serve-{served.port}.err"
    wait_for(lambda: hmac_kid in err.read_text(), "the worker says it keeps its keys")

    # Still signing with, and publishing, the public key it started with.
    assert jwks_kids(served) == kids
    assert kid_of(token_of(served, "erin")) == kids[0]
    assert me(served, token) == 200

    # A second change that leaves the HMAC key primary is not said again.
    keyset = folder.load_keyset()
    added = keyset.add_key("EdDSA").kid
    folder.save_keyset(keyset)
    # The way out the warning gives: a public-key key rotated in, the HMAC key destroyed.
    r = run_sealbox(
        ["jwt", "keyset", "rotate", "--data-dir", data, "--type", "EdDSA", "--json"], env=ENV
    )
    assert r.returncode == 0, r.stderr.decode()
    new = json.loads(r.stdout)["id"]
    r = run_sealbox(
        ["jwt", "keyset", "destroy", "--data-dir", data, "--yes", "--", hmac_kid], env=ENV
    )
    assert r.returncode == 0, r.stderr.decode()
    wait_for(lambda: jwks_kids(served)[0] == new, "the public-key rotation is taken")
    assert set(jwks_kids(served)) == {new, added, *kids}
    assert kid_of(token_of(served, "erin")) == new
    assert me(served, token) == 200

    log = err.read_text()
    said = [line for line in log.splitlines() if hmac_kid in line]
    assert len(said) == 1, log
    assert "is an HMAC key (HS256)" in said[0]
    assert "rotation, then destroy the HMAC key" in said[0]
    master = (data / "master.key").read_text().split()[1]
    assert master not in log
