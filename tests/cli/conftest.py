"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest

from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet
from tests.cli._jwt import ENV, PASS


@pytest.fixture
def keyset_file(tmp_path):
    """A signing keyset written with cheap KDF parameters (the CLI reads them from the file)."""
    path = tmp_path / "keys.jwt"
    SigningKeySet.generate().save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)
    return path


@pytest.fixture
def jwks_file(cli, keyset_file, tmp_path):
    """The public JWKS of ``keyset_file``, as `sealbox jwt jwks` prints it."""
    result = cli(["jwt", "jwks", keyset_file], env=ENV)
    assert result.code == 0, result.stderr
    path = tmp_path / "jwks.json"
    path.write_bytes(result.stdout)
    return path
