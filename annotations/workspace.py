"""What the workspace shows of a queue item: the object (a trace's tree, an observation, a
session's traces, or a run item's input / expected / output), read in a few queries, and links to
the media its texts refer to (images shown inline, audio and files as links: `{% media_inline %}`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from annotations.models import ObjectType, QueueItem
from evalsite.tenancy.models import Project
from traces.media.selectors import MediaLink, media_links
from traces.models import Observation
from traces.selectors import observation_get, observations_for_traces, session_get, trace_get

DISPLAY_LIMIT = 20_000


def pretty(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2, default=str)
    return text if len(text) <= DISPLAY_LIMIT else f"{text[:DISPLAY_LIMIT]}\n… ({len(text) - DISPLAY_LIMIT:,} more characters)"


@dataclass
class Block:
    """One titled part of the object: an observation in the tree, a trace of a session…"""

    title: str
    kind: str = ""
    depth: int = 0
    input: str = ""
    output: str = ""
    expected: str = ""


@dataclass
class ItemView:
    heading: str
    blocks: list[Block] = field(default_factory=list)
    missing: str = ""  # why nothing can be shown (the trace has not arrived…)
    input_value: Any = None  # what a dataset item made from a correction takes as its input
    output_text: str = ""  # the output to correct, as the correction field starts
    source_trace_id: str | None = None
    source_observation_id: str | None = None
    # media id → signed link, for every media of the project the blocks refer to (one query)
    media_links: dict[str, MediaLink] = field(default_factory=dict)


def _tree(observations: list[Observation]) -> list[tuple[Observation, int]]:
    """Depth-first, children by start time; observations whose parent is absent are roots."""
    ids = {o.observation_id for o in observations}
    children: dict[str | None, list[Observation]] = {}
    for observation in observations:
        parent = observation.parent_observation_id if observation.parent_observation_id in ids else None
        children.setdefault(parent, []).append(observation)
    ordered, seen = [], set()
    stack = [(o, 0) for o in reversed(children.get(None, []))]
    while stack:
        observation, depth = stack.pop()
        if observation.observation_id in seen:
            continue
        seen.add(observation.observation_id)
        ordered.append((observation, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(observation.observation_id, [])))
    return ordered + [(o, 0) for o in observations if o.observation_id not in seen]


def _trace_blocks(project: Project, trace) -> list[Block]:
    blocks = [Block(title=trace.name or trace.trace_id, kind="TRACE", input=pretty(trace.input), output=pretty(trace.output))]
    observations = observations_for_traces(project=project, trace_ids=[trace.trace_id]).get(trace.trace_id, [])
    for observation, depth in _tree(observations):
        blocks.append(
            Block(
                title=observation.name or observation.observation_id, kind=observation.type, depth=depth + 1,
                input=pretty(observation.input), output=pretty(observation.output),
            )
        )
    return blocks


def item_view(*, project: Project, item: QueueItem) -> ItemView:
    view = _object_view(project=project, item=item)
    view.media_links = media_links(
        project=project, values=[text for block in view.blocks for text in (block.input, block.output, block.expected)]
    )
    return view


def _object_view(*, project: Project, item: QueueItem) -> ItemView:
    if item.run_item is not None:
        run_item = item.run_item
        return ItemView(
            heading=f"Run item {run_item.item_key}",
            blocks=[
                Block(
                    title=run_item.item_key, kind="RUN ITEM", input=pretty(run_item.input),
                    expected=pretty(run_item.expected_output), output=pretty(run_item.output),
                )
            ],
            input_value=run_item.input, output_text=pretty(run_item.output), source_trace_id=run_item.trace_id,
        )
    if item.object_type == ObjectType.SESSION:
        found = session_get(project=project, session_id=item.object_id)
        if found is None:
            return ItemView(heading=f"Session {item.object_id}", missing="No trace of this session has arrived yet.")
        _, traces = found
        blocks = [Block(title=t.name or t.trace_id, kind="TRACE", input=pretty(t.input), output=pretty(t.output)) for t in traces]
        last = traces[-1]
        return ItemView(
            heading=f"Session {item.object_id}", blocks=blocks, input_value=last.input,
            output_text=pretty(last.output), source_trace_id=last.trace_id,
        )
    if item.object_type == ObjectType.OBSERVATION:
        observation = observation_get(project=project, observation_id=item.object_id)
        if observation is None:
            return ItemView(heading=f"Observation {item.object_id}", missing="This observation has not arrived yet.")
        return ItemView(
            heading=f"Observation {observation.name or observation.observation_id}",
            blocks=[
                Block(
                    title=observation.name or observation.observation_id, kind=observation.type,
                    input=pretty(observation.input), output=pretty(observation.output),
                )
            ],
            input_value=observation.input, output_text=pretty(observation.output),
            source_trace_id=observation.trace_id, source_observation_id=observation.observation_id,
        )
    trace = trace_get(project=project, trace_id=item.object_id)
    if trace is None:
        return ItemView(heading=f"Trace {item.object_id}", missing="This trace has not arrived yet.")
    return ItemView(
        heading=f"Trace {trace.name or trace.trace_id}", blocks=_trace_blocks(project, trace), input_value=trace.input,
        output_text=pretty(trace.output), source_trace_id=trace.trace_id,
    )
