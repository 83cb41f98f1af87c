# /api/public/llm-connections: OpenAI-compatible endpoints a project may call.
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, ValidationError
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
    """MEMBER keys may read connections, ADMIN keys manage them.

    A MEMBER starts experiment runs and must pick a connection and a model, as the admin's "start a
    run" form lets them; nothing read here carries a secret (no key, no header value), and below
    ADMIN even the masked key hint is withheld. Creating, changing and deleting stay ADMIN's.
    """

    queryset = LlmConnection.objects.all()
    serializer_class = LlmConnectionSerializer
    required_roles = {"list": Role.MEMBER, "retrieve": Role.MEMBER, "upsert": Role.ADMIN, "destroy": Role.ADMIN}

    def output(self, connection_or_page, **kwargs):
        context = {"show_key_hint": self.request.auth.role >= Role.ADMIN}
        return LlmConnectionSerializer(connection_or_page, context=context, **kwargs).data

    def connection_or_404(self, connection_id: str) -> LlmConnection:
        try:
            return connections.llm_connection_get_by_id(project=self.project, connection_id=connection_id)
        except LlmConnection.DoesNotExist as missing:
            raise NotFound(str(missing)) from None

    def list(self, request):
        page = self.paginate_queryset(connections.llm_connection_list(project=self.project))
        return self.get_paginated_response(self.output(page, many=True))

    def retrieve(self, request, connection_id: str):
        return Response(self.output(self.connection_or_404(connection_id)))

    @extend_schema(request=LlmConnectionUpsertSerializer, responses=LlmConnectionSerializer)
    def upsert(self, request):
        serializer = LlmConnectionUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            connection, _created = connections.llm_connection_upsert(
                project=self.project, actor=Actor.from_request(request), **serializer.service_arguments()
            )
        except DjangoValidationError as error:
            raise ValidationError(LlmConnectionUpsertSerializer.wire_errors(error)) from None
        return Response(self.output(connection))

    @extend_schema(responses=LlmConnectionDeletedSerializer)
    def destroy(self, request, connection_id: str):
        connection = self.connection_or_404(connection_id)
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
        LlmConnectionViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="api-llm-connection",
    ),
]
