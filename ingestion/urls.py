from django.urls import path

from ingestion.api import IngestionViewSet, OtlpTraceViewSet

# Routes under /api/public/ (no trailing slashes).
api_urlpatterns = [
    path("otel/v1/traces", OtlpTraceViewSet.as_view({"post": "create"}), name="api-otel-traces"),
    path("ingestion", IngestionViewSet.as_view({"post": "create"}), name="api-ingestion"),
]
