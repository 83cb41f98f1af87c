"""Offline evaluation throughput: N run items × 2 LLM judges through the worker, against the ideal.

    .venv/bin/python -m bench.evaluators [--items 1000] [--latency 0.05] [--concurrency 32]

A fresh PostgreSQL database, the Redis broker, one `qcluster` with EVALSITE_EVAL_CONCURRENCY judge
calls in flight, and the fake OpenAI-compatible server in its own process answering after `latency`.
Measures from the backfill call (`run_evaluate`, which creates and enqueues the jobs) until every job
is finished, and prints the rate against the ideal concurrency / latency.
"""

import argparse
import os
import signal
import subprocess
import time

from bench.fake_llm_server import fake_llm_process
from bench.harness import PYTHON, ROOT, gunicorn_site, progress, report
from bench.runner import setup_django, wait_for_cluster


def make_fixtures(project_id: str, llm_url: str, items: int):
    from decimal import Decimal

    from evalsite.llm.connections import llm_connection_create
    from evalsite.llm.prices import model_price_create
    from evalsite.tenancy.models import Project
    from evaluators.services import evaluator_create
    from experiments.models import ExperimentRun, RunItem

    project = Project.objects.get(pk=project_id)
    llm_connection_create(project=project, provider="fake", secret_key="sk-bench", base_url=llm_url)
    model_price_create(project=project, model_name="fake-model", match_pattern="fake-model",
                       input_price=Decimal("0.000001"), output_price=Decimal("0.000002"))
    run = ExperimentRun.objects.create(project=project, name="bench-eval")
    RunItem.objects.bulk_create(
        RunItem(project=project, run=run, item_key=f"item-{i}", trace_id=f"{i + 1:032x}", input=f"question {i}",
                output=f"answer {i}", expected_output=f"answer {i}")
        for i in range(items)
    )
    judges = [
        evaluator_create(project=project, name="correct", kind="llm_as_judge",
                         prompt="Q: {{input}}\nA: {{output}}\nExpected: {{expected_output}}",
                         model_config={"provider": "fake", "model": "fake-model"},
                         output_definition={"dataType": "BOOLEAN"}),
        evaluator_create(project=project, name="helpful", kind="llm_as_judge",
                         prompt="Rate {{output}} for {{input}}",
                         model_config={"provider": "fake", "model": "fake-model"},
                         output_definition={"dataType": "NUMERIC", "minValue": 0, "maxValue": 10}),
    ]
    return project, run, judges


def evaluate(project, run, judges, total: int) -> tuple[float, float, dict]:
    """(seconds to the last job finished, seconds the backfill call took, jobs by status)."""
    from django.db.models import Count

    from evaluators.models import EvaluationJob
    from evaluators.offline import run_evaluate

    started = time.perf_counter()
    run_evaluate(project=project, run=run, evaluators=[{"evaluatorId": judge.pk} for judge in judges])
    backfill = time.perf_counter() - started
    while True:
        counts = dict(EvaluationJob.objects.filter(project=project).values_list("status").annotate(n=Count("id")))
        finished = sum(n for status, n in counts.items() if status not in ("queued", "running"))
        progress("evaluation jobs finished", finished, total)
        if finished >= total:
            return time.perf_counter() - started, backfill, counts
        time.sleep(0.05)


def stop_cluster(worker: subprocess.Popen) -> None:
    """The whole cluster, killed if it does not stop: a cluster left running would take the next
    run's tasks from the same broker."""
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    ideal = args.concurrency / args.latency
    total = args.items * 2

    with fake_llm_process(args.latency) as llm_url, gunicorn_site("evalsite_bench_evaluators", workers=1) as site:
        setup_django(site.database_url)
        project, run, judges = make_fixtures(site.project_id, llm_url, args.items)
        env = {**os.environ, "EVALSITE_WORKERS": "2", "EVALSITE_EVAL_CONCURRENCY": str(args.concurrency // 2)}
        worker = subprocess.Popen([PYTHON, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True)
        try:
            wait_for_cluster()
            seconds, backfill, counts = evaluate(project, run, judges, total)
        finally:
            stop_cluster(worker)

    from evaluators.models import EvaluationJob
    from scoring.models import Score

    rate = total / seconds
    report(f"{args.items} run items × 2 judges, fake LLM latency {args.latency * 1000:.0f} ms, "
           f"concurrency {args.concurrency} (ideal {ideal:.0f} judgements/s)", [
        ("backfill → every job finished", f"{seconds:.2f} s, {rate:.0f} judgements/s = {rate / ideal:.0%} of ideal"),
        ("of which the backfill call (jobs created, enqueued)", f"{backfill:.2f} s"),
        ("jobs by status", str(counts)),
        ("EVAL scores written", str(Score.objects.filter(project=project, source="EVAL").count())),
        ("judge cost recorded", str(sum(j.cost or 0 for j in EvaluationJob.objects.filter(project=project)))),
    ])


if __name__ == "__main__":
    main()
