"""Every test of the in-memory domain tier (``tests/unit/domain``), run again on SQLite and PostgreSQL.

The tests are collected here a second time by importing them; pytest resolves their fixtures from
this directory, where ``app`` is the two-backend fixture, so each runs as ``[sqlite]`` and ``[postgres]``.
"""

from __future__ import annotations

from tests.unit.domain.test_capacity import *  # noqa: F403
from tests.unit.domain.test_deviations import *  # noqa: F403
from tests.unit.domain.test_distribution_lists import *  # noqa: F403
from tests.unit.domain.test_erasure import *  # noqa: F403
from tests.unit.domain.test_idempotency import *  # noqa: F403
from tests.unit.domain.test_letter_delivery import *  # noqa: F403
from tests.unit.domain.test_letters import *  # noqa: F403
from tests.unit.domain.test_municipalities_and_registration import *  # noqa: F403
from tests.unit.domain.test_person_folders import *  # noqa: F403
from tests.unit.domain.test_places import *  # noqa: F403
from tests.unit.domain.test_quotas import *  # noqa: F403
from tests.unit.domain.test_roles import *  # noqa: F403
from tests.unit.domain.test_settlement_dates import *  # noqa: F403
from tests.unit.domain.test_settlement_decisions import *  # noqa: F403
from tests.unit.domain.test_stored_events import *  # noqa: F403
from tests.unit.domain.test_support import *  # noqa: F403
