"""The client's address behind a reverse proxy: ``SEALBOX_TRUSTED_PROXIES``.

Behind a reverse proxy every connection comes from the proxy: the login throttle would
count every user's attempts as one address, and the audit and access logs would name the
proxy. :class:`ForwardedClient` puts the client's address, as the proxies in front
report it in ``X-Forwarded-For``, in ``scope["client"]``, where all three read it; and
the scheme the client used, from ``X-Forwarded-Proto``, in ``scope["scheme"]``.

The headers are believed only from a connection whose peer is one of the
:class:`TrustedProxies`. Each proxy appends the address it was reached from, so the list
is read from its right end: the first address that is not itself a trusted proxy is the
client's. Whatever a client writes in the header itself lies to the left of what its
proxy appended, and is never reached. An entry that is not an IP address stops the
walk where it is: the nearest hop that could be believed stands.

The client certificate of mutual TLS is never taken from a header: it is the TLS
connection's own (:mod:`sealbox.service.connection`), and a proxy that ends TLS ends
mutual TLS with it.

:func:`~sealbox.service.app.create_app` applies it itself (the application it returns reads
``SEALBOX_TRUSTED_PROXIES`` from its settings), so an application served by a program's own
uvicorn or gunicorn finds the same client address as under ``sealbox serve``;
:class:`ForwardedClient` puts an application of one's own behind proxies.

uvicorn's ``proxy_headers`` option is not used: what it does differs across the uvicorn
versions sealbox allows (several header lines are treated three ways), and it takes a
malformed entry as a name that never matches.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from sealbox.exceptions import ConfigError
from sealbox.service.settings import ServiceSettings

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["SETTING", "ForwardedClient", "TrustedProxies", "behind_proxies", "forward"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING: Final = "SEALBOX_TRUSTED_PROXIES"
#: The longest piece of a refused entry quoted back in the error.
_QUOTED: Final = 64
_SCHEMES: Final = {
    "http": {"http": "http", "https": "https"},
    "websocket": {"http": "ws", "https": "wss"},
}


class TrustedProxies:
    """The reverse proxies whose forwarding headers are believed: addresses and networks.

    Build it with :meth:`parse`; it is false when it trusts no one.
    """

    __slots__ = ("_addresses", "_networks", "_peer_trusted")

    def __init__(self, networks: Iterable[Network]) -> None:
        networks = list(networks)
        # One address is a set lookup; only real networks are walked.
        self._addresses = frozenset(n.network_address for n in networks if n.num_addresses == 1)
        self._networks = tuple(n for n in networks if n.num_addresses > 1)
        # Peers are the addresses connections come from: few, and asked about on every
        # request.
        self._peer_trusted = functools.lru_cache(maxsize=1024)(self._trusts_text)

    @classmethod
    def parse(cls, value: str) -> TrustedProxies:
        """The proxies of a comma-separated list of IP addresses and CIDR networks
        (``10.0.0.5, 192.168.0.0/24, 2001:db8::/48``); empty: none.

        Raises:
            ConfigError: code ``trusted_proxies_invalid``, naming the entry
                (``facts["entry"]``) and why (``facts["reason"]``): not an address or
                network (names are not resolved), a network with host bits set, an
                empty entry, or ``*``, a ``/0`` network or one wider than /8 (IPv4)
                or /7 (IPv6), which would trust (nearly) every client to name its own
                address.
        """
        if not value.strip():
            return cls(())
        return cls(_network(entry.strip()) for entry in value.split(","))

    def __bool__(self) -> bool:
        return bool(self._addresses or self._networks)

    def trusts(self, address: Address) -> bool:
        """Whether ``address`` is one of the proxies."""
        address = _unmapped(address)
        return address in self._addresses or any(address in n for n in self._networks)

    def trusts_peer(self, host: str) -> bool:
        """Whether the connection's peer ``host`` (as ``scope["client"]`` gives it) is one."""
        return self._peer_trusted(host)

    def _trusts_text(self, host: str) -> bool:
        try:
            return self.trusts(ipaddress.ip_address(host))
        except ValueError:  # a Unix socket's peer, or none
            return False

    def client(self, forwarded_for: str) -> tuple[str, int] | None:
        """The client's address and port (0 when not given) in ``forwarded_for``, the
        ``X-Forwarded-For`` list a trusted proxy sent; ``None`` when its last entry is
        not an address (the proxy itself stands)."""
        found: tuple[Address, int] | None = None
        for entry in reversed(forwarded_for.split(",")):
            hop = _hop(entry.strip())
            if hop is None:
                break  # anything further left came through this hop: not to be believed
            found = hop
            if not self.trusts(hop[0]):
                break
        # Every entry a proxy: the request began at one of them (the leftmost).
        return None if found is None else (str(found[0]), found[1])


class ForwardedClient:
    """ASGI step setting ``scope["client"]`` and ``scope["scheme"]`` from
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` when the connection's peer is a
    trusted proxy (see the module docstring). The scope is changed in place: uvicorn's
    access log reads the same one."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        forward(self.proxies, scope)
        await self.app(scope, receive, send)


def forward(proxies: TrustedProxies, scope: Scope) -> None:
    """Set ``scope["client"]`` and ``scope["scheme"]`` from the forwarding headers when
    the connection's peer is one of ``proxies``, as :class:`ForwardedClient` does."""
    schemes = _SCHEMES.get(scope["type"])
    peer = scope.get("client")
    if schemes is not None and peer and proxies.trusts_peer(str(peer[0])):
        forwarded_for: list[bytes] = []
        proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for.append(value)
            elif name == b"x-forwarded-proto":
                proto = value
        if forwarded_for:
            # Several lines are one list, in order (RFC 9110 §5.3).
            client = proxies.client(b",".join(forwarded_for).decode("latin-1"))
            if client is not None:
                scope["client"] = client
        if proto is not None:
            # The value the nearest proxy wrote: the last.
            scheme = schemes.get(proto.rpartition(b",")[2].strip().lower().decode("latin-1"))
            if scheme is not None:
                scope["scheme"] = scheme


def behind_proxies(app: ASGIApp, settings: ServiceSettings) -> ASGIApp:
    """``app`` behind :class:`ForwardedClient` when ``settings.trusted_proxies`` names
    proxies; ``app`` itself otherwise, or when it is the service's application, which
    :func:`~sealbox.service.app.create_app` put behind them already.

    Raises:
        ConfigError: ``trusted_proxies_invalid`` (see :meth:`TrustedProxies.parse`).
    """
    proxies = TrustedProxies.parse(settings.trusted_proxies)
    if not proxies or getattr(app, "proxies", None) is not None:
        return app
    return ForwardedClient(app, proxies)


# The widest networks a proxy list may hold: those of the widest private ranges
# (10.0.0.0/8, fc00::/7). No network of proxies is wider; one that is trusts most clients.
_WIDEST: Final = MappingProxyType({4: 8, 6: 7})


def _network(entry: str) -> Network:
    """One entry of the setting, refused with ``trusted_proxies_invalid``."""
    if not entry:
        raise _refused(entry, "it is empty (a comma too many, or an unset variable?)")
    if entry == "*":
        raise _refused(entry, "every client would name its own address: list the proxies")
    try:
        network = ipaddress.ip_network(entry)
    except ValueError:
        try:
            loose = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise _refused(entry, "not an IP address or network (names are not resolved)") from None
        raise _refused(entry, f"host bits set: the network is {loose}") from None
    if network.prefixlen == 0:
        raise _refused(entry, "every client would name its own address: list the proxies")
    if network.prefixlen < _WIDEST[network.version]:
        # Two halves (0.0.0.0/1,128.0.0.0/1) are a /0 by another name.
        raise _refused(
            entry,
            f"a /{network.prefixlen} holds a large part of the Internet: list the proxies' "
            f"own networks (at most /{_WIDEST[4]} for IPv4, /{_WIDEST[6]} for IPv6)",
        )
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen == 128:
        # ::ffff:10.0.0.5 is 10.0.0.5, as a dual-stack socket reports it.
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network(mapped)
    return network


def _refused(entry: str, reason: str) -> ConfigError:
    shown = entry if len(entry) <= _QUOTED else entry[:_QUOTED] + "…"
    return ConfigError(
        f"{SETTING}: {f'{shown!r}' if shown else 'an entry'} is refused: {reason}",
        hint=f"set {SETTING} to IP addresses and CIDR networks, comma-separated "
        "(10.0.0.5,192.168.0.0/24), or leave it unset to trust no proxy",
        code="trusted_proxies_invalid",
        facts={"setting": SETTING, "entry": shown, "reason": reason},
    )


def _hop(entry: str) -> tuple[Address, int] | None:
    """An ``X-Forwarded-For`` entry (``203.0.113.7``, ``203.0.113.7:4711``,
    ``2001:db8::7``, ``[2001:db8::7]:4711``) as an address, without an IPv6 zone, and a
    port (0 when none); ``None`` for anything else (``unknown``, a name, an obfuscated
    identifier)."""
    host, port = entry, "0"
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    if not (port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535):
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        # The zone (fe80::7%eth0) names an interface of the proxy, not the client, and
        # may hold any character but % and /: kept, it would reach the logs as written.
        address = ipaddress.IPv6Address(address.packed)
    return _unmapped(address), int(port)


def _unmapped(address: Address) -> Address:
    """``address``, an IPv4 address written as IPv6 (``::ffff:a.b.c.d``) as itself."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
