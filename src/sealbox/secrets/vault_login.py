"""The AppRole login of a Vault client (KV source, Transit provider), kept fresh.

Vault's AppRole tokens end: the login's answer says when (``auth.lease_duration``, seconds
from now; ``0``: never), bounded by the role's ``token_ttl`` and ``token_max_ttl``, and past
it Vault answers every call 403. A client that logs in with AppRole therefore

- logs in again before it uses a token within :func:`margin` of its end;
- after a call answered 403, logs in again once and sends the call once more
  (:func:`call`): a token can also be revoked, or end early (Vault caps a TTL that outlives
  its mount's or the system's maximum). A second 403 is the caller's to report: a token
  just made lacks the policy.

One login at a time per client (a lock), so threads sharing a client that reach an ended
token, or that are all answered 403 with the same token, log in once: the others use the
token it made. A login is a write (it makes a token) and is never inside
:func:`~sealbox.secrets.vault_http.repeatable`: it is never sent twice by the retries. The
new token, like the first, is a registered secret, and replaces the old in the client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sealbox.secret import Secret, register_secret
from sealbox.secrets.vault_client import HEADER_SAFE, reveal

if TYPE_CHECKING:
    import hvac

__all__ = ["AppRoleLogin", "BadLoginAnswer", "LoginRefused", "call", "denied_hint", "margin"]

T = TypeVar("T")

_MAX_MARGIN: Final = 60.0

# The clock a token's end is read on (a test moves it past the end).
_clock: Callable[[], float] = time.monotonic


class BadLoginAnswer(Exception):  # noqa: N818 - internal, translated by transport_errors
    """An AppRole login answered 200 without a usable ``auth.client_token``."""


class LoginRefused(Exception):  # noqa: N818 - internal, translated by transport_errors
    """An AppRole login answered 403 (no AppRole at that mount, or a CIDR bound)."""


def margin(lease: float) -> float:
    """How long before its end a token of ``lease`` seconds is replaced: a tenth of its
    life, at most a minute, so that a call sent just before the end (and its retries)
    does not reach Vault after it."""
    return min(lease / 10, _MAX_MARGIN)


class AppRoleLogin:
    """How one client logs in: ``approle`` (``(role_id, secret_id)``) at ``mount``."""

    __slots__ = ("_approle", "_ends", "_lock", "_mount")

    def __init__(self, approle: tuple[str | Secret[str], str | Secret[str]], mount: str) -> None:
        self._approle = approle
        self._mount = mount
        self._lock = threading.Lock()
        # When (on _clock) the token must be replaced; None: it has no end.
        self._ends: float | None = None

    def __repr__(self) -> str:
        return f"AppRoleLogin(mount={self._mount!r})"

    def token(self, vault: hvac.Client) -> str:
        """The token the next call sends, after logging in if the client has none or its
        token is at its end."""
        with self._lock:
            if not vault.token or self._due():
                self._login(vault)
            return str(vault.token)

    def refused(self, vault: hvac.Client, sent: str) -> None:
        """Vault answered 403 to a call sent with ``sent``: log in again, unless another
        thread already replaced that token."""
        with self._lock:
            if vault.token and vault.token != sent and not self._due():
                return
            self._login(vault)

    def _due(self) -> bool:
        return self._ends is not None and _clock() >= self._ends

    def _login(self, vault: hvac.Client) -> None:
        import hvac.api.auth_methods
        import hvac.exceptions as hx

        role_id, secret_id = (reveal(v) for v in self._approle)
        register_secret(secret_id)
        # The login goes through an adapter of its own, on the client's session, without
        # a token (as Vault's CLI logs in): the client keeps its token, which other
        # threads may be using, still valid, until the new one is checked; and an ended
        # token is not sent.
        adapter = type(vault.adapter).from_adapter(vault.adapter)
        adapter.token = None
        started = _clock()  # the token's life starts once Vault has the request: later
        try:
            answer: Any = hvac.api.auth_methods.AppRole(adapter).login(
                role_id=role_id, secret_id=secret_id, use_token=False, mount_point=self._mount
            )
            auth = answer["auth"]
            token, lease = auth["client_token"], auth.get("lease_duration")
        except hx.Forbidden:
            raise LoginRefused from None
        except (KeyError, TypeError, AttributeError):
            vault.token = ""
            raise BadLoginAnswer from None
        if not isinstance(token, str) or not HEADER_SAFE.fullmatch(token):
            vault.token = ""
            raise BadLoginAnswer
        register_secret(token)
        vault.token = token
        # An answer without a usable lease is read as no end: a 403 still logs in again.
        known = isinstance(lease, int | float) and not isinstance(lease, bool) and lease > 0
        self._ends = started + lease - margin(lease) if known else None


def call(vault: hvac.Client, login: AppRoleLogin | None, send: Callable[[], T]) -> T:
    """``send()`` with a fresh token; after a 403, once, log in again and ``send()`` again.

    Without ``login`` (a token given, or a ready client), ``send()`` alone: there is
    nothing to log in with. A login answered 403 raises :class:`LoginRefused`, never
    sent again; a second 403 of ``send()`` is raised as hvac's ``Forbidden``.
    """
    import hvac.exceptions as hx

    if login is None:
        return send()
    sent = login.token(vault)
    try:
        return send()
    except hx.Forbidden:
        pass  # outside the except: a second 403 is raised without the first
    login.refused(vault, sent)
    return send()


def denied_hint(path: str, capability: str, *, approle: bool) -> str:
    """The hint of a call answered 403: the policy rule it needs, and, for a token given
    (which may have ended), that it may have expired; an AppRole login's token was new."""
    rule = f'the token\'s policy needs path "{path}" {{ capabilities = ["{capability}"] }}'
    if approle:
        return (
            f"{rule}: a token an AppRole login had just made was refused (check the "
            "role's token_policies)"
        )
    return f"{rule}; if it has it, the token expired or was revoked (log in again, or renew it)"
