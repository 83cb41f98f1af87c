from scoring.models import Score, ScoreConfig
from tests.scoring.factories import ScoreConfigFactory, ScoreFactory
from tests.support.cross_project import CrossProjectCase


def make_score(project) -> dict:
    return {"score_id": ScoreFactory(project=project).score_id}


def score_still_there(project, kwargs) -> bool:
    return Score.objects.filter(project=project, score_id=kwargs["score_id"]).exists()


def make_config(project) -> dict:
    return {"config_id": ScoreConfigFactory(project=project, name="victim config").id}


def config_unchanged(project, kwargs) -> bool:
    config = ScoreConfig.objects.get(project=project, id=kwargs["config_id"])
    return config.name == "victim config" and not config.is_archived


CASES = [
    CrossProjectCase(pattern="api/public/scores/<str:score_id>", make=make_score, still_there=score_still_there),
    CrossProjectCase(pattern="api/public/v2/scores/<str:score_id>", make=make_score),
    CrossProjectCase(
        pattern="api/public/score-configs/<str:config_id>",
        make=make_config,
        body={"name": "renamed", "isArchived": True},
        still_there=config_unchanged,
    ),
]
