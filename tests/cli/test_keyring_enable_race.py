"""``sealbox keyring enable`` when another writer changed the same key between this run's
read and its save: the merged file keeps the other writer's change, and the command says
so (exit 1) rather than report the key as it left it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealbox.keysets.keyring import Keyring

PASS = "canary-enable-race-passphrase"
ENV = {"SEALBOX_PASSPHRASE": PASS}


def _states(cli, path: Path) -> dict[str, str]:
    r = cli(["keyring", "list", path, "--json"], env=ENV)
    assert r.code == 0, r.stderr
    return {k["id"]: k["state"] for k in json.loads(r.out)}


@pytest.fixture
def old_key(cli, tmp_path: Path) -> tuple[Path, str]:
    """A keyring whose first key is decrypt-only after a rotation."""
    path = tmp_path / "app.keyring"
    assert cli(["keyring", "create", path], env=ENV).code == 0
    assert cli(["keyring", "rotate", path], env=ENV).code == 0
    return path, next(iter(_states(cli, path)))


def _other_writer_before_enable(monkeypatch, path: Path, change: str) -> None:
    enable = Keyring.enable

    def meanwhile(self, key_id):
        other = Keyring.load(path, PASS)
        getattr(other, change)(key_id)
        other.save(path, PASS)
        return enable(self, key_id)

    monkeypatch.setattr(Keyring, "enable", meanwhile)


def test_enable_says_another_writer_destroyed_the_key_meanwhile(cli, old_key, monkeypatch):
    path, kid = old_key
    assert cli(["keyring", "disable", path, kid], env=ENV).code == 0
    _other_writer_before_enable(monkeypatch, path, "destroy")
    r = cli(["keyring", "enable", path, kid], env=ENV)
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: keyring {path}: another writer destroyed key {kid} at the same "
            "time, and it stays destroyed"
        ),
        "sealbox: hint: a destroyed key is gone for good: tokens it sealed can never be opened",
    ]
    assert _states(cli, path)[kid] == "destroyed"


def test_enable_says_another_writer_disabled_the_key_meanwhile(cli, old_key, monkeypatch):
    path, kid = old_key  # decrypt-only: this run's enable changes nothing, the disable stands
    _other_writer_before_enable(monkeypatch, path, "disable")
    r = cli(["keyring", "enable", path, kid], env=ENV)
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: keyring {path}: another writer disabled key {kid} at the same "
            "time, and it stays disabled"
        ),
        f"sealbox: hint: run the command again to enable it: sealbox keyring enable {path} {kid}",
    ]
    assert _states(cli, path)[kid] == "disabled"
    assert cli(["keyring", "enable", path, kid], env=ENV).code == 0
