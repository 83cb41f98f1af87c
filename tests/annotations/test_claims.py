"""Claiming, locking, submitting and skipping (annotations/CLAIMS.md)."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from annotations.claims import (
    ScoreInput,
    queue_item_claim_next,
    queue_item_renew,
    queue_item_skip,
    queue_item_submit,
)
from annotations.models import ItemStatus, QueueItem
from annotations.selectors import assignee_progress, item_scores, queue_progress
from annotations.services import queue_assignment_create
from evalsite.errors import Conflict
from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.annotations.factories import QueueFactory, QueueItemFactory
from tests.scoring.factories import CategoricalConfigFactory
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db
A = Role.ANNOTATOR


@pytest.fixture
def config(project):
    return CategoricalConfigFactory(project=project, name="quality")


def make_queue(project, config, n=1, items=3, **fields):
    queue = QueueFactory(project=project, score_config_ids=[config.id], annotators_per_item=n, **fields)
    created = [QueueItemFactory(queue=queue) for _ in range(items)]
    return queue, created


def submit(project, item, user, label="good", config_id=None):
    return queue_item_submit(
        project=project, item=item, user=user, role=A, scores=[ScoreInput(config_id or item.queue.score_config_ids[0], label)]
    )


def test_next_is_the_oldest_pending_item_and_a_reload_returns_the_same_one(project, config):
    queue, items = make_queue(project, config)
    ann = user_with_role(project, A)
    first = queue_item_claim_next(project=project, queue=queue, user=ann, role=A)
    assert first.pk == items[0].pk and first.locked_by_id == ann.pk
    assert queue_item_claim_next(project=project, queue=queue, user=ann, role=A).pk == first.pk


def test_an_item_held_by_one_annotator_is_not_offered_to_another_until_its_lock_expires(project, config):
    queue, items = make_queue(project, config)
    ann, other = user_with_role(project, A), user_with_role(project, A)
    queue_item_claim_next(project=project, queue=queue, user=ann, role=A)
    assert queue_item_claim_next(project=project, queue=queue, user=other, role=A).pk == items[1].pk
    QueueItem.objects.filter(pk=items[0].pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    third = user_with_role(project, A)
    assert queue_item_claim_next(project=project, queue=queue, user=third, role=A).pk == items[0].pk
    with pytest.raises(Conflict) as error:
        submit(project, items[0], ann)
    assert "no longer hold" in error.value.message
    assert not Score.objects.exists()


def test_a_submission_stores_annotation_scores_through_scoring_and_releases_the_lock(project, config):
    queue, items = make_queue(project, config)
    ann = user_with_role(project, A)
    item = queue_item_claim_next(project=project, queue=queue, user=ann, role=A)
    done = submit(project, item, ann, "ok")
    assert done.status == ItemStatus.COMPLETED and done.locked_by_id is None and done.completed_at
    score = Score.objects.get()
    assert (score.source, score.name, score.string_value, score.value) == ("ANNOTATION", "quality", "ok", 0.5)
    assert (score.trace_id, score.queue_id, score.author_user_id, score.config_id) == (item.object_id, queue.pk, ann.pk, config.id)
    assert queue_item_claim_next(project=project, queue=queue, user=ann, role=A).pk == items[1].pk


def test_an_invalid_value_is_refused_naming_the_config_and_nothing_is_stored(project, config):
    queue, _ = make_queue(project, config)
    ann = user_with_role(project, A)
    item = queue_item_claim_next(project=project, queue=queue, user=ann, role=A)
    with pytest.raises(ValidationError) as error:
        submit(project, item, ann, "splendid")
    assert config.id in error.value.message_dict["scores"][0]
    with pytest.raises(ValidationError):
        submit(project, item, ann, "good", config_id="not-of-this-queue")
    item.refresh_from_db()
    assert item.locked_by_id == ann.pk and item.submissions == 0 and not Score.objects.exists()


def test_with_n_2_an_item_completes_after_two_distinct_users_and_nobody_gets_it_twice(project, config):
    queue, items = make_queue(project, config, n=2, items=1)
    ann, other = user_with_role(project, A), user_with_role(project, A)
    item = queue_item_claim_next(project=project, queue=queue, user=ann, role=A)
    assert submit(project, item, ann).status == ItemStatus.PENDING
    assert queue_item_claim_next(project=project, queue=queue, user=ann, role=A) is None
    again = queue_item_claim_next(project=project, queue=queue, user=other, role=A)
    assert again.pk == item.pk
    assert submit(project, again, other).status == ItemStatus.COMPLETED
    assert queue_item_claim_next(project=project, queue=queue, user=other, role=A) is None


def test_a_skipped_item_goes_to_others_and_never_back_to_the_skipper(project, config):
    queue, items = make_queue(project, config, items=2)
    ann, other = user_with_role(project, A), user_with_role(project, A)
    item = queue_item_claim_next(project=project, queue=queue, user=ann, role=A)
    queue_item_skip(project=project, item=item, user=ann)
    assert queue_item_claim_next(project=project, queue=queue, user=ann, role=A).pk == items[1].pk
    assert queue_item_claim_next(project=project, queue=queue, user=other, role=A).pk == items[0].pk


def test_renewing_extends_a_held_lock_and_fails_once_it_is_lost(project, config):
    queue, _ = make_queue(project, config, lock_seconds=60)
    ann = user_with_role(project, A)
    item = queue_item_claim_next(project=project, queue=queue, user=ann, role=A)
    QueueItem.objects.filter(pk=item.pk).update(locked_until=timezone.now() + timedelta(seconds=5))
    renewed = queue_item_renew(project=project, item=item, user=ann)
    assert renewed.locked_until > timezone.now() + timedelta(seconds=50)
    QueueItem.objects.filter(pk=item.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Conflict):
        queue_item_renew(project=project, item=item, user=ann)


def test_an_assigned_only_queue_refuses_the_unassigned_and_viewers_cannot_annotate(project, config):
    queue, _ = make_queue(project, config, access="ASSIGNED")
    ann = user_with_role(project, A)
    with pytest.raises(PermissionDenied):
        queue_item_claim_next(project=project, queue=queue, user=ann, role=A)
    queue_assignment_create(project=project, queue=queue, user_id=ann.pk)
    assert queue_item_claim_next(project=project, queue=queue, user=ann, role=A) is not None
    viewer = user_with_role(project, Role.VIEWER)
    queue_assignment_create(project=project, queue=queue, user_id=viewer.pk)
    with pytest.raises(PermissionDenied):
        queue_item_claim_next(project=project, queue=queue, user=viewer, role=Role.VIEWER)


def test_scores_are_blind_until_the_viewer_has_submitted(project, config):
    queue, _ = make_queue(project, config, n=2, items=1)
    ann, other = user_with_role(project, A), user_with_role(project, A)
    item = queue_item_claim_next(project=project, queue=queue, user=ann, role=A)
    submit(project, item, ann, "bad")
    item = queue_item_claim_next(project=project, queue=queue, user=other, role=A)
    assert item_scores(project=project, item=item, viewer=other) == []
    submit(project, item, other, "good")
    assert {s.string_value for s in item_scores(project=project, item=item, viewer=other)} == {"good", "bad"}
    assert len(item_scores(project=project, item=item, see_all=True)) == 2


def test_progress_per_queue_and_per_assignee(project, config):
    queue, items = make_queue(project, config, n=1, items=4)
    ann, other = user_with_role(project, A), user_with_role(project, A)
    queue_assignment_create(project=project, queue=queue, user_id=other.pk)
    submit(project, queue_item_claim_next(project=project, queue=queue, user=ann, role=A), ann)
    queue_item_skip(project=project, item=queue_item_claim_next(project=project, queue=queue, user=ann, role=A), user=ann)
    queue_item_claim_next(project=project, queue=queue, user=ann, role=A)
    progress = queue_progress(project=project, queue=queue)
    assert (progress.total, progress.completed, progress.pending, progress.in_progress) == (4, 1, 3, 1)
    rows = {row.user_id: row for row in assignee_progress(project=project, queue=queue)}
    assert (rows[ann.pk].done, rows[ann.pk].skipped, rows[ann.pk].in_progress, rows[ann.pk].remaining) == (1, 1, 1, 1)
    assert (rows[other.pk].done, rows[other.pk].skipped, rows[other.pk].in_progress, rows[other.pk].remaining) == (0, 0, 0, 3)


def test_the_trace_page_hides_other_annotators_queue_scores_until_mine_is_in(client, project, config):
    from tests.traces.factories import TraceFactory

    queue, _ = make_queue(project, config, n=2, items=0)
    trace = TraceFactory(project=project)
    item = QueueItemFactory(queue=queue, object_id=trace.trace_id)
    first, second = user_with_role(project, A, staff=False), user_with_role(project, A, staff=False)
    submit(project, queue_item_claim_next(project=project, queue=queue, user=first, role=A), first, "bad")
    client.force_login(second)
    url = f"/projects/{project.pk}/traces/{trace.trace_id}"
    assert "quality</b> bad" not in client.get(url).content.decode()
    submit(project, queue_item_claim_next(project=project, queue=queue, user=second, role=A), second, "good")
    page = client.get(url).content.decode()
    assert "quality</b> bad" in page and "quality</b> good" in page
    client.force_login(user_with_role(project, Role.ADMIN, staff=False))
    assert item.pk and "quality</b> bad" in client.get(url).content.decode()
