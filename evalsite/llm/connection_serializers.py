"""Input and output shapes of /api/public/llm-connections (Langfuse's `LlmConnection`).

The output has no field that could carry the secret key or a header value: only the masked
`displaySecretKey` (for ADMIN keys) and the header names (`extraHeaderKeys`).
"""

from rest_framework import serializers

from evalsite.llm import connections


class LlmConnectionUpsertSerializer(serializers.Serializer):
    provider = serializers.CharField(allow_blank=True, trim_whitespace=False)
    adapter = serializers.CharField(allow_blank=True)
    secretKey = serializers.CharField(allow_blank=True, trim_whitespace=False)
    # The SDK sends explicit nulls for unset optional fields: null means "not provided".
    baseURL = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    customModels = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, allow_null=True
    )
    withDefaultModels = serializers.BooleanField(required=False, allow_null=True)
    extraHeaders = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, allow_null=True
    )
    config = serializers.DictField(required=False, allow_null=True)

    def validate_provider(self, value):
        return connections.validate_provider(value)

    def validate_adapter(self, value):
        return connections.validate_adapter(value)

    def validate_secretKey(self, value):
        return connections.validate_secret_key(value)

    def validate_baseURL(self, value):
        return None if value is None else connections.validate_base_url(value)

    def validate_customModels(self, value):
        return None if value is None else connections.validate_custom_models(value)

    def validate_extraHeaders(self, value):
        return None if value is None else connections.validate_extra_headers(value)

    # Service argument → wire field, for the service's own refusals (e.g. a new base URL without the key).
    WIRE_NAMES = {
        "secret_key": "secretKey",
        "base_url": "baseURL",
        "custom_models": "customModels",
        "with_default_models": "withDefaultModels",
        "extra_headers": "extraHeaders",
    }

    @classmethod
    def wire_errors(cls, error) -> dict | list:
        if not hasattr(error, "error_dict"):
            return error.messages
        return {cls.WIRE_NAMES.get(name, name): messages for name, messages in error.message_dict.items()}

    def service_arguments(self) -> dict:
        data = self.validated_data
        return {
            "provider": data["provider"],
            "adapter": data["adapter"],
            "secret_key": data["secretKey"],
            "base_url": data.get("baseURL"),
            "custom_models": data.get("customModels"),
            "with_default_models": data.get("withDefaultModels"),
            "extra_headers": data.get("extraHeaders"),
            "config": data.get("config"),
        }


class LlmConnectionSerializer(serializers.Serializer):
    id = serializers.CharField()
    provider = serializers.CharField()
    adapter = serializers.CharField()
    # The masked hint ("sk-...abcd") for ADMIN keys; below ADMIN the bare mask, so the output shape
    # stays Langfuse's while no character of the key reaches a reader who cannot manage connections.
    displaySecretKey = serializers.SerializerMethodField()
    baseURL = serializers.SerializerMethodField()
    customModels = serializers.ListField(source="custom_models", child=serializers.CharField())
    withDefaultModels = serializers.BooleanField(source="with_default_models")
    extraHeaderKeys = serializers.ListField(source="extra_header_keys", child=serializers.CharField())
    config = serializers.JSONField(allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_displaySecretKey(self, connection) -> str:
        return connection.display_secret_key if self.context.get("show_key_hint") else "..."

    def get_baseURL(self, connection) -> str | None:
        return connection.base_url or None


class LlmConnectionDeletedSerializer(serializers.Serializer):
    message = serializers.CharField()
