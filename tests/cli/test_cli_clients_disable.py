"""``sealbox clients disable``, ``enable`` and ``rotate-secret --revoke-tokens`` when the
tokens cannot be refused: nothing is changed, and the error says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

UNREACHABLE = {"SEALBOX_REDIS_URL": "redis://:canary-redis-password@127.0.0.1:1/0"}


@pytest.mark.parametrize(
    "args",
    [["disable"], ["rotate-secret", "--revoke-tokens"]],
)
def test_ending_a_clients_tokens_changes_nothing_when_redis_does_not_answer(
    cli, tmp_path: Path, args: list[str]
) -> None:
    data = tmp_path / "data"
    made = cli(["clients", "create", "reporting", "--json", "--data-dir", data])
    assert made.code == 0, made.stderr
    before = json.loads(made.out)
    r = cli(["clients", args[0], "reporting", *args[1:], "--data-dir", data], env=UNREACHABLE)
    assert r.code == 1
    assert r.out == ""
    assert r.stderr == (
        "sealbox: error: the access tokens of client 'reporting' cannot be refused: Redis did "
        "not answer (ConnectionError); nothing is changed\n"
        "sealbox: hint: nothing was changed, and the client works as before; once the Redis "
        "of SEALBOX_REDIS_URL answers, run the same command again\n"
    )
    assert "canary-redis-password" not in r.stderr
    shown = json.loads(cli(["clients", "show", "reporting", "--json", "--data-dir", data]).out)
    assert shown["disabled"] is False
    # The secret was not rotated either.
    assert shown["secret_rotated"] == before["secret_rotated"]
    # Recorded before the tokens were to be ended, then said not made.
    changes = [e for e in _audit(data) if e["event"] in {"client_disable", "client_rotate"}]
    assert [e["outcome"] for e in changes] == ["success", "not_committed"]


def _audit(data: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]


def test_enable_lets_a_disabled_client_be_shown_enabled_and_is_audited(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(["clients", "create", "reporting", "--data-dir", data]).code == 0
    assert cli(["clients", "disable", "reporting", "--data-dir", data]).code == 0
    shown = json.loads(cli(["clients", "show", "reporting", "--json", "--data-dir", data]).out)
    assert shown["disabled"] is True
    assert cli(["clients", "enable", "reporting", "--data-dir", data]).code == 0
    listed = json.loads(cli(["clients", "list", "--json", "--data-dir", data]).out)
    assert [c["disabled"] for c in listed] == [False]
    events = [(e["event"], e["detail"].split("; ", 1)[1]) for e in _audit(data)[1:]]
    assert events == [
        ("client_disable", "command line; tokens ended"),
        ("client_enable", "command line"),
    ]
