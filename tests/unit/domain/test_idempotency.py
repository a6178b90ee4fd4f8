"""Idempotency keys: a retry (same command, same arguments) is answered from the first answer; the
fingerprint telling a retry from a reused key is the one the old per-method application made, so keys
recorded before commands existed still match their retries."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date
from uuid import UUID

import pytest

from settlement_domain import commands as c
from settlement_domain.errors import IdempotencyKeyReused, Refusal
from settlement_domain.model import IdempotencyRecord
from settlement_domain.values import Decline, Mapping, PostalAddress, Residence, ResidenceKind
from tests.given import (
    ADDRESS,
    IMDI,
    OSLO,
    TODAY,
    capacity_report,
    contact,
    events_named,
    refused,
    registration,
)

A = UUID("0b4a1c9e-3f1d-4c55-9a2e-6f0d8b7c1a23")
B = UUID("5d2e8f10-7a6b-4c3d-8e9f-0a1b2c3d4e5f")


def old_fingerprint(method_name: str, arguments: dict) -> str:
    """What the old ``@command`` wrapper stored: its method's name and bound keyword arguments."""
    payload = json.dumps([method_name, arguments], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


OLD_CALLS = [
    pytest.param(
        c.RequestSettlement("0301", 2025, 100, 5),
        "request_settlement",
        {"number": "0301", "year": 2025, "persons": 100, "unaccompanied_minors": 5, "reason": None},
        id="request_settlement",
    ),
    pytest.param(
        c.DecideQuota("0301", 2025, 90, 4, date(2025, 6, 1)),
        "decide_quota",
        {
            "number": "0301",
            "year": 2025,
            "persons": 90,
            "unaccompanied_minors": 4,
            "decided_on": date(2025, 6, 1),
        },
        id="decide_quota",
    ),
    pytest.param(
        c.CreateDistributionList("0301", (A, B), date(2025, 6, 30)),
        "create_distribution_list",
        {"municipality": "0301", "refugee_ids": [str(A), str(B)], "respond_by": date(2025, 6, 30)},
        id="create_distribution_list",
    ),
    pytest.param(
        c.ApproveDistributionList(B, (A,), (Decline(B, "No suitable housing"),)),
        "approve_distribution_list",
        {"list_id": str(B), "accepted": [str(A)], "declined": {str(B): "No suitable housing"}},
        id="approve_distribution_list",
    ),
    pytest.param(
        c.DecideSettlement(A, "0301"),
        "decide_settlement",
        {"refugee_id": A, "municipality": "0301", "year": None, "override_reason": None},
        id="decide_settlement",
    ),
    pytest.param(
        c.DecideSettlement(A, "0301", 2026, "Family nearby"),
        "decide_settlement",
        {"refugee_id": str(A), "municipality": "0301", "year": 2026, "override_reason": "Family nearby"},
        id="decide_settlement-year-and-override",
    ),
    pytest.param(
        c.RegisterRefugee(
            full_name="Amina Test",
            birth_date=date(1990, 5, 17),
            family_id=None,
            unaccompanied_minor=False,
            residence=Residence(ResidenceKind.RECEPTION_CENTRE, "mottak-hvalstad"),
            postal_address=PostalAddress(**ADDRESS),
            category="asylum",
        ),
        "register_refugee",
        {
            "full_name": "Amina Test",
            "birth_date": "1990-05-17",
            "family_id": None,
            "unaccompanied_minor": False,
            "residence": {"kind": "reception_centre", "centre_id": "mottak-hvalstad"},
            "postal_address": ADDRESS,
            "category": "asylum",
        },
        id="register_refugee",
    ),
    pytest.param(
        registration(private=True),
        "register_refugee",
        {
            "full_name": "Test Person",
            "birth_date": date(1990, 5, 17),
            "family_id": None,
            "unaccompanied_minor": False,
            "residence": {"kind": "private"},
            "postal_address": ADDRESS,
            "category": "asylum",
        },
        id="register_refugee-private",
    ),
    pytest.param(
        c.RecordMapping(A, Mapping("Upper secondary", "Carpenter", ("ar", "en"), "None", "")),
        "record_mapping",
        {
            "refugee_id": A,
            "education": "Upper secondary",
            "work_experience": "Carpenter",
            "languages": ["ar", "en"],
            "health_needs": "None",
            "notes": "",
        },
        id="record_mapping",
    ),
    pytest.param(
        c.UpdateContact("0301", contact()),
        "update_contact",
        {
            "number": "0301",
            "contact_person": "Kari Nordmann",
            "email": "kari@oslo.kommune.no",
            "phone": "+47 21 80 21 80",
            "postal_address": ADDRESS,
        },
        id="update_contact",
    ),
    pytest.param(
        c.RegisterSettlementDate(A, date(2025, 6, 2)),
        "register_settlement_date",
        {"refugee_id": A, "settlement_date": date(2025, 6, 2)},
        id="register_settlement_date",
    ),
    pytest.param(
        c.CorrectSettlementDate(A, date(2025, 6, 1), "Moved on the 1st"),
        "correct_settlement_date",
        {"refugee_id": A, "settlement_date": date(2025, 6, 1), "reason": "Moved on the 1st"},
        id="correct_settlement_date",
    ),
    pytest.param(
        c.OpenDeviation(A, "identity", "Two birth dates"),
        "open_deviation",
        {
            "refugee_id": A,
            "kind": "identity",
            "description": "Two birth dates",
            "registered_private_by_known_deviation": False,
        },
        id="open_deviation",
    ),
    pytest.param(
        c.ResolveDeviation(A, "d-1", "Confirmed"),
        "resolve_deviation",
        {"refugee_id": A, "deviation_id": "d-1", "note": "Confirmed"},
        id="resolve_deviation",
    ),
    pytest.param(
        capacity_report(),
        "report_minor_capacity",
        {
            "municipality": "0301",
            "places": 2,
            "expected_week": "2025-W30",
            "min_age": 15,
            "max_age": 17,
            "round_the_clock_staffing": True,
            "special_conditions": "Near upper secondary school",
        },
        id="report_minor_capacity",
    ),
    pytest.param(
        c.WithdrawDistributionList(A, "Wrong municipality"),
        "withdraw_distribution_list",
        {"list_id": A, "reason": "Wrong municipality"},
        id="withdraw_distribution_list",
    ),
    pytest.param(
        c.AnswerSupportCase(A, "Resent", close=False),
        "answer_support_case",
        {"case_id": A, "text": "Resent", "close": False},
        id="answer_support_case",
    ),
    pytest.param(
        c.FileSupportCase("Missing letter", "Never got it"),
        "file_support_case",
        {"subject": "Missing letter", "text": "Never got it"},
        id="file_support_case",
    ),
]


@pytest.mark.parametrize(("command", "method_name", "arguments"), OLD_CALLS)
def test_a_fingerprint_made_by_the_old_code_still_matches(command, method_name, arguments):
    assert command.fingerprint() == old_fingerprint(method_name, arguments)


def test_a_list_naming_its_year_is_another_request_than_one_without(given):
    without = c.CreateDistributionList("0301", (A,), date(2025, 6, 30))
    assert without.fingerprint() != replace(without, year=2025).fingerprint()
    assert replace(without, year=2025).fingerprint() == old_fingerprint(
        "create_distribution_list",
        {"municipality": "0301", "refugee_ids": [A], "respond_by": date(2025, 6, 30), "year": 2025},
    )


def test_a_retry_of_a_command_first_answered_by_the_old_code_is_replayed(given):
    """An idempotency record stored before the restructuring (old fingerprint) answers today's retry."""
    app = given
    keyed = replace(IMDI, idempotency_key="req-from-last-week")
    first = app.handle(IMDI, c.RequestSettlement("0301", 2025, 100, 5))
    app.save(
        IdempotencyRecord(
            meta=IMDI.meta(),
            scope=keyed.idempotency_scope,
            key="req-from-last-week",
            fingerprint=old_fingerprint(
                "request_settlement",
                {"number": "0301", "year": 2025, "persons": 100, "unaccompanied_minors": 5, "reason": None},
            ),
            result={"id": first.id, "version": first.version, **first.extra},
        )
    )
    position = app.position()
    again = app.handle(keyed, c.RequestSettlement("0301", 2025, 100, 5))
    assert again.replayed and (again.id, again.version, again.extra) == (first.id, first.version, first.extra)
    assert app.position() == position
    with pytest.raises(IdempotencyKeyReused):
        app.handle(keyed, c.RequestSettlement("0301", 2025, 101, 5, reason="More"))
    assert app.position() == position


def test_a_retry_appends_nothing_and_answers_as_the_first_time(given):
    app = given
    keyed = replace(OSLO, idempotency_key="quota-1")
    first = app.handle(keyed, c.DecideQuota("0301", 2025, 10, 1, TODAY))
    position = app.position()
    again = app.handle(keyed, c.DecideQuota("0301", 2025, 10, 1, TODAY))
    assert (again.replayed, again.id, again.version) == (True, first.id, first.version)
    assert app.position() == position
    assert len(events_named(app, "QuotaDecided")) == 1
    assert len(events_named(app, "IdempotencyKeyRecorded")) == 1


def test_a_refused_command_records_no_key(given):
    app = given
    keyed = replace(OSLO, idempotency_key="quota-2")
    with refused(app, "R2", Refusal.INPUT):  # minors outnumber persons
        app.handle(keyed, c.DecideQuota("0301", 2025, 1, 2, TODAY))
    assert events_named(app, "IdempotencyKeyRecorded") == []
    app.handle(keyed, c.DecideQuota("0301", 2025, 2, 1, TODAY))  # the corrected command is no reuse
    assert app.quota_year("0301", 2025).decided == (2, 1)
