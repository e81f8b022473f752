"""What the Vault KV and Transit clients share: an hvac client with TLS always on, AppRole
login, and the translation of transport-level failures into sealbox errors."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sealbox.exceptions import ConfigError, ExtraNotInstalledError, SealboxError
from sealbox.secret import Secret, register_secret

if TYPE_CHECKING:
    import hvac

__all__ = ["approle_login", "client", "reveal", "transport_errors"]


def reveal(value: str | Secret[str]) -> str:
    """The text of a plain or wrapped value."""
    return value.expose_secret() if isinstance(value, Secret) else value


def client(
    url: str | None,
    *,
    token: str | Secret[str] | None,
    namespace: str | None,
    ca: str | os.PathLike[str] | None,
    timeout: int,
) -> hvac.Client:
    """An hvac client that always verifies Vault's certificate (``ca`` or the system store).

    Raises:
        ConfigError: the URL is not https.
        ExtraNotInstalledError: hvac is not installed.
    """
    if url is None or urlsplit(url).scheme != "https":
        raise ConfigError(
            f"Vault URL {url!r} is not https: sealbox always verifies Vault's TLS certificate",
            hint="use Vault's TLS listener (vault server -dev-tls for local work)",
        )
    try:
        import hvac
    except ImportError:
        raise ExtraNotInstalledError("vault", "hvac") from None
    if token is not None:
        register_secret(reveal(token))
    return hvac.Client(
        url=url,
        token=None if token is None else reveal(token),
        namespace=namespace,
        verify=str(ca) if ca is not None else True,
        timeout=timeout,
    )


def approle_login(
    vault: hvac.Client,
    approle: tuple[str | Secret[str], str | Secret[str]] | None,
    mount: str,
) -> None:
    """Log in with AppRole once, if that is how this client authenticates."""
    if approle is None or vault.token:
        return
    role_id, secret_id = (reveal(v) for v in approle)
    register_secret(secret_id)
    auth: Any = vault.auth.approle.login(role_id=role_id, secret_id=secret_id, mount_point=mount)
    register_secret(auth["auth"]["client_token"])


@contextlib.contextmanager
def transport_errors(label: str, what: str, error: type[SealboxError]) -> Iterator[None]:
    """Turn authentication, availability and network failures into ``error``.

    403, 404 and 400 answers pass through untouched: what they mean depends on the
    caller (a policy, a missing secret or key, a check-and-set or version refusal).
    """
    import hvac.exceptions as hx
    import requests

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
    except hx.VaultError as exc:
        raise error(f"{label}: {what} failed ({type(exc).__name__})") from None
    except requests.exceptions.SSLError:
        raise error(
            f"{label}: TLS verification of Vault's certificate failed",
            hint="give the CA that signed it with ca=",
        ) from None
    except requests.exceptions.RequestException as exc:
        raise error(f"{label}: cannot reach Vault ({type(exc).__name__})") from None
