"""Import files arrive as multipart uploads: streamed to a temporary file, refused once too large.

Django's default handlers would keep a small file in memory and spool a large one to disk, and
the import read it back whole before looking at its size: a 300 MB upload cost a worker 300 MB.
`ImportUploadHandler` counts the bytes as they stream in and stops the upload with a 413
(`ImportFileTooLarge`) as soon as the files of a request pass `importing.MAX_IMPORT_BYTES`, or at
once when the declared Content-Length already does. Only a file within the limit is ever read
into memory, by the import itself.

Upload handlers must be chosen before anything reads the body: the API view sets them before it
touches `request.data`; an admin view is wrapped in `with_import_uploads`, which sets them before
CSRF protection reads the form.
"""

from functools import wraps

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from datasets.importing import MAX_IMPORT_BYTES
from evalsite.api.errors import PayloadTooLarge

# Multipart boundaries and headers around the file, beyond the form fields' own allowance.
MULTIPART_OVERHEAD = 64 * 1024


class ImportFileTooLarge(PayloadTooLarge):
    def __init__(self):
        super().__init__(f"An import file may be at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")


class ImportUploadHandler(TemporaryFileUploadHandler):
    """Every file of the request to a temporary file, at most MAX_IMPORT_BYTES in all."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.received = 0
        # A body that says it is larger than any acceptable upload is refused before it is read.
        if content_length > MAX_IMPORT_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE + MULTIPART_OVERHEAD:
            raise ImportFileTooLarge()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > MAX_IMPORT_BYTES:
            self.file.close()  # a temporary file deletes itself when closed
            raise ImportFileTooLarge()
        return super().receive_data_chunk(raw_data, start)


def with_import_uploads(view):
    """Wrap a Django view (one protected against CSRF, as admin views are) so that its uploads go
    through `ImportUploadHandler`; a too-large upload is answered with a plain 413."""

    @csrf_exempt  # the wrapped view checks CSRF itself, once the handlers are in place
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.upload_handlers = [ImportUploadHandler(request)]
        try:
            return view(request, *args, **kwargs)
        except ImportFileTooLarge as error:
            return HttpResponse(str(error.detail), status=413, content_type="text/plain; charset=utf-8")

    return wrapper
