"""A source's error carries no value in its frames' locals nor in the error behind it.

Error reporters show the locals of every frame of a traceback (Sentry by default), and a
hidden ``__context__`` is still there to read: a ``.env`` file that fails to parse must
not send its text along with the error.
"""

from __future__ import annotations

import base64
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from sealbox import age
from sealbox.exceptions import SecretSourceError
from sealbox.secrets import DotenvSource, EnvSource, SecretsChain
from sealbox.secrets.sealed import SealedFile

CANARY = "canary-source-frames-a7c3"


def _everything_said(exc: BaseException) -> str:
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(f"{seen!s} {seen!r} {vars(seen)!r}")
        parts.append(repr(getattr(seen, "object", "")))  # a UnicodeDecodeError's bytes
        seen = seen.__cause__ or seen.__context__
    te = traceback.TracebackException.from_exception(exc, capture_locals=True, compact=False)
    parts.extend(te.format())
    return "\n".join(parts)


def _raised(make: Callable[[], object]) -> SecretSourceError:
    # A function of its own: the test's frame, in the traceback too, holds no value.
    with pytest.raises(SecretSourceError) as info:
        make()
    return info.value


DOTENV_FAILURES = {
    "unparsable": f'A={CANARY}\nB="never closed\n'.encode(),
    "twice": f"A={CANARY}\nA=again\n".encode(),
    "nul": f'A={CANARY}\nB="x\0y"\n'.encode(),
    "not utf-8": f"A={CANARY}\n".encode() + b"B=\xff\n",
    "bad name": f"A={CANARY}\n1B=x\n".encode(),
}


@pytest.mark.parametrize("body", DOTENV_FAILURES.values(), ids=DOTENV_FAILURES.keys())
def test_a_dotenv_file_that_fails_to_load_leaves_its_values_in_no_frame(
    tmp_path: Path, body: bytes
) -> None:
    path = tmp_path / ".env"
    path.write_bytes(body)
    error = _raised(lambda: DotenvSource(path))
    assert error.__context__ is None
    assert CANARY not in _everything_said(error)
    assert f"{path}:2" in str(error)


def test_a_value_that_is_not_base64_is_in_no_frame_of_the_error() -> None:
    chain = SecretsChain(EnvSource(environ={"KEY": f"{CANARY}!!"}))
    error = _raised(lambda: chain.get_bytes("KEY"))
    assert CANARY not in _everything_said(error)
    assert "KEY from environment is not base64" in str(error)


def _sealed_with(path: Path, name: str, plaintext: bytes) -> tuple[SealedFile, age.Identity]:
    """A sealed file holding ``name`` whose decrypted bytes are ``plaintext`` as given
    (a value moved from another line, or bytes that are no UTF-8): made by hand."""
    from sealbox.age import X25519Identity

    identity = X25519Identity.generate()
    sealed = SealedFile.create(path, [str(identity.recipient())])
    sealed.set(name, "placeholder")
    sealed.save()
    made = base64.b64encode(age.encrypt(plaintext, [identity.recipient()])).decode()
    lines = [
        f"{name}={made}" if line.startswith(f"{name}=") else line
        for line in path.read_text().splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")
    SealedFile.accept(path)
    return SealedFile.load(path), identity


SEALED_FAILURES = {
    "moved": b"sealbox-secret/1 OTHER\n" + CANARY.encode(),
    "not utf-8": b"sealbox-secret/1 A\n" + CANARY.encode() + b"\xff",
}


@pytest.mark.parametrize("plaintext", SEALED_FAILURES.values(), ids=SEALED_FAILURES.keys())
def test_a_sealed_value_that_fails_to_open_leaves_its_bytes_in_no_frame(
    tmp_path: Path, plaintext: bytes
) -> None:
    sealed, identity = _sealed_with(tmp_path / "secrets.age", "A", plaintext)
    error = _raised(lambda: sealed.get("A", [identity]))
    assert error.__context__ is None
    assert CANARY not in _everything_said(error)
    assert str(error).startswith(f"{tmp_path / 'secrets.age'}:")
