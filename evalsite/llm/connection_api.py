# /api/public/llm-connections: OpenAI-compatible endpoints a project may call.
api_urlpatterns = []
