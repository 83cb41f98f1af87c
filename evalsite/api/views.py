from importlib.metadata import PackageNotFoundError, version

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.models import Project


def platform_version() -> str:
    try:
        return version("evalsite")
    except PackageNotFoundError:
        return "0.0.0"


class HealthView(APIView):
    """Liveness for load balancers and `lf.api.health.health()`; the only route without a key."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer("Health", {"status": serializers.CharField(), "version": serializers.CharField()})
    )
    def get(self, request):
        return Response({"status": "OK", "version": platform_version()})


class OrganizationSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class ProjectSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer()
    retentionDays = serializers.IntegerField(source="retention_days", allow_null=True)

    class Meta:
        model = Project
        fields = ["id", "name", "organization", "metadata", "retentionDays"]


class ProjectViewSet(mixins.ListModelMixin, ProjectScopedViewSet):
    """The key's own project: what `Langfuse.auth_check()` reads."""

    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    project_lookup = "id"
    pagination_class = None

    def base_queryset(self):
        return Project.objects.select_related("organization")

    def list(self, request, *args, **kwargs):
        return Response({"data": self.get_serializer(self.get_queryset(), many=True).data})
