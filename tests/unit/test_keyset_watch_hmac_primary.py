"""A keyset watch and an HMAC primary key rotated into the file it follows.

A watch that started on a public-key primary key (the service's: its tokens are verified
by others from its JWKS) keeps the keys in use, and says so once; a library user whose
keyset signs with HMAC from the start, or who asks for it, keeps taking rotations.
Real files, rewritten by :meth:`SigningKeySet.save` as another process would.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet
from sealbox.jwt.keyset_watch import KeySetWatch

PASS = "correct horse battery staple"


def _save(keyset: SigningKeySet, path: Path) -> None:
    keyset.save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)


def _watch(path: Path, **kwargs: object) -> KeySetWatch:
    return KeySetWatch(path, lambda: SigningKeySet.load(path, PASS), **kwargs)  # type: ignore[arg-type]


def _rotate_in(path: Path, alg: str) -> str:
    """Rotate a fresh ``alg`` key in as primary, by rewriting the file (another writer)."""
    keyset = SigningKeySet.load(path, PASS)
    kid = keyset.rotate(alg).kid
    _save(keyset, path)
    return kid


def _hmac_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is an HMAC key" in r.getMessage()]


def test_a_watch_on_a_public_key_primary_keeps_its_keys_when_an_hmac_key_becomes_primary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keyset.sealed"
    _save(SigningKeySet.generate("EdDSA"), path)
    watch = _watch(path)
    first = watch.load().primary.kid

    caplog.set_level(logging.INFO, logger="sealbox.jwt")
    hmac_kid = _rotate_in(path, "HS256")
    assert watch.due()
    assert watch.reload() is None
    assert watch.reloads == 0
    assert not watch.due()  # not read again until the file changes
    said = (
        f"the signing keyset {path} changed but its primary key {hmac_kid} is an HMAC key "
        "(HS256), which this process does not sign with: the keys in use stay in use; make "
        "a public-key key (EdDSA) primary with a rotation, then destroy the HMAC key, a "
        "shared secret no relying party can verify with"
    )
    assert _hmac_warnings(caplog) == [said]
    # The shared secret is in no log line.
    document = json.loads(SigningKeySet.load(path, PASS).serialize_unencrypted())
    (secret,) = [e["jwk"]["k"] for e in document["keys"] if e["kid"] == hmac_kid]
    assert [r for r in caplog.records if secret in r.getMessage()] == []
    assert first != hmac_kid

    # Another change that leaves the HMAC key primary: refused again, not said again.
    keyset = SigningKeySet.load(path, PASS)
    keyset.add_key("EdDSA")
    _save(keyset, path)
    assert watch.due()
    assert watch.reload() is None
    assert len(_hmac_warnings(caplog)) == 1

    # The hint, followed: a public-key key rotated in is taken.
    eddsa = _rotate_in(path, "EdDSA")
    taken = watch.reload()
    assert taken is not None
    assert taken.primary.kid == eddsa
    assert watch.reloads == 1


def test_a_watch_on_an_hmac_keyset_takes_a_rotation_to_another_hmac_key(tmp_path: Path) -> None:
    path = tmp_path / "keyset.sealed"
    _save(SigningKeySet.generate("HS256"), path)
    watch = _watch(path)
    watch.load()
    new = _rotate_in(path, "HS256")
    taken = watch.reload()
    assert taken is not None
    assert taken.primary.kid == new
    assert taken.primary.alg == "HS256"


def test_a_watch_that_allows_hmac_takes_an_hmac_primary_after_a_public_key_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keyset.sealed"
    _save(SigningKeySet.generate("EdDSA"), path)
    watch = _watch(path, allow_hmac_primary=True)
    watch.load()
    new = _rotate_in(path, "HS256")
    taken = watch.reload()
    assert taken is not None
    assert taken.primary.kid == new


def test_a_running_watch_hands_over_the_public_key_rotation_and_never_the_hmac_one(
    tmp_path: Path,
) -> None:
    asyncio.run(_run_watch(tmp_path))


async def _run_watch(tmp_path: Path) -> None:
    path = tmp_path / "keyset.sealed"
    _save(SigningKeySet.generate("EdDSA"), path)
    watch = _watch(path, interval=0.01)
    watch.load()
    applied: list[str] = []
    task = asyncio.create_task(watch.run(lambda k: applied.append(k.primary.alg)))
    try:
        await asyncio.to_thread(_rotate_in, path, "HS256")
        while watch.due():
            await asyncio.sleep(0.01)
        await asyncio.to_thread(_rotate_in, path, "ES256")
        # Until handed over, not until reloaded: the reload's count is up on its thread
        # before the watch's task hands the keyset over.
        while not applied:
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert applied == ["ES256"]
