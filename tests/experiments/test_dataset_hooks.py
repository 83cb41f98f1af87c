"""experiments adds to the datasets app only through datasets/hooks.py, from its AppConfig.ready()."""

from django.apps import apps

from datasets import hooks
from experiments import admin, selectors


def test_experiments_registers_the_run_action_the_run_list_and_the_run_names_of_datasets():
    assert admin.start_experiment_run in hooks.dataset_admin_actions
    assert admin.dataset_runs_overview in hooks.dataset_admin_overview_sections
    assert selectors.experiment_run_names_by_dataset in hooks.dataset_run_names


def test_registering_again_changes_nothing():
    points = (hooks.dataset_admin_actions, hooks.dataset_admin_overview_sections, hooks.dataset_run_names)
    before = [list(point) for point in points]
    apps.get_app_config("experiments")._register_dataset_hooks()
    assert [list(point) for point in points] == before
