"""The comparison page lets an ANNOTATOR (or above) score a run item's output in place."""

import pytest

from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.experiments.factories import scored_runs
from tests.scoring.factories import CategoricalConfigFactory
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


def test_an_annotator_scores_a_run_item_from_the_comparison_and_a_viewer_cannot(client, project):
    (run,) = scored_runs(project, {"only": [0.5, 0.7]})
    item = run.items.order_by("item_key").first()
    config = CategoricalConfigFactory(project=project, name="tone")
    url = f"/projects/{project.pk}/experiments/compare?runs={run.run_id}"
    client.force_login(user_with_role(project, Role.ANNOTATOR, staff=False))
    assert 'class="cell-score' in client.get(url).content.decode()
    answer = client.post(f"/projects/{project.pk}/experiments/compare", {"trace_id": item.trace_id, "config": config.pk, "value": "good", "next": url})
    assert answer.status_code == 302 and answer["Location"] == url
    score = Score.objects.get(name="tone")
    assert (score.trace_id, score.string_value, score.source) == (item.trace_id, "good", "ANNOTATION")
    bad = client.post(f"/projects/{project.pk}/experiments/compare", {"trace_id": item.trace_id, "config": config.pk, "value": "meh"})
    assert bad.status_code == 400 and b"value" in bad.content
    assert client.post(f"/projects/{project.pk}/experiments/compare", {"trace_id": "not-a-run-trace", "config": config.pk, "value": "good"}).status_code == 404
    assert "tone" in client.get(url).content.decode()

    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    assert 'class="cell-score' not in client.get(url).content.decode()
    assert client.post(f"/projects/{project.pk}/experiments/compare", {"trace_id": item.trace_id, "config": config.pk, "value": "ok"}).status_code == 403
    assert Score.objects.filter(name="tone").count() == 1
