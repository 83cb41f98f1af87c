"""Scoring's part of the trace page: the scores panel (registered by scoring's AppConfig).

The panel shows the scores of the trace, and of each observation in its row, and gives an
ANNOTATOR (and every role above) a form to add a score by hand: annotating is what that role is for. Hand scores go through scoring's ingestion with source ANNOTATION, so
their score config validates them; a form sent twice (a double click) upserts the same score id.
"""

from __future__ import annotations

import uuid
from typing import Any

from evalsite.tenancy.actors import Actor
from evalsite.tenancy.roles import Role
from scoring import hooks, validation
from scoring.models import Score, ScoreConfig, ScoreDataType, ScoreSource
from scoring.selectors import score_config_list, score_list_for_traces
from scoring.services import scores_ingest
from traces.hooks import PanelContent, PanelForm, TracePanel, TraceView

FORM_FIELDS = ("config", "value", "comment", "target", "score_id")


class ScoresPanel(TracePanel):
    name = "scores"
    title = "Scores"
    template_name = "scoring/trace_scores_panel.html"
    observation_template_name = "scoring/observation_scores.html"
    post_role = Role.ANNOTATOR

    def content(self, view: TraceView, *, form: PanelForm | None = None) -> PanelContent:
        scores = score_list_for_traces(project=view.project, trace_ids=[view.trace.trace_id])
        for page_filter in hooks.score_page_filters:
            scores = page_filter(project=view.project, user=view.request.user, role=view.role, scores=scores)
        by_observation: dict[str, list[Score]] = {}
        for score in scores:
            if score.observation_id:
                by_observation.setdefault(score.observation_id, []).append(score)
        configs = [
            {"id": config.id, "name": config.name, "data_type": config.data_type, "hint": config_hint(config)}
            for config in score_config_list(project=view.project)
        ]
        context = {
            "trace_scores": [score for score in scores if not score.observation_id],
            "configs": configs,
            "can_score": view.role >= self.post_role,
            "form": form.values if form else {"score_id": uuid.uuid4().hex, "target": "trace"},
            "errors": form.errors if form else [],
        }
        return PanelContent(context=context, by_observation=by_observation)

    def post(self, view: TraceView) -> PanelForm:
        request, trace = view.request, view.trace
        form = PanelForm(values={key: request.POST.get(key, "").strip() for key in FORM_FIELDS})
        values, errors = form.values, form.errors
        config = next((c for c in score_config_list(project=view.project) if c.id == values["config"]), None)
        if config is None:
            errors.append("Choose a score config.")
        observation_id = None
        if values["target"] and values["target"] != "trace":
            observation_id = values["target"]
            if observation_id not in {o.observation_id for o in view.observations}:
                errors.append("The target is not an observation of this trace.")
        if not errors:
            item = {
                "id": values["score_id"] or uuid.uuid4().hex,
                "name": config.name,
                "configId": config.id,
                "value": form_value(values["value"], config),
                "traceId": trace.trace_id,
                "observationId": observation_id,
                "comment": values["comment"] or None,
                "environment": trace.environment,
            }
            result = scores_ingest(
                project=view.project, items=[item], actor=Actor.from_request(request), source_override=ScoreSource.ANNOTATION
            )
            errors += [str(error) for _, error in result.errors]  # "field: message"
        return form


def form_value(raw: str, config: ScoreConfig) -> Any:
    return validation.form_value(raw, config.data_type)


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
