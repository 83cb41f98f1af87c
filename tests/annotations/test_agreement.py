"""Agreement statistics, checked against statsmodels and krippendorff on the same ratings and
against values worked out by hand; disagreements and adjudication."""

import krippendorff
import numpy as np
import pytest
from django.core.exceptions import PermissionDenied
from statsmodels.stats import inter_rater

from annotations.agreement import disagreements, queue_agreement
from annotations.claims import ScoreInput, annotation_score_id, queue_item_adjudicate
from annotations.models import ItemAnnotation, Outcome
from evalsite.tenancy.roles import Role
from scoring.models import Score
from scoring.services import scores_ingest
from tests.annotations.factories import QueueFactory, QueueItemFactory
from tests.scoring.factories import CategoricalConfigFactory, ScoreConfigFactory
from tests.support.api import ApiClient
from tests.tenancy.factories import OrganizationMembershipFactory, UserFactory, api_key_for, user_with_role

pytestmark = pytest.mark.django_db
LABELS = {1.0: "good", 0.5: "ok", 0.0: "bad"}


def rate(project, queue, config, table):
    """`table[user index][item index]` = value or None; stored as each annotator's scores (as the
    workspace would) without going through the locks. Returns (users, items)."""
    users = [UserFactory() for _ in table]
    for user in users:
        OrganizationMembershipFactory(organization=project.organization, user=user, role=Role.ANNOTATOR)
    items = [QueueItemFactory(queue=queue) for _ in table[0]]
    for user, row in zip(users, table, strict=True):
        scores = []
        for item, value in zip(items, row, strict=True):
            if value is None:
                continue
            shown = LABELS[value] if config.data_type == "CATEGORICAL" else value
            scores.append(
                {"id": annotation_score_id(item=item, user_id=user.pk, config_id=config.pk), "name": config.name,
                 "configId": config.pk, "value": shown, "traceId": item.object_id, "queueId": queue.pk,
                 "metadata": {"queueItemId": item.pk}}
            )
            ItemAnnotation.objects.create(project=project, item=item, queue=queue, user=user, outcome=Outcome.DONE)
        from evalsite.tenancy.actors import Actor

        result = scores_ingest(project=project, items=scores, actor=Actor(user=user), source_override="ANNOTATION")
        assert result.errors == []
    return users, items


def test_categorical_agreement_matches_statsmodels_and_krippendorff(project):
    config = CategoricalConfigFactory(project=project, name="quality")
    queue = QueueFactory(project=project, score_config_ids=[config.pk], annotators_per_item=3)
    rng = np.random.default_rng(3)
    truth = rng.choice([0.0, 0.5, 1.0], size=40)
    table = [[v if rng.random() < 0.75 else rng.choice([0.0, 0.5, 1.0]) for v in truth] for _ in range(3)]
    table[2][5] = None  # one missing rating: Fleiss leaves that item out, Krippendorff keeps it
    rate(project, queue, config, table)

    (result,) = queue_agreement(project=project, queue=queue)
    data = np.array([[np.nan if v is None else v for v in row] for row in table])
    assert result.level == "ordinal" and result.items == 40 and result.annotators == 3
    expected_alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=[0.0, 0.5, 1.0])
    assert result.krippendorff_alpha == pytest.approx(expected_alpha)
    complete = data[:, ~np.isnan(data).any(axis=0)].T
    counts, _ = inter_rater.aggregate_raters(complete)
    assert result.fleiss_items == 39 and result.fleiss_kappa == pytest.approx(inter_rater.fleiss_kappa(counts))
    first, second = data[0], data[1]
    cohen_table, _ = inter_rater.to_table(np.column_stack([first, second]).astype(float), bins=[-0.25, 0.25, 0.75, 1.25])
    assert result.cohens_items == 40
    assert result.cohens_kappa == pytest.approx(inter_rater.cohens_kappa(cohen_table, return_results=False))
    shares = []
    for column in data.T:
        rated = column[~np.isnan(column)]
        pairs = [(a, b) for i, a in enumerate(rated) for b in rated[i + 1 :]]
        shares.append(sum(a == b for a, b in pairs) / len(pairs))
    assert result.percent_agreement == pytest.approx(np.mean(shares))


def test_a_small_case_worked_out_by_hand(project):
    config = ScoreConfigFactory(project=project, name="yes", data_type="BOOLEAN",
                                categories=[{"value": 1.0, "label": "True"}, {"value": 0.0, "label": "False"}])
    queue = QueueFactory(project=project, score_config_ids=[config.pk], annotators_per_item=2)
    # Two annotators, four items: they agree on three (1,1), (0,0), (1,1) and differ on one (1,0).
    rate(project, queue, config, [[1.0, 0.0, 1.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
    (result,) = queue_agreement(project=project, queue=queue)
    assert result.level == "nominal" and result.percent_agreement == 0.75
    # p_o = 3/4; A says yes 3/4, B says yes 2/4: p_e = 3/4·2/4 + 1/4·2/4 = 1/2; kappa = (3/4 − 1/2)/(1/2) = 1/2.
    assert result.cohens_kappa == pytest.approx(0.5)


def test_numeric_configs_use_interval_alpha_and_list_disagreements_beyond_a_threshold(project):
    config = ScoreConfigFactory(project=project, name="score", data_type="NUMERIC", min_value=0, max_value=10)
    queue = QueueFactory(project=project, score_config_ids=[config.pk], annotators_per_item=2)
    table = [[1.0, 5.0, 9.0, 4.0], [1.0, 7.0, 8.0, 4.0]]
    _, items = rate(project, queue, config, table)
    (result,) = queue_agreement(project=project, queue=queue)
    assert result.level == "interval" and result.fleiss_kappa is None
    assert result.krippendorff_alpha == pytest.approx(krippendorff.alpha(reliability_data=np.array(table), level_of_measurement="interval"))
    found = disagreements(project=project, queue=queue, config=config, threshold=1.0)
    assert [(row.item.pk, row.spread) for row in found] == [(items[1].pk, 2.0)]
    assert [row.item.pk for row in disagreements(project=project, queue=queue, config=config)] == [items[1].pk, items[2].pk]


def test_an_admin_adjudicates_with_a_final_score_that_agreement_leaves_out(project):
    config = CategoricalConfigFactory(project=project, name="quality")
    queue = QueueFactory(project=project, score_config_ids=[config.pk], annotators_per_item=2)
    _, items = rate(project, queue, config, [[1.0, 0.0], [0.0, 0.0]])
    before = queue_agreement(project=project, queue=queue)[0]
    admin = user_with_role(project, Role.ADMIN)
    with pytest.raises(PermissionDenied):
        queue_item_adjudicate(project=project, item=items[0], user=admin, role=Role.MEMBER, scores=[ScoreInput(config.pk, "ok")])
    queue_item_adjudicate(project=project, item=items[0], user=admin, role=Role.ADMIN, scores=[ScoreInput(config.pk, "ok")])
    queue_item_adjudicate(project=project, item=items[0], user=admin, role=Role.ADMIN, scores=[ScoreInput(config.pk, "good")])
    final = Score.objects.get(metadata__adjudicated=True)
    assert final.string_value == "good" and final.author_user == admin and final.source == "ANNOTATION"
    assert queue_agreement(project=project, queue=queue)[0] == before


def test_agreement_disagreements_and_adjudication_over_the_api(project):
    config = CategoricalConfigFactory(project=project, name="quality")
    queue = QueueFactory(project=project, score_config_ids=[config.pk], annotators_per_item=2)
    users, items = rate(project, queue, config, [[1.0, 0.0, 0.5], [1.0, 1.0, 0.5]])
    api = ApiClient(api_key_for(project, Role.ADMIN))
    data = api.get(f"annotation-queues/{queue.pk}/agreement").json()["data"]
    assert data[0]["configId"] == config.pk and data[0]["items"] == 3 and data[0]["percentAgreement"] == pytest.approx(2 / 3)
    rows = api.get(f"annotation-queues/{queue.pk}/disagreements", configId=config.pk).json()["data"]
    assert [row["item"]["id"] for row in rows] == [items[1].pk]
    assert rows[0]["values"] == {str(users[0].pk): "bad", str(users[1].pk): "good"}
    assert api.get(f"annotation-queues/{queue.pk}/disagreements", configId="other").status_code == 400
    admin = user_with_role(project, Role.ADMIN)
    answer = api.post(
        f"annotation-queues/{queue.pk}/items/{items[1].pk}/adjudicate",
        {"userId": str(admin.pk), "scores": [{"configId": config.pk, "value": "ok"}]},
    )
    assert answer.status_code == 200, answer.content
    assert sorted(s["stringValue"] for s in answer.json()) == ["bad", "good", "ok"]
    assert any(s["metadata"] == {"queueItemId": items[1].pk, "adjudicated": True} for s in answer.json())
    annotator_answer = api.post(
        f"annotation-queues/{queue.pk}/items/{items[1].pk}/adjudicate",
        {"userId": str(users[0].pk), "scores": [{"configId": config.pk, "value": "ok"}]},
    )
    assert annotator_answer.status_code == 403
