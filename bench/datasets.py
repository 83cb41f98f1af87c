"""`get_dataset` of a large dataset through the unmodified langfuse SDK, against gunicorn.

    .venv/bin/python -m bench.datasets [--items 10000] [--page-sizes 50,100] [--repeats 3]

A fresh PostgreSQL database and gunicorn (2 workers). The bench process creates one dataset of
`--items` items (~200–500 bytes of input and expected output each) through the datasets services,
then times `Langfuse(...).get_dataset(name, fetch_items_page_size=N)` for each page size: one
GET of the dataset, then one GET per page of items. Every call must return every item; the figures
are the min / median wall time over the repeats and the requests per second the SDK achieved, and
the time to fetch the same pages with plain httpx (what the server costs without the SDK's parsing).
"""

import argparse
import json
import statistics
import time

import httpx

from bench.harness import gunicorn_site, progress, report
from bench.runner import setup_django

DATASET_NAME = "bench/get-dataset"
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split()


def text(n: int, words: int) -> str:
    """Deterministic filler of `words` words, varied by `n` so rows are not all alike."""
    return " ".join(WORDS[(n * 7 + i * 3) % len(WORDS)] for i in range(words))


def make_dataset(project_id: str, items: int) -> int:
    """Create the dataset through the services; return the mean bytes of input + expected output."""
    from datasets.services import NewItem, dataset_items_create_many, dataset_upsert
    from evalsite.tenancy.actors import SYSTEM
    from evalsite.tenancy.models import Project

    project = Project.objects.get(pk=project_id)
    dataset = dataset_upsert(project=project, name=DATASET_NAME, actor=SYSTEM)
    new_items = [
        NewItem(
            item_id=f"item-{n:06d}",
            # 20–60 words of question, 10–30 of answer: ~200–500 bytes per item together.
            input={"question": text(n, 20 + n % 41), "topic": WORDS[n % len(WORDS)]},
            expected_output=text(n + 1, 10 + n % 21),
            metadata={"n": n},
        )
        for n in range(items)
    ]
    sizes = [len(json.dumps(item.input)) + len(json.dumps(item.expected_output)) for item in new_items]
    # Batches, so the progress bar moves; each batch is one dataset version, as a resumed import is.
    batch = 1000
    for start in range(0, items, batch):
        dataset_items_create_many(project=project, dataset=dataset, items=new_items[start : start + batch], actor=SYSTEM)
        progress("creating items", min(start + batch, items), items)
    return round(sum(sizes) / len(sizes))


def time_get_dataset(langfuse, seen: list[int], items: int, page_size: int, repeats: int):
    """(seconds per call, requests per call, HTTP statuses seen) for `repeats` get_dataset calls."""
    # Warm up both workers (imports, connections, the first pages' plans) outside the clock.
    for _ in range(4):
        langfuse.api.dataset_items.list(dataset_name=DATASET_NAME, page=1, limit=page_size)
    timings, per_call, statuses = [], 0, set()
    for run in range(repeats):
        seen.clear()
        started = time.perf_counter()
        dataset = langfuse.get_dataset(DATASET_NAME, fetch_items_page_size=page_size)
        timings.append(time.perf_counter() - started)
        if len(dataset.items) != items or len({item.id for item in dataset.items}) != items:
            raise AssertionError(f"get_dataset returned {len(dataset.items)} items, expected {items} distinct")
        per_call = len(seen)
        statuses.update(seen)
        progress(f"get_dataset, pages of {page_size}", run + 1, repeats)
    return timings, per_call, statuses


def time_plain_pages(site, items: int, page_size: int) -> float:
    """The same item pages fetched with plain httpx, one after another: the server's share of the time."""
    pages = -(-items // page_size)
    with httpx.Client(base_url=site.base_url, headers={"Authorization": site.authorization}, timeout=60) as http:
        started = time.perf_counter()
        for page in range(1, pages + 1):
            response = http.get("/api/public/dataset-items", params={"datasetName": DATASET_NAME, "page": page,
                                                                     "limit": page_size})
            response.raise_for_status()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--page-sizes", default="50,100", help="comma-separated fetch_items_page_size values")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    page_sizes = [int(size) for size in args.page_sizes.split(",")]

    with gunicorn_site("evalsite_bench_datasets") as site:
        setup_django(site.database_url)
        started = time.perf_counter()
        mean_bytes = make_dataset(site.project_id, args.items)
        seed_seconds = time.perf_counter() - started
        from langfuse import Langfuse

        seen: list[int] = []
        # The SDK's own calls, through an httpx client of ours only so that its requests can be counted.
        http = httpx.Client(timeout=60, event_hooks={"response": [lambda response: seen.append(response.status_code)]})
        langfuse = Langfuse(public_key=site.public_key, secret_key=site.secret_key, base_url=site.base_url,
                            tracing_enabled=False, httpx_client=http)
        try:
            results = [
                (size, *time_get_dataset(langfuse, seen, args.items, size, args.repeats),
                 time_plain_pages(site, args.items, size))
                for size in page_sizes
            ]
        finally:
            langfuse.shutdown()
            http.close()

    report(f"Dataset of {args.items:,} items (~{mean_bytes} bytes of input + expected output each)", [
        ("created through dataset_items_create_many", f"{seed_seconds:.2f} s ({args.items / seed_seconds:,.0f} items/s)"),
    ])
    for size, timings, requests, statuses, plain in results:
        median = statistics.median(timings)
        report(f"langfuse SDK get_dataset, pages of {size} (gunicorn 2 workers, PostgreSQL, {args.repeats} runs)", [
            ("requests per call / statuses", f"{requests} / {sorted(statuses)}"),
            ("min / median", f"{min(timings):.2f} s / {median:.2f} s"),
            ("requests/s (median)", f"{requests / median:,.0f} ({median / requests * 1000:.1f} ms per request)"),
            ("items/s (median)", f"{args.items / median:,.0f}"),
            ("runs", ", ".join(f"{t:.2f} s" for t in timings)),
            ("the item pages with plain httpx (no SDK)", f"{plain:.2f} s ({plain / (requests - 1) * 1000:.1f} ms per page)"),
        ])


if __name__ == "__main__":
    main()
