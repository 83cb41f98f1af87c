"""Helpers for tests that talk to a live server over HTTP (the SDK, OTLP exporters)."""

from contextlib import contextmanager


@contextmanager
def langfuse_client(live_server, created_key, **options):
    """An unmodified langfuse SDK client pointed at the live test server; shut down on exit."""
    from langfuse import Langfuse

    client = Langfuse(
        public_key=created_key.public_key,
        secret_key=created_key.secret_key,
        base_url=live_server.url,
        tracing_enabled=True,
        **options,
    )
    try:
        yield client
    finally:
        client.shutdown()


def wait_for_media_uploads(client) -> None:
    """Block until the SDK's background media uploads are done (its `flush()` exports spans first).

    For SQLite: the live server's threads share one in-memory database, which cannot take two
    writers at once ("database table is locked"); a test that lets span exports and media uploads
    overlap fails there at random. On PostgreSQL they may overlap freely.
    """
    client._resources._media_upload_queue.join()
