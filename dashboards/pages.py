"""A project's home, /projects/<id>/, and the SDK's links into the project's pages.

The home is where a member lands: links to every page their role allows (the navigation's pages and,
for staff, the admin's lists), and the project's recent traces, datasets and experiment runs with
their counts. It reads through the apps' selectors and stays flat in queries however much data the
project holds: ten rows of each, and counts that stop at COUNT_CAP (a trace table of millions is
never counted whole).

The SDK prints links to Langfuse's own UI routes, `{base}/project/{projectId}/traces/{traceId}` and
`{base}/project/{projectId}/experiments/results?baseline={experimentId}`; they redirect to our trace
page and to the comparison with that run picked. Both are project pages: sign-in and the role first,
and another project's id is the same 404 as a missing one.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from dashboards.builtin import project_dashboard
from datasets.selectors import dataset_list
from evalsite import navigation
from evalsite.pages import ProjectPageView
from experiments.selectors import experiment_run_list
from traces.selectors import trace_list

RECENT = 10
COUNT_CAP = 10_000


def capped_count(queryset) -> str:
    """The number of rows, or "10,000+" past COUNT_CAP: the database stops counting there."""
    count = queryset.order_by()[: COUNT_CAP + 1].count()
    return f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"


PRESETS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
DEFAULT_PRESET = "7d"


def date_range(params) -> dict:
    """The range a dashboard page shows: a preset (`range=7d`, the default) ending now, or whole days
    `from`–`to` (YYYY-MM-DD, UTC, both included). A value that does not parse falls back to the
    default rather than failing the page."""
    now = timezone.now().replace(microsecond=0)
    try:
        start = datetime.strptime(params.get("from", ""), "%Y-%m-%d").replace(tzinfo=UTC)
        end = datetime.strptime(params.get("to", ""), "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(
            days=1, microseconds=-1
        )
        if end > start:
            return {"from": start, "to": end, "preset": "", "from_day": start.date(), "to_day": end.date()}
    except ValueError:
        pass
    preset = params.get("range") if params.get("range") in PRESETS else DEFAULT_PRESET
    start = now - PRESETS[preset]
    return {"from": start, "to": now, "preset": preset, "from_day": start.date(), "to_day": now.date()}


class ProjectHomePage(ProjectPageView):
    template_name = "dashboards/project_home.html"

    def get(self, request, project_id):
        traces = trace_list(project=self.project)
        datasets = dataset_list(project=self.project)
        runs = experiment_run_list(project=self.project)
        compare_url = reverse("experiment-compare", kwargs={"project_id": self.project.pk})
        trace_url_prefix = reverse("trace-detail", kwargs={"project_id": self.project.pk, "trace_id": "-"})[
            :-1
        ]
        recent_runs = list(runs.order_by("-created_at", "-pk")[:RECENT])
        window = date_range(request.GET)
        environments = [env for env in request.GET.getlist("env") if env and "\x00" not in env]
        dashboard = project_dashboard(
            project=self.project,
            from_timestamp=window["from"],
            to_timestamp=window["to"],
            environments=environments,
        )
        context = self.page_context(
            dashboard=dashboard,
            charts=dashboard["charts"],
            window=window,
            presets=list(PRESETS),
            selected_environments=environments,
            recent_traces=list(
                traces.only(
                    "project_id", "trace_id", "name", "timestamp", "user_id", "session_id", "environment"
                )[:RECENT]
            ),
            trace_count=capped_count(traces),
            trace_url_prefix=trace_url_prefix,
            recent_datasets=list(datasets.order_by("-updated_at", "name")[:RECENT]),
            dataset_count=capped_count(datasets),
            recent_runs=[
                {"run": run, "compare_url": compare_url + "?" + urlencode({"runs": run.run_id})}
                for run in recent_runs
            ],
            run_count=capped_count(runs),
            compare_url=compare_url,
            page_links=[
                link
                for link in navigation.page_links(project=self.project, role=self.role)
                if link.url != request.path
            ],
            admin_links=navigation.admin_links(user=request.user, project=self.project, role=self.role),
        )
        return render(request, self.template_name, context)


class SdkTraceLink(ProjectPageView):
    """`/project/<id>/traces/<trace_id>`, as the SDK's `get_trace_url()` prints it."""

    def get(self, request, project_id, trace_id):
        return redirect(reverse("trace-detail", kwargs={"project_id": self.project.pk, "trace_id": trace_id}))


class SdkExperimentResultsLink(ProjectPageView):
    """`/project/<id>/experiments/results?baseline=<experiment id>`, as `run_experiment` prints it:
    the comparison with that run picked (and as its own baseline); without one, the run picker."""

    def get(self, request, project_id):
        url = reverse("experiment-compare", kwargs={"project_id": self.project.pk})
        baseline = request.GET.get("baseline", "").strip()
        if baseline:
            url += "?" + urlencode({"runs": baseline, "baseline": baseline})
        return redirect(url)
