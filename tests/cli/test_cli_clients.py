"""``sealbox clients``: create, list, rotate-secret, delete; the secret only on stdout, once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from sealbox.tls.ca import CertificateAuthority


def _create(cli, data: Path, name: str, *extra: str):
    return cli(["clients", "create", name, "--data-dir", data, *extra])


def test_create_prints_the_client_id_and_secret_on_stdout_and_notes_on_stderr(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    r = _create(cli, data, "reporting", "--scope", "users:me", "--scope", "transit:admin")
    assert r.code == 0, r.stderr
    lines = r.out.splitlines()
    assert lines[0].startswith("client_id: sbc_")
    assert lines[1].startswith("client_secret: sbs_")
    secret = lines[1].split(": ", 1)[1]
    assert len(secret) == 4 + 43  # 256 random bits in base64url
    assert secret not in r.stderr
    assert "created client reporting with scopes transit:admin users:me" in r.stderr
    assert "shown this once" in r.stderr


def test_create_json_and_list_json_share_fields_and_list_never_shows_a_secret(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    created = _create(cli, data, "reporting", "--scope", "users:me", "--json")
    made = json.loads(created.out)
    assert set(made) >= {"client_id", "name", "scopes", "client_secret"}
    # The notes go to standard error with --json too, as clients.md shows.
    assert created.stderr == (
        "created client reporting with scopes users:me\n"
        "the secret is shown this once: store it now\n"
    )
    listed = cli(["clients", "list", "--json", "--data-dir", data])
    assert listed.code == 0
    entry = json.loads(listed.out)[0]
    assert {k: v for k, v in made.items() if k != "client_secret"} == entry
    assert made["client_secret"] not in listed.out + listed.stderr
    plain = cli(["clients", "list", "--data-dir", data])
    assert plain.out.split("\t")[:2] == ["reporting", made["client_id"]]
    assert made["client_secret"] not in plain.out


def test_rotate_secret_prints_a_new_secret_and_keeps_the_old_for_the_overlap(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    made = json.loads(_create(cli, data, "reporting", "--json").out)
    r = cli(
        ["clients", "rotate-secret", "reporting", "--overlap", "600", "--json", "--data-dir", data]
    )
    assert r.code == 0, r.stderr
    rotated = json.loads(r.out)
    assert rotated["client_secret"] != made["client_secret"]
    assert rotated["client_id"] == made["client_id"]
    expires = datetime.fromisoformat(rotated["previous_secret_expires"])
    assert expires - datetime.fromisoformat(rotated["secret_rotated"]) == timedelta(seconds=600)
    assert rotated["created"].endswith("Z")
    assert "keeps working for 600 seconds" in r.stderr


def test_create_with_a_certificate_registers_its_subject_for_tls_client_auth(
    cli, tmp_path: Path
) -> None:
    ca = CertificateAuthority.generate(name="clients CA")
    cert, _key = ca.issue_client("billing-service").write(tmp_path / "billing")
    data = tmp_path / "data"
    r = _create(cli, data, "billing", "--cert", cert, "--no-secret", "--json")
    assert r.code == 0, r.stderr
    made = json.loads(r.out)
    assert made["tls_client_auth_subject_dn"] == "CN=billing-service"
    assert made["token_endpoint_auth_methods"] == ["tls_client_auth"]
    assert "client_secret" not in made


def test_errors_say_what_and_hint_what_to_do(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _create(cli, data, "reporting").code == 0
    taken = _create(cli, data, "reporting")
    assert taken.code == 1
    assert taken.stderr == (
        "sealbox: error: a client named 'reporting' exists already\n"
        "sealbox: hint: choose another name, or give it a new secret with "
        "'sealbox clients rotate-secret reporting'\n"
    )
    missing = cli(["clients", "rotate-secret", "nope", "--data-dir", data])
    assert missing.code == 1
    assert missing.stderr == (
        "sealbox: error: there is no client named 'nope'\n"
        "sealbox: hint: list the clients with 'sealbox clients list'\n"
    )
    bad = _create(cli, data, "two words")
    assert bad.code == 1
    assert bad.stderr.startswith("sealbox: error: the client name 'two words' is not valid\n")
    nothing = _create(cli, data, "nocreds", "--no-secret")
    assert nothing.code == 2  # contradicting flags: a usage error
    assert "needs a secret or a certificate" in nothing.stderr
    assert missing.out == taken.out == bad.out == ""


def test_delete_needs_yes_without_a_terminal_and_then_removes_the_client(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert _create(cli, data, "reporting").code == 0
    refused = cli(["clients", "delete", "reporting", "--data-dir", data])
    assert refused.code == 1
    assert "sealbox: hint: pass --yes to confirm" in refused.stderr
    done = cli(["clients", "delete", "reporting", "--yes", "--data-dir", data])
    assert done.code == 0, done.stderr
    assert "deleted client reporting" in done.stderr
    assert json.loads(cli(["clients", "list", "--json", "--data-dir", data]).out) == []


def test_delete_keeps_the_client_when_its_tokens_cannot_be_refused(cli, tmp_path: Path) -> None:
    # A Redis that does not answer (port 1, nothing listens): the revocation is recorded
    # before the deletion, so the failure leaves the client there rather than deleting a
    # client whose live tokens would pass until they expire.
    data = tmp_path / "data"
    made = json.loads(_create(cli, data, "reporting", "--json").out)
    unreachable = {"SEALBOX_REDIS_URL": "redis://:canary-redis-password@127.0.0.1:1/0"}
    r = cli(["clients", "delete", "reporting", "--yes", "--data-dir", data], env=unreachable)
    assert r.code == 1
    assert r.stderr == (
        "sealbox: error: the access tokens of client 'reporting' cannot be refused: Redis did "
        "not answer (ConnectionError); the client is kept\n"
        "sealbox: hint: it still works; once the Redis of "
        "SEALBOX_REDIS_URL answers, run 'sealbox clients delete reporting' again\n"
    )
    assert "canary-redis-password" not in r.out + r.stderr
    listed = json.loads(cli(["clients", "list", "--json", "--data-dir", data]).out)
    assert [c["client_id"] for c in listed] == [made["client_id"]]
