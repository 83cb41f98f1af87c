"""Langfuse's `/api/public/unstable/dashboards*` and `/unstable/dashboard-widgets*`.

Errors on these routes follow the SDK's evaluation_errors model, PublicApiError
`{message, code, details?: {issues: [{code, message, path}]}}` (plus our usual `error` name), so the
SDK raises its own typed errors instead of failing to parse the body.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from dashboards import services
from dashboards.models import Dashboard, Widget
from dashboards.selectors import dashboard_list, widget_list
from evalsite.api.errors import exception_handler
from evalsite.api.pagination import PagePagination
from evalsite.api.viewsets import ProjectScopedViewSet

CODES = {
    401: "authentication_failed",
    403: "access_denied",
    404: "resource_not_found",
    405: "method_not_allowed",
    409: "conflict",
    429: "rate_limited",
}


def _issues(detail: Any, path: list) -> list[dict]:
    if isinstance(detail, dict):
        return [issue for key, value in detail.items() for issue in _issues(value, [*path, key])]
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [{"code": "invalid", "message": str(item), "path": path} for item in detail]
        return [issue for index, item in enumerate(detail) for issue in _issues(item, [*path, index])]
    return [{"code": "invalid", "message": str(detail), "path": path}]


def public_api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None
    body = dict(response.data)
    if response.status_code == 400:
        body["code"] = "invalid_query" if context["request"].method == "GET" else "invalid_body"
        if "details" in body:
            body["details"] = {"issues": _issues(body["details"], [])}
    else:
        body["code"] = CODES.get(
            response.status_code, "invalid_request" if response.status_code < 500 else "internal_error"
        )
        body.pop("details", None)
    response.data = body
    return response


class PublicApiErrors:
    def get_exception_handler(self):
        return public_api_exception_handler


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ParseError("The body must be a JSON object")
    return request.data


def widget_wire(widget: Widget) -> dict:
    return {
        "id": widget.id,
        "createdAt": widget.created_at,
        "updatedAt": widget.updated_at,
        "name": widget.name,
        "description": widget.description,
        "view": widget.view,
        "dimensions": widget.dimensions,
        "metrics": widget.metrics,
        "filters": widget.filters,
        "chartType": widget.chart_type,
        "chartConfig": {"type": widget.chart_type, **widget.chart_config},
    }


def dashboard_wire(dashboard: Dashboard) -> dict:
    return {
        "id": dashboard.id,
        "createdAt": dashboard.created_at,
        "updatedAt": dashboard.updated_at,
        "name": dashboard.name,
        "description": dashboard.description,
        "definition": {"widgets": dashboard.definition.get("widgets", [])},
        "filters": dashboard.filters,
    }


WIDGET_ARGUMENTS = {
    "name": "name",
    "description": "description",
    "view": "view",
    "dimensions": "dimensions",
    "metrics": "metrics",
    "filters": "filters",
    "chartType": "chart_type",
    "chartConfig": "chart_config",
}


class DashboardWidgetViewSet(PublicApiErrors, ProjectScopedViewSet):
    queryset = Widget.objects.all()
    lookup_field = "id"
    lookup_url_kwarg = "widget_id"
    pagination_class = PagePagination
    wire_field_names = {"chart_type": "chartType", "chart_config": "chartConfig"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, operation_id="public_unstable_dashboard_widgets_list")
    def list(self, request):
        widgets = self.paginate_queryset(widget_list(project=self.project))
        return self.get_paginated_response([widget_wire(w) for w in widgets])

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def create(self, request):
        body = _body(request)
        arguments = {WIDGET_ARGUMENTS[k]: v for k, v in body.items() if k in WIDGET_ARGUMENTS}
        for required in ("name", "view", "metrics", "chart_type"):
            arguments.setdefault(required, None)
        widget = services.widget_create(project=self.project, **arguments)
        return Response(widget_wire(widget), status=status.HTTP_200_OK)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request, widget_id):
        return Response(widget_wire(self.get_object()))

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def partial_update(self, request, widget_id):
        widget = self.get_object()
        body = _body(request)
        changes = {WIDGET_ARGUMENTS[k]: v for k, v in body.items() if k in WIDGET_ARGUMENTS}
        return Response(widget_wire(services.widget_update(widget=widget, **changes)))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def destroy(self, request, widget_id):
        services.widget_delete(widget=self.get_object())
        return Response({"message": "Widget deleted"})


class DashboardViewSet(PublicApiErrors, ProjectScopedViewSet):
    queryset = Dashboard.objects.all()
    lookup_field = "id"
    lookup_url_kwarg = "dashboard_id"
    pagination_class = PagePagination

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, operation_id="public_unstable_dashboards_list")
    def list(self, request):
        dashboards = self.paginate_queryset(dashboard_list(project=self.project))
        return self.get_paginated_response([dashboard_wire(d) for d in dashboards])

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def create(self, request):
        body = _body(request)
        dashboard = services.dashboard_create(
            project=self.project,
            name=body.get("name"),
            description=body.get("description") or "",
            definition=body.get("definition"),
            filters=body.get("filters") or [],
        )
        return Response(dashboard_wire(dashboard), status=status.HTTP_200_OK)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request, dashboard_id):
        return Response(dashboard_wire(self.get_object()))

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def partial_update(self, request, dashboard_id):
        dashboard = self.get_object()
        body = _body(request)
        dashboard = services.dashboard_update(
            dashboard=dashboard,
            name=body.get("name"),
            description=body.get("description"),
            definition=body.get("definition"),
            filters=body.get("filters"),
        )
        return Response(dashboard_wire(dashboard))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def destroy(self, request, dashboard_id):
        services.dashboard_delete(dashboard=self.get_object())
        return Response({"message": "Dashboard deleted"})

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def add_placement(self, request, dashboard_id):
        placement = services.placement_add(dashboard=self.get_object(), placement=_body(request))
        return Response(placement)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def update_placement(self, request, dashboard_id, placement_id):
        body = _body(request)
        placement = services.placement_update(
            dashboard=self.get_object(),
            placement_id=placement_id,
            **{key: body.get(key) for key in ("x", "y", "width", "height")},
        )
        return Response(placement)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def delete_placement(self, request, dashboard_id, placement_id):
        services.placement_delete(dashboard=self.get_object(), placement_id=placement_id)
        return Response({"message": "Placement deleted"})
