"""How the ``/clients`` routes end a client's tokens: on the worker's revocation lists, with
the sessions of the password logins it authenticated (as on delete)."""

from __future__ import annotations

from sealbox.accounts.clients import ClientInfo, EndTokens
from sealbox.accounts.grants import revoke_client_tokens
from sealbox.exceptions import StoreUnavailableError
from sealbox.service.runtime import Runtime

__all__ = ["ender", "tokens_ended"]


def ender(runtime: Runtime, missed: list[StoreUnavailableError] | None = None) -> EndTokens:
    """What refuses a client's tokens of its current version, on the worker's lists.

    ``missed``: where a Redis failure of the sweep after the change is committed (the
    second call, ``sweep_through`` set) is put instead of raised: the change stands, and
    what it made (a rotation's new secret) must still reach the caller."""
    accounts = runtime.accounts

    async def end(client: ClientInfo) -> None:
        try:
            await revoke_client_tokens(
                accounts.revocations,
                client,
                accounts.policy.access_token_ttl,
                sessions=accounts.store.sessions,
            )
        except StoreUnavailableError as exc:
            if missed is None or client.sweep_through is None or exc.store != "Redis":
                raise
            missed.append(exc)

    return end


def tokens_ended(missed: list[StoreUnavailableError]) -> tuple[str, dict[str, str]]:
    """What the audit record of a change ending a client's tokens says of them, and what
    its answer adds: with a sweep after the commit ``missed`` (:func:`ender`), the change
    stands and the tokens were ended ``in part``."""
    if missed:
        return "tokens ended in part", {"tokens_ended": "in part"}
    return "tokens ended", {}
