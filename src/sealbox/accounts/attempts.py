"""Sign-in attempts counted by the throttle: which counters an attempt counts against, and
what a success forgives.

An attempt counts against its client address (an IPv6 client by its /64) and, when it
names an account, against the username: the counter of the name's RFC 8265 canonical form,
which every spelling of it shares (``ALICE`` is ``alice``), and for a spelling that is not
canonical, that spelling's own. Accounts older than the username rules may hold such a
spelling (``Alice`` beside ``alice``, kept by
:mod:`~sealbox.accounts.username_upgrade`): guesses at either count against the shared
counter, so neither account gets more than the limit between them, and a success forgets
only what is its own to forget — the canonical account's success clears the shared counter
(and its spelling's), another account's clears its spelling's and gives back only its own
count to the shared one. Without the spelling's counter, the owner of ``alice`` could clear
the guesses at ``Alice`` by logging in, and the other way round.

A client authentication (:func:`~sealbox.accounts.grants.authenticate_client_attempt`)
counts against its address's client counter (:func:`throttle_client_attempt`), apart from
the sign-in counters: a burst of right secrets (a resource server introspecting many
tokens at once) does not use up the address's logins, and failed logins do not shut its
clients out. A success gives that attempt's count back (:func:`client_attempt_succeeded`),
never more: a wrong secret stays counted whatever client authenticates after it.

A give-back comes after what the attempt asked for is done (a code spent, a password
changed, a client authenticated), so Redis not answering it fails nothing:
:func:`attempt_succeeded` and :func:`client_attempt_succeeded` log a warning on
``sealbox.accounts`` (what was done and why Redis failed, never the account or the
address) and return, and the attempt stays counted until its window ends. The throttle is
then stricter than it would have been, never looser. The count taken *before* an attempt
(:func:`throttle_attempt`, :func:`throttle_client_attempt`) still fails closed: it raises
:class:`~sealbox.exceptions.StoreUnavailableError` and nothing is checked.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sealbox.accounts.throttle import Attempt
from sealbox.accounts.usernames import lookup_key
from sealbox.exceptions import SealboxError, StoreUnavailableError

if TYPE_CHECKING:
    from sealbox.accounts.core import Accounts

log = logging.getLogger("sealbox.accounts")

__all__ = [
    "Throttled",
    "attempt_succeeded",
    "attempt_unchecked",
    "client_attempt_succeeded",
    "throttle_attempt",
    "throttle_client_attempt",
]


class Throttled(SealboxError):  # noqa: N818 - an outcome, named as before
    """Too many attempts: ``retry_after`` seconds to wait."""

    code = "too_many_requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too many attempts; try again later", facts={"retry_after": str(retry_after)}
        )
        self.retry_after = retry_after


def _user_keys(name: str) -> list[str]:
    """The counters of an attempt on ``name``: its canonical form's, shared by every spelling,
    and a spelling's own when it is not canonical (an account older than the username rules
    may hold it: ``Alice`` beside ``alice``). A lone surrogate is escaped (Redis keys are text)."""
    canonical, text = lookup_key(name), name.encode("utf-8", "backslashreplace").decode()
    if canonical in (None, name):
        return [f"user:{canonical or text}"]
    return [f"user:{canonical}", f"spelling:{text}"]


def _address_key(address: str) -> str:
    # An IPv6 client holds a /64 at the least (a host picks addresses within it at will):
    # counted per address, it could make 2^64 times the attempts. An IPv4 address written
    # as IPv6 (::ffff:a.b.c.d) counts as itself.
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address}"
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return f"addr:{mapped}"
        return f"addr:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"addr:{ip}"


async def throttle_attempt(
    accounts: Accounts, address: str, username: str | None = None
) -> Attempt:
    """Count an attempt for the address (and the username); raise :class:`Throttled` past a limit.

    The attempt stays counted (a failure) unless :func:`attempt_succeeded` gives it back.
    """
    p = accounts.policy
    names = _user_keys(username) if username is not None else []
    limits = [
        *((k, p.throttle_user_attempts) for k in names),
        (_address_key(address), p.throttle_address_attempts),
    ]
    attempt = await accounts.throttle.acquire(limits, p.throttle_window)
    if attempt.wait:
        raise Throttled(attempt.wait)
    return attempt


async def attempt_succeeded(
    accounts: Accounts,
    address: str,
    username: str,
    attempt: Attempt | None = None,
    *,
    account: str | None = None,
    event: str = "sign-in",
) -> None:
    """``attempt`` on ``username`` went well for the account stored as ``account`` (default
    ``username``): give the address its count back, and forget the username's attempts
    counted up to it (those counted after it, made while it was checked, stay). The
    canonical form's counter is forgotten only by its own account's success: another's (an
    older ``Alice`` beside ``alice``) gives back its own count, and the guesses at its twin
    stay.

    Called once what was asked is done: when Redis does not answer, nothing is raised; the
    attempt stays counted until its window ends and a warning names ``event`` (what was
    done, ``"login"`` say) and Redis's failure, never the account or the address."""
    keys, canonical = _user_keys(username), lookup_key(username)
    owns = canonical is None or (username if account is None else account) == canonical
    clear, give_back = (keys, []) if owns else (keys[1:], keys[:1])
    await _settle(accounts, event, attempt, clear, [*give_back, _address_key(address)])


async def _settle(
    accounts: Accounts,
    event: str,
    attempt: Attempt | None,
    clear: Sequence[str],
    give_back: Sequence[str],
) -> None:
    # What the attempt asked for is done (a code spent, a password changed): a 503 now would
    # tell its client it failed, and a login sent again would find its code used. Not given
    # back, the attempt only stays counted: the throttle is stricter, never looser.
    try:
        await accounts.throttle.settle(attempt, clear=clear, give_back=give_back)
    except StoreUnavailableError as exc:
        log.warning(
            "%s: made, but its throttle count was not given back, so it stays counted "
            "until its window ends: %s",
            event,
            exc,
        )


async def attempt_unchecked(
    accounts: Accounts, address: str, username: str, attempt: Attempt
) -> None:
    """``attempt`` was not checked: the store it needed did not answer (a 503), so it was
    no guess, and its counts are given back. A client retrying through an outage is not
    throttled for the window once the store answers again."""
    keys = [*_user_keys(username), _address_key(address)]
    await _settle(accounts, "an unchecked attempt", attempt, [], keys)


def _client_key(address: str) -> str:
    return f"client:{_address_key(address)}"


async def throttle_client_attempt(accounts: Accounts, address: str) -> Attempt:
    """Count a client authentication from ``address``; raise :class:`Throttled` past
    ``throttle_client_attempts`` (counted before the check, in one step with the limit: a
    flood from one address gets at most the limit's worth of checks)."""
    p = accounts.policy
    limits = [(_client_key(address), p.throttle_client_attempts)]
    attempt = await accounts.throttle.acquire(limits, p.throttle_window)
    if attempt.wait:
        raise Throttled(attempt.wait)
    return attempt


async def client_attempt_succeeded(accounts: Accounts, address: str, attempt: Attempt) -> None:
    """The client authentication ``attempt`` went well: it gives its own count back (within
    its window), and the failures counted beside it stay. When Redis does not answer, it
    stays counted until its window ends and a warning is logged, as for
    :func:`attempt_succeeded`."""
    await _settle(accounts, "client authentication", attempt, [], [_client_key(address)])
