# /api/public/models: model price definitions.
api_urlpatterns = []
