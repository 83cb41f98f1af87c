"""Wire shapes of traces, observations, sessions and daily metrics (Langfuse's public API names).

Output serializers read model instances plus per-page data the view loads in one query each
(trace stats, score ids, trace context), passed in the serializer context.
"""

from __future__ import annotations

import json
from datetime import datetime

from rest_framework import serializers

from evalsite.api.fields import TimestampField
from traces.models import ObservationLevel, ObservationType
from traces.selectors import TRACE_ORDER_FIELDS

ORDER_DIRECTIONS = ("asc", "desc")
TRACE_FIELD_GROUPS = ("core", "io", "scores", "observations", "metrics")
OBSERVATION_V2_FIELD_GROUPS = ("core", "basic", "time", "io", "metadata", "model", "usage", "prompt", "metrics", "trace_context")
OBSERVATION_V2_DEFAULT_GROUPS = ("core", "basic")
# v2 observations cut metadata values longer than this unless `expandMetadata` names the key.
METADATA_VALUE_MAX_CHARS = 200


def trace_html_path(project_id: str, trace_id: str) -> str:
    return f"/projects/{project_id}/traces/{trace_id}"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def _float_or_none(value) -> float | None:
    return None if value is None else float(value)


def raw_io(value):
    """Input/output as the SDK sent it: strings as they are, other JSON values as JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# --- query parameters -----------------------------------------------------------------------


class CommaSeparatedField(serializers.CharField):
    def __init__(self, *, choices, **kwargs):
        self.choices = choices
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        items = [part.strip() for part in super().to_internal_value(data).split(",") if part.strip()]
        unknown = [item for item in items if item not in self.choices]
        if unknown:
            raise serializers.ValidationError(f"unknown value(s) {', '.join(unknown)}; allowed: {', '.join(self.choices)}")
        return items


class TraceListQuerySerializer(serializers.Serializer):
    userId = serializers.CharField(required=False)
    name = serializers.CharField(required=False)
    sessionId = serializers.CharField(required=False)
    fromTimestamp = TimestampField(required=False)
    toTimestamp = TimestampField(required=False)
    orderBy = serializers.CharField(required=False, help_text="<field>.<asc|desc>, e.g. timestamp.desc")
    tags = serializers.ListField(child=serializers.CharField(), required=False, help_text="all must match")
    version = serializers.CharField(required=False)
    release = serializers.CharField(required=False)
    environment = serializers.ListField(child=serializers.CharField(), required=False)
    fields = CommaSeparatedField(choices=TRACE_FIELD_GROUPS, required=False)
    filter = serializers.CharField(
        required=False,
        help_text="JSON array of filter conditions {type, column, operator, value, key?}; a condition "
        "on a field replaces that field's single-value parameter",
    )

    def validate_orderBy(self, value):
        column, _, direction = value.partition(".")
        direction = direction or "desc"
        if column not in TRACE_ORDER_FIELDS or direction not in ORDER_DIRECTIONS:
            raise serializers.ValidationError(
                f"must be <field>.<asc|desc> with field one of {', '.join(TRACE_ORDER_FIELDS)}"
            )
        return column, direction

    # Trace field → the selector filters of the single-value parameters on it.
    SELECTOR_FILTERS_BY_FIELD = {
        "user_id": ("user_id",),
        "name": ("name",),
        "session_id": ("session_id",),
        "timestamp": ("from_timestamp", "to_timestamp"),
        "tags": ("tags",),
        "version": ("version",),
        "release": ("release",),
        "environment": ("environments",),
    }

    def selector_filters(self, *, overridden: set[str] = frozenset()) -> dict:
        """The single-value filters, without those on the `overridden` Trace fields."""
        data = self.validated_data
        filters = {
            "user_id": data.get("userId"),
            "name": data.get("name"),
            "session_id": data.get("sessionId"),
            "from_timestamp": data.get("fromTimestamp"),
            "to_timestamp": data.get("toTimestamp"),
            "tags": data.get("tags"),
            "version": data.get("version"),
            "release": data.get("release"),
            "environments": data.get("environment"),
            "order_by": data.get("orderBy") or ("timestamp", "desc"),
        }
        for field in overridden:
            for key in self.SELECTOR_FILTERS_BY_FIELD.get(field, ()):
                filters[key] = None
        return filters


class TraceDeleteSerializer(serializers.Serializer):
    traceIds = serializers.ListField(child=serializers.CharField(max_length=128), allow_empty=False, max_length=10_000)


class ObservationListQuerySerializer(serializers.Serializer):
    """Filters shared by v1 and v2 observation lists."""

    traceId = serializers.CharField(required=False)
    name = serializers.CharField(required=False)
    type = serializers.ChoiceField(choices=ObservationType.choices, required=False)
    userId = serializers.CharField(required=False)
    sessionId = serializers.CharField(required=False)
    parentObservationId = serializers.CharField(required=False, allow_blank=True)
    level = serializers.ChoiceField(choices=ObservationLevel.choices, required=False)
    environment = serializers.ListField(child=serializers.CharField(), required=False)
    version = serializers.CharField(required=False)
    fromStartTime = TimestampField(required=False)
    toStartTime = TimestampField(required=False)
    filter = serializers.CharField(required=False, help_text="JSON array of filter conditions")

    def selector_filters(self) -> dict:
        data = self.validated_data
        return {
            "trace_id": data.get("traceId"),
            "name": data.get("name"),
            "type": data.get("type"),
            "user_id": data.get("userId"),
            "session_id": data.get("sessionId"),
            "parent_observation_id": data.get("parentObservationId"),
            "level": data.get("level"),
            "environments": data.get("environment"),
            "version": data.get("version"),
            "from_start_time": data.get("fromStartTime"),
            "to_start_time": data.get("toStartTime"),
        }


class ObservationV2QuerySerializer(ObservationListQuerySerializer):
    fields = CommaSeparatedField(choices=OBSERVATION_V2_FIELD_GROUPS, required=False)
    expandMetadata = serializers.CharField(required=False)
    isRootObservation = serializers.BooleanField(required=False, allow_null=True, default=None)
    parseIoAsJson = serializers.BooleanField(required=False, default=False)

    def validate_parseIoAsJson(self, value):
        if value:
            raise serializers.ValidationError("is deprecated: input and output are always returned as raw strings")
        return value


class SessionListQuerySerializer(serializers.Serializer):
    fromTimestamp = TimestampField(required=False)
    toTimestamp = TimestampField(required=False)
    environment = serializers.ListField(child=serializers.CharField(), required=False)


class DailyMetricsQuerySerializer(serializers.Serializer):
    traceName = serializers.CharField(required=False)
    userId = serializers.CharField(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    fromTimestamp = TimestampField(required=False)
    toTimestamp = TimestampField(required=False)
    environment = serializers.ListField(child=serializers.CharField(), required=False)

    def selector_filters(self) -> dict:
        data = self.validated_data
        return {
            "trace_name": data.get("traceName"),
            "user_id": data.get("userId"),
            "tags": data.get("tags"),
            "from_timestamp": data.get("fromTimestamp"),
            "to_timestamp": data.get("toTimestamp"),
            "environments": data.get("environment"),
        }


# --- traces -----------------------------------------------------------------------------------


class TraceSerializer(serializers.Serializer):
    """Langfuse's `Trace`."""

    id = serializers.CharField(source="trace_id")
    projectId = serializers.CharField(source="project_id")
    timestamp = serializers.DateTimeField()
    name = serializers.CharField(allow_null=True)
    input = serializers.JSONField(allow_null=True)
    output = serializers.JSONField(allow_null=True)
    sessionId = serializers.CharField(source="session_id", allow_null=True)
    release = serializers.CharField(allow_null=True)
    version = serializers.CharField(allow_null=True)
    userId = serializers.CharField(source="user_id", allow_null=True)
    metadata = serializers.JSONField()
    tags = serializers.ListField(child=serializers.CharField())
    public = serializers.BooleanField()
    bookmarked = serializers.BooleanField()
    environment = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    # Langfuse's trace model keeps a legacy `externalId` key; it is always null.
    externalId = serializers.SerializerMethodField()

    def get_externalId(self, trace) -> str | None:
        return None

    def to_representation(self, trace):
        data = super().to_representation(trace)
        groups = self.context.get("groups")
        if groups is not None and "io" not in groups:
            for key in ("input", "output", "metadata"):
                data.pop(key)
        return data


class TraceWithDetailsSerializer(TraceSerializer):
    """Langfuse's `TraceWithDetails`: observation and score ids, latency (s), cost. The view
    passes `stats` (traces.selectors.trace_stats) and `score_ids` per trace in the context."""

    def to_representation(self, trace):
        data = super().to_representation(trace)
        groups = self.context.get("groups")
        stats = self.context["stats"].get(trace.trace_id)
        data["htmlPath"] = trace_html_path(trace.project_id, trace.trace_id)
        if groups is None or "metrics" in groups:
            data["latency"] = stats.latency_seconds if stats else 0.0
            data["totalCost"] = float(stats.total_cost) if stats else 0.0
        if groups is None or "observations" in groups:
            data["observations"] = list(stats.observation_ids) if stats else []
        if groups is None or "scores" in groups:
            data["scores"] = self.context["score_ids"].get(trace.trace_id, [])
        return data


# --- observations -----------------------------------------------------------------------------


def legacy_usage(observation) -> dict:
    """The v1 `usage` object, from the denormalised token counts and the cost details."""
    cost = observation.cost_details or {}
    return {
        "input": observation.input_tokens or 0,
        "output": observation.output_tokens or 0,
        "total": observation.total_tokens or 0,
        "unit": "TOKENS",
        "inputCost": cost.get("input"),
        "outputCost": cost.get("output"),
        "totalCost": _float_or_none(observation.total_cost),
    }


def prompt_id(observation, prompt_ids: dict[tuple[str, int], str]) -> str | None:
    return prompt_ids.get((observation.prompt_name, observation.prompt_version))


class ObservationSerializer(serializers.Serializer):
    """Langfuse's `ObservationsView` (v1 observations, and a trace's observations). The view
    passes `prompt_ids` ((name, version) → prompt id, traces.api.prompt_ids_for) in the context."""

    id = serializers.CharField(source="observation_id")
    projectId = serializers.CharField(source="project_id")
    traceId = serializers.CharField(source="trace_id")
    type = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    startTime = serializers.DateTimeField(source="start_time")
    endTime = serializers.DateTimeField(source="end_time", allow_null=True)
    completionStartTime = serializers.DateTimeField(source="completion_start_time", allow_null=True)
    model = serializers.CharField(allow_null=True)
    modelParameters = serializers.JSONField(source="model_parameters", allow_null=True)
    input = serializers.JSONField(allow_null=True)
    output = serializers.JSONField(allow_null=True)
    metadata = serializers.JSONField()
    version = serializers.CharField(allow_null=True)
    release = serializers.CharField(allow_null=True)
    level = serializers.CharField()
    statusMessage = serializers.CharField(source="status_message", allow_null=True)
    parentObservationId = serializers.CharField(source="parent_observation_id", allow_null=True)
    usageDetails = serializers.JSONField(source="usage_details")
    costDetails = serializers.JSONField(source="cost_details")
    environment = serializers.CharField()
    promptName = serializers.CharField(source="prompt_name", allow_null=True)
    promptVersion = serializers.IntegerField(source="prompt_version", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def to_representation(self, observation):
        data = super().to_representation(observation)
        data["usage"] = legacy_usage(observation)
        data["promptId"] = prompt_id(observation, self.context.get("prompt_ids", {}))
        data["modelId"] = None
        data["inputPrice"] = None
        data["outputPrice"] = None
        data["totalPrice"] = None
        cost = observation.cost_details or {}
        data["calculatedInputCost"] = cost.get("input")
        data["calculatedOutputCost"] = cost.get("output")
        data["calculatedTotalCost"] = _float_or_none(observation.total_cost)
        data["totalCost"] = _float_or_none(observation.total_cost)
        data["latency"] = _seconds(observation.start_time, observation.end_time)
        data["timeToFirstToken"] = _seconds(observation.start_time, observation.completion_start_time)
        return data


def observation_v2(
    observation, *, groups: set[str], trace: dict | None, expand_metadata: set[str], prompt_ids: dict | None = None
) -> dict:
    """Langfuse's `ObservationV2` with the requested field groups (core always)."""
    data = {
        "id": observation.observation_id,
        "traceId": observation.trace_id,
        "startTime": observation.start_time,
        "endTime": observation.end_time,
        "projectId": observation.project_id,
        "parentObservationId": observation.parent_observation_id,
        "type": observation.type,
    }
    trace = trace or {}
    if "basic" in groups:
        data.update(
            name=observation.name,
            level=observation.level,
            statusMessage=observation.status_message,
            version=observation.version,
            environment=observation.environment,
            bookmarked=bool(trace.get("bookmarked")),
            public=bool(trace.get("public")),
            userId=trace.get("user_id"),
            sessionId=trace.get("session_id"),
            isRootObservation=observation.parent_observation_id is None
            or observation.observation_id == trace.get("root_observation_id"),
        )
    if "time" in groups:
        data.update(
            completionStartTime=observation.completion_start_time,
            createdAt=observation.created_at,
            updatedAt=observation.updated_at,
        )
    if "io" in groups:
        data.update(input=raw_io(observation.input), output=raw_io(observation.output))
    if "metadata" in groups:
        data["metadata"] = {
            key: value if key in expand_metadata else _cut(value) for key, value in (observation.metadata or {}).items()
        }
    if "model" in groups:
        data.update(model=observation.model, internalModelId=None, modelParameters=observation.model_parameters)
    if "usage" in groups:
        data.update(
            usageDetails=observation.usage_details or {},
            costDetails=observation.cost_details or {},
            totalCost=_float_or_none(observation.total_cost),
            usagePricingTierName=None,
        )
    if "prompt" in groups:
        data.update(
            promptId=prompt_id(observation, prompt_ids or {}),
            promptName=observation.prompt_name,
            promptVersion=observation.prompt_version,
        )
    if "metrics" in groups:
        data.update(
            latency=_seconds(observation.start_time, observation.end_time),
            timeToFirstToken=_seconds(observation.start_time, observation.completion_start_time),
        )
    if "trace_context" in groups:
        data.update(tags=trace.get("tags") or [], release=trace.get("release"), traceName=trace.get("name"))
    return data


def _cut(value):
    """A metadata value of at most METADATA_VALUE_MAX_CHARS characters (its JSON text when not a string)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= METADATA_VALUE_MAX_CHARS:
        return value
    return text[:METADATA_VALUE_MAX_CHARS]


# --- sessions and metrics -------------------------------------------------------------------


def session_row(row: dict, project_id: str) -> dict:
    return {
        "id": row["session_id"],
        "createdAt": row["created_at"],
        "projectId": project_id,
        "environment": row["environment"],
    }


def daily_metrics_row(day) -> dict:
    return {
        "date": day.date.isoformat(),
        "countTraces": day.count_traces,
        "countObservations": day.count_observations,
        "totalCost": day.total_cost,
        "usage": [
            {
                "model": usage.model,
                "inputUsage": usage.input_usage,
                "outputUsage": usage.output_usage,
                "totalUsage": usage.total_usage,
                "countObservations": usage.count_observations,
                "countTraces": usage.count_traces,
                "totalCost": usage.total_cost,
            }
            for usage in day.usage
        ],
    }
