"""One table maps transit error codes to HTTP statuses; the client maps answers back."""

from __future__ import annotations

import re

import sealbox.transit.errors as transit_errors
from sealbox.exceptions import DecryptionError, KeyNotFoundError, SealboxError
from sealbox.service.transit_errors import TRANSIT_STATUSES, transit_api_error, wire_code
from sealbox.transit import KeyVersionTooOldError
from sealbox.transit.client import ERROR_CLASSES, error_from_answer
from tests.conftest import ROOT

# Errors of the client's own side of the wire, never answered by the service.
_CLIENT_SIDE = {"TransitError", "ServiceError", "ServiceUnreachableError"}


def test_every_refusal_the_library_raises_has_a_status() -> None:
    for name in transit_errors.__all__:
        if name not in _CLIENT_SIDE:
            assert getattr(transit_errors, name).code in TRANSIT_STATUSES, name
    for cls in (DecryptionError, KeyNotFoundError):
        assert cls.code in TRANSIT_STATUSES


def test_the_client_turns_each_answer_back_into_the_class_that_made_it() -> None:
    for wire, cls in ERROR_CLASSES.items():
        assert TRANSIT_STATUSES[cls.code][1].value == wire, wire
        error = error_from_answer({"error": wire, "message": "m"}, "fallback")
        assert type(error) is cls and error.code == wire and str(error) == "m"
    unknown = error_from_answer({"error": "too_many_requests"}, "the service answered 429")
    assert unknown.code == "too_many_requests" and str(unknown) == "the service answered 429"


def test_a_refusal_becomes_its_answer_and_anything_else_stays_an_internal_error() -> None:
    refused = KeyVersionTooOldError("too old", facts={"version": 1})
    answer = transit_api_error(refused)
    assert answer is not None and (answer.status, answer.code.value) == (400, "key_version_too_old")
    assert answer.message == "too old"
    assert transit_api_error(KeyNotFoundError("no key")).status == 404
    assert wire_code(KeyNotFoundError("no key")) == "not_found"
    sealed = DecryptionError("cannot open", code="sealed_material_unopened")
    assert transit_api_error(sealed) is None and wire_code(sealed) is None
    assert transit_api_error(SealboxError("other")) is None


def test_the_guide_prints_the_table() -> None:
    guide = (ROOT / "docs" / "transit.md").read_text()
    section = guide[guide.index("| library code | status | `error` |") :].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d+) \| `([a-z_]+)` \|$", section, re.MULTILINE)
    assert {code: (int(status), wire) for code, status, wire in rows} == {
        code: (status, error.value) for code, (status, error) in TRANSIT_STATUSES.items()
    }
