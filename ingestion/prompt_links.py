"""How a generation is linked to the prompt version it names (`traces.hooks.prompt_ids`).

Ingestion stores what the span says, `langfuse.observation.prompt.name` and `.prompt.version`;
the id is looked up when the trace API shows the generation, so a prompt version created after
its generations still links them, and a deleted one no longer does.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalsite.tenancy.models import Project
from prompts.selectors import prompt_ids_by_version


@dataclass(frozen=True)  # equal instances: registering again (a ready() run twice) adds nothing
class PromptLinks:
    def prompt_ids(self, *, project: Project, versions: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
        return prompt_ids_by_version(project=project, versions=versions)
