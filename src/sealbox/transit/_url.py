"""The check of the transit client's service URL, made before any connection.

A URL that is refused is quoted in the error so its owner sees the typo, except when it
may hold a secret: one with an ``@`` (a user name or password, however malformed the rest
is) is never quoted, nor is a query or a fragment (``?access_token=…``). Nor is such a URL
ever handed to httpx, which would send its user name and password as Basic auth.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from typing import Final, NoReturn
from urllib.parse import urlsplit

from sealbox.exceptions import ConfigError

__all__ = ["URL_HINT", "service_url"]

_SHOWN_MAX: Final = 100
_MAX_PORT: Final = 65535
# Unicode \w, so internationalised names pass; spaces, controls and punctuation do not.
_HOST_NAME: Final = re.compile(r"[\w.-]+")
# ASCII only: \d would take the digits of other scripts, which no port is written in.
_PORT: Final = re.compile(r"[0-9]+")
_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(/*)")
URL_HINT: Final = "give the service as https://HOST[:PORT], e.g. https://localhost:8443"
"""The hint of a service URL refused as ``url_invalid``."""
_TLS_ONLY: Final = (
    "the transit client talks to the service over TLS only, e.g. https://localhost:8443"
)


def service_url(url: str) -> str:
    """``url`` without its trailing ``/``, refused unless it is ``https://HOST[:PORT]``
    (and a path, where a proxy mounts the service under one).

    Raises:
        ConfigError: ``url_userinfo`` (an ``@``: never shown), ``not_https`` (facts
            ``url``, and ``suggestion`` when adding or mending the scheme would do),
            ``url_invalid`` (no host, a bad host or port, a query, a fragment, a space or a
            control character; facts ``url`` unless it may hold a secret, ``host``,
            ``port``).
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    # Before any parsing: a user name or password is refused however malformed the URL
    # around it, and a password may hold '/', '?' or '#', which would make it look like a
    # path, query or fragment to a parser.
    if "@" in url:
        raise ConfigError(
            "the service URL holds a user name or password: the transit client "
            "authenticates with the access token only",
            code="url_userinfo",
            hint="remove 'user:password@' from the URL (an '@' in a path is written %40)",
        )
    text = url if len(url) <= _SHOWN_MAX else url[:_SHOWN_MAX] + "…"
    shown = repr(text)
    if any(c.isspace() or not c.isprintable() for c in url):
        # urlsplit drops tabs and newlines, so the URL it checked would not be this one.
        _invalid(f"the service URL holds a space or a control character (got {shown})", {})
    facts = {"url": text}
    scheme = _SCHEME.match(url)
    if scheme is None or scheme.group(1).lower() != "https" or scheme.group(2) != "//":
        _not_https(url, text, scheme)
    try:
        parts = urlsplit(url)
    except ValueError:
        _invalid(f"the service URL is not valid (got {shown})", facts)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        _invalid(
            "the service URL may not have a query (?…) or a fragment (#…)",
            {},
            hint="give the service's base URL, e.g. https://localhost:8443",
        )
    _check_authority(parts.netloc, shown, facts)
    return url.rstrip("/")


def _check_authority(netloc: str, shown: str, facts: dict[str, str]) -> None:
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        if rest and not rest.startswith(":"):
            _invalid(f"the service URL's host is not valid (got {shown})", facts)
        port = rest[1:] if rest else None
        try:
            # RFC 6874 writes an IPv6 zone as %25ZONE; ipaddress reads %ZONE.
            ipaddress.IPv6Address(host.replace("%25", "%", 1))
        except ValueError:
            _invalid(
                f"the service URL's host [{host}] is not an IPv6 address",
                {**facts, "host": host},
            )
    else:
        host, colon, port_text = netloc.partition(":")
        port = port_text if colon else None
        if not host:
            _invalid(f"the service URL has no host name (got {shown})", facts)
        if not _HOST_NAME.fullmatch(host):
            _invalid(
                f"the service URL's host name {host!r} is not valid",
                {**facts, "host": host},
            )
    if port is not None and not (_PORT.fullmatch(port) and 1 <= int(port) <= _MAX_PORT):
        _invalid(
            f"the service URL's port must be a number from 1 to {_MAX_PORT} (got {port!r})",
            {**facts, "port": port},
        )


def _not_https(url: str, text: str, scheme: re.Match[str] | None) -> NoReturn:
    if scheme is not None and scheme.group(1).lower() in {"https", "http"}:
        candidate = f"https://{url[scheme.end() :]}"  # https:/host, http://host
    elif "://" not in url:
        candidate = f"https://{url}"  # no scheme: example.com:8200 (read as scheme example.com)
    else:
        candidate = ""
    suggestion = ""
    if candidate:
        with contextlib.suppress(ConfigError):
            suggestion = service_url(candidate)
    raise ConfigError(
        f"the service URL must be https://HOST[:PORT] (got {text!r})",
        code="not_https",
        hint=f"did you mean {suggestion}? {_TLS_ONLY}" if suggestion else _TLS_ONLY,
        facts={"url": text, **({"suggestion": suggestion} if suggestion else {})},
    )


def _invalid(message: str, facts: dict[str, str], *, hint: str | None = None) -> NoReturn:
    raise ConfigError(
        message,
        code="url_invalid",
        hint=hint or URL_HINT,
        facts=facts,
    )
