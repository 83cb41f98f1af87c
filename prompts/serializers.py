"""Input and output shapes of /api/public/v2/prompts (Langfuse's `Prompt` and `PromptMeta`).

Input serializers check shapes only; the rules (name format, message shapes, labels, type changes)
live in prompts/services.py, whose errors name its arguments; prompts/api.py renames those that
differ from the wire's fields (`prompt_type` → `type`, `content` → `prompt`).
"""

from rest_framework import serializers

from evalsite.api.fields import TimestampField
from prompts.models import Prompt, PromptType
from prompts.services import COMMIT_MESSAGE_MAX_LENGTH


class PromptCreateSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True, trim_whitespace=False)
    # The SDK omits `type` for text prompts and sends explicit nulls for unset fields.
    type = serializers.ChoiceField(choices=PromptType.values, required=False, allow_null=True)
    prompt = serializers.JSONField()
    config = serializers.JSONField(required=False, allow_null=True)
    labels = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, allow_null=True
    )
    tags = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, allow_null=True
    )
    commitMessage = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=COMMIT_MESSAGE_MAX_LENGTH
    )

    def service_arguments(self) -> dict:
        data = self.validated_data
        return {
            "name": data["name"],
            "content": data["prompt"],
            "prompt_type": data.get("type") or PromptType.TEXT,
            "config": data.get("config"),
            "labels": data.get("labels"),
            "tags": data.get("tags"),
            "commit_message": data.get("commitMessage") or None,
        }


class PromptLabelsUpdateSerializer(serializers.Serializer):
    newLabels = serializers.ListField(child=serializers.CharField(allow_blank=True), allow_empty=True)


class PromptListQuerySerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    label = serializers.CharField(required=False)
    tag = serializers.CharField(required=False)
    fromUpdatedAt = TimestampField(required=False)
    toUpdatedAt = TimestampField(required=False)

    def selector_filters(self) -> dict:
        data = self.validated_data
        return {
            "name": data.get("name"),
            "label": data.get("label"),
            "tag": data.get("tag"),
            "from_updated_at": data.get("fromUpdatedAt"),
            "to_updated_at": data.get("toUpdatedAt"),
        }


class PromptSerializer(serializers.ModelSerializer):
    """One version. `type` is the SDK's discriminator; `config` is always present."""

    prompt = serializers.JSONField()
    config = serializers.JSONField()
    labels = serializers.SerializerMethodField()
    tags = serializers.ListField(child=serializers.CharField())
    commitMessage = serializers.CharField(source="commit_message", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    projectId = serializers.CharField(source="project_id")
    createdBy = serializers.CharField(source="created_by", allow_null=True)
    isActive = serializers.SerializerMethodField()

    class Meta:
        model = Prompt
        fields = [
            "id", "name", "version", "type", "prompt", "config", "labels", "tags", "commitMessage",
            "createdAt", "updatedAt", "projectId", "createdBy", "isActive",
        ]  # fmt: skip

    def get_labels(self, prompt) -> list[str]:
        return prompt.labels_in_order()

    def get_isActive(self, prompt) -> bool | None:
        return None  # upstream's legacy flag, superseded by labels


class PromptMetaSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=PromptType.values)
    versions = serializers.ListField(child=serializers.IntegerField())
    labels = serializers.ListField(child=serializers.CharField())
    tags = serializers.ListField(child=serializers.CharField())
    lastUpdatedAt = serializers.DateTimeField(source="last_updated_at")
    lastConfig = serializers.JSONField(source="last_config", allow_null=True)
