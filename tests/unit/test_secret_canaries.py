"""A canary in a ``Secret`` stays hidden wherever Python turns an object into text."""

from __future__ import annotations

import dataclasses
import hmac
import io
import json
import logging
import pprint
import reprlib
import string
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from sealbox.secret import REDACTED, RedactingFilter, Redactor, Secret

CANARY = "canary-secret-text-4d2e81"


def _secrets() -> list[Secret[Any]]:
    return [Secret(CANARY), Secret(CANARY.encode())]


def _raises_inner(secret: object) -> None:
    raise ValueError("boom")


def _traceback_with_locals(secret: Secret[Any]) -> str:
    try:
        _raises_inner(secret)
    except ValueError as exc:
        return "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        )
    raise AssertionError("not raised")


@dataclasses.dataclass
class _Settings:
    token: object


RENDERINGS: dict[str, Callable[[Secret[Any]], str]] = {
    "repr": repr,
    "ascii": ascii,
    "str": str,
    "f-string": lambda s: f"{s} {s!r} {s!a} {s:>40} {s=}",
    "percent": lambda s: "%s %r %a" % (s, s, s),  # noqa: UP031
    "format": "{0} {0!r} {0:^30}".format,
    "template": lambda s: string.Template("$v").substitute(v=s),
    "json default=str": lambda s: json.dumps({"k": s}, default=str),
    "pprint": lambda s: pprint.pformat({"k": [s]}),
    "reprlib": lambda s: reprlib.repr([s]),
    "dataclass": lambda s: repr(_Settings(s)) + repr(dataclasses.asdict(_Settings(s))),
    "exception": lambda s: str(ValueError(s)) + repr(KeyError(s)),
    "traceback locals": _traceback_with_locals,
}


@pytest.mark.parametrize("render", RENDERINGS.values(), ids=RENDERINGS.keys())
def test_no_rendering_of_a_secret_shows_its_value(render: Callable[[Secret[Any]], str]) -> None:
    for secret in _secrets():
        text = render(secret)
        assert CANARY not in text and REDACTED in text


def test_json_refuses_a_secret_without_showing_it() -> None:
    for secret in _secrets():
        with pytest.raises(TypeError) as info:
            json.dumps({"token": secret})
        assert CANARY not in str(info.value)


def test_logging_a_secret_as_an_argument_or_an_extra_field_shows_no_value() -> None:
    # No filter: the Secret's own str and repr are all a handler ever gets.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s|%(token)s|%(nested)s"))
    logger = logging.getLogger("sealbox.tests.secret_canaries")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for secret in _secrets():
            logger.warning("%s %r", secret, secret, extra={"token": secret, "nested": [secret]})
            logger.warning(secret, extra={"token": {"k": secret}, "nested": (secret,)})
    finally:
        logger.removeHandler(handler)
    assert CANARY not in stream.getvalue() and stream.getvalue().count(REDACTED) >= 12


def test_the_filter_masks_an_exposed_value_in_arguments_and_extra_fields() -> None:
    redactor = Redactor()
    redactor.add(Secret(CANARY))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s|%(token)s"))
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger("sealbox.tests.secret_canaries.filtered")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("%s and %r", CANARY, {"pw": CANARY}, extra={"token": {"pw": [CANARY]}})
    finally:
        logger.removeHandler(handler)
    assert CANARY not in stream.getvalue() and REDACTED in stream.getvalue()


def test_equality_compares_with_hmac_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    # Constant-time comparison is compare_digest's promise; this pins that it is used.
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert Secret(CANARY) == Secret(CANARY)
    assert Secret(CANARY) != Secret(CANARY[:-1] + "x")
    assert Secret(CANARY.encode()) == Secret(CANARY.encode())
    assert seen == [
        (CANARY.encode(), CANARY.encode()),
        (CANARY.encode(), (CANARY[:-1] + "x").encode()),
        (CANARY.encode(), CANARY.encode()),
    ]
