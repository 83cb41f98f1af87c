"""The experiment comparison page: /projects/<id>/experiments/compare?runs=a,b[,…]&baseline=a.

The numbers come from experiments/comparison.py; this module only turns them into display strings
(pre-formatted here so the template stays a few cheap loops over 1,000s of rows).
"""

from __future__ import annotations

import json
import math
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from evalsite.pages import ProjectPageView
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.roles import Role
from experiments import comparison as cmp
from experiments import selectors
from experiments.gates import selectors as gate_selectors
from scoring.models import ScoreSource
from scoring.selectors import score_config_get, score_config_list
from scoring.services import scores_ingest
from scoring.validation import form_value
from traces.media.selectors import media_links

DISPLAY_LIMIT = 1500  # characters of an input/output shown in the item table
# Item table rows per page: the statistics cover every item, the table shows a page of them (a page of
# 1,000 rows with their inputs and outputs is megabytes of HTML no one reads at once).
ROWS_PER_PAGE = 100
PALETTE = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626"]
EFFECT_NAMES = {
    "rank-biserial": "rank-biserial r",
    "cohens-dz": "Cohen's d_z",
    "proportion-difference": "pass-rate diff",
}
METHOD_NAMES = {
    "wilcoxon": "Wilcoxon signed-rank",
    "bootstrap": "paired bootstrap",
    "mcnemar-exact": "McNemar (exact)",
    "mcnemar-chi2": "McNemar (χ²)",
}


def display(value: Any, limit: int = DISPLAY_LIMIT) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1, default=str)
    if len(text) > limit:
        return f"{text[:limit]}… ({len(text) - limit:,} more characters)"
    return text


def number(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}g}"


def signed(value: float | None) -> str:
    if value is None:
        return "–"
    return "0" if value == 0 else f"{value:+.3g}".replace("-", "−")


def money(value: Decimal | float | None) -> str:
    if value is None:
        return "–"
    value = float(value)
    return f"${value:.4f}" if value >= 0.01 else f"${value:.6f}"


def millis(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def score_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number(value)
    return str(value)


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


class ExperimentComparePage(ProjectPageView):
    template_name = "experiments/compare.html"
    # Reading needs VIEWER; scoring a run item's output in place (POST) needs ANNOTATOR.
    required_roles = {"GET": Role.VIEWER, "HEAD": Role.VIEWER, "POST": Role.ANNOTATOR}

    def post(self, request, project_id):
        """A hand score on one run item's trace, through scoring (source ANNOTATION); back to the
        same view of the comparison, or 400 with what was wrong."""
        trace_id = request.POST.get("trace_id", "")
        config = score_config_get(project=self.project, config_id=request.POST.get("config", ""))
        if not selectors.run_item_trace_exists(project=self.project, trace_id=trace_id):
            raise Http404("No run item of this project has that trace")
        if config is None or config.is_archived:
            return HttpResponseBadRequest("Choose a score config of this project")
        item = {
            "id": request.POST.get("score_id") or uuid.uuid4().hex, "name": config.name, "configId": config.id,
            "value": form_value(request.POST.get("value", "").strip(), config.data_type), "traceId": trace_id,
            "comment": request.POST.get("comment") or None,
        }
        result = scores_ingest(
            project=self.project, items=[item], actor=Actor.from_request(request), source_override=ScoreSource.ANNOTATION
        )
        if result.errors:
            return HttpResponseBadRequest("; ".join(str(error) for _, error in result.errors))
        back = request.POST.get("next", "")
        if not back.startswith(reverse("experiment-compare", kwargs={"project_id": self.project.pk})):
            back = reverse("experiment-compare", kwargs={"project_id": self.project.pk})
        return HttpResponseRedirect(back)

    def get(self, request, project_id):
        params = request.GET
        # The picker lists runs newest first; reversed, the oldest picked run comes first as the baseline.
        raw_runs = [*params.getlist("runs"), *reversed(params.getlist("pick")), *params.getlist("add")]
        if not any(part.strip() for value in raw_runs for part in value.split(",")):
            runs = selectors.experiment_run_list(project=self.project).order_by("-created_at", "-pk")[:100]
            return render(request, self.template_name, self.page_context(picker=True, picker_runs=list(runs)))
        try:
            run_ids = cmp.parse_run_ids(raw_runs)
            baseline_id = params.get("baseline") or run_ids[0]
            method = params.get("method") or "wilcoxon"
            comparison = cmp.comparison_build(
                project=self.project, run_ids=run_ids, baseline_id=baseline_id, method=method
            )
        except cmp.ComparisonError as error:
            return render(
                request, self.template_name, self.page_context(error=f"{error.field}: {error.message}"), status=400
            )
        except cmp.RunNotFound as error:
            raise Http404(str(error)) from None

        status = params.get("filter") if params.get("filter") in ("regressed", "improved") else ""
        score = params.get("score") if params.get("score") in comparison.testable_scores else ""
        rows = comparison.filtered_rows(status or None, score or None)
        state = {"runs": ",".join(run_ids), "baseline": baseline_id, "method": method, "filter": status, "score": score}
        pages = max(1, math.ceil(len(rows) / ROWS_PER_PAGE))
        page = min(_page_number(params.get("page")), pages)
        first = (page - 1) * ROWS_PER_PAGE
        page_rows = rows[first : first + ROWS_PER_PAGE]
        # One reverse() for every trace link of the table: the ids are appended, percent-encoded.
        trace_url_prefix = reverse("trace-detail", kwargs={"project_id": self.project.pk, "trace_id": "-"})[:-1]
        siblings = selectors.experiment_run_siblings(
            project=self.project, dataset_ids={run.dataset_id for run in comparison.runs if run.dataset_id}
        )
        table = [self._row(comparison, row, trace_url_prefix) for row in page_rows]
        shown_values = [v for row in table for v in (row["input"], row["expected"], *(c["output"] for c in row["cells"] if c))]
        return render(
            request,
            self.template_name,
            self.page_context(
                comparison=comparison,
                state=state,
                run_columns=self._run_columns(comparison, state),
                summaries=[self._summary(comparison, summary, index) for index, summary in enumerate(comparison.summaries)],
                tests=[self._test(test) for test in comparison.tests],
                preferences=[self._preference(summary) for summary in comparison.preferences],
                preference_agreement=comparison.preference_agreement,
                chart=self._chart(comparison),
                rows=table,
                media_links=media_links(project=self.project, values=shown_values),  # one query for the page
                shown=len(rows),
                total=len(comparison.rows),
                page={
                    "number": page,
                    "count": pages,
                    "first": first + 1,
                    "last": first + len(page_rows),
                    "previous": self._url(**state, page=page - 1) if page > 1 else "",
                    "next": self._url(**state, page=page + 1) if page < pages else "",
                },
                gate_results=self._gate_results(comparison),
                testable_scores=comparison.testable_scores,
                addable_runs=[run for run in siblings if run.run_id not in run_ids][:50],
                can_add=len(run_ids) < cmp.MAX_RUNS,
                methods=[(key, METHOD_NAMES[key]) for key in cmp.METHODS],
                method_label=METHOD_NAMES[method],
                score_configs=list(score_config_list(project=self.project)) if self.role >= Role.ANNOTATOR else [],
                here=request.get_full_path(),
            ),
        )

    def _gate_results(self, comparison: cmp.Comparison) -> list[dict]:
        """The latest result of each gate on each run of the comparison (one query)."""
        results = []
        for result in gate_selectors.gate_result_list_for_runs(project=self.project, runs=comparison.runs):
            run = next(run for run in comparison.runs if run.pk == result.run_id)
            rules = []
            for rule in result.rules:
                interval = ""
                if rule.get("ciLow") is not None and rule.get("ciHigh") is not None:
                    interval = f"[{number(rule['ciLow'])}, {number(rule['ciHigh'])}]"
                rules.append(
                    {
                        "type": rule["type"],
                        "score": rule.get("score") or "",
                        "criterion": rule.get("criterion", ""),
                        "outcome": rule["outcome"],
                        "value": number(rule.get("value"), 4),
                        "bound": number(rule.get("bound"), 4),
                        "p_value": cmp.format_p(rule["pValue"]) if rule.get("pValue") is not None else "",
                        "ci": interval,
                        "n": rule.get("n"),
                        "required_n": rule.get("requiredN"),
                        "reason": rule.get("reason") or "",
                    }
                )
            results.append(
                {
                    "run": run,
                    "gate": result.policy_name,
                    "version": result.policy_version,
                    "outcome": result.outcome,
                    "baseline": result.baseline,
                    "baseline_note": result.baseline_note,
                    "created_at": result.created_at,
                    "rules": rules,
                }
            )
        return results

    def _url(self, **state) -> str:
        query = {key: value for key, value in state.items() if value and not (key == "page" and value == 1)}
        return reverse("experiment-compare", kwargs={"project_id": self.project.pk}) + "?" + urlencode(query)

    def _run_columns(self, comparison: cmp.Comparison, state: dict) -> list[dict]:
        columns = []
        for index, run in enumerate(comparison.runs):
            others = [other.run_id for other in comparison.runs if other.pk != run.pk]
            baseline = state["baseline"] if state["baseline"] in others else (others[0] if others else "")
            columns.append(
                {
                    "run": run,
                    "color": PALETTE[index % len(PALETTE)],
                    "is_baseline": comparison.baseline is not None and run.pk == comparison.baseline.pk,
                    "remove_url": self._url(**{**state, "runs": ",".join(others), "baseline": baseline}) if others else "",
                    "baseline_url": self._url(**{**state, "baseline": run.run_id}),
                }
            )
        return columns

    def _summary(self, comparison: cmp.Comparison, summary: cmp.RunSummary, index: int) -> dict:
        run = summary.run
        progress = None
        if run.source == "PLATFORM" and run.progress_total:
            # progress_done counts every finished item, failed ones included.
            finished = run.progress_done
            progress = {
                "done": run.progress_done,
                "failed": run.progress_failed,
                "total": run.progress_total,
                "percent": min(100, round(100 * finished / run.progress_total)),
            }
        scores = []
        for name, kind in comparison.score_kinds.items():
            if kind == "categorical":
                counts = summary.categories.get(name) or []
                scores.append({"name": name, "kind": kind, "counts": ", ".join(f"{v}: {c}" for v, c in counts[:6])})
                continue
            ci = summary.scores[name]
            scores.append(
                {
                    "name": name,
                    "kind": kind,
                    "mean": number(ci.mean),
                    "ci": f"[{number(ci.ci_low)}, {number(ci.ci_high)}]" if ci.ci_low is not None else "",
                    "n": ci.n,
                }
            )
        return {
            "run": run,
            "color": PALETTE[index % len(PALETTE)],
            "is_baseline": comparison.baseline is not None and run.pk == comparison.baseline.pk,
            "progress": progress,
            "items": summary.item_count,
            "trials": summary.trial_count if summary.max_trials > 1 else None,
            "variation": [
                {
                    "name": name,
                    "varying": figures["varying"],
                    "items": figures["items"],
                    "share": f"{figures['shareVarying']:.0%}",
                    "variance": number(figures["meanVariance"]) if figures["meanVariance"] is not None else "",
                }
                for name, figures in summary.variation.items()
            ],
            "errors": summary.error_count,
            "cost_total": money(summary.cost_total),
            "cost_mean": money(summary.cost_mean),
            "latency": {key: millis(value) for key, value in summary.latency.items()},
            "scores": scores,
            "run_scores": [
                {"name": score["name"], "value": score_text(score["value"]), "comment": score["comment"]}
                for score in summary.run_scores
            ],
        }

    def _test(self, test: cmp.ScoreTest) -> dict:
        result = test.result
        data = {"score": test.score, "kind": test.kind, "candidate": test.candidate, "verdict": test.verdict, "tone": test.tone}
        if result is None:
            return data
        data.update(
            {
                "method": METHOD_NAMES.get(result.method, result.method),
                "n_pairs": result.n_pairs,
                "mean_difference": signed(result.mean_difference),
                "ci": f"[{signed(result.ci_low)}, {signed(result.ci_high)}]" if result.ci_low is not None else "",
                "p_value": cmp.format_p(result.p_value),
                "effect": f"{signed(result.effect_size)} ({EFFECT_NAMES.get(result.effect_size_name, result.effect_size_name)})",
                "counts": f"{result.improved} ↑ · {result.regressed} ↓ · {result.unchanged} =",
                "warning": result.warning,
            }
        )
        return data

    def _preference(self, summary) -> dict:
        """A preference score's tallies as display strings (experiments/preferences.py)."""
        pairs = []
        for pair in summary.pairs:
            test = pair.test
            if test.p_value is None or test.too_few:
                verdict, tone = test.warning or "cannot tell", "unsure"
            elif test.p_value >= cmp.ALPHA:
                verdict, tone = f"no significant preference ({cmp.format_p(test.p_value)})", "neutral"
            elif test.wins > test.losses:
                verdict, tone = f"“{pair.second.name}” preferred ({cmp.format_p(test.p_value)})", "good"
            else:
                verdict, tone = f"“{pair.first.name}” preferred ({cmp.format_p(test.p_value)})", "bad"
            pairs.append({
                "first": pair.first, "second": pair.second, "wins": test.wins, "ties": test.ties,
                "losses": test.losses, "win_rate": number(test.win_rate, 2),
                "ci": f"[{number(test.ci_low, 2)}, {number(test.ci_high, 2)}]" if test.ci_low is not None else "",
                "p_value": cmp.format_p(test.p_value), "disagreements": pair.disagreements,
                "verdict": verdict, "tone": tone,
            })
        names = {pair.first.run_id: pair.first.name for pair in summary.pairs}
        names.update({pair.second.run_id: pair.second.name for pair in summary.pairs})
        ranked = sorted((summary.strengths or {}).items(), key=lambda entry: entry[1], reverse=True)
        strengths = [(names[run_id], number(value, 3)) for run_id, value in ranked]
        return {"score": summary.score, "rater": summary.rater, "pairs": pairs, "strengths": strengths,
                "strengths_warning": summary.strengths_warning if len(names) > 2 else None}

    def _chart(self, comparison: cmp.Comparison) -> list[dict]:
        """One small bar chart per numeric/boolean score: each run's mean with its 95% interval."""
        charts = []
        for name in comparison.testable_scores:
            means, plus, minus = [], [], []
            for summary in comparison.summaries:
                ci = summary.scores[name]
                means.append(ci.mean)
                plus.append(None if ci.ci_high is None else ci.ci_high - ci.mean)
                minus.append(None if ci.ci_low is None else ci.mean - ci.ci_low)
            charts.append(
                {
                    "score": name,
                    "kind": comparison.score_kinds[name],
                    "runs": [run.name for run in comparison.runs],
                    "colors": [PALETTE[i % len(PALETTE)] for i in range(len(comparison.runs))],
                    "means": means,
                    "plus": plus,
                    "minus": minus,
                }
            )
        return charts

    def _row(self, comparison: cmp.Comparison, row: cmp.Row, trace_url_prefix: str) -> dict:
        names = list(comparison.score_kinds)
        cells = []
        for run, cell in zip(comparison.runs, row.cells, strict=True):
            if cell is None:
                cells.append(None)
                continue
            deltas = row.deltas.get(run.run_id, {})
            scores = []
            for name in names:
                value = cell.scores.get(name)
                if value is None:
                    continue
                delta = deltas.get(name)
                tone = "" if delta is None else "good" if delta > 0 else "bad" if delta < 0 else "muted"
                scores.append((name, score_text(value), signed(delta) if delta is not None else "", tone))
            cells.append(
                {
                    "output": display(cell.output),
                    "error": cell.error,
                    "latency": millis(cell.latency_ms),
                    "cost": money(cell.cost),
                    "trace_id": cell.trace_id,
                    "trace_url": trace_url_prefix + quote(cell.trace_id, safe="") if cell.trace_id else "",
                    "scores": scores,
                    "trials": [
                        {
                            "trial": trial.trial,
                            "trace_url": trace_url_prefix + quote(trial.trace_id, safe="") if trial.trace_id else "",
                            "scores": ", ".join(f"{k}={score_text(v)}" for k, v in sorted(trial.scores.items())),
                            "error": trial.error,
                        }
                        for trial in cell.trials
                    ]
                    if cell.repeated
                    else [],
                    "spread": ", ".join(f"{name} ±{number(sd)}" for name, sd in sorted(cell.spread.items())),
                    "varies": sorted(cell.varies),
                }
            )
        return {
            "key": row.key,
            "linked": row.linked,
            "input": display(row.input),
            "expected": display(row.expected_output),
            "cells": cells,
            "flips": sorted(row.flips),
            "status": ("mixed" if row.improved else "regressed") if row.regressed else ("improved" if row.improved else ""),
        }
