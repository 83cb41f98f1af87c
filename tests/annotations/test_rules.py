"""Filling a queue from scores below a threshold, sampled (annotations/rules.py)."""

import pytest
from django.core.exceptions import ValidationError

from annotations.models import QueueItem
from annotations.rules import queue_fill_by_score
from tests.annotations.factories import QueueFactory
from tests.scoring.factories import ScoreFactory

pytestmark = pytest.mark.django_db


def test_traces_a_judge_scored_low_are_queued_once_and_sampling_is_stable(project):
    queue = QueueFactory(project=project)
    low = [ScoreFactory(project=project, name="judge", value=v / 100) for v in range(0, 50, 2)]  # 25 under 0.5
    ScoreFactory(project=project, name="judge", value=0.5)
    ScoreFactory(project=project, name="other", value=0.1)
    assert queue_fill_by_score(project=project, queue=queue, score_name="judge", operator="<", threshold=0.5) == (25, 0)
    assert set(QueueItem.objects.filter(queue=queue).values_list("object_id", flat=True)) == {s.trace_id for s in low}
    assert queue_fill_by_score(project=project, queue=queue, score_name="judge", operator="<", threshold=0.5) == (0, 25)

    sampled_queue = QueueFactory(project=project)
    first = queue_fill_by_score(project=project, queue=sampled_queue, score_name="judge", operator="<", threshold=0.5, sample_rate=0.4)
    assert 0 < first[0] < 25
    assert queue_fill_by_score(project=project, queue=sampled_queue, score_name="judge", operator="<", threshold=0.5, sample_rate=0.4) == (0, first[0])


def test_the_trace_filter_seam_narrows_the_traces_and_bad_arguments_are_refused(project):
    queue = QueueFactory(project=project)
    scores = [ScoreFactory(project=project, name="judge", value=0.9) for _ in range(3)]
    added = queue_fill_by_score(
        project=project, queue=queue, score_name="judge", operator=">=", threshold=0.9, trace_ids=[scores[1].trace_id]
    )
    assert added == (1, 0)
    with pytest.raises(ValidationError):
        queue_fill_by_score(project=project, queue=queue, score_name="judge", operator="~", threshold=1, sample_rate=0)
