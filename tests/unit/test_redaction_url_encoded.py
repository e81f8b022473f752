"""A registered value is redacted where a URL carries it percent-encoded.

HTTP clients log the URLs they request (httpx's "HTTP Request: GET …", urllib3's debug
lines); a token in a query string is percent-encoded there, and a base64 token's
``+``, ``/`` and ``=`` become ``%2B``, ``%2F`` and ``%3D``.
"""

from __future__ import annotations

import io
import logging
from urllib.parse import quote, quote_plus, urlencode

import pytest

from sealbox.secret import REDACTED, RedactingFilter, Redactor

CANARY = "canary+url/enc=ode d'9"


@pytest.mark.parametrize(
    "shown",
    [
        quote(CANARY, safe=""),
        quote(CANARY),
        quote_plus(CANARY),
        urlencode({"token": CANARY}).removeprefix("token="),
    ],
    ids=["quote, nothing safe", "quote, / safe", "quote_plus", "urlencode"],
)
def test_a_registered_value_percent_encoded_in_a_url_is_redacted(shown: str) -> None:
    redactor = Redactor()
    redactor.add(CANARY)
    line = f"HTTP Request: GET https://api.example/v1?token={shown}&x=1 200"
    assert (
        redactor.redact(line)
        == f"HTTP Request: GET https://api.example/v1?token={REDACTED}&x=1 200"
    )


def test_a_bytes_value_percent_encoded_is_redacted() -> None:
    raw = b"\xffcanary-bytes\x00/+"
    redactor = Redactor()
    redactor.add(raw)
    assert redactor.redact(f"GET /x?k={quote_plus(raw)}") == f"GET /x?k={REDACTED}"


def test_a_logged_url_holding_a_registered_token_reaches_the_handler_redacted() -> None:
    redactor = Redactor()
    redactor.add(CANARY)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(redactor))
    log = logging.getLogger("test.redaction.url")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("HTTP Request: %s %s", "GET", f"https://h/?{urlencode({'t': CANARY})}")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue() == f"HTTP Request: GET https://h/?t={REDACTED}\n"
    assert "url%2Fenc" not in stream.getvalue()


def test_discard_forgets_the_percent_encoded_forms_too() -> None:
    redactor = Redactor()
    redactor.add(CANARY)
    redactor.discard(CANARY)
    shown = quote_plus(CANARY)
    assert redactor.redact(shown) == shown
