"""The role table (permissions.py): every command is refused (403, naming its rule, the roles in
words) for every role the table does not list, and nothing is appended. The actor's role is checked
before anything is loaded, so the commands here may name ids that do not exist."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.errors import Refusal
from settlement_domain.handlers import HANDLERS
from settlement_domain.permissions import PERMISSIONS, roles_for, roles_in_words
from settlement_domain.values import Category, ImportSource, Mapping, PostalAddress, Residence, ResidenceKind
from tests.given import AUDITOR, IMDI, OSLO, RECEPTION, TODAY, capacity_report, contact, refused, registration

SOURCE = ImportSource("file.csv", "0" * 64, 2)
NOW = datetime(2025, 6, 16, 12, tzinfo=UTC)
ACTORS = {Role.IMDI: IMDI, Role.MUNICIPALITY: OSLO, Role.RECEPTION: RECEPTION, Role.AUDITOR: AUDITOR}

EXAMPLES: dict[type[c.Command], c.Command] = {
    c.RegisterMunicipality: c.RegisterMunicipality("5001", "Trondheim", "Trøndelag"),
    c.UpdateContact: c.UpdateContact("0301", contact()),
    c.RequestSettlement: c.RequestSettlement("0301", 2025, 10, 1),
    c.DecideQuota: c.DecideQuota("0301", 2025, 10, 1, TODAY),
    c.RegisterRefugee: registration(),
    c.RecordMapping: c.RecordMapping(uuid4(), Mapping()),
    c.CreateDistributionList: c.CreateDistributionList("0301", (uuid4(),), TODAY + timedelta(days=7)),
    c.WithdrawDistributionList: c.WithdrawDistributionList(uuid4(), "Changed plans"),
    c.ApproveDistributionList: c.ApproveDistributionList(uuid4(), (uuid4(),)),
    c.DecideSettlement: c.DecideSettlement(uuid4(), "0301"),
    c.RegisterSettlementDate: c.RegisterSettlementDate(uuid4(), TODAY),
    c.CorrectSettlementDate: c.CorrectSettlementDate(uuid4(), TODAY, "Typo"),
    c.OpenDeviation: c.OpenDeviation(uuid4(), "identity", "Two birth dates"),
    c.ResolveDeviation: c.ResolveDeviation(uuid4(), "d-1", "Resolved"),
    c.RecordFolderRead: c.RecordFolderRead(uuid4()),
    c.RecordPersonalDataListed: c.RecordPersonalDataListed("GET /refugees", (uuid4(),)),
    c.ErasePersonalData: c.ErasePersonalData(uuid4(), "GDPR art. 17", "the person asked"),
    c.ReportMinorCapacity: capacity_report(),
    c.WithdrawMinorCapacity: c.WithdrawMinorCapacity(uuid4(), "Filled elsewhere"),
    c.MarkMinorCapacityFilled: c.MarkMinorCapacityFilled(uuid4()),
    c.FileSupportCase: c.FileSupportCase("Subject", "Text"),
    c.AnswerSupportCase: c.AnswerSupportCase(uuid4(), "Answer"),
    c.EraseSupportCaseTexts: c.EraseSupportCaseTexts(uuid4(), "GDPR art. 17", "the municipality asked"),
    c.RecordHistoricalFigure: c.RecordHistoricalFigure("0301", 2013, "settled", 40, SOURCE),
    c.RecordImport: c.RecordImport("file.csv", "0" * 64, "imdi-long", 1, 1, 0, 0, 0),
    c.MarkCompleteness: c.MarkCompleteness(2013, "0301"),
    c.RenameMunicipality: c.RenameMunicipality("0301", "Oslo kommune"),
    c.RecordHistoricalRegistration: c.RecordHistoricalRegistration(
        "P1", date(2019, 1, 2), "Amina Haddad", date(1990, 5, 1), None, False,
        Residence(ResidenceKind.PRIVATE), PostalAddress("Storgata 1", "0150", "Oslo"), Category.ASYLUM, SOURCE,
    ),
    c.RecordHistoricalMapping: c.RecordHistoricalMapping("P1", Mapping(), date(2019, 1, 3), SOURCE),
    c.RecordHistoricalSelection: c.RecordHistoricalSelection("P1", "0301", date(2019, 2, 1), 2019, SOURCE),
    c.RecordHistoricalDecision: c.RecordHistoricalDecision("P1", "0301", date(2019, 2, 5), SOURCE),
    c.RecordHistoricalSettlementDate: c.RecordHistoricalSettlementDate("P1", date(2019, 3, 1), SOURCE),
    c.RecordLetterDispatch: c.RecordLetterDispatch(uuid4(), "digital", "file", "s-1", NOW),
    c.RecordLetterDeliveryFailure: c.RecordLetterDeliveryFailure(uuid4(), "digital", "file", "Down", False),
    c.RecordLetterOpened: c.RecordLetterOpened(uuid4(), NOW, "callback"),
    c.FallBackToPaper: c.FallBackToPaper(uuid4(), NOW),
    c.RetryLetterDelivery: c.RetryLetterDelivery(uuid4()),
    c.RecordCaseFileExport: c.RecordCaseFileExport(uuid4(), "pdf"),
    c.RecordLettersExport: c.RecordLettersExport("0301", None, ()),
}  # fmt: skip

FORBIDDEN = [
    pytest.param(command, role, id=f"{type(command).__name__}-{role.value}")
    for command in EXAMPLES.values()
    for role in Role
    if role not in roles_for(type(command))
]


def test_every_command_has_a_permission_a_handler_and_an_example_here():
    commands = {cls for cls in vars(c).values() if isinstance(cls, type) and issubclass(cls, c.Command)}
    commands.discard(c.Command)
    assert set(PERMISSIONS) == set(HANDLERS) == set(EXAMPLES) == commands


@pytest.mark.parametrize(("command", "role"), FORBIDDEN)
def test_a_command_is_refused_for_every_role_not_in_its_table(given, command, role):
    permission = PERMISSIONS[type(command)]
    with refused(given, permission.rule, Refusal.FORBIDDEN) as caught:
        given.handle(ACTORS[role], command)
    assert caught.value.message == f"Only {roles_in_words(permission.roles)} may {permission.action}."
    assert caught.value.field == "role"


@pytest.mark.parametrize(
    ("command", "actor", "message"),
    [
        (EXAMPLES[c.DecideSettlement], OSLO, "Only IMDi may make settlement decisions."),
        (EXAMPLES[c.DecideQuota], RECEPTION, "Only IMDi or the municipality may record quota decisions."),
        (
            EXAMPLES[c.RegisterSettlementDate],
            IMDI,
            "Only the municipality or the reception system may register settlement dates.",
        ),
        (
            EXAMPLES[c.RecordFolderRead],
            RECEPTION,
            "Only IMDi, the municipality or an auditor may read person folders.",
        ),
        (EXAMPLES[c.ApproveDistributionList], IMDI, "Only the municipality may approve distribution lists."),
        (EXAMPLES[c.RegisterRefugee], OSLO, "Only IMDi or the reception system may register refugees."),
    ],
    ids=["R5", "R2", "R7", "R6", "R4", "registration"],
)
def test_role_refusals_say_the_roles_in_words(given, command, actor, message):
    with refused(given, PERMISSIONS[type(command)].rule, Refusal.FORBIDDEN) as caught:
        given.handle(actor, command)
    assert caught.value.message == message


def test_auditors_only_read_personal_data():
    # Each is a recorded read of a person's data (R6, R14, R17): an auditor changes nothing.
    assert [cls.__name__ for cls, p in PERMISSIONS.items() if Role.AUDITOR in p.roles] == [
        "RecordFolderRead",
        "RecordPersonalDataListed",
        "RecordCaseFileExport",
    ]
