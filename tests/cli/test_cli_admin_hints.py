"""The codes that ``sealbox users`` and ``sealbox clients`` meet have a command-line hint
where a person acts with a command or a setting: ``tokens_not_ended`` (``clients disable``
or ``rotate-secret --revoke-tokens`` while Redis does not answer; the whole command is in
tests/cli/test_cli_clients_disable.py) names SEALBOX_REDIS_URL and says to run the same
command again."""

from __future__ import annotations

from sealbox.cli._hints import HINTS, hint_for
from sealbox.exceptions import StorageError

HINT = (
    "sealbox: hint: nothing was changed, and the client works as before; once the Redis of "
    "SEALBOX_REDIS_URL answers, run the same command again\n"
)


def test_every_code_sealbox_users_and_clients_meet_has_its_command_line_hint() -> None:
    # The codes of the account and client administration that a person at the command
    # line acts on with a command or a setting (the others' library hints need no flag).
    for code in (
        "account_not_found",
        "client_not_found",
        "client_exists",
        "username_taken",
        "revocation_unavailable",
        "revocation_incomplete",
        "tokens_not_ended",
        "database_unavailable",
        "store_unavailable",
        "service_not_provisioned",
        "audit_log_not_writable",
    ):
        assert code in HINTS, code
    error = StorageError("x", hint="library advice", code="tokens_not_ended", facts={"name": "r"})
    assert hint_for(error) == HINT.removeprefix("sealbox: hint: ").rstrip("\n")
