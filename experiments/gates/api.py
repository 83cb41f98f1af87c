"""Gate endpoints: policies (`/gates`, `/gates/{name}`, its versions), evaluation
(`POST /gates/{name}/evaluate`), and a run's released mark and gate results
(`/experiments/runs/{id}/release`, `/experiments/runs/{id}/gate-results`).

Thin views: validate the body, call one service or selector of experiments/gates, shape the answer.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.actors import Actor
from experiments.gates import selectors, services
from experiments.gates import serializers as s
from experiments.gates.models import GatePolicy
from experiments.models import ExperimentRun
from experiments.selectors import experiment_run_list_recent

GATE_NAME = OpenApiParameter("gate_name", str, OpenApiParameter.PATH)


class GatePolicyViewSet(ProjectScopedViewSet):
    """Gate policies by name; every edit adds a version, reads give the current one unless `?version=`."""

    queryset = GatePolicy.objects.all()
    filter_backends = []  # reads go through the selectors

    def _policy(self, name: str, version: int | None = None) -> GatePolicy:
        policy = selectors.gate_policy_get(project=self.project, name=name, version=version)
        if policy is None:
            suffix = f" version {version}" if version is not None else ""
            raise NotFound(f"Gate policy not found: {name}{suffix}")
        return policy

    @extend_schema(responses=s.GatePolicySerializer(many=True))
    def list(self, request):
        page = self.paginate_queryset(selectors.gate_policy_list(project=self.project))
        return self.get_paginated_response(s.GatePolicySerializer(page, many=True).data)

    @extend_schema(request=s.GatePolicyCreateSerializer, responses={201: s.GatePolicySerializer})
    def create(self, request):
        body = s.GatePolicyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        policy = services.gate_policy_create(
            project=self.project, actor=Actor.from_request(request), **body.service_arguments()
        )
        return Response(s.GatePolicySerializer(policy).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[GATE_NAME, s.GatePolicyQuerySerializer], responses=s.GatePolicySerializer)
    def retrieve(self, request, gate_name: str):
        query = s.GatePolicyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(s.GatePolicySerializer(self._policy(gate_name, query.validated_data.get("version"))).data)

    @extend_schema(parameters=[GATE_NAME], request=s.GatePolicyUpdateSerializer, responses=s.GatePolicySerializer)
    def partial_update(self, request, gate_name: str):
        policy = self._policy(gate_name)
        body = s.GatePolicyUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        policy = services.gate_policy_update(
            project=self.project, policy=policy, actor=Actor.from_request(request), **body.service_changes()
        )
        return Response(s.GatePolicySerializer(policy).data)

    @extend_schema(parameters=[GATE_NAME], request=None, responses={204: None})
    def destroy(self, request, gate_name: str):
        self._policy(gate_name)
        services.gate_policy_delete(project=self.project, name=gate_name, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[GATE_NAME], responses=s.GatePolicySerializer(many=True))
    def versions(self, request, gate_name: str):
        self._policy(gate_name)
        page = self.paginate_queryset(selectors.gate_policy_versions(project=self.project, name=gate_name))
        return self.get_paginated_response(s.GatePolicySerializer(page, many=True).data)

    @extend_schema(
        parameters=[GATE_NAME],
        request=s.GateEvaluateSerializer,
        responses={201: s.GateResultResponse},
        description="Judge a candidate run by the gate's current policy: pass, fail or cannot_tell, with every "
        "rule's figures; the result is stored on the candidate run.",
    )
    def evaluate(self, request, gate_name: str):
        policy = self._policy(gate_name)
        body = s.GateEvaluateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.gate_evaluate(
            project=self.project, policy=policy, candidate=body.validated_data["candidate"], actor=Actor.from_request(request)
        )
        return Response(s.gate_result_dict(result), status=status.HTTP_201_CREATED)


class RunGateViewSet(ProjectScopedViewSet):
    """A run's released mark (POST marks, DELETE unmarks, GET reads) and its gate results."""

    queryset = ExperimentRun.objects.all()
    lookup_field = "run_id"
    filter_backends = []

    def base_queryset(self):
        return experiment_run_list_recent(project=self.project)

    @extend_schema(request=None, responses=s.RunReleaseResponse)
    def release_get(self, request, run_id: str):
        run = self.get_object()
        return Response(s.run_release_dict(run, selectors.run_release_get(project=self.project, run=run)))

    @extend_schema(request=None, responses=s.RunReleaseResponse)
    def release(self, request, run_id: str):
        run = self.get_object()
        release = services.run_release_mark(project=self.project, run=run, actor=Actor.from_request(request))
        return Response(s.run_release_dict(run, release))

    @extend_schema(request=None, responses=s.RunReleaseResponse)
    def unrelease(self, request, run_id: str):
        run = self.get_object()
        services.run_release_unmark(project=self.project, run=run, actor=Actor.from_request(request))
        return Response(s.run_release_dict(run, None))

    @extend_schema(responses=s.GateResultResponse(many=True))
    def gate_results(self, request, run_id: str):
        run = self.get_object()
        page = self.paginate_queryset(selectors.gate_result_list(project=self.project, run=run))
        return self.get_paginated_response([s.gate_result_dict(result) for result in page])
