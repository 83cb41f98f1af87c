"""Annotation-queue claims: the claim service against a raw `SKIP LOCKED` claim loop, same table.

    .venv/bin/python -m bench.claims [--queues 50] [--items 20000] [--annotators 16] [--per-queue 4] [--seconds 15]

A fresh PostgreSQL database holding `--queues` queues of `--items` pending items each (one table of
queues × items rows, COPYed in, then ANALYZEd) and `--annotators` ANNOTATOR members. Each phase
runs one thread per annotator, each on its own database connection, `--per-queue` annotators on
each queue of a group of queues not used by another phase, for `--seconds`. Every loop claims one
item and then completes it with the same one-row UPDATE, so the phases differ only in the claim:

* raw: one `UPDATE … WHERE id = (SELECT id … ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP
  LOCKED) RETURNING id` per transaction, nothing else;
* service: `annotations.claims.queue_item_claim_next` (the held-item look-up, the "not done or
  skipped by me" condition, the ORM, the access check).

The phases alternate (raw, service, raw, service) and the figures are the sums of both rounds.
A claim count that differs from the completed rows, or an item claimed twice, is reported.
"""

import argparse
import threading
import time
import uuid
from datetime import timedelta

from bench.harness import prepare, progress, report
from bench.runner import setup_django

RAW_CLAIM = (
    "UPDATE annotations_queueitem SET locked_by_id = %s, locked_until = %s, updated_at = %s WHERE id = ("
    "SELECT id FROM annotations_queueitem WHERE project_id = %s AND queue_id = %s AND status = 'PENDING' "
    "AND (locked_until IS NULL OR locked_until <= %s) ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING id"
)
COMPLETE = "UPDATE annotations_queueitem SET status = 'COMPLETED', submissions = 1, locked_by_id = NULL, locked_until = NULL WHERE id = %s"


def fill(project, queues: int, items: int):
    from django.db import connection
    from django.utils import timezone

    from annotations.models import AnnotationQueue, QueueItem
    from evalsite.db import insert_rows
    from scoring.services import score_config_create

    config = score_config_create(project=project, name="quality", data_type="BOOLEAN")
    created = [
        AnnotationQueue.objects.create(project=project, name=f"queue-{q:02d}", score_config_ids=[config.pk])
        for q in range(queues)
    ]
    start = timezone.now() - timedelta(days=30)
    columns = [f.column for f in QueueItem._meta.concrete_fields]
    for index, queue in enumerate(created):
        rows = []
        for n in range(items):
            stamp = start + timedelta(seconds=n)
            values = {
                "project_id": project.pk, "id": uuid.uuid4().hex, "queue_id": queue.pk, "object_type": "TRACE",
                "object_id": f"{index:02d}-{n:06d}", "trace_id": None, "run_item_id": None, "status": "PENDING",
                "submissions": 0, "completed_at": None, "locked_by_id": None, "locked_until": None,
                "created_at": stamp, "updated_at": stamp,
            }
            rows.append([values[column] for column in columns])
        insert_rows(QueueItem._meta.db_table, columns, rows)
        progress("queue items", (index + 1) * items, queues * items)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotations_queueitem")
        cursor.execute("ANALYZE annotations_itemannotation")
    return created


def annotators(project, count: int):
    from django.contrib.auth import get_user_model

    from evalsite.tenancy.models import OrganizationMembership
    from evalsite.tenancy.roles import Role

    users = [get_user_model().objects.create(username=f"annotator-{n}", email=f"a{n}@example.com") for n in range(count)]
    for user in users:
        OrganizationMembership.objects.create(organization=project.organization, user=user, role=Role.ANNOTATOR)
    return users


def run_phase(kind: str, project, queues, users, per_queue: int, seconds: float) -> tuple[int, set]:
    from django.db import connection, connections, transaction
    from django.utils import timezone

    from annotations.claims import queue_item_claim_next
    from evalsite.tenancy.roles import Role

    claimed: list[str] = []
    guard = threading.Lock()
    stop = time.monotonic() + seconds
    errors: list[BaseException] = []

    def work(user, queue):
        mine = []
        try:
            while time.monotonic() < stop:
                if kind == "raw":
                    now = timezone.now()
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(RAW_CLAIM, [user.pk, now + timedelta(minutes=5), now, project.pk, queue.pk, now])
                        row = cursor.fetchone()
                    item_id = row[0] if row else None
                else:
                    # The service opens its own transaction.
                    item = queue_item_claim_next(project=project, queue=queue, user=user, role=Role.ANNOTATOR)
                    item_id = item.pk if item else None
                if item_id is None:
                    break
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(COMPLETE, [item_id])
                mine.append(item_id)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            with guard:
                claimed.extend(mine)
            connections.close_all()

    threads = [threading.Thread(target=work, args=(user, queues[n // per_queue])) for n, user in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return len(claimed), set(claimed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--annotators", type=int, default=16)
    parser.add_argument("--per-queue", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    groups = args.annotators // args.per_queue
    if args.annotators % args.per_queue or args.queues < 4 * groups:
        parser.error("--annotators must be a multiple of --per-queue, and --queues at least 4 × annotators/per-queue")

    database_url, project_id, _, _ = prepare("evalsite_bench_claims")
    setup_django(database_url)
    from django.db import connection

    from annotations.models import QueueItem
    from evalsite.tenancy.models import Project

    project = Project.objects.select_related("organization").get(pk=project_id)
    queues = fill(project, args.queues, args.items)
    users = annotators(project, args.annotators)
    connection.close()

    totals = {"raw": [0, 0.0], "service": [0, 0.0]}
    duplicates = 0
    for round_index, kind in enumerate(["raw", "service", "raw", "service"]):
        group = queues[round_index * groups : (round_index + 1) * groups]
        began = time.monotonic()
        count, distinct = run_phase(kind, project, group, users, args.per_queue, args.seconds)
        totals[kind][0] += count
        totals[kind][1] += time.monotonic() - began
        duplicates += count - len(distinct)
        print(f"  round {round_index + 1} {kind:<8} {count:>7} claims in {time.monotonic() - began:5.1f} s", flush=True)
    completed = QueueItem.objects.filter(status="COMPLETED").count()

    raw_rate = totals["raw"][0] / totals["raw"][1]
    service_rate = totals["service"][0] / totals["service"][1]
    report(
        f"Claims: {args.queues} queues × {args.items:,} items, {args.annotators} annotators ({args.per_queue} per queue), "
        f"PostgreSQL",
        [
            ("raw SKIP LOCKED loop (claims/s)", f"{raw_rate:,.0f}"),
            ("claim service (claims/s)", f"{service_rate:,.0f}"),
            ("service / raw", f"{service_rate / raw_rate:.0%}"),
            ("items claimed twice", str(duplicates)),
            ("claims == completed rows", str(totals["raw"][0] + totals["service"][0] == completed)),
        ],
    )


if __name__ == "__main__":
    main()
