import logging

from django.http import JsonResponse

logger = logging.getLogger(__name__)

API_PREFIX = "/api/public/"


class PublicApiErrorMiddleware:
    """Keeps the public API JSON-only outside DRF's reach: unknown routes and unexpected errors.

    Also collapses a leading `//`: the SDK builds its OTLP URL by string concatenation, so a base URL
    with a trailing slash yields `//api/public/otel/…`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("//"):
            request.path_info = "/" + request.path_info.lstrip("/")
        response = self.get_response(request)
        if (
            request.path_info.startswith(API_PREFIX)
            and response.status_code == 404
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return JsonResponse(
                {"message": f"No route for {request.method} {request.path_info}", "error": "NotFoundError"},
                status=404,
            )
        return response

    def process_exception(self, request, exception):
        if not request.path_info.startswith(API_PREFIX):
            return None
        logger.exception("unhandled error on %s %s", request.method, request.path_info)
        return JsonResponse({"message": "Internal server error", "error": "InternalServerError"}, status=500)
