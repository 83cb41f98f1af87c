"""What the apps above `datasets` add to it (evalsite/hooks.py explains extension points).

Datasets are what experiments run over, yet `datasets` knows no app above it. Each app that adds
to a dataset registers here, from its own `AppConfig.ready()`:

- `dataset_run_names`: where the legacy dataset reads (`GET /v2/datasets`, `GET /datasets`) get
  the names of each dataset's runs (`runs` on the wire). A provider is called as
  `provider(project=…, dataset_ids=[…])` and returns `{dataset id: run names, oldest first}` in one
  query. Registered by `experiments`.
- `dataset_admin_actions`: actions of the Dataset admin (`@admin.action` functions), appended to
  its own. Registered by `experiments` ("Start an experiment run").
- `dataset_admin_overview_sections`: parts of the dataset change page's overview, below the links
  to the items, the import and the export. A section is called as `section(dataset)` and returns
  safe HTML. Registered by `experiments` (the dataset's latest runs and a link comparing them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.safestring import SafeString

from datasets.models import Dataset
from evalsite.hooks import ExtensionPoint

RunNamesProvider = Callable[..., dict[str, list[str]]]

dataset_run_names: ExtensionPoint[RunNamesProvider] = ExtensionPoint("datasets.dataset_run_names")

dataset_admin_actions: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("datasets.dataset_admin_actions")

dataset_admin_overview_sections: ExtensionPoint[Callable[[Dataset], SafeString]] = ExtensionPoint(
    "datasets.dataset_admin_overview_sections"
)

