"""The read models this service keeps, and installing their tables in a database."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine

from projections import (
    audit_trail,
    completeness,
    distribution_lists,
    imports,
    letters,
    minor_capacity,
    municipalities,
    person_folders,
    person_search,
    places,
    reports,
    support_cases,
)
from projections.engine import generations
from projections.engine.projection import Projection

PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (
        municipalities.PROJECTION,
        places.PROJECTION,
        distribution_lists.PROJECTION,
        person_folders.PROJECTION,
        person_search.PROJECTION,
        minor_capacity.PROJECTION,
        support_cases.PROJECTION,
        letters.PROJECTION,
        audit_trail.PROJECTION,
        reports.PROJECTION,
        completeness.PROJECTION,
        imports.PROJECTION,
    )
}


# Read models no longer kept, with their tables: installing removes them.
RETIRED = {"open_lists": ("lists", "list_persons", "persons")}  # now distribution_lists


def select_projections(names: Iterable[str] | None) -> list[Projection]:
    """The named projections (all when ``names`` is empty), refusing unknown names."""
    names = list(names or [])
    unknown = [n for n in names if n not in PROJECTIONS]
    if unknown:
        raise ValueError(f"Unknown projections: {', '.join(unknown)}; known: {', '.join(PROJECTIONS)}.")
    return [PROJECTIONS[n] for n in names] if names else list(PROJECTIONS.values())


def install(engine: Engine, projections: Iterable[Projection] | None = None) -> None:
    """Installs ``projections`` (every read model by default): the state table and first generations;
    read models no longer kept are removed."""
    for name, tables in RETIRED.items():
        generations.retire(engine, name, tables)
    generations.install(engine, PROJECTIONS.values() if projections is None else projections)
