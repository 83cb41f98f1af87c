"""Serializer fields shared by the apps' input serializers."""

from rest_framework import serializers

from evalsite import timestamps


class TimestampField(serializers.DateTimeField):
    """An input datetime (`fromTimestamp`, `version`, `createdAt`…) normalised by
    `evalsite.timestamps.to_utc`: UTC, and a 400 naming the field outside the stored range."""

    default_error_messages = {"overflow": timestamps.OUT_OF_RANGE}

    def enforce_timezone(self, value):
        try:
            return timestamps.to_utc(value)
        except timestamps.TimestampOutOfRange:
            self.fail("overflow")
