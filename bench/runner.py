"""Server-side experiment runs against the langfuse SDK's own run_experiment, over the same items.

    .venv/bin/python -m bench.runner [--items 1000] [--latency 0.05] [--concurrency 32]

A fresh PostgreSQL database, the Redis broker, one `qcluster`, gunicorn (2 workers) and the fake
OpenAI-compatible server in its own process. Measures a platform run from enqueue to completion,
then the SDK's `run_experiment(max_concurrency=…)` with a task that calls the same fake server
(its spans go to our gunicorn server), and prints both against the ideal concurrency / latency.
"""

import argparse
import os
import subprocess
import time
from decimal import Decimal

from bench.fake_llm_server import fake_llm_process
from bench.harness import BENCH_ENV, PYTHON, ROOT, gunicorn_site, report

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def setup_django(database_url: str) -> None:
    os.environ.update(BENCH_ENV, DATABASE_URL=database_url, REDIS_URL=REDIS_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")
    import django

    django.setup()


def make_fixtures(project_id: str, llm_url: str, items: int):
    from datasets.services import NewItem, dataset_items_create_many, dataset_upsert
    from evalsite.llm.connections import llm_connection_create
    from evalsite.llm.prices import model_price_create
    from evalsite.tenancy.actors import SYSTEM
    from evalsite.tenancy.models import Project
    from prompts.services import prompt_create

    project = Project.objects.get(pk=project_id)
    dataset = dataset_upsert(project=project, name="bench/qa", actor=SYSTEM)
    dataset_items_create_many(
        project=project, dataset=dataset, actor=SYSTEM,
        items=[NewItem(item_id=f"item-{i}", input={"question": f"question {i}"}, expected_output=f"answer {i}")
               for i in range(items)],
    )
    prompt_create(project=project, name="bench/answer", content="Answer: {{question}}", labels=["production"])
    llm_connection_create(project=project, provider="fake", secret_key="sk-bench", base_url=llm_url)
    model_price_create(project=project, model_name="fake-model", match_pattern="fake-model",
                       input_price=Decimal("0.000001"), output_price=Decimal("0.000002"))
    return project


def wait_for_cluster(timeout: float = 60) -> None:
    """Start the clock only once the cluster reports itself (a cold start is not the runner's speed)."""
    from django_q.status import Stat

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(stat.status == "Idle" for stat in Stat.get_all()):
            return
        time.sleep(0.2)
    raise RuntimeError("the worker cluster did not start")


def platform_run(project, concurrency: int) -> tuple[float, object]:
    from experiments.models import ExperimentRun, RunStatus
    from experiments.services import experiment_run_start

    started = time.perf_counter()
    run = experiment_run_start(project=project, dataset_name="bench/qa", run_name="bench", prompt_name="bench/answer",
                               provider="fake", model="fake-model", concurrency=concurrency)
    while True:
        run = ExperimentRun.objects.get(pk=run.pk)
        print(f"\r  platform run {run.progress_done}/{run.progress_total} {run.status:<9}", end="", flush=True)
        if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            print()
            return time.perf_counter() - started, run
        time.sleep(0.05)


def sdk_run(site, llm_url: str, items: int, concurrency: int) -> float:
    import openai
    from langfuse import Langfuse

    # An async task: the SDK awaits tasks concurrently up to max_concurrency, while a plain function
    # would block its event loop and run the items one by one.
    client = openai.AsyncOpenAI(base_url=llm_url, api_key="sk-bench", max_retries=0)

    async def task(*, item, **kwargs):
        answer = await client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": f"Answer: {item['input']['question']}"}]
        )
        return answer.choices[0].message.content

    langfuse = Langfuse(public_key=site.public_key, secret_key=site.secret_key, base_url=site.base_url)
    data = [{"input": {"question": f"question {i}"}, "expected_output": f"answer {i}"} for i in range(items)]
    started = time.perf_counter()
    langfuse.run_experiment(name="sdk-bench", data=data, task=task, max_concurrency=concurrency)
    langfuse.flush()
    elapsed = time.perf_counter() - started
    langfuse.shutdown()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    ideal = args.concurrency / args.latency

    with fake_llm_process(args.latency) as llm_url, gunicorn_site("evalsite_bench_runner") as site:
        setup_django(site.database_url)
        project = make_fixtures(site.project_id, llm_url, args.items)
        env = {**os.environ, "EVALSITE_WORKERS": "1"}
        worker = subprocess.Popen([PYTHON, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True)
        try:
            wait_for_cluster()
            seconds, run = platform_run(project, args.concurrency)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        sdk_seconds = sdk_run(site, llm_url, args.items, args.concurrency)

    rate = args.items / seconds
    report(f"{args.items} items, fake LLM latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency} "
           f"(ideal {ideal:.0f} items/s)", [
        ("platform run (enqueue → completed)", f"{seconds:.2f} s, {rate:.0f} items/s = {rate / ideal:.0%} of ideal"),
        ("platform run status / done / failed", f"{run.status} / {run.progress_done} / {run.progress_failed}"),
        ("platform run total cost", f"{run.total_cost}"),
        ("langfuse SDK run_experiment", f"{sdk_seconds:.2f} s, {args.items / sdk_seconds:.0f} items/s = "
                                       f"{args.items / sdk_seconds / ideal:.0%} of ideal"),
    ])


if __name__ == "__main__":
    main()
