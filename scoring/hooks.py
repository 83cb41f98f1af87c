"""What the apps above `scoring` add to it (evalsite/hooks.py explains extension points).

- `score_page_filters`: narrow the scores a person sees on a page (the trace page's scores
  panel). A filter is called as `filter(project=…, user=…, role=…, scores=[…])` and returns the
  scores to show, in one query at most. Registered by `annotations`: annotation is blind, so an
  annotator does not see other annotators' queue scores on an item before submitting their own.
"""

from collections.abc import Callable
from typing import Any

from evalsite.hooks import ExtensionPoint

score_page_filters: ExtensionPoint[Callable[..., list]] = ExtensionPoint("scoring.score_page_filters")
score_api_filters: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("scoring.score_api_filters")
after_scores_written: ExtensionPoint[Callable[..., None]] = ExtensionPoint("scoring.after_scores_written")
