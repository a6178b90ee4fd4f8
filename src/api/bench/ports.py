"""A free TCP port on this machine, for a server started by a benchmark or a test."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it; a race with another process is possible)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
