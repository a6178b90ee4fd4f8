"""docs/events.md lists every event the domain can append, with its exact fields, so the catalogue cannot drift."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from eventsourcing.domain import Aggregate
from eventsourcing.utils import resolve_topic

import settlement_domain
from settlement_domain.model import (
    MOVED_TOPICS,
    DataCompleteness,
    DistributionList,
    Export,
    Family,
    FamilyKey,
    FolderRead,
    IdempotencyRecord,
    Import,
    Letter,
    ListingRead,
    MinorCapacity,
    Municipality,
    QuotaYear,
    Refugee,
    SupportCase,
)

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "events.md"
LIBRARY_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta"}
AGGREGATES = (
    Municipality,
    QuotaYear,
    Refugee,
    Family,
    FamilyKey,
    FolderRead,
    ListingRead,
    DistributionList,
    MinorCapacity,
    SupportCase,
    Letter,
    IdempotencyRecord,
    Import,
    DataCompleteness,
    Export,
)
EVENT_ROW = re.compile(r"^\| `([A-Z]\w*)` \|([^|]*)\|", re.MULTILINE)
SECTION = re.compile(r"^## (.*)$", re.MULTILINE)


def aggregates_in_domain() -> set[type[Aggregate]]:
    """Every aggregate class defined anywhere in ``settlement_domain`` (subpackages included)."""
    found: set[type[Aggregate]] = set()
    for module_info in pkgutil.walk_packages(settlement_domain.__path__, "settlement_domain."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, Aggregate)
                and value.__module__ == module.__name__
            ):
                found.add(value)
    return found


def events_of(aggregate: type[Aggregate]) -> dict[str, type[Aggregate.Event]]:
    return {
        name: cls
        for name, cls in vars(aggregate).items()
        if inspect.isclass(cls) and issubclass(cls, Aggregate.Event) and name not in ("Event", "Created")
    }


def own_fields(event: type[Aggregate.Event]) -> list[str]:
    return [f.name for f in dataclasses.fields(event) if f.name not in LIBRARY_FIELDS]


def documented() -> dict[str, tuple[str, list[str], str]]:
    """Event name -> (the heading of its section, its documented fields in order, its whole row)."""
    text = CATALOGUE.read_text()
    headings = [(m.start(), m.group(1)) for m in SECTION.finditer(text)]
    rows: dict[str, tuple[str, list[str], str]] = {}
    for row in EVENT_ROW.finditer(text):
        name = row.group(1)
        assert name not in rows, f"{name} is listed twice in docs/events.md"
        heading = next((h for start, h in reversed(headings) if start < row.start()), "")
        line = text[row.start() : text.index("\n", row.start())]
        rows[name] = (heading, re.findall(r"`(\w+)`", row.group(2)), line)
    return rows


def test_the_aggregates_named_here_are_all_the_domain_has():
    assert aggregates_in_domain() == set(AGGREGATES)


def test_every_event_is_in_its_aggregates_section_with_exactly_its_fields():
    rows = documented()
    count = 0
    for aggregate in AGGREGATES:
        for name, event in events_of(aggregate).items():
            count += 1
            assert name in rows, f"{name} is missing from docs/events.md"
            heading, fields, _ = rows[name]
            assert f"`{aggregate.__name__}`" in heading and f"`{aggregate.__module__}`" in heading, (
                f"{name} is not under the section of {aggregate.__module__}.{aggregate.__name__}"
            )
            assert fields == own_fields(event), (
                f"docs/events.md lists {fields} for {name}, the event has {own_fields(event)}"
            )
    assert count >= 30


def test_the_catalogue_lists_no_event_the_domain_lacks():
    known = {name for aggregate in AGGREGATES for name in events_of(aggregate)}
    assert set(documented()) - known == set()


def test_a_versioned_event_states_its_version():
    rows = documented()
    for aggregate in AGGREGATES:
        for name, event in events_of(aggregate).items():
            version = getattr(event, "class_version", 1)
            if version > 1:
                assert f"Version {version}" in rows[name][2], (
                    f"{name} is version {version}; say so in docs/events.md"
                )


def test_every_old_topic_is_listed_and_resolves_to_the_class_named():
    text = CATALOGUE.read_text()
    for topic, cls in MOVED_TOPICS.items():
        row = re.search(rf"^\| `{re.escape(topic)}` \|(.*)$", text, re.MULTILINE)
        assert row, f"old topic {topic} is missing from docs/events.md"
        assert f"`{cls.__name__}` (`{cls.__module__}`)" in row.group(1)
        assert resolve_topic(topic) is cls
        for name, event in events_of(cls).items():
            assert resolve_topic(f"{topic}.{name}") is event
