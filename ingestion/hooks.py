"""What happens after an ingestion request commits (evalsite/hooks.py explains extension points).

`after_ingest` is the one place new traces and observations are handed on: online evaluation
(`evaluators.online`) is registered here from ingestion's `AppConfig.ready()`. Each registered callable is
called as `hook(project=…, result=IngestResult)` through `transaction.on_commit`, so it sees
only committed rows and never runs for a request that failed. It must not do slow work itself:
it enqueues a job (DESIGN.md §6). The ingestion app registers `evaluators.online.ingested_hand_over`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalsite.hooks import ExtensionPoint

after_ingest: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("ingestion.after_ingest")
