"""Problem details (RFC 9457): the one mapping from every error to an ``application/problem+json`` answer."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from pydantic import ValidationError as PydanticValidationError

from api.http.auth import Unauthenticated
from api.http.context import CORRELATION_HEADER, UnsupportedMediaType, correlation_id
from api.messages import error_text, translate
from api.web.i18n import N_, choose_locale, gettext
from settlement_domain.errors import (
    ConcurrencyConflict,
    DomainError,
    IdempotencyKeyReused,
    NotFound,
    ReadNotRecorded,
    Refusal,
    RuleViolation,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://settlement.example/problems/"
RULE_BASE = "https://settlement.example/rules/"

MAX_LISTED_ERRORS = 20  # a 422 lists the first problems and counts them all (``error_count``)

REFUSAL_STATUS = {Refusal.INPUT: 422, Refusal.STATE: 409, Refusal.FORBIDDEN: 403}

# What a refused rule was about, for the problem's human-readable title.
RULE_TITLES = {
    "roles": N_("Not allowed for this role"),
    "registry": N_("Municipality registry refused"),
    "registration": N_("Registration refused"),
    "R1": N_("Settlement request refused"),
    "R2": N_("Quota decision refused"),
    "R3": N_("Distribution list refused"),
    "R4": N_("Approval refused"),
    "R5": N_("Settlement decision refused"),
    "R6": N_("Person folder refused"),
    "R7": N_("Settlement date refused"),
    "R8": N_("Settlement date refused"),
    "R11": N_("Capacity report refused"),
    "R12": N_("Deviation refused"),
    "R16": N_("Support case refused"),
}

STATUS_TITLES = {
    400: N_("Bad request"),
    401: N_("Not signed in"),
    403: N_("Forbidden"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    406: N_("Not acceptable"),
    408: N_("Request timeout"),
    409: N_("Conflict"),
    413: N_("Request too large"),
    415: N_("Unsupported media type"),
    422: N_("Invalid input"),
    429: N_("Too many requests"),
    431: N_("Request headers too large"),
    503: N_("Not yet available"),
}


class StaleRead(Exception):
    """The read models did not reach the requested ``min_position`` in time: 503, try again shortly."""

    def __init__(self, wanted: int, reached: int) -> None:
        super().__init__(f"The read models have reached position {reached}, not yet {wanted}.")
        self.wanted, self.reached = wanted, reached


class ReadModelsUnavailable(Exception):
    """The read models cannot answer now (not installed yet, or the projection runner stopped): 503."""


class Busy(Exception):
    """Too much work queued already (imports waiting their turn): 503, try again shortly."""


class NotAcceptable(Exception):
    """The client accepts none of the formats a resource comes in."""


def problem_locale(request: Request) -> str:
    """The language of a problem's title and detail: bokmål unless ``Accept-Language`` asks for English."""
    return choose_locale(None, request.headers.get("accept-language"))


def problem(
    request: Request,
    status: int,
    detail: str | DomainError,
    *,
    title: str | None = None,
    slug: str | None = None,
    rule: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    error_count: int | None = None,
) -> Response[dict[str, Any]]:
    """An RFC 9457 answer. ``title``, ``detail`` (English text, or a domain error) and each listed error's
    ``message`` are given in the reader's language (bokmål by default); the type, rule and fields stay."""
    locale = problem_locale(request)
    body: dict[str, Any] = {
        "type": RULE_BASE + rule if rule else PROBLEM_BASE + (slug or str(status)),
        "title": gettext(locale, title or STATUS_TITLES.get(status, "Error")),
        "status": status,
        "detail": error_text(locale, detail)
        if isinstance(detail, DomainError)
        else translate(locale, detail),
    }
    if rule:
        body["rule"] = rule
    if errors:
        body["errors"] = [
            {**item, "message": translate(locale, item["message"])}
            if isinstance(item.get("message"), str)
            else item
            for item in errors[:MAX_LISTED_ERRORS]
        ]
        body["error_count"] = max(error_count or 0, len(errors))
    if extra:
        body.update(extra)
    # Errors raised before or outside the correlation middleware still carry the request's id.
    headers = {**(headers or {}), CORRELATION_HEADER: correlation_id(request), "Content-Language": locale}
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _rule_title(locale: str, rule: str) -> str:
    family = rule.rstrip("abcdefghijklmnopqrstuvwxyz") if rule.startswith("R") else rule
    if family in RULE_TITLES:
        return gettext(locale, RULE_TITLES[family])
    return gettext(locale, N_("Refused by rule %(rule)s"), rule=rule)


def rule_violation(request: Request, error: RuleViolation) -> Response:
    status = REFUSAL_STATUS[error.refusal]
    locale = problem_locale(request)
    message = error_text(locale, error)
    errors = [{"field": error.field, "message": message}] if status == 422 and error.field else None
    return problem(
        request, status, error, title=_rule_title(locale, error.rule), rule=error.rule, errors=errors
    )


def not_found(request: Request, error: NotFound) -> Response:
    return problem(request, 404, error, slug="not-found")


def concurrency_conflict(request: Request, error: ConcurrencyConflict) -> Response:
    return problem(request, 409, error, title=N_("Changed at the same moment"), slug="concurrency-conflict")


def idempotency_key_reused(request: Request, error: IdempotencyKeyReused) -> Response:
    return problem(
        request,
        422,
        error,
        slug="idempotency-key-reused",
        errors=[{"field": "Idempotency-Key", "message": error.message}],
    )


def unauthenticated(request: Request, error: Unauthenticated) -> Response:
    return problem(request, 401, str(error), slug="unauthenticated", headers={"WWW-Authenticate": "Bearer"})


def stale_read(request: Request, error: StaleRead) -> Response:
    return problem(
        request,
        503,
        str(error),
        title=N_("Read models not yet up to date"),
        slug="stale-read",
        headers={"Retry-After": "1"},
    )


def read_models_unavailable(request: Request, error: ReadModelsUnavailable) -> Response:
    return problem(
        request,
        503,
        str(error),
        title=N_("Read models not available"),
        slug="read-models-unavailable",
        headers={"Retry-After": "5"},
    )


def read_not_recorded(request: Request, error: ReadNotRecorded) -> Response:
    # R6/R14: the read's answer is withheld because its record could not be stored.
    return problem(
        request,
        503,
        error,
        title=N_("Read not recorded"),
        slug="read-not-recorded",
        headers={"Retry-After": "1"},
    )


def busy(request: Request, error: Busy) -> Response:
    return problem(request, 503, str(error), title=N_("Busy"), slug="busy", headers={"Retry-After": "10"})


def not_acceptable(request: Request, error: NotAcceptable) -> Response:
    return problem(request, 406, str(error), slug="not-acceptable")


def unsupported_media_type(request: Request, error: UnsupportedMediaType) -> Response:
    return problem(
        request,
        415,
        str(error),
        slug="unsupported-media-type",
        errors=[{"field": "Content-Type", "message": str(error)}],
    )


# A field name as the API spells them (a dotted or indexed identifier); anything else a client sent as
# a key is not echoed back, since it may be personal data.
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|\[)[A-Za-z0-9_]+\]?)*$")
# The one validation message that quotes the value it was given (a union's tag): the value goes.
_QUOTED_TAG = re.compile(r"Input tag '.*' found using", re.DOTALL)


def _field_shown(field: str) -> str:
    return field if len(field) <= 100 and _FIELD_NAME.match(field) else "body (a field not named here)"


def _message_shown(message: str) -> str:
    return _QUOTED_TAG.sub("The value found using", message)


def validation_error(request: Request, error: ValidationException) -> Response:
    """Bad shape or format of the input (body, query, path or header): 422 listing the fields.

    No value of the input is echoed back, nor a key that is not a field name: either may be personal data.
    """
    items = [item for item in error.extra if isinstance(item, dict)] if isinstance(error.extra, list) else []
    errors: list[dict[str, Any]] = [
        {
            "field": _field_shown(str(item.get("key") or item.get("source") or "body")),
            "message": _message_shown(str(item.get("message", ""))),
        }
        for item in items[:MAX_LISTED_ERRORS]
    ]
    if not errors:
        return problem(
            request,
            422,
            "The request is not valid; see errors.",
            slug="validation",
            errors=[{"field": "body", "message": str(error.detail)}],
        )
    detail = "The request is not valid; see errors."
    if len(items) > MAX_LISTED_ERRORS:
        detail = f"The request is not valid: {len(items)} problems, the first {MAX_LISTED_ERRORS} listed."
    return problem(request, 422, detail, slug="validation", errors=errors, error_count=len(items))


def http_error(request: Request, error: HTTPException) -> Response:
    status = error.status_code
    if status == 400:
        # Malformed input (unparsable JSON, bad query string) is invalid input by the contract.
        return problem(
            request,
            422,
            str(error.detail),
            slug="validation",
            errors=[{"field": "body", "message": str(error.detail)}],
        )
    if status == 413:
        limit = request.route_handler.resolve_request_max_body_size()
        return problem(request, 413, f"The body is larger than {limit} bytes.", slug="body-too-large")
    headers = {k: v for k, v in (error.headers or {}).items()}
    return problem(request, status, str(error.detail), headers=headers or None)


def unexpected(request: Request, error: Exception) -> Response:
    # Only the type and route are logged: messages may quote request data, which can be personal.
    where = ""
    if isinstance(error, PydanticValidationError):
        # Locations and error types only: the offending values may be personal data.
        where = " " + str([(e["loc"], e["type"]) for e in error.errors(include_input=False)])
    log.error(
        "Unexpected %s%s on %s %s\n%s",
        type(error).__name__,
        where,
        request.method,
        request.scope.get("route_handler").paths if request.scope.get("route_handler") else "?",
        "".join(traceback.format_tb(error.__traceback__)),
    )
    return problem(
        request, HTTP_500_INTERNAL_SERVER_ERROR, "Something went wrong on our side.", slug="internal"
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    RuleViolation: rule_violation,
    NotFound: not_found,
    ConcurrencyConflict: concurrency_conflict,
    IdempotencyKeyReused: idempotency_key_reused,
    ReadNotRecorded: read_not_recorded,
    Unauthenticated: unauthenticated,
    StaleRead: stale_read,
    NotAcceptable: not_acceptable,
    Busy: busy,
    UnsupportedMediaType: unsupported_media_type,
    ReadModelsUnavailable: read_models_unavailable,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: unexpected,
}
