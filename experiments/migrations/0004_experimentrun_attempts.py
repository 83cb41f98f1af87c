"""ExperimentRun becomes a leased job (evalsite/jobs): it only gains the attempt counter."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("experiments", "0003_move_prompts_out"),
    ]

    operations = [
        migrations.AddField(
            model_name="experimentrun",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
