"""`sealbox seal` and `sealbox open`: errors that the transcripts of test_keyring_cli leave out."""

from __future__ import annotations

from pathlib import Path

import pytest

PASS = "canary-cli-passphrase-5b0e"
ENV = {"SEALBOX_PASSPHRASE": PASS}


@pytest.fixture
def keyring(tmp_path: Path, cli) -> Path:
    path = tmp_path / "app.keyring"
    assert cli(["keyring", "create", path], env=ENV).code == 0
    return path


def test_deterministic_seal_of_nothing_says_why_with_a_hint(cli, keyring: Path) -> None:
    r = cli(["seal", "-K", keyring, "--deterministic"], input=b"", env=ENV)
    assert r.code == 1 and r.stdout == b""
    assert r.stderr.splitlines() == [
        "sealbox: error: --deterministic cannot seal an empty value (stdin was empty)",
        (
            "sealbox: hint: AES-SIV needs at least one byte; seal it without --deterministic, "
            "which takes empty values"
        ),
    ]
    # Without --deterministic, an empty value seals and opens.
    token = cli(["seal", "-K", keyring], input=b"", env=ENV).stdout
    r = cli(["open", "-K", keyring], input=token, env=ENV)
    assert r.code == 0 and r.stdout == b""
