from annotations.models import AnnotationQueue, QueueItem, QueueRule
from tests.annotations.factories import QueueFactory, QueueItemFactory, QueueRuleFactory
from tests.scoring.factories import CategoricalConfigFactory


def make_queue(project):
    return QueueFactory(project=project, score_config_ids=[CategoricalConfigFactory(project=project).id])


FACTORIES = {
    AnnotationQueue: make_queue,
    QueueItem: lambda project: QueueItemFactory(queue=make_queue(project)),
    QueueRule: lambda project: QueueRuleFactory(queue=make_queue(project)),
}
