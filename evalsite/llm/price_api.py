# /api/public/models: model price definitions (what cost inference at ingestion uses).
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.llm import prices
from evalsite.llm.managed_prices import managed_price_get, managed_price_list
from evalsite.llm.models import ModelPrice
from evalsite.llm.price_serializers import ModelPriceInputSerializer, ModelPriceSerializer
from evalsite.tenancy.actors import Actor


class _Listed(list):
    """A list the page paginator can count (it calls `.count()` as on a queryset)."""

    def count(self, *args):
        return len(self)


class ModelPriceViewSet(ProjectScopedViewSet):
    """List, create, read, replace and delete the project's model prices (writes need MEMBER).

    The built-in prices (`isLangfuseManaged`, evalsite/llm/managed_prices.py) are listed after the
    project's and can be read by id; they are changed by `manage.py model_prices_refresh`, not
    here: a project overrides one by creating its own price for the model.
    """

    queryset = ModelPrice.objects.all()
    serializer_class = ModelPriceSerializer

    def list(self, request):
        listed = _Listed([*prices.model_price_list(project=self.project), *managed_price_list()])
        page = self.paginate_queryset(listed)
        return self.get_paginated_response(ModelPriceSerializer(page, many=True).data)

    @extend_schema(request=ModelPriceInputSerializer, responses=ModelPriceSerializer)
    def create(self, request):
        body = ModelPriceInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        price = prices.model_price_create(
            project=self.project, actor=Actor.from_request(request), **body.service_arguments()
        )
        return Response(ModelPriceSerializer(price).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, price_id):
        price = prices.model_price_get(project=self.project, price_id=price_id) or managed_price_get(price_id=price_id)
        if price is None:
            raise NotFound(f"Model not found: {price_id}")
        return Response(ModelPriceSerializer(price).data)

    @extend_schema(request=ModelPriceInputSerializer, responses=ModelPriceSerializer)
    def update(self, request, price_id):
        price = self._price(price_id)
        body = ModelPriceInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        price = prices.model_price_update(
            project=self.project, price=price, actor=Actor.from_request(request), **body.service_arguments()
        )
        return Response(ModelPriceSerializer(price).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, price_id):
        prices.model_price_delete(
            project=self.project, price=self._price(price_id), actor=Actor.from_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _price(self, price_id: str) -> ModelPrice:
        price = prices.model_price_get(project=self.project, price_id=price_id)
        if price is None:
            raise NotFound(f"Model not found: {price_id}")
        return price


api_urlpatterns = [
    path("models", ModelPriceViewSet.as_view({"get": "list", "post": "create"}), name="api-models"),
    path(
        "models/<str:price_id>",
        ModelPriceViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
        name="api-model",
    ),
]
