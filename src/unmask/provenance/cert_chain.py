"""The certificate chain a Content Credential was signed with, read from the manifest store itself.

``c2pa-python`` validates the chain but reports only the signing certificate's name. An
investigator citing a credential needs every certificate the signer sent: who issued it, for how
long, with which fingerprint. The chain travels in the claim signature, a COSE_Sign1 structure
(RFC 9052) whose ``x5chain`` header (label 33, or the text key in older manifests) holds the DER
certificates, leaf first. The signature sits in the manifest store's JUMBF boxes (ISO 19566-5) at
``c2pa / <manifest label> / c2pa.signature / cbor``.

Everything here reads attacker-supplied bytes: the box walk, the CBOR decoder and the certificate
count are bounded, and any malformation is a :class:`ChainError` (the caller records it and
moves on). It runs inside the credential reader's capped child process.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any

from unmask.errors import ProvenanceError

#: certificates kept from one chain (real chains hold 2-4)
MAX_CERTS = 8
#: nesting depth and item count the CBOR decoder accepts (a COSE_Sign1 needs depth 4 and a few dozen items)
MAX_DEPTH = 16
MAX_ITEMS = 10_000
X5CHAIN = 33  # COSE header label (RFC 9360); manifests made before C2PA 1.3 use the text key "x5chain"


class ChainError(ProvenanceError):
    """The manifest store or its signature is malformed where the chain should be."""


@dataclass(frozen=True)
class Certificate:
    """One certificate of the signer's chain, as an investigator would cite it."""

    subject: str  # RFC 4514 distinguished name
    issuer: str
    serial_number: str  # hex
    not_before: str  # ISO 8601, UTC
    not_after: str
    sha256: str  # fingerprint of the DER bytes
    is_ca: bool  # basicConstraints CA flag: an issuing certificate, not a signer


# --- JUMBF -----------------------------------------------------------------------------------------------

def _boxes(buf: bytes, start: int, end: int) -> list[tuple[str, int, int]]:
    """(type, content start, content end) of the ISO BMFF-style boxes in ``buf[start:end]``."""
    out = []
    off = start
    while off + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[off : off + 8])
        head = 8
        if size == 1:
            if off + 16 > end:
                raise ChainError("a JUMBF box's large size is cut off")
            size, head = struct.unpack(">Q", buf[off + 8 : off + 16])[0], 16
        elif size == 0:
            size = end - off
        if size < head or off + size > end:
            raise ChainError("a JUMBF box runs past its parent")
        out.append((kind.decode("latin-1"), off + head, off + size))
        off += size
        if len(out) > MAX_ITEMS:
            raise ChainError("too many JUMBF boxes")
    return out


def _superbox(buf: bytes, start: int, end: int) -> tuple[str, list[tuple[str, int, int]]]:
    """A ``jumb`` superbox's label and its content boxes (after the ``jumd`` description box)."""
    inner = _boxes(buf, start, end)
    if not inner or inner[0][0] != "jumd":
        raise ChainError("a JUMBF superbox without its description box")
    _, ds, de = inner[0]
    if de - ds < 17:
        raise ChainError("a JUMBF description box is too short")
    label = buf[ds + 17 : de].split(b"\0", 1)[0].decode("utf-8", "replace") if buf[ds + 16] & 0x02 else ""
    return label, inner[1:]


def _child(buf: bytes, boxes: list[tuple[str, int, int]], label: str) -> list[tuple[str, int, int]]:
    for kind, s, e in boxes:
        if kind == "jumb":
            name, content = _superbox(buf, s, e)
            if name == label:
                return content
    raise ChainError(f"the manifest store has no {label!r} box")


def signature_bytes(store: bytes, manifest: str) -> bytes:
    """The COSE_Sign1 bytes of ``manifest``'s claim signature in a JUMBF manifest store."""
    top = _boxes(store, 0, len(store))
    if not top or top[0][0] != "jumb":
        raise ChainError("not a JUMBF manifest store")
    name, content = _superbox(store, top[0][1], top[0][2])
    if name != "c2pa":
        raise ChainError("the JUMBF store is not a C2PA manifest store")
    sig = _child(store, _child(store, content, manifest), "c2pa.signature")
    for kind, s, e in sig:
        if kind == "cbor":
            return store[s:e]
    raise ChainError("the claim signature box holds no CBOR")


# --- CBOR (RFC 8949), only what COSE needs -----------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.items = data, 0, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ChainError("CBOR data is cut off")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def argument(self, info: int) -> int:
        if info < 24:
            return info
        if info in (24, 25, 26, 27):
            return int.from_bytes(self.take(1 << (info - 24)), "big")
        raise ChainError("indefinite or reserved CBOR lengths are not accepted here")

    def item(self, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise ChainError("CBOR nested too deep or too many items")
        first = self.take(1)[0]
        major, info = first >> 5, first & 0x1F
        if major == 7:
            simple = {20: False, 21: True, 22: None, 23: None}
            if info in simple:
                return simple[info]
            if info in (25, 26, 27):
                fmt = {25: ">e", 26: ">f", 27: ">d"}[info]
                return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
            raise ChainError("an unsupported CBOR simple value")
        n = self.argument(info)
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major == 2:
            return self.take(n)
        if major == 3:
            return self.take(n).decode("utf-8", "replace")
        if major == 4:
            if n > MAX_ITEMS:
                raise ChainError("a CBOR array too long")
            return [self.item(depth + 1) for _ in range(n)]
        if major == 5:
            if n > MAX_ITEMS:
                raise ChainError("a CBOR map too long")
            out: dict[Any, Any] = {}
            for _ in range(n):
                key = self.item(depth + 1)
                if isinstance(key, (list, dict)):
                    raise ChainError("a CBOR map key that is not a scalar")
                out[key] = self.item(depth + 1)
            return out
        return self.item(depth + 1)  # major 6: a tag; COSE_Sign1's tag 18 wraps the array


def cbor_decode(data: bytes) -> Any:
    """One CBOR item from ``data`` (bounded; tags are dropped, trailing bytes ignored)."""
    return _Reader(data).item()


# --- COSE and X.509 ----------------------------------------------------------------------------------------

def x5chain(cose_sign1: bytes) -> list[bytes]:
    """The DER certificates of a COSE_Sign1's ``x5chain`` header (protected first, then unprotected), leaf first."""
    msg = cbor_decode(cose_sign1)
    if not isinstance(msg, list) or len(msg) != 4:
        raise ChainError("the claim signature is not a COSE_Sign1 structure")
    protected = cbor_decode(msg[0]) if isinstance(msg[0], bytes) and msg[0] else {}
    for header in (protected, msg[1]):
        key = next((k for k in (X5CHAIN, "x5chain") if isinstance(header, dict) and k in header), None)
        if key is not None:
            certs = header[key]
            certs = [certs] if isinstance(certs, bytes) else certs
            if not isinstance(certs, list) or not all(isinstance(c, bytes) for c in certs):
                raise ChainError("the signature's x5chain header is not a list of certificates")
            return list(certs[:MAX_CERTS])
    raise ChainError("the claim signature carries no x5chain header")


def describe(der: bytes) -> Certificate:
    """A :class:`Certificate` from DER bytes (``cryptography``, a dependency of ``c2pa-python``)."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        try:
            is_ca = bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        except x509.ExtensionNotFound:
            is_ca = False
        return Certificate(subject=cert.subject.rfc4514_string()[:300], issuer=cert.issuer.rfc4514_string()[:300],
                           serial_number=format(cert.serial_number, "x"),
                           not_before=cert.not_valid_before_utc.isoformat(),
                           not_after=cert.not_valid_after_utc.isoformat(),
                           sha256=hashlib.sha256(der).hexdigest(), is_ca=is_ca)
    except (ValueError, TypeError) as e:
        raise ChainError(f"a certificate of the chain cannot be parsed: {str(e)[:200]}") from None


def signer_chain(store: bytes, manifest: str) -> tuple[Certificate, ...]:
    """The signing certificate chain of ``manifest`` in a JUMBF manifest store, leaf first."""
    return tuple(describe(der) for der in x5chain(signature_bytes(store, manifest)))


__all__ = ["Certificate", "ChainError", "cbor_decode", "describe", "signature_bytes", "signer_chain", "x5chain"]
