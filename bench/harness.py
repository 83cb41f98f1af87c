"""What every benchmark needs: a fresh PostgreSQL database, a project with a key, a gunicorn server.

Benchmarks print figures; they are not pass/fail tests. Run them from the repository root with the
project's virtualenv, e.g. `.venv/bin/python -m bench.ingest`.
"""

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from evalsite.progress import ProgressLine

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# Production-like settings shared by every process of a benchmark. The secret key must be the same
# everywhere: django-q signs tasks with it, and a worker drops tasks signed with another key.
BENCH_ENV = {
    "DEBUG": "false",
    # Plain HTTP on the loopback: no redirect to HTTPS, no Secure-only cookies.
    "EVALSITE_HTTPS": "false",
    "EVALSITE_SECRET_KEY": "bench-secret-key",
    "EVALSITE_ENCRYPTION_KEY": "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM=",
    "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
}


@dataclass(frozen=True)
class Site:
    base_url: str
    database_url: str
    project_id: str
    public_key: str
    secret_key: str
    server_pid: int

    @property
    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def manage(database_url: str, *args: str, extra_env: dict | None = None) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, **(extra_env or {})}
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def prepare(database_name: str) -> tuple[str, str, str, str]:
    """Migrate a fresh database and create a project with a key: (database_url, project_id, pk, sk)."""
    database_url = fresh_database(database_name)
    manage(database_url, "migrate", "--noinput")
    org = manage(database_url, "create_organization", "Bench").strip()
    project_id = manage(database_url, "create_project", "Bench", "--organization", org).strip()
    env = dict(line.split("=", 1) for line in manage(database_url, "create_api_key", "--project", project_id).split())
    return database_url, project_id, env["LANGFUSE_PUBLIC_KEY"], env["LANGFUSE_SECRET_KEY"]


@contextlib.contextmanager
def gunicorn_site(database_name: str, *, workers: int = 2, timeout: int = 120, extra_env: dict | None = None):
    database_url, project_id, pk, sk = prepare(database_name)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, **BENCH_ENV, **(extra_env or {})}
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "evalsite.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--worker-class", "gthread", "--threads", "4", "--log-level", "warning", "--timeout", str(timeout)],
        cwd=ROOT, env=env,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url)
        yield Site(base_url, database_url, project_id, pk, sk, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_up(base_url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/api/public/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {base_url} did not come up")


def worker_pids(server_pid: int) -> list[int]:
    """The gunicorn workers of a master process: its children, read from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{server_pid}\n" in status:
            pids.append(int(entry.name))
    return sorted(pids)


def peak_rss_mib(pid: int) -> float:
    """The peak resident set of a process so far (VmHWM), in MiB; 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers_peak_rss(site: "Site") -> str:
    """Each web worker's peak RSS so far, e.g. "212, 230 MiB"."""
    peaks = [peak_rss_mib(pid) for pid in worker_pids(site.server_pid)]
    return ", ".join(f"{peak:.0f}" for peak in peaks) + " MiB"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


_progress_lines: dict[str, ProgressLine] = {}


def progress(label: str, done: int, total: int) -> None:
    line = _progress_lines.setdefault(label, ProgressLine(label))
    line.update(done, total, final=done >= total)


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    for key, value in rows:
        print(f"  {key:<40} {value}")


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))
