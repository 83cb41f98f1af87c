"""Wire shapes of scores and score configs (camelCase, as the Langfuse public API names them).

Score bodies of `POST /scores` are not read through a serializer: `scoring.validation` checks
them on the ingestion hot path. Query parameters and config bodies are.
"""

from rest_framework import serializers

from evalsite.api.fields import TimestampField
from scoring.models import ScoreConfigDataType, ScoreDataType, ScoreSource
from scoring.selectors import VALUE_OPERATORS

# ---------------------------------------------------------------------------------------------
# Scores: output


class ScoreSerializer(serializers.Serializer):
    """v1/v2 score: numeric `value` beside `stringValue`.

    The wire types a categorical score's `value` as a number (the 4.x SDK refuses a null): it is
    the category's value from the score's config, stored at ingestion, else 0, as Langfuse
    stores it. Text scores have no numeric value (null).

    `trace` is `{userId, tags, environment}` of the scored trace when it has arrived; the view
    passes the summaries in the context (`trace_summaries`), loaded in one query per page.
    """

    id = serializers.CharField(source="score_id")
    projectId = serializers.CharField(source="project_id")
    name = serializers.CharField()
    value = serializers.SerializerMethodField()
    stringValue = serializers.CharField(source="string_value", allow_null=True)
    dataType = serializers.CharField(source="data_type")
    source = serializers.CharField()
    comment = serializers.CharField(allow_null=True)
    metadata = serializers.JSONField(allow_null=True)
    environment = serializers.CharField()
    timestamp = serializers.DateTimeField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    authorUserId = serializers.CharField(source="author_user_id", allow_null=True)
    configId = serializers.CharField(source="config_id", allow_null=True)
    queueId = serializers.CharField(source="queue_id", allow_null=True)
    traceId = serializers.CharField(source="trace_id", allow_null=True)
    observationId = serializers.CharField(source="observation_id", allow_null=True)
    sessionId = serializers.CharField(source="session_id", allow_null=True)
    datasetRunId = serializers.CharField(source="dataset_run_id", allow_null=True)
    trace = serializers.SerializerMethodField()

    def get_value(self, score) -> float | None:
        if score.value is None and score.data_type == ScoreDataType.CATEGORICAL:
            return 0.0
        return score.value

    def get_trace(self, score) -> dict | None:
        summary = self.context.get("trace_summaries", {}).get(score.trace_id)
        if summary is None:
            return None
        return {"userId": summary["user_id"], "tags": summary["tags"], "environment": summary["environment"]}


class ScoreV3Serializer(serializers.Serializer):
    """v3 score: `value` typed by `dataType` (number, boolean or string) and the `subject` scored."""

    id = serializers.CharField(source="score_id")
    projectId = serializers.CharField(source="project_id")
    name = serializers.CharField()
    dataType = serializers.CharField(source="data_type")
    value = serializers.SerializerMethodField()
    source = serializers.CharField()
    comment = serializers.CharField(allow_null=True)
    metadata = serializers.SerializerMethodField()
    environment = serializers.CharField()
    timestamp = serializers.DateTimeField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    authorUserId = serializers.CharField(source="author_user_id", allow_null=True)
    configId = serializers.CharField(source="config_id", allow_null=True)
    queueId = serializers.CharField(source="queue_id", allow_null=True)
    subject = serializers.SerializerMethodField()

    def get_value(self, score) -> float | bool | str:
        if score.data_type == ScoreDataType.NUMERIC:
            return score.value
        if score.data_type == ScoreDataType.BOOLEAN:
            return score.value == 1.0
        return score.string_value

    def get_metadata(self, score) -> dict | None:
        # The v3 model types metadata as an object; other JSON values (which the SDK lets users
        # send) are wrapped so that SDK clients can still parse the page.
        if score.metadata is None or isinstance(score.metadata, dict):
            return score.metadata
        return {"value": score.metadata}

    def get_subject(self, score) -> dict | None:
        if score.observation_id is not None:
            return {"kind": "observation", "id": score.observation_id, "traceId": score.trace_id}
        if score.trace_id is not None:
            return {"kind": "trace", "id": score.trace_id}
        if score.session_id is not None:
            return {"kind": "session", "id": score.session_id}
        if score.dataset_run_id is not None:
            return {"kind": "experiment", "id": score.dataset_run_id}
        return None


# ---------------------------------------------------------------------------------------------
# Scores: query parameters


class ScoreFilterQuerySerializer(serializers.Serializer):
    """Filters shared by the v1/v2 and v3 lists, named as upstream names them."""

    name = serializers.CharField(required=False)
    source = serializers.ChoiceField(choices=ScoreSource.values, required=False)
    dataType = serializers.ChoiceField(choices=ScoreDataType.values, required=False)
    configId = serializers.CharField(required=False)
    queueId = serializers.CharField(required=False)
    authorUserId = serializers.IntegerField(required=False)
    environment = serializers.ListField(child=serializers.CharField(), required=False)
    traceId = serializers.CharField(required=False)
    observationId = serializers.CharField(required=False)
    sessionId = serializers.CharField(required=False)
    fromTimestamp = TimestampField(required=False)
    toTimestamp = TimestampField(required=False)

    def selector_filters(self) -> dict:
        data = self.validated_data
        return {
            "name": data.get("name"),
            "source": data.get("source"),
            "data_type": data.get("dataType"),
            "config_id": data.get("configId"),
            "queue_id": data.get("queueId"),
            "author_user_id": data.get("authorUserId"),
            "environments": data.get("environment"),
            "trace_id": data.get("traceId"),
            "observation_id": data.get("observationId"),
            "session_id": data.get("sessionId"),
            "from_timestamp": data.get("fromTimestamp"),
            "to_timestamp": data.get("toTimestamp"),
        }


class ScoreListQuerySerializer(ScoreFilterQuerySerializer):
    """`GET /scores` and `GET /v2/scores` (page, limit are the paginator's)."""

    userId = serializers.CharField(required=False)
    datasetRunId = serializers.CharField(required=False)
    scoreIds = serializers.CharField(required=False, help_text="comma-separated score ids")
    operator = serializers.ChoiceField(choices=list(VALUE_OPERATORS), required=False)
    value = serializers.FloatField(required=False)
    traceTags = serializers.ListField(child=serializers.CharField(), required=False)

    def validate_traceTags(self, value):
        # Refused rather than ignored: an ignored filter would return scores the caller excluded.
        raise serializers.ValidationError("filtering scores by trace tags is not supported; filter traces instead")

    def validate(self, data):
        if ("operator" in data) != ("value" in data):
            raise serializers.ValidationError({"operator": ["operator and value go together"]})
        return data

    def selector_filters(self) -> dict:
        data = self.validated_data
        score_ids = data.get("scoreIds")
        return {
            **super().selector_filters(),
            "user_id": data.get("userId"),
            "dataset_run_id": data.get("datasetRunId"),
            "score_ids": [i.strip() for i in score_ids.split(",") if i.strip()] if score_ids else None,
            "value_operator": data.get("operator"),
            "value": data.get("value"),
        }


class ScoreV3QuerySerializer(ScoreFilterQuerySerializer):
    """`GET /v3/scores` (limit and cursor are read by the view)."""

    id = serializers.CharField(required=False)
    experimentId = serializers.CharField(required=False)
    value = serializers.CharField(required=False, help_text="exact string value (CATEGORICAL, TEXT, …)")
    valueMin = serializers.FloatField(required=False)
    valueMax = serializers.FloatField(required=False)
    fields = serializers.CharField(required=False, help_text="accepted for compatibility; every field is returned")

    def selector_filters(self) -> dict:
        data = self.validated_data
        return {
            **super().selector_filters(),
            "score_ids": [data["id"]] if "id" in data else None,
            "dataset_run_id": data.get("experimentId"),
            "string_value": data.get("value"),
            "value_min": data.get("valueMin"),
            "value_max": data.get("valueMax"),
        }


# ---------------------------------------------------------------------------------------------
# Score configs


class ConfigCategorySerializer(serializers.Serializer):
    value = serializers.FloatField()
    label = serializers.CharField()


class ScoreConfigSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    projectId = serializers.CharField(source="project_id")
    dataType = serializers.CharField(source="data_type")
    isArchived = serializers.BooleanField(source="is_archived")
    minValue = serializers.FloatField(source="min_value", allow_null=True)
    maxValue = serializers.FloatField(source="max_value", allow_null=True)
    categories = ConfigCategorySerializer(many=True, allow_null=True)
    description = serializers.CharField(allow_null=True)


class ScoreConfigCreateSerializer(serializers.Serializer):
    """Shapes only; the rules (name characters, categories per type, min ≤ max) are the service's."""

    name = serializers.CharField(trim_whitespace=False)
    dataType = serializers.ChoiceField(choices=ScoreConfigDataType.values)
    categories = ConfigCategorySerializer(many=True, required=False, allow_null=True)
    minValue = serializers.FloatField(required=False, allow_null=True)
    maxValue = serializers.FloatField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    def service_arguments(self) -> dict:
        data = self.validated_data
        return {
            "name": data["name"],
            "data_type": data["dataType"],
            "categories": data.get("categories"),
            "min_value": data.get("minValue"),
            "max_value": data.get("maxValue"),
            "description": data.get("description"),
        }


class ScoreConfigUpdateSerializer(serializers.Serializer):
    """Every field optional; null means "not provided", as the SDK sends nulls for unset fields."""

    WIRE_TO_SERVICE = {
        "name": "name",
        "categories": "categories",
        "minValue": "min_value",
        "maxValue": "max_value",
        "description": "description",
        "isArchived": "is_archived",
    }

    name = serializers.CharField(required=False, allow_null=True, trim_whitespace=False)
    categories = ConfigCategorySerializer(many=True, required=False, allow_null=True)
    minValue = serializers.FloatField(required=False, allow_null=True)
    maxValue = serializers.FloatField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    isArchived = serializers.BooleanField(required=False, allow_null=True)

    def service_changes(self) -> dict:
        return {
            self.WIRE_TO_SERVICE[wire]: value
            for wire, value in self.validated_data.items()
            if value is not None
        }
