from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import annotations.urls
import dashboards.urls
import datasets.urls
import evaluators.urls
import experiments.urls
import ingestion.urls
import prompts.urls
import scoring.urls
import traces.media.urls
import traces.urls
from evalsite.api.urls import api_urlpatterns
from evalsite.llm import connection_api, price_api
from evalsite.pages import ProjectListPage, plotly_js, site_root

public_api = [
    *api_urlpatterns,
    *price_api.api_urlpatterns,
    *connection_api.api_urlpatterns,
    *traces.urls.api_urlpatterns,
    *scoring.urls.api_urlpatterns,
    *datasets.urls.api_urlpatterns,
    *experiments.urls.api_urlpatterns,
    *evaluators.urls.api_urlpatterns,
    *ingestion.urls.api_urlpatterns,
    *prompts.urls.api_urlpatterns,
    *annotations.urls.api_urlpatterns,
    *dashboards.urls.api_urlpatterns,
]

project_pages = [
    *traces.urls.page_urlpatterns,
    *scoring.urls.page_urlpatterns,
    *datasets.urls.page_urlpatterns,
    *experiments.urls.page_urlpatterns,
    *annotations.urls.page_urlpatterns,
    *dashboards.urls.page_urlpatterns,
]

urlpatterns = [
    path("", site_root, name="site-root"),
    path("admin/", admin.site.urls),
    # Pages are for every project member; the admin's own sign-in only admits staff.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/public/", include(public_api)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Signed upload and download URLs of stored media (traces/media/views.py): no key, no session.
    path("media/", include(traces.media.urls.file_urlpatterns)),
    path("projects/", ProjectListPage.as_view(), name="project-list"),
    path("projects/<str:project_id>/", include(project_pages)),
    # The SDK's links to Langfuse's UI routes (singular "project"), redirected to our pages.
    path("project/<str:project_id>/", include(dashboards.urls.sdk_link_urlpatterns)),
    path("vendor/plotly.min.js", plotly_js, name="plotly-js"),
]
