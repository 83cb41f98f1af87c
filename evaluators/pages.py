"""The "Evaluations" panel of the trace page: each enabled rule's decision on the trace and its
observations ("why didn't it fire?"), registered in traces.hooks.trace_page_panels."""

from __future__ import annotations

from evaluators.explain import trace_rule_decisions
from traces.hooks import PanelContent, PanelForm, TracePanel, TraceView


class EvaluationsPanel(TracePanel):
    name = "evaluations"
    title = "Evaluations"
    template_name = "evaluators/trace_evaluations_panel.html"

    def content(self, view: TraceView, *, form: PanelForm | None = None) -> PanelContent:
        decisions = trace_rule_decisions(project=view.project, trace_id=view.trace.trace_id)
        return PanelContent(context={"decisions": decisions})
