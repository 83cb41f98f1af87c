"""The trace page: /projects/<project_id>/traces/<trace_id>.

The observation tree with timings, model, usage, cost, inputs and outputs, the scores of the
trace and of each observation, and a form where a MEMBER adds a score by hand. Hand scores go
through scoring's ingestion with source ANNOTATION, so their score config validates them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from evalsite.pages import ProjectPageView
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.roles import Role
from scoring.models import Score, ScoreConfig, ScoreDataType, ScoreSource
from scoring.selectors import score_config_list, score_list_for_traces
from scoring.services import scores_ingest
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
    scores: list[Score] = field(default_factory=list)
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
    required_roles = {"GET": Role.VIEWER, "HEAD": Role.VIEWER, "POST": Role.MEMBER}
    template_name = "traces/trace_detail.html"

    def get(self, request, project_id, trace_id):
        return self.render_page(request, trace_id)

    def post(self, request, project_id, trace_id):
        trace = self.trace_or_404(trace_id)
        configs = {config.id: config for config in score_config_list(project=self.project)}
        form = {key: request.POST.get(key, "").strip() for key in ("config", "value", "comment", "target", "score_id")}
        errors = []
        config = configs.get(form["config"])
        if config is None:
            errors.append("Choose a score config.")
        observation_id = None
        if form["target"] and form["target"] != "trace":
            observation_id = form["target"]
            ids = {o.observation_id for o in observations_for_traces(project=self.project, trace_ids=[trace_id]).get(trace_id, [])}
            if observation_id not in ids:
                errors.append("The target is not an observation of this trace.")
        if not errors:
            item = {
                "id": form["score_id"] or uuid.uuid4().hex,
                "name": config.name,
                "configId": config.id,
                "value": form_value(form["value"], config),
                "traceId": trace.trace_id,
                "observationId": observation_id,
                "comment": form["comment"] or None,
                "environment": trace.environment,
            }
            result = scores_ingest(
                project=self.project, items=[item], actor=Actor.from_request(request), source_override=ScoreSource.ANNOTATION
            )
            errors += [f"{error.field}: {error.detail}" for _, error in result.errors]
        if errors:
            return self.render_page(request, trace_id, form=form, errors=errors, status=400)
        return HttpResponseRedirect(reverse("trace-detail", args=[self.project.pk, trace_id]) + "#scores")

    def trace_or_404(self, trace_id: str) -> Trace:
        trace = trace_get(project=self.project, trace_id=trace_id)
        if trace is None:
            raise Http404("Trace not found")
        return trace

    def render_page(self, request, trace_id, *, form=None, errors=(), status=200):
        trace = self.trace_or_404(trace_id)
        observations = observations_for_traces(project=self.project, trace_ids=[trace_id]).get(trace_id, [])
        scores = score_list_for_traces(project=self.project, trace_ids=[trace_id])
        trace_scores = [score for score in scores if not score.observation_id]
        scores_by_observation: dict[str, list[Score]] = {}
        for score in scores:
            if score.observation_id:
                scores_by_observation.setdefault(score.observation_id, []).append(score)

        starts = [o.start_time for o in observations]
        ends = [o.end_time or o.start_time for o in observations]
        begin = min(starts) if starts else trace.timestamp
        span = max((max(ends) - begin).total_seconds(), 0.0) if ends else 0.0
        total_cost = sum((o.total_cost for o in observations if o.total_cost is not None), Decimal(0))
        nodes = []
        for observation, depth in observation_tree(observations, trace):
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
                    scores=scores_by_observation.get(observation.observation_id, []),
                    input=pretty(observation.input),
                    output=pretty(observation.output),
                    metadata=pretty(observation.metadata) if observation.metadata else "",
                    model_parameters=pretty(observation.model_parameters) if observation.model_parameters else "",
                    cost=money(observation.total_cost),
                )
            )
        configs = [
            {"id": config.id, "name": config.name, "data_type": config.data_type, "hint": config_hint(config)}
            for config in score_config_list(project=self.project)
        ]
        context = self.page_context(
            trace=trace,
            nodes=nodes,
            trace_scores=trace_scores,
            trace_input=pretty(trace.input),
            trace_output=pretty(trace.output),
            trace_metadata=pretty(trace.metadata) if trace.metadata else "",
            duration=duration_text(span if observations else None),
            total_cost=money(total_cost if any(o.total_cost is not None for o in observations) else None),
            configs=configs,
            can_score=self.role >= Role.MEMBER,
            form=form or {"score_id": uuid.uuid4().hex, "target": "trace"},
            errors=list(errors),
        )
        return render(request, self.template_name, context, status=status)


def form_value(raw: str, config: ScoreConfig) -> Any:
    """The typed value a form string stands for, given the config's data type; anything that does
    not convert is passed on as typed, so the config's validation names the problem."""
    if config.data_type == ScoreDataType.NUMERIC:
        try:
            return float(raw)
        except ValueError:
            return raw
    if config.data_type == ScoreDataType.BOOLEAN:
        return {"true": 1.0, "1": 1.0, "false": 0.0, "0": 0.0}.get(raw.lower(), raw)
    return raw


def config_hint(config: ScoreConfig) -> str:
    if config.data_type == ScoreDataType.NUMERIC:
        low = "−∞" if config.min_value is None else f"{config.min_value:g}"
        high = "∞" if config.max_value is None else f"{config.max_value:g}"
        return f"number in [{low}, {high}]"
    if config.data_type == ScoreDataType.BOOLEAN:
        return "true or false"
    if config.data_type == ScoreDataType.CATEGORICAL:
        return "one of: " + ", ".join(str(category.get("label")) for category in config.categories or [])
    return "text"
