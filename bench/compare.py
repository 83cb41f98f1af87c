"""The experiment comparison: page and API render times, and SQL queries that do not grow with items.

    .venv/bin/python -m bench.compare [--items 1000] [--small-items 100] [--renders 10]

A fresh PostgreSQL database and gunicorn (2 workers). The bench process builds, for `--items` and
for `--small-items`, a dataset (through the datasets services) and 3 experiment runs over it: one
run item per dataset item (output, latency, cost, trace id; bulk-inserted) and 3 scores per item
(two NUMERIC, one BOOLEAN) plus one run-level score per run, through scoring.services.scores_ingest.
The candidates differ from the baseline, one better and one worse, so the paired tests have work.

Then, for the large set: `GET /projects/<id>/experiments/compare?runs=a,b,c&baseline=a` as a
project VIEWER signed in through /admin/login/ (min / median / p90 of `--renders` renders), and
`GET /api/public/experiments/compare?baseline=a&candidate=b,c` with the API key. Finally, in the
bench process, the SQL queries of `comparison_build` and of the whole page (django.test.Client)
for both sizes, which must be equal.
"""

import argparse
import random
import re
import statistics
import time
from datetime import timedelta
from decimal import Decimal

import httpx

from bench.harness import gunicorn_site, percentile, progress, report
from bench.runner import setup_django

RUNS = ("baseline", "better", "worse")
VIEWER = ("bench-viewer", "bench-viewer-password")
SCORE_BATCH = 1000


def make_runs(project, items: int) -> list[str]:
    """A dataset of `items` items and 3 scored runs over it; returns the runs' external ids."""
    from django.utils import timezone

    from datasets.models import DatasetItem
    from datasets.services import NewItem, dataset_items_create_many, dataset_upsert
    from evalsite.tenancy.actors import SYSTEM
    from experiments.models import ExperimentRun, RunItem, RunSource
    from scoring.services import scores_ingest

    rng = random.Random(items)
    dataset = dataset_upsert(project=project, name=f"bench/compare-{items}", actor=SYSTEM)
    dataset_items_create_many(
        project=project, dataset=dataset, actor=SYSTEM,
        items=[NewItem(item_id=f"cmp{items}-{n:05d}",
                       input={"question": f"What is {n} + {n * 3}? Explain the steps briefly."},
                       expected_output=f"{n * 4}")
               for n in range(items)],
    )
    dataset_items = list(DatasetItem.objects.filter(project=project, dataset=dataset).order_by("created_at", "item_id"))
    # Per item, how hard it is: the runs' scores move together, as real paired results do.
    difficulty = [rng.random() for _ in range(items)]
    shift = {"baseline": 0.0, "better": 0.08, "worse": -0.06}
    now = timezone.now()
    run_ids = []
    for position, label in enumerate(RUNS):
        run = ExperimentRun.objects.create(
            project=project, name=f"{label}-{items}", dataset=dataset, source=RunSource.SDK,
            dataset_version=now, started_at=now + timedelta(minutes=position), finished_at=now + timedelta(minutes=position + 1),
        )
        run_ids.append(run.run_id)
        run_items, scores = [], []
        for n, item in enumerate(dataset_items):
            trace_id = f"{rng.getrandbits(128):032x}"
            failed = rng.random() < 0.01
            run_items.append(RunItem(
                project=project, run=run, item_key=item.item_id, dataset_item=item, item_version=item.updated_at,
                trace_id=trace_id, observation_id=f"{rng.getrandbits(64):016x}", input=item.input,
                expected_output=item.expected_output,
                output=None if failed else f"The answer is {n * 4}. First add {n} and {n * 3}; " * 3,
                error="Timeout after 30 s" if failed else None,
                latency_ms=rng.lognormvariate(6.5, 0.4), cost=Decimal(f"{rng.uniform(0.0001, 0.002):.6f}"),
                input_tokens=rng.randint(40, 120), output_tokens=rng.randint(20, 200),
                started_at=now + timedelta(minutes=position, milliseconds=n),
            ))
            quality = min(1.0, max(0.0, 1 - difficulty[n] + shift[label] + rng.gauss(0, 0.1)))
            scores += [
                {"traceId": trace_id, "name": "accuracy", "dataType": "NUMERIC", "value": round(quality, 3)},
                {"traceId": trace_id, "name": "helpfulness", "dataType": "NUMERIC",
                 "value": min(5, max(1, round(1 + 4 * quality + rng.gauss(0, 0.5))))},
                {"traceId": trace_id, "name": "correct", "dataType": "BOOLEAN", "value": 1 if quality > 0.5 else 0},
            ]
        scores.append({"datasetRunId": run.run_id, "name": "avg-accuracy", "dataType": "NUMERIC", "value": 0.5})
        RunItem.objects.bulk_create(run_items, batch_size=1000)
        for start in range(0, len(scores), SCORE_BATCH):
            result = scores_ingest(project=project, items=scores[start : start + SCORE_BATCH], actor=SYSTEM)
            if result.errors:
                raise RuntimeError(f"scores refused: {result.errors[:3]}")
        progress(f"runs over {items} items", position + 1, len(RUNS))
    return run_ids


def make_viewer(project):
    from evalsite.tenancy.roles import Role
    from evalsite.tenancy.services import organization_membership_set, user_create

    # Staff only because /admin/login/ is the site's sign-in page; the role is the lowest.
    user = user_create(username=VIEWER[0], password=VIEWER[1], staff=True)
    organization_membership_set(organization=project.organization, user=user, role=Role.VIEWER)
    return user


def signed_in_client(base_url: str) -> httpx.Client:
    """An httpx client holding a session cookie, signed in through the admin login form."""
    client = httpx.Client(base_url=base_url, timeout=60)
    form = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    if form.status_code != 200 or token is None:
        raise RuntimeError(f"no login form at /admin/login/ ({form.status_code})")
    response = client.post("/admin/login/", data={
        "username": VIEWER[0], "password": VIEWER[1], "csrfmiddlewaretoken": token.group(1), "next": "/admin/",
    })
    if response.status_code != 302 or "sessionid" not in client.cookies:
        raise RuntimeError(f"login failed ({response.status_code})")
    return client


def time_gets(client: httpx.Client, url: str, count: int, label: str, expect: str) -> tuple[list[float], int]:
    """(seconds per GET, response bytes) for `count` GETs after a warm-up of both workers."""
    for _ in range(4):
        client.get(url)
    timings, size = [], 0
    for done in range(count):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        if response.status_code != 200 or expect not in response.text:
            raise RuntimeError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
        size = len(response.content)
        progress(label, done + 1, count)
    return timings, size


def count_queries(project, user, items: int, run_ids: list[str]) -> tuple[int, int, float]:
    """(queries of comparison_build, queries of the whole page, best of 3 comparison_build seconds) in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from experiments.comparison import comparison_build

    # Untimed first call (imports, plans), and a check that the fixture gives the builder its full work.
    result = comparison_build(project=project, run_ids=run_ids, baseline_id=run_ids[0])
    if len(result.rows) != items or len(result.tests) != 3 * (len(run_ids) - 1):
        raise RuntimeError(f"expected {items} rows and 3 tests per candidate, got {len(result.rows)} / {len(result.tests)}")
    with CaptureQueriesContext(connection) as build_queries:
        comparison_build(project=project, run_ids=run_ids, baseline_id=run_ids[0])
    # Counted now: the captured queries are a view of the connection's log, which each request clears.
    build_count = len(build_queries)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        comparison_build(project=project, run_ids=run_ids, baseline_id=run_ids[0])
        timings.append(time.perf_counter() - started)
    client = Client()
    client.force_login(user)
    url = reverse("experiment-compare", kwargs={"project_id": project.pk})
    query = {"runs": ",".join(run_ids), "baseline": run_ids[0]}
    client.get(url, query)
    with CaptureQueriesContext(connection) as page_queries:
        response = client.get(url, query)
    if response.status_code != 200:
        raise RuntimeError(f"the page answered {response.status_code} in-process")
    return build_count, len(page_queries), min(timings)


def timing_rows(timings: list[float], size: int) -> list[tuple[str, str]]:
    return [
        ("min / median / p90", f"{min(timings) * 1000:.0f} ms / {statistics.median(timings) * 1000:.0f} ms / "
                               f"{percentile(timings, 90) * 1000:.0f} ms"),
        ("response size", f"{size / 1024:,.0f} KB"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--small-items", type=int, default=100, help="the smaller set, for the query count")
    parser.add_argument("--renders", type=int, default=10)
    args = parser.parse_args()
    if args.small_items == args.items:
        parser.error("--small-items must differ from --items (each size gets its own dataset)")

    with gunicorn_site("evalsite_bench_compare") as site:
        setup_django(site.database_url)
        from evalsite.tenancy.models import Project

        project = Project.objects.get(pk=site.project_id)
        large = make_runs(project, args.items)
        small = make_runs(project, args.small_items)
        user = make_viewer(project)

        browser = signed_in_client(site.base_url)
        try:
            page_url = f"/projects/{site.project_id}/experiments/compare?runs={','.join(large)}&baseline={large[0]}"
            page_timings, page_size = time_gets(browser, page_url, args.renders, "comparison page", f"worse-{args.items}")
        finally:
            browser.close()
        with httpx.Client(base_url=site.base_url, headers={"Authorization": site.authorization}, timeout=60) as api:
            api_url = f"/api/public/experiments/compare?baseline={large[0]}&candidate={large[1]},{large[2]}"
            api_timings, api_size = time_gets(api, api_url, args.renders, "comparison API", '"tests"')

        counts = {items: count_queries(project, user, items, run_ids) for items, run_ids in
                  ((args.small_items, small), (args.items, large))}

    report(f"Comparison page, 3 runs x {args.items:,} items, 3 scores per item "
           f"(gunicorn 2 workers, PostgreSQL, {args.renders} renders as a VIEWER)", timing_rows(page_timings, page_size))
    report(f"GET /api/public/experiments/compare, baseline + 2 candidates x {args.items:,} items (with items)",
           timing_rows(api_timings, api_size))
    small_counts, large_counts = counts[args.small_items], counts[args.items]
    report(f"In the bench process, {args.small_items} / {args.items} items (queries: CaptureQueriesContext)", [
        ("queries of comparison_build",
         f"{small_counts[0]} / {large_counts[0]} ({'equal' if small_counts[0] == large_counts[0] else 'DIFFERENT'})"),
        ("queries of the page (django.test.Client)",
         f"{small_counts[1]} / {large_counts[1]} ({'equal' if small_counts[1] == large_counts[1] else 'DIFFERENT'})"),
        ("comparison_build time, best of 3", f"{small_counts[2] * 1000:.0f} ms / {large_counts[2] * 1000:.0f} ms"),
    ])


if __name__ == "__main__":
    main()
