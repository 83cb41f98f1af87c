"""Signed, expiring tokens for the upload and download URLs of the local media storage.

The SDK uploads with a bare `PUT <uploadUrl>` (no credentials) and reads with a bare GET, so the
URL itself is the credential, as an S3 presigned URL is. A token is Django's signed, timestamped
JSON (django.core.signing, keyed by SECRET_KEY, a salt per use) naming the project, the media and
its storage key; an upload token also carries the declared type, length and hash, so the upload
view can hold the bytes to them without trusting anything else in the request. A token for one
project's media names that project: it cannot be turned into another's.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

from traces.media.models import Media

UPLOAD_SALT = "traces.media.upload"
DOWNLOAD_SALT = "traces.media.download"


class InvalidToken(Exception):
    """The token was tampered with, signed with another key, or expired."""


@dataclass(frozen=True)
class UploadClaims:
    project_id: str
    media_id: str
    storage_key: str
    content_type: str
    content_length: int
    sha256_hash: str


@dataclass(frozen=True)
class DownloadClaims:
    project_id: str
    media_id: str
    storage_key: str


def upload_token(media: Media) -> str:
    claims = {
        "p": media.project_id, "m": media.media_id, "k": media.storage_key,
        "t": media.content_type, "l": media.content_length, "h": media.sha256_hash,
    }
    return signing.dumps(claims, salt=UPLOAD_SALT, compress=True)


def upload_claims(token: str, *, max_age: int) -> UploadClaims:
    claims = _loads(token, UPLOAD_SALT, max_age)
    try:
        return UploadClaims(
            project_id=str(claims["p"]), media_id=str(claims["m"]), storage_key=str(claims["k"]),
            content_type=str(claims["t"]), content_length=int(claims["l"]), sha256_hash=str(claims["h"]),
        )
    except (KeyError, TypeError, ValueError) as error:  # signed by us, so only an older format
        raise InvalidToken("Malformed upload token") from error


def download_token(media: Media) -> str:
    return signing.dumps({"p": media.project_id, "m": media.media_id, "k": media.storage_key}, salt=DOWNLOAD_SALT)


def download_claims(token: str, *, max_age: int) -> DownloadClaims:
    claims = _loads(token, DOWNLOAD_SALT, max_age)
    try:
        return DownloadClaims(project_id=str(claims["p"]), media_id=str(claims["m"]), storage_key=str(claims["k"]))
    except (KeyError, TypeError) as error:
        raise InvalidToken("Malformed download token") from error


def _loads(token: str, salt: str, max_age: int) -> dict:
    try:
        claims = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as error:
        raise InvalidToken("The URL has expired") from error
    except signing.BadSignature as error:
        raise InvalidToken("The URL's signature is not valid") from error
    if not isinstance(claims, dict):
        raise InvalidToken("Malformed token")
    return claims
