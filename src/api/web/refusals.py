"""The domain's refusals in words a caseworker reads: each rule code explained, in the page's language.

The domain names the rule that refused (``R7c``) and says why in English; a page shows what the rule
means for the caseworker and what to do, with the rule code beside it.
"""

from __future__ import annotations

from api.messages import error_text
from api.web.i18n import N_, gettext
from settlement_domain.errors import RuleViolation

RULES: dict[str, str] = {
    "roles": N_("Your role may not do this."),
    "registry": N_("The contact information is not complete or not valid."),
    "registration": N_("The person's details are not complete or not valid."),
    "R1": N_(
        "The request was refused: the figures must be 0 or more, minors no more than persons, "
        "the year at most two years ahead, and a revision needs a reason."
    ),
    "R2": N_(
        "The decision was refused: the figures must be 0 or more, minors no more than persons, the "
        "decision date not in the future, and not below the places already used."
    ),
    "R3": N_(
        "The distribution list was refused: the persons must be registered and free (not on another open "
        "list, not selected or settled), a family goes whole, and the answer date must be after today."
    ),
    "R4": N_(
        "The approval was refused: answer every person on the list, accept or decline a family whole, "
        "give a reason for each person declined, and accept no more persons than the vacant places of "
        "the list's year (decide a higher number first)."
    ),
    "R5": N_(
        "The settlement decision was refused: the person must be selected by this municipality and not "
        "decided already; past the year's vacant places a reason for the override is needed."
    ),
    "R6": N_("The person folder opens once the municipality has accepted the person."),
    "R7": N_("The settlement date cannot be registered here."),
    "R7a": N_(
        "The person has not been selected by, or decided for, your municipality: you can register a "
        "settlement date only for persons your municipality has accepted (a selection letter exists)."
    ),
    "R7b": N_(
        "The person lived in a reception centre. The settlement date comes from the reception system; "
        "do not register it here."
    ),
    "R7c": N_(
        "The person has an unresolved deviation in the settlement case. Do not register a settlement "
        "date until IMDi has resolved it."
    ),
    "R7d": N_(
        "The person was settled from a reception centre but is shown as living privately because of a "
        "known deviation. IMDi registers the date; do not register it here."
    ),
    "R7e": N_(
        "The date is not allowed: it cannot be before the earliest settlement date the service takes "
        "(1 January 2016), before the day the person was selected for your municipality, or in the future."
    ),
    "R7f": N_(
        "A settlement date is already registered for the person. Only IMDi can correct it, with a reason."
    ),
    "R8": N_("The settlement date of a person from a reception centre comes from the reception system."),
    "R11": N_(
        "The capacity report was refused: at least one place, a week that has not passed (like "
        "2026-W14), and ages 15 to 17. Capacity for minors under 15 is reported to Bufetat."
    ),
    "R12": N_("The deviation was refused: give a kind and a description, or a note when resolving it."),
    "R15": N_("The import was refused."),
    "R16": N_("The support case was refused: give a subject and a text; a closed case takes no answers."),
    "R18": N_(
        "The erasure was refused: the person may not be on an open distribution list, needs a settlement "
        "date once selected or decided for, may have no unresolved deviation and no letter naming them "
        "that is not delivered yet; an erased person is not erased again, and nothing personal is "
        "recorded about them again."
    ),
    "R19": N_("The completeness mark was refused."),
}


def explain(locale: str, error: RuleViolation) -> str:
    """The refusal in words, with its rule code: ``... (R7c)``."""
    message = RULES.get(error.rule) or RULES.get(error.rule.rstrip("abcdefghijklmnopqrstuvwxyz"))
    if message is None:
        return f"{error_text(locale, error)} ({error.rule})"
    return f"{gettext(locale, message)} ({error.rule})"
