from rest_framework import serializers

from experiments.models import ExperimentRun


class ExperimentRunStartSerializer(serializers.Serializer):
    """Input of POST /api/public/experiments/runs (camelCase, as the rest of the API)."""

    datasetName = serializers.CharField()
    runName = serializers.CharField(max_length=500)
    runDescription = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    metadata = serializers.JSONField(required=False, allow_null=True)
    promptName = serializers.CharField()
    promptVersion = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    promptLabel = serializers.CharField(required=False, allow_null=True)
    provider = serializers.CharField()
    model = serializers.CharField()
    modelParameters = serializers.DictField(required=False, allow_null=True)
    concurrency = serializers.IntegerField(required=False, default=8, min_value=1, max_value=64)


class ExperimentRunStatusSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="run_id")
    datasetId = serializers.CharField(source="dataset_id", allow_null=True)
    datasetName = serializers.SerializerMethodField()
    datasetVersion = serializers.DateTimeField(source="dataset_version", allow_null=True)
    progress = serializers.SerializerMethodField()
    totalCost = serializers.DecimalField(source="total_cost", max_digits=20, decimal_places=10, allow_null=True,
                                         coerce_to_string=False)
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = ExperimentRun
        fields = [
            "id", "name", "description", "metadata", "source", "status", "progress", "error", "config",
            "datasetId", "datasetName", "datasetVersion", "totalCost", "startedAt", "finishedAt", "createdAt",
            "updatedAt",
        ]

    def get_datasetName(self, run) -> str | None:
        return run.dataset.name if run.dataset_id else None

    def get_progress(self, run) -> dict:
        return {"total": run.progress_total, "done": run.progress_done, "failed": run.progress_failed}
