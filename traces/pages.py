"""The trace page: /projects/<project_id>/traces/<trace_id>.

The trace's own card and its observation tree (timings, model, usage, cost, inputs and outputs),
then the panels that apps above register (`trace_page_panels`, traces/hooks.py): the scores of
the trace and of each observation with a form to add one by hand, from scoring. A panel's form
posts here with a hidden `panel` field; the panel handles it and the page answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from evalsite.pages import ProjectPageView
from evalsite.tenancy.roles import Role
from traces import hooks
from traces.media.selectors import media_links
from traces.models import Observation, Trace
from traces.selectors import observations_for_traces, trace_get

# Characters of one input/output/metadata value shown on the page; the API has the full value.
DISPLAY_LIMIT = 20_000


def pretty(value: Any, limit: int = DISPLAY_LIMIT) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2, default=str)
    if len(text) > limit:
        return f"{text[:limit]}\n… ({len(text) - limit:,} more characters)"
    return text


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def money(value: Decimal | None) -> str:
    if value is None:
        return "–"
    return f"${float(value):.6f}"


@dataclass
class Node:
    observation: Observation
    depth: int
    indent: float
    offset_percent: float
    width_percent: float
    duration: str
    # (template, items) per panel that shows something in this observation's row.
    annotations: list[tuple[str, Any]] = field(default_factory=list)
    input: str = ""
    output: str = ""
    metadata: str = ""
    model_parameters: str = ""
    cost: str = "–"


def observation_tree(observations: list[Observation], trace: Trace) -> list[tuple[Observation, int]]:
    """Depth-first order of the observations with their depth. Roots: no parent, a parent that
    is not in the trace, or the trace's root span (which may name a parent outside the SDK)."""
    by_id = {observation.observation_id: observation for observation in observations}
    children: dict[str | None, list[Observation]] = {}
    for observation in observations:
        parent = observation.parent_observation_id
        if parent not in by_id or observation.observation_id == trace.root_observation_id or parent == observation.observation_id:
            parent = None
        children.setdefault(parent, []).append(observation)
    ordered: list[tuple[Observation, int]] = []
    seen: set[str] = set()
    stack = [(observation, 0) for observation in reversed(sorted(children.get(None, []), key=_start_key))]
    while stack:
        observation, depth = stack.pop()
        if observation.observation_id in seen:
            continue
        seen.add(observation.observation_id)
        ordered.append((observation, depth))
        kids = sorted(children.get(observation.observation_id, []), key=_start_key)
        stack.extend((child, depth + 1) for child in reversed(kids))
    # Parent cycles leave observations unreachable from a root: show them at the top level.
    ordered += [(observation, 0) for observation in sorted(observations, key=_start_key) if observation.observation_id not in seen]
    return ordered


def _start_key(observation: Observation) -> tuple[datetime, str]:
    return observation.start_time, observation.observation_id


class TraceDetailPage(ProjectPageView):
    # Reading needs VIEWER; each panel's form declares its own role (TracePanel.post_role).
    required_roles = {"GET": Role.VIEWER, "HEAD": Role.VIEWER, "POST": Role.VIEWER}
    template_name = "traces/trace_detail.html"

    def get(self, request, project_id, trace_id):
        return self.render_page(request, trace_id)

    def post(self, request, project_id, trace_id):
        name = request.POST.get("panel", "")
        panel = next((panel for panel in hooks.trace_page_panels if panel.name == name), None)
        if panel is None or panel.post_role is None:
            return HttpResponseBadRequest("No form of this page has that name")
        if self.role < panel.post_role:
            raise PermissionDenied("Your role in this project does not allow this")
        view = self.trace_view(request, self.trace_or_404(trace_id))
        form = panel.post(view)
        if form.errors:
            return self.render_page(request, trace_id, view=view, posted=(panel, form), status=400)
        return HttpResponseRedirect(reverse("trace-detail", args=[self.project.pk, trace_id]) + f"#{panel.name}")

    def trace_or_404(self, trace_id: str) -> Trace:
        trace = trace_get(project=self.project, trace_id=trace_id)
        if trace is None:
            raise Http404("Trace not found")
        return trace

    def trace_view(self, request, trace: Trace) -> hooks.TraceView:
        observations = observations_for_traces(project=self.project, trace_ids=[trace.trace_id]).get(trace.trace_id, [])
        self.tree = observation_tree(observations, trace)
        return hooks.TraceView(
            request=request, project=self.project, role=self.role, trace=trace, observations=[o for o, _ in self.tree]
        )

    def render_page(self, request, trace_id, *, view=None, posted=None, status=200):
        """The page; `posted` = (panel, its posted form) shows that panel's form again with its errors."""
        view = view or self.trace_view(request, self.trace_or_404(trace_id))
        trace, observations = view.trace, view.observations
        panels = []
        annotations: dict[str, list[tuple[str, Any]]] = {}
        for panel in hooks.trace_page_panels:
            form = posted[1] if posted is not None and posted[0] is panel else None
            content = panel.content(view, form=form)
            panels.append({"name": panel.name, "title": panel.title, "template_name": panel.template_name, "context": content.context})
            if panel.observation_template_name:
                for observation_id, items in content.by_observation.items():
                    annotations.setdefault(observation_id, []).append((panel.observation_template_name, items))

        starts = [o.start_time for o in observations]
        ends = [o.end_time or o.start_time for o in observations]
        begin = min(starts) if starts else trace.timestamp
        span = max((max(ends) - begin).total_seconds(), 0.0) if ends else 0.0
        total_cost = sum((o.total_cost for o in observations if o.total_cost is not None), Decimal(0))
        nodes = []
        for observation, depth in self.tree:
            end = observation.end_time or observation.start_time
            seconds = max((end - observation.start_time).total_seconds(), 0.0)
            offset = (observation.start_time - begin).total_seconds()
            nodes.append(
                Node(
                    observation=observation,
                    depth=depth,
                    indent=depth * 1.2,
                    offset_percent=round(100 * offset / span, 2) if span else 0.0,
                    width_percent=max(round(100 * seconds / span, 2), 0.5) if span else 100.0,
                    duration=duration_text(seconds if observation.end_time else None),
                    annotations=annotations.get(observation.observation_id, []),
                    input=pretty(observation.input),
                    output=pretty(observation.output),
                    metadata=pretty(observation.metadata) if observation.metadata else "",
                    model_parameters=pretty(observation.model_parameters) if observation.model_parameters else "",
                    cost=money(observation.total_cost),
                )
            )
        context = self.page_context(
            trace=trace,
            nodes=nodes,
            panels=panels,
            trace_input=pretty(trace.input),
            trace_output=pretty(trace.output),
            trace_metadata=pretty(trace.metadata) if trace.metadata else "",
            duration=duration_text(span if observations else None),
            total_cost=money(total_cost if any(o.total_cost is not None for o in observations) else None),
            # Signed links of the media the page shows (traces/media), in one query.
            media_links=media_links(
                project=self.project,
                values=[trace.input, trace.output, trace.metadata]
                + [value for o in observations for value in (o.input, o.output, o.metadata)],
            ),
        )
        return render(request, self.template_name, context, status=status)
