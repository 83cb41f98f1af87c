"""A queue item that is a pair of run items: humans say which of two runs answered better
(annotations/pairs/README.md)."""

from django.db import models

from evalsite.tenancy.models import Project


class QueueItemPair(models.Model):
    """The pair behind a queue item. The item itself is the candidate's trace (with `run_item` set),
    so claims, locks, progress and skips are the queue's own; this row adds the baseline's run
    item and which side each run is shown on (drawn once, from the pair's ids)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("annotations.QueueItem", on_delete=models.CASCADE, related_name="pairs")
    baseline_run_item = models.ForeignKey("experiments.RunItem", on_delete=models.CASCADE, related_name="+")
    candidate_run_item = models.ForeignKey("experiments.RunItem", on_delete=models.CASCADE, related_name="+")
    candidate_first = models.BooleanField()  # the candidate's output is shown on the left (key `a`)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One pair per queue item (the item is the candidate's trace in one queue).
            models.UniqueConstraint(fields=["project", "item"], name="queueitempair_one_per_item"),
        ]

    def __str__(self) -> str:
        return f"{self.baseline_run_item_id} vs {self.candidate_run_item_id}"
