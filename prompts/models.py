"""Prompt versions and their labels.

The tables keep the names they had when these models lived in the experiments app
(`experiments_prompt`, `experiments_promptlabel`): the move changed Django's state only
(prompts/migrations/0001_initial.py and experiments/migrations/0003_move_prompts_out.py).
"""

from django.db import models

from evalsite.tenancy.models import Project, new_id


class PromptType(models.TextChoices):
    TEXT = "text"
    CHAT = "chat"


class Prompt(models.Model):
    """One version of a prompt. Versions of a name count up from 1; labels live in PromptLabel."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=500, help_text="May contain '/' (folders)")
    version = models.PositiveIntegerField()
    type = models.CharField(max_length=10, choices=PromptType.choices, default=PromptType.TEXT)
    prompt = models.JSONField(help_text="A string (text) or a list of messages (chat)")
    config = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    commit_message = models.TextField(null=True, blank=True)
    created_by = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The table kept the name it had when prompts lived in the experiments app (no data moved).
        db_table = "experiments_prompt"
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name", "version"], name="prompt_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def label_names(self) -> list[str]:
        """The version's labels, sorted (prefetch ``label_rows`` to read them without a query)."""
        return sorted(row.label for row in self.label_rows.all())

    def labels_in_order(self) -> list[str]:
        """The version's labels in the order they were put on it, as the API lists them: a new
        version's given labels, then ``latest`` (prefetch ``label_rows`` to skip the query)."""
        return [row.label for row in sorted(self.label_rows.all(), key=lambda row: row.pk)]


class PromptLabel(models.Model):
    """A label points at one version of a prompt name; the constraint keeps labels unique per name."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="label_rows")
    name = models.CharField(max_length=500)
    label = models.CharField(max_length=100)

    class Meta:
        db_table = "experiments_promptlabel"
        constraints = [
            models.UniqueConstraint(fields=["project", "name", "label"], name="promptlabel_unique_per_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.label}"
