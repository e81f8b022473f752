"""The harness's check of every stop: ``serve_process`` fails a test whose ``sealbox serve``
does not end on SIGTERM as docs/service.md (*Stopping*) promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.service.conftest import serve_process


def _ending_with(tmp_path: Path, code: str) -> dict[str, str]:
    """An environment whose Python runs ``code`` (for ``atexit``) before anything else: the
    real ``sealbox serve``, made to end badly without touching its source."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(code)
    return {"PYTHONPATH": str(site)}


def test_a_server_that_exits_non_zero_on_sigterm_fails_the_block(tmp_path: Path) -> None:
    env = _ending_with(tmp_path, "import atexit, os\natexit.register(os._exit, 3)\n")
    with (
        pytest.raises(AssertionError, match="stopped by SIGTERM: exit status 3, not 0"),
        serve_process(tmp_path, env=env, data_dir=tmp_path / "data"),
    ):
        pass
    # The status a test expects passes.
    with serve_process(tmp_path, env=env, data_dir=tmp_path / "data", expect_exit=3):
        pass


def test_a_traceback_on_the_servers_stderr_fails_the_block(tmp_path: Path) -> None:
    env = _ending_with(
        tmp_path,
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('Traceback (most recent call last):\\n'))\n",
    )
    with (
        pytest.raises(AssertionError, match="Traceback"),
        serve_process(tmp_path, env=env, data_dir=tmp_path / "data"),
    ):
        pass
