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


def known_to(truth: dict[str, Any], viewer: str | None, figure: str) -> set[str]:
    """The cells the viewer knows unseen: its own municipality's, and any total of nothing else."""

    def name(cell: Cell) -> str:
        return cell.get("municipality") or cell.get("county") or "total"

    known = {r["municipality"] for r in truth["municipalities"] if r["municipality"] == viewer}
    grew = True
    while grew:
        grew = False
        for whole, parts in report_sums(truth):
            if name(whole) not in known and all(name(p) in known or p[figure] is None for p in parts):
                known.add(name(whole))
                grew = True
    return known


# Reasoning from the ranges: "<5" means 1 to 4, a ":" settled count 0 or at least 5, agreed >= 0.
SETTLED_BOUND = 20  # a ":" municipality's settled count is tried from 0 and 5 to this (truths <= 12)
AGREED_BOUND = 16  # agreed persons (never shown) are tried from 0 to this (truths <= 2)
OFFSET = SETTLED_BOUND + AGREED_BOUND + 1  # added to each municipality's vacant, so codes stay >= 0
WIDTH = 1 << 10  # a code is settled * WIDTH + vacant + OFFSET per municipality summed


def _bits(mask: int) -> list[int]:
    found = []
    while mask:
        low = mask & -mask
        found.append(low.bit_length() - 1)
        mask ^= low
    return found


def _sumset(a: int, b: int) -> int:
    """Every code of a cell of ``a`` plus a cell of ``b`` (codes as bits of an int)."""
    if a.bit_count() > b.bit_count():
        a, b = b, a
    out = 0
    for bit in _bits(a):
        out |= b << bit
    return out


def _fits(value: int | None, seen: Any, figure: str) -> bool:
    """Whether ``value`` may be the true figure of a cell the viewer sees as ``seen``."""
    if seen == "<5":
        return value is not None and 1 <= value <= 4
    if seen == ":":
        return figure == "vacant" or (value is not None and (value == 0 or value >= 5))
    return True  # shown or known: checked by the caller


def determined_from_ranges(truth: dict[str, Any], shown: dict[str, Any], viewer: str | None) -> list[str]:
    """The hidden cells of ``shown`` that the viewer can pin to one value by brute force over what every
    hidden cell may be (settled "<5": 1..4, ":": 0 or 5..; vacant: decided - settled - agreed with
    agreed >= 0), every sum of the report, and its own municipality's figures."""
    own = {r["municipality"] for r in truth["municipalities"] if r["municipality"] == viewer}
    counties: dict[str, list[int]] = {}
    options: list[int] = []
    for k, (true, seen) in enumerate(zip(truth["municipalities"], shown["municipalities"], strict=True)):
        counties.setdefault(true["county"], []).append(k)
        mask = 0
        if true["municipality"] in own:
            settled_values = [true["settled"]]
        elif seen["settled"] == "<5":
            settled_values = [1, 2, 3, 4]
        elif seen["settled"] == ":":
            settled_values = [0, *range(5, SETTLED_BOUND + 1)]
        else:
            settled_values = [seen["settled"]]
        for s in settled_values:
            decided = true["decided"]
            if decided is None:
                vacants = [0]  # vacant is null: adds nothing to the sums
            elif true["municipality"] in own or seen["vacant"] not in HIDDEN:
                vacants = [true["vacant"]] if decided - s - true["vacant"] >= 0 else []
            else:
                vacants = [decided - s - agreed for agreed in range(AGREED_BOUND + 1)]
            for v in vacants:
                mask |= 1 << (s * WIDTH + v + OFFSET)
        options.append(mask)

    def allowed(mask: int, true: Cell, seen: Cell, members: int) -> int:
        kept = 0
        for code in _bits(mask):
            s, v = divmod(code, WIDTH)
            v -= members * OFFSET
            vacant = None if true["vacant"] is None else v
            if (
                _fits(s, seen["settled"], "settled")
                and (seen["settled"] in HIDDEN or s == true["settled"])
                and (seen["vacant"] in HIDDEN or vacant == true["vacant"])
            ):
                kept |= 1 << code
        return kept

    names = sorted(counties)
    by_county = {c["county"]: (c, s) for c, s in zip(truth["counties"], shown["counties"], strict=True)}
    inner: dict[str, list[int]] = {}  # per county, per member: the sums of the other members
    sums: dict[str, int] = {}
    for name in names:
        members = counties[name]
        inner[name] = []
        for k in members:
            rest = 1
            for j in members:
                if j != k:
                    rest = _sumset(rest, options[j])
            inner[name].append(rest)
        whole = _sumset(inner[name][0], options[members[0]])
        sums[name] = allowed(whole, *by_county[name], len(members))
    count = len(truth["municipalities"])
    nation = 1 << 0
    for name in names:
        nation = _sumset(nation, sums[name])
    nation = allowed(nation, truth["total"], shown["total"], count)
    # What each cell may be, given every other cell may be anything consistent with it.
    values: dict[tuple[str, str], set[Any]] = {}

    def record(key: str, code: int, members: int, true: Cell) -> None:
        s, v = divmod(code, WIDTH)
        values.setdefault(("settled", key), set()).add(s)
        values.setdefault(("vacant", key), set()).add(
            None if true["vacant"] is None else v - members * OFFSET
        )

    for code in _bits(nation):
        record("total", code, count, truth["total"])
    for name in names:
        others = 1 << 0
        for other in names:
            if other != name:
                others = _sumset(others, sums[other])
        possible = 0
        for code in _bits(sums[name]):
            if (others << code) & nation:
                possible |= 1 << code
                record(name, code, len(counties[name]), by_county[name][0])
        for k, rest in zip(counties[name], inner[name], strict=True):
            for code in _bits(options[k]):
                if (rest << code) & possible:
                    true = truth["municipalities"][k]
                    record(true["municipality"], code, 1, true)
    known = {(figure, key) for figure in PROTECTED for key in known_to(truth, viewer, figure)}
    pinned = []
    for true, seen, key in [
        *(
            (t, s, t["municipality"])
            for t, s in zip(truth["municipalities"], shown["municipalities"], strict=True)
        ),
        *((t, s, t["county"]) for t, s in zip(truth["counties"], shown["counties"], strict=True)),
        (truth["total"], shown["total"], "total"),
    ]:
        for figure in PROTECTED:
            assert true[figure] in values[(figure, key)], (figure, key, values[(figure, key)])
            if seen[figure] in HIDDEN and (figure, key) not in known and len(values[(figure, key)]) < 2:
                pinned.append(f"{figure} {key}")
    return pinned


def test_two_small_counts_of_a_county_of_eight_cannot_be_worked_out_to_be_four_each():
    # "<5" + "<5" = 8 leaves only 4 + 4: the county's 8 is hidden too (then, by subtraction, more).
    truth = report_of({
        "Agder": [("4201", 4, None, 0), ("4202", 4, None, 0)],
        "Buskerud": [("3301", 10, None, 0), ("3302", 7, None, 0)],
    })  # fmt: skip
    for viewer in (None, "4201", "3301"):
        shown = seen_by(truth, viewer)
        assert_protected(truth, shown, viewer)
        assert determined_from_ranges(truth, shown, viewer) == []
    shown = seen_by(truth, None)
    settled = {r["municipality"]: r["settled"] for r in shown["municipalities"]}
    assert (settled["4201"], settled["4202"]) == ("<5", "<5")
    assert {c["county"]: c["settled"] for c in shown["counties"]}["Agder"] == ":"


def test_two_small_counts_beside_a_nine_in_a_county_of_eleven_cannot_be_worked_out_to_be_one_each():
    # "<5" + "<5" + 9 = 11 leaves only 1 + 1: the 9 is hidden too.
    truth = report_of({
        "Agder": [("4201", 1, None, 0), ("4202", 1, None, 0), ("4203", 9, None, 0)],
        "Buskerud": [("3301", 10, None, 0), ("3302", 7, None, 0)],
    })  # fmt: skip
    for viewer in (None, "4201", "4203", "3301"):
        shown = seen_by(truth, viewer)
        assert_protected(truth, shown, viewer)
        assert determined_from_ranges(truth, shown, viewer) == []
    shown = seen_by(truth, None)
    settled = {r["municipality"]: r["settled"] for r in shown["municipalities"]}
    assert (settled["4201"], settled["4202"], settled["4203"]) == ("<5", "<5", ":")
    assert {c["county"]: c["settled"] for c in shown["counties"]}["Agder"] == 11


def test_a_county_of_one_small_municipality_and_a_small_county_cannot_add_up_to_a_nation_of_eight():
    # Oslo (a county of one) "<5" and Vestland "<5" in a nation of 8: both would be 4. The nation's
    # total is hidden (no shown part is left to hide).
    truth = report_of(
        {"Oslo": [("0301", 4, None, 0)], "Vestland": [("4601", 2, None, 0), ("4627", 2, None, 0)]}
    )
    for viewer in (None, "0301", "4601"):
        shown = seen_by(truth, viewer)
        assert_protected(truth, shown, viewer)
        assert determined_from_ranges(truth, shown, viewer) == []
    assert seen_by(truth, None)["total"]["settled"] == ":"


def unavoidable(truth: dict[str, Any], viewer: str | None) -> set[str]:
    """The cells pinned down even with every cell hidden: "<5" itself says 1 to 4, and with the
    viewer's own figure a "<5" total can leave one value for the other "<5" (own 3, county "<5": the
    other is 1). R13 shows counts below 5 as "<5", so no hiding helps there."""
    everything = copy.deepcopy(truth)
    for cell in cells(everything):
        for figure in PROTECTED:
            if cell[figure] is not None:
                cell[figure] = suppress_small(cell[figure], True) if figure == "settled" else ":"
                cell[figure] = cell[figure] if cell[figure] == "<5" else ":"
    return set(determined_from_ranges(truth, everything, viewer))


def test_a_small_count_beside_the_viewers_own_in_a_small_total_is_pinned_whatever_is_hidden():
    # The viewer's own 3 and a "<5" county leave 1 for its neighbour's "<5": every cell is hidden
    # already, and R13 wants the county's 4 shown as "<5". The one leak R13's marks leave open.
    truth = report_of({"Agder": [("4201", 3, None, 0), ("4202", 1, None, 0)]})
    shown = seen_by(truth, "4201")
    assert [r["settled"] for r in shown["municipalities"]] == ["<5", "<5"]
    assert set(determined_from_ranges(truth, shown, "4201")) == unavoidable(truth, "4201") != set()
    assert determined_from_ranges(truth, seen_by(truth, None), None) == []
