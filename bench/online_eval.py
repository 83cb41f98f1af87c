"""Online evaluation end to end: live OTLP traffic, one rule, a judge, the lag to each score.

    .venv/bin/python -m bench.online_eval [--rate 200] [--seconds 60] [--sampling 0.1] [--delay 2]

A fresh PostgreSQL database, gunicorn (2 workers), one `qcluster` (2 workers) on the Redis
broker and the fake OpenAI-compatible server in its own process answering after `--latency`
(50 ms), all on this machine. One enabled rule judges `--sampling` of the traces with an LLM judge,
`--delay` seconds after each trace's last update. Traces (a root span and a generation each) are
sent at `--rate` per second for `--seconds`, in OTLP exports of a tenth of a second's traces.

Prints the evaluation lag of every judged trace (score stored − the moment its delay was over),
p50 / p95 / max, and checks that every sampled trace got exactly one score and no other did (the
sampling is a hash of rule and trace id, so the bench knows which traces should be judged).
"""

import argparse
import gzip
import json
import os
import subprocess
import threading
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from bench.fake_llm_server import fake_llm_process
from bench.harness import PYTHON, ROOT, gunicorn_site, percentile, progress, report
from bench.ingest import attr
from bench.runner import REDIS_URL, setup_django, wait_for_cluster

EXPORTS_PER_SECOND = 10


def export_body(trace_ids: list[str]) -> bytes:
    now_ns = time.time_ns()
    spans = []
    for trace_id in trace_ids:
        root = os.urandom(8)
        common = [attr("langfuse.environment", "bench")]
        spans.append(Span(
            trace_id=bytes.fromhex(trace_id), span_id=root, name="answer",
            start_time_unix_nano=now_ns, end_time_unix_nano=now_ns + 2_000_000,
            attributes=common + [
                attr("langfuse.trace.name", "support-answer"),
                attr("langfuse.observation.input", json.dumps({"question": "How do I reset my password?"})),
                attr("langfuse.observation.output", json.dumps({"answer": "Open Settings, then Security."})),
            ],
        ))
        spans.append(Span(
            trace_id=bytes.fromhex(trace_id), span_id=os.urandom(8), parent_span_id=root, name="llm",
            start_time_unix_nano=now_ns, end_time_unix_nano=now_ns + 1_000_000,
            attributes=common + [
                attr("langfuse.observation.type", "generation"),
                attr("langfuse.observation.model.name", "gpt-4o-mini"),
                attr("langfuse.observation.usage_details", json.dumps({"input": 40, "output": 12})),
            ],
        ))
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=[attr("service.name", "bench-online")]),
        scope_spans=[ScopeSpans(scope=InstrumentationScope(name="langfuse-sdk", version="5.0.4"), spans=spans)],
    )])
    return gzip.compress(request.SerializeToString())


def send(site, body: bytes) -> int:
    request = urllib.request.Request(
        f"{site.base_url}/api/public/otel/v1/traces", data=body, method="POST",
        headers={"Authorization": site.authorization, "Content-Type": "application/x-protobuf",
                 "Content-Encoding": "gzip"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


def make_rule(project_id: str, llm_url: str, sampling: float, delay: int):
    from decimal import Decimal

    from evalsite.llm.connections import llm_connection_create
    from evalsite.llm.prices import model_price_create
    from evalsite.tenancy.models import Project
    from evaluators.services import evaluation_rule_create, evaluator_create

    project = Project.objects.get(pk=project_id)
    llm_connection_create(project=project, provider="fake", secret_key="sk-bench", base_url=llm_url)
    model_price_create(project=project, model_name="fake-model", match_pattern="fake-model",
                       input_price=Decimal("0.000001"), output_price=Decimal("0.000002"))
    judge = evaluator_create(project=project, name="helpful", kind="llm_as_judge",
                             prompt="Question: {{input}}\nAnswer: {{output}}\nIs the answer helpful?",
                             model_config={"provider": "fake", "model": "fake-model"},
                             output_definition={"dataType": "BOOLEAN"})
    rule = evaluation_rule_create(project=project, name="online bench", enabled=True, target="trace",
                                  sampling=sampling, delay_seconds=delay,
                                  evaluator_assignments=[{"evaluatorId": judge.pk}])
    return project, rule


def traffic(site, rate: int, seconds: int) -> tuple[list[str], list[int], float]:
    """Send `rate` traces/s for `seconds`, paced by the clock; returns (trace ids, statuses, lateness)."""
    per_export = max(1, rate // EXPORTS_PER_SECOND)
    exports = [[uuid.uuid4().hex for _ in range(per_export)] for _ in range(seconds * EXPORTS_PER_SECOND)]
    statuses, lock = [], threading.Lock()
    started = time.monotonic()
    worst_lateness = 0.0

    def one(body: bytes) -> None:
        status = send(site, body)
        with lock:
            statuses.append(status)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for index, trace_ids in enumerate(exports):
            due = started + index / EXPORTS_PER_SECOND
            time.sleep(max(0.0, due - time.monotonic()))
            worst_lateness = max(worst_lateness, time.monotonic() - due)
            pool.submit(one, export_body(trace_ids))
            progress("OTLP exports sent", index + 1, len(exports))
    return [trace_id for export in exports for trace_id in export], statuses, worst_lateness


def wait_until_judged(project, rule, expected: int, timeout: float = 300) -> None:
    from evaluators.models import EvaluationJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = EvaluationJob.objects.filter(project=project, rule=rule)
        finished = jobs.exclude(status__in=("queued", "running")).count()
        progress("sampled traces judged", min(finished, expected), expected)
        if finished >= expected and not jobs.filter(status__in=("queued", "running")).exists():
            return
        time.sleep(0.2)
    raise RuntimeError("the sampled traces were not all judged in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=200, help="traces per second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--sampling", type=float, default=0.1)
    parser.add_argument("--delay", type=int, default=2, help="the rule's delay after a trace's last update")
    parser.add_argument("--latency", type=float, default=0.05, help="the fake judge's latency")
    args = parser.parse_args()

    with fake_llm_process(args.latency) as llm_url, gunicorn_site(
        "evalsite_bench_online", extra_env={"REDIS_URL": REDIS_URL}
    ) as site:
        setup_django(site.database_url)
        project, rule = make_rule(site.project_id, llm_url, args.sampling, args.delay)
        env = {**os.environ, "EVALSITE_WORKERS": "2"}
        worker = subprocess.Popen([PYTHON, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True)
        try:
            wait_for_cluster()
            trace_ids, statuses, lateness = traffic(site, args.rate, args.seconds)
            from evaluators.online import sampled_in

            expected = {trace_id for trace_id in trace_ids if sampled_in(rule.pk, trace_id, args.sampling)}
            wait_until_judged(project, rule, len(expected))
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    from django.db.models import Count

    from evaluators.models import EvaluationJob
    from scoring.models import Score

    jobs = list(EvaluationJob.objects.filter(project=project, rule=rule).values("trace_id", "status", "not_before", "score_id"))
    created = dict(Score.objects.filter(project=project, source="EVAL").values_list("score_id", "created_at"))
    lags = [(created[job["score_id"]] - job["not_before"]).total_seconds() for job in jobs if job["score_id"] in created]
    per_trace = dict(Score.objects.filter(project=project, source="EVAL").values_list("trace_id").annotate(n=Count("id")))
    judged = set(per_trace)
    report(f"online evaluation: {args.rate} traces/s for {args.seconds} s through OTLP, one rule at "
           f"{args.sampling:.0%} sampling, {args.delay} s delay, {args.latency * 1000:.0f} ms fake judge", [
        ("traces sent / statuses", f"{len(trace_ids)} / {sorted(set(statuses))}"),
        ("sender's worst lateness", f"{lateness * 1000:.0f} ms behind the schedule"),
        ("sampled traces / judged / scores", f"{len(expected)} / {len(judged)} / {sum(per_trace.values())}"),
        ("every sampled trace scored exactly once", str(judged == expected and set(per_trace.values()) == {1})),
        ("jobs by status", str(dict(Counter(job["status"] for job in jobs)))),
        ("lag after the delay p50 / p95 / max", f"{percentile(lags, 50):.2f} s / {percentile(lags, 95):.2f} s / {max(lags):.2f} s"),
    ])


if __name__ == "__main__":
    main()
