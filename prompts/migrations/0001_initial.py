"""Prompt and PromptLabel move here from the experiments app; their tables stay where they are.

The tables were created by experiments/migrations/0001_initial.py and keep their names
(`db_table`), columns, indexes and constraints, so this migration only tells Django's state that
the models now belong to `prompts` (database_operations is empty). experiments/migrations/
0003_move_prompts_out.py, which depends on this one, then removes them from experiments' state.
For the span between the two, both apps' states hold the models on the same tables: nothing
points at the experiments copy, so that is harmless, and it means that at no point does a state
lack the models while the tables exist.

The content types are renamed too (when they exist), so the admin's history of prompts and any
permission granted on them follow the models instead of being left on a dead app label.
"""

import django.db.models.deletion
from django.db import migrations, models

import evalsite.tenancy.models

MOVED_MODELS = ["prompt", "promptlabel"]


def content_types_to(apps, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED_MODELS:
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def content_types_forward(apps, schema_editor) -> None:
    content_types_to(apps, "experiments", "prompts")


def content_types_backward(apps, schema_editor) -> None:
    content_types_to(apps, "prompts", "experiments")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("evalsite", "0001_initial"),
        # Created the two tables this migration adopts.
        ("experiments", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Prompt",
                    fields=[
                        ("id", models.CharField(default=evalsite.tenancy.models.new_id, editable=False, max_length=64, primary_key=True, serialize=False)),
                        ("name", models.CharField(help_text="May contain '/' (folders)", max_length=500)),
                        ("version", models.PositiveIntegerField()),
                        ("type", models.CharField(choices=[("text", "Text"), ("chat", "Chat")], default="text", max_length=10)),
                        ("prompt", models.JSONField(help_text="A string (text) or a list of messages (chat)")),
                        ("config", models.JSONField(blank=True, default=dict)),
                        ("tags", models.JSONField(blank=True, default=list)),
                        ("commit_message", models.TextField(blank=True, null=True)),
                        ("created_by", models.CharField(blank=True, max_length=200, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="evalsite.project")),
                    ],
                    options={
                        "db_table": "experiments_prompt",
                        "ordering": ["name", "-version"],
                        "constraints": [
                            models.UniqueConstraint(fields=("project", "name", "version"), name="prompt_version_unique"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="PromptLabel",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=500)),
                        ("label", models.CharField(max_length=100)),
                        ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="evalsite.project")),
                        ("prompt", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="label_rows", to="prompts.prompt")),
                    ],
                    options={
                        "db_table": "experiments_promptlabel",
                        "constraints": [
                            models.UniqueConstraint(fields=("project", "name", "label"), name="promptlabel_unique_per_name"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_backward, elidable=True),
    ]
