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
