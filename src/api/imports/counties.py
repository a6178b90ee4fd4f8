"""Norway's county numbers (fylkesnummer) and their names, before and after the 2020 and 2024 reforms.

The first two digits of a municipality number are its county's; a number names one county in every
era, so one table serves files of any year.
"""

from __future__ import annotations

COUNTY_NAMES = {
    "01": "Østfold", "02": "Akershus", "03": "Oslo", "04": "Hedmark", "05": "Oppland", "06": "Buskerud",
    "07": "Vestfold", "08": "Telemark", "09": "Aust-Agder", "10": "Vest-Agder", "11": "Rogaland",
    "12": "Hordaland", "14": "Sogn og Fjordane", "15": "Møre og Romsdal", "16": "Sør-Trøndelag",
    "17": "Nord-Trøndelag", "18": "Nordland", "19": "Troms", "20": "Finnmark", "30": "Viken",
    "31": "Østfold", "32": "Akershus", "33": "Buskerud", "34": "Innlandet", "38": "Vestfold og Telemark",
    "39": "Vestfold", "40": "Telemark", "42": "Agder", "46": "Vestland", "50": "Trøndelag",
    "54": "Troms og Finnmark", "55": "Troms", "56": "Finnmark",
}  # fmt: skip


def county_of(municipality_number: str) -> str:
    """The county's name for a municipality number (``fylke NN`` for a number no county has had)."""
    prefix = municipality_number[:2]
    return COUNTY_NAMES.get(prefix, f"fylke {prefix}")
