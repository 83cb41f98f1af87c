# Routes under /api/public/ (no trailing slashes) and under /projects/<project_id>/.
api_urlpatterns = []
page_urlpatterns = []
