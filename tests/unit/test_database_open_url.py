"""A PostgreSQL URL asyncpg cannot take — a query parameter it does not know, a number
given as text it cannot read, a port out of range, a host that cannot be read — is a
``ConfigError`` (``database_url_invalid``) when the engine is made, naming what is wrong,
never a ``TypeError`` or ``OverflowError`` of the driver at the first connection, and
never the password. Parameters asyncpg takes as numbers open with their values read."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from sealbox.accounts.database import make_engine
from sealbox.exceptions import ConfigError
from tests.service.conftest import require_server

CANARY = "canary-db-url-pw-9d41"
BASE = f"postgresql://postgres:{CANARY}@127.0.0.1:5432/test"


def _refused(url: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        make_engine(url)
    exc = caught.value
    assert exc.code == "database_url_invalid"
    assert CANARY not in f"{exc} {exc.hint} {exc.facts} {exc!r}"
    return exc


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("foo=bar", "foo"),
        ("application_name=x", "application_name"),
        ("loop=x", "loop"),
        ("connection_class=x", "connection_class"),
    ],
)
def test_a_query_parameter_asyncpg_does_not_take_is_refused_by_name(query: str, named: str) -> None:
    exc = _refused(f"{BASE}?{query}")
    assert f"parameter {named!r}" in str(exc)
    assert exc.facts["parameter"] == named


def test_the_value_of_an_unknown_parameter_is_not_shown() -> None:
    # A misspelt password parameter is still a password.
    exc = _refused(f"postgresql://u@db/app?passwd={CANARY}")
    assert "passwd=***" in str(exc)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("timeout=abc", "timeout"),
        ("connect_timeout=-1", "connect_timeout"),
        ("command_timeout=0", "command_timeout"),
        ("statement_cache_size=x", "statement_cache_size"),
        ("prepared_statement_cache_size=abc", "prepared_statement_cache_size"),
        ("direct_tls=perhaps", "direct_tls"),
    ],
)
def test_a_number_or_flag_that_cannot_be_read_is_refused_by_name(query: str, named: str) -> None:
    exc = _refused(f"{BASE}?{query}")
    assert f"parameter {named!r}" in str(exc)


def test_a_parameter_given_twice_is_refused() -> None:
    exc = _refused(f"{BASE}?timeout=5&timeout=6")
    assert "given twice" in str(exc)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:{pw}@127.0.0.1:70000/test",
        "postgresql://postgres:{pw}@127.0.0.1:0/test",
        "postgresql://postgres:{pw}@/test?host=127.0.0.1:99999",
    ],
)
def test_a_port_out_of_range_is_refused(url: str) -> None:
    exc = _refused(url.format(pw=CANARY))
    assert "port" in str(exc)


@pytest.mark.parametrize(
    "url", ["postgresql://postgres:{pw}@[::1/test", "postgresql://postgres:{pw}@db:x/test"]
)
def test_a_host_or_port_that_cannot_be_read_is_refused(url: str) -> None:
    _refused(url.format(pw=CANARY))


@pytest.mark.parametrize(
    "query",
    [
        "timeout=5&statement_cache_size=0&command_timeout=30",
        "connect_timeout=5&max_cached_statement_lifetime=0&max_cacheable_statement_size=0",
        "direct_tls=false&prepared_statement_cache_size=0",
    ],
)
def test_numbers_and_flags_of_the_query_open_with_their_values_read(query: str) -> None:
    # asyncpg compares these to numbers: given as the URL's text, it raised a TypeError.
    require_server("PostgreSQL", 5432)

    async def select_one() -> int:
        engine = make_engine(f"{BASE}?{query}")
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(text("SELECT 1"))).scalar_one())
        finally:
            await engine.dispose()

    assert asyncio.run(select_one()) == 1


@pytest.mark.parametrize("query", ["timeout=5&connect_timeout=30", "connect_timeout=30&timeout=5"])
def test_timeout_and_connect_timeout_together_are_refused_saying_which_to_keep(
    query: str,
) -> None:
    # Both are asyncpg's timeout: the one read last won, whichever the operator meant.
    exc = _refused(f"{BASE}?{query}")
    assert "'timeout' and 'connect_timeout' are the same setting" in str(exc)
    assert "keep 'connect_timeout'" in str(exc)
    assert exc.facts["parameter"] == "timeout"
