"""A generated person-level history file (JSON lines) for the import benchmark and the tests.

Persons are registered, mapped, selected by a municipality, decided and settled on dates of a past year,
some in families, some unaccompanied minors, a few decided for the next year (the place moves). Names
and addresses are invented; the same seed gives the same file.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta

MUNICIPALITIES = ("0301", "4601", "5001", "1103", "3201", "4204", "5501", "1804", "3403", "4003")
GIVEN = (
    "Amina",
    "Yusuf",
    "Olena",
    "Dmytro",
    "Sara",
    "Ali",
    "Hana",
    "Omar",
    "Iryna",
    "Mariam",
    "Øyvind",
    "Åse",
)
FAMILY = ("Haddad", "Kovalenko", "Rahimi", "Hassan", "Shevchenko", "Nasser", "Bondarenko", "Ahmadi")
# Events a person's five lines cause: registration, mapping, selection (the person's and the quota
# year's), decision and settlement date; a family adds its own creation and a member added per person.
EVENTS_PER_PERSON = 6


@dataclass(frozen=True)
class HistoryFile:
    content: bytes
    persons: int
    lines: int


def generate(persons: int, *, year: int = 2023, seed: int = 1, prefix: str = "P") -> HistoryFile:
    """``persons`` persons' histories in ``year`` (about ``EVENTS_PER_PERSON`` events each)."""
    rng = random.Random(seed)
    lines: list[str] = []
    start = date(year, 1, 2)
    family = None
    family_left = 0
    for n in range(persons):
        person = f"{prefix}{n:07d}"
        if family_left == 0:
            family_left = rng.choice((1, 1, 1, 2, 3, 4))
            family = f"{prefix}F{n:07d}" if family_left > 1 else None
        family_left -= 1
        minor = family is None and rng.random() < 0.03
        registered = start + timedelta(days=rng.randrange(0, 200))
        birth = date(registered.year - (rng.randrange(15, 17) if minor else rng.randrange(18, 70)), 6, 15)
        municipality = rng.choice(MUNICIPALITIES)
        selected = registered + timedelta(days=rng.randrange(10, 60))
        decided = selected + timedelta(days=rng.randrange(1, 20))
        settled = decided + timedelta(days=rng.randrange(5, 40))
        decision_year = year + 1 if rng.random() < 0.02 else year
        facts = [
            {
                "fact": "registered", "person": person, "date": registered.isoformat(),
                "full_name": f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}", "birth_date": birth.isoformat(),
                "category": rng.choice(("resettlement", "asylum", "collective_protection")),
                "residence": {"kind": "reception_centre", "centre_id": f"M{rng.randrange(1, 40):03d}"},
                "postal_address": {"street": f"Mottaksveien {rng.randrange(1, 99)}", "postal_code": "0150",
                                   "city": "Oslo"},
                **({"family": family} if family else {}), **({"unaccompanied_minor": True} if minor else {}),
            },
            {"fact": "mapped", "person": person, "date": registered.isoformat(),
             "mapping": {"education": "grunnskole", "languages": ["arabisk", "engelsk"], "health_needs": ""}},
            {"fact": "selected", "person": person, "date": selected.isoformat(), "municipality": municipality},
            {"fact": "decided", "person": person, "date": decided.isoformat(), "municipality": municipality,
             "year": decision_year},
            {"fact": "settled", "person": person, "date": settled.isoformat()},
        ]  # fmt: skip
        lines += [json.dumps(f, ensure_ascii=False) for f in facts]
    return HistoryFile(("\n".join(lines) + "\n").encode(), persons, len(lines))
