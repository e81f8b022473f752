"""How the ``/clients`` routes end a client's tokens: on the worker's revocation lists, with
the sessions of the password logins it authenticated; and how ``DELETE /clients/{name}``
removes a client: its tokens refused, the client deleted, then the tokens of the password
logins that raced the deletion refused too."""

from __future__ import annotations

import contextlib

from sealbox.accounts.audit import AuditUnavailableError, ChangeRecord
from sealbox.accounts.clients import BeforeCommit, ClientInfo, ClientStore, EndTokens
from sealbox.accounts.grants import revoke_client_tokens
from sealbox.exceptions import StoreUnavailableError
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.runtime import Runtime

__all__ = ["delete_sweeping", "ender", "partly_ended", "tokens_ended"]


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


def tokens_ended(
    record: ChangeRecord, name: str, missed: list[StoreUnavailableError]
) -> dict[str, str]:
    """What the answer of a change ending a client's tokens adds: with a sweep after the
    commit ``missed`` (:func:`ender`), the change stands and the tokens were ended ``in
    part``, which a second record says (outcome ``incomplete``; best effort: the change
    and its first record are committed, and a log that refuses it is logged on stderr)."""
    if not missed:
        return {}
    with contextlib.suppress(AuditUnavailableError):
        record.write("incomplete", detail=f"{name}; tokens ended in part")
    return {"tokens_ended": "in part"}


async def delete_sweeping(
    runtime: Runtime, store: ClientStore, name: str, before_commit: BeforeCommit
) -> StoreUnavailableError | None:
    """Delete client ``name``: its transaction writes the record (``before_commit``), then
    refuses its access tokens, then deletes it (:meth:`ClientStore.delete`); answer the
    outage that stopped the sweep after the deletion, if any (the client is deleted all
    the same).

    Raises:
        ClientNotFoundError: no client of that name (or it was deleted meanwhile).
        AuditUnavailableError: the record was refused: nothing is changed, no token ended.
        StoreUnavailableError: before the deletion: the client is kept.
    """
    accounts = runtime.accounts
    ttl = accounts.policy.access_token_ttl

    async def end(client: ClientInfo) -> None:
        await revoke_client_tokens(
            accounts.revocations, client, ttl, sessions=accounts.store.sessions
        )

    # Its tokens refused before the deletion commits: when that cannot be recorded, the
    # client is still there, never deleted while its live tokens still pass.
    deleted = await store.delete(name, end=end, before_commit=before_commit)
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
