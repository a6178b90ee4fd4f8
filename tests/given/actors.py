"""Who acts in the tests, and the day it is."""

from __future__ import annotations

import uuid
from datetime import date

from settlement_domain.context import Actor, CommandContext, Role

TODAY = date(2025, 6, 16)  # a Monday; the application's clock in tests


def ctx_for(role: Role, municipality: str | None = None, sub: str | None = None) -> CommandContext:
    """A command context for one actor, with a fresh correlation id."""
    actor = Actor(sub or f"{role.value}-user", role, municipality)
    return CommandContext(actor=actor, correlation_id=f"test-{uuid.uuid4().hex[:8]}")


IMDI = ctx_for(Role.IMDI, sub="ingrid")
RECEPTION = ctx_for(Role.RECEPTION, sub="mottak-system")
AUDITOR = ctx_for(Role.AUDITOR, sub="riksrevisjonen")
OSLO = ctx_for(Role.MUNICIPALITY, "0301", sub="kari")
BERGEN = ctx_for(Role.MUNICIPALITY, "4601", sub="per")
