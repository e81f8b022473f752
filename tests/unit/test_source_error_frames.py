"""A source's error carries no value in its frames' locals nor in the error behind it.

Error reporters show the locals of every frame of a traceback (Sentry by default), and a
hidden ``__context__`` is still there to read: a ``.env`` file that fails to parse must
not send its text along with the error.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from sealbox.exceptions import SecretSourceError
from sealbox.secrets import DotenvSource, EnvSource, SecretsChain

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
