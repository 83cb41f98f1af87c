# Prompt routes under /api/public/.
from django.urls import path

from prompts.api import PromptViewSet

api_urlpatterns = [
    path("v2/prompts", PromptViewSet.as_view({"get": "list", "post": "create"}), name="api-prompts"),
    # Before the plain name route: with `<path:…>`, "a/b/versions/3" would otherwise be a name.
    path(
        "v2/prompts/<path:name>/versions/<int:version>",
        PromptViewSet.as_view({"patch": "update_labels"}),
        name="api-prompt-version",
    ),
    path(
        "v2/prompts/<path:prompt_name>",
        PromptViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="api-prompt",
    ),
]
