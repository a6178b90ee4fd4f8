"""Importing IMDi's statistics over HTTP (R15): upload a file, follow its import, list the imports.

An upload answers at once (``202`` with the import's id); the import runs in a thread of this process,
one at a time, through the same code as ``settlement import`` (:func:`api.imports.backfill.import_file`).
The import id is the id of the file's import record, ``Import.create_id(checksum)``, so that the same
file has the same id on every server and for ever. Each job is also written to the store's database
(:mod:`api.http.import_jobs`), so that every server process answers for it, whichever ran it; a recorded
import is found for ever in the ``imports`` read model (its record).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import PurePosixPath
from typing import Annotated, Any

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ValidationException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, QueryParameter
from pydantic import Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import SQLAlchemyError

from api.http.access import allowed, sends
from api.http.context import UnsupportedMediaType
from api.http.errors import Busy
from api.http.import_jobs import HEARTBEAT_SECONDS, ImportJob, SharedJobs, State
from api.http.reads import Reads
from api.http.schemas import Id, Model, ShortText, path_id
from api.imports.backfill import import_file
from api.imports.imdi_long import NotThisFormat, checksum_of
from projections.imports import imported, imports
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.context import Role
from settlement_domain.errors import ConcurrencyConflict, NotFound, Refusal, RuleViolation, Text
from settlement_domain.model import Import
from settlement_domain.permissions import PERMISSIONS, roles_in_words
from settlement_domain.personal_keys import app_keys

log = logging.getLogger(__name__)

BODY_TYPES = {
    "text/csv": "upload.csv",
    "application/x-ndjson": "upload.jsonl",
    "application/jsonl": "upload.jsonl",
}
MEDIA_TYPES = ("multipart/form-data", *BODY_TYPES)
DEFAULT_FILE_NAME = "upload.csv"
KEPT_JOBS = 200  # finished jobs kept in memory for GET; the recorded ones stay in the read model
MAX_UPLOAD_BYTES = 256 * 1024 * 1024  # a file of IMDi's history (a million person-level events is about
# 160 MB); other requests take at most max_body_bytes
MAX_UNFINISHED = 4  # imports running or waiting their turn, each holding its file: more are refused (503)
FORM_FIELDS = {"file", "file_name", "dry_run", "skip_invalid", "revise"}
FLAGS = {"true": True, "false": False}
FAILED = (
    "The import failed on our side; it is not recorded as imported. Post it again (what a large file "
    "stored already is found and kept), or ask the operator."
)

NOT_STARTED = (
    "The import could not be started: the store's database cannot be written now; try again shortly."
)

CHANGED_MEANWHILE = (
    "Other writes changed the same figures at the same moment; the file is not recorded as imported. "
    "Post it again (what a large file stored already is found and kept)."
)

_short_text: TypeAdapter[str] = TypeAdapter(ShortText)


# The jobs of this process --------------------------------------------------------------------------


class ImportJobs:
    """The imports of this process: a registry by import id, and one import at a time; with ``shared``,
    also the jobs of the store's other server processes (and this one's written there for them)."""

    def __init__(self, shared: SharedJobs | None = None) -> None:
        self._jobs: dict[str, ImportJob] = {}
        self._lock = threading.Lock()  # guards the registry
        self._one_at_a_time = threading.Lock()  # imports run one after the other
        self._threads: list[threading.Thread] = []
        self.shared = shared

    def get(self, import_id: str) -> ImportJob | None:
        """The file's job: this process's while it runs here or when this process ran the last one;
        else the last one as the store's database holds it (run by another process)."""
        with self._lock:
            job = self._jobs.get(import_id)
            local = _snapshot(job) if job is not None else None
        if self.shared is None or (local is not None and local.state == "running"):
            return local
        other = self.shared.get(import_id)
        if other is None or (local is not None and other.owner == self.shared.owner):
            return local
        return other

    def all(self) -> list[ImportJob]:
        with self._lock:
            jobs = {job.id: _snapshot(job) for job in self._jobs.values()}
        if self.shared is not None:
            for other in self.shared.all():
                mine = jobs.get(other.id)
                if mine is None or (mine.state != "running" and other.owner != self.shared.owner):
                    jobs[other.id] = other
        return list(jobs.values())

    def submit(self, app: SettlementApp, content: bytes, job: ImportJob) -> ImportJob:
        """Starts ``job``, or answers the same file's import already running with the same options (here or
        on another server process)."""
        with self._lock:
            running = self._jobs.get(job.id)
            if running is not None and running.state == "running":
                return self._same_or_refused(running, job)
            if sum(j.state == "running" for j in self._jobs.values()) >= MAX_UNFINISHED:
                raise Busy(f"{MAX_UNFINISHED} imports are running or waiting their turn; try again shortly.")
            earlier = self._jobs.pop(
                job.id, None
            )  # a refused, failed or dry run before: this one replaces it
            self._jobs[job.id] = job
            started = _snapshot(job)
        if self.shared is not None:
            try:
                other = self.shared.claim(started)
            except SQLAlchemyError as error:
                log.error("An import could not be started: %s", type(error).__name__)
                self._unregister(job, earlier)
                raise Busy(NOT_STARTED) from None
            if other is not None:  # another process runs this file now
                self._unregister(job, earlier)
                return self._same_or_refused(other, job)
        with self._lock:
            self._forget_oldest()
        thread = threading.Thread(target=self._run, args=(app, content, job), name=f"import-{job.id[:8]}")
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return started

    def _unregister(self, job: ImportJob, earlier: ImportJob | None) -> None:
        with self._lock:
            if self._jobs.get(job.id) is job:
                del self._jobs[job.id]
                if earlier is not None:
                    self._jobs[job.id] = earlier

    @staticmethod
    def _same_or_refused(running: ImportJob, job: ImportJob) -> ImportJob:
        if running.same_request(job):
            return _snapshot(running)
        raise RuleViolation(
            "R15",
            "This file is being imported with other options; wait until that import has finished.",
            refusal=Refusal.STATE,
            field="file",
        )

    def wait(self, timeout: float = 60.0) -> None:
        """Lets the imports running or waiting finish (the server's shutdown); those still running then
        are marked failed for the other processes at once (this process stops under them)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        if self.shared is not None:
            with self._lock:
                unfinished = [job.id for job in self._jobs.values() if job.state == "running"]
            self.shared.abandoned(unfinished)

    def _forget_oldest(self) -> None:
        finished = [j for j in self._jobs.values() if j.state != "running"]
        for job in sorted(finished, key=lambda j: j.started_at)[: max(0, len(finished) - KEPT_JOBS)]:
            del self._jobs[job.id]

    def _run(self, app: SettlementApp, content: bytes, job: ImportJob) -> None:
        shared = self.shared

        def progress(done: int, total: int) -> None:
            with self._lock:
                job.progress = {"figures_done": done, "figures": total}
            if shared is not None:
                shared.progressed(job.id, done, total)

        alive = threading.Event()
        if shared is not None:  # the heartbeat that tells other processes this one still runs the job
            threading.Thread(target=_beat, args=(shared, job.id, alive), daemon=True).start()
        state: State
        message = report = None
        try:
            with self._one_at_a_time:
                result = import_file(
                    app, content, job.file_name, dry_run=job.dry_run, skip_invalid=job.skip_invalid,
                    revise_reason=job.revise, progress=progress,
                )  # fmt: skip
            report = result.as_dict()
            state = _state_of(result.already_imported, result.imported, result.dry_run, result.refused)
            message = _refusal(report) if state == "refused" else None
        except NotThisFormat as error:
            state, message = "refused", str(error)
        except RuleViolation as error:
            if error.rule == "R15" and error.field == "file":  # recorded meanwhile, by another server
                state, message = "already_imported", "This file was imported meanwhile; nothing was appended."
            else:
                state, message = "refused", f"{error.rule}: {error.message}"
        except ConcurrencyConflict:
            state, message = "failed", CHANGED_MEANWHILE
        except Exception as error:  # any failure is the job's state, and the log's
            # The type only: a message may quote the file's rows or the database's (personal data).
            log.error("Import %s of a file failed: %s", job.id, type(error).__name__)
            state, message = "failed", FAILED
        with self._lock:
            job.state, job.message, job.report = state, message, report
            job.finished_at = datetime.now(UTC)
            finished = _snapshot(job)
        alive.set()
        if shared is not None:
            shared.finished(finished)


def _beat(shared: SharedJobs, import_id: str, done: threading.Event) -> None:
    while not done.wait(HEARTBEAT_SECONDS):
        shared.beat(import_id)


def _state_of(already_imported: bool, was_imported: bool, dry_run: bool, refused: bool) -> State:
    if already_imported:
        return "already_imported"
    if was_imported:
        return "imported"
    if dry_run and not refused:
        return "validated"
    return "refused"


def _refusal(report: dict[str, Any]) -> str:
    """Why a file was refused, and what to do (the report lists the lines)."""
    reasons = []
    if report["bad_rows"]:
        reasons.append(f"{len(report['bad_rows'])} bad rows")
    if report["conflicts"]:
        reasons.append(f"{len(report['conflicts'])} figures or facts that contradict the stored ones")
    return (
        f"Nothing was imported: the file has {' and '.join(reasons) or 'errors'} (see the report). Fix the "
        "file, or post it again with skip_invalid=true (the good rows) or revise=REASON (the conflicts)."
    )


def _snapshot(job: ImportJob) -> ImportJob:
    return replace(job, progress=dict(job.progress))


_registry_lock = threading.Lock()


def jobs_of(request: Request) -> ImportJobs:
    """The import jobs of this app (made on first use, on the app's state)."""
    state = request.app.state
    with _registry_lock:
        if getattr(state, "imports", None) is None:
            # The jobs' table is written: on the store's primary, never a read replica.
            engine = getattr(state, "import_jobs_engine", None) or state.reads.engine
            state.imports = ImportJobs(SharedJobs(engine, app_keys(state.settlement)))
        return state.imports


# Shapes ---------------------------------------------------------------------------------------------


class ImportReportView(Model):
    """What the import did, or would do (a dry run): the same report as ``settlement import --json``."""

    file_name: str
    checksum: str
    file_format: str
    dry_run: bool
    rows: int
    figures: int
    recorded: int = Field(description="Figures appended as events")
    unchanged: int = Field(description="Figures the store already had")
    revised: int = Field(description="Figures recorded as revisions (revise)")
    derived_rows: int
    other_levels: int
    missing_figures: int
    municipalities_registered: list[str]
    bad_rows: list[dict[str, Any]] = Field(description="Each with its line and reason")
    conflicts: list[dict[str, Any]] = Field(
        description="Figures that contradict stored ones, with their line"
    )
    mismatches: list[dict[str, Any]] = Field(description="Totals in the file its municipality rows miss")
    already_imported: bool
    imported: bool
    refused: bool
    position: int = Field(description="Log position reached; read with ?min_position= to see the figures")


class ImportView(Model):
    """One import: an upload's job (while running, or since it finished, on any server process), or a
    recorded file."""

    id: str = Field(description="The import's id: the id of the file's import record, from its checksum")
    state: State = Field(
        description="running, then imported, already_imported, refused (bad rows, conflicts, not this "
        "format: nothing stored), validated (a dry run that would import) or failed (nothing stored)"
    )
    file_name: str
    checksum: str
    file_format: str | None = None
    dry_run: bool = False
    submitted_by: str | None = Field(default=None, description="Who uploaded it (uploads' jobs)")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    recorded_at: datetime | None = Field(default=None, description="When the import record was appended")
    recorded_by: str | None = Field(default=None, description="The actor of the import record")
    rows: int | None = None
    recorded: int | None = None
    unchanged: int | None = None
    skipped: int | None = None
    revised: int | None = None
    position: int | None = Field(default=None, description="Log position reached (pass as ?min_position=)")
    message: str | None = Field(default=None, description="Why it was refused or failed")


class ImportProgress(Model):
    figures_done: int
    figures: int


class ImportDetail(ImportView):
    """One import with its progress and full report (the report while the upload's job is kept)."""

    progress: ImportProgress | None = None
    report: ImportReportView | None = None


def recorded_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["import_id"], "state": "imported", "file_name": row["file_name"], "checksum": row["checksum"],
        "file_format": row["file_format"], "recorded_at": row["recorded_at"], "recorded_by": row["actor_sub"],
        "rows": row["rows"], "recorded": row["recorded"], "unchanged": row["unchanged"],
        "skipped": row["skipped"], "revised": row["revised"], "position": row["position"],
    }  # fmt: skip


def job_view(job: ImportJob, row: dict[str, Any] | None = None, *, detail: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = dict.fromkeys(("rows", "recorded", "unchanged", "skipped", "revised", "position"))
    if row is not None:
        view.update(recorded_view(row))
    report = job.report or {}
    view.update(
        id=job.id, state=job.state, file_name=job.file_name, checksum=job.checksum,
        file_format=report.get("file_format", view.get("file_format")), dry_run=job.dry_run,
        submitted_by=job.submitted_by, started_at=job.started_at, finished_at=job.finished_at,
        message=job.message,
    )  # fmt: skip
    if report:
        stored = job.state in ("imported", "validated")
        skipped = len(report["bad_rows"]) + len(report["conflicts"]) if stored else 0
        view.update(
            rows=report["rows"], recorded=report["recorded"], unchanged=report["unchanged"],
            revised=report["revised"], skipped=skipped if view["skipped"] is None else view["skipped"],
            position=report["position"] or view.get("position"),
        )  # fmt: skip
    if detail:
        view.update(progress=job.progress if job.state == "running" else None, report=job.report)
    return view


# The upload -----------------------------------------------------------------------------------------


@dataclass
class Upload:
    content: bytes
    file_name: str
    dry_run: bool
    skip_invalid: bool
    revise: str | None


def _invalid(key: str, message: str) -> ValidationException:
    """422 naming the form field; each ``message`` has its template ``%(key)s <message>.`` in api.messages."""
    return ValidationException(" ".join((key, message)) + ".", extra=[{"key": key, "message": message}])


def _text(value: str, key: str) -> str:
    try:
        return _short_text.validate_python(value)
    except PydanticValidationError:
        raise _invalid(key, "must be one line of at most 300 characters") from None


def _file_name(value: str) -> str:
    name = PurePosixPath(_text(value, "file_name").replace("\\", "/")).name.strip()
    if not name:
        raise _invalid("file_name", "must name a file")
    return name


def _flag(form: Any, key: str, default: bool) -> bool:
    values = form.getall(key, [])
    if not values:
        return default
    if len(values) > 1 or not isinstance(values[0], str) or values[0].strip().lower() not in FLAGS:
        raise _invalid(key, "must be true or false")
    return FLAGS[values[0].strip().lower()]


def _form_text(form: Any, key: str) -> str | None:
    values = form.getall(key, [])
    if not values:
        return None
    if len(values) > 1 or not isinstance(values[0], str):
        raise _invalid(key, "must be given once, as text")
    return values[0]


async def _read_upload(
    request: Request, file_name: str | None, dry_run: bool, skip_invalid: bool, revise: str | None
) -> Upload:
    """The file and the options, from a multipart form (its fields win) or the body: IMDi's statistics
    as text/csv, a person-level history as application/x-ndjson (or application/jsonl)."""
    media_type = request.content_type[0].lower()
    if media_type not in MEDIA_TYPES:
        raise UnsupportedMediaType(
            "Send the file as multipart/form-data (a part named file) or as the body, Content-Type: text/csv "
            "(IMDi's statistics) or application/x-ndjson (a person-level history)."
        )
    if media_type in BODY_TYPES:
        content = await request.body()
        name = file_name or BODY_TYPES[media_type]
    else:
        form = await request.form()
        unknown = sorted(set(form.keys()) - FORM_FIELDS)
        if unknown:
            raise _invalid(unknown[0], "is not a field of this form")
        parts = form.getall("file", [])
        if len(parts) != 1:
            raise _invalid("file", "must be one part of the form")
        part = parts[0]
        if isinstance(part, UploadFile):
            content = await part.read()
            await part.close()
            name = _form_text(form, "file_name") or file_name or part.filename or DEFAULT_FILE_NAME
        else:
            content = str(part).encode("utf-8")
            name = _form_text(form, "file_name") or file_name or DEFAULT_FILE_NAME
        dry_run = _flag(form, "dry_run", dry_run)
        skip_invalid = _flag(form, "skip_invalid", skip_invalid)
        revise = _form_text(form, "revise") or revise
    if not content.strip():
        raise _invalid("file", "is empty")
    if revise is not None:
        revise = _text(revise, "revise").strip()
        if not revise:
            raise _invalid("revise", "needs a reason")
    return Upload(content, _file_name(name), dry_run, skip_invalid, revise)


def check_may_import(request: Request) -> None:
    """Only the roles of the role table may import (403, naming the rule), before the body is read."""
    permission = PERMISSIONS[c.RecordImport]
    if request.user.role not in permission.roles:
        raise RuleViolation(
            permission.rule,
            "Only %(roles)s may %(action)s.",
            refusal=Refusal.FORBIDDEN,
            field="role",
            params={"roles": roles_in_words(permission.roles), "action": Text(permission.action)},
        )


def submit_upload(request: Request, upload: Upload) -> Response[ImportDetail]:
    """Starts the import (202), or answers at once that the file is imported already (200)."""
    app: SettlementApp = request.app.state.settlement
    checksum = checksum_of(upload.content)
    import_id = str(Import.create_id(checksum))
    headers = {"Location": f"{request.scope.get('root_path', '')}/api/v1/imports/{import_id}"}
    record = app.imported(checksum)
    if record is not None:
        view = ImportDetail(
            id=import_id, state="already_imported", file_name=upload.file_name, checksum=checksum,
            file_format=record.file_format, dry_run=upload.dry_run, submitted_by=request.user.sub,
            rows=record.rows, recorded=0, unchanged=0, skipped=0, revised=0,
            message=f"This file was imported before, as {record.file_name}; nothing was appended.",
        )  # fmt: skip
        return Response(view, status_code=200, headers=headers)
    job = ImportJob(
        id=import_id, file_name=upload.file_name, checksum=checksum, dry_run=upload.dry_run,
        skip_invalid=upload.skip_invalid, revise=upload.revise, submitted_by=request.user.sub,
        started_at=datetime.now(UTC),
    )  # fmt: skip
    started = jobs_of(request).submit(app, upload.content, job)
    return Response(ImportDetail(**job_view(started, detail=True)), status_code=202, headers=headers)


class _FileBody(Operation):
    """The upload's request body in the OpenAPI document: a multipart form, or the CSV itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        flag = Schema(type=OpenAPIType.BOOLEAN, default=False)
        self.request_body = RequestBody(
            required=True,
            description="IMDi's statistics in long format (CSV) or a person-level history (JSON lines): a "
            "multipart form with a part named file (and optionally the fields dry_run, skip_invalid, revise, "
            "file_name), or the file itself as the body with Content-Type: text/csv or application/x-ndjson "
            "and the options as query parameters.",
            content={
                "multipart/form-data": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["file"],
                        properties={
                            "file": Schema(type=OpenAPIType.STRING, format="binary"),  # type: ignore[arg-type]
                            "file_name": Schema(type=OpenAPIType.STRING, max_length=300),
                            "dry_run": flag,
                            "skip_invalid": flag,
                            "revise": Schema(type=OpenAPIType.STRING, max_length=300),
                        },
                    )
                ),
                **{media: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)) for media in BODY_TYPES},
            },
        )


# The routes -----------------------------------------------------------------------------------------


class ImportController(Controller):
    """Imports of IMDi's statistics (R15)."""

    path = "/imports"
    tags = ("imports",)

    @post(
        "/",
        operation_id="importFile",
        status_code=202,
        request_max_body_size=MAX_UPLOAD_BYTES,
        responses={
            200: ResponseSpec(ImportDetail, description="This file was imported before: nothing appended")
        },
        opt={**sends(c.RecordImport), "body": "file", "problems": (503,)},  # 503: too many queued
        operation_class=_FileBody,
    )
    async def upload(
        self,
        request: Request,
        dry_run: Annotated[bool, QueryParameter(description="Validate and count, store nothing")] = False,
        skip_invalid: Annotated[
            bool, QueryParameter(description="Import the good rows, list the bad ones and the conflicts")
        ] = False,
        revise: Annotated[
            str | None,
            QueryParameter(
                max_length=300,
                description="A reason: record figures that differ from the stored ones as revisions",
            ),
        ] = None,
        file_name: Annotated[
            str | None,
            QueryParameter(
                max_length=300, description=f"The file's name (text/csv body; default {DEFAULT_FILE_NAME})"
            ),
        ] = None,
    ) -> Response[ImportDetail]:
        """Import a file of IMDi's statistics (R15): answers 202 with the import's id at once (follow it at
        Location), or 200 with state already_imported for a file imported before (nothing appended)."""
        check_may_import(request)
        upload = await _read_upload(request, file_name, dry_run, skip_invalid, revise)
        return await anyio.to_thread.run_sync(partial(submit_upload, request, upload))

    @get("/", operation_id="listImports", sync_to_thread=True, opt=allowed(Role.IMDI))
    def list_imports(self, request: Request, reads: Reads) -> list[ImportView]:
        """Every import, the newest first: the recorded files, and the uploads not recorded
        (running, refused, failed, dry runs)."""
        rows = {row["import_id"]: row for row in reads.query(imports)}
        jobs = {job.id: job for job in jobs_of(request).all()}
        found: list[tuple[datetime, ImportView]] = []
        for import_id, row in rows.items():
            if import_id not in jobs:
                found.append((row["recorded_at"], ImportView(**recorded_view(row))))
        for job in jobs.values():
            found.append((job.started_at, ImportView(**job_view(job, rows.get(job.id)))))
        return [view for _, view in sorted(found, key=lambda f: f[0], reverse=True)]

    @get("/{import_id:str}", operation_id="getImport", sync_to_thread=True, opt=allowed(Role.IMDI))
    def get_import(self, request: Request, reads: Reads, import_id: FromPath[Id]) -> ImportDetail:
        """One import: the state, progress and full report of the file's last upload (from any server
        process), else the summary of its record (state imported)."""
        key = str(path_id(import_id, "import"))
        job = jobs_of(request).get(key)
        row = reads.query(imported, key)
        if job is not None:
            return ImportDetail(**job_view(job, row, detail=True))
        if row is None:
            raise NotFound("import", import_id)
        return ImportDetail(**recorded_view(row))
