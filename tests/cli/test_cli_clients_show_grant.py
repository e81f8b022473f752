"""``sealbox clients show``, ``grant`` and ``revoke`` on a data folder: never a secret or
its hash, an unknown client one clear error (exit 1), each change audited."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sealbox.tls.ca import CertificateAuthority


def _create(cli, data: Path, name: str, *extra: str) -> dict[str, str]:
    made = cli(["clients", "create", name, "--json", "--data-dir", data, *extra])
    assert made.code == 0, made.stderr
    document: dict[str, str] = json.loads(made.out)
    return document


def _hashes(data: Path) -> list[str]:
    with sqlite3.connect(data / "sealbox.db") as db:
        rows = db.execute("SELECT secret_hash, previous_secret_hash FROM oauth_clients").fetchall()
    return [h.hex() for row in rows for h in row if h is not None]


def test_show_prints_the_client_and_the_end_of_the_previous_secrets_overlap_never_a_secret(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    made = _create(cli, data, "reporting", "--scope", "users:me")
    rotated = cli(
        ["clients", "rotate-secret", "reporting", "--overlap", "600", "--json", "--data-dir", data]
    )
    assert rotated.code == 0, rotated.stderr
    new_secret = json.loads(rotated.out)["client_secret"]
    plain = cli(["clients", "show", "reporting", "--data-dir", data])
    as_json = cli(["clients", "show", "reporting", "--json", "--data-dir", data])
    assert plain.code == 0 and as_json.code == 0, plain.stderr + as_json.stderr
    lines = dict(line.split(":", 1) for line in plain.out.splitlines())
    assert lines["name"].strip() == "reporting"
    assert lines["client_id"].strip() == made["client_id"]
    assert lines["scopes"].strip() == "users:me"
    assert lines["auth methods"].strip() == "client_secret_basic,client_secret_post"
    document = json.loads(as_json.out)
    assert document["previous_secret_expires"] is not None
    assert lines["previous secret expires"].strip() == document["previous_secret_expires"]
    assert "certificate" not in lines
    listed = json.loads(cli(["clients", "list", "--json", "--data-dir", data]).out)
    assert listed == [document]  # the same document as list --json
    shown = plain.out + plain.stderr + as_json.out + as_json.stderr
    for secret in [made["client_secret"], new_secret, *_hashes(data)]:
        assert secret not in shown


def test_show_names_the_certificate_subject_of_a_bound_client(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    ca = CertificateAuthority.generate(name="clients CA")
    cert, _key = ca.issue_client("billing-worker").write(tmp_path / "billing")
    _create(cli, data, "billing", "--cert", str(cert), "--no-secret")
    shown = cli(["clients", "show", "billing", "--data-dir", data])
    assert shown.code == 0, shown.stderr
    lines = dict(line.split(":", 1) for line in shown.out.splitlines())
    assert "CN=billing-worker" in lines["certificate"]
    assert lines["auth methods"].strip() == "tls_client_auth"


def test_grant_and_revoke_change_the_scopes_and_say_what_the_client_holds(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _create(cli, data, "reporting", "--scope", "users:me")
    granted = cli(
        [
            "clients",
            "grant",
            "reporting",
            "transit:admin",
            "kv:read:secret/app",
            "users:me",
            "--data-dir",
            data,
        ]
    )
    assert granted.code == 0, granted.stderr
    assert granted.out == "reporting holds kv:read:secret/app transit:admin users:me\n"
    revoked = cli(
        [
            "clients",
            "revoke",
            "reporting",
            "users:me",
            "transit:admin",
            "not:held",
            "--data-dir",
            data,
        ]
    )
    assert revoked.code == 0, revoked.stderr
    assert revoked.out == "reporting holds kv:read:secret/app\n"
    emptied = cli(["clients", "revoke", "reporting", "kv:read:secret/app", "--data-dir", data])
    assert emptied.out == "reporting holds no scope\n"
    shown = json.loads(cli(["clients", "show", "reporting", "--json", "--data-dir", data]).out)
    assert shown["scopes"] == []


def test_a_scope_sealbox_does_not_know_is_refused_when_granted_and_nothing_changes(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _create(cli, data, "reporting", "--scope", "users:me")
    for scope in ["transit:nonsense", "two words"]:
        refused = cli(["clients", "grant", "reporting", "transit:admin", scope, "--data-dir", data])
        assert refused.code == 1
        assert refused.stderr.startswith("sealbox: error: ")
    shown = json.loads(cli(["clients", "show", "reporting", "--json", "--data-dir", data]).out)
    assert shown["scopes"] == ["users:me"]


@pytest.mark.parametrize(
    "command",
    [["show"], ["grant", "users:me"], ["revoke", "users:me"]],
    ids=["show", "grant", "revoke"],
)
def test_an_unknown_client_is_one_clear_error_exit_1(
    cli, tmp_path: Path, command: list[str]
) -> None:
    data = tmp_path / "data"
    _create(cli, data, "reporting")
    result = cli(["clients", command[0], "nope", *command[1:], "--data-dir", data])
    assert result.code == 1
    assert result.out == ""
    assert result.stderr == (
        "sealbox: error: there is no client named 'nope'\n"
        "sealbox: hint: list the clients with 'sealbox clients list'\n"
    )


def test_grant_and_revoke_are_audited_with_the_scopes_held_and_no_secret(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    made = _create(cli, data, "reporting", "--scope", "users:me")
    assert cli(["clients", "grant", "reporting", "transit:admin", "--data-dir", data]).code == 0
    assert cli(["clients", "revoke", "reporting", "users:me", "--data-dir", data]).code == 0
    audit = (data / "audit.log").read_text()
    records = [json.loads(line) for line in audit.splitlines()]
    changes = [(r["event"], r["outcome"], r["detail"]) for r in records[1:]]
    at = f"reporting ({made['client_id']}); command line"
    assert changes == [
        ("client_grant", "success", f"{at}; holds transit:admin users:me"),
        ("client_revoke", "success", f"{at}; holds transit:admin"),
    ]
    for secret in [made["client_secret"], *_hashes(data)]:
        assert secret not in audit
