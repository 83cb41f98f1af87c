"""Stream a dataset's items as CSV or JSONL (the layout is in IMPORT.md, "Export").

Rows are read with a database iterator and written in chunks, so a large dataset is never held in
memory and the first bytes leave before the last row is read.
"""

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime

from datasets.models import Dataset, ImportFormat
from datasets.selectors import dataset_item_list
from evalsite.tenancy.models import Project

COLUMNS = ["id", "input", "expectedOutput", "metadata", "sourceTraceId", "sourceObservationId", "status", "createdAt", "version"]
FIELDS = [
    "item_id",
    "input",
    "expected_output",
    "metadata",
    "source_trace_id",
    "source_observation_id",
    "status",
    "created_at",
    "version",
]
ROWS_PER_CHUNK = 500
CONTENT_TYPES = {ImportFormat.CSV: "text/csv; charset=utf-8", ImportFormat.JSONL: "application/x-ndjson; charset=utf-8"}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _csv_cell(value) -> str:
    """Text stays text (readable in a spreadsheet); other JSON values are written as JSON; null is empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return _iso(value)
    return json.dumps(value, ensure_ascii=False)


def export_filename(dataset: Dataset, export_format: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", dataset.name).strip("_") + f".{export_format}"


def export_chunks(
    *,
    project: Project,
    dataset: Dataset,
    export_format: str,
    version: datetime | None = None,
    include_archived: bool = False,
) -> Iterator[str]:
    rows = (
        dataset_item_list(project=project, dataset=dataset, version=version, include_archived=include_archived)
        .values_list(*FIELDS)
        .iterator(chunk_size=2000)
    )
    if export_format == ImportFormat.CSV:
        yield from _csv_chunks(rows)
    else:
        yield from _jsonl_chunks(rows)


def _csv_chunks(rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow([_csv_cell(value) for value in row])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _jsonl_chunks(rows) -> Iterator[str]:
    lines = []
    for row in rows:
        record = dict(zip(COLUMNS, row, strict=True))
        record["createdAt"], record["version"] = _iso(record["createdAt"]), _iso(record["version"])
        lines.append(json.dumps(record, ensure_ascii=False))
        if len(lines) == ROWS_PER_CHUNK:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"
