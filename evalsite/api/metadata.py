"""What `OPTIONS` answers on the API: the view's name, description and media types.

DRF's default also describes the fields each write accepts by building the view's serializer and,
for updates, fetching the object through `get_object()` with the URL's lookup — which our views
name and resolve their own way (names with '/', ids per project), so it failed with a 500. The
OpenAPI schema at /api/schema/ is where the fields are described.
"""

from rest_framework.metadata import SimpleMetadata


class ApiMetadata(SimpleMetadata):
    def determine_metadata(self, request, view):
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }
