"""Executes evaluation jobs: claim, judge on a thread pool, record in batches (README.md here).

1. Claim the jobs' leases (`jobs_claim`): a job finished, skipped, or held by a live worker is not
   ours, so a duplicate task does nothing. A few rounds of the pool are claimed first and judged
   while the rest are claimed and prepared; when the task's own jobs run low, the project's
   waiting jobs whose task has not reached a worker are taken over (bounded), so the pool does not
   drain at every task's end.
2. Decide what needs no judge: the evaluator deleted or paused, the budget spent, the target gone
   → the job is skipped with the reason. Deterministic checks are run right here.
3. Judge calls go to a pool of `EVALSITE_EVAL_CONCURRENCY` threads that only call the model
   (`evalsite.llm.client.chat`, retrying 429/5xx after `Retry-After`) and parse the answer; they
   never touch the database. Calls are handed over a window at a time (twice the pool), and a call
   whose messages refer to media gets its bytes (judge_media.py) just before it is handed over, so
   only the calls about to run hold media in memory.
4. The coordinating thread flushes outcomes every 64 or 0.5 s in one transaction: it finishes each
   job with its tokens, cost, latency and raw answer (`jobs_finish`, only while the lease is ours),
   then writes the scores of those it finished (`scoring.services.scores_ingest`, ids derived from
   the job) and the judges' own traces (`traces_upsert`, environment `langfuse-evaluation`).
   Between flushes it renews the leases of the calls still in flight.

A recorded job is never judged again: it is finished in the same transaction as its score, and a
finished job cannot be claimed. A worker killed before the flush loses only the calls in flight;
their jobs' leases expire and the sweep hands them to another worker.
"""

from __future__ import annotations

import functools
import logging
import queue
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from evalsite.jobs import held_q, jobs_claim, jobs_finish, lease_seconds
from evalsite.llm.client import ChatResult, LLMError, LLMRequestError, chat, client_prepare
from evalsite.llm.connections import llm_endpoint_for
from evalsite.llm.prices import model_prices_for_pricing
from evalsite.llm.pricing import compute_cost, find_price
from evalsite.tenancy.models import Project
from evaluators import budgets, judge_media, pairwise
from evaluators.checks import CheckResult, check_run
from evaluators.context import Context, MissingVariable, PairContext, fill, resolve_variables
from evaluators.jobs import JOBS_PER_TASK, waiting_job_pks
from evaluators.judge import AnswerError, JudgeScore, judge_messages, parse_answer, response_format
from evaluators.models import (
    EvaluationJob,
    EvaluationJobStatus,
    EvaluatorKind,
    EvaluatorStatus,
    JobTarget,
    SkipReason,
)
from evaluators.selectors import contexts_for_jobs
from scoring.services import scores_ingest
from traces import merge
from traces.services import traces_upsert

logger = logging.getLogger(__name__)

FLUSH_EVERY_ITEMS = 64
FLUSH_EVERY_SECONDS = 0.5
# Rounds of the pool taken at a time, and the work left below which the next batch is taken
# (Executor.batches, Executor.outcomes): four rounds of calls outlast a batch's claim.
FULL_ROUNDS = 4
# Waiting jobs a task takes over from tasks still queued, beyond its own (Executor.batches):
# bounded, so a long backfill still leaves workers free for other tasks between its tasks.
TAKE_OVER_LIMIT = JOBS_PER_TASK
JUDGE_ENVIRONMENT = "langfuse-evaluation"
# A job whose provider kept failing (429/5xx/timeouts after the client's own retries) is tried
# again later, this many claims in all, before it is failed.
MAX_ATTEMPTS = 5

# The metadata keys every evaluator score carries (README: "scores record the evaluator id and
# version"); score analytics reads them (dashboards/analytics/seams.py).
EVALUATOR_ID_KEY = "evaluatorId"
EVALUATOR_VERSION_KEY = "evaluatorVersion"


@dataclass
class Outcome:
    job: EvaluationJob
    context: Context | PairContext | None = None
    pair: pairwise.PairJudging | None = None  # a pairwise job: its orders and their answers
    messages: list[dict] | None = None  # as filled: media as its references, as the judge's trace shows them
    has_media: bool = False  # some user message refers to media, to be sent inline
    request_messages: list[dict] | None = None  # `messages` with the media inline, only while the call runs
    result: ChatResult | None = None
    score: JudgeScore | CheckResult | None = None
    error: str | None = None
    raw_answer: str | None = None
    retryable: bool = False
    started_at: datetime = field(default_factory=timezone.now)
    finished_at: datetime | None = None


def jobs_execute(*, job_pks: list[int], concurrency: int | None = None) -> None:
    Executor(concurrency=concurrency).execute(job_pks)


@functools.lru_cache(maxsize=4096)  # asked several times per job while it is recorded
def judge_trace_id(job_pk: int) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"evalsite-evaluation-job:{job_pk}").hex


@functools.lru_cache(maxsize=4096)
def score_id_for(job_pk: int, index: int = 0) -> str:
    """The score's id derived from the job's: a replayed write updates the same score."""
    base = uuid.uuid5(uuid.NAMESPACE_URL, f"evalsite-evaluation-score:{job_pk}").hex
    return base if index == 0 else f"{base}-{index}"


def judge_call(version, endpoint, messages: list[dict]) -> ChatResult:
    """One judge call: structured output first; a provider that refuses `response_format` (a 400)
    is asked again without it, and the JSON is then read from the text."""
    definition = version.output_definition
    parameters = version.model_parameters or {}
    try:
        return chat(endpoint, model=version.model, messages=messages, parameters=parameters,
                    response_format=response_format(definition))
    except LLMRequestError as error:
        if error.status != 400:
            raise
        return chat(endpoint, model=version.model, messages=messages, parameters=parameters)


class Executor:
    def __init__(self, *, concurrency: int | None = None):
        self.concurrency = concurrency or settings.EVALSITE_EVAL_CONCURRENCY
        self.prices: dict[str, list] = {}
        self.price_by_model: dict[tuple[str, str], Any] = {}
        self.endpoints: dict[str, Any] = {}
        self.in_flight: dict[int, EvaluationJob] = {}
        self.budgets = budgets.BudgetTracker()

    # -- preparing (coordinating thread) ------------------------------------------------------

    def claim(self, job_pks: list[int]) -> list[EvaluationJob]:
        # Prefetched, not joined: a task's hundreds of jobs share a few evaluators, versions and
        # one project, so each is read (and its prompt's JSON decoded) once, and the jobs share
        # the instances. Joined, every row carried them all again.
        jobs = EvaluationJob.objects.prefetch_related(
            "project__organization", "evaluator", "evaluator_version__connection", "rule"
        )
        return jobs_claim(jobs, pks=job_pks)

    def prepare(self, jobs: list[EvaluationJob]) -> tuple[list[Outcome], list[Outcome]]:
        """(outcomes known at once: skips and checks, outcomes still to judge)."""
        done, to_judge = [], []
        by_project: dict[str, list[EvaluationJob]] = {}
        for job in jobs:
            by_project.setdefault(job.project_id, []).append(job)
        for project_jobs in by_project.values():
            project = project_jobs[0].project
            contexts = contexts_for_jobs(project=project, jobs=project_jobs)
            for job in project_jobs:
                outcome = Outcome(job=job, context=contexts[job.pk])
                reason = self.skip_reason(project, job, outcome.context)
                if reason is not None:
                    outcome.error = reason
                    done.append(outcome)
                elif job.evaluator.kind == EvaluatorKind.CHECK:
                    outcome.score = check_run(job.evaluator_version.check_spec, outcome.context)
                    outcome.finished_at = timezone.now()
                    done.append(outcome)
                else:
                    self.prepare_judge(outcome)
                    (done if outcome.error else to_judge).append(outcome)
        return done, to_judge

    def skip_reason(self, project: Project, job: EvaluationJob, context: Context | None) -> str | None:
        evaluator = job.evaluator
        if evaluator.deleted_at is not None:
            return SkipReason.EVALUATOR_DELETED
        if evaluator.status == EvaluatorStatus.PAUSED:
            return SkipReason.PAUSED
        if context is None:
            return SkipReason.NO_INPUT
        if evaluator.kind == EvaluatorKind.LLM_AS_JUDGE and not self.budgets.allows(project, job.rule):
            return SkipReason.BUDGET
        return None

    def prepare_judge(self, outcome: Outcome) -> None:
        job, version = outcome.job, outcome.job.evaluator_version
        mapping = job.variable_mapping if job.variable_mapping is not None else version.variable_mapping
        try:
            if isinstance(outcome.context, PairContext):
                both_orders = bool((job.options or {}).get("bothOrders"))
                outcome.pair = pairwise.pair_judging(
                    version=version, mapping=mapping, context=outcome.context, both_orders=both_orders
                )
                outcome.messages = outcome.pair.orders[0].messages
            else:
                values = resolve_variables(version.variables, mapping, outcome.context)
                outcome.messages = judge_messages(fill(version.prompt, values), version.output_definition)
                outcome.has_media = judge_media.holds_media(outcome.messages)
            if version.connection is None or not version.model:
                raise MissingVariable("The evaluator has no model: its LLM connection is missing.")
            self.endpoint(version)
        except (MissingVariable, Exception) as error:  # a missing connection key is also the job's error
            outcome.error = str(error) or type(error).__name__
            outcome.finished_at = timezone.now()

    def attach_media(self, outcome: Outcome) -> None:
        """The media the call sends, read now (coordinating thread: a query and storage reads); an
        object storage cannot give back is the job's error, never a call without it."""
        if not outcome.has_media:
            return
        try:
            outcome.request_messages = judge_media.messages_with_media(project=outcome.job.project, messages=outcome.messages)
        except Exception as error:  # OSError from a directory, botocore's errors from S3…
            logger.warning("evaluation job %s: media not read", outcome.job.pk, exc_info=True)
            outcome.error = f"The media of the judged object could not be read: {error or type(error).__name__}"
            outcome.finished_at = timezone.now()

    def endpoint(self, version):
        key = version.connection_id
        if key not in self.endpoints:
            endpoint = llm_endpoint_for(version.connection)
            client_prepare(endpoint)
            self.endpoints[key] = endpoint
        return self.endpoints[key]

    def price_for(self, project: Project, model: str):
        # Per (project, model): finding a price tries every price's pattern, and a task's hundreds
        # of calls use one or two models.
        key = (project.pk, model)
        if key not in self.price_by_model:
            if project.pk not in self.prices:
                self.prices[project.pk] = model_prices_for_pricing(project=project)
            self.price_by_model[key] = find_price(self.prices[project.pk], model)
        return self.price_by_model[key]

    # -- judging (pool threads: no database) --------------------------------------------------

    def judge(self, outcome: Outcome) -> Outcome:
        if outcome.error is not None:
            return outcome  # its media could not be read: nothing to send
        version = outcome.job.evaluator_version
        outcome.started_at = timezone.now()
        messages = outcome.request_messages or outcome.messages
        outcome.request_messages = None  # the media's bytes go with the call, not with the outcome
        try:
            if outcome.pair is not None:
                self.judge_pair(outcome)
            else:
                outcome.result = judge_call(version, self.endpoints[version.connection_id], messages)
                outcome.raw_answer = outcome.result.text
                outcome.score = parse_answer(outcome.result.text, version.output_definition)
        except AnswerError as error:
            outcome.error = str(error)
        except LLMError as error:
            outcome.error, outcome.retryable = str(error), error.retryable
        outcome.finished_at = timezone.now()
        return outcome

    def judge_pair(self, outcome: Outcome) -> None:
        """A pairwise job: one call per order; every call made is recorded (tokens, cost, answers),
        even when a later one fails."""
        version = outcome.job.evaluator_version
        endpoint = self.endpoints[version.connection_id]
        results = []
        try:
            for order in outcome.pair.orders:
                order.result = judge_call(version, endpoint, order.messages)
                results.append(order.result)
                answer = parse_answer(order.result.text, version.output_definition)
                order.position, order.reasoning = pairwise.canonical_category(answer.values[0]), answer.reasoning
        finally:
            if results:
                outcome.result = pairwise.combined_result(results)
                outcome.raw_answer = outcome.result.text
        outcome.score = pairwise.pair_score(outcome.pair)

    def outcomes(self, batches: Iterator[list[Outcome]]) -> Iterator[Outcome | None]:
        """Outcomes as they complete; None every FLUSH_EVERY_SECONDS without one. The next batch is
        taken whenever fewer than FULL_ROUNDS rounds of the pool are left to judge, so the pool
        judges while this thread claims and prepares."""
        completed: queue.SimpleQueue[Future] = queue.SimpleQueue()
        # Calls with media wait in a window, so that a task's images are not all in memory at once;
        # the others are handed over at once, so a flush never leaves the pool without work.
        waiting: deque[Outcome] = deque()
        window = 2 * self.concurrency  # keeps every thread busy while this thread flushes
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="judge")
        outstanding = 0  # taken, not yet yielded
        exhausted = False

        def hand_over(outcome: Outcome) -> None:
            pool.submit(self.judge, outcome).add_done_callback(completed.put)

        def hand_over_media() -> None:
            if waiting:
                outcome = waiting.popleft()
                self.attach_media(outcome)
                hand_over(outcome)

        try:
            while True:
                while not exhausted and outstanding < FULL_ROUNDS * self.concurrency:
                    batch = next(batches, None)
                    if batch is None:
                        exhausted = True
                        break
                    outstanding += len(batch)
                    for outcome in batch:
                        if outcome.has_media:
                            waiting.append(outcome)
                        else:
                            hand_over(outcome)
                    while waiting and window > 0:
                        window -= 1
                        hand_over_media()
                if outstanding == 0:
                    return
                while True:
                    try:
                        future = completed.get(timeout=FLUSH_EVERY_SECONDS)
                        break
                    except queue.Empty:
                        yield None
                outstanding -= 1
                hand_over_media()
                yield future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- recording (coordinating thread) -------------------------------------------------------

    def execute(self, job_pks: list[int]) -> None:
        self.in_flight = {}
        buffer: list[Outcome] = []
        last_flush = time.monotonic()
        for outcome in self.outcomes(self.batches(job_pks)):
            if outcome is not None:
                buffer.append(outcome)
                self.in_flight.pop(outcome.job.pk, None)
            if len(buffer) >= FLUSH_EVERY_ITEMS or time.monotonic() - last_flush >= FLUSH_EVERY_SECONDS:
                self.flush(buffer)
                self.renew_in_flight()
                buffer, last_flush = [], time.monotonic()
        self.flush(buffer)

    def batches(self, job_pks: list[int]) -> Iterator[list[Outcome]]:
        """The calls to make, a batch at a time (`outcomes` takes the next while the pool judges).

        First FULL_ROUNDS rounds of the pool, claimed alone so that judging starts at once, then
        the rest of the task. Then, up to TAKE_OVER_LIMIT more, the oldest waiting jobs of the same
        projects: jobs whose task has not reached a worker yet. The pool stays full across task
        boundaries instead of draining at the end of each task; the task that carried those jobs
        finds them taken and has nothing to do for them."""
        rounds = FULL_ROUNDS * self.concurrency
        projects: dict[str, Project] = {}
        for pks in (job_pks[:rounds], job_pks[rounds:]):
            if pks:
                jobs = self.claim(pks)
                projects.update((job.project_id, job.project) for job in jobs)
                yield self.prepared(jobs)
        taken = 0
        for project in projects.values():
            while taken < TAKE_OVER_LIMIT:
                with transaction.atomic():
                    jobs = self.claim(waiting_job_pks(project=project, limit=min(rounds, TAKE_OVER_LIMIT - taken)))
                if not jobs:
                    break
                taken += len(jobs)
                yield self.prepared(jobs)

    def prepared(self, jobs: list[EvaluationJob]) -> list[Outcome]:
        """The calls to make for these claimed jobs; skips and checks are recorded right away."""
        done, to_judge = self.prepare(jobs)
        self.flush(done)
        self.in_flight.update((outcome.job.pk, outcome.job) for outcome in to_judge)
        return to_judge

    def renew_in_flight(self) -> None:
        """Keep the leases of long calls alive, in one UPDATE (each job keeps its own token)."""
        stale = timezone.now() - timedelta(seconds=lease_seconds() / 3)
        jobs = [job for job in self.in_flight.values() if job.heartbeat_at is not None and job.heartbeat_at < stale]
        if not jobs:
            return
        held = held_q(jobs)
        if held is None:
            return
        now = timezone.now()
        EvaluationJob.objects.filter(held, status=EvaluationJobStatus.RUNNING).update(heartbeat_at=now)
        for job in jobs:
            job.heartbeat_at = now

    def flush(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        scores_by_project: dict[str, list[dict]] = {}
        traces_by_project: dict[str, merge.Batch] = {}
        by_job = {id(outcome.job): outcome for outcome in outcomes}
        with transaction.atomic():
            # Only the jobs whose lease still holds are finished; another worker owns the others now.
            finished = jobs_finish([(outcome.job, self.finish_values(outcome)) for outcome in outcomes])
            for job in finished:
                outcome = by_job[id(job)]
                if outcome.result is not None:
                    traces_by_project.setdefault(job.project_id, merge.Batch())
                    self.add_judge_trace(traces_by_project[job.project_id], outcome)
                if outcome.score is not None and outcome.error is None:
                    scores_by_project.setdefault(job.project_id, []).extend(self.scores_for(outcome))
            for project_id, batch in traces_by_project.items():
                traces_upsert(project=self.project_of(outcomes, project_id), batch=batch)
            for project_id, items in scores_by_project.items():
                result = scores_ingest(project=self.project_of(outcomes, project_id), items=items, source_override="EVAL")
                if result.errors:
                    # A score the platform builds itself failed validation: a bug, not the judge's fault.
                    raise ValueError(f"evaluation scores refused: {result.errors[:3]}")

    @staticmethod
    def project_of(outcomes: list[Outcome], project_id: str) -> Project:
        return next(o.job.project for o in outcomes if o.job.project_id == project_id)

    def finish_values(self, outcome: Outcome) -> dict[str, Any]:
        """What the job's row becomes: its status and the call's tokens, cost, latency and answer."""
        job, result = outcome.job, outcome.result
        fields: dict[str, Any] = {"raw_answer": outcome.raw_answer}
        if result is not None:
            cost = None
            price = self.price_for(job.project, result.model)
            if price is not None:
                cost = Decimal(str(compute_cost(price, result.usage)["total"]))
                self.budgets.spent(job.project, job.rule, cost)
            fields.update(
                input_tokens=result.input_tokens, output_tokens=result.output_tokens, cost=cost,
                latency_ms=result.latency_ms, judge_trace_id=judge_trace_id(job.pk),
            )
        if outcome.error in SkipReason.values and outcome.score is None and result is None:
            return {"status": EvaluationJobStatus.SKIPPED, "skip_reason": outcome.error, **fields}
        if outcome.error is not None and outcome.retryable and job.attempts < MAX_ATTEMPTS:
            # The provider is failing: back to the queue, tried again after a growing wait.
            wait = min(300, 5 * 2 ** (job.attempts - 1))
            return {
                "status": EvaluationJobStatus.QUEUED, "error": outcome.error, "finished_at": None, "heartbeat_at": None,
                "retry_at": timezone.now() + timedelta(seconds=wait), **fields,
            }
        if outcome.error is not None:
            return {"status": EvaluationJobStatus.FAILED, "error": outcome.error, **fields}
        return {"status": EvaluationJobStatus.COMPLETED, "score_id": score_id_for(job.pk), **fields}

    def scores_for(self, outcome: Outcome) -> list[dict]:
        job = outcome.job
        version, evaluator = job.evaluator_version, job.evaluator
        name = version.score_config.name if version.score_config_id and version.score_config else evaluator.name
        metadata = {
            EVALUATOR_ID_KEY: evaluator.pk,
            EVALUATOR_VERSION_KEY: version.version,
            "evaluatorVersionId": version.pk,
            "evaluationJobId": job.pk,
        }
        if job.rule_id:
            metadata["evaluationRuleId"] = job.rule_id
        if outcome.pair is not None:
            metadata["pairwise"] = pairwise.pair_metadata(outcome.pair)
        if outcome.result is not None:
            metadata["judgeTraceId"] = judge_trace_id(job.pk)
        base = {
            "name": name,
            "source": "EVAL",
            "environment": outcome.context.environment if outcome.context else "default",
            "metadata": metadata,
            "configId": version.score_config_id,
        }
        if job.target_kind == JobTarget.OBSERVATION:
            base.update(traceId=job.trace_id, observationId=job.observation_id)
        else:
            base["traceId"] = job.trace_id
        score = outcome.score
        if isinstance(score, CheckResult):
            data_type = version.output_definition["dataType"]
            return [{**base, "id": score_id_for(job.pk), "value": score.value, "dataType": data_type, "comment": score.comment}]
        items = []
        for index, value in enumerate(score.values):
            item = {**base, "id": score_id_for(job.pk, index), "dataType": score.data_type, "comment": score.reasoning}
            item["value"] = value
            items.append(item)
        return items

    def add_judge_trace(self, batch: merge.Batch, outcome: Outcome) -> None:
        """The judge's call as its own trace and generation, in the judges' environment, which
        rules never match."""
        job, result = outcome.job, outcome.result
        trace_id = judge_trace_id(job.pk)
        observation_id = trace_id[:16]
        name = f"Evaluator: {job.evaluator.name} v{job.evaluator_version.version}"
        metadata = {"evaluation_job_id": job.pk, "evaluator_id": job.evaluator_id, "target_trace_id": job.trace_id}
        # A pairwise job judged in both orders sent two conversations: the trace shows both.
        messages = outcome.messages
        if outcome.pair is not None and outcome.pair.both_orders:
            messages = [order.messages for order in outcome.pair.orders]
        price = self.price_for(job.project, result.model)
        batch.add_observation(merge.observation_contribution({
            "id": observation_id, "trace_id": trace_id, "parent_observation_id": None, "type": "GENERATION",
            "name": name, "start_time": outcome.started_at, "end_time": outcome.finished_at,
            "completion_start_time": None, "level": "ERROR" if outcome.error else "DEFAULT",
            "status_message": outcome.error, "model": result.model, "model_parameters": None,
            "usage_details": result.usage, "cost_details": compute_cost(price, result.usage) if price else {},
            "prompt_name": None, "prompt_version": None, "environment": JUDGE_ENVIRONMENT, "release": None,
            "version": None, "input": messages, "output": result.text, "metadata": metadata,
        }))
        batch.add_trace(merge.trace_contribution(
            trace_id=trace_id, timestamp=outcome.started_at, root_observation_id=observation_id, name=name,
            input=messages, output=result.text, output_explicit=False, environment=JUDGE_ENVIRONMENT,
            metadata=metadata,
        ))
