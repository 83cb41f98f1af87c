"""Errors that services raise, knowing nothing of HTTP.

Services raise Django's `ValidationError` keyed by their own argument names, or one of these.
The API layer (evalsite/api/errors.py) turns them into the wire's JSON errors with the right 4xx;
the admin and the commands show their message.
"""

from django.http import Http404


class ServiceError(Exception):
    """Base of the errors below; `message` is meant for the person who sent the request."""

    default_message = "The request cannot be carried out"

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)


class Conflict(ServiceError):
    """The request conflicts with the current state (a duplicate name, a run already finished)."""

    default_message = "The request conflicts with the current state"


class NotFound(ServiceError, Http404):
    """What the request names does not exist in the project; "not yours" is the same error.

    It is also an `Http404`, so Django's own views, the admin and the pages answer 404 for it
    without catching it one by one; the services that raise it still import nothing of HTTP.
    """

    default_message = "Not found"


class PayloadTooLarge(ServiceError):
    """More data than the platform accepts in one request."""

    default_message = "Request body too large"
