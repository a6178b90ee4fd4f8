"""Pydantic shapes shared by several controllers: the base model, safe text, addresses and write answers."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from litestar.exceptions import ValidationException
from litestar.params import QueryParameter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

T = TypeVar("T")
MAX_COUNT = 1_000_000  # far above any real quota; keeps numbers within the read models' integer columns


def _storable(value: str) -> str:
    # NUL and lone surrogates cannot be stored as PostgreSQL text or encoded as UTF-8.
    if any(ch == "\x00" or unicodedata.category(ch) == "Cs" for ch in value):
        raise ValueError("contains a character that cannot be stored (NUL or a lone surrogate)")
    return value


Text = Annotated[str, Field(max_length=10_000), AfterValidator(_storable)]
ShortText = Annotated[str, Field(max_length=300), AfterValidator(_storable)]
Id = Annotated[str, Field(max_length=100, description="A UUID string the API returned"), AfterValidator(_storable)]
Count = Annotated[int, Field(le=MAX_COUNT)]
Year = Annotated[int, Field(ge=-MAX_COUNT, le=MAX_COUNT, description="Calendar year, like 2025")]
MIN_YEAR, MAX_YEAR = 1900, 9998


def instant(value: datetime | None, parameter: str) -> datetime | None:
    """A query parameter's instant, in UTC when it names no offset; 422 naming it outside the years.

    Near year 1 or 9999 the shift to UTC (or a microsecond added to an exclusive bound) overflows,
    so every instant a caller passes is checked here, at the edge, before anything is read or recorded.
    """
    if value is None:
        return None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationException(
            f"{parameter} must be between the years {MIN_YEAR} and {MAX_YEAR}.",
            extra=[{"key": parameter, "message": f"must be between the years {MIN_YEAR} and {MAX_YEAR}"}],
        )
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


MunicipalityNumber = Annotated[
    str, Field(max_length=20, description="4-digit kommunenummer, like 0301"), AfterValidator(_storable)
]


class Model(BaseModel):
    """Base of every request and response shape: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def from_view(cls, row: Mapping[str, Any]) -> Self:
        """The answer from a view's row: the contract's fields only, so a view may grow without leaking."""
        return cls.model_validate({name: row[name] for name in cls.model_fields if name in row})


class PostalAddress(Model):
    """A Norwegian postal address."""

    street: ShortText
    postal_code: Annotated[str, Field(max_length=20)]
    city: ShortText


class Written(Model):
    """The answer to every write: the resource's id and version, and the log position reached."""

    id: str
    version: int
    position: int = Field(description="Log position reached; pass it as ?min_position= to read your write")


class WrittenWithLetter(Written):
    """A write that issued a letter (R9)."""

    letter_id: str


Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Items per page (at most 500)")]
Cursor = Annotated[str | None, QueryParameter(max_length=500, description="next_cursor of the previous page")]


class Page(Model, Generic[T]):
    """One page of a list, newest or first items first; ``next_cursor`` fetches the next page."""

    items: list[T]
    next_cursor: str | None

    @classmethod
    def of(cls, found: Mapping[str, Any], item: type[Model]) -> Page[Any]:
        return cls(items=[item.from_view(row) for row in found["items"]], next_cursor=found["next_cursor"])
