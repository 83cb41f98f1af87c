"""The annotator's pages: the queues they may work on, and the keyboard-first workspace.

The workspace claims on GET (`claims.queue_item_claim_next`: a reload returns the item already
held) and takes one POST per item: submit (then a redirect to the next claim), skip, or comment.
When a submission is refused because the lock was lost, the page comes back with everything typed
still in the form and a button that claims again and keeps it; the browser also keeps a copy per
item in localStorage, so a closed tab loses nothing either.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render

from annotations import claims
from annotations.markdown import render_markdown
from annotations.models import AnnotationQueue, QueueItem
from annotations.selectors import (
    assignee_progress,
    comment_list,
    item_scores,
    queue_configs,
    queue_get,
    queue_holds_pairs,
    queue_item_get,
    queue_progress,
    queues_for_user,
)
from annotations.services import comment_create, may_work_on, queue_item_correction_add
from annotations.workspace import item_view
from evalsite.errors import Conflict
from evalsite.pages import ProjectPageView
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.roles import Role
from scoring.models import ScoreConfigDataType
from scoring.validation import form_value


class QueueListPage(ProjectPageView):
    """Every role may look at the queues and their progress; annotating needs ANNOTATOR."""

    def get(self, request, project_id):
        rows = []
        for queue in queues_for_user(project=self.project, user=request.user):
            mine = assignee_progress(project=self.project, queue=queue, user_ids=[request.user.pk])[0]
            rows.append({"queue": queue, "progress": queue_progress(project=self.project, queue=queue), "mine": mine})
        return render(
            request, "annotations/queue_list.html", self.page_context(
                rows=rows, can_annotate=self.role >= Role.ANNOTATOR, can_adjudicate=self.role >= Role.ADMIN
            )
        )


def config_inputs(configs, values: dict, errors: dict) -> list[dict]:
    """Each config as the form shows it: its choices (numbered for the keyboard) or its range."""
    inputs = []
    for index, config in enumerate(configs):
        choices = []
        if config.data_type in (ScoreConfigDataType.CATEGORICAL, ScoreConfigDataType.BOOLEAN):
            categories = config.categories or [{"label": "True", "value": 1}, {"label": "False", "value": 0}]
            choices = [{"key": n + 1, "label": c["label"]} for n, c in enumerate(categories)]
        inputs.append(
            {
                "index": index, "config": config, "choices": choices, "value": values.get(f"score-{config.id}", ""),
                "comment": values.get(f"comment-{config.id}", ""), "error": errors.get(config.id, ""),
            }
        )
    return inputs


class WorkspacePage(ProjectPageView):
    # A viewer who follows a link here is sent to the queue list; every POST needs ANNOTATOR.
    required_roles = {"GET": Role.VIEWER, "HEAD": Role.VIEWER, "POST": Role.ANNOTATOR}

    def queue_or_404(self, queue_id) -> AnnotationQueue:
        queue = queue_get(project=self.project, queue_id=queue_id)
        if queue is None:
            raise Http404("Annotation queue not found")
        if not may_work_on(project=self.project, queue=queue, user=self.request.user, role=self.role):
            raise PermissionDenied("This queue is for the users assigned to it")
        return queue

    def get(self, request, project_id, queue_id):
        if self.role < Role.ANNOTATOR:
            return redirect("annotation-queues", project_id=self.project.pk)
        queue = self.queue_or_404(queue_id)
        if queue_holds_pairs(project=self.project, queue=queue):
            # Shown here, a pair would be the candidate's trace alone: one side revealed, the other missing.
            return redirect("annotation-pair-workspace", project_id=self.project.pk, queue_id=queue.pk)
        item = claims.queue_item_claim_next(project=self.project, queue=queue, user=request.user, role=self.role)
        return self.render_item(request, queue, item)

    def post(self, request, project_id, queue_id):
        queue = self.queue_or_404(queue_id)
        # The lock-lost banner's button sends the form as it is now, with `reclaim`.
        action = "reclaim" if request.POST.get("reclaim") else request.POST.get("action", "submit")
        values = {key: value for key, value in request.POST.items() if key not in ("csrfmiddlewaretoken", "reclaim")}
        if action == "renew":
            return self.renew(queue, request.POST.get("item_id", ""))
        if action == "reclaim":
            # The lock was lost: claim again (possibly another item) and keep what was typed.
            item = claims.queue_item_claim_next(project=self.project, queue=queue, user=request.user, role=self.role)
            return self.render_item(request, queue, item, values=values, notice="Claimed again: your input is kept below. Check it, then submit.")
        item = queue_item_get(project=self.project, queue=queue, item_id=request.POST.get("item_id", ""))
        if item is None:
            raise Http404("Queue item not found")
        try:
            if action == "skip":
                claims.queue_item_skip(project=self.project, item=item, user=request.user)
                return redirect("annotation-workspace", project_id=self.project.pk, queue_id=queue.pk)
            if action == "comment":
                comment_create(
                    project=self.project, object_type=item.object_type, object_id=item.object_id,
                    content=values.get("comment_content", ""), author=request.user,
                )
                values.pop("comment_content", None)
                return self.render_item(request, queue, item, values=values, notice="Comment added.")
            return self.submit(request, queue, item, values)
        except Conflict as error:
            return self.render_item(request, queue, item, values=values, lock_lost=error.message, status=409)
        except ValidationError as error:
            return self.render_item(request, queue, item, values=values, errors=error.message_dict, status=400)

    def renew(self, queue, item_id):
        """The page's timer, while the annotator works: extends their lock; 409 when it was lost."""
        item = queue_item_get(project=self.project, queue=queue, item_id=item_id)
        if item is None:
            raise Http404("Queue item not found")
        try:
            renewed: QueueItem = claims.queue_item_renew(project=self.project, item=item, user=self.request.user)
        except Conflict as error:
            return JsonResponse({"held": False, "message": error.message}, status=409)
        return JsonResponse({"held": True, "lockedUntil": renewed.locked_until.isoformat()})

    def submit(self, request, queue, item, values):
        scores = []
        for config in queue_configs(project=self.project, queue=queue):
            raw = values.get(f"score-{config.id}", "").strip()
            if raw == "":
                continue
            scores.append(claims.ScoreInput(config.id, form_value(raw, config.data_type), values.get(f"comment-{config.id}") or None))
        corrected = values.get("corrected_output", "")
        view = item_view(project=self.project, item=item) if values.get("add_to_dataset") else None
        claims.queue_item_submit(project=self.project, item=item, user=request.user, role=self.role, scores=scores)
        if view is not None:
            queue_item_correction_add(
                project=self.project, queue=queue, item=item, user=request.user, input_value=view.input_value,
                corrected_output=corrected, source_trace_id=view.source_trace_id,
                source_observation_id=view.source_observation_id, actor=Actor.from_request(request),
            )
        return redirect("annotation-workspace", project_id=self.project.pk, queue_id=queue.pk)

    def render_item(self, request, queue, item, *, values=None, errors=None, lock_lost="", notice="", status=200):
        values, errors = values or {}, errors or {}
        score_errors = {}
        for message in errors.get("scores", []):
            config_id, _, text = message.partition(": ")
            score_errors[config_id] = text
        configs = queue_configs(project=self.project, queue=queue)
        context = self.page_context(
            queue=queue,
            instructions=render_markdown(queue.instructions),
            item=item,
            inputs=config_inputs(configs, values, score_errors),
            errors=[f"{field}: {'; '.join(messages)}" for field, messages in errors.items() if field != "scores"],
            lock_lost=lock_lost,
            notice=notice,
            progress=queue_progress(project=self.project, queue=queue),
        )
        if item is not None:
            view = item_view(project=self.project, item=item)
            context.update(
                view=view,
                comments=list(comment_list(project=self.project, object_type=item.object_type, object_id=item.object_id)),
                my_scores=item_scores(project=self.project, item=item, viewer=request.user),
                corrected_output=values.get("corrected_output", view.output_text),
                add_to_dataset=bool(values.get("add_to_dataset")),
                values=values,
            )
        return render(request, "annotations/workspace.html", context, status=status)
