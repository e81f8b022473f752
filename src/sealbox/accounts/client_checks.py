"""The rules a client's name, scopes and certificate subject follow
(:mod:`sealbox.accounts.clients` registers clients by them).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from sealbox.accounts import scopes as own_scopes
from sealbox.accounts.models import storable_text
from sealbox.accounts.subject_dn import subject_dn_key
from sealbox.exceptions import ConfigError

__all__ = ["check_client_name", "check_scopes", "check_subject_dn"]

# A name is a label for people and programs: letters, digits and . _ - , 1 to 64.
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_client_name(name: str) -> str:
    """``name`` if it is a valid client name (1-64 of letters, digits, ``.``, ``_``, ``-``).

    Raises:
        ConfigError: code ``bad_client_name``.
    """
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"the client name {name[:80]!r} is not valid",
            hint="use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            code="bad_client_name",
            facts={"name": name[:80]},
        )
    return name


def check_scopes(scopes: Iterable[str], *, granting: bool = True) -> list[str]:
    """The scopes, sorted and unique, each a valid RFC 6749 §3.3 scope token, and (when
    ``granting``) those under sealbox's own prefixes ones that its routes look for (none
    is fine: a client may hold no scope).

    Raises:
        ConfigError: code ``bad_scope``.
    """
    result = sorted(set(scopes))
    if not result:
        return result
    return own_scopes.check_scopes(result, code="bad_scope", granting=granting)


def check_subject_dn(subject_dn: str) -> None:
    """Refuse a ``tls_client_auth`` subject no certificate could have (code ``bad_subject_dn``)."""
    if not storable_text(subject_dn):
        # No certificate's subject (RFC 4514 escapes a NUL): it would authenticate nobody.
        raise ConfigError(
            "the certificate subject is not valid: it holds a NUL or is not UTF-8",
            code="bad_subject_dn",
        )
    if not subject_dn.strip():
        raise ConfigError(
            "the certificate subject is empty: tls_client_auth names a client by the "
            "subject of its certificate, and a certificate with an empty subject has none",
            hint="issue the client a certificate with a subject (sealbox ca issue client "
            "puts its name there), or give the client a secret",
            code="bad_subject_dn",
        )
    try:
        subject_dn_key(subject_dn)
    except ValueError as exc:
        raise ConfigError(
            f"the certificate subject {subject_dn!r} is {exc}",
            hint="write it as RFC 4514 does, most specific first, as "
            "'openssl x509 -noout -subject -nameopt RFC2253' prints it: CN=worker,O=Acme,C=DE",
            code="bad_subject_dn",
        ) from None
