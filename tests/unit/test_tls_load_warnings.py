"""Reading a CA bundle passes on none of pyca's deprecation warnings about its roots."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from cryptography import x509

from sealbox.tls.certinfo import load_certificates

_SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def test_the_system_bundle_loads_without_a_warning() -> None:
    if not _SYSTEM_BUNDLE.is_file():
        pytest.skip(f"no system CA bundle at {_SYSTEM_BUNDLE}")
    data = _SYSTEM_BUNDLE.read_bytes()
    with warnings.catch_warnings(record=True) as raw:
        warnings.simplefilter("always")
        for certificate in x509.load_pem_x509_certificates(data):
            _ = certificate.extensions
    if not raw:
        pytest.skip("the system bundle holds no certificate pyca warns about")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        certificates = load_certificates(_SYSTEM_BUNDLE)
    assert len(certificates) > 1
    assert [str(w.message) for w in seen] == []
