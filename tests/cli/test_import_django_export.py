"""``sealbox users import`` of a Django export: the ``auth_user`` column is ``password``,
and an account without a usable password holds Django's ``!`` mark. Each refusal says
what to do, quoting neither the hash nor the mark's random tail."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.unit.test_passwords_django import django_pbkdf2


def _import(cli, tmp_path: Path, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    source = tmp_path / "django.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    r = cli(
        ["users", "import", source, "--json", "--data-dir", tmp_path / "data"],
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert r.code == 1, r.stderr
    return list(json.loads(r.out)["refused"])


def test_a_hash_in_a_password_member_is_refused_saying_to_rename_it(cli, tmp_path) -> None:
    stored = django_pbkdf2("dj-export-pw-1")
    refused = _import(cli, tmp_path, [{"username": "dj", "password": stored}])
    assert refused == [
        {
            "line": 1,
            "name": "dj",
            "reason": "unknown member 'password' (it holds a pbkdf2_sha256 hash: "
            "name it 'password_hash')",
        }
    ]


def test_a_password_member_in_clear_is_refused_without_the_hint(cli, tmp_path) -> None:
    refused = _import(cli, tmp_path, [{"username": "dj", "password": "hunter2-clear"}])
    assert refused[0]["reason"] == "unknown member 'password'"


def test_djangos_unusable_password_mark_is_named_not_quoted(cli, tmp_path) -> None:
    mark = "!" + secrets.token_urlsafe(30)
    refused = _import(cli, tmp_path, [{"username": "social", "password_hash": mark}])
    reason = str(refused[0]["reason"])
    assert "Django's mark of an unusable password" in reason, reason
    assert mark[1:] not in reason
