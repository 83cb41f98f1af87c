"""The instants the platform stores: one range, and the functions every accepted timestamp goes through.

The range is 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z: Python's datetime range, in UTC.
PostgreSQL's timestamptz reaches much further (4713 BC to 294276 AD), but everything read back
becomes a Python datetime, and psycopg refuses to read a value outside Python's range:
`"9999-12-31T23:59:59-14:00"` is year 10000 in UTC and `"0001-01-01T00:00:00+01:00"` is 1 BC, and a
single such row made every list that showed it answer 500. So every timestamp is normalised on
the way in: converted to UTC (a timestamp without an offset is UTC) and refused when the conversion
leaves the range. A Python datetime is always within years 1–9999 in its own offset, so "out of
range" is exactly "its UTC conversion overflows", at most a day beyond either edge.

Where each kind of timestamp goes (README "Timestamps" has the table):

- An explicit timestamp (a score's `timestamp`, a legacy event's `timestamp`/`startTime`/…, a
  query's `fromTimestamp`/`version`, a filter value, a cursor) that is out of range is refused with
  a 4xx naming its field; in a batch (`/ingestion`, score arrays), only the item that holds it.
- OTLP span and event times are unsigned 64-bit nanoseconds after 1970; 2**64 ns is in 2554, so
  they are always in range and need no check.
- A timestamp read from an optional OTLP attribute (`completion_start_time`, an experiment item's
  version) is ignored when out of range, as it is when it does not parse.
- Rows already out of range (stored before this rule, or by hand) are read clamped to the range's
  edges on PostgreSQL (`evalsite.db.read_out_of_range_datetimes_clamped`), so one bad row cannot
  take a list down.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
NOT_A_TIMESTAMP = "must be an ISO-8601 datetime, e.g. 2025-01-31T12:00:00Z"
OUT_OF_RANGE = "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z once converted to UTC"


class InvalidTimestamp(ValueError):
    """Not an ISO-8601 datetime; the message is meant to follow a field name."""

    def __init__(self, message: str = NOT_A_TIMESTAMP):
        super().__init__(message)


class TimestampOutOfRange(InvalidTimestamp):
    """A datetime whose UTC instant is outside the stored range."""

    def __init__(self, message: str = OUT_OF_RANGE):
        super().__init__(message)


def to_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (naive means UTC); TimestampOutOfRange outside the range."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise TimestampOutOfRange() from None


def parse_timestamp(value: Any) -> datetime:
    """An ISO-8601 string (`Z` or an offset; none means UTC) as an aware UTC datetime in the range.

    Raises InvalidTimestamp, or its subclass TimestampOutOfRange; both messages follow a field name.
    """
    if not isinstance(value, str):
        raise InvalidTimestamp()
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidTimestamp() from None
    return to_utc(moment)
