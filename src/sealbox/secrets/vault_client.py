"""What the Vault KV and Transit clients share: an hvac client with TLS always on, and the
translation of transport-level failures into sealbox errors (their AppRole login, kept
fresh, is :mod:`sealbox.secrets.vault_login`).

Settings not given are read from the environment as Vault's own tools and hvac read
them: ``VAULT_ADDR``, ``VAULT_TOKEN`` (then ``~/.vault-token``, which ``vault login``
writes), ``VAULT_NAMESPACE``, ``VAULT_CACERT`` (else ``VAULT_CAPATH``, a folder of PEM
files), ``VAULT_CLIENT_CERT`` with ``VAULT_CLIENT_KEY``, and ``VAULT_TLS_SERVER_NAME``
(the name Vault's certificate is checked for), each when the client is made. An argument
always wins; an AppRole login argument is never replaced by a token from the environment.
``VAULT_SKIP_VERIFY`` is never honoured (TLS is always verified), nor are Vault's other
client variables (:data:`UNREAD_VARIABLES`) read: each, set, is named in a warning, once.
Without a CA, the system's trust store is used as OpenSSL and Vault's client find it
(``SSL_CERT_FILE``, else ``SSL_CERT_DIR``); ``~/.netrc``, ``REQUESTS_CA_BUNDLE`` and
``CURL_CA_BUNDLE`` are never read.

The address must be ``https://``, except for a development server on this machine
(``127.0.0.1``, ``::1``, ``localhost``): plain ``http://`` to a loopback address is
allowed with a warning, logged once per address, since nothing leaves the host.

Every request hvac sends goes through :mod:`sealbox.secrets.vault_http`: ``timeout`` bounds
the whole request (not each read), an answer is read up to
:data:`~sealbox.secrets.vault_http.MAX_ANSWER_SIZE` bytes, and a redirect from https to
plain http is refused.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import os
import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from sealbox.exceptions import ConfigError, ExtraNotInstalledError, SealboxError
from sealbox.secret import Secret, register_secret

if TYPE_CHECKING:
    import hvac

__all__ = [
    "DEFAULT_RETRIES",
    "ENV_ADDR",
    "ENV_CACERT",
    "ENV_CAPATH",
    "ENV_CLIENT_CERT",
    "ENV_CLIENT_KEY",
    "ENV_NAMESPACE",
    "ENV_SKIP_VERIFY",
    "ENV_TLS_SERVER_NAME",
    "ENV_TOKEN",
    "HEADER_SAFE",
    "MAX_RETRIES",
    "UNREAD_VARIABLES",
    "check_retries",
    "client",
    "is_loopback",
    "is_loopback_http",
    "refuse_wrapped",
    "report_warnings",
    "reveal",
    "shown_url",
    "transport_errors",
]

ENV_ADDR: Final = "VAULT_ADDR"
ENV_TOKEN: Final = "VAULT_TOKEN"  # noqa: S105 - a variable name
ENV_NAMESPACE: Final = "VAULT_NAMESPACE"
ENV_CACERT: Final = "VAULT_CACERT"
ENV_CAPATH: Final = "VAULT_CAPATH"
ENV_CLIENT_CERT: Final = "VAULT_CLIENT_CERT"
ENV_CLIENT_KEY: Final = "VAULT_CLIENT_KEY"
ENV_SKIP_VERIFY: Final = "VAULT_SKIP_VERIFY"
ENV_TLS_SERVER_NAME: Final = "VAULT_TLS_SERVER_NAME"
UNREAD_VARIABLES: Final = {
    "VAULT_AGENT_ADDR": "give the agent's address as the URL",
    "VAULT_HTTP_PROXY": "set HTTPS_PROXY (read for a Vault not on this machine)",
    "VAULT_PROXY_ADDR": "set HTTPS_PROXY (read for a Vault not on this machine)",
    "VAULT_MAX_RETRIES": "give retries=",
    "VAULT_CLIENT_TIMEOUT": "give timeout=",
    "VAULT_WRAP_TTL": "answers are asked for unwrapped",
}
"""Vault's client variables sealbox does not read, and what to do instead."""
DEFAULT_RETRIES: Final = 3
"""How many times a call that may be repeated is retried after 429 or a passing 5xx."""

MAX_RETRIES: Final = 10
"""The most retries a client may be given: past that, a Vault that keeps refusing is down."""

_TOKEN_FILE: Final = "~/.vault-token"  # noqa: S105 - a file name
_LOOPBACK_NAMES: Final = frozenset({"localhost"})

logger = logging.getLogger("sealbox.vault")
_warned: set[str] = set()
_warned_lock = threading.Lock()


def reveal(value: str | Secret[str]) -> str:
    """The text of a plain or wrapped value."""
    return value.expose_secret() if isinstance(value, Secret) else value


def shown_url(url: str) -> str:
    """``url`` as messages, labels and logs show it: ``scheme://host:port/path``.

    A user name and password (``https://user:pass@vault…``, basic auth for a proxy in
    front of Vault) are masked as ``***@``; a query and a fragment are dropped, since a
    proxy may read a token or a signature there.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc, query="", fragment="").geturl()


#: How much of one of Vault's warnings is logged.
_WARNING_SHOWN: Final = 300


def report_warnings(method: str, url: str, answer: dict[str, Any]) -> None:
    """Log, once per text, the ``warnings`` of a successful answer of Vault: how it tells a
    client of a path or parameter it ignored or will stop taking, or of a TTL it capped,
    while answering 200. The call's result does not depend on them; the method and path
    are named (never the query, a header or the body)."""
    warnings = answer.get("warnings")
    if not isinstance(warnings, list):
        return
    path, shown_method = urlsplit(url).path, method.upper()
    for text in warnings:
        if isinstance(text, str) and text.strip():
            shown = text.strip()[:_WARNING_SHOWN]
            _warn_once(
                f"answer:{shown}", "Vault warned, answering %s %s: %s", shown_method, path, shown
            )


def is_loopback_http(url: str) -> bool:
    """Whether ``url`` is plain ``http://`` to this machine (a loopback address or
    ``localhost``)."""
    return urlsplit(url).scheme == "http" and is_loopback(url)


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (a loopback address or ``localhost``),
    whatever the scheme."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    host = parts.hostname.rstrip(".").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str | None) -> str:
    if not url:
        raise ConfigError(
            f"no Vault address: none was given and ${ENV_ADDR} is not set",
            hint=f"give Vault's https:// address, or set {ENV_ADDR}",
            code="vault_address_needed",
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number in 0-65535 raises
    except ValueError:
        # Not shown: unparsed, its user name and password cannot be masked.
        raise ConfigError(
            "the Vault URL is not a valid URL (an IPv6 address needs its [ ], a port "
            "is a number from 0 to 65535)",
            hint="give Vault's address as https://HOST:8200",
            code="vault_bad_url",
        ) from None
    scheme = parts.scheme
    if scheme == "https":
        return url
    if is_loopback_http(url):
        _warn_once(
            url,
            "Vault at %s is plain http: allowed only because it is on this machine "
            "(a development server); use https for anything else",
            shown_url(url),
        )
        return url
    shown = shown_url(url)
    raise ConfigError(
        f"Vault URL {shown!r} is not https: sealbox always verifies Vault's TLS certificate "
        "(plain http only to a development server on 127.0.0.1, ::1 or localhost)",
        hint="use Vault's TLS listener (vault server -dev-tls for local work)",
        code="vault_not_https",
        facts={"url": shown},
    )


# What an HTTP header value can carry as sent: visible ASCII, no spaces or line breaks.
HEADER_SAFE: Final = re.compile(r"[\x21-\x7e]+")


def _check_header_value(
    value: str | Secret[str], what: str, code: str, *, show: bool, where: str = ""
) -> None:
    """Refuse a token or namespace that no HTTP header can carry (a line break, a space,
    a character outside ASCII): requests or http.client would fail on it mid-request,
    with an error quoting part of it."""
    text = reveal(value)
    if not isinstance(text, str):
        raise TypeError(f"the Vault {what} is given as a str, not {type(text).__name__}")
    if not HEADER_SAFE.fullmatch(text):
        shown = f" {text!r}" if show and len(text) <= 64 and text.isprintable() else ""
        raise ConfigError(
            f"the Vault {what}{shown}{where} holds a character an HTTP header cannot carry "
            "(a space, a line break or a character outside ASCII)",
            hint=f"check the Vault {what} for a stray character, such as a trailing newline",
            code=code,
        )


def _check_timeout(timeout: object) -> None:
    if not isinstance(timeout, int | float) or isinstance(timeout, bool):
        raise TypeError(f"the Vault timeout is a number of seconds, not {type(timeout).__name__}")
    if not 0 < timeout < math.inf:
        raise ConfigError(
            f"the Vault timeout must be a positive number of seconds, not {timeout!r}",
            hint="give the seconds a whole request to Vault may take, such as 10",
            code="vault_bad_timeout",
            facts={"timeout": repr(timeout)},
        )


def check_retries(retries: object) -> None:
    """Refuse a ``retries`` that is not an int from 0 to :data:`MAX_RETRIES`.

    Raises:
        TypeError: not an int (a bool included).
        ConfigError: out of range (code ``vault_bad_retries``).
    """
    if not isinstance(retries, int) or isinstance(retries, bool):
        raise TypeError(f"retries is an int, not {type(retries).__name__}")
    if not 0 <= retries <= MAX_RETRIES:
        raise ConfigError(
            f"retries must be from 0 to {MAX_RETRIES}, not {retries}",
            hint="give how many times a call is retried after 429 or 5xx, such as 3",
            code="vault_bad_retries",
            facts={"retries": str(retries)},
        )


def _warn_once(key: str, message: str, *args: object) -> None:
    with _warned_lock:
        first = key not in _warned
        _warned.add(key)
    if first:
        logger.warning(message, *args)


def _unread_variables_named() -> None:
    """Say, once, that ``$VAULT_SKIP_VERIFY`` (or another unread variable) is set."""
    for name, instead in UNREAD_VARIABLES.items():
        if os.environ.get(name):
            _warn_once(name, "$%s is set and not read by sealbox: %s", name, instead)
    value = os.environ.get(ENV_SKIP_VERIFY, "").strip().lower()
    if value and value not in ("0", "f", "false"):
        _warn_once(
            ENV_SKIP_VERIFY,
            "$%s is set and ignored: sealbox always verifies Vault's TLS certificate "
            "(give the CA with ca=, $%s or $%s)",
            ENV_SKIP_VERIFY,
            ENV_CACERT,
            ENV_CAPATH,
        )


def _ca_folder(folder: Path, where: str) -> str:
    """The PEM certificates in the files of ``folder``, as Vault's client reads a CA path."""
    blocks: list[str] = []
    for path in sorted(folder.iterdir()):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if path.is_file():
                blocks += _PEM_CERT.findall(path.read_text())
    if not blocks:
        raise ConfigError(
            f"the Vault CA folder {str(folder)!r} ({where}) holds no PEM certificate",
            hint="give the folder (or PEM file) of the CA that signed Vault's certificate",
            code="vault_ca_missing",
            facts={"ca": str(folder)},
        )
    return "\n".join(blocks) + "\n"


_PEM_CERT: Final = re.compile(
    r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----"
)


def _client_cert() -> tuple[str, str] | None:
    """``($VAULT_CLIENT_CERT, $VAULT_CLIENT_KEY)``, checked, or ``None`` when neither is set."""
    cert, key = os.environ.get(ENV_CLIENT_CERT) or "", os.environ.get(ENV_CLIENT_KEY) or ""
    if not cert and not key:
        return None
    if not cert or not key:
        given, missing = (
            (ENV_CLIENT_CERT, ENV_CLIENT_KEY) if cert else (ENV_CLIENT_KEY, ENV_CLIENT_CERT)
        )
        raise ConfigError(
            f"${given} is set but ${missing} is not: a client certificate needs both",
            hint=f"set {missing} too, or unset {given}",
            code="vault_client_cert_incomplete",
        )
    for name, value in ((ENV_CLIENT_CERT, cert), (ENV_CLIENT_KEY, key)):
        if not Path(value).is_file():
            # requests would raise a bare OSError from inside the first request.
            raise ConfigError(
                f"the Vault client certificate file {value!r} (in ${name}) does not exist",
                hint=f"give in {name} the PEM file of the client certificate and its key",
                code="vault_client_cert_missing",
                facts={"file": value},
            )
    return cert, key


def _system_store() -> str | bool:
    """The system's trust store as OpenSSL and Vault's client find it, else ``True``."""
    paths = ssl.get_default_verify_paths()
    return paths.cafile or paths.capath or True


def _env_token() -> tuple[str | None, str]:
    """``$VAULT_TOKEN``, else the token ``vault login`` saved, as hvac reads them; and
    where it was read, for messages."""
    token = os.environ.get(ENV_TOKEN)
    if token:
        return token, f" (in ${ENV_TOKEN})"
    path = Path(_TOKEN_FILE).expanduser()
    with contextlib.suppress(OSError, UnicodeDecodeError):
        token = path.read_text().strip()
    return token or None, f" (in {_TOKEN_FILE})"


def client(
    url: str | None,
    *,
    token: str | Secret[str] | None,
    namespace: str | None,
    ca: str | os.PathLike[str] | None,
    timeout: int,
    approle: bool = False,
    read_retries: int = 0,
) -> hvac.Client:
    """An hvac client that always verifies Vault's certificate (``ca`` or the system store).

    ``url``, ``token``, ``namespace`` and ``ca`` not given come from the environment
    (module docstring); ``approle`` says the caller logs in with AppRole, so no token
    is looked for.

    ``timeout`` bounds each request to Vault as a whole: connecting, sending, and reading
    the whole answer (module docstring). ``read_retries``: how many times a read (or a call
    inside :func:`~sealbox.secrets.vault_http.repeatable`) is sent again after Vault answers
    429 or a passing 5xx (:data:`~sealbox.secrets.vault_http.RETRY_STATUSES`); writes never
    are. A read that
    fails on a kept-alive connection before any byte of the answer came is sent once more
    on a new connection, whatever ``read_retries`` is (:mod:`~sealbox.secrets.vault_http`).

    Raises:
        ConfigError: no address; the URL is not https (nor http to a loopback
            address); no token and no AppRole login; a timeout that is not a positive
            number of seconds; a CA file that does not exist.
        TypeError: a timeout that is not a number.
        ExtraNotInstalledError: hvac is not installed.
    """
    url = _check_url(url if url is not None else os.environ.get(ENV_ADDR))
    _check_timeout(timeout)
    token_from = ""
    if token is None and not approle:
        token, token_from = _env_token()
        if token is None:
            raise ConfigError(
                "give exactly one of token= and approle= "
                f"(no token was given and ${ENV_TOKEN} is not set)",
                hint=f"give a Vault token or an AppRole login, or set {ENV_TOKEN}",
                code="vault_credentials_needed",
            )
    if namespace is None:
        namespace = os.environ.get(ENV_NAMESPACE) or None
    ca_from = "given"
    if ca is None:
        # As Vault's own client: $VAULT_CACERT wins over $VAULT_CAPATH.
        ca = os.environ.get(ENV_CACERT) or None
        ca_from = f"in ${ENV_CACERT}"
        if ca is None and os.environ.get(ENV_CAPATH):
            ca, ca_from = os.environ[ENV_CAPATH], f"in ${ENV_CAPATH}"
    if ca is not None and not Path(ca).exists():
        # requests would raise a bare OSError from inside the first request.
        raise ConfigError(
            f"the Vault CA file {str(ca)!r} ({ca_from}) does not exist",
            hint="give the PEM file (or folder) of the CA that signed Vault's certificate",
            code="vault_ca_missing",
            facts={"ca": str(ca)},
        )
    ca_data = _ca_folder(Path(ca), ca_from) if ca is not None and Path(ca).is_dir() else None
    cert = _client_cert()
    if server_name := os.environ.get(ENV_TLS_SERVER_NAME) or None:
        _check_header_value(server_name, "TLS server name", "vault_bad_server_name", show=True)
    _unread_variables_named()
    try:
        import hvac

        from sealbox.secrets import vault_http
    except ImportError:
        raise ExtraNotInstalledError("vault", "hvac") from None
    if token is not None:
        _check_header_value(token, "token", "vault_bad_token", show=False, where=token_from)
        register_secret(reveal(token))
    if namespace:
        _check_header_value(namespace, "namespace", "vault_bad_namespace", show=True)
    verify = str(ca) if ca is not None else _system_store()
    return hvac.Client(
        url=url,
        # "" rather than None: hvac would otherwise take $VAULT_TOKEN over an AppRole login.
        token="" if token is None else reveal(token),
        namespace=namespace,
        verify=verify,
        timeout=timeout,
        # False rather than None: hvac would otherwise take the $VAULT_CLIENT_CERT it read
        # once, when it was imported.
        cert=cert or False,  # type: ignore[arg-type]
        # Error answers whose JSON is not an object are read without failing in hvac.
        adapter=vault_http.VaultAdapter,
        session=vault_http.session(
            verify, read_retries=read_retries, ca_data=ca_data, cert=cert, server_name=server_name
        ),
    )


def refuse_wrapped(label: str, what: str, answer: object, error: type[SealboxError]) -> None:
    """Raise ``error`` when Vault's ``answer`` is response-wrapped (``wrap_info``, no
    ``data``): its data is behind a wrapping token, which is never shown."""
    wrapped = isinstance(answer, dict) and isinstance(answer.get("wrap_info"), dict)
    if wrapped and isinstance(answer, dict) and answer.get("data") is None:
        raise error(
            f"{label}: {what}: Vault answered with a response-wrapping token in place "
            "of the data (the answer is wrapped)",
            hint="sealbox asks for answers unwrapped: check what between it and Vault "
            "asks for wrapping (X-Vault-Wrap-TTL), such as a proxy adding the header",
            code="vault_answer_wrapped",
        )


@contextlib.contextmanager
def transport_errors(label: str, what: str, error: type[SealboxError]) -> Iterator[None]:
    """Turn authentication, availability and network failures into ``error``.

    403, 404 and 400 answers pass through untouched: what they mean depends on the
    caller (a policy, a missing secret or key, a check-and-set or version refusal).
    """
    import hvac.exceptions as hx
    import requests

    from sealbox.secrets.vault_login import BadLoginAnswer, LoginRefused

    try:
        yield
    except (hx.Forbidden, hx.InvalidPath, hx.InvalidRequest):
        raise
    except hx.Unauthorized:
        raise error(f"{label}: not authenticated (401)") from None
    except (hx.VaultDown, hx.VaultNotInitialized):
        raise error(
            f"{label}: Vault is sealed or not ready (503)",
            hint="retry once Vault is unsealed and active",
        ) from None
    except hx.RateLimitExceeded:
        raise error(
            f"{label}: {what}: Vault is limiting the rate of requests (429)",
            hint="retry later, or ask Vault's operator about its rate limit quotas",
        ) from None
    except BadLoginAnswer:
        raise error(f"{label}: the AppRole login answered no usable client token") from None
    except LoginRefused:
        raise error(
            f"{label}: the AppRole login was refused (403)",
            hint="check approle_mount (where the AppRole auth method is mounted) and the "
            "role's secret_id_bound_cidrs",
            code="vault_login_refused",
        ) from None
    except hx.VaultError as exc:
        raise error(f"{label}: {what} failed ({type(exc).__name__})") from None
    except requests.exceptions.SSLError:
        store = _system_store()
        unread = [n for n in _GENERAL_CA if _elsewhere(os.environ.get(n), store)]
        aside = f"; ${unread[0]} is not read for Vault" if unread else ""
        raise error(
            f"{label}: TLS verification of Vault's certificate failed",
            hint=f"give the CA that signed it with ca=, ${ENV_CACERT} or ${ENV_CAPATH} "
            f"(${ENV_SKIP_VERIFY} is never honoured{aside})",
            code="vault_tls_failed",
        ) from None
    except requests.exceptions.Timeout:
        raise error(
            f"{label}: {what}: Vault did not answer in time (the timeout bounds the whole "
            "request, not each read)",
            hint="check that Vault is reachable and healthy, or give a longer timeout",
            code="vault_timeout",
        ) from None
    except requests.exceptions.RequestException as exc:
        raise _request_error(exc, label, what, error) from None


# CA bundles named for requests and curl, not for Vault: never read by the Vault clients.
_GENERAL_CA: Final = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _elsewhere(bundle: str | None, store: str | bool) -> bool:
    """Whether ``bundle`` is set and is not the system's store Vault is checked with."""
    return bool(bundle) and (
        not isinstance(store, str) or os.path.realpath(str(bundle)) != os.path.realpath(store)
    )


def _request_error(
    exc: Exception, label: str, what: str, error: type[SealboxError]
) -> SealboxError:
    """``error`` for a request that failed on the way (requests' ``RequestException``)."""
    import requests

    from sealbox.secrets.vault_http import MAX_ANSWER_SIZE, AnswerTooLarge, RedirectRefused

    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return error(
            f"{label}: {what}: Vault redirected the request again and again (a redirect "
            "loop), refused",
            hint="check what answers at Vault's address (a proxy or a load balancer "
            "redirecting to itself) and Vault's api_addr",
            code="vault_redirect_loop",
        )
    if isinstance(exc.__cause__, AnswerTooLarge):
        return error(
            f"{label}: {what}: Vault's answer is larger than {MAX_ANSWER_SIZE} bytes, refused",
            hint="check what answers at Vault's address (a proxy, or another server)",
            code="vault_answer_too_large",
            facts={"limit": str(MAX_ANSWER_SIZE)},
        )
    refused = exc.__cause__
    if isinstance(refused, RedirectRefused) and refused.method:
        return error(
            f"{label}: {what}: Vault answered the {refused.method} with a redirect "
            f"({refused.status}) after which it would be sent again as a GET without its "
            "body: refused",
            hint="check what answers at Vault's address (a proxy or a load balancer "
            "redirecting); Vault itself redirects with 307",
            code="vault_redirect_refused",
            facts={"to": refused.where, "status": str(refused.status)},
        )
    if isinstance(refused, RedirectRefused) and refused.downgrade:
        return error(
            f"{label}: Vault redirected the request to {refused.where}: plain http, "
            "refused (it would carry the token in clear)",
            hint="check Vault's api_addr: it must be an https:// address",
            code="vault_redirect_refused",
            facts={"to": refused.where},
        )
    if isinstance(refused, RedirectRefused):
        return error(
            f"{label}: {what}: Vault redirected the request to {refused.where}, another "
            "address: refused (the token is sent only to the address given)",
            hint="a standby that does not forward requests names the active node: give "
            "the active node's or the load balancer's address, or let standbys forward",
            code="vault_redirect_refused",
            facts={"to": refused.where},
        )
    return error(f"{label}: cannot reach Vault ({type(exc).__name__})")
