"""Environment and .env sources, and the chain over them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sealbox.exceptions import SecretSourceError
from sealbox.secret import RedactingFilter, Secret, default_redactor
from sealbox.secrets import DotenvSource, EnvSource, SecretsChain

CANARY = "canary-secret-value-8e1f"


def test_env_source() -> None:
    env = {"APP_DB": CANARY, "APP_EMPTY": "", "OTHER": "x", "APP_": "y"}
    src = EnvSource(prefix="APP_", environ=env)
    assert src.lookup("DB").expose_secret() == CANARY
    assert src.lookup("EMPTY").expose_secret() == ""
    assert src.lookup("OTHER") is None
    assert src.names() == ["DB", "EMPTY"]
    assert CANARY not in repr(src) and src.label == "environment (APP_*)"


def test_env_source_reads_live_environment(monkeypatch) -> None:
    src = EnvSource()
    monkeypatch.setenv("SEALBOX_TEST_LIVE", "one")
    assert src.lookup("SEALBOX_TEST_LIVE").expose_secret() == "one"
    monkeypatch.setenv("SEALBOX_TEST_LIVE", "two")
    assert src.lookup("SEALBOX_TEST_LIVE").expose_secret() == "two"


def test_dotenv_source(tmp_path: Path) -> None:
    f = tmp_path / ".env"
    f.write_text(
        "# comment\n"
        f"DB_PASSWORD={CANARY}\n"
        "export TOKEN='quoted value'\n"
        'MULTI="line1\\nline2"\n'
        "EMPTY=\n"
        "NO_INTERPOLATION=${DB_PASSWORD}\n"
    )
    src = DotenvSource(f)
    assert src.names() == ["DB_PASSWORD", "EMPTY", "MULTI", "NO_INTERPOLATION", "TOKEN"]
    assert src.lookup("DB_PASSWORD").expose_secret() == CANARY
    assert src.lookup("TOKEN").expose_secret() == "quoted value"
    assert src.lookup("MULTI").expose_secret() == "line1\nline2"
    assert src.lookup("NO_INTERPOLATION").expose_secret() == "${DB_PASSWORD}"
    assert CANARY not in repr(src)
    f.write_text("DB_PASSWORD=changed\n")
    src.reload()
    assert src.lookup("DB_PASSWORD").expose_secret() == "changed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"A=1\nB={CANARY}\nA=2\n", r":3: A is already defined on line 1"),
        (f"A=1\nthis is not = valid\nB={CANARY}\n", r":2: cannot parse this line"),
        (f"1BAD={CANARY}\n", r":1: "),
    ],
)
def test_dotenv_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "app.env"
    f.write_text(text)
    with pytest.raises(SecretSourceError, match=message) as info:
        DotenvSource(f)
    assert str(f) in str(info.value) and CANARY not in str(info.value)


def test_a_bare_name_in_a_dotenv_file_is_no_value_and_does_not_hide_a_later_source(
    tmp_path: Path,
) -> None:
    import dotenv

    path = tmp_path / ".env"
    path.write_text("DB_PASSWORD\nAPI_KEY=\n")
    assert dotenv.dotenv_values(path) == {"DB_PASSWORD": None, "API_KEY": ""}
    source = DotenvSource(path)
    assert source.lookup("DB_PASSWORD") is None
    assert source.lookup("API_KEY") is not None  # an empty value is a value
    chain = SecretsChain(DotenvSource(path), EnvSource(environ={"DB_PASSWORD": "from-env"}))
    assert chain.require(["DB_PASSWORD"])["DB_PASSWORD"].expose_secret() == "from-env"


def test_dotenv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SecretSourceError, match="does not exist"):
        DotenvSource(tmp_path / "nope.env")
    assert DotenvSource(tmp_path / "nope.env", required=False).names() == []
    (tmp_path / "bin.env").write_bytes(b"A=\xff\n")
    with pytest.raises(SecretSourceError, match="not UTF-8"):
        DotenvSource(tmp_path / "bin.env")


@pytest.fixture
def chain(tmp_path: Path) -> SecretsChain:
    f = tmp_path / ".env"
    f.write_text(
        f"SHARED=from-file\nONLY_FILE={CANARY}\nPORT=5432\nDEBUG=yes\nKEY=AAEC_w\nNOT_B64={CANARY}!\n"
    )
    env = {"SHARED": "from-env", "BADPORT": f"{CANARY}x", "BADBOOL": CANARY}
    return SecretsChain(EnvSource(environ=env), DotenvSource(f))


def test_chain_precedence(chain: SecretsChain) -> None:
    assert chain.get("SHARED").expose_secret() == "from-env"
    assert chain.get("ONLY_FILE").expose_secret() == CANARY
    assert chain.source_of("SHARED") == "environment"
    assert chain.source_of("ONLY_FILE").startswith(".env file ")
    assert chain.source_of("NOPE") is None
    assert chain.names() == sorted(
        ["SHARED", "ONLY_FILE", "PORT", "DEBUG", "KEY", "NOT_B64", "BADPORT", "BADBOOL"]
    )


def test_chain_typed_getters(chain: SecretsChain) -> None:
    assert chain.get_int("PORT") == 5432
    assert chain.get_int("NOPE", 7) == 7
    assert chain.get_bool("DEBUG") is True
    assert chain.get_bool("NOPE", default=False) is False
    assert chain.get_bytes("KEY").expose_secret() == b"\x00\x01\x02\xff"
    assert chain.get("NOPE", None) is None
    for call, problem in (
        (lambda: chain.get_int("BADPORT"), "BADPORT from environment is not an integer"),
        (lambda: chain.get_bool("BADBOOL"), "BADBOOL from environment is not a boolean"),
        (lambda: chain.get_bytes("NOT_B64"), "NOT_B64 from .env file .* is not base64"),
    ):
        with pytest.raises(SecretSourceError, match=problem) as info:
            call()
        assert CANARY not in str(info.value)


def test_require_reports_every_missing_name(chain: SecretsChain) -> None:
    got = chain.require(["SHARED", "ONLY_FILE"])
    assert set(got) == {"SHARED", "ONLY_FILE"}
    assert all(isinstance(v, Secret) for v in got.values())
    with pytest.raises(SecretSourceError) as info:
        chain.require(["SHARED", "MISSING_A", "ONLY_FILE", "MISSING_B"])
    message = str(info.value)
    assert message.startswith("missing secrets MISSING_A, MISSING_B (looked in: environment, .env")
    assert CANARY not in message and "from-env" not in message
    with pytest.raises(SecretSourceError, match="missing secret NOPE "):
        chain.get("NOPE")


def test_chain_checks_names_and_sources() -> None:
    chain = SecretsChain(EnvSource(environ={}))
    with pytest.raises(SecretSourceError, match="invalid secret name"):
        chain.get("not a name")
    with pytest.raises(ValueError, match="at least one"):
        SecretsChain()
    with pytest.raises(TypeError, match="not a SecretSource"):
        SecretsChain(object())  # type: ignore[arg-type]


def test_loaded_values_are_redacted_from_logs(chain: SecretsChain, caplog) -> None:
    default_redactor.discard(CANARY)
    secret = chain.get("ONLY_FILE")
    handler = caplog.handler
    handler.addFilter(RedactingFilter())
    try:
        caplog.set_level(logging.INFO)
        logging.getLogger("app").info("connecting with %s", secret.expose_secret())
        logging.getLogger("app").info(f"inline {secret.expose_secret()} and repr {secret!r}")
        try:
            raise RuntimeError(f"auth failed for {secret.expose_secret()}")
        except RuntimeError:
            logging.getLogger("app").exception("boom")
    finally:
        handler.removeFilter(handler.filters[-1])
    assert CANARY not in caplog.text
    assert "connecting with **********" in caplog.text
    assert repr(chain).startswith("SecretsChain(") and CANARY not in repr(chain)


def test_a_wrapped_value_in_a_dotenv_file_is_refused_without_being_quoted(tmp_path) -> None:
    # The second line of a value split over two lines parses as a bare name: a 40- or
    # 64-character piece of a key is exactly what must not reach an error message.
    piece = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    env = tmp_path / "aws.env"
    env.write_text(f"APP=1\nAWS_SECRET_ACCESS_KEY=\n {piece}\n")
    with pytest.raises(SecretSourceError) as info:
        DotenvSource(env)
    assert str(info.value) == (
        f"{env}:3: invalid secret name '<name>' (letters, digits and _, not starting with a digit)"
    )
    assert piece not in repr(info.value)


def test_a_dotenv_file_with_windows_line_ends_reads_as_python_dotenv_reads_it(
    tmp_path: Path,
) -> None:
    import dotenv

    # Saved on Windows (or checked out with autocrlf): a quoted value over several lines,
    # a PEM key say, must not keep a carriage return at the end of each of its lines.
    path = tmp_path / ".env"
    path.write_bytes(
        b"KEY=\"-----BEGIN X-----\r\nAAAA\r\n-----END X-----\"\r\nONE=1\r\nTWO='a\r\nb'\r\n"
    )
    expected = dotenv.dotenv_values(path, interpolate=False)
    assert expected["KEY"] == "-----BEGIN X-----\nAAAA\n-----END X-----"
    source = DotenvSource(path)
    assert {name: source.lookup(name).expose_secret() for name in source.names()} == expected


def test_a_dotenv_line_that_is_not_utf8_is_named_without_the_value(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_bytes(b"A=1\nB=2\r\n" + CANARY.encode() + b"=caf\xe9\nC=3\n")
    with pytest.raises(SecretSourceError) as info:
        DotenvSource(path)
    assert str(info.value) == f"{path}:3: not UTF-8 text"
    assert CANARY not in repr(info.value)
