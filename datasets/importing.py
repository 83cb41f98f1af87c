"""Import CSV and JSONL files into a dataset as a resumable job (mapping format: IMPORT.md).

How a job runs (`import_job_run`, called by the django-q task `datasets.tasks.run_import`). An
import is a leased job (evalsite/jobs/README.md): one worker at a time holds it, and the sweep of
every worker cluster re-enqueues it when that worker dies, on the Redis broker as on the ORM one.

1. Claim the lease (`job_claim`): a finished job, or one a live worker holds, is left alone (a
   re-run does nothing). The claim counts an attempt; a job that keeps crashing is failed on the
   claim after MAX_ATTEMPTS instead of being resumed forever.
2. Re-read the plan from the row (mapping, file), count the records once.
3. `all_or_nothing`: convert and validate every record first (renewing the lease as it goes); any
   invalid row fails the job with the errors and nothing is added. The insert phase below then
   only meets valid rows.
4. Batches of BATCH_SIZE records, each in one transaction that renews the lease (a worker that
   lost it stops before writing), inserts the batch's items and their revisions (one version per
   batch) and advances the cursor (`progress_done`) and counters. A worker killed mid-batch loses
   only that uncommitted batch; the resumed job starts at the cursor. Item ids are
   `<job id>-<line number>`, so even a replayed batch could not add a row twice (existing ids are
   skipped by `dataset_items_create_many`), and items of one import sort in file order.
"""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from datasets.models import CellFormat, Dataset, ImportFormat, ImportJob, ImportMode, ImportStatus
from datasets.schemas import ItemSchemas
from datasets.services import NewItem, dataset_items_create_many
from evalsite import text
from evalsite.api.errors import PayloadTooLarge
from evalsite.jobs import LeaseLost, enqueue_after_commit, job_claim, job_finish, job_renew
from evalsite.json_values import TOO_DEEP, json_value_problem
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.models import Project

MAX_IMPORT_BYTES = 100 * 1024 * 1024
MAX_STORED_ERRORS = 1000
# Claims of one job (a worker that died or an error each cost one) before the job is failed.
MAX_ATTEMPTS = 5
BATCH_SIZE = 1000
IMPORT_TASK = "datasets.tasks.run_import"

# Mapping keys (API names) → item fields.
MAPPING_FIELDS = {
    "input": "input",
    "expectedOutput": "expected_output",
    "metadata": "metadata",
    "sourceTraceId": "source_trace_id",
    "sourceObservationId": "source_observation_id",
}
ID_FIELDS = ("sourceTraceId", "sourceObservationId")
# The layout of our own exports, so an export imports back without a mapping.
DEFAULT_MAPPING = {"input": "input", "expectedOutput": "expectedOutput?", "metadata": "metadata?"}

# Python's csv module refuses cells over 128 KiB by default; an item's input can be larger.
csv.field_size_limit(max(csv.field_size_limit(), MAX_IMPORT_BYTES))


class RowError(Exception):
    """A record that cannot become an item; the message says why (the line is added by the caller)."""


def loads_strict(line: str) -> Any:
    """JSON through the platform's text rule (evalsite/text.py) and within its bounds
    (evalsite/json_values.py); ValueError for anything else."""
    try:
        value = text.loads(line)
    except RecursionError:
        raise ValueError(TOO_DEEP) from None
    problem = json_value_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# --- mapping --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    text: str  # as written, without the trailing "?"
    parts: tuple[str, ...]  # CSV: (column,); JSONL: the dotted segments
    optional: bool  # "?": a missing value is null instead of a row error


def _mapping_error(where: str, message: str) -> ValidationError:
    return ValidationError({where: [message]})


def _compile_path(text: str, import_format: str, where: str) -> Path:
    optional = text.endswith("?")
    name = text[:-1] if optional else text
    if not name:
        raise _mapping_error(where, "must name a column (CSV) or a path (JSONL)")
    if import_format == ImportFormat.CSV:
        return Path(name, (name,), optional)
    parts = tuple(name.split("."))
    if "" in parts:
        raise _mapping_error(where, f"{name!r} has an empty path segment")
    return Path(name, parts, optional)


def _compile_spec(spec: Any, import_format: str, where: str):
    if isinstance(spec, str):
        return _compile_path(spec, import_format, where)
    if isinstance(spec, list):
        if not spec:
            raise _mapping_error(where, "must not be an empty list")
        compiled = {}
        for index, entry in enumerate(spec):
            if not isinstance(entry, str):
                raise _mapping_error(f"{where}[{index}]", "must be a column name or path")
            path = _compile_path(entry, import_format, f"{where}[{index}]")
            compiled[path.text] = path
        return compiled
    if isinstance(spec, dict):
        if not spec:
            raise _mapping_error(where, "must not be an empty object")
        return {key: _compile_spec(value, import_format, f"{where}.{key}") for key, value in spec.items()}
    raise _mapping_error(where, "must be a column name or path, a list of them, or an object of them")


def compile_mapping(mapping: Any, import_format: str) -> dict:
    """Check a mapping and turn it into {mapping key: Path or nested dict}; ValidationError names
    the offending place, e.g. `mapping.input.context`."""
    if mapping is None:
        mapping = DEFAULT_MAPPING
    if not isinstance(mapping, dict):
        raise _mapping_error("mapping", "must be an object, e.g. {\"input\": \"question\", \"expectedOutput\": \"answer\"}")
    unknown = sorted(set(mapping) - set(MAPPING_FIELDS))
    if unknown:
        raise _mapping_error(f"mapping.{unknown[0]}", f"unknown key; the keys are {', '.join(MAPPING_FIELDS)}")
    if mapping.get("input") is None:
        raise _mapping_error("mapping.input", "is required")
    compiled = {}
    for key, spec in mapping.items():
        if spec is None:
            continue
        if key in ID_FIELDS and not isinstance(spec, str):
            raise _mapping_error(f"mapping.{key}", "must be a single column name or path")
        compiled[key] = _compile_spec(spec, import_format, f"mapping.{key}")
    return compiled


def _paths(spec) -> Iterator[Path]:
    if isinstance(spec, Path):
        yield spec
    else:
        for sub in spec.values():
            yield from _paths(sub)


# --- reading files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    line: int  # where the record starts in the file, from 1
    value: Any  # CSV: {column: cell}; JSONL: the parsed line
    problem: str | None = None  # the record could not be read


class ImportPlan:
    """A file, its format and its mapping, checked: turns the file into records and records into items."""

    def __init__(self, *, import_format: str, content: str, mapping: Any, cell_format: str = CellFormat.TEXT):
        if import_format not in ImportFormat.values:
            raise _mapping_error("format", f"must be one of {', '.join(ImportFormat.values)}")
        self.format, self.content, self.cell_format = import_format, content, cell_format
        self.fields = compile_mapping(mapping, import_format)
        self.header: list[str] = []
        if import_format == ImportFormat.CSV:
            self._check_csv_header()
        elif not any(line.strip() for line in content.split("\n")):
            raise _mapping_error("file", "has no lines")

    def _check_csv_header(self) -> None:
        reader = csv.reader(io.StringIO(self.content, newline=""))
        try:
            self.header = next((row for row in reader if row), [])
        except csv.Error as error:
            raise _mapping_error("file", f"the CSV header cannot be read: {error}") from None
        if not self.header:
            raise _mapping_error("file", "has no header row")
        for key, spec in self.fields.items():
            for path in _paths(spec):
                if path.text not in self.header and not path.optional:
                    raise _mapping_error(
                        f"mapping.{key}", f"column {path.text!r} is not in the file's header ({', '.join(self.header)})"
                    )
                if self.header.count(path.text) > 1:
                    raise _mapping_error(f"mapping.{key}", f"column {path.text!r} appears twice in the header")

    def records(self) -> Iterator[Record]:
        return self._csv_records() if self.format == ImportFormat.CSV else self._jsonl_records()

    def count(self) -> int:
        if self.format == ImportFormat.JSONL:
            return sum(1 for line in self.content.split("\n") if line.strip())
        return sum(1 for _ in self._csv_records())

    def _csv_records(self) -> Iterator[Record]:
        reader = csv.reader(io.StringIO(self.content, newline=""))
        header_seen = False
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield Record(start, None, f"unreadable CSV: {error}")
                continue
            if not row:
                continue  # a blank line
            if not header_seen:
                header_seen = True
                continue
            if len(row) > len(self.header):
                yield Record(start, None, f"has {len(row)} cells but the header has {len(self.header)}")
                continue
            yield Record(start, dict(zip(self.header, row, strict=False)))

    def _jsonl_records(self) -> Iterator[Record]:
        # split("\n") and not splitlines(): JSON strings may hold U+2028 and other line breaks.
        for index, line in enumerate(self.content.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                yield Record(index, loads_strict(line))
            except ValueError as error:
                yield Record(index, None, f"invalid JSON: {error}")

    def item(self, record: Record, item_id: str) -> NewItem:
        """The item a record maps to; RowError says why it cannot."""
        if record.problem:
            raise RowError(record.problem)
        values = {}
        for key, spec in self.fields.items():
            value = self._extract(spec, record.value, raw=key in ID_FIELDS)
            if key in ID_FIELDS:
                if value == "":
                    value = None
                elif value is not None and not isinstance(value, str):
                    raise RowError(f"{key}: must be a string, got {json.dumps(value)[:50]}")
            values[MAPPING_FIELDS[key]] = value
        return NewItem(item_id=item_id, **values)

    def _extract(self, spec, value: Any, *, raw: bool) -> Any:
        if isinstance(spec, dict):
            return {key: self._extract(sub, value, raw=raw) for key, sub in spec.items()}
        if self.format == ImportFormat.CSV:
            return self._cell(spec, value, raw=raw)
        current = value
        for part in spec.parts:
            if isinstance(current, dict) and part in current:
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            elif spec.optional:
                return None
            else:
                raise RowError(f"no value at {spec.text!r}")
        return current

    def _cell(self, path: Path, row: dict, *, raw: bool) -> Any:
        cell = row.get(path.text)
        if cell is None:  # the column is missing, or the row is short
            if path.optional:
                return None
            raise RowError(f"no cell for column {path.text!r}")
        if raw or self.cell_format == CellFormat.TEXT:
            return cell
        if cell == "":
            return None
        try:
            return loads_strict(cell)
        except ValueError:
            return cell


# --- jobs -----------------------------------------------------------------------------------------


def decode_upload_file(upload) -> str:
    """The text of an uploaded file, refused (413) by its size before it is read."""
    if upload.size > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"An import file may be at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    return decode_upload(upload.read())


def decode_upload(data: bytes) -> str:
    """The text of an uploaded file (UTF-8, with or without the BOM spreadsheets write)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"An import file may be at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _mapping_error("file", f"is not UTF-8 text ({error.reason} at byte {error.start})") from None


def format_from_filename(filename: str) -> str | None:
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        return ImportFormat.CSV
    if lowered.endswith((".jsonl", ".ndjson")):
        return ImportFormat.JSONL
    return None


@transaction.atomic
def import_job_create(
    *,
    project: Project,
    dataset: Dataset,
    import_format: str | None,
    content: str,
    mapping: Any = None,
    mode: str = ImportMode.SKIP_INVALID,
    cell_format: str = CellFormat.TEXT,
    filename: str = "",
    actor: Actor,
) -> ImportJob:
    """Check the file and mapping (ValidationError naming the field), store the job, enqueue it."""
    if dataset.project_id != project.pk:
        raise ValueError("dataset of another project")
    import_format = import_format or format_from_filename(filename)
    if import_format is None:
        raise _mapping_error("format", "is required (csv or jsonl) when the file name does not tell")
    if len(content) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"An import file may be at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    # The platform's rule for text (evalsite/text.py); the content is stored in a text column.
    content = text.storable_str(content)
    if content.startswith("\ufeff"):
        content = content[1:]
    if mode not in ImportMode.values:
        raise _mapping_error("mode", f"must be one of {', '.join(ImportMode.values)}")
    if cell_format not in CellFormat.values:
        raise _mapping_error("cellFormat", f"must be one of {', '.join(CellFormat.values)}")
    ImportPlan(import_format=import_format, content=content, mapping=mapping, cell_format=cell_format)
    job = ImportJob.objects.create(
        project=project,
        dataset=dataset,
        format=import_format,
        mode=mode,
        cell_format=cell_format,
        mapping=DEFAULT_MAPPING if mapping is None else mapping,
        filename=filename[:255],
        content=content,
        created_by=actor.user,
        created_by_api_key=actor.api_key,
    )
    enqueue_after_commit(IMPORT_TASK, job.pk)
    return job


def _line_errors(plan: ImportPlan, records: list[Record], job: ImportJob, schemas: ItemSchemas | None):
    """(items, their lines, row errors) of a slice of records."""
    items, lines, errors = [], [], []
    for record in records:
        try:
            item = plan.item(record, f"{job.pk}-{record.line:08d}")
        except RowError as error:
            errors.append({"line": record.line, "message": str(error)})
            continue
        problem = schemas.first_error(item.input, item.expected_output) if schemas else None
        if problem:
            errors.append({"line": record.line, "message": problem})
            continue
        items.append(item)
        lines.append(record.line)
    return items, lines, errors


def _validate_all(plan: ImportPlan, job: ImportJob) -> tuple[int, list[dict]]:
    """all_or_nothing's first pass: (number of invalid rows, the first MAX_STORED_ERRORS errors).

    It writes nothing, so it renews the lease every BATCH_SIZE records to keep the job.
    """
    schemas = ItemSchemas.of(job.dataset)
    failed, kept = 0, []
    for position, record in enumerate(plan.records(), start=1):
        _, _, errors = _line_errors(plan, [record], job, schemas)
        failed += len(errors)
        if len(kept) < MAX_STORED_ERRORS:
            kept += errors
        if position % BATCH_SIZE == 0:
            job_renew(job)
    return failed, kept


def _run_batch(plan: ImportPlan, job: ImportJob, records: list[Record], actor: Actor) -> None:
    """Add one batch and advance the cursor, in one transaction; LeaseLost when the job is no longer ours."""
    with transaction.atomic():
        job_renew(job)
        # Read again per batch: a schema edited during the import applies from the next batch.
        dataset = Dataset.objects.get(project=job.project, pk=job.dataset_id)
        items, lines, errors = _line_errors(plan, records, job, None)
        if errors and job.mode == ImportMode.ALL_OR_NOTHING:
            raise ValidationError({"file": [f"line {errors[0]['line']}: {errors[0]['message']}"]})
        created = dataset_items_create_many(
            project=job.project,
            dataset=dataset,
            items=items,
            actor=actor,
            skip_invalid=job.mode == ImportMode.SKIP_INVALID,
        )
        errors += [{"line": lines[position], "message": problem} for position, problem in created.invalid.items()]
        errors.sort(key=lambda error: error["line"])
        progress = {
            "progress_done": job.progress_done + len(records),
            "progress_failed": job.progress_failed + len(errors),
            "progress_added": job.progress_added + len(created.created_ids),
            "errors": (job.errors + errors)[:MAX_STORED_ERRORS],
        }
        # The lease holder is the only writer, and the renewal above locked the row.
        ImportJob.objects.filter(pk=job.pk).update(**progress)
    for name, value in progress.items():
        setattr(job, name, value)


def import_job_run(*, job_id: str) -> None:
    """Run or resume the import job; does nothing for a finished or missing job, or one a live worker holds."""
    job = job_claim(
        ImportJob.objects.defer("content").select_related("dataset", "project", "created_by", "created_by_api_key"),
        pk=job_id,
    )
    if job is None:
        return
    if job.attempts > MAX_ATTEMPTS:
        job_finish(
            job,
            status=ImportStatus.FAILED,
            error=f"Gave up after {MAX_ATTEMPTS} attempts; {job.progress_added} items were added",
        )
        return
    try:
        _run_claimed(job)
    except LeaseLost:
        return  # another worker has the job now, or it was cancelled: nothing of ours to record
    except Exception as error:
        # Left running, the job is resumed by the sweep once its lease expires; on the last
        # attempt it is failed instead, so it does not stay "running".
        if job.attempts >= MAX_ATTEMPTS:
            job.refresh_from_db(fields=["progress_added"])
            job_finish(
                job,
                status=ImportStatus.FAILED,
                error=f"Failed after {job.attempts} attempts ({error}); {job.progress_added} items were added",
            )
        raise


def _run_claimed(job: ImportJob) -> None:
    content = ImportJob.objects.values_list("content", flat=True).get(pk=job.pk)
    try:
        plan = ImportPlan(import_format=job.format, content=content, mapping=job.mapping, cell_format=job.cell_format)
    except ValidationError as error:
        job_finish(
            job,
            status=ImportStatus.FAILED,
            error="; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items()),
        )
        return
    if job.progress_total is None:
        job.progress_total = plan.count()
        ImportJob.objects.filter(pk=job.pk).update(progress_total=job.progress_total)

    if job.mode == ImportMode.ALL_OR_NOTHING and job.progress_done == 0:
        failed, errors = _validate_all(plan, job)
        if failed:
            job_finish(
                job,
                status=ImportStatus.FAILED,
                error=f"{failed} of {job.progress_total} rows are invalid: nothing was added",
                progress_done=job.progress_total,
                progress_failed=failed,
                errors=errors,
            )
            return

    actor = Actor(user=job.created_by, api_key=job.created_by_api_key)
    position, batch = 0, []
    try:
        for record in plan.records():
            position += 1
            if position <= job.progress_done:
                continue
            batch.append(record)
            if len(batch) == BATCH_SIZE:
                _run_batch(plan, job, batch, actor)
                batch = []
        if batch:
            _run_batch(plan, job, batch, actor)
    except ValidationError as error:
        # Only reachable in all_or_nothing, when the dataset's schemas changed during the import.
        job_finish(
            job,
            status=ImportStatus.FAILED,
            error=f"Stopped: {' '.join(error.messages)}; {job.progress_added} items were added before",
        )
        return
    job_finish(job, status=ImportStatus.COMPLETED)
