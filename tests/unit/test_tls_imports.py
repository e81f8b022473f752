"""Importing sealbox.tls stays cheap: no httpx2 until a client is built, never click."""

from __future__ import annotations

import subprocess
import sys


def test_tls_import_pulls_in_no_http_or_cli_library():
    code = (
        "import sys, sealbox, sealbox.tls, sealbox.tls.ca, sealbox.tls.context, "
        "sealbox.tls.pinning, sealbox.tls.certinfo\n"
        "bad = [m for m in ('httpx2', 'click', 'fastapi', 'rich') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_lazy_names_resolve():
    import sealbox.tls as tls

    for name in tls.__all__:
        assert getattr(tls, name) is not None
    assert sorted(dir(tls)) == sorted(tls.__all__)
