"""``/users`` for administrators (scope ``users:admin``): what ``sealbox users`` does.

``GET /users``, ``GET /users/{name}``, ``POST /users/{name}/scopes`` (grant),
``DELETE /users/{name}/scopes/{scope}`` (revoke), ``POST /users/{name}/disable`` and
``/enable``, ``POST /users/{name}/password`` (reset; sessions end), ``DELETE
/users/{name}/totp`` (remove a lost second factor; sessions end), ``DELETE /users/{name}`` and
``POST /users/import``. Each calls
:class:`sealbox.accounts.admin.AccountAdmin` with this worker's store and revocation
lists, so a disabled account's tokens are refused at once on every worker sharing
them. A token carrying ``users:admin`` is refused (403) once its account or client no
longer holds the scope. An unknown account is 404 ``account_not_found``; no answer
holds a password hash. Every change, and every refused one, is written to the audit log
(``admin.grant``, … with the account and the administrator); a change's record is written
in its transaction, so a change whose record the log refuses is not made (503
``audit_unavailable``). A change made whose end of the account's sessions Redis did not
take is 503 ``revocation_incomplete`` (audited as made, then a second record, outcome
``revocation_incomplete``); a store that does not answer otherwise, 503
``store_unavailable``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote, urlencode

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Match
from starlette.types import Scope

from sealbox.accounts import DEFAULT_SCOPES
from sealbox.accounts.admin import (
    AccountAdmin,
    AccountInfo,
    AccountNotFoundError,
    LastHolderError,
)
from sealbox.accounts.audit import AuditUnavailableError, ChangeRecord
from sealbox.accounts.sessions import MAX_PASSWORD
from sealbox.accounts.user_import import ImportReport
from sealbox.accounts.usernames import MAX_USERNAME
from sealbox.exceptions import SealboxError, StorageError, StoreUnavailableError
from sealbox.integrations.fastapi.errors import store_unavailable
from sealbox.integrations.fastapi.router import check_new_password
from sealbox.integrations.fastapi.strict_json import StrictJSONRoute
from sealbox.service.admin import ChangeNotAuditedError, record_import
from sealbox.service.deps import Caller, RuntimeDep, require_held_scopes
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.runtime import Runtime

__all__ = ["ADMIN_SCOPE", "router"]

ADMIN_SCOPE = "users:admin"
#: The most accounts one page of ``GET /users?limit=`` holds.
MAX_PAGE = 1000


AdminDep = Annotated[Caller, require_held_scopes(ADMIN_SCOPE)]


class Account(BaseModel):
    """An account as administrators see it (never its password hash)."""

    id: int
    username: str
    scopes: list[str]
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class _Body(BaseModel):
    """A request body: a member it does not know is refused (422), as the transit key
    routes do, never dropped while the rest is acted on (a misspelt ``skip_invalid``)."""

    model_config = ConfigDict(extra="forbid")


class ScopesIn(_Body):
    """Scopes to grant."""

    scopes: list[str] = Field(min_length=1, max_length=64, examples=[["transit:admin"]])


class PasswordIn(_Body):
    """The new password."""

    password: str = Field(min_length=1, max_length=4 * MAX_PASSWORD)


class ImportIn(_Body):
    """Accounts to import (an entry that is not an object is refused as its own, as a
    line of a file is); ``skip_invalid`` imports the valid ones when others are refused."""

    users: list[Any] = Field(max_length=10_000)
    skip_invalid: bool = False


class ImportProblemOut(BaseModel):
    """A refused entry: its position (1-based), its username if any, and why."""

    line: int
    username: str | None
    reason: str


class ImportOut(BaseModel):
    """The accounts created and the entries refused."""

    imported: list[str]
    refused: list[ImportProblemOut]


def _account(info: AccountInfo) -> Account:
    return Account(
        id=info.id,
        username=info.username,
        scopes=list(info.scopes),
        disabled=info.disabled,
        created_at=info.created_at,
        last_login_at=info.last_login_at,
    )


def _admin(runtime: Runtime, record: ChangeRecord | None = None) -> AccountAdmin:
    return AccountAdmin(
        runtime.store,
        runtime.revocations,
        runtime.hasher,
        access_token_ttl=runtime.settings.access_token_ttl,
        run_hasher=runtime.run_hasher,
        # Measured as this worker's hasher measures: a password it would refuse is a 422.
        password_policy=functools.partial(check_new_password, max_length=runtime.hasher.max_length),
        default_scopes=DEFAULT_SCOPES,
        # Over HTTP, some enabled account keeps the scope: with none, only the command
        # line on the data folder could administer the accounts again.
        keep_holder_of=ADMIN_SCOPE,
        change_record=record,
    )


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _act(
    runtime: Runtime,
    request: Request,
    caller: Caller,
    operation: Callable[[AccountAdmin], Awaitable[Any]],
    *,
    event: str = "",
    name: str = "",
    not_own: str = "",
    repeat: str = "",
) -> Any:
    """Run ``operation``, map its errors to JSON ones, audit ``event`` on the account (as
    stored once found, in the change's transaction: a record refused changes nothing;
    ``name`` as given when it is not found). ``not_own``: refuse it on the
    caller's own account first (:func:`_not_own`, audited as any refusal). ``repeat``: the
    operation ends the account's sessions in Redis after its change is committed, and this
    says what repeating the request does when Redis missed that (:func:`_incomplete`)."""

    def audit(outcome: str, user: str, why: str = "") -> None:
        if event:
            detail = f"by {caller.username}{why}"
            address = _address(request)
            runtime.audit.record(event, outcome=outcome, user=user, address=address, detail=detail)

    record = None
    if event:
        by = f"by {caller.username}"
        record = ChangeRecord(runtime.audit, event, user=name, address=_address(request), detail=by)
    try:
        if not_own:
            await _not_own(runtime, caller, name, not_own)
        result = await operation(_admin(runtime, record))
    except AuditUnavailableError:
        raise  # the change's record was refused: nothing was changed (503)
    except AccountNotFoundError as exc:
        audit("not_found", name)
        raise ApiError(404, ErrorCode.ACCOUNT_NOT_FOUND, str(exc)) from None
    except ApiError:
        audit("refused", name)
        raise
    except LastHolderError as exc:
        audit("refused", name)
        raise ApiError(409, ErrorCode.LAST_ADMIN, str(exc)) from None
    except StoreUnavailableError as exc:
        # Not the request's fault, so no 422: Redis missing the end of the sessions after
        # the commit leaves the change made; any other outage, not known to be made or not.
        if repeat and exc.store == "Redis" and record is not None and record.written:
            # Recorded as made in its transaction; this record says what it missed.
            user = record.user or name
            raise _incomplete(exc, repeat, lambda: audit(_INCOMPLETE, user, _NO_REDIS)) from None
        audit("failure", name, f"; {exc.store} did not answer")
        raise store_unavailable(exc) from None
    except SealboxError as exc:
        audit("refused", name)
        codes = {
            "invalid_scope": ErrorCode.INVALID_SCOPE,
            "import_refused": ErrorCode.IMPORT_REFUSED,
        }
        raise ApiError(422, codes.get(exc.code, ErrorCode.VALIDATION_ERROR), str(exc)) from None
    return result


_NO_REDIS = "; Redis did not answer"
#: The outcome of the second record of a change made whose end of sessions Redis missed.
_INCOMPLETE = "revocation_incomplete"


def _incomplete(exc: StoreUnavailableError, repeat: str, audit: Callable[[], None]) -> ApiError:
    """503 ``revocation_incomplete``: the change is in the database (and audited as made, in
    its transaction; ``audit`` adds a record of what Redis missed), but Redis did not take
    the end of the account's sessions, so other workers may take its live access tokens
    until they expire; this worker refuses them, and writes them to Redis once it answers.
    Not a 200: the change did not do what it is for, and an answer of 204 has no room to
    say so."""
    unrecorded = ""
    try:
        audit()
    except AuditUnavailableError as lost:
        unrecorded = f"; nor could the audit log record that ({lost.facts['problem']})"
    return ApiError(
        503,
        ErrorCode.REVOCATION_INCOMPLETE,
        f"the change is made, but Redis did not answer ({exc.cause}): the account's live "
        f"access tokens may not be refused yet; {repeat}{unrecorded}",
        # A wait is worth naming only where a repeat completes the change.
        headers={"Retry-After": "5"} if repeat == _REPEAT_ENDS else None,
    )


#: What repeating a request that ends an account's sessions does once Redis answers.
_REPEAT_ENDS = "repeat the request once Redis answers to end them"
_REPEAT_GONE = (
    "the account is gone, so repeating the request cannot complete it: this worker "
    "refuses those tokens and writes them to Redis once it answers; until then other "
    "workers may take them, at most until they expire"
)


async def list_accounts(
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    caller: AdminDep,
    *,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE)] = None,
    after: Annotated[str | None, Query(max_length=MAX_USERNAME)] = None,
) -> list[Account]:
    """The accounts, by name: all of them, or a page of ``limit`` after the name ``after``.

    A full page links to the next one (``Link: <…>; rel="next"``, RFC 8288), whose
    ``after`` is this page's last name: a client follows links until there is none.
    """
    accounts = await _act(
        runtime, request, caller, lambda a: a.list_accounts(limit=limit, after=after)
    )
    if limit is not None and len(accounts) == limit:
        query = urlencode({"limit": limit, "after": accounts[-1].username})
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    return [_account(a) for a in accounts]


async def show_account(
    name: str, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> Account:
    """One account."""
    return _account(await _act(runtime, request, caller, lambda a: a.show(name)))


async def grant(
    name: str, body: ScopesIn, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> Account:
    """Grant scopes: the account's next login gets them."""
    scopes = body.scopes
    info = await _act(
        runtime, request, caller, lambda a: a.grant(name, scopes), event="admin.grant", name=name
    )
    return _account(info)


async def revoke(
    name: str, scope: str, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> Account:
    """Take a scope back: refreshes drop it at once, logins no longer get it."""
    info = await _act(
        runtime,
        request,
        caller,
        lambda a: a.revoke(name, [scope]),
        event="admin.revoke",
        name=name,
        not_own=f"take {ADMIN_SCOPE} from" if scope == ADMIN_SCOPE else "",
    )
    return _account(info)


async def _not_own(runtime: Runtime, caller: Caller, name: str, doing: str) -> None:
    """Refuse an administrator locking itself out over HTTP (409 ``own_account``): with
    its own account disabled, deleted or without ``users:admin``, the last administrator
    would leave nobody to undo it but the command line."""
    try:
        info = await _admin(runtime).show(name)
    except AccountNotFoundError:
        return  # the operation itself answers (and audits) the unknown name
    if info.id == caller.user_id:
        raise ApiError(
            409,
            ErrorCode.OWN_ACCOUNT,
            f"an administrator cannot {doing} its own account over HTTP; another "
            "administrator, or `sealbox users` on the data folder, can",
        )


async def disable(name: str, runtime: RuntimeDep, request: Request, caller: AdminDep) -> Account:
    """Disable: no login or refresh, and the account's access tokens are refused at once."""
    info = await _act(
        runtime,
        request,
        caller,
        lambda a: a.disable(name),
        event="admin.disable",
        name=name,
        repeat=_REPEAT_ENDS,
        not_own="disable",
    )
    return _account(info)


async def enable(name: str, runtime: RuntimeDep, request: Request, caller: AdminDep) -> Account:
    """Let a disabled account log in again."""
    info = await _act(
        runtime, request, caller, lambda a: a.enable(name), event="admin.enable", name=name
    )
    return _account(info)


async def reset_password(
    name: str, body: PasswordIn, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> Response:
    """Set a new password; every session of the account ends."""
    await _act(
        runtime,
        request,
        caller,
        lambda a: a.reset_password(name, body.password),
        event="admin.reset_password",
        name=name,
        repeat=_REPEAT_ENDS,
    )
    return Response(status_code=204)


class SecondFactorRemoved(BaseModel):
    """The account whose second factor was removed, and whether it had one."""

    username: str
    removed: bool


async def reset_totp(
    name: str, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> SecondFactorRemoved:
    """Remove the account's second factor (TOTP) and recovery codes, for a user who lost
    them: the password alone logs in again, and the user may enrol anew. Every session of
    the account ends, as at a password reset: the tokens made with the old factor are
    refused at once."""
    info, removed = await _act(
        runtime,
        request,
        caller,
        lambda a: a.reset_totp(name),
        event="admin.reset_totp",
        name=name,
        repeat=_REPEAT_ENDS,
    )
    return SecondFactorRemoved(username=info.username, removed=removed)


async def delete_account(
    name: str, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> Response:
    """Delete the account; its tokens are refused at once."""
    await _act(
        runtime,
        request,
        caller,
        lambda a: a.delete(name),
        event="admin.delete",
        name=name,
        repeat=_REPEAT_GONE,
        not_own="delete",
    )
    return Response(status_code=204)


def _utf8(text: str) -> str:
    """``text`` as a UTF-8 answer can carry it: a lone surrogate, which JSON may spell
    (``"\\ud800"``) and an entry's username then holds, escaped as ``\\ud800``."""
    return text.encode("utf-8", "backslashreplace").decode()


async def import_accounts(
    body: ImportIn, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> ImportOut:
    """Create accounts with the password hashes of another system (Argon2, bcrypt,
    Django's pbkdf2_sha256, pbkdf2_sha1, bcrypt_sha256 and bcrypt, passlib's pbkdf2-sha256
    and pbkdf2-sha512, Werkzeug's pbkdf2:sha256, pbkdf2:sha512, pbkdf2:sha1 and scrypt),
    upgraded at each one's next login. Nothing is imported when an
    entry is refused (422 ``import_refused``, the entries listed), unless ``skip_invalid``.
    When the audit log cannot take the records, the accounts without one are deleted
    again (503 ``audit_unavailable``, ``imported`` naming those that stand)."""
    records = list(enumerate(body.users, start=1))
    by = f"by {caller.username}"
    address = _address(request)
    recorded: list[str] = []

    def audit(outcome: str, user: str | None, detail: str) -> None:
        # An entry's name and reason as a UTF-8 answer can carry them, as the answer does.
        user = None if user is None else _utf8(user)
        runtime.audit.record(
            "admin.import", outcome=outcome, user=user, address=address, detail=_utf8(detail)
        )
        if outcome == "success" and user is not None:
            recorded.append(user)

    try:
        report: ImportReport = await _act(
            runtime,
            request,
            caller,
            lambda a: a.import_users(records, skip_invalid=body.skip_invalid),
        )
    except ApiError as exc:
        outage = exc.code == ErrorCode.STORE_UNAVAILABLE
        audit("failure" if outage else "refused", None, f"{by}: {exc.message}")
        raise
    # The records as `sealbox users import` writes them: each refused entry, then each
    # account; an account whose record is lost is deleted again, as there.
    try:
        await record_import(report, audit, runtime.store, by=by, entry="entry")
    except ChangeNotAuditedError as exc:
        raise ApiError(
            500, ErrorCode.AUDIT_INCOMPLETE, str(exc), extra={"imported": list(report.imported)}
        ) from None
    except StorageError as exc:
        if exc.code != "audit_unavailable":
            raise
        raise ApiError(
            503,
            ErrorCode.AUDIT_UNAVAILABLE,
            str(exc),
            headers={"Retry-After": "30"},
            extra={"imported": recorded},
        ) from None
    refused = [
        ImportProblemOut(
            line=p.line,
            username=None if p.username is None else _utf8(p.username),
            reason=_utf8(p.reason),
        )
        for p in report.problems
    ]
    if report.problems and not body.skip_invalid:
        raise ApiError(
            422,
            ErrorCode.IMPORT_REFUSED,
            f"nothing was imported: {len(refused)} of {report.lines} entries are refused",
            extra={"refused": [r.model_dump() for r in refused]},
        )
    return ImportOut(imported=list(report.imported), refused=refused)


class _SegmentRoute(StrictJSONRoute):
    """A route matched against the path as it was sent, each segment decoded on its own
    (and, as every JSON route of the service, whose body may not give a member twice).

    An account name may hold a ``/``, sent as ``%2F``. Matched against the decoded path,
    it would be two segments and the request another route's: ``DELETE
    /users/vic%2Ftotp`` would remove the second factor of ``vic`` instead of deleting the
    account ``vic/totp``.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raw = scope.get("raw_path")
        if not raw or b"%2f" not in raw.lower() or not raw.isascii():
            return super().matches(scope)
        segments = [unquote(part) for part in raw.decode().partition("?")[0].split("/")]
        if any("\0" in part for part in segments):
            return super().matches(scope)
        # A "/" within a segment stands as a NUL, which no name or scope holds, while the
        # route's pattern is matched.
        path = "/".join(part.replace("/", "\0") for part in segments)
        match, child = super().matches({**scope, "path": path})
        if "path_params" in child:
            child["path_params"] = {
                key: value.replace("\0", "/") if isinstance(value, str) else value
                for key, value in child["path_params"].items()
            }
        return match, child


def router() -> APIRouter:
    """The administrators' ``/users`` routes (include after ``/users/me``)."""
    api = APIRouter(prefix="/users", tags=["users (admin)"], route_class=_SegmentRoute)
    api.add_api_route("", list_accounts, methods=["GET"], response_model=list[Account])
    api.add_api_route("/import", import_accounts, methods=["POST"], response_model=ImportOut)
    api.add_api_route("/{name}", show_account, methods=["GET"], response_model=Account)
    api.add_api_route("/{name}", delete_account, methods=["DELETE"], status_code=204)
    api.add_api_route("/{name}/scopes", grant, methods=["POST"], response_model=Account)
    # A scope may hold a "/" (kv:read:secret/app), sent as it is or as %2F.
    api.add_api_route(
        "/{name}/scopes/{scope:path}", revoke, methods=["DELETE"], response_model=Account
    )
    api.add_api_route("/{name}/disable", disable, methods=["POST"], response_model=Account)
    api.add_api_route("/{name}/enable", enable, methods=["POST"], response_model=Account)
    api.add_api_route("/{name}/password", reset_password, methods=["POST"], status_code=204)
    api.add_api_route(
        "/{name}/totp", reset_totp, methods=["DELETE"], response_model=SecondFactorRemoved
    )
    return api
