import factory

from annotations.models import AnnotationQueue, Comment, QueueItem, QueueRule
from tests.tenancy.factories import ProjectFactory


class QueueFactory(factory.django.DjangoModelFactory):
    """A queue; pass `score_config_ids` of configs of the same project."""

    class Meta:
        model = AnnotationQueue

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"queue-{n}")
    score_config_ids = factory.LazyFunction(list)


class QueueItemFactory(factory.django.DjangoModelFactory):
    """A TRACE item of `queue` (its project comes from the queue)."""

    class Meta:
        model = QueueItem

    queue = factory.SubFactory(QueueFactory)
    project = factory.SelfAttribute("queue.project")
    object_type = "TRACE"
    object_id = factory.Sequence(lambda n: f"{n + 1:032x}")


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    project = factory.SubFactory(ProjectFactory)
    object_type = "TRACE"
    object_id = factory.Sequence(lambda n: f"{n + 1:032x}")
    content = "A comment."


class QueueRuleFactory(factory.django.DjangoModelFactory):
    """A rule of `queue` (its project comes from the queue): "judge" below 0.5, every trace."""

    class Meta:
        model = QueueRule

    queue = factory.SubFactory(QueueFactory)
    project = factory.SelfAttribute("queue.project")
    name = factory.Sequence(lambda n: f"rule-{n}")
    score_name = "judge"
    operator = "<"
    threshold = 0.5
