from __future__ import annotations

import copy
import io
import json
import logging
import pickle
from typing import Any

import pytest

from sealbox.secret import (
    REDACTED,
    RedactingFilter,
    Redactor,
    Secret,
    install_log_redaction,
    redact,
    register_secret,
    unregister_secret,
)

CANARY = "canary-7f3a9c1e-do-not-leak"


def test_secret_never_shows_its_value() -> None:
    s = Secret(CANARY)
    for text in (repr(s), str(s), f"{s}", f"{s!r}", f"{s:>40}", "%s" % s, "{}".format(s)):  # noqa: UP031, UP032
        assert CANARY not in text
        assert REDACTED in text
    assert s.expose_secret() == CANARY
    b = Secret(CANARY.encode())
    assert CANARY not in repr(b) and b.expose_secret() == CANARY.encode()


def test_secret_in_containers_and_exceptions() -> None:
    s = Secret(CANARY)
    assert CANARY not in repr([s, {"k": s}])
    assert CANARY not in str(ValueError(s))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_secret_refuses_pickling(protocol: int) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(CANARY), protocol=protocol)


def test_secret_is_immutable_and_copies_are_itself() -> None:
    s = Secret(CANARY)
    with pytest.raises(AttributeError):
        s._value = "x"  # type: ignore[misc]
    assert copy.copy(s) is s and copy.deepcopy(s) is s


def test_secret_equality_and_no_hash() -> None:
    assert Secret("abc") == Secret("abc")
    assert Secret("abc") != Secret("abd")
    assert Secret("abc") != Secret(b"abc")
    assert Secret("abc") != "abc"
    with pytest.raises(TypeError):
        hash(Secret("abc"))
    assert not Secret("") and Secret("x")


def test_secret_refuses_a_bytearray_the_caller_could_change_after_wrapping() -> None:
    buf = bytearray(b"secret-bytes")
    with pytest.raises(TypeError):
        Secret(buf)  # type: ignore[type-var]
    s = Secret(bytes(buf))  # a copy is what it takes
    buf[:] = b"x" * len(buf)
    assert s.expose_secret() == b"secret-bytes"


def test_secret_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        Secret(123)  # type: ignore[type-var]


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTAp",  # cut short
        "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX",
        "age-secret-key-1gfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpq4egaex",
        "AGE-SECRET-KEY-PQ-1XXQQXXQQXXQQXXQQXXQQXXQQXXQQXXQQXX",
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz",
    ],
)
def test_redactor_recognises_key_material(text: str) -> None:
    out = Redactor().redact(f"before {text} after")
    assert out.startswith("before ")
    body = text.splitlines()[1] if "\n" in text else text[-20:]
    assert body not in out
    assert REDACTED in out


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Authorization: Bearer abc.def-123", "abc.def-123"),
        ("authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("{'Authorization': 'Bearer tok_12345'}", "tok_12345"),
        ('{"proxy-authorization": "opaque-cred"}', "opaque-cred"),
        ("Authorization: tokenvalue99", "tokenvalue99"),
    ],
)
def test_redactor_hides_authorization_credentials(text: str, hidden: str) -> None:
    out = Redactor().redact(text)
    assert hidden not in out
    assert "uthorization" in out  # the header name stays, for debugging


def test_registered_values_and_their_encodings() -> None:
    r = Redactor()
    raw = bytes(range(200, 232))
    r.add(CANARY)
    r.add(raw)
    r.add(Secret("another-secret-value"))
    import base64

    for form in (
        CANARY,
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "another-secret-value",
    ):
        assert form not in r.redact(f"x {form} y"), form
    r.discard(CANARY)
    assert CANARY in r.redact(CANARY)
    r.clear()
    assert "another-secret-value" in r.redact("another-secret-value")


def test_a_value_holding_bytes_that_are_not_utf8_is_registered_and_redacted() -> None:
    # What os.environ gives for SEALBOX_PASSPHRASE=$'pass\xffword'.
    value = "pass\udcffword"
    redactor = Redactor()
    redactor.add(Secret(value))
    assert redactor.redact(f"got {value}!") == f"got {REDACTED}!"


def test_short_values_are_not_registered() -> None:
    r = Redactor()
    r.add("abc")
    assert r.redact("abc abc") == "abc abc"


def test_longest_value_wins() -> None:
    r = Redactor()
    r.add("secret")
    r.add("secret-and-more")
    assert r.redact("secret-and-more") == REDACTED


def _logger(redactor: Redactor | None = None) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger(f"sealbox-test-{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_filter_redacts_message_arguments_and_exceptions() -> None:
    register_secret(CANARY)
    try:
        logger, stream = _logger()
        logger.info("login with %s", CANARY)
        logger.info("dict args %(pw)s", {"pw": CANARY})
        logger.info(f"inline {CANARY}")
        logger.info("secret object %s", Secret("not-registered-but-wrapped"))
        try:
            raise RuntimeError(f"failed for {CANARY}")
        except RuntimeError:
            logger.exception("boom")
        logger.info("stack", stack_info=True)
        text = stream.getvalue()
        assert CANARY not in text
        assert "not-registered-but-wrapped" not in text
        assert "RuntimeError: failed for " + REDACTED in text
        assert text.count(REDACTED) >= 4
    finally:
        unregister_secret(CANARY)


def test_filter_redacts_the_extra_fields_a_structured_formatter_prints() -> None:
    # logger.info("...", extra={...}): JSON and key=value formatters print these fields.
    register_secret(CANARY)
    try:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(message)s token=%(token)s ctx=%(ctx)s n=%(n)s"))
        handler.addFilter(RedactingFilter())
        logger = logging.getLogger(f"sealbox-test-extra-{id(stream)}")
        logger.handlers = [handler]
        logger.propagate = False
        ctx = {"password": CANARY, "ids": [1, CANARY], "auth": "Authorization: Bearer abc123"}
        logger.warning("login", extra={"token": CANARY, "ctx": ctx, "n": 42})
        text = stream.getvalue()
        assert CANARY not in text and "abc123" not in text
        assert "n=42" in text and "'ids': [1, '**********']" in text
        assert ctx["password"] == CANARY  # the caller's own objects are left as they were
    finally:
        unregister_secret(CANARY)


def test_filter_keeps_records_with_broken_format_strings() -> None:
    logger, stream = _logger(Redactor())
    logger.info("two args %s %s", CANARY + "-x")
    assert "two args" in stream.getvalue()


def test_install_on_root_logger_handlers() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        flt = install_log_redaction()
        install_log_redaction()  # idempotent per handler
        assert handler.filters == [flt]
        logging.getLogger("sealbox.some.child").warning(
            "key AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
        )
        assert "GFPYYSJZ" not in stream.getvalue()
    finally:
        root.removeHandler(handler)
    h2 = logging.StreamHandler(io.StringIO())
    assert isinstance(install_log_redaction(h2), RedactingFilter) and h2.filters


def test_installing_on_a_handler_again_keeps_its_one_filter() -> None:
    handler = logging.StreamHandler(io.StringIO())
    first = install_log_redaction(handler)
    assert install_log_redaction(handler) is first
    assert handler.filters == [first]
    other = install_log_redaction(handler, Redactor())
    assert handler.filters == [first, other]


def test_redactor_hides_refresh_tokens_and_client_secrets_by_their_shape() -> None:
    from sealbox.accounts.client_secrets import new_client_secret
    from sealbox.accounts.store import new_refresh_token

    for credential in (new_refresh_token(), new_client_secret()):
        out = Redactor().redact(f"client_secret={credential}&x=1 and '{credential}'")
        assert credential not in out and credential[-20:] not in out
        assert out.count(REDACTED) == 2


def test_a_client_id_and_prefixed_words_are_not_redacted() -> None:
    text = "client sbc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA asked; sbr_short sbs_"
    assert Redactor().redact(text) == text


def test_module_level_redact() -> None:
    assert REDACTED in redact("Authorization: Bearer xyz")


def _every_pattern(text: str) -> str:
    """What redact gave before it looked for each pattern's fixed text first."""
    from sealbox.secret import _AUTH_HEADER, _PATTERNS, _redact_auth

    for known in _PATTERNS:
        text = known.sub(REDACTED, text)
    return _AUTH_HEADER.sub(_redact_auth, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        '{"time": "2026-12-04T14:26:26.123456Z", "event": "transit.encrypt", "user": "u"}',
        "Authorization: Bearer abc",
        "AUTHORIZATION=basic xyz",
        "authorızation: Bearer dotless-i-matches-case-insensitively",  # noqa: RUF001
        "AUTHORİZATION: Bearer dotted-capital-i",
        "Authorization: Bearer kelvin-\u212a and é",
        "age-secret-key-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZ é",
        "AGE-SECRET-\u212aEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZ",
        "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY----- ü",
        "-----begin private key----- stays: the PEM pattern is case-sensitive",
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2ln and eyj.lower",
        "user=ü address=127.0.0.1 detail=key=k version=1 \u2028",
        "refresh sbr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA, secret sbs_BBBB",
    ],
)
def test_skipping_patterns_whose_text_is_absent_redacts_exactly_as_before(text: str) -> None:
    assert Redactor().redact(text) == _every_pattern(text)


@pytest.mark.parametrize(
    "value",
    [
        "back\\slash-passphrase",
        "p\u00e4ssw\u00f6rd-with-umlauts",
        "tab\tinside-the-value",
        "both-quotes-\"and'-here",
        "a-line\nbreak-value",
    ],
)
@pytest.mark.parametrize(
    "shown",
    [
        repr,  # "%r", a dict or list in a message, an exception's args
        json.dumps,  # a JSON payload or structured line
        lambda v: json.dumps(v, ensure_ascii=False),
        lambda v: repr(v.encode()),  # the value encoded, then shown as bytes
    ],
)
def test_a_registered_value_is_redacted_in_its_escaped_forms(value: str, shown: Any) -> None:
    redactor = Redactor()
    redactor.add(Secret(value))
    text = redactor.redact(f"config: {{'password': {shown(value)}}}")
    assert REDACTED in text
    for part in value.split("\\", maxsplit=1)[0], value[-8:]:
        assert part not in text


@pytest.mark.parametrize(
    "text",
    [
        "[(b'authorization', b'Basic dXNlcjpwYXNzd29yZA==')]",  # an ASGI scope's headers
        "[('Authorization', 'Bearer opaque-token-42')]",  # http.client, a WSGI app
        '[("proxy-authorization", "Basic dXNlcjpwYXNzd29yZA==")]',
    ],
)
def test_redactor_hides_authorization_credentials_in_header_pairs(text: str) -> None:
    out = Redactor().redact(text)
    assert "dXNlcjpwYXNzd29yZA" not in out
    assert "opaque-token-42" not in out
    assert "uthorization" in out


def test_secrets_holding_bytes_that_are_not_utf8_compare_without_an_error() -> None:
    # os.environ (and so EnvSource) holds a byte that is not UTF-8 as a lone surrogate:
    # comparing must not raise an error that quotes that character and its position.
    value = CANARY + "\udcff"
    assert Secret(value) == Secret(value)
    assert Secret(value) != Secret(CANARY + "\udcfe")
    assert Secret(value) != Secret(CANARY)


def test_a_secrets_value_cannot_be_deleted() -> None:
    s = Secret(CANARY)
    with pytest.raises(AttributeError, match="immutable"):
        del s._value
    assert s.expose_secret() == CANARY


def test_a_secret_refuses_to_be_initialised_again() -> None:
    s = Secret(CANARY)
    with pytest.raises(TypeError, match="immutable"):
        s.__init__("other-value")  # type: ignore[misc]
    assert s.expose_secret() == CANARY


def test_subclasses_copies_and_pickling_of_secrets_are_as_before_the_init_guard() -> None:
    class Token(Secret[str]):
        __slots__ = ()

        def __init__(self, value: str) -> None:
            super().__init__(value.strip())

    class Loose(Secret[str]):  # no __slots__: instances have a __dict__
        pass

    token, loose = Token(f"  {CANARY}\n"), Loose(CANARY)
    assert token.expose_secret() == CANARY and loose.expose_secret() == CANARY
    assert copy.copy(token) is token and copy.deepcopy(loose) is loose
    with pytest.raises(TypeError, match="immutable"):
        token.__init__("other-value")
    for s in (token, loose):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(s)


def test_a_value_registered_twice_stays_masked_until_discarded_twice() -> None:
    r = Redactor()
    r.add(CANARY)
    r.add(Secret(CANARY))
    r.discard(CANARY)
    assert r.redact(f"x {CANARY} y") == f"x {REDACTED} y"
    r.discard(CANARY)
    assert r.redact(f"x {CANARY} y") == f"x {CANARY} y"


def test_discarding_a_value_never_registered_leaves_the_others_masked() -> None:
    # str and bytes of the same text have the same forms: each registration counts once.
    r = Redactor()
    r.add(CANARY)
    r.add(CANARY.encode())  # the same forms, registered a second way
    r.discard("never-registered-value")
    r.discard(CANARY.encode())
    assert r.redact(CANARY) == REDACTED
    r.discard(CANARY)
    assert r.redact(CANARY) == CANARY


def test_installing_on_a_logger_without_handlers_warns_that_nothing_was_covered() -> None:
    logger = logging.getLogger("sealbox-test-no-handlers-yet")
    assert not logger.handlers
    with pytest.warns(RuntimeWarning, match="has no handlers"):
        flt = install_log_redaction(logger)
    assert isinstance(flt, RedactingFilter)
