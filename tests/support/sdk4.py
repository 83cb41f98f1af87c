"""The langfuse 4.x SDK as a second client, in a virtualenv of its own.

The shared test virtualenv holds langfuse 5 (pyproject's `test` extra); many teams still pin 4.x,
whose wire differs (legacy `/ingestion` for scores, `/traces` reads, JSON-encoded OTel metadata).
One Python process cannot import two versions of a package, so 4.x runs in a subprocess from a
virtualenv built here on first use (`pip install langfuse==4.14.3` from PyPI) and kept under
`var/` for later runs. Tests that need it skip, saying why, only when that virtualenv cannot be
built (no network, no pip); CI builds it.

A test hands `run_sdk4` the body of a script: it runs with `lf` bound to a 4.x `Langfuse` client
pointed at the live server, may assign anything JSON-encodable to `result`, and the client is
flushed and shut down before `result` comes back.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import venv
from pathlib import Path

import pytest

LANGFUSE_4_VERSION = "4.14.3"
ROOT = Path(__file__).resolve().parents[2]
VENV_DIR = ROOT / "var" / "sdk-venvs" / f"langfuse-{LANGFUSE_4_VERSION}"
# Written last, so a half-built virtualenv (an interrupted install) is rebuilt, never used.
READY_MARK = VENV_DIR / ".ready"
INSTALL_TIMEOUT = 600
SCRIPT_TIMEOUT = 120

_build_problem: str | None = None

PRELUDE = """\
import json, os, sys
from langfuse import Langfuse

lf = Langfuse(
    public_key=os.environ["SDK4_PUBLIC_KEY"],
    secret_key=os.environ["SDK4_SECRET_KEY"],
    base_url=os.environ["SDK4_BASE_URL"],
    flush_at=int(os.environ["SDK4_FLUSH_AT"]),
    flush_interval=float(os.environ["SDK4_FLUSH_INTERVAL"]),
    environment=os.environ.get("SDK4_ENVIRONMENT") or None,
)
result = None
"""
EPILOGUE = """
lf.flush()
lf.shutdown()
sys.stdout.write("\\n@@result@@" + json.dumps(result, default=str))
"""


def _python() -> Path:
    return VENV_DIR / "bin" / "python"


def sdk4_python() -> Path:
    """The virtualenv's python, building the virtualenv first if needed; skips the test when it
    cannot be built."""
    global _build_problem
    if READY_MARK.exists():
        return _python()
    if _build_problem is None:
        _build_problem = _build()
    if _build_problem:
        pytest.skip(f"langfuse {LANGFUSE_4_VERSION} could not be installed in {VENV_DIR}: {_build_problem}")
    return _python()


def _build() -> str:
    """'' when the virtualenv is ready, else what went wrong."""
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV_DIR)
        subprocess.run(
            [str(_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             f"langfuse=={LANGFUSE_4_VERSION}"],
            check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
        )  # fmt: skip
    except subprocess.CalledProcessError as failure:
        return (failure.stderr or failure.stdout or str(failure)).strip().splitlines()[-1]
    except (OSError, subprocess.TimeoutExpired) as failure:
        return str(failure)
    READY_MARK.write_text(LANGFUSE_4_VERSION)
    return ""


def run_sdk4(live_server, key, body: str, *, flush_at: int = 100, flush_interval: float = 0.5, environment=None):
    """Run `body` with a 4.x client `lf` against `live_server` with `key`; returns `result`."""
    python = sdk4_python()
    script = PRELUDE + textwrap.dedent(body) + EPILOGUE
    # Nothing of the test process's environment may point the client elsewhere.
    inherited = {name: value for name, value in os.environ.items() if not name.startswith(("LANGFUSE_", "OTEL_"))}
    env = {
        **inherited,
        "SDK4_PUBLIC_KEY": key.public_key,
        "SDK4_SECRET_KEY": key.secret_key,
        "SDK4_BASE_URL": live_server.url,
        "SDK4_FLUSH_AT": str(flush_at),
        "SDK4_FLUSH_INTERVAL": str(flush_interval),
        "SDK4_ENVIRONMENT": environment or "",
        "PYTHONPATH": "",
    }
    finished = subprocess.run(
        [str(python), "-c", script], env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT, cwd=VENV_DIR
    )
    if finished.returncode != 0 or "@@result@@" not in finished.stdout:
        raise AssertionError(
            f"the langfuse {LANGFUSE_4_VERSION} script failed ({finished.returncode}):\n{finished.stderr[-4000:]}"
        )
    return json.loads(finished.stdout.rsplit("@@result@@", 1)[1])


def sdk4_version() -> str:
    """The version the virtualenv really holds (a test of the helper itself)."""
    finished = subprocess.run(
        [str(sdk4_python()), "-c", "import langfuse; print(langfuse.__version__)"],
        capture_output=True, text=True, timeout=SCRIPT_TIMEOUT, check=True,
    )  # fmt: skip
    return finished.stdout.strip()

