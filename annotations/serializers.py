"""Wire shapes of queues, queue items, assignments, comments and our extras (camelCase)."""

from rest_framework import serializers

from annotations.models import CommentObjectType, ItemStatus, ObjectType, QueueAccess, RuleOperator
from scoring.models import ScoreSource
from scoring.serializers import ScoreSerializer

# Service argument → wire field, for the error handler (ProjectScopedViewSet.wire_field_names).
QUEUE_WIRE_NAMES = {
    "score_config_ids": "scoreConfigIds",
    "annotators_per_item": "annotatorsPerItem",
    "lock_seconds": "lockSeconds",
    "corrections_dataset_id": "correctionsDatasetId",
    "object_type": "objectType",
    "object_id": "objectId",
    "author_user_id": "authorUserId",
    "user_id": "userId",
    "score_name": "scoreName",
    "score_source": "scoreSource",
    "sample_rate": "sampleRate",
}


class QueueSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    scoreConfigIds = serializers.ListField(source="score_config_ids", child=serializers.CharField())
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    # Ours, beyond Langfuse's queue:
    instructions = serializers.CharField()
    annotatorsPerItem = serializers.IntegerField(source="annotators_per_item")
    lockSeconds = serializers.IntegerField(source="lock_seconds")
    access = serializers.CharField()
    correctionsDatasetId = serializers.CharField(source="corrections_dataset_id", allow_null=True)


class QueueCreateSerializer(serializers.Serializer):
    """Shapes only; the rules (configs of the project, unique name, ranges) are the service's."""

    name = serializers.CharField(trim_whitespace=False, max_length=200)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    scoreConfigIds = serializers.ListField(child=serializers.CharField(max_length=64), max_length=50)
    instructions = serializers.CharField(required=False, allow_blank=True, max_length=50_000)
    annotatorsPerItem = serializers.IntegerField(required=False, min_value=1, max_value=50)
    lockSeconds = serializers.IntegerField(required=False, min_value=10, max_value=24 * 3600)
    access = serializers.ChoiceField(required=False, choices=QueueAccess.values)
    correctionsDatasetId = serializers.CharField(required=False, allow_null=True, max_length=64)

    def service_arguments(self) -> dict:
        data = self.validated_data
        arguments = {"name": data["name"], "score_config_ids": data["scoreConfigIds"], "description": data.get("description")}
        optional = {
            "instructions": "instructions",
            "annotatorsPerItem": "annotators_per_item",
            "lockSeconds": "lock_seconds",
            "access": "access",
            "correctionsDatasetId": "corrections_dataset_id",
        }
        arguments.update({name: data[wire] for wire, name in optional.items() if data.get(wire) is not None})
        return arguments


class QueueItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    queueId = serializers.CharField(source="queue_id")
    objectId = serializers.CharField(source="object_id")
    objectType = serializers.CharField(source="object_type")
    status = serializers.CharField()
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    # Ours:
    submissions = serializers.IntegerField()
    runItemId = serializers.CharField(source="run_item_id", allow_null=True)
    lockedByUserId = serializers.CharField(source="locked_by_id", allow_null=True)
    lockedUntil = serializers.DateTimeField(source="locked_until", allow_null=True)


class QueueItemCreateSerializer(serializers.Serializer):
    objectId = serializers.CharField(max_length=1000)
    objectType = serializers.ChoiceField(choices=ObjectType.values)
    status = serializers.ChoiceField(required=False, allow_null=True, choices=ItemStatus.values)


class QueueItemUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(required=False, allow_null=True, choices=ItemStatus.values)


class QueueItemListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(required=False, choices=ItemStatus.values)


class AssignmentSerializer(serializers.Serializer):
    """`userId`, or (ours) `email` of a project member."""

    userId = serializers.CharField(required=False, max_length=64)
    email = serializers.EmailField(required=False)

    def validate(self, data):
        if not data.get("userId") and not data.get("email"):
            raise serializers.ValidationError({"userId": ["userId (or email) is required"]})
        return data


class CommentSerializer(serializers.Serializer):
    id = serializers.CharField()
    projectId = serializers.CharField(source="project_id")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    objectType = serializers.CharField(source="object_type")
    objectId = serializers.CharField(source="object_id")
    content = serializers.CharField()
    authorUserId = serializers.CharField(source="author_user_id", allow_null=True)


class CommentCreateSerializer(serializers.Serializer):
    projectId = serializers.CharField(max_length=64)
    objectType = serializers.ChoiceField(choices=CommentObjectType.values)
    objectId = serializers.CharField(max_length=1000)
    content = serializers.CharField(max_length=5000, trim_whitespace=False)
    authorUserId = serializers.CharField(required=False, allow_null=True, max_length=64)


class CommentListQuerySerializer(serializers.Serializer):
    objectType = serializers.ChoiceField(required=False, choices=CommentObjectType.values)
    objectId = serializers.CharField(required=False, max_length=1000)
    authorUserId = serializers.CharField(required=False, max_length=64)

    def validate(self, data):
        if data.get("objectId") and not data.get("objectType"):
            raise serializers.ValidationError({"objectType": ["is required when objectId is given"]})
        return data


# --- extras: working on a queue through the API ----------------------------------------------


class ActingUserSerializer(serializers.Serializer):
    """The annotator an API client works for (an API key is not a person)."""

    userId = serializers.CharField(max_length=64)


class ScoreValueSerializer(serializers.Serializer):
    configId = serializers.CharField(max_length=64)
    value = serializers.JSONField()
    comment = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=5000)


class SubmitSerializer(ActingUserSerializer):
    scores = ScoreValueSerializer(many=True, allow_empty=False, max_length=50)


class ClaimResponseSerializer(serializers.Serializer):
    item = QueueItemSerializer(allow_null=True)
    scores = ScoreSerializer(many=True, help_text="The acting user's own scores on the item (annotation is blind)")


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    pending = serializers.IntegerField()
    inProgress = serializers.IntegerField(source="in_progress")


class AssigneeProgressSerializer(serializers.Serializer):
    userId = serializers.CharField(source="user_id")
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    inProgress = serializers.IntegerField(source="in_progress")
    remaining = serializers.IntegerField()


class QueueProgressResponseSerializer(serializers.Serializer):
    queue = ProgressSerializer()
    assignees = AssigneeProgressSerializer(many=True)


class MembershipSerializer(serializers.Serializer):
    userId = serializers.CharField()
    role = serializers.ChoiceField(choices=["OWNER", "ADMIN", "MEMBER", "VIEWER"], help_text="Langfuse's role")
    projectRole = serializers.CharField(help_text="The member's role here, ANNOTATOR included")  # noqa: N815
    email = serializers.CharField()
    name = serializers.CharField()


class AgreementSerializer(serializers.Serializer):
    configId = serializers.CharField(source="config_id")
    name = serializers.CharField()
    dataType = serializers.CharField(source="data_type")
    level = serializers.CharField(help_text="Krippendorff's level of measurement: nominal, ordinal or interval")
    items = serializers.IntegerField(help_text="items with at least two ratings")
    annotators = serializers.IntegerField()
    percentAgreement = serializers.FloatField(source="percent_agreement", allow_null=True)
    cohensKappa = serializers.FloatField(source="cohens_kappa", allow_null=True)
    cohensKappaUserIds = serializers.ListField(source="cohens_pair", child=serializers.CharField(), allow_null=True)
    cohensKappaItems = serializers.IntegerField(source="cohens_items")
    fleissKappa = serializers.FloatField(source="fleiss_kappa", allow_null=True)
    fleissKappaItems = serializers.IntegerField(source="fleiss_items")
    krippendorffAlpha = serializers.FloatField(source="krippendorff_alpha", allow_null=True)


class DisagreementSerializer(serializers.Serializer):
    item = QueueItemSerializer()
    configId = serializers.CharField(source="config.pk")
    spread = serializers.FloatField()
    values = serializers.DictField(child=serializers.CharField(), help_text="user id → value")


class DisagreementQuerySerializer(serializers.Serializer):
    configId = serializers.CharField(max_length=64)
    threshold = serializers.FloatField(required=False, min_value=0, max_value=1e12)


class AdjudicateSerializer(SubmitSerializer):
    """`userId`: the ADMIN member who writes the final scores."""


# --- extras: queue rules ---------------------------------------------------------------------


class QueueRuleSerializer(serializers.Serializer):
    id = serializers.CharField()
    queueId = serializers.CharField(source="queue_id")
    name = serializers.CharField()
    enabled = serializers.BooleanField()
    scoreName = serializers.CharField(source="score_name")
    scoreSource = serializers.CharField(source="score_source", allow_null=True, help_text="null: scores of any source")
    operator = serializers.ChoiceField(choices=RuleOperator.values)
    threshold = serializers.FloatField()
    sampleRate = serializers.FloatField(source="sample_rate")
    filter = serializers.ListField(child=serializers.DictField(), help_text="the evaluator rules' trace filters")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class QueueRuleWriteSerializer(serializers.Serializer):
    """Shapes only (PATCH takes any subset); the rules (filters, ranges) are the service's."""

    WIRE = {
        "name": "name", "enabled": "enabled", "scoreName": "score_name", "scoreSource": "score_source",
        "operator": "operator", "threshold": "threshold", "sampleRate": "sample_rate", "filter": "filter",
    }

    name = serializers.CharField(max_length=200)
    enabled = serializers.BooleanField(required=False)
    scoreName = serializers.CharField(max_length=200, help_text="the scores to watch, e.g. a judge's name")
    scoreSource = serializers.ChoiceField(
        required=False, allow_null=True, choices=ScoreSource.values, help_text="only scores of this source; null: any"
    )
    operator = serializers.ChoiceField(choices=RuleOperator.values, help_text="the score's value compared to threshold")
    threshold = serializers.FloatField()
    sampleRate = serializers.FloatField(required=False, help_text="share of matching traces queued, in (0, 1]; default 1")
    filter = serializers.ListField(
        required=False, child=serializers.DictField(), max_length=50,
        help_text='trace filters as evaluator rules take them: [{"type", "column", "operator", "value", "key"?}]',
    )

    def service_arguments(self) -> dict:
        return {name: self.validated_data[wire] for wire, name in self.WIRE.items() if wire in self.validated_data}


class QueueRuleBackfillSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="queued: a worker applies the rule to the scores already stored")
