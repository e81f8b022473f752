"""Scope names as accounts hold them: RFC 6749 §3.3 ``scope-token`` values.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from sealbox.exceptions import ConfigError

__all__ = ["check_scopes"]

# scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); sealbox also caps the length.
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes, each checked against RFC 6749 §3.3's ``scope-token`` grammar.

    Raises:
        ConfigError: code ``invalid_scope``: none given, or one is empty, longer than
            128 characters, or has a space, a quote, a backslash or a character outside
            printable ASCII (``facts["scope"]``).
    """
    checked = []
    for scope in scopes:
        if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
            raise ConfigError(
                f"{scope!r} is not a scope: printable ASCII without spaces, quotes or "
                "backslashes, 1 to 128 characters",
                code="invalid_scope",
                facts={"scope": str(scope)},
            )
        checked.append(scope)
    if not checked:
        raise ConfigError("no scope given", code="invalid_scope")
    return checked
