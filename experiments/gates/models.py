"""Release gates: a written, versioned policy that decides whether a candidate run may ship.

GATES.md beside this file explains the rules, the statistics and the outcomes.
"""

from django.db import models

from evalsite.tenancy.models import Project


class GateOutcome(models.TextChoices):
    PASS = "pass"
    FAIL = "fail"
    CANNOT_TELL = "cannot_tell"


class GatePolicy(models.Model):
    """One version of a project's gate policy. Editing a policy adds a version; old ones stay, so a
    stored result can always say which rules it was judged by."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    description = models.TextField(null=True, blank=True)
    # {"kind": "run", "run": <run id or name>} or {"kind": "latestReleased"}
    baseline = models.JSONField()
    # "wilcoxon" or "bootstrap": the comparison's paired test for numeric scores (boolean scores: McNemar).
    method = models.CharField(max_length=20, default="wilcoxon")
    # [{"type": "minMean", "score": …, "threshold": …}, …]; services.RULE_FIELDS lists every type.
    rules = models.JSONField()
    created_by = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        verbose_name = "gate policy"
        verbose_name_plural = "gate policies"
        constraints = [
            models.UniqueConstraint(fields=["project", "name", "version"], name="gatepolicy_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def document(self) -> dict:
        """The policy as written (wire field names), as stored beside every result it produced."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "baseline": self.baseline,
            "method": self.method,
            "rules": self.rules,
        }


class RunRelease(models.Model):
    """A run marked as released: "latest released run on this dataset" baselines follow the newest mark."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    run = models.OneToOneField("experiments.ExperimentRun", on_delete=models.CASCADE, related_name="release")
    released_at = models.DateTimeField()
    released_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-released_at", "-pk"]
        indexes = [models.Index(fields=["project", "released_at"], name="runrelease_released")]

    def __str__(self) -> str:
        return f"{self.run} released {self.released_at:%Y-%m-%d %H:%M}"


class GateResult(models.Model):
    """One evaluation of a gate policy on a candidate run, with every rule's figures."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey("experiments.ExperimentRun", on_delete=models.CASCADE, related_name="gate_results")
    baseline = models.ForeignKey(
        "experiments.ExperimentRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The policy version judged by; its document is copied too, so deleting the policy keeps the record.
    policy = models.ForeignKey(GatePolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="results")
    policy_name = models.CharField(max_length=100)
    policy_version = models.PositiveIntegerField()
    policy_document = models.JSONField()
    outcome = models.CharField(max_length=12, choices=GateOutcome.choices)
    # [{"type": …, "outcome": …, "value": …, "bound": …, "pValue": …, "ciLow": …, "ciHigh": …, "n": …, …}]
    rules = models.JSONField()
    baseline_note = models.TextField(null=True, blank=True)
    created_by = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["project", "run", "created_at"], name="gateresult_run")]

    def __str__(self) -> str:
        return f"{self.policy_name} v{self.policy_version} on {self.run}: {self.outcome}"
