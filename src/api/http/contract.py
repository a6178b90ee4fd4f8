"""The OpenAPI document tells what the API really answers (issue 12, "an honest contract").

litestar documents each route's success answer and a ``400`` that this API never sends (malformed input
is a ``422`` here). :func:`describe` completes the document for every route, from what the route is:

- every problem it can answer (``401`` for a route behind a token, ``403`` for a write or a read not
  open to every role, ``404`` for a path naming a resource, a write, or a ``municipality`` filter,
  ``409`` for a write, ``422`` for any input, ``503`` for a read of the read models, ``406`` for a
  report that comes as a file, ``413``/``415`` for a body, and what a route lists in ``opt["problems"]``)
  as ``application/problem+json`` with the ``Problem`` schema, and no ``400``;
- the headers: ``X-Correlation-ID`` on every request and answer, ``Idempotency-Key`` on every write,
  ``X-Event-Position`` on a write's answer, ``Retry-After`` on a ``503``, ``WWW-Authenticate`` on a ``401``;
- a write's idempotent repeat (``200``, the first answer again) beside its ``201``;
- the CSV and XLSX files of the reports (``opt["formats"]``).

It runs once, when the document is first asked for (building it costs more than half a second).
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import copy
from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
)
from litestar.routes import HTTPRoute

from api.http.context import TOKEN_PATTERN
from api.http.errors import PROBLEM_JSON, STATUS_TITLES
from settlement_domain.context import Role

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PROBLEM_REF = Reference(ref="#/components/schemas/Problem")

PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    title="Problem",
    description="An error (RFC 9457 problem details).",
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="A URI naming the kind of problem, or the rule"),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "rule": Schema(type=OpenAPIType.STRING, description="The refusing rule of docs/domain.md (R1..R21)"),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="The first 20 problems with the input, each naming its field",
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
        "error_count": Schema(type=OpenAPIType.INTEGER, description="How many problems there are in all"),
        "reasons": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(type=OpenAPIType.STRING),
            description="Why the service is not ready (/health/ready)",
        ),
    },
)

WHEN = {
    401: "No valid token (Authorization: Bearer <JWT>).",
    403: "The token's role may not do this (the rule is named).",
    404: "An unknown id, or another municipality's person, list or case.",
    406: "The client accepts none of the formats this comes in.",
    409: "Refused by a rule because of the current state (the rule is named), or changed at the same moment.",
    413: "The body is too large.",
    415: "The body is not in a format this route takes.",
    422: "Invalid input: the offending fields are listed (the first 20, error_count counts them all).",
    503: "The read models have not reached min_position within 2 s, are being rebuilt, or are not ready; "
    "or too much work is queued, or the record of this read of personal data could not be stored "
    "(R6/R14, read-not-recorded). Try again after Retry-After.",
}

CORRELATION_ID = "X-Correlation-ID"
CORRELATION_SCHEMA = Schema(type=OpenAPIType.STRING, max_length=128)


def _header(description: str, schema: Schema) -> OpenAPIHeader:
    return OpenAPIHeader(schema=schema, description=description)


CORRELATION_ANSWER = _header(
    "The request's correlation id (the caller's, or a new one); the events it caused store it too.",
    CORRELATION_SCHEMA,
)
EVENT_POSITION = _header(
    "The log position this write reached: pass it as ?min_position= to read your own write.",
    Schema(type=OpenAPIType.INTEGER, minimum=0),
)
RETRY_AFTER = _header("Seconds to wait before trying again.", Schema(type=OpenAPIType.INTEGER, minimum=0))
WWW_AUTHENTICATE = _header("Bearer", Schema(type=OpenAPIType.STRING))

CORRELATION_PARAMETER = Parameter(
    name=CORRELATION_ID,
    param_in="header",
    required=False,
    schema=Schema(type=OpenAPIType.STRING),
    description="Your id for this request (1-128 letters, digits or . _ : -; anything else is replaced "
    "by a new id), echoed in the answer and stored on the events it causes.",
)
IDEMPOTENCY_PARAMETER = Parameter(
    name="Idempotency-Key",
    param_in="header",
    required=False,
    schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=128, pattern=TOKEN_PATTERN.pattern),
    description="The same key with the same body answers the first answer again (200) and appends "
    "nothing; with another body it is refused (422).",
)

FILE_TYPES = {
    "text/csv": Schema(
        type=OpenAPIType.STRING, description="Semicolon-separated, UTF-8 with BOM, Norwegian headings"
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": Schema(
        type=OpenAPIType.STRING,
        format=OpenAPIFormat.BINARY,
        description="An Excel workbook",
    ),
}


def problems_of(route: HTTPRoute, handler: HTTPRouteHandler, method: str, operation: Operation) -> set[int]:
    """The problem statuses a route can answer, from what it is (see the module)."""
    api = route.path.startswith("/api/")
    write = method in WRITE_METHODS
    parameters = set(handler.parsed_fn_signature.parameters)
    query = {p.name for p in operation.parameters or [] if isinstance(p, Parameter) and p.param_in == "query"}
    roles = handler.opt.get("roles")
    found: set[int] = set(handler.opt.get("problems", ()))
    if api:
        found.add(401)
        if write or (roles is not None and set(roles) != set(Role)):
            found.add(403)
        if "{" in route.path or write or "municipality" in query:
            found.add(404)
        if write:
            found.add(409)
        if operation.parameters or operation.request_body is not None:
            found.add(422)
        if "reads" in parameters or "min_position" in query:  # a read of the read models
            found.add(503)
    if operation.request_body is not None:
        found.update((413, 415))
    if handler.opt.get("formats"):
        found.add(406)
    return found


def _problem_response(status: int) -> OpenAPIResponse:
    headers: dict[str, OpenAPIHeader | Reference] = {CORRELATION_ID: CORRELATION_ANSWER}
    if status == 503:
        headers["Retry-After"] = RETRY_AFTER
    if status == 401:
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    return OpenAPIResponse(
        description=f"{STATUS_TITLES.get(status, 'Error')}. {WHEN.get(status, '')}".strip(),
        headers=headers,
        content={PROBLEM_JSON: OpenAPIMediaType(schema=PROBLEM_REF)},
    )


def _with_header(response: OpenAPIResponse, name: str, header: OpenAPIHeader) -> None:
    response.headers = {**(response.headers or {}), name: header}


def describe_operation(
    route: HTTPRoute, handler: HTTPRouteHandler, method: str, operation: Operation
) -> None:
    """Completes one operation of the document (see the module)."""
    responses = operation.responses = dict(operation.responses or {})
    responses.pop("400", None)  # never answered: malformed input is a 422 here
    write = method in WRITE_METHODS
    parameters = set(handler.parsed_fn_signature.parameters)
    created = responses.get("201")
    if write and "ctx" in parameters and isinstance(created, OpenAPIResponse):
        _with_header(created, "X-Event-Position", EVENT_POSITION)
        repeat = copy(created)
        repeat.description = (
            "An idempotent repeat (the same Idempotency-Key and body): the first answer again."
        )
        responses.setdefault("200", repeat)
    formats = handler.opt.get("formats")
    ok = responses.get("200")
    if formats and isinstance(ok, OpenAPIResponse):
        ok.content = {**(ok.content or {}), **{t: OpenAPIMediaType(schema=FILE_TYPES[t]) for t in formats}}
    for status in sorted(problems_of(route, handler, method, operation)):
        responses.setdefault(str(status), _problem_response(status))  # a route's own spec wins
    for response in responses.values():
        if isinstance(response, OpenAPIResponse):
            _with_header(response, CORRELATION_ID, CORRELATION_ANSWER)
    extra = [CORRELATION_PARAMETER]
    if write and "ctx" in parameters:
        extra.append(IDEMPOTENCY_PARAMETER)
    present = {(p.name.lower(), p.param_in) for p in operation.parameters or [] if isinstance(p, Parameter)}
    operation.parameters = [
        *(operation.parameters or []),
        *(p for p in extra if (p.name.lower(), p.param_in) not in present),
    ]


def describe(openapi: OpenAPI, routes: Iterable[Any]) -> OpenAPI:
    """Completes the document of these routes in place (see the module); answers it."""
    if openapi.components.schemas is None:
        openapi.components.schemas = {}
    openapi.components.schemas["Problem"] = PROBLEM_SCHEMA
    # Every response shape refuses fields it does not list (the models forbid extras): said in the
    # document too, so that a body of one shape never also matches another of a oneOf (/health).
    for name, schema in openapi.components.schemas.items():
        if name == "Problem":  # problem details may carry members of their own (RFC 9457)
            continue
        if isinstance(schema, Schema) and schema.type == OpenAPIType.OBJECT and schema.properties:
            schema.additional_properties = False
    for route in routes:
        if not isinstance(route, HTTPRoute) or openapi.paths is None:
            continue
        item = openapi.paths.get(route.path_format or "/")
        if item is None:
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                if isinstance(operation, Operation):
                    describe_operation(route, handler, method, operation)
    return openapi


class _DescribedOpenAPIPlugin(OpenAPIPlugin):
    """litestar's OpenAPI plugin, whose document :func:`describe` completes when it is built."""

    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        return describe(super()._build_openapi(), self.app.routes)


def honest_openapi(app: Litestar) -> Litestar:
    """Makes ``app`` serve the completed document at /schema/openapi.json (built on first request)."""
    plugin = app.plugins.get(OpenAPIPlugin)
    plugin.__class__ = _DescribedOpenAPIPlugin  # same slots: only the build step differs
    return app
