"""Media made through the real services (the upload request, then the verified bytes)."""

import base64
import hashlib
import struct
import zlib

from traces.media.services import media_content_store, media_upload_request


def sha256_b64(content: bytes) -> str:
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG of one colour (browsers render it; its bytes differ per colour and size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def media_id_of(content: bytes) -> str:
    return sha256_b64(content).replace("+", "-").replace("/", "_")[:22]


def reference(content: bytes, content_type: str, source: str = "bytes") -> str:
    return f"@@@langfuseMedia:type={content_type}|id={media_id_of(content)}|source={source}@@@"


def stored_media(project, content: bytes, content_type: str = "image/png", *, trace_id="trace-1", field="input",
                 observation_id=None):
    ticket = media_upload_request(
        project=project, content_type=content_type, content_length=len(content), sha256_hash=sha256_b64(content),
        field=field, trace_id=trace_id, observation_id=observation_id,
    )
    if ticket.needs_upload:
        media = ticket.media
        return media_content_store(
            project_id=project.pk, media_id=media.media_id, storage_key=media.storage_key,
            content_length=media.content_length, sha256_hash=media.sha256_hash, chunks=iter([content]),
        )
    return ticket.media
