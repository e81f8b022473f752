"""Registering an account and changing its password, and the rules a new password meets.

Like :mod:`sealbox.accounts.sessions` (which imports these names too, and where they
were first), every function takes an :class:`~sealbox.accounts.core.Accounts` and
decides: the policy (open registration, the password rules of
:func:`check_new_password`), throttling (a registration counts against the client
address; a password change against the username and the address, given back only once
the change is made, and a change made stays made when Redis does not answer that
give-back), the current password's check, and the audit records (each committed with the change
it records: :class:`~sealbox.accounts.audit.ChangeRecord`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import unicodedata
from typing import Final

from sealbox.accounts.attempts import Throttled, attempt_succeeded, throttle_attempt
from sealbox.accounts.audit import ChangeRecord
from sealbox.accounts.core import Accounts, Caller
from sealbox.accounts.models import User
from sealbox.accounts.password_check import checked_password
from sealbox.accounts.store import UsernameTakenError
from sealbox.accounts.usernames import canonical_username
from sealbox.exceptions import PasswordTooLongError, SealboxError
from sealbox.passwords import MAX_PASSWORD_LENGTH, check_password_length

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "CurrentPasswordError",
    "RegistrationClosedError",
    "UsernameUnavailableError",
    "WeakPasswordError",
    "change_password",
    "check_new_password",
    "register",
]

MIN_PASSWORD: Final = 8
# The default hasher's limit; the accounts' own policy measures with their hasher's
# (``accounts.hasher.max_length``): one measure for the policy and the hasher.
MAX_PASSWORD: Final = MAX_PASSWORD_LENGTH


class RegistrationClosedError(SealboxError):
    """The policy does not let anyone register."""

    code = "registration_closed"


class UsernameUnavailableError(SealboxError):
    """The username, or one that looks like it, has an account."""

    code = "username_taken"


class WeakPasswordError(SealboxError):
    """A new password breaks the policy (the message says which rule)."""

    code = "weak_password"


class CurrentPasswordError(SealboxError):
    """A password change gave a wrong current password."""

    code = "invalid_credentials"


def check_new_password(password: str, username: str, max_length: int = MAX_PASSWORD) -> None:
    """At most ``max_length`` characters as typed, at least 8 after NFKC normalisation, and
    not the username.

    ``max_length`` is the hasher's (:attr:`PasswordHasher.max_length
    <sealbox.passwords.PasswordHasher.max_length>`, 1024 by default); :func:`register` and
    :func:`change_password` pass their accounts' hasher's. The longest is measured as the
    hasher measures it (before normalising, which may shorten the text: "e" + a combining
    accent is one "é"), so a password this accepts is never refused by the hasher after
    it; the shortest, on what is hashed.

    Raises:
        WeakPasswordError: which rule it breaks.
    """
    too_weak = f"the password must have {MIN_PASSWORD} to {max_length} characters"
    try:
        check_password_length(password, max_length)
    except PasswordTooLongError:
        raise WeakPasswordError(too_weak) from None
    normalized = unicodedata.normalize("NFKC", password)
    try:
        normalized.encode()
    except UnicodeEncodeError:
        raise WeakPasswordError("the password is not valid Unicode text") from None
    if len(normalized) < MIN_PASSWORD:
        raise WeakPasswordError(too_weak)
    if normalized.casefold() == unicodedata.normalize("NFKC", username).casefold():
        raise WeakPasswordError("the password may not be the username")


async def register(accounts: Accounts, username: str, password: str, address: str) -> User:
    """Create an account with the policy's default scopes.

    Raises:
        RegistrationClosedError: the policy lets no one register.
        UsernameError: the name breaks RFC 8265's rules (the message says how).
        WeakPasswordError: the password breaks the policy.
        Throttled: too many registrations or attempts from the address.
        UsernameUnavailableError: the name, or one that looks like it, has an account.
        AuditUnavailableError: the audit log cannot take the record (no account is kept).
    """
    if not accounts.policy.open_registration:
        raise RegistrationClosedError("registration is closed")
    username = canonical_username(username)
    check_new_password(password, username, accounts.hasher.max_length)
    try:
        # Each registration counts against the address, like a failed login.
        await throttle_attempt(accounts, address)
    except Throttled:
        accounts.audit.record("register", outcome="throttled", user=username, address=address)
        raise
    if await accounts.store.name_is_taken(username):
        accounts.audit.record("register", outcome="taken", user=username, address=address)
        raise _taken()
    password_hash = await accounts.run_hasher(accounts.hasher.hash, password)
    # The account and its record commit together: none is made unrecorded, so the client's
    # retry of the same name, once the log takes records, is not refused as taken.
    record = ChangeRecord(accounts.audit, "register", user=username, address=address)
    try:
        with record:
            user = await accounts.store.create_user(
                username,
                password_hash,
                list(accounts.policy.default_scopes),
                before_commit=record.write,
            )
    except UsernameTakenError:
        accounts.audit.record("register", outcome="taken", user=username, address=address)
        raise _taken() from None
    return user


def _taken() -> UsernameUnavailableError:
    return UsernameUnavailableError("this username, or one that looks like it, is taken")


async def change_password(
    accounts: Accounts, caller: Caller, current: str, new: str, address: str
) -> None:
    """Change the caller's password; every session of the user ends (tokens included).

    Raises:
        Throttled: past the username's or the address's limit (nothing checked).
        CurrentPasswordError: ``current`` is not the password.
        WeakPasswordError: ``new`` breaks the policy (the attempt stays counted: only
            a change made gives the throttle its count back).
    """
    try:
        attempt = await throttle_attempt(accounts, address, caller.username)
    except Throttled:
        accounts.audit.record(
            "password_change", outcome="throttled", user=caller.username, address=address
        )
        raise
    user = await accounts.store.token_account(caller.user_id, caller.username)
    # An account gone since the token was issued costs a wrong password's work too (the
    # dummy check of checked_password): its answer's speed tells no deletion apart.
    right, unusable = await checked_password(accounts, user, current, address)
    if user is None or not right:
        accounts.audit.record(
            "password_change",
            outcome="failure",
            user=caller.username,
            address=address,
            detail=unusable,
        )
        raise CurrentPasswordError("the current password is wrong")
    check_new_password(new, user.username, accounts.hasher.max_length)
    new_hash = await accounts.run_hasher(accounts.hasher.hash, new)
    # The new password and its record commit together: a record refused changes nothing.
    record = ChangeRecord(accounts.audit, "password_change", user=user.username, address=address)
    with record:
        version = await accounts.store.change_password(
            user.id, new_hash, before_commit=record.write
        )
    # Given back only once the password is changed, which its owner sees (every session
    # ends): a right password given back for a change refused here would let whoever
    # holds it and a token forget the guesses at the username (at a second factor's
    # code, say) as often as they like, changing nothing.
    await attempt_succeeded(accounts, address, caller.username, attempt, event="password_change")
    # Recorded already: the password is changed, whether Redis takes the sessions' end or not.
    await accounts.revocations.end_sessions(user.id, version)
