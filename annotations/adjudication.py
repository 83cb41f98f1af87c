"""The adjudication pages, for ADMINs (the designated reviewers): the queue's items that
annotators submitted (or only those they disagree on), and per item every annotator's scores
side by side with the final score, which the ADMIN writes (`claims.queue_item_adjudicate`:
ANNOTATION scores with `metadata.adjudicated = true`, which score analytics takes as human gold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

from annotations import claims
from annotations.agreement import disagreements
from annotations.models import AnnotationQueue, QueueItem
from annotations.selectors import (
    item_scores,
    queue_configs,
    queue_get,
    queue_item_get,
    queue_items_adjudicated,
    queue_items_submitted,
)
from evalsite.pages import ProjectPageView
from evalsite.tenancy.roles import Role
from evalsite.tenancy.selectors import project_member_list
from scoring.models import Score, ScoreConfigDataType
from scoring.validation import form_value

LIST_LIMIT = 200


def shown(score: Score) -> str:
    if score.string_value is not None:
        return score.string_value
    return "" if score.value is None else f"{score.value:g}"


class AdjudicationPageView(ProjectPageView):
    # Below ADMIN, a followed link leads back to the queue list; writing needs ADMIN.
    required_roles = {"GET": Role.VIEWER, "HEAD": Role.VIEWER, "POST": Role.ADMIN}

    def get(self, request, project_id, queue_id, **kwargs):
        if self.role < Role.ADMIN:
            return redirect("annotation-queues", project_id=self.project.pk)
        return self.show(request, self.queue_or_404(queue_id), **kwargs)

    def queue_or_404(self, queue_id) -> AnnotationQueue:
        queue = queue_get(project=self.project, queue_id=queue_id)
        if queue is None:
            raise Http404("Annotation queue not found")
        return queue


class AdjudicationListPage(AdjudicationPageView):
    """The items annotators submitted, newest first; with `config`, only those whose annotators
    disagree on it by more than `threshold` (categories: any difference)."""

    def show(self, request, queue):
        configs = queue_configs(project=self.project, queue=queue)
        config = next((c for c in configs if c.pk == request.GET.get("config")), None)
        try:
            threshold = float(request.GET.get("threshold") or 0)
        except ValueError:
            threshold = 0.0
        threshold = threshold if math.isfinite(threshold) and threshold > 0 else 0.0
        if config is not None:
            rows = [
                {"item": row.item, "spread": row.spread}
                for row in disagreements(project=self.project, queue=queue, config=config, threshold=threshold)
            ][:LIST_LIMIT]
        else:
            items = queue_items_submitted(project=self.project, queue=queue)[:LIST_LIMIT]
            rows = [{"item": item, "spread": None} for item in items]
        final = queue_items_adjudicated(project=self.project, queue=queue, item_ids=[row["item"].pk for row in rows])
        for row in rows:
            row["final"] = row["item"].pk in final
        context = self.page_context(
            queue=queue, configs=configs, config=config, threshold=threshold, rows=rows, limit=LIST_LIMIT,
        )
        return render(request, "annotations/adjudication_list.html", context)


@dataclass
class ConfigRow:
    config: object
    by_user: list[str]  # the annotators' values, in the page's column order ("" when none)
    comments: list[str]
    final: str
    choices: list[str]


class AdjudicationItemPage(AdjudicationPageView):
    def item_or_404(self, queue, item_id) -> QueueItem:
        item = queue_item_get(project=self.project, queue=queue, item_id=item_id)
        if item is None:
            raise Http404("Queue item not found")
        return item

    def show(self, request, queue, item_id):
        return self.render_item(request, queue, self.item_or_404(queue, item_id))

    def post(self, request, project_id, queue_id, item_id):
        queue = self.queue_or_404(queue_id)
        item = self.item_or_404(queue, item_id)
        scores = []
        for config in queue_configs(project=self.project, queue=queue):
            raw = request.POST.get(f"final-{config.pk}", "").strip()
            if raw:
                comment = request.POST.get(f"comment-{config.pk}") or None
                scores.append(claims.ScoreInput(config.pk, form_value(raw, config.data_type), comment))
        try:
            claims.queue_item_adjudicate(project=self.project, item=item, user=request.user, role=self.role, scores=scores)
        except ValidationError as error:
            return self.render_item(request, queue, item, errors=error.messages, status=400)
        messages.success(request, "Final scores saved.")
        return redirect("annotation-adjudication-item", project_id=self.project.pk, queue_id=queue.pk, item_id=item.pk)

    def render_item(self, request, queue, item, *, errors=None, status=200):
        scores = item_scores(project=self.project, item=item, see_all=True)
        ratings = [s for s in scores if not (isinstance(s.metadata, dict) and s.metadata.get("adjudicated"))]
        finals = {s.config_id: s for s in scores if isinstance(s.metadata, dict) and s.metadata.get("adjudicated")}
        user_ids = sorted({s.author_user_id for s in ratings if s.author_user_id is not None})
        names = {user.pk: user.email or user.get_username() for user, _ in project_member_list(project=self.project)}
        # item_scores is newest first: the first score per (user, config) is that user's current one.
        latest: dict[tuple, Score] = {}
        for score in ratings:
            latest.setdefault((score.author_user_id, score.config_id), score)
        rows = []
        for config in queue_configs(project=self.project, queue=queue):
            cells = [latest.get((user_id, config.pk)) for user_id in user_ids]
            final = finals.get(config.pk)
            choices = []
            if config.data_type == ScoreConfigDataType.CATEGORICAL:
                choices = [c["label"] for c in config.categories or []]
            elif config.data_type == ScoreConfigDataType.BOOLEAN:
                choices = ["true", "false"]
            rows.append(
                ConfigRow(
                    config=config, by_user=[shown(c) if c else "" for c in cells],
                    comments=[(c.comment or "") if c else "" for c in cells],
                    final=shown(final) if final else "", choices=choices,
                )
            )
        context = self.page_context(
            queue=queue, item=item, rows=rows, annotators=[names.get(u, f"user {u}") for u in user_ids],
            errors=errors or [],
        )
        return render(request, "annotations/adjudication_item.html", context, status=status)
