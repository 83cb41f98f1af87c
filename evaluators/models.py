"""Evaluators (LLM judges and deterministic checks), their immutable versions, online rules, the
execution ledger and budgets (evaluators/README.md explains how they fit together)."""

from django.conf import settings
from django.db import models

from evalsite.jobs import LeasedJob
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.models import Project, new_id


class EvaluatorKind(models.TextChoices):
    LLM_AS_JUDGE = "llm_as_judge"
    CHECK = "check"  # a deterministic check run in the worker, no LLM, no user code


class EvaluatorStatus(models.TextChoices):
    ACTIVE = "active"
    PAUSED = "paused"


class PauseReason(models.TextChoices):
    MANUAL = "MANUAL"
    BUDGET = "BUDGET"
    MODEL_CONFIG_MISSING = "MODEL_CONFIG_MISSING"


class Evaluator(models.Model):
    """What stays the same across versions: identity, name, status. The definition is a version's."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(null=True, blank=True)
    kind = models.CharField(max_length=20, choices=EvaluatorKind.choices)
    status = models.CharField(max_length=10, choices=EvaluatorStatus.choices, default=EvaluatorStatus.ACTIVE)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=40, null=True, blank=True)
    paused_message = models.TextField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Deleted evaluators stay as rows: their versions are what past jobs and scores point to, and a
    # job still pending when its evaluator goes is skipped with the reason "evaluator deleted".
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "created_at"], name="evaluator_project_created")]

    def __str__(self) -> str:
        return self.name


class EvaluatorVersion(models.Model):
    """One immutable definition of an evaluator. Editing an evaluator adds a version; nothing here
    is ever updated, so a job and its score always say exactly what judged them."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    # LLM judge: [{"role", "content"}] with {{variables}}; the variables found in them, in order.
    prompt = models.JSONField(default=list, blank=True)
    variables = models.JSONField(default=list, blank=True)
    # Default mapping of variables to sources: [{"variable", "source", "jsonPath"}], or null.
    variable_mapping = models.JSONField(null=True, blank=True)
    connection = models.ForeignKey(LlmConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    provider = models.CharField(max_length=100, null=True, blank=True)  # as sent; the connection may go
    model = models.CharField(max_length=200, null=True, blank=True)
    model_parameters = models.JSONField(null=True, blank=True)
    # {"dataType": NUMERIC|BOOLEAN|CATEGORICAL, minValue, maxValue, categories,
    #  shouldAllowMultipleMatches, scoreReasoningInstructions, scoreValueInstructions}
    output_definition = models.JSONField(default=dict)
    score_config = models.ForeignKey(
        "scoring.ScoreConfig", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Deterministic check: {"type": "regex", "pattern": …, …} (evaluators/checks.py).
    check_spec = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "evaluator", "version"], name="evaluatorversion_unique")
        ]

    def __str__(self) -> str:
        return f"{self.evaluator_id} v{self.version}"


class RuleTarget(models.TextChoices):
    OBSERVATION = "observation"
    TRACE = "trace"


class EvaluationRule(models.Model):
    """Which live objects to evaluate, how often, after what delay, with which evaluators."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=False)
    target = models.CharField(max_length=12, choices=RuleTarget.choices, default=RuleTarget.OBSERVATION)
    sampling = models.FloatField(default=1.0)
    # Langfuse's filter shape, stored as sent: [{"type", "column", "operator", "value", "key"?}].
    filter = models.JSONField(default=list, blank=True)
    # Seconds after the object's last update before it is judged, so a trace is judged complete.
    delay_seconds = models.PositiveIntegerField(default=0)
    # Judge spend per calendar month (UTC) in the currency of the model prices; null: no limit.
    monthly_budget = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "enabled"], name="evaluationrule_enabled")]

    def __str__(self) -> str:
        return self.name


class RuleAssignment(models.Model):
    """An evaluator attached to a rule; a null mapping inherits the evaluator's latest default."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EvaluationRule, on_delete=models.CASCADE, related_name="assignments")
    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="assignments")
    variable_mapping = models.JSONField(null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "rule", "evaluator"], name="ruleassignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} → {self.evaluator_id}"


class JobTarget(models.TextChoices):
    TRACE = "trace"
    OBSERVATION = "observation"
    RUN_ITEM = "run_item"  # an experiment run's item (its output against the dataset item)
    # Two runs' items of one dataset item and trial, judged side by side (evaluators/PAIRWISE.md);
    # the target id is "<baseline run item pk>:<candidate run item pk>".
    ITEM_PAIR = "item_pair"


class EvaluationJobStatus(models.TextChoices):
    """The lease mechanism's states (evalsite/jobs) plus `skipped`: queued is "pending", completed
    "done", failed "error"."""

    QUEUED = "queued", "pending"
    RUNNING = "running", "running"
    COMPLETED = "completed", "done"
    FAILED = "failed", "error"
    CANCELLED = "cancelled", "cancelled"
    SKIPPED = "skipped", "skipped"


class SkipReason(models.TextChoices):
    SAMPLED_OUT = "sampled_out"
    FILTERED = "filtered"
    BUDGET = "budget"
    PAUSED = "paused"
    EVALUATOR_DELETED = "evaluator_deleted"
    NO_INPUT = "no_input"  # the target is gone or has nothing to judge


class EvaluationJob(LeasedJob):
    """One (evaluator version, target object): the ledger row that owns the evaluation's state.

    The unique constraint makes a second job, hence a second score, for the same pair impossible;
    the score's id is derived from the job's, so a replayed write updates the same score.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=10, choices=EvaluationJobStatus.choices, default=EvaluationJobStatus.QUEUED
    )
    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="jobs")
    evaluator_version = models.ForeignKey(EvaluatorVersion, on_delete=models.CASCADE, related_name="jobs")
    rule = models.ForeignKey(EvaluationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    run = models.ForeignKey(
        "experiments.ExperimentRun", null=True, blank=True, on_delete=models.CASCADE, related_name="evaluation_jobs"
    )
    target_kind = models.CharField(max_length=12, choices=JobTarget.choices)
    target_id = models.CharField(max_length=128)  # trace id, observation id, or run item pk
    trace_id = models.CharField(max_length=128, null=True, blank=True)
    observation_id = models.CharField(max_length=128, null=True, blank=True)
    variable_mapping = models.JSONField(null=True, blank=True)  # the assignment's override, if any
    # How a pairwise job judges ({"bothOrders": bool}); null for every other kind.
    options = models.JSONField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)  # the rule's delay after the last update
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, null=True, blank=True)
    raw_answer = models.TextField(null=True, blank=True)
    score_id = models.CharField(max_length=128, null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    judge_trace_id = models.CharField(max_length=128, null=True, blank=True)
    # When a retryable failure (429/5xx) may be tried again; the dispatcher waits for it.
    retry_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "evaluator_version", "target_kind", "target_id"], name="evaluationjob_unique"
            )
        ]
        indexes = [
            models.Index(fields=["project", "status", "created_at"], name="evaluationjob_status"),
            models.Index(fields=["project", "trace_id"], name="evaluationjob_trace"),
            models.Index(fields=["project", "run"], name="evaluationjob_run"),
            models.Index(fields=["project", "rule", "created_at"], name="evaluationjob_rule"),
            models.Index(fields=["project", "evaluator", "created_at"], name="evaluationjob_evaluator"),
        ]

    def __str__(self) -> str:
        return f"{self.evaluator_version_id} on {self.target_kind} {self.target_id}"


class ProjectEvaluationBudget(models.Model):
    """A project's monthly judge budget (UTC calendar month), in the currency of the model prices."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="+")
    monthly_budget = models.DecimalField(max_digits=20, decimal_places=6)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.project_id}: {self.monthly_budget}"
