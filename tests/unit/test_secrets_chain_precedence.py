"""A chain of the three file and environment sources: who wins, and what a miss says."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox import age
from sealbox.exceptions import SecretSourceError
from sealbox.secrets import DotenvSource, EnvSource, SecretsChain
from sealbox.secrets.sealed import SealedFile, SealedFileSource

CANARY = "canary-chain-precedence-6b0d"


def test_the_first_source_that_has_a_name_wins_and_a_miss_names_every_place(
    tmp_path: Path,
) -> None:
    ident = age.X25519Identity.generate()
    sealed = SealedFile.create(tmp_path / "secrets.env", [str(ident.recipient())])
    sealed.set("SHARED", f"{CANARY}-sealed")
    sealed.set("IN_SEALED", f"{CANARY}-only-sealed")
    sealed.save()
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"SHARED={CANARY}-dotenv\nIN_DOTENV={CANARY}-only-dotenv\nBARE\n")
    chain = SecretsChain(
        EnvSource(prefix="APP_", environ={"APP_SHARED": f"{CANARY}-env"}),
        SealedFileSource(tmp_path / "secrets.env", [ident]),
        DotenvSource(dotenv),
    )
    assert chain.get("SHARED").expose_secret() == f"{CANARY}-env"
    assert chain.get("IN_SEALED").expose_secret() == f"{CANARY}-only-sealed"
    assert chain.get("IN_DOTENV").expose_secret() == f"{CANARY}-only-dotenv"
    assert chain.source_of("IN_SEALED") == f"secrets file {tmp_path / 'secrets.env'}"
    assert chain.names() == ["IN_DOTENV", "IN_SEALED", "SHARED"]
    with pytest.raises(SecretSourceError) as info:
        chain.require(["SHARED", "BARE", "NOWHERE"])
    assert str(info.value) == (
        "missing secrets BARE, NOWHERE (looked in: environment (APP_*), secrets file "
        f"{tmp_path / 'secrets.env'}, .env file {dotenv})"
    )
    assert CANARY not in repr(info.value) and CANARY not in repr(chain)
