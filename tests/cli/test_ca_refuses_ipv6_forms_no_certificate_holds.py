"""IPv6 forms a certificate cannot hold are refused with what to write instead, never
dropped or kept silently.

A zone (``fe80::1%eth0``) names an interface of one host: a certificate holds the 16
bytes of the address only (dropped, ``fe80::1%eth0,fe80::1%eth1`` would be one address
certified twice). A CA limited to a network of IPv4-mapped addresses could certify no
address at all.
"""

from __future__ import annotations

import ipaddress

import pytest

from sealbox.exceptions import ConfigError
from sealbox.tls.ca import CertificateAuthority


@pytest.fixture
def ca_dir(tmp_path, cli):
    result = cli(["ca", "init", tmp_path / "ca"])
    assert result.code == 0, result.stderr
    return tmp_path / "ca"


@pytest.mark.parametrize("san", ["fe80::1%eth0", "[fe80::1%eth0]", "fe80::1%eth0,fe80::1%eth1"])
def test_a_server_name_with_an_ipv6_zone_is_refused_with_the_address_to_write(
    ca_dir, tmp_path, cli, san
):
    result = cli(["ca", "issue", "server", ca_dir, "--san", san, "-o", tmp_path / "x"])
    assert result.code == 1, result.stdout
    assert "fe80::1%eth0 has a zone (%eth0)" in result.stderr
    assert "hint: write the address without its zone: fe80::1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.crt").exists()
    assert not (tmp_path / "x.key").exists()


def test_an_ipv6_address_object_with_a_zone_is_refused_by_the_library():
    ca = CertificateAuthority.generate()
    with pytest.raises(ConfigError, match=r"has a zone \(%7\)"):
        ca.issue_server([ipaddress.IPv6Address("fe80::1%7")])


def test_a_link_local_address_without_a_zone_is_certified_once(ca_dir, tmp_path, cli):
    result = cli(
        ["ca", "issue", "server", ca_dir, "--san", "fe80::1,FE80::0:1", "-o", tmp_path / "x"]
    )
    assert result.code == 0, result.stderr
    assert result.out.startswith("issued server certificate for fe80::1: ")


def test_a_permitted_network_of_ipv4_mapped_addresses_is_refused_with_the_ipv4_network(
    tmp_path, cli
):
    # A CA limited to ::ffff:10.0.0.0/104 could certify no address: a mapped one is
    # refused as a SAN, and 10.0.0.5 lies outside it.
    result = cli(["ca", "init", tmp_path / "ca", "--permitted-ip", "::ffff:10.0.0.0/104"])
    assert result.code == 1, result.stdout
    assert "::ffff:10.0.0.0/104 is a network of IPv4-mapped IPv6 addresses" in result.stderr
    assert "hint: write the IPv4 network: 10.0.0.0/8" in result.stderr
    assert not (tmp_path / "ca").exists()
