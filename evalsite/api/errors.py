"""Every API error is JSON `{"message": …, "error": <name>}` with the right 4xx.

Validation errors also carry `details` (DRF's per-field messages) and a `message` that names the
first offending field, so a client sees what to fix without reading the details.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from evalsite import errors as service_errors

ERROR_NAMES = {
    exceptions.NotAuthenticated: "UnauthorizedError",
    exceptions.AuthenticationFailed: "UnauthorizedError",
    exceptions.PermissionDenied: "AccessDeniedError",
    exceptions.NotFound: "NotFoundError",
    exceptions.MethodNotAllowed: "MethodNotAllowedError",
    exceptions.ValidationError: "InvalidRequestError",
    exceptions.ParseError: "InvalidRequestError",
    exceptions.UnsupportedMediaType: "UnsupportedMediaTypeError",
    exceptions.NotAcceptable: "NotAcceptableError",
    exceptions.Throttled: "RateLimitError",
}


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state"
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "Request body too large"
    default_code = "payload_too_large"


ERROR_NAMES[Conflict] = "ConflictError"
ERROR_NAMES[PayloadTooLarge] = "PayloadTooLargeError"


def flatten_detail(detail, path: str = "") -> list[str]:
    """`{"a": {"b": ["x"]}}` → `["a.b: x"]`: one line per message, prefixed by where it applies."""
    if isinstance(detail, dict):
        lines = []
        for key, value in detail.items():
            lines += flatten_detail(value, f"{path}.{key}" if path else str(key))
        return lines
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [f"{path}: {item}" if path else str(item) for item in detail]
        lines = []
        for index, item in enumerate(detail):
            lines += flatten_detail(item, f"{path}[{index}]" if path else f"[{index}]")
        return lines
    return [f"{path}: {detail}" if path else str(detail)]


def to_api_exception(exc):
    if isinstance(exc, service_errors.Conflict):
        return Conflict(exc.message)
    if isinstance(exc, service_errors.NotFound):
        return exceptions.NotFound(exc.message)
    if isinstance(exc, service_errors.PayloadTooLarge):
        return PayloadTooLarge(exc.message)
    if isinstance(exc, RequestDataTooBig):
        # Raised by Django when a view first reads a body above the limit, whichever view it is.
        return PayloadTooLarge(
            f"Request body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (EVALSITE_MAX_BODY_BYTES)"
        )
    if isinstance(exc, SuspiciousOperation):
        # Too many query or form fields, a malformed multipart body: the client's fault, a 400.
        return exceptions.ParseError(str(exc) or "Malformed request")
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or "Not found")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return exceptions.ValidationError(detail)
    return exc


def validation_error_for_wire(error: DjangoValidationError, field_names: dict[str, str]) -> exceptions.ValidationError:
    """A service's `ValidationError`, keyed by the service's argument names, as the API's, keyed by
    the wire's field names (`{"run_name": …}` → `{"runName": …}`).

    Keys missing from `field_names` keep their name; an error that names no field stays a list.
    Raise the result `from None`, so the traceback shows one error.
    """
    if not hasattr(error, "error_dict"):
        return exceptions.ValidationError(error.messages)
    return exceptions.ValidationError(
        {field_names.get(field, field): messages for field, messages in error.message_dict.items()}
    )


def error_name(exc: exceptions.APIException) -> str:
    for cls in type(exc).__mro__:
        if cls in ERROR_NAMES:
            return ERROR_NAMES[cls]
    return "Error"


def exception_handler(exc, context):
    # Services key their ValidationErrors by argument names; the view says how the wire spells them.
    wire_names = getattr(context.get("view"), "wire_field_names", None)
    if wire_names and isinstance(exc, DjangoValidationError):
        exc = validation_error_for_wire(exc, wire_names)
    exc = to_api_exception(exc)
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let it surface (the middleware still answers JSON)
    if isinstance(exc, exceptions.ValidationError):
        lines = flatten_detail(exc.detail)
        body = {"message": "Invalid request data: " + "; ".join(lines), "error": error_name(exc), "details": exc.detail}
    else:
        body = {"message": str(exc.detail), "error": error_name(exc)}
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    return Response(body, status=exc.status_code, headers=headers)
