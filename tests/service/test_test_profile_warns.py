"""The `test` password profile makes hashes cheap to guess: the service and the commands
that hash a password with it say so on stderr, and nothing is said for any other profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_sealbox
from tests.service.conftest import serve_process

WARNING = (
    "sealbox: warning: the 'test' password profile is for tests: its hashes are cheap to "
    "guess; use the default profile for real passwords (SEALBOX_PASSWORD_PROFILE)"
)


def _env(data: Path, profile: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env["SEALBOX_DATA_DIR"] = str(data)
    if profile is not None:
        env["SEALBOX_PASSWORD_PROFILE"] = profile
    return env


@pytest.mark.parametrize("profile", ["test", "owasp-minimum", None])
def test_serve_check_warns_of_the_test_profile_only(tmp_path: Path, profile: str | None) -> None:
    r = run_sealbox(["serve", "--check"], env=_env(tmp_path / "data", profile))
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert err.splitlines().count(WARNING) == (1 if profile == "test" else 0), err
    assert "password profile" not in err or profile == "test"


def test_users_create_and_reset_password_warn_of_the_test_profile_and_list_does_not(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path / "data", "test")
    assert run_sealbox(["serve", "--check"], env=env).returncode == 0
    for args in (["users", "create", "alice"], ["users", "reset-password", "alice"]):
        r = run_sealbox(args, env=env, input=b"a long enough password\n")
        assert r.returncode == 0, r.stderr
        assert r.stderr.decode().splitlines().count(WARNING) == 1, r.stderr
    r = run_sealbox(["users", "list"], env=env)
    assert r.returncode == 0, r.stderr
    assert WARNING not in r.stderr.decode()
    default = _env(tmp_path / "other", None)
    assert run_sealbox(["serve", "--check"], env=default).returncode == 0
    r = run_sealbox(["users", "create", "bob"], env=default, input=b"a long enough password\n")
    assert r.returncode == 0, r.stderr
    assert "password profile" not in r.stderr.decode()


def test_a_serving_start_with_the_test_profile_warns_once(tmp_path: Path) -> None:
    profile = {"SEALBOX_PASSWORD_PROFILE": "test"}
    with serve_process(tmp_path, env=profile, data_dir=tmp_path / "data") as served:
        pass
    assert served.stderr.splitlines().count(WARNING) == 1, served.stderr
