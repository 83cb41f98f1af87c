"""Executes a platform experiment run: a prompt version × model over the items of a dataset version.

The algorithm (experiments/RUNNER.md has the longer version):

1. Claim the run with a lease (`run_claim`): only one worker executes a run at a time; a run whose
   lease expired (its worker died) can be claimed by the next one.
2. Work out what is left: the dataset items of the run's version that have no RunItem yet. Items
   already recorded are never called again, so a resumed run costs nothing twice.
3. Queue every pending item on a thread pool as wide as the run's concurrency. Threads only call
   the model; they never touch the database, and never wait for the coordinator.
4. The coordinating thread collects results and flushes them in batches, each in one transaction:
   renew the lease (stop if it was lost), store every item's trace and generation through the
   traces ingestion, insert the RunItems (the unique constraint ignores an item already recorded),
   and refresh the progress counters. A cancelled run stops at the next flush.
5. When nothing is left, the run is completed with its total cost.
"""

from __future__ import annotations

import json
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from datasets.selectors import dataset_items_for_run
from evalsite.llm.client import ChatResult, LLMError, chat
from evalsite.llm.connections import llm_connection_get_by_id, llm_endpoint_for
from evalsite.llm.prices import model_prices_for_pricing
from evalsite.llm.pricing import compute_cost, find_price
from experiments.models import ExperimentRun, Prompt, RunItem, RunStatus
from experiments.prompt_compile import PromptCompileError, prompt_compile
from traces.otlp import MappedSpan
from traces.services import spans_ingest

FLUSH_EVERY_ITEMS = 64
FLUSH_EVERY_SECONDS = 0.5


def lease_seconds() -> int:
    """How long a worker may go without renewing its lease before the run counts as abandoned."""
    return int(getattr(settings, "EVALSITE_RUN_LEASE_SECONDS", 30))


class LeaseLost(Exception):
    """Another worker took the run over (ours was presumed dead): stop without writing."""


@dataclass(frozen=True)
class ItemOutcome:
    item: Any  # a row of datasets.selectors.dataset_items_for_run
    started_at: datetime
    finished_at: datetime
    result: ChatResult | None
    error: str | None
    messages: Any


def run_claim(*, run_pk: int) -> ExperimentRun | None:
    """Take the run's lease, or None when it is finished or another live worker holds it."""
    now = timezone.now()
    with transaction.atomic():
        run = ExperimentRun.objects.select_for_update().filter(pk=run_pk).first()
        if run is None or run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            return None
        lease_alive = run.heartbeat_at is not None and run.heartbeat_at > now - timedelta(seconds=lease_seconds())
        if run.lease_token and lease_alive:
            return None
        run.lease_token = uuid.uuid4().hex
        run.heartbeat_at = now
        run.status = RunStatus.RUNNING
        run.started_at = run.started_at or now
        run.save(update_fields=["lease_token", "heartbeat_at", "status", "started_at", "updated_at"])
    return run


def run_execute(*, run_pk: int, on_progress: Callable[[int, int, int], None] | None = None) -> None:
    """Execute (or resume) a run until every item is recorded, it is cancelled, or it fails.

    `on_progress(done, failed, total)` is called after each flush, in this thread (the command
    line draws its bar with it).
    """
    run = run_claim(run_pk=run_pk)
    if run is None:
        return
    try:
        Executor(run, on_progress=on_progress).execute()
    except LeaseLost:
        return
    except Exception as error:  # a run-level failure (bad prompt, missing connection…), not an item's
        run_finish(run=run, status=RunStatus.FAILED, error=f"{type(error).__name__}: {error}")
        raise


def run_finish(*, run: ExperimentRun, status: str, error: str | None = None) -> None:
    totals = RunItem.objects.filter(project_id=run.project_id, run=run).aggregate(cost=Sum("cost"))
    ExperimentRun.objects.filter(pk=run.pk, lease_token=run.lease_token).update(
        status=status,
        error=error,
        finished_at=timezone.now(),
        total_cost=totals["cost"],
        lease_token=None,
        updated_at=timezone.now(),
    )


class Executor:
    def __init__(self, run: ExperimentRun, on_progress: Callable[[int, int, int], None] | None = None):
        self.run = run
        self.on_progress = on_progress
        self.total = 0
        self.project = run.project
        config = run.config or {}
        self.model = config["model"]
        self.parameters = config.get("modelParameters") or {}
        self.concurrency = max(1, int(config.get("concurrency") or 1))
        self.prompt = Prompt.objects.get(project=self.project, pk=config["promptId"])
        connection = llm_connection_get_by_id(project=self.project, connection_id=config["connectionId"])
        self.endpoint = llm_endpoint_for(connection)
        self.price = find_price(model_prices_for_pricing(project=self.project), self.model)

    # -- what is left ---------------------------------------------------------------------------

    def pending_items(self) -> list:
        items = dataset_items_for_run(project=self.project, dataset=self.run.dataset, version=self.run.dataset_version)
        recorded = set(
            RunItem.objects.filter(project=self.project, run=self.run).values_list("item_key", flat=True)
        )
        self.total = len(items)
        ExperimentRun.objects.filter(pk=self.run.pk).update(progress_total=self.total)
        return [item for item in items if item.item_id not in recorded]

    # -- calling the model (worker threads: no database access) ---------------------------------

    def call(self, item) -> ItemOutcome:
        started = timezone.now()
        messages = None
        try:
            compiled = prompt_compile(self.prompt, template_variables(item.input))
            messages = compiled if isinstance(compiled, list) else [{"role": "user", "content": compiled}]
            result = chat(self.endpoint, model=self.model, messages=messages, parameters=self.parameters)
            return ItemOutcome(item, started, timezone.now(), result, None, messages)
        except (LLMError, PromptCompileError) as error:
            return ItemOutcome(item, started, timezone.now(), None, str(error), messages)

    def outcomes(self, items: list) -> Iterator[ItemOutcome | None]:
        """Results as they complete; None every FLUSH_EVERY_SECONDS without one (a tick to flush on).

        Every item is queued on the pool at once, so the threads never wait for the coordinator
        while it flushes; closing the generator (cancellation, a lost lease) drops what has not
        started and waits only for the calls in flight.
        """
        completed: queue.SimpleQueue[Future] = queue.SimpleQueue()
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"run-{self.run.pk}")
        try:
            for item in items:
                pool.submit(self.call, item).add_done_callback(completed.put)
            for _ in range(len(items)):
                while True:
                    try:
                        future = completed.get(timeout=FLUSH_EVERY_SECONDS)
                        break
                    except queue.Empty:
                        yield None
                if not future.cancelled():
                    yield future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- recording (coordinating thread) --------------------------------------------------------

    def execute(self) -> None:
        pending = self.pending_items()
        buffer: list[ItemOutcome] = []
        last_flush = time.monotonic()
        for outcome in self.outcomes(pending):
            if outcome is not None:
                buffer.append(outcome)
            if len(buffer) >= FLUSH_EVERY_ITEMS or time.monotonic() - last_flush >= FLUSH_EVERY_SECONDS:
                if not self.flush(buffer):
                    return  # cancelled
                buffer, last_flush = [], time.monotonic()
        if not self.flush(buffer):
            return
        run_finish(run=self.run, status=RunStatus.COMPLETED)

    def flush(self, outcomes: list[ItemOutcome]) -> bool:
        """Store a batch of outcomes; False when the run was cancelled meanwhile."""
        with transaction.atomic():
            status = self.renew_lease()
            if status == RunStatus.CANCELLED:
                return False
            if outcomes:
                spans_ingest(project=self.project, spans=[self.span_for(o) for o in outcomes])
                RunItem.objects.bulk_create(
                    [self.run_item_for(o) for o in outcomes], ignore_conflicts=True, batch_size=500
                )
                self.refresh_progress()
        return True

    def renew_lease(self) -> str:
        now = timezone.now()
        updated = ExperimentRun.objects.filter(pk=self.run.pk, lease_token=self.run.lease_token).update(
            heartbeat_at=now
        )
        if not updated:
            raise LeaseLost()
        return ExperimentRun.objects.filter(pk=self.run.pk).values_list("status", flat=True).get()

    def refresh_progress(self) -> None:
        counts = RunItem.objects.filter(project=self.project, run=self.run).aggregate(
            done=Count("id"), failed=Count("id", filter=Q(error__isnull=False))
        )
        ExperimentRun.objects.filter(pk=self.run.pk).update(
            progress_done=counts["done"], progress_failed=counts["failed"], updated_at=timezone.now()
        )
        if self.on_progress is not None:
            self.on_progress(counts["done"], counts["failed"], self.total)

    def cost_of(self, result: ChatResult | None) -> dict[str, float]:
        if result is None or self.price is None:
            return {}
        return compute_cost(self.price, result.usage)

    def span_for(self, outcome: ItemOutcome) -> MappedSpan:
        """The item's trace and generation, shaped like an SDK span so one ingestion path stores both."""
        item, result = outcome.item, outcome.result
        trace_id, observation_id = self.ids_for(item)
        usage = result.usage if result is not None else {}
        observation = {
            "id": observation_id,
            "trace_id": trace_id,
            "parent_observation_id": None,
            "type": "GENERATION",
            "name": f"{self.prompt.name} v{self.prompt.version}",
            "start_time": outcome.started_at,
            "end_time": outcome.finished_at,
            "completion_start_time": None,
            "level": "ERROR" if outcome.error else "DEFAULT",
            "status_message": outcome.error,
            "model": result.model if result is not None else self.model,
            "model_parameters": {key: str(value) for key, value in self.parameters.items()} or None,
            "usage_details": usage,
            "cost_details": self.cost_of(result),
            "prompt_name": self.prompt.name,
            "prompt_version": self.prompt.version,
            "environment": "experiment",
            "release": None,
            "version": None,
            "input": outcome.messages,
            "output": result.text if result is not None else None,
            "metadata": {"experiment_run_id": self.run.run_id, "dataset_item_id": item.item_id},
        }
        trace = {
            "name": self.run.name,
            "input": item.input,
            "output": result.text if result is not None else None,
            "environment": "experiment",
            "metadata": {"experiment_run_id": self.run.run_id, "dataset_item_id": item.item_id},
            "timestamp": outcome.started_at,
        }
        return MappedSpan(observation=observation, trace=trace, is_root=True, experiment=None)

    def run_item_for(self, outcome: ItemOutcome) -> RunItem:
        item, result = outcome.item, outcome.result
        trace_id, observation_id = self.ids_for(item)
        cost = self.cost_of(result).get("total")
        return RunItem(
            project=self.project,
            run=self.run,
            item_key=item.item_id,
            dataset_item_id=item.dataset_item_pk,
            item_version=self.run.dataset_version,
            trace_id=trace_id,
            observation_id=observation_id,
            input=item.input,
            expected_output=item.expected_output,
            output=result.text if result is not None else None,
            latency_ms=result.latency_ms if result is not None else None,
            cost=Decimal(str(cost)) if cost is not None else None,
            input_tokens=result.input_tokens if result is not None else None,
            output_tokens=result.output_tokens if result is not None else None,
            error=outcome.error,
            started_at=outcome.started_at,
        )

    def ids_for(self, item) -> tuple[str, str]:
        """Trace and generation ids derived from (run, item): a re-executed item reuses its ids."""
        digest = uuid.uuid5(uuid.NAMESPACE_URL, f"evalsite-run:{self.run.run_id}:{item.item_id}").hex
        return digest, digest[:16]


def template_variables(item_input: Any) -> dict[str, Any]:
    """What `{{variables}}` an item's input offers: its keys when it is an object, plus `input` itself."""
    variables: dict[str, Any] = {}
    if isinstance(item_input, dict):
        variables.update(item_input)
    variables.setdefault("input", item_input if isinstance(item_input, str) else json.dumps(item_input))
    return variables
