"""/api/public/v2/prompts: versions of named prompts, their labels, and the per-name list.

Reads need VIEWER and writes MEMBER (the ProjectScopedViewSet defaults). Prompt names may contain
'/', which the SDK sends percent-encoded; Django decodes it before routing, hence `<path:…>` routes.
`resolve` (prompt composition) is accepted and ignored: prompts here never reference other prompts.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from evalsite.api.errors import validation_error_for_wire
from evalsite.api.pagination import positive_int_param
from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.actors import Actor
from prompts import selectors, services
from prompts.models import Prompt
from prompts.serializers import (
    PromptCreateSerializer,
    PromptLabelsUpdateSerializer,
    PromptListQuerySerializer,
    PromptMetaSerializer,
    PromptSerializer,
)

# The services' argument names → the wire's field names, where they differ.
CREATE_FIELDS = {"prompt_type": "type", "content": "prompt", "commit_message": "commitMessage"}
LABELS_UPDATE_FIELDS = {"labels": "newLabels"}


class PromptViewSet(ProjectScopedViewSet):
    filter_backends = []  # reads filter through the selectors, not django-filter
    serializer_class = PromptSerializer

    @extend_schema(parameters=[PromptListQuerySerializer], responses=PromptMetaSerializer(many=True))
    def list(self, request):
        query = PromptListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = {"project": self.project, **query.selector_filters()}
        page = self.paginate_queryset(selectors.prompt_name_list(**filters))
        metas = selectors.prompt_meta_list(names=[row["name"] for row in page], **filters)
        return self.get_paginated_response(PromptMetaSerializer(metas, many=True).data)

    @extend_schema(request=PromptCreateSerializer, responses={201: PromptSerializer})
    def create(self, request):
        serializer = PromptCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            prompt = services.prompt_create(
                project=self.project, actor=Actor.from_request(request), **serializer.service_arguments()
            )
        except DjangoValidationError as error:
            raise validation_error_for_wire(error, CREATE_FIELDS) from None
        return Response(PromptSerializer(prompt).data, status=201)

    def retrieve(self, request, prompt_name: str):
        version = positive_int_param(request, "version", None)
        label = request.query_params.get("label") or None
        if version is not None and label is not None:
            raise ValidationError({"version": ["Give either a version or a label, not both."]})
        try:
            prompt = selectors.prompt_get(
                project=self.project, name=prompt_name, version=version, label=label
            )
        except Prompt.DoesNotExist as missing:
            raise NotFound(str(missing)) from None
        return Response(PromptSerializer(prompt).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, prompt_name: str):
        version = positive_int_param(request, "version", None)
        label = request.query_params.get("label") or None
        services.prompt_delete(
            project=self.project, name=prompt_name, version=version, label=label, actor=Actor.from_request(request)
        )
        return Response(status=204)

    @extend_schema(request=PromptLabelsUpdateSerializer, responses=PromptSerializer)
    def update_labels(self, request, name: str, version: int):
        serializer = PromptLabelsUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            prompt = services.prompt_labels_add(
                project=self.project,
                name=name,
                version=version,
                labels=serializer.validated_data["newLabels"],
                actor=Actor.from_request(request),
            )
        except DjangoValidationError as error:
            raise validation_error_for_wire(error, LABELS_UPDATE_FIELDS) from None
        return Response(PromptSerializer(prompt).data)
