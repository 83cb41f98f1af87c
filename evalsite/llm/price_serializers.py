"""Wire shapes of `/api/public/models` (Langfuse's `Model` and `CreateModelRequest`)."""

from rest_framework import serializers

from evalsite.api.fields import TimestampField
from evalsite.llm.prices import USAGE_UNITS

PRICE_DIGITS = {"max_digits": 20, "decimal_places": 12}


class ModelPriceSerializer(serializers.Serializer):
    """Langfuse's `Model`: flat prices plus `prices` by usage type; no pricing tiers here."""

    id = serializers.CharField()
    modelName = serializers.CharField(source="model_name")
    matchPattern = serializers.CharField(source="match_pattern")
    startDate = serializers.DateTimeField(source="start_date", allow_null=True)
    unit = serializers.CharField()
    inputPrice = serializers.FloatField(source="input_price", allow_null=True)
    outputPrice = serializers.FloatField(source="output_price", allow_null=True)
    totalPrice = serializers.FloatField(source="total_price", allow_null=True)
    tokenizerId = serializers.CharField(source="tokenizer_id", allow_null=True)
    tokenizerConfig = serializers.JSONField(source="tokenizer_config", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def to_representation(self, price):
        data = super().to_representation(price)
        # Built-in prices (evalsite/llm/managed_prices.py) are the ones Langfuse calls managed.
        data["isLangfuseManaged"] = getattr(price, "is_managed", False)
        data["prices"] = {
            usage_type: {"price": float(value)}
            for usage_type, value in (
                ("input", price.input_price),
                ("output", price.output_price),
                ("total", price.total_price),
            )
            if value is not None
        }
        data["pricingTiers"] = []
        return data


class ModelPriceInputSerializer(serializers.Serializer):
    """Body of POST /models and PUT /models/{id}. The SDK sends explicit nulls for unset fields."""

    modelName = serializers.CharField(max_length=200)
    matchPattern = serializers.CharField(max_length=500)
    startDate = TimestampField(required=False, allow_null=True)
    unit = serializers.ChoiceField(choices=USAGE_UNITS, required=False, allow_null=True)
    inputPrice = serializers.DecimalField(required=False, allow_null=True, min_value=0, **PRICE_DIGITS)
    outputPrice = serializers.DecimalField(required=False, allow_null=True, min_value=0, **PRICE_DIGITS)
    totalPrice = serializers.DecimalField(required=False, allow_null=True, min_value=0, **PRICE_DIGITS)
    tokenizerId = serializers.CharField(required=False, allow_null=True, max_length=100)
    tokenizerConfig = serializers.JSONField(required=False, allow_null=True)
    pricingTiers = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)

    def validate_pricingTiers(self, value):
        if value:
            raise serializers.ValidationError(
                "pricing tiers are not supported: give inputPrice/outputPrice (or totalPrice) instead"
            )
        return value

    def service_arguments(self) -> dict:
        data = self.validated_data
        return {
            "model_name": data["modelName"],
            "match_pattern": data["matchPattern"],
            "start_date": data.get("startDate"),
            "unit": data.get("unit") or "TOKENS",
            "input_price": data.get("inputPrice"),
            "output_price": data.get("outputPrice"),
            "total_price": data.get("totalPrice"),
            "tokenizer_id": data.get("tokenizerId"),
            "tokenizer_config": data.get("tokenizerConfig"),
        }
