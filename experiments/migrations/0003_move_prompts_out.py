"""Prompt and PromptLabel now belong to the prompts app (prompts/migrations/0001_initial.py).

State only: the tables `experiments_prompt` and `experiments_promptlabel` stay, with their data,
and are the prompts app's tables from now on. This runs after the prompts app has taken the
models into its state, so the models are never missing from the state while their tables exist.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0002_run_lease"),
        ("prompts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="PromptLabel"),
                migrations.DeleteModel(name="Prompt"),
            ],
            database_operations=[],
        ),
    ]
