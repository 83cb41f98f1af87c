"""What the apps above `traces` add to it (evalsite/hooks.py explains extension points).

`traces` is a leaf: it knows no app above it, yet a trace is where their data meets (scores,
dataset items, later evaluations, comments, queues). Each such app registers here, from its own
`AppConfig.ready()`:

- `trace_scores`: where the trace read API gets the scores it carries on the wire (`scores` in
  `GET /traces/{id}`, score ids in `GET /traces`). Registered by `scoring`.
- `trace_page_panels`: the sections of the trace page below the trace's own card, each with its
  own template, per-observation fragment and, optionally, a form (`TracePanel`). Registered by
  `scoring` (the scores and the manual-score form); evaluations, comments, "add to queue" and
  media come later the same way.
- `trace_delete_hooks`: called inside the transaction that deletes traces, before their rows go,
  so rows hanging off a trace id go with it. Registered by `scoring` (the traces' scores).
- `trace_admin_actions`, `observation_admin_actions`: actions of the Trace and Observation admins.
  Registered by `datasets` ("add to a dataset").
- `prompt_ids`: the id of the prompt version a generation names (`promptId` on the wire; traces
  stores only the name and version, and `prompts` sits beside it, not below). Registered by
  `ingestion`, which links generations to prompts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from django.http import HttpRequest

from evalsite.hooks import ExtensionPoint
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role
from traces.models import Observation, Trace

# --- the trace read API ---------------------------------------------------------------------


class TraceScoreSource(Protocol):
    """Scores as the trace API shows them. Both methods cost one query, whatever the page size."""

    def score_ids(self, *, project: Project, trace_ids: list[str], role: Role) -> dict[str, list[str]]:
        """trace id → ids of the scores on the trace or its observations, newest first, as an API
        key of `role` may read them."""

    def scores(self, *, project: Project, trace: Trace, role: Role) -> list[dict[str, Any]]:
        """The scores on `trace` or its observations in their wire shape, newest first, as an API
        key of `role` may read them."""


trace_scores: ExtensionPoint[TraceScoreSource] = ExtensionPoint("traces.trace_scores")


class PromptIdSource(Protocol):
    def prompt_ids(self, *, project: Project, versions: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """(prompt name, version) → the id of that prompt version, for those that exist. One query."""


prompt_ids: ExtensionPoint[PromptIdSource] = ExtensionPoint("traces.prompt_ids")


# --- the trace page -------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceView:
    """The trace as the page read it, handed to every panel (no panel reads it again)."""

    request: HttpRequest
    project: Project
    role: Role
    trace: Trace
    observations: list[Observation]  # in the page's tree order


@dataclass
class PanelContent:
    """What a panel shows: `context` for its template, and per observation id what its
    `observation_template_name` shows in that observation's row."""

    context: dict[str, Any] = field(default_factory=dict)
    by_observation: dict[str, Any] = field(default_factory=dict)


@dataclass
class PanelForm:
    """A panel's form as posted: the values to show again and what was wrong (empty: stored)."""

    values: dict[str, str]
    errors: list[str] = field(default_factory=list)


class TracePanel:
    """One section of the trace page. An app subclasses it and registers an instance.

    The page renders `template_name` with the page's context (trace, nodes, project, role) plus
    `panel` (the `PanelContent.context`), under a heading `title` anchored at `#<name>`. A panel
    with a form sets `post_role`; its form posts to the trace page with a hidden `panel` field
    naming it, and the page hands the request to `post()`: no errors → a redirect to `#<name>`;
    errors → the page again, with the panel given the posted values and errors, status 400.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    template_name: ClassVar[str]
    # Rendered in each observation's row with `items` = `by_observation[observation_id]`.
    observation_template_name: ClassVar[str | None] = None
    # The role the panel's form needs; None: the panel has no form.
    post_role: ClassVar[Role | None] = None

    def content(self, view: TraceView, *, form: PanelForm | None = None) -> PanelContent:
        raise NotImplementedError

    # A panel is its class: registering a new instance again (a ready() run twice) adds nothing.
    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def post(self, view: TraceView) -> PanelForm:
        raise NotImplementedError


trace_page_panels: ExtensionPoint[TracePanel] = ExtensionPoint("traces.trace_page_panels")


# --- deletion and the admin -----------------------------------------------------------------

# hook(project=…, trace_ids=[…]); runs in the deleting transaction.
trace_delete_hooks: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("traces.trace_delete_hooks")

# Django admin action functions (`@admin.action`), appended to the admin's own actions.
trace_admin_actions: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("traces.trace_admin_actions")
observation_admin_actions: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("traces.observation_admin_actions")
