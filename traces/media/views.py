"""The local storage's upload and download URLs: `PUT /media/upload/<token>`, `GET /media/download/<token>`.

No API key: the SDK sends none to an upload URL, and an <img> sends none either. The signed token
(traces/media/signing.py) is the credential, for one media of one project, until it expires. An
upload is refused unless its Content-Type, Content-Length, x-amz-checksum-sha256 (when sent) and
then the bytes themselves match what the token declares. Errors are JSON like the API's.
"""

import mimetypes

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from evalsite.errors import NotFound
from traces.media import signing, storage
from traces.media.limits import download_url_seconds, shown_inline, upload_url_seconds
from traces.media.selectors import media_get
from traces.media.services import media_content_store

# What a served file may do when opened on its own: nothing (an uploaded HTML or SVG would
# otherwise run as this site).
DOWNLOAD_CSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
UPLOAD_FIELDS = {"content_length": "Content-Length", "sha256_hash": "body"}


def _error(status: int, error: str, message: str, details: dict | None = None) -> JsonResponse:
    body = {"message": message, "error": error}
    if details:
        body["details"] = details
    return JsonResponse(body, status=status)


@csrf_exempt
@require_http_methods(["PUT"])
def media_upload(request, token):
    try:
        claims = signing.upload_claims(token, max_age=upload_url_seconds())
    except signing.InvalidToken as error:
        return _error(403, "AccessDeniedError", str(error))
    content_type = (request.content_type or "").strip().lower()
    if content_type != claims.content_type:
        return _error(
            400, "InvalidRequestError",
            f"Content-Type: expected {claims.content_type}, the type declared for this upload",
            {"Content-Type": [f"expected {claims.content_type}"]},
        )
    length = request.META.get("CONTENT_LENGTH") or ""
    if not length.isdigit():
        return _error(411, "LengthRequiredError", "Content-Length: required")
    if int(length) != claims.content_length:
        return _error(
            400, "InvalidRequestError", f"Content-Length: expected {claims.content_length} bytes, as declared",
            {"Content-Length": [f"expected {claims.content_length}"]},
        )
    checksum = request.headers.get("x-amz-checksum-sha256")
    if checksum is not None and checksum != claims.sha256_hash:
        return _error(
            400, "BadDigestError", "x-amz-checksum-sha256: does not match the declared SHA-256",
            {"x-amz-checksum-sha256": ["does not match the declared SHA-256"]},
        )
    chunks = iter(lambda: request.read(storage.CHUNK_BYTES), b"")
    try:
        media_content_store(
            project_id=claims.project_id, media_id=claims.media_id, storage_key=claims.storage_key,
            content_length=claims.content_length, sha256_hash=claims.sha256_hash, chunks=chunks,
        )
    except ValidationError as error:
        details = {UPLOAD_FIELDS.get(key, key): messages for key, messages in error.message_dict.items()}
        message = "; ".join(f"{key}: {' '.join(messages)}" for key, messages in details.items())
        return _error(400, "BadDigestError" if "body" in details else "InvalidRequestError", message, details)
    except NotFound as error:
        return _error(404, "NotFoundError", error.message)
    return HttpResponse(status=200)


@require_http_methods(["GET", "HEAD"])
def media_download(request, token):
    try:
        claims = signing.download_claims(token, max_age=download_url_seconds())
    except signing.InvalidToken as error:
        return _error(403, "AccessDeniedError", str(error))
    media = media_get(project=claims.project_id, media_id=claims.media_id, uploaded=True)
    if media is None or media.storage_key != claims.storage_key:
        return _error(404, "NotFoundError", "Media not found")
    inline = shown_inline(media.content_type)
    filename = media.media_id + (mimetypes.guess_extension(media.content_type) or "")
    response = FileResponse(
        storage.open_stored(media.storage_key), content_type=media.content_type, as_attachment=not inline,
        filename=filename,
    )
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    return response
