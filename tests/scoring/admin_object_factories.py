from scoring.models import Score, ScoreConfig
from tests.scoring.factories import ScoreConfigFactory, ScoreFactory

FACTORIES = {
    ScoreConfig: lambda project: ScoreConfigFactory(project=project),
    Score: lambda project: ScoreFactory(project=project),
}
