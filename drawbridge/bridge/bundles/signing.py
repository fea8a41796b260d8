"""ed25519 signatures for bundles and receipts: key pairs in files, a key id, the trusted keys.

Plain ed25519 from `cryptography` over the canonical JSON bytes of a manifest or a receipt,
with a detached signature file. minisign was the other candidate: its format is good, but
no maintained Python library reads it, and shelling out to a tool the air gap may lack is
worse than 30 lines here. DSSE would wrap the manifest in an envelope whose only reader
would be us: its value is a common verifier, which nothing inside needs.

The private key is PKCS#8 PEM (mode 0600), the public key one OpenSSH line
(`ssh-ed25519 AAAA… drawbridge:<key id>`), so `ssh-keygen -l -f` can show it; the key id
is the first 16 hex digits of the sha256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drawbridge.bridge.errors import BundleRefused, BundleError

#: the signature file's first line, then the base64 of the 64-byte signature
SIGNATURE_HEADER = "drawbridge-ed25519-signature"


@dataclass(frozen=True)
class PublicKey:
    """A public key one trusts, with where it was read from."""

    key: Ed25519PublicKey
    source: str

    @property
    def key_id(self) -> str:
        return key_id(self.key)


def key_id(key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the sha256 of the raw public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate(private_path: Path, public_path: Path) -> str:
    """Write a new key pair (refusing to replace one) and return its key id."""
    for path in (private_path, public_path):
        if path.exists():
            raise BundleError(
                f"{path} exists already; a home keeps one signing key. Remove both files "
                "first if you mean to replace it (the inside must then trust the new .pub)"
            )
    private = Ed25519PrivateKey.generate()
    identity = key_id(private.public_key())
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    public_path.write_bytes(public + f" drawbridge:{identity}\n".encode())
    return identity


def load_private(path: Path) -> Ed25519PrivateKey:
    """The private key in `path`; BundleError saying how to make one if there is none."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise BundleError(
            f"no signing key at {path}: make one with `drawbridge bundle keygen`"
        ) from None
    except (OSError, ValueError, TypeError) as error:
        raise BundleError(f"{path} is not a PEM ed25519 private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path} holds a {type(key).__name__}, not an ed25519 key")
    return key


def load_public(path: Path) -> PublicKey:
    """The public key in `path` (an OpenSSH line, or PEM)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BundleError(f"cannot read the trusted key {path}: {error}") from None
    key: object  # whatever the file holds: checked to be ed25519 below
    try:
        if data.startswith(b"ssh-ed25519 "):
            key = serialization.load_ssh_public_key(b" ".join(data.split()[:2]))
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise BundleError(f"{path} is not an ed25519 public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{path} holds a {type(key).__name__}, not an ed25519 key")
    return PublicKey(key, str(path))


def sign(private: Ed25519PrivateKey, data: bytes) -> bytes:
    """The detached signature file's bytes for `data`."""
    signature = base64.b64encode(private.sign(data)).decode()
    return f"{SIGNATURE_HEADER}\nkey {key_id(private.public_key())}\n{signature}\n".encode()


def verify(data: bytes, signature_file: bytes, trusted: Iterable[PublicKey], what: str) -> str:
    """The key id of the trusted key that signed `data`; BundleRefused naming `what` if the
    signature is malformed, made by a key not trusted, or does not match the bytes."""
    lines = signature_file.decode("ascii", "replace").split()
    if len(lines) != 4 or lines[0] != SIGNATURE_HEADER or lines[1] != "key":
        raise BundleRefused(f"{what}: the signature file is not a Drawbridge signature")
    claimed, encoded = lines[2], lines[3]
    keys = {key.key_id: key for key in trusted}
    if claimed not in keys:
        raise BundleRefused(
            f"{what} is signed by key {claimed}, which this home does not trust; if that is "
            "the exporter's key, put its .pub in [bundles] trusted_keys or in <home>/keys/"
            "trusted/ (its key id shows with `drawbridge bundle keygen` on the exporter)"
        )
    try:
        keys[claimed].key.verify(base64.b64decode(encoded, validate=True), data)
    except (InvalidSignature, ValueError):
        raise BundleRefused(
            f"{what}: the signature by key {claimed} does not match its bytes; it was changed "
            "after signing (or damaged): get the bundle again from the exporter"
        ) from None
    return claimed
