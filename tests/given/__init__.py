"""One vocabulary of given-steps for every test tier: actors, commands with sensible defaults, and
small histories (municipalities with quotas, registered and selected persons).

Every builder sends real commands through ``SettlementApp.handle`` (in memory, SQLite or PostgreSQL,
whichever app the test has), so a test reads as given(events) / when(command) / then(events or rule).
"""

from tests.given.actors import AUDITOR, BERGEN, IMDI, OSLO, RECEPTION, TODAY, ctx_for
from tests.given.apps import in_memory_app
from tests.given.builders import (
    ADDRESS,
    PRIVATE,
    RECEPTION_CENTRE,
    address,
    capacity_report,
    contact,
    decided,
    decided_quota,
    distribution_list,
    events_since,
    municipalities,
    person,
    quota,
    registration,
    selected,
    types_since,
)
from tests.given.then import events_named, not_found, refused

__all__ = [
    "ADDRESS",
    "AUDITOR",
    "BERGEN",
    "IMDI",
    "OSLO",
    "PRIVATE",
    "RECEPTION",
    "RECEPTION_CENTRE",
    "TODAY",
    "address",
    "capacity_report",
    "contact",
    "ctx_for",
    "decided",
    "decided_quota",
    "distribution_list",
    "events_named",
    "events_since",
    "in_memory_app",
    "municipalities",
    "not_found",
    "person",
    "quota",
    "refused",
    "registration",
    "selected",
    "types_since",
]
