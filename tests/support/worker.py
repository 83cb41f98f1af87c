"""A real `manage.py qcluster` process for end-to-end job tests.

It connects to the test database (PostgreSQL only: an in-memory SQLite database cannot be shared
with another process) and to the broker the settings name (Redis when REDIS_URL is set, else the
database). Tests that use it need `transactional_db` so the worker sees committed rows.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def require_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("a worker process cannot share the in-memory SQLite test database; runs on PostgreSQL in CI")


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class Worker:
    def __init__(self, extra_env: dict | None = None):
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "EVALSITE_JOBS_SYNC": "0",
            "EVALSITE_WORKERS": "1",
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        # Its log goes to a file, not a pipe nobody reads: a full pipe would block the cluster's
        # next log line, and every thread waiting on the logging lock with it.
        self.log = tempfile.TemporaryFile(mode="w+")
        # Its own process group, so a kill takes the sentinel, workers, pusher and monitor with it.
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=self.log,
        )

    def kill(self) -> None:
        """SIGKILL the whole cluster: nothing gets to clean up, as when a machine dies."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._show_log()

    def _show_log(self) -> None:
        """The cluster's log on the test's stderr, which pytest prints when the test fails."""
        if self.log.closed:
            return
        self.log.seek(0)
        tail = self.log.read()[-20_000:]
        self.log.close()
        if tail:
            print(f"--- qcluster {self.process.pid} log ---\n{tail}", file=sys.stderr)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._show_log()


@contextmanager
def qcluster(extra_env: dict | None = None):
    require_postgresql()
    worker = Worker(extra_env)
    try:
        yield worker
    finally:
        worker.stop()


def wait_for(predicate, *, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
