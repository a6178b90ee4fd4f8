"""R13: counts below 5 show as "<5" to anyone but imdi and auditor, and no hidden count can be worked
out from what the same viewer sees, its own municipality's figures included."""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.reports import PROTECTED, breakdown, protect, report_sums, suppress_small

HIDDEN = ("<5", ":")
Cell = dict[str, Any]


def report_of(counties: dict[str, list[tuple[str, int, int | None, int]]]) -> dict[str, Any]:
    """A national report of 2025 from (municipality, settled, decided, agreed) per county."""
    registry, quotas = [], []
    for county, members in counties.items():
        for number, settled, decided, agreed in members:
            registry.append({"number": number, "name": f"Kommune {number}", "county": county})
            quotas.append({"municipality": number, "requested_persons": decided, "decided_persons": decided,
                           "settled_persons": settled, "agreed_persons": agreed})  # fmt: skip
    return breakdown(2025, sorted(registry, key=lambda m: m["number"]), quotas)


def seen_by(truth: dict[str, Any], viewer: str | None) -> dict[str, Any]:
    shown = copy.deepcopy(truth)
    protect(shown, viewer=viewer)
    return shown


def cells(report: dict[str, Any]) -> list[Cell]:
    return [*report["municipalities"], *report["counties"], report["total"]]


def rank(rows: list[list[Fraction]]) -> int:
    """The rank of a matrix over the rationals (Gaussian elimination)."""
    matrix = [row[:] for row in rows if any(row)]
    found = 0
    columns = len(matrix[0]) if matrix else 0
    for column in range(columns):
        pivot = next((r for r in range(found, len(matrix)) if matrix[r][column] != 0), None)
        if pivot is None:
            continue
        matrix[found], matrix[pivot] = matrix[pivot], matrix[found]
        for r in range(len(matrix)):
            if r != found and matrix[r][column] != 0:
                factor = matrix[r][column] / matrix[found][column]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[found], strict=True)]
        found += 1
    return found


def worked_out(truth: dict[str, Any], shown: dict[str, Any], viewer: str | None) -> list[tuple[str, str]]:
    """The hidden cells the viewer can work out from every sum in the report, the shown cells and
    its own municipality's figures: each unknown cell that the system of sums determines."""
    index = {id(cell): i for i, cell in enumerate(cells(truth))}
    shown_cells = cells(shown)
    sums = [(index[id(w)], [index[id(p)] for p in ps]) for w, ps in report_sums(truth)]
    truth_cells = cells(truth)
    leaks = []
    for figure in PROTECTED:
        known = {index[id(r)] for r in truth["municipalities"] if r["municipality"] == viewer}
        grew = True
        while grew:  # a total of nothing but the viewer's own figures is its own figure
            grew = False
            for whole, parts in sums:
                if whole not in known and all(p in known or truth_cells[p][figure] is None for p in parts):
                    known.add(whole)
                    grew = True
        unknown = [i for i, c in enumerate(shown_cells) if c[figure] in HIDDEN and i not in known]
        position = {cell: k for k, cell in enumerate(unknown)}
        equations = []
        for whole, parts in sums:
            if truth_cells[whole][figure] is None:
                continue
            row = [Fraction(0)] * len(unknown)
            if whole in position:
                row[position[whole]] += 1
            for p in parts:
                if p in position:
                    row[position[p]] -= 1
            equations.append(row)
        base = rank(equations)
        for cell, k in position.items():
            unit = [Fraction(int(j == k)) for j in range(len(unknown))]
            if rank([*equations, unit]) == base:
                name = truth_cells[cell].get("municipality") or truth_cells[cell].get("county") or "total"
                leaks.append((figure, name))
    return leaks


def assert_protected(truth: dict[str, Any], shown: dict[str, Any], viewer: str | None) -> None:
    for true, seen in zip(cells(truth), cells(shown), strict=True):
        for figure in ("requested", "decided", "settled", "vacant"):
            assert seen[figure] in HIDDEN or seen[figure] == true[figure], (figure, true, seen)
        if suppress_small(true["settled"], True) == "<5":
            assert seen["settled"] == "<5", seen
        if seen["settled"] in HIDDEN:
            assert seen["vacant"] in (*HIDDEN, None), seen  # vacant = decided - settled - agreed
    assert worked_out(truth, shown, viewer) == []


def test_a_municipality_cannot_subtract_its_own_count_to_find_a_hidden_neighbour():
    # Vestland: Bergen's own 2 is "<5", Askøy's 6 hidden beside it. But Bergen knows its 2, so with
    # Vestland's 15 and Kinn's 7 shown it would work out Askøy's 6: Kinn is hidden too (R13).
    truth = report_of({
        "Oslo": [("0301", 10, 20, 0)],
        "Vestland": [("4601", 2, None, 0), ("4627", 6, None, 0), ("4602", 7, None, 0)],
    })  # fmt: skip
    for viewer in ("4601", None, "0301"):
        shown = seen_by(truth, viewer)
        assert_protected(truth, shown, viewer)
    shown = {r["municipality"]: r["settled"] for r in seen_by(truth, "4601")["municipalities"]}
    assert shown == {"0301": 10, "4601": "<5", "4627": ":", "4602": ":"}
    # Oslo, which knows none of Vestland's figures, needs no more than the one beside Bergen's.
    shown = {r["municipality"]: r["settled"] for r in seen_by(truth, "0301")["municipalities"]}
    assert shown == {"0301": 10, "4601": "<5", "4627": ":", "4602": 7}


def test_the_reviewers_example_vacant_next_to_a_small_settled_count_is_hidden():
    truth = report_of({
        "Oslo": [("0301", 3, 10, 0)],
        "Vestland": [("4601", 2, 5, 0), ("4627", 6, 8, 0), ("4602", 0, None, 0)],
    })  # fmt: skip
    shown = seen_by(truth, "4601")
    assert_protected(truth, shown, "4601")
    rows = {r["municipality"]: r for r in shown["municipalities"]}
    assert (rows["0301"]["decided"], rows["0301"]["settled"], rows["0301"]["vacant"]) == (10, "<5", ":")
    assert rows["4601"]["settled"] == "<5" and rows["4627"]["settled"] == ":"
    assert {c["county"]: c["settled"] for c in shown["counties"]} == {"Oslo": "<5", "Vestland": ":"}
    assert shown["total"]["settled"] == 11


def test_imdi_and_auditors_see_every_count_and_zero_is_shown():
    assert suppress_small(5, True) == 5 and suppress_small(0, True) == 0 and suppress_small(3, False) == 3
    assert suppress_small(4, True) == "<5" and suppress_small(None, True) is None


def test_a_county_of_the_viewer_alone_is_its_own_figure():
    truth = report_of({"Oslo": [("0301", 3, 10, 0)], "Vestland": [("4601", 6, 8, 0), ("4627", 9, 8, 0)]})
    shown = seen_by(truth, "0301")
    assert_protected(truth, shown, "0301")


municipality = st.tuples(
    st.one_of(st.integers(0, 4), st.integers(0, 15)),  # settled: small counts often
    st.one_of(st.none(), st.integers(0, 25)),  # decided
    st.integers(0, 3),  # agreed
)


@st.composite
def breakdowns(draw: st.DrawFn) -> tuple[dict[str, Any], str | None]:
    counties = draw(st.lists(st.lists(municipality, min_size=1, max_size=5), min_size=1, max_size=4))
    numbered = {
        f"Fylke {c}": [(f"{c}{m:03d}", *figures) for m, figures in enumerate(members)]
        for c, members in enumerate(counties)
    }
    numbers = [number for members in numbered.values() for number, *_ in members]
    viewer = draw(st.one_of(st.none(), st.sampled_from(numbers)))
    return report_of(numbered), viewer


@settings(max_examples=400, deadline=None)
@given(breakdowns())
def test_no_hidden_count_can_be_worked_out_by_any_viewer(case):
    truth, viewer = case
    shown = seen_by(truth, viewer)
    assert_protected(truth, shown, viewer)
    for whole, parts in report_sums(shown):  # R13's wording: every shown total has 0 or >= 2 unknown parts
        for figure in PROTECTED:
            if whole[figure] in HIDDEN or whole[figure] is None:
                continue
            unknown = [p for p in parts if p[figure] in HIDDEN and p.get("municipality") != viewer]
            assert len(unknown) != 1, (figure, whole, parts)
