"""Executes a platform experiment run: a prompt version × model over the items of a dataset version.

The algorithm (experiments/RUNNER.md has the longer version):

1. Claim the run's lease (`job_claim`, evalsite/jobs): only one worker executes a run at a time; a
   run whose lease expired (its worker died) can be claimed by the next one.
2. Work out what is left: the (dataset item, trial) pairs of the run's version that have no
   RunItem yet; a run with `trials` = k repeats every item k times, each trial with its own trace.
   Trials already recorded are never called again, so a resumed run costs nothing twice.
3. Queue every pending item on a thread pool as wide as the run's concurrency. Threads only call
   the model; they never touch the database, and never wait for the coordinator.
4. The coordinating thread collects results and flushes them in batches, each in one transaction:
   renew the lease (`job_renew`: stop if it was lost or the run was cancelled, which drops the
   lease), store every item's trace and generation through `traces_upsert`, insert the
   RunItems (the unique constraint ignores an item already recorded), and refresh the progress
   counters. A cancel is thus seen at the next flush, by the renewal itself: no extra query.
5. When nothing is left, the run is completed with its total cost.
"""

from __future__ import annotations

import json
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from datasets.selectors import dataset_items_for_run
from evalsite.jobs import LeaseLost, job_claim, job_finish, job_renew
from evalsite.llm.client import ChatResult, LLMError, chat
from evalsite.llm.connections import llm_connection_get_by_id, llm_endpoint_for
from evalsite.llm.prices import model_prices_for_pricing
from evalsite.llm.pricing import compute_cost, find_price
from experiments import hooks
from experiments.models import ExperimentRun, RunItem, RunStatus
from prompts.compile import PromptCompileError, prompt_compile
from prompts.models import Prompt
from traces import merge
from traces.services import traces_upsert

FLUSH_EVERY_ITEMS = 64
FLUSH_EVERY_SECONDS = 0.5


@dataclass(frozen=True)
class ItemOutcome:
    item: Any  # a row of datasets.selectors.dataset_items_for_run
    trial: int
    started_at: datetime
    finished_at: datetime
    result: ChatResult | None
    error: str | None
    messages: Any


def run_execute(*, run_pk: int, on_progress: Callable[[int, int, int], None] | None = None) -> None:
    """Execute (or resume) a run until every item is recorded, it is cancelled, or it fails.

    `on_progress(done, failed, total)` is called after each flush, in this thread (the command
    line draws its bar with it).
    """
    run = job_claim(ExperimentRun.objects.select_related("project", "dataset"), pk=run_pk)
    if run is None:
        return  # finished, cancelled, gone, or held by a live worker
    try:
        Executor(run, on_progress=on_progress).execute()
    except LeaseLost:  # taken over by another worker, or cancelled (JobCancelled): nothing to record
        return
    except Exception as error:  # a run-level failure (bad prompt, missing connection…), not an item's
        run_finish(run=run, status=RunStatus.FAILED, error=f"{type(error).__name__}: {error}")
        raise


def run_finish(*, run: ExperimentRun, status: str, error: str | None = None) -> None:
    """End the run with its total cost, if the lease is still ours (a cancelled run stays cancelled)."""
    totals = RunItem.objects.filter(project_id=run.project_id, run=run).aggregate(cost=Sum("cost"))
    job_finish(run, status=status, error=error, total_cost=totals["cost"])


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
        self.trials = max(1, int(config.get("trials") or 1))
        self.prompt = Prompt.objects.get(project=self.project, pk=config["promptId"])
        connection = llm_connection_get_by_id(project=self.project, connection_id=config["connectionId"])
        self.endpoint = llm_endpoint_for(connection)
        self.price = find_price(model_prices_for_pricing(project=self.project), self.model)

    # -- what is left ---------------------------------------------------------------------------

    def pending_items(self) -> list[tuple[Any, int]]:
        """The (item, trial) pairs not recorded yet, every item's trials together."""
        items = dataset_items_for_run(project=self.project, dataset=self.run.dataset, version=self.run.dataset_version)
        recorded = set(
            RunItem.objects.filter(project=self.project, run=self.run).values_list("item_key", "trial")
        )
        self.total = len(items) * self.trials
        ExperimentRun.objects.filter(pk=self.run.pk).update(progress_total=self.total)
        return [
            (item, trial)
            for item in items
            for trial in range(1, self.trials + 1)
            if (item.item_id, trial) not in recorded
        ]

    # -- calling the model (worker threads: no database access) ---------------------------------

    def call(self, unit: tuple[Any, int]) -> ItemOutcome:
        item, trial = unit
        started = timezone.now()
        messages = None
        try:
            compiled = prompt_compile(self.prompt, template_variables(item.input))
            messages = compiled if isinstance(compiled, list) else [{"role": "user", "content": compiled}]
            result = chat(self.endpoint, model=self.model, messages=messages, parameters=self.parameters)
            return ItemOutcome(item, trial, started, timezone.now(), result, None, messages)
        except (LLMError, PromptCompileError) as error:
            return ItemOutcome(item, trial, started, timezone.now(), None, str(error), messages)

    def outcomes(self, units: list[tuple[Any, int]]) -> Iterator[ItemOutcome | None]:
        """Results as they complete; None every FLUSH_EVERY_SECONDS without one (a tick to flush on).

        Every item is queued on the pool at once, so the threads never wait for the coordinator
        while it flushes; closing the generator (cancellation, a lost lease) drops what has not
        started and waits only for the calls in flight.
        """
        completed: queue.SimpleQueue[Future] = queue.SimpleQueue()
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"run-{self.run.pk}")
        try:
            for unit in units:
                pool.submit(self.call, unit).add_done_callback(completed.put)
            for _ in range(len(units)):
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
        # closing(): a LeaseLost out of a flush shuts the pool down at once, not when the traceback goes.
        with closing(self.outcomes(pending)) as outcomes:
            for outcome in outcomes:
                if outcome is not None:
                    buffer.append(outcome)
                if len(buffer) >= FLUSH_EVERY_ITEMS or time.monotonic() - last_flush >= FLUSH_EVERY_SECONDS:
                    self.flush(buffer)
                    buffer, last_flush = [], time.monotonic()
        self.flush(buffer)
        run_finish(run=self.run, status=RunStatus.COMPLETED)

    def flush(self, outcomes: list[ItemOutcome]) -> None:
        """Store a batch of outcomes; LeaseLost (JobCancelled) when the run was taken over (cancelled)."""
        with transaction.atomic():
            # Raises before anything is written; the renewal's UPDATE also locks the run row until
            # this batch commits.
            job_renew(self.run)
            if outcomes:
                traces_upsert(project=self.project, batch=self.trace_batch(outcomes))
                RunItem.objects.bulk_create(
                    [self.run_item_for(o) for o in outcomes], ignore_conflicts=True, batch_size=500
                )
                self.hand_to_evaluators(outcomes)
                self.refresh_progress()

    def hand_to_evaluators(self, outcomes: list[ItemOutcome]) -> None:
        """The run's evaluators judge each item as it is recorded (experiments/hooks.py); their jobs
        commit with the items, and an item recorded twice gets no second job."""
        evaluators = (self.run.config or {}).get("evaluators")
        if not evaluators or not list(hooks.run_items_recorded):
            return
        items = list(RunItem.objects.filter(
            project=self.project, run=self.run, item_key__in=[o.item.item_id for o in outcomes], error__isnull=True
        ))
        for hook in hooks.run_items_recorded:
            hook(project=self.project, run=self.run, items=items, evaluators=evaluators)

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

    def trace_batch(self, outcomes: list[ItemOutcome]) -> merge.Batch:
        """Each item's trace and its generation, the trace's root, as contributions for traces_upsert."""
        batch = merge.Batch()
        for outcome in outcomes:
            item, result = outcome.item, outcome.result
            trace_id, observation_id = self.ids_for(item, outcome.trial)
            output = result.text if result is not None else None
            metadata = {"experiment_run_id": self.run.run_id, "dataset_item_id": item.item_id}
            if self.trials > 1:
                metadata["trial"] = outcome.trial
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
                "usage_details": result.usage if result is not None else {},
                "cost_details": self.cost_of(result),
                "prompt_name": self.prompt.name,
                "prompt_version": self.prompt.version,
                "environment": "experiment",
                "release": None,
                "version": None,
                "input": outcome.messages,
                "output": output,
                "metadata": metadata,
            }
            batch.add_observation(merge.observation_contribution(observation))
            # The trace's name and input are the run's and the item's own; its output is the
            # generation's, derived from the root as for an SDK trace.
            batch.add_trace(
                merge.trace_contribution(
                    trace_id=trace_id,
                    timestamp=outcome.started_at,
                    root_observation_id=observation_id,
                    name=self.run.name,
                    input=item.input,
                    output=output,
                    output_explicit=False,
                    environment="experiment",
                    metadata=metadata,
                )
            )
        return batch

    def run_item_for(self, outcome: ItemOutcome) -> RunItem:
        item, result = outcome.item, outcome.result
        trace_id, observation_id = self.ids_for(item, outcome.trial)
        cost = self.cost_of(result).get("total")
        return RunItem(
            project=self.project,
            run=self.run,
            item_key=item.item_id,
            dataset_item_id=item.dataset_item_pk,
            item_version=self.run.dataset_version,
            trial=outcome.trial,
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

    def ids_for(self, item, trial: int) -> tuple[str, str]:
        """Trace and generation ids derived from (run, item, trial): a re-executed trial reuses its ids."""
        name = f"evalsite-run:{self.run.run_id}:{item.item_id}" + (f":{trial}" if trial > 1 else "")
        digest = uuid.uuid5(uuid.NAMESPACE_URL, name).hex
        return digest, digest[:16]


def template_variables(item_input: Any) -> dict[str, Any]:
    """What `{{variables}}` an item's input offers: its keys when it is an object, plus `input` itself."""
    variables: dict[str, Any] = {}
    if isinstance(item_input, dict):
        variables.update(item_input)
    variables.setdefault("input", item_input if isinstance(item_input, str) else json.dumps(item_input))
    return variables
