"""The command line's advice for library errors, by error code: the one place flags are named.

Library errors carry a code and public facts and never a command-line flag; this
table turns a code into the flag or command that helps on the command line. A
code without an entry keeps the library's own hint.
"""

from __future__ import annotations

from sealbox.cli._io import PASSPHRASE_SOURCES, counted
from sealbox.exceptions import SealboxError

__all__ = ["HINTS", "hint_for"]


HINTS: dict[str, str] = {
    "file_exists": "use --force to replace it",
    "passphrase_needed": f"give the passphrase ({PASSPHRASE_SOURCES})",
    "bad_passphrase": f"give the passphrase as UTF-8 text ({PASSPHRASE_SOURCES})",
    "key_file_needed": "give its key file with -k/--key",
    "identity_needed": "give the identity file that opens it with -i",
    "oaep_needs_rsa": "RSA-OAEP needs an RSA key; encrypt to any key with 'sealbox encrypt "
    "-R KEY.pub' (age) and decrypt with 'sealbox decrypt -i KEY'",
    "plaintext_too_large": "encrypt data of any size to the key with 'sealbox encrypt -R "
    "KEY.pub' (age)",
    "unknown_recipient": "a recipient is an age1… string, an ssh-ed25519 or ssh-rsa line or "
    "a PEM public key; a file of them goes with -R",
    "private_key_as_recipient": "print its public key with 'sealbox key public FILE --format pem'",
    "work_factor_too_high": "the command line keeps the maximum 2^{maximum} (a file made "
    "this costly may be an attack on your memory); a file from a trusted source opens with "
    "the library: ScryptIdentity(passphrase, max_work_factor={work_factor})",
    "identity_as_recipient": "print its recipient with 'sealbox keygen -y FILE'",
    "wrong_namespace": "if {namespace!r} is what you expect, verify with -n {namespace}",
    "rsa_key_too_small": "generate a new key: sealbox key generate --type rsa "
    "(default {default_bits} bits) or --type ed25519",
    "certificate_expired": "renew it ('sealbox ca renew DIR PREFIX' for certificates "
    "sealbox issued)",
    "renewal_unsupported": "issue a new certificate ('sealbox ca issue server|client DIR "
    "...'), or renew this one with the tool that made it",
    # Also for `ca renew`, whose DIR must be the CA that issued the certificate.
    "ca_missing": "give the folder of the CA (its ca.crt and ca.key), or create one with "
    "'sealbox ca init {folder}'",
    "ca_incomplete": "if 'sealbox ca init' was interrupted, no certificate was issued with "
    "this key: remove {key} and run 'sealbox ca init {folder}' again; if ca.crt was deleted, "
    "put it back (it is the last certificate of every PREFIX.crt the CA issued)",
    "renewal_key_type": "give the certificate a new P-256 key: 'sealbox ca renew DIR {prefix} "
    "--now --new-key' (its pin changes)",
    "renewal_key_mismatch": "if replacing both was interrupted, give the certificate a new "
    "key: 'sealbox ca renew DIR {prefix} --now --new-key' (its pin changes)",
    "client_not_found": "list the clients with 'sealbox clients list'",
    # A name that only looks like another's (confusables, case, width) is taken too.
    "username_taken": "choose another name; 'sealbox users list' shows the accounts",
    "client_exists": "choose another name, or give it a new secret with "
    "'sealbox clients rotate-secret {name}'",
    "database_unavailable": "check SEALBOX_DATABASE_URL (without it, the SQLite database of "
    "the data folder), and that the database server runs and lets this user in",
    # A server that refused sealbox's connection: the URL or the role is to change.
    "database_unavailable:credentials": "check the user and password in SEALBOX_DATABASE_URL: "
    "the role {user!r} must exist on the database server, be allowed to log in from this "
    "host (pg_hba.conf), and have that password (ALTER ROLE ... PASSWORD)",
    "database_unavailable:database": "check the database name in SEALBOX_DATABASE_URL: the "
    "server has no database {dbname!r} (create it, or name the one sealbox uses)",
    # A server that answered and refused for a state of its own that passes.
    "database_unavailable:read_only": "the database refuses writes (read-only): point "
    "SEALBOX_DATABASE_URL at the primary (after a failover, the new one), or turn "
    "default_transaction_read_only off for its database or role",
    "database_unavailable:disk_full": "the database server's disk is full: free space "
    "there, then run the command again",
    "database_unavailable:resources": "the database server is out of memory or of another "
    "resource: check it, then run the command again",
    "database_unavailable:connections": "the database server has no connection slot left: "
    "stop idle clients, or raise max_connections (or the CONNECTION LIMIT of the role or "
    "database in SEALBOX_DATABASE_URL), then run the command again",
    "database_unavailable:canceled": "a statement ran past statement_timeout (or was "
    "canceled): run the command again; if it recurs, look for a lock held elsewhere, or "
    "raise the statement_timeout of the role or database",
    "database_unavailable:lock_timeout": "a statement waited for a lock longer than "
    "lock_timeout (or NOWAIT): run the command again; if it recurs, look for a lock held "
    "elsewhere, or raise the lock_timeout of the role or database",
    "database_unavailable:conflict": "the database rolled the change back for a conflict "
    "with another one made at the same time (a deadlock or a serialization failure): run "
    "the command again",
    "database_url_invalid": "set SEALBOX_DATABASE_URL to postgresql+asyncpg://USER@HOST/DATABASE, "
    "or leave it unset for the data folder's SQLite database",
    "store_unavailable": "check SEALBOX_REDIS_URL, and that the Redis server runs and answers",
    "revocation_unavailable": "it still works; once the Redis of SEALBOX_REDIS_URL answers, "
    "run 'sealbox clients delete {name}' again",
    "revocation_incomplete": "once the Redis of SEALBOX_REDIS_URL answers, run the same "
    "command again: until then the account's live access tokens may still pass",
    "revocation_incomplete:deleted": "the account is gone, so running the command again "
    "cannot complete it: its live access tokens may pass until they expire, unless the "
    "services are restarted once the Redis of SEALBOX_REDIS_URL answers (they read the "
    "refused tokens from the database as they start)",
    # `clients disable` and `clients rotate-secret --revoke-tokens`: refused before any change.
    "tokens_not_ended": "nothing was changed, and the client works as before; once the Redis "
    "of SEALBOX_REDIS_URL answers, run the same command again",
    # ... refused after the change: it stands (a new secret is shown all the same).
    "tokens_partly_ended": "the change stands, and any new secret is the one shown above; "
    "once the Redis of SEALBOX_REDIS_URL answers, run the same command again to end the "
    "sessions of the logins that raced it (a rotation makes another secret)",
    "key_encrypted": "the command line reads TLS key files unencrypted: write a copy without "
    "its passphrase ('openssl pkey -in KEY -out PLAIN.key', then 'chmod 600 PLAIN.key'), or, "
    "to renew a certificate sealbox issued, 'sealbox ca renew DIR PREFIX --new-key' writes a "
    "new key (its pin changes)",
    "ca_expired": "create a new CA ('sealbox ca init') and distribute its ca.crt",
    # TLS files the command line or the service cannot load, each with what to do.
    "wrong_passphrase": f"check the passphrase ({PASSPHRASE_SOURCES}); if it is the right "
    "one, {path} is damaged: restore it from a backup",
    "key_mismatch": "give the key written together with {cert} (PREFIX.key beside "
    "PREFIX.crt); if that key is lost, a certificate sealbox issued gets a new one with "
    "'sealbox ca renew DIR PREFIX --now --new-key' (its pin changes)",
    "ca_key_as_leaf_key": "give the server's or client's own key (PREFIX.key beside "
    "PREFIX.crt), not the CA's ca.key",
    "bad_pin": "compute pins with 'sealbox ca pin CERT' (SPKI SHA-256, base64)",
    "pin_mismatch": "if the server's key changed on purpose, pin the new one ('sealbox ca pin "
    "CERT'), and list a backup key's pin too",
    "audience_unexpected": "pass --aud with the audience the token is for ({audience})",
    "audience_not_accepted": "the token names the audience {audience}: if it is meant for "
    "this service, pass that value with --aud (a token for another service stays refused)",
    "issuer_not_accepted": "the token names the issuer {issuer}: if tokens from it are to "
    "pass, give that value with --iss (repeat --iss to accept several)",
    "claim_missing": "'sealbox jwt inspect' shows the claims the token has; exp, iat and sub "
    "are required, iss with --iss and aud with --aud",
    "signature_invalid": "the token was altered, or not signed by a key of --jwks or "
    "--keyset: check that they hold its issuer's current keys",
    "token_type_mismatch": "if a {typ!r} token is what this check is for, pass --typ {typ}; "
    "--any-type accepts any type (only where these keys sign no other kind of token)",
    "token_type_missing": "--any-type accepts a token without typ (only where these keys "
    "sign no other kind of token)",
    "token_expired": "it expired {ago} ago ({time}): get a new token{skew}",
    "token_not_yet_valid": "its {claim} is {ago} from now ({time}): check the clocks of this "
    "machine and of the issuer{skew}",
    "kid_needed": "have the token's issuer give it a kid, or verify it with a JWKS (--jwks) "
    "that holds only one {alg} key",
    "jwks_unverified": "for an unknown CA, pass --ca with the one that issued the JWKS "
    "server's certificate; one for another name or past its dates needs the right URL or "
    "a renewed certificate",
    "peer_unverified": "pass the CA that issued it (--ca), or --no-verify to read an "
    "unverified key",
    "peer_unverified:name": "give the name its certificate holds (--servername), or "
    "--no-verify to read an unverified key",
    "peer_unverified:dates": "the server's certificate must be renewed, or a clock is wrong; "
    "--no-verify reads an unverified key",
    "ca_certificate_as_leaf": "give the leaf certificate written together with the key "
    "(PREFIX.crt beside PREFIX.key), not the CA's ca.crt; or issue one with 'sealbox ca "
    "issue server|client ...'",
    "not_a_server_certificate": "issue one with 'sealbox ca issue server'",
    "not_a_client_certificate": "issue one with 'sealbox ca issue client'",
    "invalid_settings": "check the SEALBOX_* variables, the .env file and the options",
    "cert_without_key": "pass --cert and --key together",
    "certificate_as_key": "pass the certificate with --cert and its private key with --key "
    "(were they swapped?)",
    "mtls_needs_client_ca": "pass --client-ca FILE, the CA that issued the client certificates",
    "trusted_proxies_invalid": "give the proxies' IP addresses and CIDR networks, "
    "comma-separated (--trusted-proxies 10.0.0.5,192.168.0.0/24); leave it unset to trust none",
    "disk_full": "free space on the file system that holds {path} ('df -h' shows it), "
    "then run the command again",
    "disk_full:refusal": "the change is made (running the command again does no more): "
    "free space on the file system that holds {path} ('df -h' shows it); the access tokens "
    "it ends may pass until they expire",
    "audit_log_not_writable": "nothing was changed (a change is made only once its record "
    "can be written): let this user write {path} (on a read-only file system, mount it "
    "read-write), then run the command again",
    "service_not_provisioned": "run 'sealbox serve' once to provision the data folder",
    # The service's keyset signs with an HMAC key (made before it refused one): serve stops.
    "service_key_symmetric:primary": "make an EdDSA key sign: 'sealbox jwt keyset rotate "
    "--data-dir {folder} --type EdDSA', then destroy the HMAC key, a shared secret: "
    "'sealbox jwt keyset destroy --data-dir {folder} -- {key_id}'",
    "keyset_lost": "restore jwt-keyset.sealed from a backup (it is sealed under this "
    "master.key); to start a new signing keyset on purpose, ending every session, run "
    "'sealbox serve --new-signing-keyset' once",
    "legacy_file": "read it with 'sealbox legacy decrypt {path}', or rewrite it as an age "
    "file with 'sealbox legacy migrate {path} -o FILE.age -r RECIPIENT'",
    "not_an_age_file": "check that this is the encrypted file; records of the original "
    "Fernet and AES-GCM recipes are read with 'sealbox legacy decrypt'",
    "legacy_layout_unknown": "if it is a raw AES-GCM record (iv, ciphertext, tag), name "
    "the layout: --format aes-gcm-raw",
    "age_file_not_legacy": "decrypt it with 'sealbox decrypt'",
    "account_not_found": "'sealbox users list' shows the accounts",
}


def hint_for(exc: SealboxError) -> str | None:
    """The hint to print for ``exc``: the table's entry for its code, else its own."""
    # An entry for the code and the check that failed ("peer_unverified:name") first.
    template = HINTS.get(f"{exc.code}:{exc.facts.get('failed')}") or HINTS.get(exc.code)
    if template is None:
        return exc.hint
    try:
        return template.format_map({**exc.facts, **_derived(exc.facts)})
    except KeyError:
        return exc.hint


def _derived(facts: dict[str, str]) -> dict[str, str]:
    """Facts worded for a person: a token's time claim as a duration from now, and
    whether --leeway could cover it (a clock off by that much)."""
    seconds = facts.get("seconds")
    if seconds is None or not seconds.isdigit():
        return {}
    # Here, not at the top: the package would load sealbox.jwt on every command's start.
    from sealbox.jwt.defaults import MAX_LEEWAY

    n = int(seconds)
    skew = f"; if a clock is off, --leeway {n + 1} allows that skew" if n < MAX_LEEWAY else ""
    return {"ago": _duration(n), "skew": skew}


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size:
            return counted(seconds // size, unit)
    return counted(seconds, "second")
