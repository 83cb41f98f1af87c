"""Release gates: `POST /api/public/gates/{name}/evaluate` times, and queries that do not grow with items.

    .venv/bin/python -m bench.gates [--items 1000] [--small-items 100] [--evaluations 10]

A fresh PostgreSQL database and gunicorn (2 workers). For `--items` and `--small-items`, the bench
process builds the same dataset and 3 scored runs as bench.compare (baseline, better, worse), marks
the baseline released, and writes a policy with every rule type on the three scores (minMean,
noRegression with a delta, nonInferiority on the numeric and the boolean score, and the three run
rules). Then `--evaluations` evaluations of the worse run through the API with the project key
(min / median / p90; each stores a result), and in the bench process the SQL queries of one
`gate_evaluate` for both sizes, which must be equal.
"""

import argparse
import statistics
import time

import httpx

from bench.compare import make_runs
from bench.harness import gunicorn_site, percentile, progress, report
from bench.runner import setup_django

RULES = [
    {"type": "minMean", "score": "accuracy", "threshold": 0.4},
    {"type": "noRegression", "score": "accuracy", "delta": 0.02, "minPairs": 30},
    {"type": "nonInferiority", "score": "helpfulness", "delta": 0.1, "minPairs": 30},
    {"type": "nonInferiority", "score": "correct", "delta": 0.02, "minPairs": 30},
    {"type": "maxErrorRate", "threshold": 0.05},
    {"type": "maxCostPerItem", "threshold": 0.01},
    {"type": "maxLatencyP90", "threshold": 5000},
]


def prepare(project, run_ids: list[str], name: str) -> None:
    from experiments.gates.services import gate_policy_create, run_release_mark
    from experiments.models import ExperimentRun

    run_release_mark(project=project, run=ExperimentRun.objects.get(project=project, run_id=run_ids[0]))
    gate_policy_create(project=project, name=name, baseline={"kind": "latestReleased"}, rules=RULES)


def count_queries(project, name: str, candidate: str) -> tuple[int, float, str]:
    """(queries of gate_evaluate, best of 3 seconds, outcome) in-process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from experiments.gates.selectors import gate_policy_get
    from experiments.gates.services import gate_evaluate

    policy = gate_policy_get(project=project, name=name)
    gate_evaluate(project=project, policy=policy, candidate=candidate)  # untimed: imports, plans
    with CaptureQueriesContext(connection) as queries:
        result = gate_evaluate(project=project, policy=policy, candidate=candidate)
    count = len(queries)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        gate_evaluate(project=project, policy=policy, candidate=candidate)
        timings.append(time.perf_counter() - started)
    return count, min(timings), result.outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--small-items", type=int, default=100)
    parser.add_argument("--evaluations", type=int, default=10)
    args = parser.parse_args()
    if args.small_items == args.items:
        parser.error("--small-items must differ from --items (each size gets its own dataset)")

    with gunicorn_site("evalsite_bench_gates") as site:
        setup_django(site.database_url)
        from evalsite.tenancy.models import Project

        project = Project.objects.get(pk=site.project_id)
        large = make_runs(project, args.items)
        small = make_runs(project, args.small_items)
        prepare(project, large, "large")
        prepare(project, small, "small")

        timings, outcome = [], None
        with httpx.Client(base_url=site.base_url, headers={"Authorization": site.authorization}, timeout=120) as api:
            for _ in range(2):  # warm both workers
                api.post("/api/public/gates/large/evaluate", json={"candidate": large[2]})
            for done in range(args.evaluations):
                started = time.perf_counter()
                response = api.post("/api/public/gates/large/evaluate", json={"candidate": large[2]})
                timings.append(time.perf_counter() - started)
                if response.status_code != 201:
                    raise RuntimeError(f"evaluate answered {response.status_code}: {response.text[:300]}")
                outcome = response.json()["outcome"]
                progress("evaluations", done + 1, args.evaluations)
        counts = {
            items: count_queries(project, name, run_ids[2])
            for items, name, run_ids in ((args.small_items, "small", small), (args.items, "large", large))
        }

    report(
        f"POST /api/public/gates/large/evaluate, 7 rules, worse run vs released baseline x {args.items:,} items "
        f"(gunicorn 2 workers, PostgreSQL, {args.evaluations} evaluations)",
        [
            ("min / median / p90", f"{min(timings) * 1000:.0f} ms / {statistics.median(timings) * 1000:.0f} ms / "
                                   f"{percentile(timings, 90) * 1000:.0f} ms"),
            ("outcome", outcome),
        ],
    )
    small_counts, large_counts = counts[args.small_items], counts[args.items]
    report(f"In the bench process, {args.small_items} / {args.items} items (queries: CaptureQueriesContext)", [
        ("queries of gate_evaluate",
         f"{small_counts[0]} / {large_counts[0]} ({'equal' if small_counts[0] == large_counts[0] else 'DIFFERENT'})"),
        ("gate_evaluate time, best of 3", f"{small_counts[1] * 1000:.0f} ms / {large_counts[1] * 1000:.0f} ms"),
        ("outcomes", f"{small_counts[2]} / {large_counts[2]}"),
    ])


if __name__ == "__main__":
    main()
