# /api/public/llm-connections: OpenAI-compatible endpoints a project may call.
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.llm import connections
from evalsite.llm.connection_serializers import (
    LlmConnectionDeletedSerializer,
    LlmConnectionSerializer,
    LlmConnectionUpsertSerializer,
)
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.roles import Role


class LlmConnectionViewSet(ProjectScopedViewSet):
    """Connection settings are for ADMIN keys only, reads included: a connection's endpoint, models
    and header names are configuration that viewers and members have no business reading."""

    queryset = LlmConnection.objects.all()
    serializer_class = LlmConnectionSerializer
    required_roles = {"list": Role.ADMIN, "upsert": Role.ADMIN, "destroy": Role.ADMIN}

    def list(self, request):
        page = self.paginate_queryset(connections.llm_connection_list(project=self.project))
        return self.get_paginated_response(LlmConnectionSerializer(page, many=True).data)

    @extend_schema(request=LlmConnectionUpsertSerializer, responses=LlmConnectionSerializer)
    def upsert(self, request):
        serializer = LlmConnectionUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connection, _created = connections.llm_connection_upsert(
            project=self.project, actor=Actor.from_request(request), **serializer.service_arguments()
        )
        return Response(LlmConnectionSerializer(connection).data)

    @extend_schema(responses=LlmConnectionDeletedSerializer)
    def destroy(self, request, connection_id: str):
        try:
            connection = connections.llm_connection_get_by_id(
                project=self.project, connection_id=connection_id
            )
        except LlmConnection.DoesNotExist as missing:
            raise NotFound(str(missing)) from None
        connections.llm_connection_delete(connection=connection, actor=Actor.from_request(request))
        return Response({"message": "LLM connection deleted"})


api_urlpatterns = [
    path(
        "llm-connections",
        LlmConnectionViewSet.as_view({"get": "list", "put": "upsert"}),
        name="api-llm-connections",
    ),
    path(
        "llm-connections/<str:connection_id>",
        LlmConnectionViewSet.as_view({"delete": "destroy"}),
        name="api-llm-connection",
    ),
]
