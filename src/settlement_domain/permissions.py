"""Who may send which command: the role table of the domain, written once.

The application service refuses a command whose sender's role is not listed (403, naming the rule);
the HTTP routes derive their role checks from this table instead of repeating it.
"""

from __future__ import annotations

from dataclasses import dataclass

from settlement_domain import commands as c
from settlement_domain.context import Actor, Role
from settlement_domain.errors import Refusal, RuleViolation, Text

IMDI, MUNICIPALITY, RECEPTION, AUDITOR = Role.IMDI, Role.MUNICIPALITY, Role.RECEPTION, Role.AUDITOR

ROLE_NAMES = {
    IMDI: "IMDi",
    MUNICIPALITY: "the municipality",
    RECEPTION: "the reception system",
    AUDITOR: "an auditor",
}


@dataclass(frozen=True)
class Permission:
    """The roles that may send a command, the rule that says so, and the action in words."""

    roles: frozenset[Role]
    rule: str
    action: str


def _may(rule: str, action: str, *roles: Role) -> Permission:
    return Permission(frozenset(roles), rule, action)


PERMISSIONS: dict[type[c.Command], Permission] = {
    c.RegisterMunicipality: _may("roles", "register municipalities", IMDI),
    c.RenameMunicipality: _may("registry", "rename municipalities", IMDI),
    c.UpdateContact: _may("roles", "update contact information", MUNICIPALITY, IMDI),
    c.RequestSettlement: _may("R1", "send settlement requests", IMDI),
    c.DecideQuota: _may("R2", "record quota decisions", MUNICIPALITY, IMDI),
    c.RegisterRefugee: _may("roles", "register refugees", IMDI, RECEPTION),
    c.RecordMapping: _may("roles", "record mappings", RECEPTION, IMDI),
    c.CreateDistributionList: _may("R3", "create distribution lists", IMDI),
    c.WithdrawDistributionList: _may("R3", "withdraw distribution lists", IMDI),
    c.ApproveDistributionList: _may("R4", "approve distribution lists", MUNICIPALITY),
    c.DecideSettlement: _may("R5", "make settlement decisions", IMDI),
    c.RegisterSettlementDate: _may("R7", "register settlement dates", MUNICIPALITY, RECEPTION),
    c.CorrectSettlementDate: _may("R7f", "correct settlement dates", IMDI),
    c.OpenDeviation: _may("R12", "open deviations", IMDI),
    c.ResolveDeviation: _may("R12", "resolve deviations", IMDI),
    c.RecordFolderRead: _may("R6", "read person folders", IMDI, AUDITOR, MUNICIPALITY),
    c.RecordPersonalDataListed: _may(
        "R14", "read lists of personal data", IMDI, AUDITOR, MUNICIPALITY, RECEPTION
    ),
    c.ErasePersonalData: _may("R18", "erase personal data", IMDI),
    c.ReportMinorCapacity: _may("R11", "report capacity for minors", MUNICIPALITY),
    c.WithdrawMinorCapacity: _may("R11", "change capacity reports", MUNICIPALITY),
    c.MarkMinorCapacityFilled: _may("R11", "change capacity reports", MUNICIPALITY),
    c.FileSupportCase: _may("R16", "file support cases", MUNICIPALITY),
    c.AnswerSupportCase: _may("R16", "answer support cases", IMDI),
    c.EraseSupportCaseTexts: _may("R18", "erase support cases' texts", IMDI),
    c.RecordHistoricalFigure: _may("R15", "import historical figures", IMDI),
    c.RecordImport: _may("R15", "import files", IMDI),
    **{fact: _may("R15", "import persons' history", IMDI) for fact in c.HISTORICAL_FACTS},
    c.MarkCompleteness: _may("R19", "mark data as complete", IMDI),
    # The letter outbox acts as IMDi, the letters' sender; the opened callback is IMDi's too.
    c.RecordLetterDispatch: _may("R9", "record letter deliveries", IMDI),
    c.RecordLetterDeliveryFailure: _may("R9", "record letter deliveries", IMDI),
    c.RecordLetterOpened: _may("R9", "record opened letters", IMDI),
    c.FallBackToPaper: _may("R9", "send letters by post", IMDI),
    c.RetryLetterDelivery: _may("R9", "retry letter deliveries", IMDI),
    c.RecordCaseFileExport: _may("R17", "export case files", IMDI, AUDITOR, MUNICIPALITY),
    c.RecordLettersExport: _may("R17", "export letters", IMDI, MUNICIPALITY),
}


def roles_in_words(roles: frozenset[Role] | set[Role]) -> Text:
    """``IMDi or the municipality``: the roles in the order of the role table, in words (translated where shown)."""
    names = [Text(ROLE_NAMES[r]) for r in Role if r in roles]
    if len(names) == 1:
        return names[0]
    return Text("%(some)s or %(last)s", {"some": names[:-1], "last": names[-1]})


def roles_for(command: type[c.Command]) -> frozenset[Role]:
    """The roles that may send ``command`` (what the HTTP routes declare)."""
    return PERMISSIONS[command].roles


def check_permitted(actor: Actor, command: c.Command) -> None:
    """Refuses (403, naming the rule) a command the actor's role may not send."""
    permission = PERMISSIONS[type(command)]
    if actor.role not in permission.roles:
        raise RuleViolation(
            permission.rule,
            "Only %(roles)s may %(action)s.",
            refusal=Refusal.FORBIDDEN,
            field="role",
            params={"roles": roles_in_words(permission.roles), "action": Text(permission.action)},
        )


def require_own_municipality(rule: str, actor: Actor, municipality: str, action: str) -> None:
    """A municipality user acts for its own municipality only (403 on the municipality resource)."""
    if actor.role is MUNICIPALITY and actor.municipality != municipality:
        raise RuleViolation(
            rule,
            "A municipality user may only %(action)s for its own municipality.",
            refusal=Refusal.FORBIDDEN,
            field="municipality",
            params={"action": Text(action)},
        )
