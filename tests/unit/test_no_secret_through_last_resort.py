"""Warnings sealbox logs in a program that never configures logging reach stderr through
``logging.lastResort``, which no redaction filter sees: their arguments must hold no secret.

Each path runs in a fresh interpreter (no handler anywhere, as in a script importing
sealbox), with canary secrets in the settings it reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.service.conftest import free_port

CANARY = "canary-password-7d41c0"
TOKEN = "hvs.canary-vault-token-19be"


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SEALBOX_", "VAULT_"))}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_plain_http_vault_warning_shows_neither_its_password_nor_the_token() -> None:
    url = f"http://vault-user:{CANARY}@127.0.0.1:{free_port()}"
    r = _run(
        """
        import logging
        from sealbox.secrets import vault_client
        assert not logging.getLogger().handlers  # lastResort prints what is logged
        vault_client.client(None, token=None, namespace=None, ca=None, timeout=1)
        """,
        {"VAULT_ADDR": url, "VAULT_TOKEN": TOKEN},
    )
    assert r.returncode == 0, r.stderr
    # The warning did reach stderr, through lastResort, with the address masked.
    assert "is plain http: allowed only because it is on this machine" in r.stderr
    assert "***@127.0.0.1" in r.stderr
    assert CANARY not in r.stderr + r.stdout and TOKEN not in r.stderr + r.stdout


def test_a_start_whose_redis_and_database_do_not_answer_logs_no_password(tmp_path) -> None:
    closed = free_port()
    r = _run(
        """
        import logging
        from sealbox.service.serve import prepare
        from sealbox.service.settings import ServiceSettings
        assert not logging.getLogger().handlers
        try:
            prepare(ServiceSettings())
        except Exception as exc:
            print(type(exc).__name__, exc)
        """,
        {
            "SEALBOX_DATA_DIR": str(tmp_path / "data"),
            "SEALBOX_REDIS_URL": f"redis://:{CANARY}@127.0.0.1:{closed}/0",
            "SEALBOX_DATABASE_URL": (
                f"postgresql+asyncpg://sealbox:{CANARY}@127.0.0.1:{closed}/sealbox"
            ),
        },
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("StoreUnavailableError"), r.stdout  # the real path ran
    assert CANARY not in r.stderr + r.stdout
