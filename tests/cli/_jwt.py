"""What the `sealbox jwt …` transcript tests share: the passphrase, issuing, click alone."""

from __future__ import annotations

PASS = "keyset passphrase"
ENV = {"SEALBOX_PASSPHRASE": PASS}


def issue(cli, keyset_file, *args):
    result = cli(["jwt", "issue", keyset_file, "--sub", "alice", *args], env=ENV)
    assert result.code == 0, result.stderr
    return result.out.strip()


def _through_click(monkeypatch):
    """Run the CLI with its direct path turned off: what click alone does."""
    from sealbox.cli import _direct
    from tests.conftest import run_cli

    monkeypatch.setattr(_direct, "_arguments", lambda argv: None)

    def invoke(args, *, input=b"", env=None):
        return run_cli([str(a) for a in args], input=input, env=env, monkeypatch=monkeypatch)

    return invoke
