"""How ``DELETE /clients/{name}`` removes a client: its tokens refused, the client deleted,
then the tokens of the password logins that raced the deletion refused too."""

from __future__ import annotations

from sealbox.accounts.clients import ClientStore
from sealbox.accounts.grants import revoke_client_tokens
from sealbox.exceptions import StoreUnavailableError
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.runtime import Runtime

__all__ = ["delete_sweeping", "partly_ended"]


async def delete_sweeping(
    runtime: Runtime, store: ClientStore, name: str
) -> StoreUnavailableError | None:
    """Delete client ``name``, refusing its access tokens first; answer the outage that
    stopped the sweep after the deletion, if any (the client is deleted all the same).

    Raises:
        ClientNotFoundError: no client of that name (or it was deleted meanwhile).
        StoreUnavailableError: before the deletion: the client is kept.
    """
    client = await store.get(name)
    accounts = runtime.accounts
    ttl = accounts.policy.access_token_ttl
    # Its tokens refused first: when that cannot be recorded, the client is still there,
    # never deleted while its live tokens still pass.
    await revoke_client_tokens(accounts.revocations, client, ttl, sessions=accounts.store.sessions)
    deleted = await store.delete(name, client_id=client.client_id)
    # Swept again once it is gone: a password login through it stores its family holding
    # the client's row, so the deletion waited for any such login and its family is read
    # now (a later one stores none); and tokens of a version raised meanwhile (a racing
    # disable or rotation) are refused too.
    try:
        await revoke_client_tokens(
            accounts.revocations, deleted, ttl, sessions=accounts.store.sessions
        )
    except StoreUnavailableError as exc:
        return exc  # the deletion is committed: it stands, whichever store failed
    return None


def partly_ended(name: str, missed: StoreUnavailableError) -> ApiError:
    """503 ``revocation_incomplete``: the client is deleted, but the sweep after the
    deletion was not made; a repeat answers 404, so it cannot be completed."""
    return ApiError(
        503,
        ErrorCode.REVOCATION_INCOMPLETE,
        f"deleted client {name!r}, but {missed.store} did not answer ({missed.cause}): the "
        "access tokens of a password login through it that raced the deletion may pass "
        "until they expire; the client is gone, so repeating the request cannot complete it",
    )
