"""Distinguished names as ``tls_client_auth`` compares them (RFC 8705 §2.1.2, RFC 4514).

A client registered for ``tls_client_auth`` names the subject of its certificate as an
RFC 4514 string, written by a person or a tool; the certificate's subject arrives as the
TLS layer prints it. The same name has many spellings — ``cn=`` or ``CN=``, ``\\,`` or
``\\2C``, ``"Acme, Inc."`` quoted as RFC 2253 allowed, spaces after the commas as
OpenSSL prints them — so the two are compared as names, not as strings:
:func:`subject_dn_key` parses a string and gives a form in which equal names are equal
strings.

Equal means what X.509 says (RFC 5280 §7.1, with RFC 4518's preparation): the same
attribute types, RDN by RDN in the same order (``C=DE,CN=x`` is another name than
``CN=x,C=DE``: OpenSSL's default ``-subject`` prints the RDNs the other way round from
RFC 4514), the attributes of a multi-valued RDN in any order, and values compared
without regard to case or to runs of spaces (``caseIgnoreMatch``), as OpenSSL compares
names when it builds a chain. A type named by a word must be one of the usual ones or
those OpenSSL prints (below), or a dotted OID; a ``#`` hex value (the BER of the value,
as OpenSSL prints one of a type it has no name for) is the string it encodes. A string
that does not parse is refused, never matched as text.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from typing import Final

__all__ = ["subject_dn_key"]

# Attribute type names as RFC 4514 §3 lists them, and the others OpenSSL and
# cryptography print, lower-cased; any other type is written as its dotted OID.
_TYPES: Final = {
    "cn": "2.5.4.3",
    "commonname": "2.5.4.3",
    "l": "2.5.4.7",
    "localityname": "2.5.4.7",
    "st": "2.5.4.8",
    "stateorprovincename": "2.5.4.8",
    "o": "2.5.4.10",
    "organizationname": "2.5.4.10",
    "ou": "2.5.4.11",
    "organizationalunitname": "2.5.4.11",
    "c": "2.5.4.6",
    "countryname": "2.5.4.6",
    "street": "2.5.4.9",
    "streetaddress": "2.5.4.9",
    "dc": "0.9.2342.19200300.100.1.25",
    "domaincomponent": "0.9.2342.19200300.100.1.25",
    "uid": "0.9.2342.19200300.100.1.1",
    "userid": "0.9.2342.19200300.100.1.1",
    "serialnumber": "2.5.4.5",
    "sn": "2.5.4.4",  # surname, as in LDAP and OpenSSL (not the serial number)
    "surname": "2.5.4.4",
    "gn": "2.5.4.42",
    "givenname": "2.5.4.42",
    "title": "2.5.4.12",
    "postalcode": "2.5.4.17",
    "emailaddress": "1.2.840.113549.1.9.1",
    "e": "1.2.840.113549.1.9.1",
    # The other names OpenSSL prints (-nameopt RFC2253), which the docs tell to copy.
    "description": "2.5.4.13",
    "businesscategory": "2.5.4.15",
    "name": "2.5.4.41",
    "initials": "2.5.4.43",
    "generationqualifier": "2.5.4.44",
    "x500uniqueidentifier": "2.5.4.45",
    "dnqualifier": "2.5.4.46",
    "pseudonym": "2.5.4.65",
    "role": "2.5.4.72",
    "organizationidentifier": "2.5.4.97",
    "unstructuredname": "1.2.840.113549.1.9.2",
    "jurisdictionl": "1.3.6.1.4.1.311.60.2.1.1",
    "jurisdictionst": "1.3.6.1.4.1.311.60.2.1.2",
    "jurisdictionc": "1.3.6.1.4.1.311.60.2.1.3",
}
# The BER tags of the string types a name's value has (X.520 DirectoryString and the
# like), with the codec of their contents; TeletexString as Latin-1, as OpenSSL reads it.
_STRING_TAGS: Final = {
    0x0C: "utf-8",  # UTF8String
    0x12: "ascii",  # NumericString
    0x13: "ascii",  # PrintableString
    0x14: "latin-1",  # TeletexString
    0x16: "ascii",  # IA5String
    0x1A: "ascii",  # VisibleString
    0x1C: "utf-32-be",  # UniversalString
    0x1E: "utf-16-be",  # BMPString
}
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_SEPARATORS: Final = ",;+"
MAX_DN: Final = 4096


def subject_dn_key(text: str) -> str:
    """The comparison form of a distinguished name written as in RFC 4514.

    Two strings name the same subject exactly when their keys are equal.

    Raises:
        ValueError: ``text`` is not a distinguished name (the message says where);
            an empty string, a name with no attribute, is one too.
    """
    if len(text) > MAX_DN:
        raise ValueError(f"too long for a distinguished name (at most {MAX_DN} characters)")
    rdns = _Parser(text).parse()
    return json.dumps(rdns, ensure_ascii=True, separators=(",", ":"))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def parse(self) -> list[list[list[str]]]:
        rdns: list[list[list[str]]] = []
        attributes: list[list[str]] = []
        while True:
            attributes.append(self._attribute())
            self._spaces()
            if self.i == len(self.text):
                break
            sep = self.text[self.i]
            if sep not in _SEPARATORS:
                raise self._fail("expected ',' or '+' after a value")
            self.i += 1
            if sep != "+":  # "," or ";" (RFC 2253 §4): the next RDN
                rdns.append(sorted(attributes))
                attributes = []
        rdns.append(sorted(attributes))
        return rdns

    def _fail(self, what: str) -> ValueError:
        return ValueError(f"not a distinguished name (RFC 4514): {what} at character {self.i + 1}")

    def _spaces(self) -> None:
        while self.i < len(self.text) and self.text[self.i] == " ":
            self.i += 1

    def _attribute(self) -> list[str]:
        self._spaces()
        start = self.i
        while self.i < len(self.text) and (
            self.text[self.i].isalnum() or self.text[self.i] in ".-"
        ):
            self.i += 1
        name = self.text[start : self.i]
        self._spaces()
        if not name or self.i == len(self.text) or self.text[self.i] != "=":
            self.i = start
            raise self._fail("expected an attribute type and '='")
        self.i += 1
        oid = _oid(name)
        if oid is None:
            self.i = start
            raise self._fail(f"unknown attribute type {name!r}")
        self._spaces()
        return [oid, *self._value()]

    def _value(self) -> list[str]:
        text = self.text
        if self.i < len(text) and text[self.i] == "#":
            start = self.i
            self.i += 1
            while self.i < len(text) and text[self.i] in _HEX:
                self.i += 1
            digits = text[start + 1 : self.i]
            if not digits or len(digits) % 2:
                raise self._fail("a '#' value needs pairs of hex digits")
            return self._ber_value(bytes.fromhex(digits))
        if self.i < len(text) and text[self.i] == '"':
            self.i += 1
            value = self._chars(quoted=True)
            if self.i == len(text):
                raise self._fail("a quoted value is not closed")
            self.i += 1
            return [_prepared(value)]
        return [_prepared(self._chars(quoted=False))]

    def _ber_value(self, ber: bytes) -> list[str]:
        # RFC 4514 §2.4: '#' and the hex of the value's BER, as OpenSSL prints a value of
        # a type it has no name for. A string is that string (the TLS layer prints it as
        # text); anything else is kept as its hex, marked "ber" so that no string value,
        # not even one spelled like that hex, ever equals it.
        codec = _STRING_TAGS.get(ber[0])
        if codec is None:
            return ["#" + ber.hex(), "ber"]
        size, head = (ber[1], 2) if len(ber) > 1 and ber[1] < 0x80 else (-1, 0)
        if len(ber) > 2 and ber[1] in (0x81, 0x82):
            head = 2 + ber[1] - 0x80
            size = int.from_bytes(ber[2:head])
        if size < 0 or len(ber) != head + size:
            raise self._fail("the length of a '#' value's string is not its length")
        try:
            return [_prepared(ber[head:].decode(codec))]
        except UnicodeDecodeError:
            raise self._fail(f"a '#' value's string is not {codec}") from None

    def _chars(self, *, quoted: bool) -> str:
        text = self.text
        out = bytearray()
        while self.i < len(text):
            ch = text[self.i]
            if ch == "\\":
                out += self._escape()
                continue
            if (quoted and ch == '"') or (not quoted and ch in _SEPARATORS):
                break
            out += ch.encode("utf-8", "surrogatepass")
            self.i += 1
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError:
            raise self._fail("hex escapes that are not UTF-8") from None

    def _escape(self) -> bytes:
        text = self.text
        nxt = text[self.i + 1 : self.i + 3]
        if len(nxt) == 2 and nxt[0] in _HEX and nxt[1] in _HEX:
            self.i += 3
            return bytes.fromhex(nxt)
        if nxt[:1] and not nxt[0].isalnum():
            self.i += 2
            return nxt[0].encode("utf-8", "surrogatepass")
        raise self._fail("a '\\' escapes a special character or two hex digits")


def _oid(name: str) -> str | None:
    if name[0].isdigit():
        arcs = name.split(".")
        if len(arcs) < 2 or not all(a.isdigit() and (a == "0" or a[0] != "0") for a in arcs):
            return None
        return name
    return _TYPES.get(name.lower())


def _prepared(value: str) -> str:
    # RFC 4518 insignificant space handling and caseIgnoreMatch, as near as matters here.
    return " ".join(value.split()).casefold()
