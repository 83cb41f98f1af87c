"""/api/public/experiments/runs: start platform runs, follow their progress, cancel them."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.roles import Role
from experiments.models import ExperimentRun
from experiments.run_serializers import ExperimentRunStartSerializer, ExperimentRunStatusSerializer
from experiments.run_services import experiment_run_cancel, experiment_run_start


class ExperimentRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet):
    queryset = ExperimentRun.objects.all()
    serializer_class = ExperimentRunStatusSerializer
    lookup_field = "run_id"
    required_roles = {"create": Role.MEMBER, "cancel": Role.MEMBER}

    def base_queryset(self):
        return ExperimentRun.objects.select_related("dataset").order_by("-created_at", "-id")

    @extend_schema(request=ExperimentRunStartSerializer, responses={202: ExperimentRunStatusSerializer})
    def create(self, request):
        given = ExperimentRunStartSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        run = experiment_run_start(
            project=self.project,
            dataset_name=data["datasetName"],
            run_name=data["runName"],
            description=data.get("runDescription"),
            metadata=data.get("metadata"),
            prompt_name=data["promptName"],
            prompt_version=data.get("promptVersion"),
            prompt_label=data.get("promptLabel"),
            provider=data["provider"],
            model=data["model"],
            model_parameters=data.get("modelParameters"),
            concurrency=data["concurrency"],
            actor=Actor.from_request(request),
        )
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=ExperimentRunStatusSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, run_id=None):
        run = experiment_run_cancel(project=self.project, run=self.get_object(), actor=Actor.from_request(request))
        return Response(self.get_serializer(run).data)
