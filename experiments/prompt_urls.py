# Prompt routes under /api/public/ (kept apart from the runs' routes in experiments/urls.py).
api_urlpatterns = []
