"""docs/events.md lists every event the domain can append, with every field, so the catalogue cannot drift."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from eventsourcing.domain import Aggregate

import settlement_domain

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "events.md"
LIBRARY_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta"}


def domain_events() -> dict[str, list[str]]:
    events: dict[str, list[str]] = {}
    for module_info in pkgutil.iter_modules(settlement_domain.__path__):
        module = importlib.import_module(f"settlement_domain.{module_info.name}")
        for aggregate in vars(module).values():
            if not (inspect.isclass(aggregate) and issubclass(aggregate, Aggregate)
                    and aggregate.__module__ == module.__name__):
                continue
            for name, cls in vars(aggregate).items():
                if inspect.isclass(cls) and issubclass(cls, Aggregate.Event) and name not in ("Event", "Created"):
                    events[name] = [f.name for f in dataclasses.fields(cls) if f.name not in LIBRARY_FIELDS]
    return events


def test_every_event_and_field_is_in_the_catalogue():
    text = CATALOGUE.read_text()
    events = domain_events()
    assert len(events) >= 25
    for name, fields in events.items():
        row = re.search(rf"^\| `{name}` \|(.*)$", text, re.MULTILINE)
        assert row, f"{name} is missing from docs/events.md"
        for field in fields:
            assert f"`{field}`" in row.group(1), f"{name}.{field} is missing from docs/events.md"
