"""Reports as files for municipal caseworkers: CSV and XLSX with Norwegian column headings and values.

Codes become words (``asylum`` is ``Asyl``, ``True`` is ``ja``); dates are ``30.11.2026`` in a CSV file and
date cells shown that way in an XLSX file; moments are Norwegian time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from litestar import Request, Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from api.http.errors import NotAcceptable
from api.web.i18n import OSLO

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_FORMATS = (CSV, XLSX)  # a report route's opt["formats"]: the OpenAPI document lists them
JSON = "application/json"

Columns = Sequence[tuple[str, str]]  # (key in the JSON row, Norwegian heading)

# A column's codes in words (a code not listed is written as it is).
VALUES: dict[str, dict[str, str]] = {
    "category": {
        "asylum": "Asyl",
        "resettlement": "Overføringsflyktning",
        "family_reunification": "Familiegjenforening",
        "collective_protection": "Kollektiv beskyttelse",
    },
    "date_source": {"municipality": "Kommunen", "reception": "Mottakssystemet", "history": "Historikkimport"},
}


def wanted_format(request: Request) -> str:
    """JSON, CSV or XLSX by the Accept header (JSON when the client accepts anything)."""
    best = request.accept.best_match([JSON, CSV, XLSX], default=None)
    if best is None:
        raise NotAcceptable(f"Reports come as {JSON}, {CSV} or {XLSX}.")
    return best


def _cell(value: Any, key: str = "", media_type: str = CSV) -> Any:
    if isinstance(value, datetime):
        local = value.astimezone(OSLO) if value.tzinfo else value
        if media_type == XLSX:
            return local.replace(tzinfo=None)
        return local.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value if media_type == XLSX else value.strftime("%d.%m.%Y")
    if isinstance(value, bool):
        return "ja" if value else "nei"
    if isinstance(value, str) and key in VALUES:
        return VALUES[key].get(value, value)
    return "" if value is None else value


def _guarded(value: Any) -> Any:
    # A text cell starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _xlsx_safe(value: Any) -> Any:
    """A cell value openpyxl can write: control characters other than tab and line breaks become U+FFFD."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value


def as_file(
    rows: Iterable[Mapping[str, Any]], columns: Columns, media_type: str, filename: str
) -> Response[Any]:
    """The rows as a CSV (semicolon-separated, UTF-8 with BOM, as Norwegian Excel expects) or XLSX file."""
    table = [[_guarded(_cell(row.get(key), key, media_type)) for key, _ in columns] for row in rows]
    headings = [heading for _, heading in columns]
    if media_type == CSV:
        text = io.StringIO()
        writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
        writer.writerow(headings)
        writer.writerows(table)
        content = ("\ufeff" + text.getvalue()).encode("utf-8")
        extension = "csv"
    else:
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(headings)
        for line in table:
            # Control characters (stored before the edge refused them) cannot be written to XLSX.
            sheet.append([_xlsx_safe(value) for value in line])
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, datetime):
                    cell.number_format = "DD.MM.YYYY HH:MM"
                elif isinstance(cell.value, date):
                    cell.number_format = "DD.MM.YYYY"
        buffer = io.BytesIO()
        workbook.save(buffer)
        content = buffer.getvalue()
        extension = "xlsx"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}.{extension}"'},
    )
