from evalsite.llm.models import LlmConnection
from tests.llm.admin_object_factories import make_connection
from tests.support.cross_project import CrossProjectCase

CASES = [
    CrossProjectCase(
        pattern="api/public/llm-connections/<str:connection_id>",
        make=lambda project: {"connection_id": make_connection(project).pk},
        still_there=lambda project, kwargs: LlmConnection.objects.filter(
            project=project, pk=kwargs["connection_id"]
        ).exists(),
    ),
]
