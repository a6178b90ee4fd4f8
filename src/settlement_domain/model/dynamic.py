"""For the type checker only: the event classes that ``@event("Name")`` makes on an aggregate at run time.

An aggregate declares them under ``if TYPE_CHECKING:`` as subclasses of :class:`DynamicEvent`, so that
``Refugee.RefugeeRegistered`` is a class to mypy as it is at run time. Their fields are the decorated
method's parameters, which the library reads at run time; to the type checker they are ``Any``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventsourcing.domain import Aggregate

    class DynamicEvent(Aggregate.Event):
        """An event class made by ``@event("Name")``; its fields are those of the decorated method."""

        def __getattr__(self, name: str) -> Any: ...
