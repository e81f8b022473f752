"""``/auth/totp…``: enrol, confirm and disable the TOTP second factor (RFC 6238).

The routes parse and answer; :mod:`sealbox.accounts.totp_store` decides. Enrolment asks
for the account's password again. Every code and password sent here is counted by the
login throttle (per username and address) before it is checked; a success gives the
count back: when Redis does not answer that give-back, the change the database made is
still answered as made (a confirmation's recovery codes are shown this once), the attempt
stays counted until its window ends, and a warning is logged. The answers that carry the
secret or the recovery codes are sent with ``Cache-Control: no-store``.

The login itself takes the code in the token endpoint's ``otp`` field
(:mod:`sealbox.integrations.fastapi.router`, the worker's accounts deciding). A client's
token gets 403 ``user_token_required``: a client has no account to enrol.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from sealbox.accounts.models import User
from sealbox.accounts.password_check import checked_password
from sealbox.accounts.sessions import Throttled, attempt_succeeded, throttle_attempt
from sealbox.accounts.throttle import Attempt
from sealbox.accounts.totp import TotpError
from sealbox.integrations.fastapi.bearer import invalid_token
from sealbox.integrations.fastapi.router import NO_STORE
from sealbox.integrations.fastapi.strict_json import StrictJSONRoute
from sealbox.service.deps import RuntimeDep, UserCallerDep
from sealbox.service.errors import ApiError, ErrorCode

__all__ = ["router"]

_STATUS: Final = {
    "totp_code_invalid": (400, ErrorCode.TOTP_CODE_INVALID),
    "totp_already_enabled": (409, ErrorCode.TOTP_ALREADY_ENABLED),
    "totp_not_pending": (409, ErrorCode.TOTP_NOT_PENDING),
    "totp_not_enabled": (409, ErrorCode.TOTP_NOT_ENABLED),
}


class EnrolmentOut(BaseModel):
    """A new secret, for an authenticator app: shown once."""

    secret: str = Field(description="the shared secret, base32 without padding")
    otpauth_uri: str = Field(description="the same secret as a Key Uri Format URI (QR code)")


class PasswordIn(BaseModel):
    """The account's password, asked again before a second factor is added."""

    password: str = Field(min_length=1, max_length=1024, json_schema_extra={"writeOnly": True})


class CodeIn(BaseModel):
    """A current code of the authenticator."""

    code: str = Field(min_length=1, max_length=64, examples=["123456"])


class RecoveryCodesOut(BaseModel):
    """One-time codes that stand in for the authenticator at login: shown once."""

    recovery_codes: list[str]


class TotpStateOut(BaseModel):
    """Whether the caller has a second factor."""

    state: str = Field(description="none, pending or confirmed")
    recovery_codes_left: int


async def _own_account(caller: UserCallerDep, runtime: RuntimeDep) -> User:
    """The caller's account, refused (401 ``invalid_token``, as a revoked token) unless the
    account with the token's id still has the token's name.

    On SQLite a deleted account's id is given to the next account made; when the delete's
    revocation did not reach Redis, the old token still passes until it expires, and must
    not read or change the new account's second factor.
    """
    user = await runtime.accounts.store.token_account(caller.user_id, caller.username)
    if user is None:
        raise invalid_token()
    return user


#: The caller's own account (one database read), before any attempt is counted.
OwnAccountDep = Annotated[User, Depends(_own_account)]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refused(exc: TotpError) -> ApiError:
    status, code = _STATUS.get(exc.code, (400, ErrorCode.TOTP_CODE_INVALID))
    return ApiError(status, code, str(exc))


async def _throttled(runtime: RuntimeDep, event: str, username: str, address: str) -> Attempt:
    try:
        return await throttle_attempt(runtime.accounts, address, username)
    except Throttled as exc:
        runtime.audit.record(event, outcome="throttled", user=username, address=address)
        raise ApiError(
            429,
            ErrorCode.TOO_MANY_REQUESTS,
            "too many attempts; try again later",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None


async def state(account: OwnAccountDep, runtime: RuntimeDep) -> TotpStateOut:
    """The caller's second factor: ``none``, ``pending`` (enrolled, not confirmed) or
    ``confirmed``, and how many recovery codes are left."""
    found = await runtime.totp.state(account.id)
    left = await runtime.totp.recovery_codes_left(account.id) if found else 0
    return TotpStateOut(state=found or "none", recovery_codes_left=left)


async def begin(
    body: PasswordIn,
    request: Request,
    response: Response,
    account: OwnAccountDep,
    runtime: RuntimeDep,
) -> EnrolmentOut:
    """Start (or restart) enrolment: a new secret, to be confirmed with a code.

    Needs the account's password (403 ``invalid_credentials`` when wrong; counted by the
    login throttle): a stolen access token alone must not add a factor that locks the
    owner out. Refused (409 ``totp_already_enabled``) while a confirmed one exists; the
    attempt is given back only when the enrolment starts.
    """
    address = _address(request)
    attempt = await _throttled(runtime, "totp.enrol", account.username, address)
    accounts = runtime.accounts
    right, unusable = await checked_password(accounts, account, body.password, address)
    if not right:
        # A stored hash that cannot be checked is told to the operator, as at login.
        runtime.audit.record(
            "totp.enrol",
            outcome="failure",
            user=account.username,
            address=address,
            detail=unusable,
        )
        raise ApiError(403, ErrorCode.INVALID_CREDENTIALS, "the password is wrong")
    try:
        enrolment = await runtime.totp.begin(account.id, account.username)
    except TotpError as exc:
        # The attempt stays counted: a right password given back here would forget the
        # guesses at a confirmed factor's code counted before it, without limit.
        runtime.audit.record("totp.enrol", outcome=exc.code, user=account.username, address=address)
        raise _refused(exc) from None
    await attempt_succeeded(accounts, address, account.username, attempt, event="totp.enrol")
    runtime.audit.record("totp.enrol", outcome="success", user=account.username, address=address)
    response.headers.update(NO_STORE)
    return EnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


async def confirm(
    body: CodeIn, request: Request, response: Response, account: OwnAccountDep, runtime: RuntimeDep
) -> RecoveryCodesOut:
    """Confirm the enrolment with a current code; answers the recovery codes, once."""
    address = _address(request)
    attempt = await _throttled(runtime, "totp.confirm", account.username, address)
    try:
        codes = await runtime.totp.confirm(account.id, body.code)
    except TotpError as exc:
        runtime.audit.record(
            "totp.confirm", outcome=exc.code, user=account.username, address=address
        )
        raise _refused(exc) from None
    await attempt_succeeded(
        runtime.accounts, address, account.username, attempt, event="totp.confirm"
    )
    runtime.audit.record("totp.confirm", outcome="success", user=account.username, address=address)
    response.headers.update(NO_STORE)
    return RecoveryCodesOut(recovery_codes=codes)


async def disable(
    body: CodeIn, request: Request, account: OwnAccountDep, runtime: RuntimeDep
) -> Response:
    """Remove the second factor; needs a current code of the authenticator."""
    address = _address(request)
    attempt = await _throttled(runtime, "totp.disable", account.username, address)
    try:
        await runtime.totp.disable(account.id, body.code)
    except TotpError as exc:
        runtime.audit.record(
            "totp.disable", outcome=exc.code, user=account.username, address=address
        )
        raise _refused(exc) from None
    await attempt_succeeded(
        runtime.accounts, address, account.username, attempt, event="totp.disable"
    )
    runtime.audit.record("totp.disable", outcome="success", user=account.username, address=address)
    return Response(status_code=204)


def router() -> APIRouter:
    """The ``/auth/totp`` routes."""
    # A body giving a member twice is refused, as at the other auth routes.
    api = APIRouter(prefix="/auth/totp", tags=["auth"], route_class=StrictJSONRoute)
    api.add_api_route("", state, methods=["GET"], response_model=TotpStateOut)
    api.add_api_route("", begin, methods=["POST"], response_model=EnrolmentOut)
    api.add_api_route("/confirm", confirm, methods=["POST"], response_model=RecoveryCodesOut)
    api.add_api_route("/disable", disable, methods=["POST"], status_code=204)
    return api
