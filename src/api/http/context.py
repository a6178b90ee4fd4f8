"""Per-request plumbing: correlation ids, the command context of a write, and the answer a write gives."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

from litestar import Request, Response
from litestar.datastructures import MutableScopeHeaders
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.http.schemas import Written
from api.logs import CORRELATION_ID
from settlement_domain import commands as c
from settlement_domain.application import CommandResult, SettlementApp
from settlement_domain.context import Actor, CommandContext

# Correlation ids and idempotency keys end up in stored events: accept only short, plain tokens.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
CORRELATION_HEADER = "X-Correlation-ID"


def correlation_middleware(app: ASGIApp) -> ASGIApp:
    """Gives every request a correlation id (the caller's, when it sent a usable one) and echoes it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        sent = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-correlation-id"), "")
        correlation_id = sent if TOKEN_PATTERN.match(sent) else uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[CORRELATION_HEADER] = correlation_id
            await send(message)

        token = CORRELATION_ID.set(correlation_id)  # every log line of this request carries it
        try:
            await app(scope, receive, send_with_header)
        finally:
            CORRELATION_ID.reset(token)

    return middleware


def check_storable(scope: Any) -> None:
    """Refuses NUL characters in the path or query string (422): PostgreSQL cannot compare text with
    them. The API checks it in its authentication middleware (``api.http.app.ApiAuthentication``)."""
    if "\x00" in scope["path"] or "\x00" in unquote_plus(scope["query_string"].decode("latin-1")):
        raise ValidationException(
            "The path or query string contains a NUL character.",
            extra=[
                {
                    "key": "path" if "\x00" in scope["path"] else "query",
                    "message": "contains a NUL character",
                }
            ],
        )


MAX_JSON_DEPTH = 32  # far deeper than any body of this API; parsers recurse per level
MAX_JSON_KEYS = 200  # keys in one JSON object: ten times the widest body of this API


def _json_shape(text: str) -> tuple[int, int]:
    """How deeply arrays and objects nest in ``text``, and the most keys of one object (brackets and
    colons inside strings do not count). Stops early, answering the bound it passed, once either
    passes its bound: a body of 700,000 keys costs the scan of its first object's first 201 keys."""
    depth = deepest = most_keys = 0
    keys: list[int] = []  # per open container: its keys so far (an object), or -1 (an array)
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == ":":
            if keys and keys[-1] >= 0:
                keys[-1] += 1
                if keys[-1] > most_keys:
                    most_keys = keys[-1]
                    if most_keys > MAX_JSON_KEYS:
                        break
        elif ch in "[{":
            keys.append(0 if ch == "{" else -1)
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        elif ch in "]}":
            if keys:
                keys.pop()
            depth -= 1
    return deepest, most_keys


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def check_json_body(request: Request) -> None:
    """A write's body is JSON, in UTF-8, not absurdly nested or wide; else 415 or 422 naming the body.

    Checked before the handler parses it, so that no parser meets text it would fail on badly. A route
    that takes a file (``opt={"body": "file"}``, an upload) checks its own body's media type.
    """
    if (
        request.method not in ("POST", "PUT", "PATCH")
        or request.route_handler.opt.get("body") == "file"
        or "data" not in request.route_handler.parsed_fn_signature.parameters
    ):
        return  # only routes that take a JSON body (``data``) read one
    body = await request.body()
    if not body:
        return
    if not _is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType("The body must be JSON, sent as Content-Type: application/json.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationException(
            "The body is not valid UTF-8.", extra=[{"key": "body", "message": "not valid UTF-8"}]
        ) from None
    depth, most_keys = _json_shape(text)
    if depth > MAX_JSON_DEPTH:
        raise ValidationException(
            f"The body nests arrays and objects more than {MAX_JSON_DEPTH} deep.",
            extra=[{"key": "body", "message": f"nested more than {MAX_JSON_DEPTH} deep"}],
        )
    if most_keys > MAX_JSON_KEYS:
        raise ValidationException(
            f"An object in the body has more than {MAX_JSON_KEYS} keys.",
            extra=[{"key": "body", "message": f"an object with more than {MAX_JSON_KEYS} keys"}],
        )


class UnsupportedMediaType(Exception):
    """A body in a format the route does not take (415)."""


def correlation_id(request: Request) -> str:
    return request.scope.get("state", {}).get("correlation_id") or uuid.uuid4().hex


def current_actor(request: Request) -> Actor:
    """The signed-in actor (the authentication middleware put it there)."""
    return request.user


def command_context(request: Request) -> CommandContext:
    """Who writes, for which request, under which idempotency key."""
    key = request.headers.get("idempotency-key")
    if key is not None and not TOKEN_PATTERN.match(key):
        raise ValidationException(
            "Idempotency-Key is 1-128 letters, digits or . _ : -",
            extra=[{"key": "Idempotency-Key", "message": "1-128 letters, digits or . _ : -"}],
        )
    return CommandContext(actor=request.user, correlation_id=correlation_id(request), idempotency_key=key)


def settlement_app(request: Request) -> SettlementApp:
    return request.app.state.settlement


def written(result: CommandResult, model: type[Written] = Written) -> Response[Any]:
    """201 with the new id and version (200 for an idempotent repeat) and the log position reached."""
    body = model(id=result.id, version=result.version, position=result.position, **result.extra)
    return Response(
        body,
        status_code=200 if result.replayed else 201,
        headers={"X-Event-Position": str(result.position)},
    )


# Handler parameter types: the named dependencies the API router provides.
Ctx = NamedDependency[CommandContext]
Settlement = NamedDependency[SettlementApp]
CurrentActor = NamedDependency[Actor]


def record_listed(app: SettlementApp, ctx: CommandContext, what: str, refugee_ids: Iterable[Any]) -> None:
    """R14: records that this request showed these persons' names or birth dates (one
    ``PersonalDataListed`` per request; nothing when it showed none). Called after the read and
    before the answer, so that an answer with personal data is never sent unrecorded."""
    ids = tuple(dict.fromkeys(uuid.UUID(str(i)) for i in refugee_ids))
    if ids:
        app.handle(ctx, c.RecordPersonalDataListed(what, ids))
