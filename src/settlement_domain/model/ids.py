"""Deterministic ids (uuid5) for natural keys, so that duplicates are impossible by construction."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1c1f0e-5a8e-4d0e-9a53-2c8f3b7d9e41")


@lru_cache(maxsize=200_000)  # pure, and asked for the same keys over and over in bulk work
def natural_id(kind: str, *key: object) -> UUID:
    """The id of the ``kind`` aggregate with this natural key, the same on every machine."""
    return uuid5(NAMESPACE, ":".join([kind, *map(str, key)]))
