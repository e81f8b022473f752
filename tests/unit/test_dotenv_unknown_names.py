"""A misspelt ``SEALBOX_*`` name in the ``.env`` file is warned about, as one in the
environment is, and its value is never shown."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sealbox.service.settings import (
    ServiceSettings,
    dotenv_files,
    unknown_setting_warnings,
    unknown_variables,
)
from tests.conftest import run_sealbox

CANARY = "canary-dotenv-pw-7f3a"
_MISSPELT = f"SEALBOX_REDIS_ULR=redis://:{CANARY}@127.0.0.1:1/0\n"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own: the settings read ``.env`` from there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_file_named_is_the_one_the_settings_read(workdir: Path) -> None:
    config = ServiceSettings.model_config
    assert config.get("env_file_depth", 0) == 0  # no search of parent folders
    assert config.get("case_sensitive") is False  # names compare regardless of case
    assert dotenv_files() == []
    (workdir / ".env").write_text("SEALBOX_PORT=1234\n", encoding="utf-8")
    assert dotenv_files() == [Path(".env")]
    assert ServiceSettings().port == 1234


def test_an_unknown_name_in_the_dotenv_file_is_named_with_the_closest_known_one(
    workdir: Path,
) -> None:
    (workdir / ".env").write_text(
        f"# a comment\nSEALBOX_PORT=1\n{_MISSPELT}sealbox_data_dirr=/srv/x\n", encoding="utf-8"
    )
    where = workdir / ".env"
    assert unknown_setting_warnings({}) == [
        f"unknown setting {name} in {where} (did you mean {close}?): it is not read"
        for name, close in [
            ("SEALBOX_REDIS_ULR", "SEALBOX_REDIS_URL"),
            ("sealbox_data_dirr", "SEALBOX_DATA_DIR"),
        ]
    ]


def test_the_environment_comes_first_and_each_line_says_where(workdir: Path) -> None:
    (workdir / ".env").write_text("SEALBOX_NOTHING_LIKE_IT=v\n", encoding="utf-8")
    assert unknown_setting_warnings({"SEALBOX_PORTT": "1"}) == [
        "unknown setting SEALBOX_PORTT (did you mean SEALBOX_PORT?): it is not read",
        f"unknown setting SEALBOX_NOTHING_LIKE_IT in {workdir / '.env'}: it is not read",
    ]


def test_known_and_foreign_names_in_the_dotenv_file_are_not_warned_about(workdir: Path) -> None:
    (workdir / ".env").write_text(
        "SEALBOX_PORT=1\nsealbox_redis_url=redis://h\nSealbox_Host=::1\n"
        "SEALBOX_DEBUG=1\nDATABASE_URL=x\nMY_SEALBOX_THING=y\nSEALBOX=z\nexport SEALBOX_MTLS=0\n",
        encoding="utf-8",
    )
    assert unknown_setting_warnings({}) == []


def test_names_compare_regardless_of_case_in_the_environment_too() -> None:
    assert unknown_variables({"sealbox_port": "1", "sealbox_redis_ulr": "x"}) == [
        ("sealbox_redis_ulr", "SEALBOX_REDIS_URL")
    ]


def test_no_dotenv_file_or_one_that_is_not_a_regular_file_gives_no_warning(
    workdir: Path,
) -> None:
    assert unknown_setting_warnings({}) == []
    (workdir / ".env").mkdir()
    assert unknown_setting_warnings({}) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_is_left_for_the_settings_to_read(workdir: Path) -> None:
    os.mkfifo(workdir / ".env")  # opening it here would block, or take what it carries
    assert dotenv_files() == []


def test_a_value_is_never_in_a_warning(workdir: Path) -> None:
    (workdir / ".env").write_text(f"{_MISSPELT}SEALBOX_TOKN='{CANARY}'\n", encoding="utf-8")
    warnings = unknown_setting_warnings({"SEALBOX_PASSPHRASSE": CANARY})
    assert len(warnings) == 3
    assert CANARY not in "\n".join(warnings)


def test_serve_warns_of_a_misspelt_name_in_the_dotenv_file_without_its_value(
    workdir: Path,
) -> None:
    (workdir / ".env").write_text(_MISSPELT, encoding="utf-8")
    r = run_sealbox(
        ["serve", "--data-dir", workdir / "d", "--check"],
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.decode().splitlines()[0] == (
        f"sealbox: warning: unknown setting SEALBOX_REDIS_ULR in {workdir / '.env'} "
        "(did you mean SEALBOX_REDIS_URL?): it is not read"
    )
    assert CANARY.encode() not in r.stderr


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder as ``serve --check`` leaves it, made in a folder without a ``.env``."""
    root = tmp_path_factory.mktemp("provisioned")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        prepared = run_sealbox(
            ["serve", "--data-dir", root / "d", "--check"],
            env={"SEALBOX_PASSWORD_PROFILE": "test"},
        )
    assert prepared.returncode == 0, prepared.stderr
    return root / "d"


@pytest.mark.parametrize("command", [["users", "list"], ["clients", "list"]])
def test_the_administration_commands_warn_of_a_misspelt_name_too(
    workdir: Path, provisioned: Path, command: list[str]
) -> None:
    shutil.copytree(provisioned, workdir / "d")  # copy2 keeps the folder's modes
    (workdir / ".env").write_text(_MISSPELT, encoding="utf-8")
    r = run_sealbox([*command, "--data-dir", workdir / "d"])
    assert r.returncode == 0, r.stderr
    assert r.stderr.decode().splitlines()[0] == (
        f"sealbox: warning: unknown setting SEALBOX_REDIS_ULR in {workdir / '.env'} "
        "(did you mean SEALBOX_REDIS_URL?): it is not read"
    )
    assert CANARY.encode() not in r.stderr + r.stdout


def test_a_line_the_dotenv_parser_refuses_is_reported_once(workdir: Path) -> None:
    (workdir / ".env").write_text("SEALBOX_PORT=8443\nnot a statement'\n", encoding="utf-8")
    r = run_sealbox(
        ["serve", "--data-dir", workdir / "d", "--check"],
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.decode().count("could not parse statement starting at line 2") == 1


def test_checking_names_logs_nothing_and_leaves_the_dotenv_logger_as_it_was(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (workdir / ".env").write_text("SEALBOX_TOKN=${HOME}\nnot a statement'\n", encoding="utf-8")
    with caplog.at_level("WARNING"):
        assert len(unknown_setting_warnings({})) == 1
    assert caplog.records == []  # the settings say it when they read the file
    assert logging_filters_left_on_dotenv() == []


def logging_filters_left_on_dotenv() -> list[object]:
    import logging

    return list(logging.getLogger("dotenv.main").filters)
