"""The Ed25519 key that signs checkpoints of the hash chain (R20), kept in a file outside the database."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from api.settings import Settings
from projections.engine.chain import parse_public_key


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        raise ValueError(f"the checkpoint key file {path} holds no readable key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"the checkpoint key file {path} holds no Ed25519 key")
    return key


def signing_key(settings: Settings) -> tuple[Ed25519PrivateKey, bool]:
    """The checkpoint key from ``checkpoint_key_file``, created there (mode 0600) on first use; answers
    the key and whether it was created now."""
    path = Path(settings.checkpoint_key_file)
    if path.exists():
        return _load(path), False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        # O_EXCL: two processes creating it at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _load(path), False
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    return key, True


def verifying_key(settings: Settings, given: str | None = None) -> Ed25519PublicKey | None:
    """The public key checkpoints are verified with: ``given``, else the configured one, else the
    key file's public half; None when none is at hand (signatures then go unchecked, and say so)."""
    text = given or settings.checkpoint_public_key
    if text:
        return parse_public_key(text)
    path = Path(settings.checkpoint_key_file)
    if path.exists():
        return _load(path).public_key()
    return None
