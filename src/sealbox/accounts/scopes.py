"""Scope names as accounts hold them: RFC 6749 §3.3 ``scope-token`` values.

Any name of that grammar is a scope an application may use (``orders:read``). The names
under sealbox's own prefixes (``users:``, ``clients:``, ``tokens:``, ``transit:``, ``kv:``) are what
sealbox's routes look for, so one of those that no route looks for is refused when it is
granted: ``transit:*`` or ``transit:encrpyt:orders`` would otherwise be granted and
silently allow nothing (the only wildcard is a whole ``*`` for the key name or path,
``transit:encrypt:*``, ``kv:read:*``).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from sealbox.exceptions import ConfigError
from sealbox.transit.registry import SCOPE_OPERATIONS, is_key_name

__all__ = [
    "INTROSPECT_SCOPE",
    "REVOKE_SCOPE",
    "SCOPE_TOKEN",
    "check_scopes",
    "scope_list",
    "unknown_own_scope",
]

SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
"""RFC 6749's ``scope-token = 1*( %x21 / %x23-5B / %x5D-7E )``; sealbox also caps the
length."""

REVOKE_SCOPE: Final = "tokens:revoke"
"""A client holding this scope may revoke any token, not only those issued to it."""
INTROSPECT_SCOPE: Final = "tokens:introspect"
"""A client holding this scope may introspect any token, not only those issued to it."""


def scope_list(text: str) -> list[str]:
    """The scopes a ``scope`` parameter asks for: RFC 6749 §3.3 separates them by spaces
    only (a run of them taken as one). A tab or another blank is part of a scope, one no
    account holds, never a second separator.
    """
    return [scope for scope in text.split(" ") if scope]


# What each of sealbox's prefixes may be followed by, in words (for the refusal).
_OWN_FORMS: Final = {
    "users": "users:me or users:admin",
    "clients": "clients:admin",
    "tokens": f"{REVOKE_SCOPE} or {INTROSPECT_SCOPE}",
    "transit": (
        f"transit:admin or transit:OPERATION:KEY (OPERATION one of "
        f"{', '.join(SCOPE_OPERATIONS)}; KEY a key name or *)"
    ),
    "kv": "kv:admin or kv:read:PATH or kv:write:PATH (PATH a mount and path prefix, or *)",
}


def _known_own(prefix: str, rest: str) -> bool:
    if prefix == "users":
        return rest in ("me", "admin")
    if prefix == "clients":
        return rest == "admin"
    if prefix == "tokens":
        return f"tokens:{rest}" in (REVOKE_SCOPE, INTROSPECT_SCOPE)
    if prefix == "transit":
        operation, _, name = rest.partition(":")
        return rest == "admin" or (
            operation in SCOPE_OPERATIONS and (name == "*" or is_key_name(name))
        )
    action, _, where = rest.partition(":")
    return rest == "admin" or (action in ("read", "write") and where != "")


def unknown_own_scope(scope: str) -> str | None:
    """What ``scope`` should look like, when it is under one of sealbox's own prefixes
    but no sealbox route looks for it (``None`` for any other scope)."""
    prefix, colon, rest = scope.partition(":")
    if not colon or prefix not in _OWN_FORMS or _known_own(prefix, rest):
        return None
    return _OWN_FORMS[prefix]


def check_scopes(
    scopes: Iterable[str], *, code: str = "invalid_scope", granting: bool = True
) -> list[str]:
    """The scopes, each checked against RFC 6749 §3.3's ``scope-token`` grammar, and
    (when ``granting``) those under sealbox's own prefixes against the names its routes
    look for.

    Args:
        scopes: the scopes.
        code: the error's code (the clients' registry has its own).
        granting: ``False`` to take back scopes: one granted before sealbox refused it
            can still be revoked.

    Raises:
        ConfigError: none given, or one is empty, longer than 128 characters, or has a
            space, a quote, a backslash or a character outside printable ASCII, or is
            under a prefix of sealbox's that it gives no meaning (``facts["scope"]``).
    """
    checked = []
    for scope in scopes:
        if not isinstance(scope, str) or not SCOPE_TOKEN.fullmatch(scope):
            # Quoted whole up to a length past the longest scope: 100 kB given by mistake
            # is not printed back whole.
            shown = repr(scope)
            shown = shown if len(shown) <= 200 else f"{shown[:200]}…"
            raise ConfigError(
                f"{shown} is not a scope: printable ASCII without spaces, quotes or "
                "backslashes, 1 to 128 characters",
                code=code,
                facts={"scope": str(scope)[:128]},
            )
        form = unknown_own_scope(scope) if granting else None
        if form is not None:
            raise ConfigError(
                f"{scope!r} is not a scope sealbox knows: it would allow nothing",
                hint=f"the scopes of {scope.partition(':')[0]}: are {form}",
                code=code,
                facts={"scope": scope},
            )
        checked.append(scope)
    if not checked:
        raise ConfigError("no scope given", code=code)
    return checked
