"""Pydantic shapes shared by several controllers: the base model, strict scalar types, safe text,
addresses and write answers.

The edge is strict: a count is a JSON integer (not ``"5"``, ``true`` or ``1.0``), a flag is a JSON
boolean, a date is a ``YYYY-MM-DD`` string (not a Unix timestamp), an id is a UUID string, and text
holds no control characters (multi-line text keeps line breaks and tabs).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, Literal, Self, TypeVar
from uuid import UUID

from litestar.exceptions import ValidationException
from litestar.params import Parameter, QueryParameter
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from settlement_domain import values
from settlement_domain.errors import NotFound
from settlement_domain.rules import EARLIEST_YEAR, LAST_YEAR, refuse_input

T = TypeVar("T")
MAX_COUNT = 1_000_000  # far above any real quota; keeps numbers within the read models' integer columns


LINE_BREAKS = frozenset("\n\r\t")


def _storable(value: str, *, multiline: bool) -> str:
    # NUL and lone surrogates cannot be stored as PostgreSQL text or encoded as UTF-8; other control
    # characters break CSV and spreadsheet readers and are never meant: refuse them all, except the
    # line breaks and tabs of multi-line text.
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cs" or (category == "Cc" and not (multiline and ch in LINE_BREAKS)):
            raise ValueError(f"contains a control character (U+{ord(ch):04X}), which is not allowed here")
    return value


def _one_line(value: str) -> str:
    return _storable(value, multiline=False)


def _multiline(value: str) -> str:
    return _storable(value, multiline=True)


ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


Text = Annotated[str, Field(max_length=10_000), AfterValidator(_multiline)]
ShortText = Annotated[str, Field(max_length=300), AfterValidator(_one_line)]
Id = Annotated[
    str, Field(max_length=100, description="A UUID string the API returned"), AfterValidator(_one_line)
]
IsoDate = Annotated[date, BeforeValidator(_iso_date), Field(description="A date, YYYY-MM-DD")]


def _json_integer(value: Any) -> Any:
    # Strict by hand: litestar validates bodies with strict=False, which overrides pydantic's Strict types.
    if type(value) is not int:
        raise ValueError("must be a JSON integer (not a string, a boolean or a decimal)")
    return value


def _json_boolean(value: Any) -> Any:
    if type(value) is not bool:
        raise ValueError("must be true or false")
    return value


Flag = Annotated[bool, BeforeValidator(_json_boolean)]
Count = Annotated[int, BeforeValidator(_json_integer), Field(le=MAX_COUNT)]
Year = Annotated[
    int,
    BeforeValidator(_json_integer),
    Field(ge=-MAX_COUNT, le=MAX_COUNT, description="Calendar year, like 2025"),
]
MIN_YEAR, MAX_YEAR = EARLIEST_YEAR, LAST_YEAR


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
    str, Field(max_length=20, description="4-digit kommunenummer, like 0301"), AfterValidator(_one_line)
]
# A municipality number in a path: malformed ones are invalid input (422), unknown ones 404.
NumberInPath = Annotated[
    str, Parameter(pattern=r"^[0-9]{4}$", description="4-digit kommunenummer, like 0301")
]


def body_ids(values: list[str], rule: str, field: str) -> tuple[UUID, ...]:
    """Person ids from a body: one that is no UUID is refused by the rule the command falls under."""
    parsed = []
    for value in values:
        try:
            parsed.append(UUID(value))
        except ValueError:
            raise refuse_input(rule, "%(value)s is not a person id.", field, {"value": repr(value)}) from None
    return tuple(parsed)


def path_id(value: str, kind: str) -> UUID:
    """An id from a path: one that is no UUID names nothing there is (404, like an unknown one)."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(kind, value) from None


class Model(BaseModel):
    """Base of every request and response shape: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        """The answer from a read model's row: the contract's fields only, so a read model may grow without leaking."""
        return cls.model_validate({name: row[name] for name in cls.model_fields if name in row})


class PostalAddress(Model):
    """A Norwegian postal address."""

    street: ShortText
    postal_code: Annotated[str, Field(max_length=20), AfterValidator(_one_line)]
    city: ShortText

    def parsed(self, rule: str = "registration") -> values.PostalAddress:
        """The domain's value (which checks the postal code), refused under ``rule``."""
        return values.PostalAddress(self.street, self.postal_code, self.city, rule=rule)


class Written(Model):
    """The answer to every write: the resource's id and version, and the log position reached."""

    id: str
    version: int
    position: int = Field(description="Log position reached; pass it as ?min_position= to read your write")


class WrittenWithLetter(Written):
    """A write that issued a letter (R9)."""

    letter_id: str


Clock = Literal["recorded", "business"]
By = Annotated[
    Clock,
    QueryParameter(
        description="with as_of: the moment by recorded time (when the service recorded each fact, the default)"
        " or by business time (the facts' own dates: decided on, selected on, the settlement date)"
    ),
]
AsOf = Annotated[
    datetime | None,
    QueryParameter(description="Replay from the event log as it stood at this moment (ISO 8601; R14)"),
]

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Items per page (at most 500)")]
Cursor = Annotated[str | None, QueryParameter(max_length=500, description="next_cursor of the previous page")]


class Page(Model, Generic[T]):
    """One page of a list, newest or first items first; ``next_cursor`` fetches the next page."""

    items: list[T]
    next_cursor: str | None

    @classmethod
    def of(cls, found: Mapping[str, Any], item: type[Model]) -> Page[Any]:
        return cls(items=[item.from_row(row) for row in found["items"]], next_cursor=found["next_cursor"])


class Withdrawal(Model):
    """Why a list or a capacity report is withdrawn."""

    reason: Text
