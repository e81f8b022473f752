"""The Redis client of the accounts' shared state (revocations, throttles), and what its
failures become.

A Redis that does not answer becomes :class:`~sealbox.exceptions.StoreUnavailableError`
at the call that needed it, named by what was being done; never the client's own
exception, whose message may quote the server's address.

It imports ``redis`` (the ``redis`` extra) only when a client is made.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from sealbox.accounts.outage import OutageState
from sealbox.exceptions import ConfigError, StoreUnavailableError

__all__ = [
    "KEEPING_POLICY",
    "SOCKET_TIMEOUT",
    "connect",
    "eviction_policy",
    "ping",
    "read_policy",
    "unavailable",
    "url_problem",
]

#: Seconds a client waits for Redis to connect, and for each answer. redis-py waits for
#: ever by default: a Redis that accepts and never answers (stopped with SIGSTOP, a
#: half-open connection, a proxy whose far side hangs) would hold each request, and the
#: task writing the revocations Redis missed, for good, instead of failing the call.
SOCKET_TIMEOUT: Final = 5.0

# How many times a client sends a command again after a connection error or a timeout:
# never. A command whose answer was lost (the connection reset, the socket timeout hit)
# may have run: sent again, a throttle's settle gives a count back or clears twice (an
# attacker's failures forgiven) and its acquire counts one attempt twice. The call fails
# instead (StoreUnavailableError, a 503). redis-py's clients made from a URL send once
# (5.0.8 to 8.2), but ``retry_on_timeout`` resends after a timeout (from 6.0 after a
# reset too), and 6.0 made retries the default of ``Redis()``: said here, for every version.
_RETRIES: Final = 0

_STATE: Final = OutageState("Redis")

#: The only ``maxmemory-policy`` under which Redis deletes none of sealbox's keys to make
#: room. Every other one may: ``allkeys-*`` any key, ``volatile-*`` the keys with an
#: expiry, which every revocation and throttle counter has. An evicted revocation lets
#: its token pass again, an evicted counter forgets the attempts it counted.
KEEPING_POLICY: Final = "noeviction"


async def _connected(connection: Any) -> None:
    """What redis-py does with a new connection (sign in, select the database), then the
    note that Redis answers."""
    await connection.on_connect()
    _STATE.back()


def connect(url: str, **options: Any) -> tuple[Any, tuple[type[BaseException], ...]]:
    """An asyncio Redis client for ``url`` (``options`` are redis-py's), and the
    exceptions a failed call raises.

    A call Redis does not answer within :data:`SOCKET_TIMEOUT` seconds fails (with
    redis-py's ``TimeoutError``, one of the exceptions returned), unless ``options`` or
    the URL's ``socket_timeout`` and ``socket_connect_timeout`` say otherwise. A failed
    call is never sent again, whatever ``options`` say (``retry``, ``retry_on_timeout``):
    Redis may have run it.

    Raises:
        ConfigError: code ``redis_url_invalid``, ``url`` is not one the client can take
            (:func:`url_problem` says why; the URL is not shown).
    """
    problem = url_problem(url)
    if problem is not None:
        raise ConfigError(
            f"the Redis URL is not one the client can take: {problem}",
            hint="give redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://… or unix:///PATH?db=DB",
            code="redis_url_invalid",
        )
    import redis.asyncio as redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError

    bounded = {"socket_timeout": SOCKET_TIMEOUT, "socket_connect_timeout": SOCKET_TIMEOUT}
    once = {
        "retry": Retry(NoBackoff(), _RETRIES),  # overrides retry_on_timeout too
        "redis_connect_func": _connected,
    }
    return redis.from_url(url, **(bounded | options | once)), (RedisError, OSError)


async def ping(url: str, operation: str, timeout: float = SOCKET_TIMEOUT) -> None:
    """Check that the Redis at ``url`` answers a ``PING`` within ``timeout`` seconds.

    Raises:
        StoreUnavailableError: it does not, while doing ``operation``; for a ``unix://``
            URL, the cause also says what is wrong with the socket's path.
    """
    client, failures = connect(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        await client.ping()
    except failures as exc:
        problem = _socket_problem(url, exc)
        cause = type(exc).__name__ if problem is None else f"{type(exc).__name__}: {problem}"
        raise StoreUnavailableError("Redis", operation, cause) from None
    finally:
        await client.aclose()


async def eviction_policy(url: str, timeout: float = SOCKET_TIMEOUT) -> str | None:
    """The ``maxmemory-policy`` of the Redis at ``url``, or ``None`` when Redis does not
    say it (``CONFIG`` and ``INFO`` disabled, renamed or not permitted, as managed Redis
    services often have them).

    ``CONFIG GET maxmemory-policy`` is asked first, then ``INFO memory``.

    Raises:
        StoreUnavailableError: Redis did not answer.
    """
    client, failures = connect(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return await read_policy(client)
    except failures as exc:
        raise StoreUnavailableError(
            "Redis", "reading its eviction policy", type(exc).__name__
        ) from None
    finally:
        await client.aclose()


async def read_policy(client: Any) -> str | None:
    """:func:`eviction_policy` with a client of :func:`connect` (its failures raised as
    they are, but for a command Redis refuses)."""
    from redis.exceptions import ResponseError

    try:
        found = await client.config_get("maxmemory-policy")
    except ResponseError:  # unknown (renamed, disabled) or not permitted
        found = {}
    value = next(iter(found.values()), None) if found else None
    if value is None:
        try:
            value = (await client.info("memory")).get("maxmemory_policy")
        except ResponseError:
            value = None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return None if value is None else str(value).strip().lower()


def _socket_problem(url: str, exc: BaseException) -> str | None:
    """What is wrong with the socket of a ``unix://`` URL that did not answer, or ``None``.

    The path is named (it holds no password, unlike the rest of the URL): a wrong path, a
    file that is no socket and a Redis that is not running each have their own remedy.
    """
    import stat
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme.lower() != "unix":
        return None
    path = unquote(parts.path)  # as redis-py reads it
    reason = exc if isinstance(exc, OSError) else exc.__cause__ or exc.__context__
    if isinstance(reason, FileNotFoundError):
        return f"the socket {path} does not exist"
    if isinstance(reason, PermissionError):
        return f"the socket {path} cannot be opened by this user"
    if isinstance(reason, ConnectionRefusedError):
        try:
            is_socket = stat.S_ISSOCK(Path(path).stat().st_mode)
        except OSError:
            is_socket = True  # gone since: said as the refusal it was
        if not is_socket:
            return f"{path} is not a socket"
        return f"nothing listens on the socket {path}"
    return None


def unavailable(exc: BaseException, operation: str) -> StoreUnavailableError:
    """The error for a call to Redis that failed with ``exc`` while doing ``operation``.

    A Redis out of memory under ``noeviction`` answers a write with an ``OOM`` error: said
    as the refusal it is, with its remedy, not as a Redis that did not answer.
    """
    cause = type(exc).__name__
    if cause == "OutOfMemoryError" or str(exc).startswith("OOM "):
        error = StoreUnavailableError(
            "Redis",
            operation,
            cause,
            refused="the write (its used memory is above its maxmemory)",
            hint="give Redis more memory (maxmemory) or free some; reads are still served",
        )
    else:
        error = StoreUnavailableError("Redis", operation, cause)
    return _STATE.down(error)


def _flag(value: str) -> bool:
    return value.lower() in _FLAGS


def _on(value: str) -> bool:
    return value.lower() in {"true", "1", "yes", "on", "y"}


def _positive(value: str) -> bool:
    return math.isfinite(float(value)) and float(value) > 0


def _count(least: int) -> Callable[[str], bool]:
    return lambda value: value.isdigit() and int(value) >= least


_FLAGS: Final = frozenset({"true", "false", "1", "0", "yes", "no", "on", "off", "y", "n"})
# The query parameters sealbox lets through to redis-py, each with the test of its value.
# redis-py gives any other name to the connection as text: an unknown one is a TypeError
# there, and decode_responses=false would be taken as true (sealbox reads bytes).
_PARAMETERS: Final[MappingProxyType[str, Callable[[str], bool]]] = MappingProxyType(
    {
        "db": _count(0),
        "socket_timeout": _positive,
        "socket_connect_timeout": _positive,
        "timeout": _positive,
        "socket_keepalive": _flag,
        # Off only: a command is never sent again (see _RETRIES); said, not ignored.
        "retry_on_timeout": lambda value: _flag(value) and not _on(value),
        "health_check_interval": _count(0),
        "max_connections": _count(1),
        "socket_read_size": _count(1),
        "protocol": lambda value: value in {"2", "3"},
        "client_name": lambda value: bool(value) and value.isprintable() and " " not in value,
        "username": bool,
        "password": bool,
        "ssl_cert_reqs": lambda value: value.lower() in {"none", "optional", "required"},
        "ssl_check_hostname": _flag,
        "ssl_ca_certs": bool,
        "ssl_ca_path": bool,
        "ssl_certfile": bool,
        "ssl_keyfile": bool,
    }
)


def url_problem(url: str) -> str | None:
    """Why redis-py cannot take ``url`` as sealbox uses it, or ``None``; the reason names
    a part of the URL, never a value of it (it may hold a password)."""
    from urllib.parse import unquote, urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number in 0-65535 raises
    except ValueError:
        return "not a URL with a valid port (redis://HOST:6379/0)"
    if parts.scheme.lower() not in ("redis", "rediss", "unix"):
        return "must start with redis://, rediss:// or unix://"
    database = unquote(parts.path).strip("/")
    if parts.scheme.lower() != "unix" and database and not database.isdigit():
        # redis-py would use database 0 instead, without a word.
        return "the database number in its path is not a whole number (redis://HOST/0)"
    return _query_problem(parts.query)


def _query_problem(query: str) -> str | None:
    from urllib.parse import parse_qs

    try:
        parsed = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        return "its query is not NAME=VALUE pairs joined by &"
    for name, values in parsed.items():
        test = _PARAMETERS.get(name)
        if test is None:
            return f"sealbox does not take the parameter {name!r}"
        if len(values) > 1:
            return f"the parameter {name!r} is given twice"
        try:
            good = test(values[0])
        except ValueError:
            good = False
        if not good and name == "retry_on_timeout" and _on(values[0]):
            return (
                "sealbox never sends a Redis command again after a timeout (it may have run), "
                "so 'retry_on_timeout' may only be false"
            )
        if not good:
            return f"the value of the parameter {name!r} cannot be used"
    return None
