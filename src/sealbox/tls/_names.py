"""Host names and IP addresses in certificates: parsing, and name-constraint checks.

DNS names follow the preferred name syntax of RFC 1034 section 3.5 as RFC 5280
section 4.2.1.6 requires (ASCII only: internationalised names go in as their
``xn--`` A-labels). Name constraints follow RFC 5280 section 4.2.1.10: a DNS
name is within a subtree when it equals the constraint or ends with ``.`` plus
the constraint; an IP address when it lies in the constraint's network.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from cryptography import x509

from sealbox.exceptions import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_LABEL: Final = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
MAX_DNS_NAME: Final = 253
MAX_COMMON_NAME: Final = 64  # RFC 5280 appendix A.1: ub-common-name
# Only numeric labels: an address mistyped, never a host name (no TLD is all digits).
_LOOKS_NUMERIC: Final = re.compile(r"[0-9]+(?:\.[0-9]+)*\.?")
# A last label URL parsers read as a number (WHATWG URL "ends in a number": digits, or 0x
# and hex digits): `example.123` is no URL's host, `0x7f.0.0.1` is 127.0.0.1 to curl and
# browsers, so a DNS name ending so matches no connection (RFC 3696 §2: no TLD is numeric).
_NUMERIC_LABEL: Final = re.compile(r"[0-9]+|0x[0-9a-f]*")
# RFC 5322 dot-atom: what a mailbox's local part may be without quoting.
_ATEXT: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART: Final = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
CLOSED_DNS_SUBTREE: Final = "invalid"
"""The one DNS subtree of a CA given only networks: the reserved TLD nothing resolves."""


def normalize_dns_name(name: str, *, wildcard: bool = True) -> str:
    """Return ``name`` in lowercase, or raise ConfigError saying what is wrong with it."""
    if not isinstance(name, str):
        raise TypeError("a host name must be a str")
    # ASCII is checked before lowercasing: the Kelvin sign U+212A lowercases to a "k".
    text = name.strip().removesuffix(".")
    if not text:
        raise ConfigError("empty host name")
    if not text.isascii():
        raise ConfigError(
            f"host name {name!r} is not ASCII",
            hint="write internationalised names as their xn-- form (IDNA A-labels)",
        )
    if len(text) > MAX_DNS_NAME:
        raise ConfigError(f"host name {name!r} is longer than {MAX_DNS_NAME} characters")
    text = text.lower()
    labels = text.split(".")
    if labels[0] == "*":
        if not wildcard:
            raise ConfigError(f"{name!r}: a wildcard is not allowed here")
        if len(labels) < 3:
            raise ConfigError(f"wildcard {name!r} must cover a name with at least two labels")
        labels = labels[1:]
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise ConfigError(
                f"{name!r} is not a valid host name (label {label!r}: letters, digits and "
                "inner hyphens only, 1 to 63 characters)"
            )
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise ConfigError(
            f"{name!r} is not a valid host name (its last label {labels[-1]!r} is a number, "
            "which no top-level domain is: clients read such a name as an IPv4 address)",
            hint="write an IP address in dotted decimal (10.0.0.5), and end a host name "
            "with a top-level domain of letters",
        )
    return text


def parse_san(value: str | IPAddress) -> x509.GeneralName:
    """Turn ``api.internal``, ``*.api.internal``, ``10.0.0.1`` or ``::1`` into a SAN entry."""
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return x509.IPAddress(_unmapped(value, str(value)))
    if not isinstance(value, str):
        raise TypeError(
            f"a name must be a str (a host name or an IP address), not {type(value).__name__}"
        )
    text = value.strip()
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        return x509.IPAddress(_unmapped(address, text))
    if _LOOKS_NUMERIC.fullmatch(text):
        # `127.0.0.1.`, `010.0.0.5`, `1.2.3`: meant as an address, but not one Python
        # reads as such; as a DNS name it would match no client's connection.
        raise ConfigError(
            f"{value!r} looks like an IP address but is not one",
            hint="write it as dotted decimal without leading zeros or a final dot (10.0.0.5)",
        )
    return x509.DNSName(normalize_dns_name(text))


def _unmapped(address: IPAddress, shown: str) -> IPAddress:
    """Refuse an IPv4-mapped IPv6 address (``::ffff:10.0.0.5``): written as 16 bytes it
    matches no connection to the IPv4 address it stands for (OpenSSL, Python's ``ssl``).

    Refuse an IPv6 zone too (``fe80::1%eth0``): it names an interface of one host, and a
    certificate holds the address alone; dropped silently, two zones of one address
    would be certified as the same address twice.
    """
    zone = getattr(address, "scope_id", None)
    if zone is not None:
        bare = ipaddress.IPv6Address(int(address))
        raise ConfigError(
            f"{str(address).strip('[]')} has a zone (%{zone}): a certificate holds an "
            "IP address without one",
            hint=f"write the address without its zone: {bare}",
        )
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        raise ConfigError(
            f"{shown} is an IPv4-mapped IPv6 address: a certificate for it is not valid "
            f"for connections to {mapped}",
            hint=f"write the IPv4 address: {mapped}",
        )
    return address


def parse_network(value: str) -> IPNetwork:
    """Parse ``10.0.0.0/8`` or ``fd00::/8`` (a bare address means a single host)."""
    if not isinstance(value, str):
        raise TypeError(f"a network must be a str like '10.0.0.0/8', not {type(value).__name__}")
    try:
        network = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        raise ConfigError(f"{value!r} is not an IP network in CIDR form ({exc})") from None
    mapped = getattr(network.network_address, "ipv4_mapped", None)
    if mapped is not None and network.prefixlen >= 96:
        # Mapped addresses are refused as names: such a CA could certify no address.
        raise ConfigError(
            f"{value.strip()} is a network of IPv4-mapped IPv6 addresses, which no "
            "certificate names",
            hint=f"write the IPv4 network: {mapped}/{network.prefixlen - 96}",
        )
    return network


def constraint_violations(
    names: Sequence[x509.GeneralName], constraints: x509.NameConstraints
) -> list[str]:
    """The names (as text) that the CA's name constraints do not allow."""
    permitted = list(constraints.permitted_subtrees or ())
    excluded = list(constraints.excluded_subtrees or ())
    bad = []
    for name in names:
        if isinstance(name, x509.DNSName):
            allowed = _dns_allowed(name.value, permitted, excluded)
            text = name.value
        elif isinstance(name, x509.IPAddress):
            allowed = _ip_allowed(name.value, permitted, excluded)
            text = str(name.value)
        elif isinstance(name, x509.RFC822Name):
            allowed = _mail_allowed(name.value, permitted)
            text = name.value
        else:
            continue
        if not allowed:
            bad.append(text)
    return bad


def permitted_names(constraints: x509.NameConstraints) -> list[str]:
    """The domains and networks a CA may certify, as its owner gave them (without the
    closed DNS subtree and the mailbox subtrees derived from the domains)."""
    return [
        str(t.value)
        for t in constraints.permitted_subtrees or ()
        if isinstance(t, x509.IPAddress)
        or (isinstance(t, x509.DNSName) and t.value != CLOSED_DNS_SUBTREE)
    ]


def _dns_within(name: str, subtree: str) -> bool:
    name, subtree = name.lower(), subtree.lower().lstrip(".")
    return name == subtree or name.endswith("." + subtree)


def _dns_allowed(
    name: str, permitted: Iterable[x509.GeneralName], excluded: Iterable[x509.GeneralName]
) -> bool:
    if any(isinstance(t, x509.DNSName) and _dns_within(name, t.value) for t in excluded):
        return False
    trees = [t.value for t in permitted if isinstance(t, x509.DNSName)]
    return not trees or any(_dns_within(name, t) for t in trees)


def _mail_allowed(mailbox: str, permitted: Iterable[x509.GeneralName]) -> bool:
    # RFC 5280 §4.2.1.10: a constraint is a mailbox, a host (`acme.internal`: mailboxes at
    # that host) or a domain (`.acme.internal`: at any host under it).
    trees = [t.value.lower() for t in permitted if isinstance(t, x509.RFC822Name)]
    host = mailbox.rpartition("@")[2].lower()
    return not trees or any(
        mailbox.lower() == t
        or (t.startswith(".") and host.endswith(t))
        or ("@" not in t and not t.startswith(".") and host == t)
        for t in trees
    )


def _ip_allowed(
    address: object, permitted: Iterable[x509.GeneralName], excluded: Iterable[x509.GeneralName]
) -> bool:
    assert isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
    if any(_ip_in(address, t) for t in excluded):
        return False
    trees = [t for t in permitted if isinstance(t, x509.IPAddress)]
    return not trees or any(_ip_in(address, t) for t in trees)


def _ip_in(address: IPAddress, tree: x509.GeneralName) -> bool:
    if not isinstance(tree, x509.IPAddress):
        return False
    network = tree.value
    return (
        isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network)
        and network.version == address.version
        and address in network
    )


def common_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError("a name must be a str")
    text = name.strip()
    if not text:
        raise ConfigError("the name is empty")
    if len(text) > MAX_COMMON_NAME:
        raise ConfigError(f"the name {text[:20]!r}… is longer than {MAX_COMMON_NAME} characters")
    if any(not ch.isprintable() for ch in text):
        raise ConfigError(f"the name {text!r} holds control characters")
    return text


def client_san(name: str) -> x509.GeneralName:
    local, at, domain = name.rpartition("@")
    if at:
        if not _LOCAL_PART.fullmatch(local):
            raise ConfigError(
                f"client name {name!r} is not a valid email address",
                hint="a local part of letters, digits and !#$%&'*+/=?^_`{|}~- in dot-separated "
                "runs (RFC 5322 dot-atom), then @ and a host name",
            )
        return x509.RFC822Name(f"{local}@{normalize_dns_name(domain, wildcard=False)}")
    last = name.strip().removesuffix(".").rpartition(".")[2].lower()
    if _NUMERIC_LABEL.fullmatch(last):
        raise ConfigError(
            f"client name {name!r} is not a host name: its last label {last!r} is a number",
            hint="name a client by a host-like name ('worker.corp.internal') or an email "
            "address; an IP address cannot be a client certificate's name",
        )
    try:
        return x509.DNSName(normalize_dns_name(name, wildcard=False))
    except ConfigError:
        raise ConfigError(
            f"client name {name!r} must be a host-like name (letters, digits, hyphens, dots) "
            "or an email address",
            hint="e.g. 'billing-worker', 'worker.corp.internal' or 'alice@corp.internal'",
        ) from None


def name_list(items: object, what: str) -> list[Any]:
    """``items`` as a list, refusing a lone str: iterated, it would be one name per letter."""
    if isinstance(items, str | bytes):
        raise TypeError(
            f"{what} must be a list of str, not one {type(items).__name__}: [{items!r}]"
        )
    if not isinstance(items, Iterable):
        raise TypeError(f"{what} must be a list of str, not {type(items).__name__}")
    return list(items)


def name_constraints(
    permitted_dns: Iterable[str], permitted_ips: Iterable[str]
) -> x509.NameConstraints | None:
    dns = [
        x509.DNSName(normalize_dns_name(d, wildcard=False))
        for d in name_list(permitted_dns, "permitted_dns")
    ]
    ips = [x509.IPAddress(parse_network(n)) for n in name_list(permitted_ips, "permitted_ips")]
    if not dns and not ips:
        return None
    # A permitted subtree limits only names of its own type: each type the CA is not given
    # subtrees for is shut, or a CA limited to some domains would vouch for any address or
    # mailbox, and one limited to some networks for any host name.
    excluded: list[x509.GeneralName] = []
    if not ips:
        excluded += [
            x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")),
            x509.IPAddress(ipaddress.ip_network("::/0")),
        ]
    if not dns:
        # No subtree excludes every DNS name, so permit only the reserved TLD `invalid`
        # (RFC 6761 §6.4), which nothing resolves.
        dns = [x509.DNSName(CLOSED_DNS_SUBTREE)]
    # Mailboxes only at the permitted domains and their hosts (RFC 5280 §4.2.1.10).
    mail: list[x509.GeneralName] = []
    for tree in dns:
        mail += [x509.RFC822Name(tree.value), x509.RFC822Name("." + tree.value)]
    permitted: list[x509.GeneralName] = [*dns, *ips, *mail]
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded or None)
