"""Settings that fail to load leave no secret in the error, its chain or its frames."""

from __future__ import annotations

import traceback
from typing import Annotated, Any

import pytest
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import SettingsError

from sealbox.integrations.pydantic_settings import SealboxSettings
from sealbox.secret import REDACTED, Secret
from sealbox.secrets import EnvSource, SecretsChain

CANARY = "canary-settings-leak-62f0"


def _everything_said(exc: BaseException) -> str:
    """What an error shows, said or hidden: its text, errors(), the errors it was raised
    while handling (``__context__``, shown or not), and the locals of every frame."""
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(f"{seen!s} {seen!r} {vars(seen)!r}")
        if isinstance(seen, ValidationError):
            parts.append(f"{seen.errors()!r} {seen.json()}")
        parts.append(getattr(seen, "doc", ""))  # a JSONDecodeError's whole text
        seen = seen.__cause__ or seen.__context__
    te = traceback.TracebackException.from_exception(exc, capture_locals=True, compact=False)
    parts.extend(te.format())
    return "\n".join(map(str, parts))


def _settings(environ: dict[str, str], **fields: Any) -> type[SealboxSettings]:
    namespace: dict[str, Any] = {
        "__annotations__": dict(fields),
        "sealbox_chain": SecretsChain(EnvSource(environ=environ)),
    }
    return type("Settings", (SealboxSettings,), namespace)


def test_a_failing_value_is_not_kept_in_the_error_it_was_raised_while_handling() -> None:
    # The redacted ValidationError was raised inside the handler of pydantic's: the
    # original, whose errors() hold the decrypted input, stayed its __context__.
    settings = _settings(
        {"TOKEN": CANARY, "PORT": CANARY},
        token=Annotated[str, Field(max_length=3)],
        port=int,
    )
    with pytest.raises(ValidationError) as info:
        settings()
    assert info.value.__context__ is None
    assert CANARY not in _everything_said(info.value)
    assert all(err["input"] == REDACTED for err in info.value.errors())


def test_a_validator_quoting_a_keyword_argument_it_refused_shows_it_masked() -> None:
    # Only values registered for redaction (those the chain read) were masked in a
    # message: one given as a keyword argument was quoted as it was.
    class Settings(SealboxSettings):
        sealbox_chain = SecretsChain(EnvSource(environ={}))
        token: Secret[str] = Secret("unset-token")

        @field_validator("token")
        @classmethod
        def refuse(cls, value: Secret[str]) -> Secret[str]:
            raise ValueError(f"bad token {value.expose_secret()!r}")

    with pytest.raises(ValidationError) as info:
        Settings(token=CANARY)
    assert CANARY not in _everything_said(info.value)
    assert f"bad token '{REDACTED}'" in str(info.value)


def test_a_value_that_is_not_json_is_in_no_frame_and_no_chained_error() -> None:
    # The SettingsError was raised inside json's handler (whose error keeps the whole
    # text as .doc) from a frame holding the text and the values read before it:
    # error reporters that show locals (Sentry by default) sent them along.
    settings = _settings(
        {"API_TOKEN": f"{CANARY}-first", "KEYS": f"[{CANARY}-second"},
        api_token=str,
        keys=list[str],
    )
    with pytest.raises(SettingsError) as info:
        settings()
    assert info.value.__context__ is None
    said = _everything_said(info.value)
    assert CANARY not in said and '"keys"' in said
