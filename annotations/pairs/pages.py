"""The pair workspace: /projects/<id>/annotations/<queue>/pairs. Two runs' outputs for one item side
by side, which run is on which side drawn per pair and never shown; keys `a` (left), `b` (right),
`t` (tie), `s` (skip). Claims and locks are the queue's (claims.py): a reload keeps the held pair."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from annotations import claims
from annotations.markdown import render_markdown
from annotations.pages import WorkspacePage
from annotations.pairs.services import pair_for_item, pair_preference_submit
from annotations.selectors import queue_item_get, queue_progress
from annotations.workspace import pretty
from evalsite.errors import Conflict
from evalsite.tenancy.roles import Role


class PairWorkspacePage(WorkspacePage):
    """The workspace's access rules (queue_or_404, ANNOTATOR to work), another item view and form."""

    def get(self, request, project_id, queue_id):
        if self.role < Role.ANNOTATOR:
            return redirect("annotation-queues", project_id=self.project.pk)
        queue = self.queue_or_404(queue_id)
        item = claims.queue_item_claim_next(project=self.project, queue=queue, user=request.user, role=self.role)
        return self.render_pair(request, queue, item)

    def post(self, request, project_id, queue_id):
        queue = self.queue_or_404(queue_id)
        action = request.POST.get("action", "submit")
        if action == "renew":
            return self.renew(queue, request.POST.get("item_id", ""))
        item = queue_item_get(project=self.project, queue=queue, item_id=request.POST.get("item_id", ""))
        if item is None:
            raise Http404("Queue item not found")
        try:
            if action == "skip":
                claims.queue_item_skip(project=self.project, item=item, user=request.user)
            else:
                pair_preference_submit(
                    project=self.project, item=item, user=request.user, role=self.role,
                    choice=request.POST.get("choice", ""), comment=request.POST.get("comment", "").strip() or None,
                )
        except Conflict as error:
            return self.render_pair(request, queue, item, error=error.message, status=409)
        except ValidationError as error:
            messages = [f"{field}: {'; '.join(texts)}" for field, texts in error.message_dict.items()]
            return self.render_pair(request, queue, item, error=" ".join(messages), status=400)
        return redirect("annotation-pair-workspace", project_id=self.project.pk, queue_id=queue.pk)

    def render_pair(self, request, queue, item, *, error: str = "", status: int = 200):
        context = self.page_context(
            queue=queue, instructions=render_markdown(queue.instructions), item=item, error=error,
            progress=queue_progress(project=self.project, queue=queue),
            workspace_url=reverse("annotation-workspace", kwargs={"project_id": self.project.pk, "queue_id": queue.pk}),
        )
        pair = pair_for_item(project=self.project, item=item) if item is not None else None
        if pair is not None:
            base, cand = pair.baseline_run_item, pair.candidate_run_item
            left, right = (cand, base) if pair.candidate_first else (base, cand)
            dataset_item = base.dataset_item
            context.update(
                pair=pair,
                input=pretty(dataset_item.input if dataset_item else cand.input),
                expected=pretty(dataset_item.expected_output if dataset_item else cand.expected_output),
                left=pretty(left.output), right=pretty(right.output),
            )
        return render(request, "annotations/pair_workspace.html", context, status=status)
