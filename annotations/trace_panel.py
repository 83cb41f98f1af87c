"""Annotations' part of the trace page: comments on the trace and its observations (and its
session), registered into `traces.hooks.trace_page_panels` by AnnotationsConfig.ready()."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q

from annotations.models import Comment, CommentObjectType
from annotations.services import comment_create
from evalsite.tenancy.roles import Role
from traces.hooks import PanelContent, PanelForm, TracePanel, TraceView


class CommentsPanel(TracePanel):
    name = "comments"
    title = "Comments"
    template_name = "annotations/trace_comments_panel.html"
    observation_template_name = "annotations/observation_comments.html"
    post_role = Role.ANNOTATOR

    def content(self, view: TraceView, *, form: PanelForm | None = None) -> PanelContent:
        trace = view.trace
        targets = Q(object_type=CommentObjectType.TRACE, object_id=trace.trace_id) | Q(
            object_type=CommentObjectType.OBSERVATION, object_id__in=[o.observation_id for o in view.observations]
        )
        if trace.session_id:
            targets |= Q(object_type=CommentObjectType.SESSION, object_id=trace.session_id)
        comments = list(Comment.objects.filter(targets, project=view.project).select_related("author_user").order_by("created_at", "id"))
        by_observation: dict[str, list[Comment]] = {}
        for comment in comments:
            if comment.object_type == CommentObjectType.OBSERVATION:
                by_observation.setdefault(comment.object_id, []).append(comment)
        context = {
            "comments": [c for c in comments if c.object_type != CommentObjectType.OBSERVATION],
            "can_comment": view.role >= self.post_role,
            "form": form.values if form else {"target": "trace"},
            "errors": form.errors if form else [],
        }
        return PanelContent(context=context, by_observation=by_observation)

    def post(self, view: TraceView) -> PanelForm:
        request = view.request
        form = PanelForm(values={key: request.POST.get(key, "").strip() for key in ("target", "content")})
        target = form.values["target"] or "trace"
        if target == "trace":
            object_type, object_id = CommentObjectType.TRACE, view.trace.trace_id
        elif target == "session" and view.trace.session_id:
            object_type, object_id = CommentObjectType.SESSION, view.trace.session_id
        elif target in {o.observation_id for o in view.observations}:
            object_type, object_id = CommentObjectType.OBSERVATION, target
        else:
            form.errors.append("The target is not this trace, its session or one of its observations.")
            return form
        try:
            comment_create(
                project=view.project, object_type=object_type, object_id=object_id, content=form.values["content"],
                author=request.user,
            )
        except ValidationError as error:
            form.errors += [f"{field}: {'; '.join(messages)}" for field, messages in error.message_dict.items()]
        return form
