"""CPU per chat call of the LLM client, and what the fake server answers at most.

    .venv/bin/python -m bench.llm_client [--calls 500]

The fake OpenAI-compatible server runs in its own process. First, `--calls` sequential calls with
no latency: the client's CPU time (process_time) per call, through `chat()` (the lean transport,
evalsite/llm/transport.py) and through the SDK's path `chat()` takes behind a proxy. Then 32
threads call the server at 50 ms latency: the most judgements per second the benchmark's fake
server gives on this machine, the bound under bench.evaluators' "ideal".
"""

import argparse
import json
import threading
import time
from unittest import mock

from bench.fake_llm_server import fake_llm_process
from bench.harness import report


def cpu_per_call(endpoint, calls: int) -> float:
    from evalsite.llm.client import chat

    messages = [{"role": "user", "content": "Q: question 1\nA: answer 1"}]
    for _ in range(20):  # connections opened, code paths warm
        chat(endpoint, model="fake-model", messages=messages)
    started = time.process_time()
    for _ in range(calls):
        chat(endpoint, model="fake-model", messages=messages)
    return (time.process_time() - started) / calls * 1e6


def server_rate(url: str, in_flight: int, calls: int) -> float:
    from evalsite.llm import transport

    body = json.dumps({"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}).encode()

    def caller(count: int) -> None:
        for _ in range(count):
            transport.post(f"{url}/chat/completions", body=body, headers={"Content-Type": "application/json"}, timeout=30)

    threads = [threading.Thread(target=caller, args=(calls // in_flight,)) for _ in range(in_flight)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return in_flight * (calls // in_flight) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    from evalsite.llm import transport
    from evalsite.llm.client import Endpoint

    with fake_llm_process(0.0) as url:
        endpoint = Endpoint(base_url=url, api_key="sk-bench")
        lean = cpu_per_call(endpoint, args.calls)
        with mock.patch.object(transport, "uses_proxy", lambda url: True):
            sdk = cpu_per_call(endpoint, args.calls)
    with fake_llm_process(0.05) as url:
        rate = server_rate(url, 32, 3200)
    report(f"LLM client, {args.calls} sequential calls to the fake server", [
        ("CPU per call, chat() over the lean transport", f"{lean:.0f} µs"),
        ("CPU per call, chat() over the SDK's path (proxied URLs)", f"{sdk:.0f} µs"),
        ("fake server at 50 ms latency, 32 in flight (ideal 640/s)", f"{rate:.0f} answers/s"),
    ])


if __name__ == "__main__":
    main()
