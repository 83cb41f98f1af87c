"""Input of the score analytics API: query parameters, checked before any read."""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dashboards.analytics.scores import BREAKDOWNS, CALIBRATION_METRICS, ScoreSpec
from evalsite import timestamps
from evalsite.db import TIME_GRANULARITIES


@extend_schema_field(OpenApiTypes.DATETIME)
class TimestampField(serializers.Field):
    def to_internal_value(self, data):
        try:
            return timestamps.parse_timestamp(data)
        except timestamps.InvalidTimestamp as problem:
            raise serializers.ValidationError(str(problem)) from None


@extend_schema_field(OpenApiTypes.STR)
class SpecField(serializers.Field):
    """A score series: a name, or a JSON object {name, source?, evaluatorVersion?, environment?}."""

    def __init__(self, *, many: bool = False, **kwargs):
        self.many = many
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("must be text")
        text = data.strip()
        try:
            value = json.loads(text) if text[:1] in ("{", "[") else text
        except ValueError:
            raise serializers.ValidationError("is not valid JSON") from None
        try:
            if self.many:
                if not isinstance(value, list):
                    raise serializers.ValidationError("must be a JSON array of score series")
                return [ScoreSpec.from_wire(item, self.field_name) for item in value]
            return ScoreSpec.from_wire(value, self.field_name)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict[self.field_name]) from None


class RangeSerializer(serializers.Serializer):
    fromTimestamp = TimestampField()
    toTimestamp = TimestampField()

    def validate(self, attrs):
        if attrs["toTimestamp"] <= attrs["fromTimestamp"]:
            raise serializers.ValidationError({"toTimestamp": ["must be after fromTimestamp"]})
        return attrs


class SummaryQuerySerializer(RangeSerializer):
    score = SpecField()
    breakdown = serializers.ChoiceField(choices=list(BREAKDOWNS), default="environment")
    granularity = serializers.ChoiceField(choices=["auto", *TIME_GRANULARITIES], default="auto")
    bins = serializers.IntegerField(min_value=1, max_value=100, default=20)


class ComparisonQuerySerializer(RangeSerializer):
    scores = SpecField(many=True)


class CalibrationQuerySerializer(RangeSerializer):
    judge = SpecField()
    gold = SpecField()
    granularity = serializers.ChoiceField(choices=list(TIME_GRANULARITIES), default="week")
    metric = serializers.ChoiceField(choices=sorted(CALIBRATION_METRICS), required=False)
    threshold = serializers.FloatField(required=False, min_value=-1e9, max_value=1e9)
