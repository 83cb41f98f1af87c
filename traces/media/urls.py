from django.urls import path

from traces.media.api import MediaViewSet
from traces.media.views import media_download, media_upload

# Under /api/public/.
api_urlpatterns = [
    path("media", MediaViewSet.as_view({"post": "create"}), name="api-media"),
    path("media/<str:media_id>", MediaViewSet.as_view({"get": "retrieve", "patch": "partial_update"}), name="api-media-item"),
]
# Under /media/: the signed URLs, outside the API (no key; the token is the credential).
file_urlpatterns = [
    path("upload/<str:token>", media_upload, name="media-upload"),
    path("download/<str:token>", media_download, name="media-download"),
]
