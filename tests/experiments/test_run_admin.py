"""Platform runs in the admin: the "Start an experiment run" dataset action, progress and cancel on the run admin."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

import evalsite.llm.client
from datasets.services import dataset_upsert
from evalsite.llm.connections import llm_connection_create
from evalsite.tenancy.actors import SYSTEM
from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from experiments.models import ExperimentRun, RunItem, RunSource, RunStatus
from prompts.services import prompt_create
from tests.experiments.factories import ExperimentRunFactory
from tests.experiments.runner_setup import MODEL, runner_setup
from tests.support.fake_llm import FakeLLMServer
from tests.tenancy.factories import OrganizationMembershipFactory, user_with_role

pytestmark = pytest.mark.django_db

DATASETS = "admin:datasets_dataset_changelist"
RUNS = "admin:experiments_experimentrun_changelist"


@pytest.fixture
def llm():
    with FakeLLMServer(template="answer to: {last_user_message}") as server:
        yield server


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(evalsite.llm.client, "BACKOFF_BASE_SECONDS", 0.001)


@pytest.fixture
def setup(project, llm):
    return runner_setup(project, llm, items=5)


@pytest.fixture
def member(client, project):
    client.force_login(user_with_role(project, Role.MEMBER))
    return client


def start_action(client, datasets, **fields):
    """The action as the changelist posts it; with fields, as the intermediate form posts it back."""
    data = {"action": "start_experiment_run", "_selected_action": [dataset.pk for dataset in datasets]}
    if fields:
        data.update({"apply": "1", **fields})
    return client.post(reverse(DATASETS), data)


def valid_fields(**overrides) -> dict:
    return {
        "run_name": "admin run",
        "prompt": "qa/answer",
        "prompt_version": "",
        "prompt_label": "",
        "connection": "fake",
        "model": MODEL,
        "model_parameters": '{"temperature": 0}',
        "concurrency": "4",
        **overrides,
    }


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def options_of(html: str, field: str) -> list[str]:
    select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"', select)


def test_the_form_offers_only_the_datasets_project_prompts_and_connections(member, setup, victim_project):
    prompt_create(project=victim_project, name="victim/prompt", content="{{question}}", labels=["production"])
    llm_connection_create(project=victim_project, provider="victim-connection", secret_key="sk-victim")
    response = start_action(member, [setup.dataset])
    assert response.status_code == 200
    html = response.content.decode()
    assert options_of(html, "prompt") == ["qa/answer"]
    assert options_of(html, "connection") == ["fake"]
    assert f'<option value="{MODEL}">' in html  # the connection's custom models, as a datalist
    assert "victim" not in html
    assert not ExperimentRun.objects.exists()


def test_a_valid_submit_queues_a_run_that_the_worker_completes(
    member, project, setup, llm, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = start_action(member, [setup.dataset], **valid_fields())
        queued = ExperimentRun.objects.get(project=project, name="admin run")
        assert queued.status == RunStatus.QUEUED and queued.progress_total == 5
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:experiments_experimentrun_change", args=[queued.pk])
    assert messages_of(response) == ["Experiment run “admin run” queued over 5 item(s) of qa/set."]

    run = ExperimentRun.objects.get(pk=queued.pk)
    assert run.status == RunStatus.COMPLETED and run.source == RunSource.PLATFORM
    assert (run.progress_done, run.progress_failed) == (5, 0)
    assert run.config["modelParameters"] == {"temperature": 0} and run.config["concurrency"] == 4
    assert run.created_by == response.wsgi_request.user
    assert RunItem.objects.filter(run=run).count() == 5 and len(llm.chat_requests) == 5
    assert AuditLog.objects.filter(action="experiment_run.start", project=project, actor_user=run.created_by).exists()


def test_a_blank_run_name_is_made_of_the_dataset_prompt_and_model(member, project, setup):
    response = start_action(member, [setup.dataset], **valid_fields(run_name="", prompt_label="production"))
    assert response.status_code == 302
    run = ExperimentRun.objects.get(project=project)
    assert re.fullmatch(rf"qa/set qa/answer {MODEL} \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d", run.name)
    assert run.status == RunStatus.QUEUED  # not executed: the transaction's commit never came


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ("{temperature: 0}", "Not valid JSON"),
        ("[0.5]", "Must be a JSON object"),
        ('{"model": "other", "temperature": 0}', "The runner sets model itself"),
    ],
)
def test_bad_model_parameters_show_an_error_on_their_field_and_create_nothing(
    member, setup, parameters, message
):
    response = start_action(member, [setup.dataset], **valid_fields(model_parameters=parameters))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["model_parameters"])
    assert not ExperimentRun.objects.exists()


def test_an_unknown_prompt_version_is_refused_by_the_service_on_the_version_field(member, setup):
    response = start_action(member, [setup.dataset], **valid_fields(prompt_version="7"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["prompt_version"] == ["Prompt not found: 'qa/answer' with version 7"]
    assert "Prompt not found" in response.content.decode()
    assert not ExperimentRun.objects.exists()
    assert not AuditLog.objects.filter(action="experiment_run.start").exists()


def test_an_unknown_label_is_refused_on_the_label_field(member, setup):
    response = start_action(member, [setup.dataset], **valid_fields(prompt_label="staging"))
    assert response.context["form"].errors["prompt_label"] == ["Prompt not found: 'qa/answer' with label 'staging'"]
    assert not ExperimentRun.objects.exists()


def test_a_version_and_a_label_together_are_refused(member, setup):
    response = start_action(member, [setup.dataset], **valid_fields(prompt_version="1", prompt_label="production"))
    assert response.context["form"].errors["prompt_label"] == ["Give a prompt version or a label, not both."]
    assert not ExperimentRun.objects.exists()


def test_a_run_name_the_dataset_already_has_is_refused_on_the_run_name(member, project, setup):
    ExperimentRunFactory(project=project, dataset=setup.dataset, name="admin run")
    response = start_action(member, [setup.dataset], **valid_fields())
    assert response.status_code == 200
    assert response.context["form"].errors["run_name"] == ["dataset 'qa/set' already has a run named 'admin run'"]
    assert ExperimentRun.objects.count() == 1


def test_concurrency_is_bounded(member, setup):
    response = start_action(member, [setup.dataset], **valid_fields(concurrency="65"))
    assert "concurrency" in response.context["form"].errors
    assert not ExperimentRun.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_viewers_and_annotators_are_not_offered_the_action_and_cannot_post_it(client, project, setup, role):
    client.force_login(user_with_role(project, role))
    changelist = client.get(reverse(DATASETS)).content.decode()
    assert setup.dataset.name in changelist and "start_experiment_run" not in changelist
    response = start_action(client, [setup.dataset], **valid_fields())
    assert "Start the run" not in response.content.decode()  # the changelist again, not the form
    assert not ExperimentRun.objects.exists()


def test_a_member_elsewhere_cannot_start_a_run_on_a_dataset_they_only_view(client, project, victim_project, llm):
    user = user_with_role(project, Role.MEMBER)
    OrganizationMembershipFactory(organization=victim_project.organization, user=user, role=Role.VIEWER)
    theirs = runner_setup(victim_project, llm, items=2)
    client.force_login(user)
    response = start_action(client, [theirs.dataset], **valid_fields())
    assert response.status_code == 302
    assert messages_of(response) == ["Starting an experiment run needs the MEMBER role in the dataset's project."]
    assert not ExperimentRun.objects.exists()


def test_the_action_takes_exactly_one_dataset(member, project, setup):
    other = dataset_upsert(project=project, name="other", actor=SYSTEM)
    response = start_action(member, [setup.dataset, other])
    assert messages_of(response) == ["Select exactly one dataset to start an experiment run on."]


def test_a_project_without_a_connection_is_told_what_it_lacks(member, project):
    dataset = dataset_upsert(project=project, name="bare", actor=SYSTEM)
    prompt_create(project=project, name="p", content="{{input}}", labels=["production"])
    response = start_action(member, [dataset])
    assert messages_of(response) == ["Project Project A needs an LLM connection before a run can start."]


def test_the_run_changelist_shows_status_a_progress_bar_and_the_cost(
    member, project, django_assert_max_num_queries
):
    ExperimentRunFactory(
        project=project,
        source=RunSource.PLATFORM,
        status=RunStatus.RUNNING,
        progress_total=10,
        progress_done=4,
        progress_failed=1,
        total_cost=Decimal("0.0123"),
    )
    ExperimentRunFactory.create_batch(5, project=project)
    with django_assert_max_num_queries(11):
        html = member.get(reverse(RUNS)).content.decode()
    assert '<progress value="4" max="10"></progress> 4/10 (failed 1)' in html
    assert "$0.0123" in html and "running" in html


def test_the_run_page_shows_its_progress(member, project):
    run = ExperimentRunFactory(
        project=project, source=RunSource.PLATFORM, status=RunStatus.RUNNING, progress_total=8, progress_done=2
    )
    html = member.get(reverse("admin:experiments_experimentrun_change", args=[run.pk])).content.decode()
    assert '<progress value="2" max="8"></progress> 2/8 · 25% · 2 recorded, 0 failed, 8 in total' in html


def cancel_action(client, runs):
    return client.post(reverse(RUNS), {"action": "cancel_selected_runs", "_selected_action": [run.pk for run in runs]})


def test_cancel_selected_runs_cancels_queued_runs_and_leaves_finished_ones(member, project):
    queued = ExperimentRunFactory(project=project, source=RunSource.PLATFORM, status=RunStatus.QUEUED)
    finished = ExperimentRunFactory(project=project, source=RunSource.PLATFORM, status=RunStatus.COMPLETED)
    response = cancel_action(member, [queued, finished])
    assert messages_of(response) == [
        "Cancelled 1 run(s).",
        "1 run(s) had already finished and were left as they are.",
    ]
    queued.refresh_from_db()
    finished.refresh_from_db()
    assert queued.status == RunStatus.CANCELLED and queued.finished_at is not None
    assert finished.status == RunStatus.COMPLETED
    assert AuditLog.objects.filter(action="experiment_run.cancel", project=project).count() == 1


def test_a_viewer_is_not_offered_cancel_and_cannot_post_it(client, project):
    run = ExperimentRunFactory(project=project, source=RunSource.PLATFORM, status=RunStatus.QUEUED)
    client.force_login(user_with_role(project, Role.VIEWER))
    assert "cancel_selected_runs" not in client.get(reverse(RUNS)).content.decode()
    cancel_action(client, [run])
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED


def test_a_member_elsewhere_cannot_cancel_a_run_they_only_view(client, project, victim_project):
    user = user_with_role(project, Role.MEMBER)
    OrganizationMembershipFactory(organization=victim_project.organization, user=user, role=Role.VIEWER)
    theirs = ExperimentRunFactory(project=victim_project, source=RunSource.PLATFORM, status=RunStatus.QUEUED)
    client.force_login(user)
    response = cancel_action(client, [theirs])
    assert messages_of(response) == ["1 run(s) were not cancelled: that needs the MEMBER role in their project."]
    theirs.refresh_from_db()
    assert theirs.status == RunStatus.QUEUED


def test_staff_of_another_project_can_neither_see_nor_cancel_the_run(client, project, victim_project):
    run = ExperimentRunFactory(project=project, name="private run", source=RunSource.PLATFORM, status=RunStatus.QUEUED)
    client.force_login(user_with_role(victim_project, Role.OWNER))
    assert "private run" not in client.get(reverse(RUNS)).content.decode()
    page = client.get(reverse("admin:experiments_experimentrun_change", args=[run.pk]))
    assert page.status_code in (302, 404)
    cancel_action(client, [run])
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
