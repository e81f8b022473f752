"""The log line of an unexpected error names the request's path without letting it forge lines."""

from __future__ import annotations

import logging

import pytest

from sealbox.secret import register_secret, unregister_secret
from sealbox.service.middleware import log_unhandled


def test_a_decoded_line_break_in_the_path_is_logged_percent_encoded_on_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GET /a%0A2026-12-06 CRITICAL forged: the ASGI path holds the decoded line break.
    scope = {"method": "GET", "path": "/v1/secret/data/a\n2026-12-06 CRITICAL forged\x00"}
    with caplog.at_level(logging.ERROR, logger="sealbox.service"):
        log_unhandled(scope, RuntimeError("boom"))
    [record] = caplog.records
    message = record.getMessage()
    assert message == (
        "unhandled RuntimeError on GET /v1/secret/data/a%0A2026-12-06%20CRITICAL%20forged%00"
    )
    assert "boom" not in caplog.text


def test_a_path_without_odd_characters_is_logged_as_it_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="sealbox.service"):
        log_unhandled({"method": "POST", "path": "/v1/keys/k:1/encrypt"}, RuntimeError())
    assert caplog.records[0].getMessage() == "unhandled RuntimeError on POST /v1/keys/k:1/encrypt"


def test_a_registered_secret_in_the_path_is_redacted_before_it_is_encoded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "canary value+7/x"  # encoding would change its space and "+"
    register_secret(secret)
    try:
        with caplog.at_level(logging.ERROR, logger="sealbox.service"):
            log_unhandled({"method": "GET", "path": f"/v1/secret/data/{secret}"}, RuntimeError())
    finally:
        unregister_secret(secret)
    message = caplog.records[0].getMessage()
    assert message == "unhandled RuntimeError on GET /v1/secret/data/**********"
    assert "canary" not in caplog.text
