"""`POST /api/public/annotation-queues/{queueId}/pairs` `{runId, baselineRunId}`: put the pairs of
two runs (same item, same trial) into a queue, for humans to say which output is better."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from annotations.api import QueueScopedMixin
from annotations.models import QueueItem
from annotations.pairs.services import queue_pairs_add
from evalsite.api.viewsets import ProjectScopedViewSet
from experiments.selectors import experiment_run_list_by_ids


class QueuePairsSerializer(serializers.Serializer):
    runId = serializers.CharField(max_length=128)  # noqa: N815
    baselineRunId = serializers.CharField(max_length=128)  # noqa: N815


class QueuePairsViewSet(QueueScopedMixin, ProjectScopedViewSet):
    queryset = QueueItem.objects.all()
    wire_field_names = {"baseline_run_id": "baselineRunId", "run_id": "runId"}

    def base_queryset(self):
        return QueueItem.objects.filter(queue=self.queue())

    @extend_schema(request=QueuePairsSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request, queue_id):
        body = QueuePairsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        queue = self.queue()
        run_id = body.validated_data["runId"]
        run = experiment_run_list_by_ids(project=self.project, run_ids=[run_id]).get(run_id)
        if run is None:
            raise NotFound(f"Experiment run not found: {run_id}")
        summary = queue_pairs_add(
            project=self.project, queue=queue, run=run, baseline_run_id=body.validated_data["baselineRunId"]
        )
        return Response(summary, status=status.HTTP_201_CREATED)
