"""The tests' fake OpenAI-compatible server as its own process, so it does not share a GIL with what is measured.

    .venv/bin/python -m bench.fake_llm_server --latency 0.05   # prints its base URL, serves until killed
"""

import argparse
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager

from bench.harness import PYTHON, ROOT


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    from tests.support.fake_llm import FakeLLMServer

    server = FakeLLMServer(latency=args.latency, template="answer to: {last_user_message}")
    server.start()
    print(server.base_url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()


@contextmanager
def fake_llm_process(latency: float):
    process = subprocess.Popen(
        [PYTHON, "-m", "bench.fake_llm_server", "--latency", str(latency)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
