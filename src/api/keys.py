"""Keys kept outside the database: the Ed25519 key that signs checkpoints of the hash chain (R20), and
the key of the person search's blind index (R21). Each is created once, mode 0600, when not configured."""

from __future__ import annotations

import os
import secrets
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


def search_key(settings: Settings) -> bytes:
    """The blind index's key (R21): ``search_key``, else random bytes created once in ``search_key_file``."""
    if settings.search_key is not None:
        key = settings.search_key.get_secret_value().encode()
        if len(key) < 16:
            raise ValueError("SETTLEMENT_SEARCH_KEY must be at least 16 characters")
        return key
    path = Path(settings.search_key_file)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip().encode()
        if len(key) < 16:
            raise ValueError(f"the search key file {path} is empty or too short") from None
        return key
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()
