"""Names the CA refuses through the Python API, as ``sealbox ca`` does (test_cli_ca.py)."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509

from sealbox.exceptions import ConfigError
from sealbox.tls.ca import CertificateAuthority


@pytest.fixture(scope="module")
def ca():
    return CertificateAuthority.generate()


@pytest.mark.parametrize("name", ["::ffff:10.0.0.5", ipaddress.ip_address("::ffff:10.0.0.5")])
def test_an_ipv4_mapped_address_is_refused_with_its_ipv4_form(ca, name):
    with pytest.raises(ConfigError) as info:
        ca.issue_server([name])
    assert info.value.hint == "write the IPv4 address: 10.0.0.5"


def test_address_objects_are_certified_as_given(ca):
    names = [ipaddress.ip_address("::1"), ipaddress.ip_address("10.0.0.5")]
    cert = ca.issue_server(names).certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == names


@pytest.mark.parametrize("domain", ["corp.1", "corp.0x1f"])
def test_a_constraint_domain_ending_in_a_number_is_refused(domain):
    with pytest.raises(ConfigError, match="is a number"):
        CertificateAuthority.generate(permitted_dns=[domain])
