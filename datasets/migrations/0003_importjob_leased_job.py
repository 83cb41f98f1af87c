"""ImportJob becomes a leased job (evalsite/jobs): the shared progress and error names, and a lease."""

from django.db import migrations, models


def clear_completed_summaries(apps, schema_editor):
    # `message` held either why a job failed or a completed job's summary; as `error` it holds only
    # the former, and the summary is now derived from the counters (ImportJob.message).
    ImportJob = apps.get_model("datasets", "ImportJob")
    ImportJob.objects.filter(status="completed").update(error=None)


def restore_completed_summaries(apps, schema_editor):
    ImportJob = apps.get_model("datasets", "ImportJob")
    for job in ImportJob.objects.filter(status="completed").only("pk", "progress_added", "progress_failed"):
        summary = f"Added {job.progress_added} items"
        if job.progress_failed:
            summary += f"; {job.progress_failed} invalid rows were skipped"
        ImportJob.objects.filter(pk=job.pk).update(error=summary)


class Migration(migrations.Migration):

    dependencies = [
        ("datasets", "0002_importjob_item_timestamps"),
    ]

    operations = [
        migrations.RenameField(model_name="importjob", old_name="rows_total", new_name="progress_total"),
        migrations.RenameField(model_name="importjob", old_name="rows_done", new_name="progress_done"),
        migrations.RenameField(model_name="importjob", old_name="rows_failed", new_name="progress_failed"),
        migrations.RenameField(model_name="importjob", old_name="rows_added", new_name="progress_added"),
        migrations.RenameField(model_name="importjob", old_name="message", new_name="error"),
        migrations.AlterField(
            model_name="importjob",
            name="error",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="importjob",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("completed", "Completed"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                default="queued",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="importjob",
            name="lease_token",
            field=models.CharField(blank=True, editable=False, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="importjob",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(clear_completed_summaries, restore_completed_summaries),
    ]
