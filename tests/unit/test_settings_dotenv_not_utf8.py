"""A ``.env`` that is not UTF-8 text (PowerShell's ``>`` writes UTF-16) is one error
naming the file, never an internal error, and never shows its content."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.exceptions import ConfigError
from sealbox.service.serve import load_settings
from tests.conftest import run_sealbox

_TEXT = "SEALBOX_REDIS_URL=redis://:canary-utf16-pw@127.0.0.1:6379/0\n"


def test_a_utf16_dotenv_is_a_config_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_bytes(_TEXT.encode("utf-16"))
    with pytest.raises(ConfigError) as caught:
        load_settings(data_dir=tmp_path / "data")
    exc = caught.value
    assert exc.code == "dotenv_unreadable"
    assert exc.facts == {"path": str(tmp_path / ".env")}
    assert str(exc) == f"cannot read the settings file {tmp_path / '.env'}: it is not UTF-8 text"
    assert "UTF-8" in (exc.hint or "")
    assert not (tmp_path / "data").exists()


def test_serve_refuses_a_utf16_dotenv_with_exit_status_1_and_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_bytes(_TEXT.encode("utf-16"))
    r = run_sealbox(["serve", "--data-dir", tmp_path / "data", "--check"])
    assert r.returncode == 1, r.stderr
    lines = r.stderr.decode().splitlines()
    assert lines[0] == (
        f"sealbox: error: cannot read the settings file {tmp_path / '.env'}: it is not UTF-8 text"
    )
    assert lines[1].startswith("sealbox: hint: ")
    assert b"canary-utf16-pw" not in r.stderr
    assert b"internal error" not in r.stderr
    assert not (tmp_path / "data").exists()


def test_a_utf8_dotenv_with_a_byte_order_mark_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEALBOX_PORT", raising=False)
    (tmp_path / ".env").write_bytes(b"\xef\xbb\xbfSEALBOX_PORT=9123\r\n")
    assert load_settings(data_dir=tmp_path / "data").port == 9123
