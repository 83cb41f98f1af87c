"""Input and output shapes of the experiment endpoints (camelCase, as the Langfuse API has them)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from rest_framework import serializers

from evalsite.api.cursors import decode_cursor
from evalsite.api.fields import TimestampField
from experiments import hooks
from experiments.models import ExperimentRun, RunItem, RunSource

# --- input ---------------------------------------------------------------------------------------


class NullableCharField(serializers.CharField):
    """The SDK sends explicit nulls for unset optional fields: null means "not provided"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("allow_blank", False)
        super().__init__(**kwargs)


class DatasetRunItemCreateSerializer(serializers.Serializer):
    runName = serializers.CharField(max_length=500)
    runDescription = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    metadata = serializers.JSONField(required=False, allow_null=True)
    datasetItemId = serializers.CharField(max_length=200)
    traceId = NullableCharField(max_length=128)
    observationId = NullableCharField(max_length=128)
    datasetVersion = TimestampField(required=False, allow_null=True)
    createdAt = TimestampField(required=False, allow_null=True)

    def validate(self, attrs):
        if not attrs.get("traceId") and not attrs.get("observationId"):
            raise serializers.ValidationError({"traceId": ["traceId or observationId is required"]})
        return attrs


class DatasetRunItemListQuerySerializer(serializers.Serializer):
    datasetId = serializers.CharField()
    runName = serializers.CharField()


class CursorListQuerySerializer(serializers.Serializer):
    """Shared query of /experiments and /experiment-items (cursor pagination, start-time window)."""

    fromStartTime = TimestampField()
    toStartTime = TimestampField(required=False, allow_null=True)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50)
    scoreLimit = serializers.IntegerField(required=False, min_value=1, max_value=50, default=50)
    # Defaults, so that the validate_* methods below always run and always set these keys.
    cursor = serializers.CharField(required=False, allow_blank=True, default="")
    fields = serializers.CharField(required=False, allow_blank=True, default="")
    datasetId = serializers.CharField(required=False, allow_blank=True)
    filter = serializers.CharField(required=False, allow_blank=True, default="")

    field_groups: tuple[str, ...] = ()
    default_groups: tuple[str, ...] = ()
    filter_columns: dict[str, str] = {}

    def validate_fields(self, value: str) -> set[str]:
        groups = {part.strip() for part in value.split(",") if part.strip()}
        unknown = sorted(groups - set(self.field_groups))
        if unknown:
            raise serializers.ValidationError(
                f"unknown field group(s) {', '.join(unknown)}; available: {', '.join(self.field_groups)}"
            )
        return groups

    def validate_cursor(self, value: str) -> tuple[str, int] | None:
        return decode_cursor(value, field=None)

    def validate_filter(self, value: str) -> list[tuple[str, str, Any]]:
        return parse_filter(value, self.filter_columns) if value else []

    def validate(self, attrs):
        attrs["fields"] = attrs.get("fields") or set(self.default_groups)
        attrs["fields"] = set(attrs["fields"]) | {"core"}
        return attrs


class ExperimentListQuerySerializer(CursorListQuerySerializer):
    id = serializers.CharField(required=False, allow_blank=True)
    name = serializers.CharField(required=False, allow_blank=True)

    field_groups = ("core", "metadata", "scores")
    default_groups = ("core",)
    filter_columns = {"id": "run_id", "name": "name", "datasetId": "dataset_id"}


class ExperimentItemListQuerySerializer(CursorListQuerySerializer):
    experimentId = serializers.CharField(required=False, allow_blank=True)
    experimentName = serializers.CharField(required=False, allow_blank=True)
    experimentItemId = serializers.CharField(required=False, allow_blank=True)

    field_groups = ("core", "dataset", "io", "metadata", "itemMetadata", "experimentMetadata", "scores")
    default_groups = ("core", "dataset")
    filter_columns = {
        "experimentId": "run__run_id",
        "experimentName": "run__name",
        "experimentItemId": "item_key",
        "datasetId": "run__dataset_id",
    }


class ComparisonQuerySerializer(serializers.Serializer):
    baseline = serializers.CharField()
    candidate = serializers.CharField()
    method = serializers.ChoiceField(choices=["wilcoxon", "bootstrap"], required=False, default="wilcoxon")
    includeItems = serializers.BooleanField(required=False, default=True)


def comma_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


FILTER_OPERATORS = {"=", "!=", "any of", "none of", "contains", "starts with"}


def parse_filter(value: str, columns: dict[str, str]) -> list[tuple[str, str, Any]]:
    """Structured filters `[{"column", "operator", "value"}]` → [(orm field, operator, value)]."""
    try:
        conditions = json.loads(value)
    except json.JSONDecodeError:
        raise serializers.ValidationError("must be a JSON array of filter conditions") from None
    if not isinstance(conditions, list):
        raise serializers.ValidationError("must be a JSON array of filter conditions")
    parsed = []
    for index, condition in enumerate(conditions):
        if not isinstance(condition, dict):
            raise serializers.ValidationError(f"[{index}] must be an object with column, operator and value")
        column, operator, operand = condition.get("column"), condition.get("operator"), condition.get("value")
        if column not in columns:
            raise serializers.ValidationError(f"[{index}].column must be one of {', '.join(columns)}")
        if operator not in FILTER_OPERATORS:
            raise serializers.ValidationError(f"[{index}].operator must be one of {', '.join(sorted(FILTER_OPERATORS))}")
        if operator in ("any of", "none of"):
            if not isinstance(operand, list) or not all(isinstance(v, str) for v in operand):
                raise serializers.ValidationError(f"[{index}].value must be a list of strings for {operator!r}")
        elif not isinstance(operand, str):
            raise serializers.ValidationError(f"[{index}].value must be a string for {operator!r}")
        parsed.append((columns[column], operator, operand))
    return parsed


# --- output --------------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def score_v3(score) -> dict[str, Any]:
    """A Score as the v3 API shapes it: `value` typed by `dataType`, and what it scores as `subject`."""
    if score.data_type == "BOOLEAN":
        value: Any = bool(score.value) if score.value is not None else (score.string_value or "").lower() == "true"
    elif score.data_type == "NUMERIC":
        value = score.value
    else:
        value = score.string_value if score.string_value is not None else ""
    if score.dataset_run_id and not score.trace_id:
        subject: dict[str, Any] = {"kind": "experiment", "id": score.dataset_run_id}
    elif score.observation_id:
        subject = {"kind": "observation", "id": score.observation_id, "traceId": score.trace_id}
    elif score.trace_id:
        subject = {"kind": "trace", "id": score.trace_id}
    else:
        subject = {"kind": "session", "id": score.session_id}
    return {
        "id": score.score_id,
        "projectId": score.project_id,
        "name": score.name,
        "dataType": score.data_type,
        "value": value,
        "source": score.source,
        "timestamp": iso(score.timestamp),
        "environment": score.environment,
        "createdAt": iso(score.created_at),
        "updatedAt": iso(score.updated_at),
        "comment": score.comment,
        "configId": score.config_id,
        "metadata": score.metadata,
        "authorUserId": str(score.author_user_id) if score.author_user_id is not None else None,
        "queueId": score.queue_id,
        "subject": subject,
    }


def experiment_dict(run: ExperimentRun, fields: set[str], scores: list | None = None) -> dict[str, Any]:
    """An ExperimentRun annotated by selectors.experiment_run_list (item_count, activity_at)."""
    start = run.started_at or run.created_at
    data: dict[str, Any] = {
        "id": run.run_id,
        "name": run.name,
        "description": run.description,
        "startTime": iso(start),
        "endTime": iso(run.finished_at or start),
        "itemCount": run.item_count,
        "datasetId": run.dataset_id,
    }
    if "metadata" in fields:
        data["metadata"] = run.metadata if isinstance(run.metadata, dict) else None
    if "scores" in fields:
        data["scores"] = [score_v3(score) for score in scores or []]
    return data


def run_item_environment(item: RunItem) -> str:
    # RunItem keeps no environment of its own. Items derived from SDK spans (the only SDK items with
    # a measured latency) always ran in "sdk-experiment" (reference §5); links made by older SDKs and
    # platform runs belong to the default environment.
    from_spans = item.run.source == RunSource.SDK and item.latency_ms is not None
    return "sdk-experiment" if from_spans else "default"


def experiment_item_dict(item: RunItem, fields: set[str], scores: list | None = None) -> dict[str, Any]:
    run = item.run
    end = None
    if item.started_at is not None and item.latency_ms is not None:
        end = item.started_at + timedelta(milliseconds=item.latency_ms)
    data: dict[str, Any] = {
        "id": item.observation_id or str(item.pk),
        "traceId": item.trace_id or "",
        "startTime": iso(item.started_at or item.created_at),
        "endTime": iso(end),
        "level": "ERROR" if item.error else "DEFAULT",
        "environment": run_item_environment(item),
        "experimentId": run.run_id,
        "experimentName": run.name,
        "experimentItemId": item.item_key,
        "trial": item.trial,  # ours: which repetition of the item this is (1 unless the run repeats items)
    }
    if "dataset" in fields:
        data["experimentDatasetId"] = run.dataset_id
        data["experimentItemVersion"] = iso(item.item_version)
    if "io" in fields:
        data["input"] = item.input
        data["output"] = item.output
        data["expectedOutput"] = item.expected_output
    if "itemMetadata" in fields:
        metadata = item.dataset_item.metadata if item.dataset_item_id else None
        data["experimentItemMetadata"] = metadata if isinstance(metadata, dict) else None
    if "experimentMetadata" in fields:
        data["experimentMetadata"] = run.metadata if isinstance(run.metadata, dict) else None
        data["experimentDescription"] = run.description
    if "scores" in fields:
        data["scores"] = [score_v3(score) for score in scores or []]
    return data


def dataset_run_dict(run: ExperimentRun) -> dict[str, Any]:
    return {
        "id": run.run_id,
        "name": run.name,
        "description": run.description,
        "metadata": run.metadata,
        "datasetId": run.dataset_id,
        "datasetName": run.dataset.name if run.dataset_id else None,
        "createdAt": iso(run.created_at),
        "updatedAt": iso(run.updated_at),
    }


def dataset_run_item_dict(item: RunItem) -> dict[str, Any]:
    return {
        "id": str(item.pk),
        "datasetRunId": item.run.run_id,
        "datasetRunName": item.run.name,
        "datasetItemId": item.item_key,
        "traceId": item.trace_id,
        "observationId": item.observation_id,
        "createdAt": iso(item.created_at),
        "updatedAt": iso(item.updated_at),
    }


# --- response shapes for the OpenAPI schema (the views build the same keys in the *_dict functions) ---


class DatasetRunItemResponse(serializers.Serializer):
    id = serializers.CharField()
    datasetRunId = serializers.CharField()
    datasetRunName = serializers.CharField()
    datasetItemId = serializers.CharField()
    traceId = serializers.CharField(allow_null=True)
    observationId = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()


class DatasetRunResponse(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    metadata = serializers.JSONField(allow_null=True)
    datasetId = serializers.CharField()
    datasetName = serializers.CharField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()


class DatasetRunWithItemsResponse(DatasetRunResponse):
    datasetRunItems = DatasetRunItemResponse(many=True)


class ExperimentResponse(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    startTime = serializers.DateTimeField()
    endTime = serializers.DateTimeField()
    itemCount = serializers.IntegerField()
    datasetId = serializers.CharField(allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True, help_text="with fields=metadata")
    scores = serializers.ListField(child=serializers.DictField(), required=False, help_text="with fields=scores")


class ExperimentItemResponse(serializers.Serializer):
    id = serializers.CharField()
    traceId = serializers.CharField()
    startTime = serializers.DateTimeField()
    endTime = serializers.DateTimeField(allow_null=True)
    level = serializers.ChoiceField(choices=["DEBUG", "DEFAULT", "WARNING", "ERROR"])
    environment = serializers.CharField()
    experimentId = serializers.CharField()
    experimentName = serializers.CharField()
    experimentItemId = serializers.CharField()
    experimentDatasetId = serializers.CharField(required=False, allow_null=True, help_text="with fields=dataset")
    experimentItemVersion = serializers.DateTimeField(required=False, allow_null=True, help_text="with fields=dataset")
    input = serializers.JSONField(required=False, allow_null=True, help_text="with fields=io")
    output = serializers.JSONField(required=False, allow_null=True, help_text="with fields=io")
    expectedOutput = serializers.JSONField(required=False, allow_null=True, help_text="with fields=io")
    experimentItemMetadata = serializers.JSONField(required=False, allow_null=True, help_text="with fields=itemMetadata")
    experimentMetadata = serializers.JSONField(required=False, allow_null=True, help_text="with fields=experimentMetadata")
    experimentDescription = serializers.CharField(required=False, allow_null=True, help_text="with fields=experimentMetadata")
    scores = serializers.ListField(child=serializers.DictField(), required=False, help_text="with fields=scores")


class CursorMetaResponse(serializers.Serializer):
    cursor = serializers.CharField(allow_null=True, help_text="null on the last page")


class ExperimentsResponse(serializers.Serializer):
    data = ExperimentResponse(many=True)
    meta = CursorMetaResponse()


class ExperimentItemsResponse(serializers.Serializer):
    data = ExperimentItemResponse(many=True)
    meta = CursorMetaResponse()


class MessageResponse(serializers.Serializer):
    message = serializers.CharField()


# --- platform runs (/experiments/runs) ---------------------------------------------------------


class ExperimentRunStartSerializer(serializers.Serializer):
    """Input of POST /api/public/experiments/runs (camelCase, as the rest of the API)."""

    datasetName = serializers.CharField()
    runName = serializers.CharField(max_length=500)
    runDescription = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    metadata = serializers.JSONField(required=False, allow_null=True)
    promptName = serializers.CharField()
    promptVersion = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    promptLabel = serializers.CharField(required=False, allow_null=True)
    provider = serializers.CharField()
    model = serializers.CharField()
    modelParameters = serializers.DictField(required=False, allow_null=True)
    concurrency = serializers.IntegerField(required=False, default=8, min_value=1, max_value=64)
    trials = serializers.IntegerField(
        required=False, default=1, min_value=1, max_value=20,
        help_text="How many times each item is run, each trial with its own trace and scores.",
    )
    # [{evaluatorId, variableMapping?}]: judges and checks that score each item as it is recorded.
    evaluators = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True)


class ExperimentRunStatusSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="run_id")
    datasetId = serializers.CharField(source="dataset_id", allow_null=True)
    datasetName = serializers.SerializerMethodField()
    datasetVersion = serializers.DateTimeField(source="dataset_version", allow_null=True)
    progress = serializers.SerializerMethodField()
    totalCost = serializers.DecimalField(source="total_cost", max_digits=20, decimal_places=10, allow_null=True,
                                         coerce_to_string=False)
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = ExperimentRun
        fields = [
            "id", "name", "description", "metadata", "source", "status", "progress", "error", "config",
            "datasetId", "datasetName", "datasetVersion", "totalCost", "startedAt", "finishedAt", "createdAt",
            "updatedAt",
        ]

    def get_datasetName(self, run) -> str | None:
        return run.dataset.name if run.dataset_id else None

    def get_progress(self, run) -> dict:
        progress = {"total": run.progress_total, "done": run.progress_done, "failed": run.progress_failed}
        if (run.config or {}).get("evaluators"):
            for hook in hooks.run_evaluation_progress:
                evaluations = hook(project=run.project, runs=[run]).get(run.pk)
                if evaluations is not None:
                    progress["evaluations"] = evaluations
        return progress
