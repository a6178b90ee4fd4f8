"""The demo's ready-made users, one per role, named like the demo story's own actors (the demo login
lists them; `settlement serve --demo` prints a token for each)."""

from __future__ import annotations

from settlement_domain.context import Role

DEMO_USERS = (
    (Role.IMDI, "imdi-caseworker-ingrid", None),
    (Role.MUNICIPALITY, "caseworker-0301", "0301"),
    (Role.MUNICIPALITY, "caseworker-4601", "4601"),
    (Role.RECEPTION, "reception-system-udi", None),
    (Role.AUDITOR, "auditor-revisjon", None),
)
