"""The CI commands: `manage.py gate` on the server, and the stdlib client (`python -m
experiments.gates.client`) run as a CI job runs it, in its own process against a live server with
only an API key; both exit 0 on pass, 1 on fail or cannot tell (configurable), the client 2 on errors."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from experiments.gates import client
from experiments.gates.models import GateResult
from experiments.gates.services import run_release_mark
from tests.datasets.factories import DatasetFactory
from tests.experiments.factories import gate_policy, scored_runs
from tests.tenancy.factories import ProjectFactory, api_key_for

ROOT = Path(__file__).resolve().parents[2]
GOOD = [0.8, 0.9, 0.7, 0.85, 0.95, 0.75, 0.8, 0.9, 0.7, 0.85]
RULES = [
    {"type": "minMean", "score": "accuracy", "threshold": 0.6},
    {"type": "nonInferiority", "score": "accuracy", "delta": 0.05, "minPairs": 10},
]


def setup_runs(project):
    """A released v1; v2 alike (pass), v3 far worse (fail), v4 on only 4 items (cannot tell)."""
    dataset = DatasetFactory(project=project, name="qa")
    runs = scored_runs(
        project,
        {
            "v1": GOOD,
            "v2": [v + d for v, d in zip(GOOD, [0.01, -0.01] * 5, strict=True)],
            "v3": [v - 0.4 for v in GOOD],
            "v4": GOOD[:4] + [None] * 6,
        },
    )
    for run in runs:
        run.dataset = dataset
        run.save()
    run_release_mark(project=project, run=runs[0])
    gate_policy(project, "release", rules=RULES)
    return runs


@pytest.mark.django_db
@pytest.mark.parametrize(
    "candidate,extra,code,outcome",
    [("v2", [], 0, "PASS"), ("v3", [], 1, "FAIL"), ("v4", [], 1, "CANNOT TELL"), ("v4", ["--cannot-tell", "pass"], 0, "CANNOT TELL")],
)
def test_manage_py_gate_prints_the_table_and_exits_by_the_outcome(project, candidate, extra, code, outcome):
    setup_runs(project)
    out = io.StringIO()
    if code:
        with pytest.raises(SystemExit) as raised:
            call_command("gate", "release", candidate, "--project", project.pk, *extra, stdout=out)
        assert raised.value.code == code
    else:
        call_command("gate", "release", candidate, "--project", project.pk, *extra, stdout=out)
    text = out.getvalue()
    assert f"gate release v1: {outcome} — candidate {candidate}" in text and "nonInferiority" in text
    assert GateResult.objects.filter(project=project, run__name=candidate).count() == 1


@pytest.mark.django_db
def test_manage_py_gate_refuses_unknown_gates_and_candidates(project):
    setup_runs(project)
    with pytest.raises(CommandError, match="no gate policy named 'nope'"):
        call_command("gate", "nope", "v2", "--project", project.pk, stdout=io.StringIO())
    with pytest.raises(CommandError, match="candidate: no experiment run"):
        call_command("gate", "release", "v9", "--project", project.pk, stdout=io.StringIO())


def test_the_table_shows_every_rules_figures_and_why_it_could_not_decide():
    result = {
        "gate": "release", "version": 3, "outcome": "cannot_tell",
        "candidate": {"id": "c1", "name": "nightly"}, "baseline": {"id": "b1", "name": "v1"}, "baselineNote": None,
        "rules": [
            {"type": "minMean", "score": "accuracy", "outcome": "pass", "value": 0.8123456, "bound": 0.8,
             "pValue": None, "ciLow": 0.75, "ciHigh": 0.86, "n": 40, "requiredN": None, "reason": None},
            {"type": "nonInferiority", "score": "accuracy", "outcome": "cannot_tell", "value": -0.01, "bound": -0.02,
             "pValue": 0.21, "ciLow": -0.04, "ciHigh": 0.02, "n": 40, "requiredN": 212, "reason": "the interval contains −0.02"},
        ],
    }
    lines = client.render(result).splitlines()
    assert lines[0] == "gate release v3: CANNOT TELL — candidate nightly (c1) vs baseline v1 (b1)"
    assert lines[2].split() == list(client.COLUMNS)
    assert lines[3].split() == ["1.", "minMean", "accuracy", "pass", "0.8123", "0.8", "[0.75,", "0.86]", "40"]
    assert lines[4].split() == [
        "2.", "nonInferiority", "accuracy", "cannot", "tell", "-0.01", "-0.02", "0.21", "[-0.04,", "0.02]", "40", "212"
    ]
    assert lines[-1] == "  2. the interval contains −0.02"
    assert client.exit_code("pass") == 0 and client.exit_code("fail", cannot_tell_passes=True) == 1
    assert client.exit_code("cannot_tell") == 1 and client.exit_code("cannot_tell", cannot_tell_passes=True) == 0


def run_client(live_server, key, *args, **env_overrides):
    env = {
        **os.environ,
        "LANGFUSE_BASE_URL": live_server.url,
        "LANGFUSE_PUBLIC_KEY": key.public_key,
        "LANGFUSE_SECRET_KEY": key.secret_key,
        **env_overrides,
    }
    # Only the key and the URL: no settings module, no database for the client process.
    for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "experiments.gates.client", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_ci_client_exits_by_the_outcome_against_a_live_server(live_server):
    project = ProjectFactory()
    setup_runs(project)
    key = api_key_for(project)

    passed = run_client(live_server, key, "release", "v2")
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.startswith("gate release v1: PASS — candidate v2")

    failed = run_client(live_server, key, "release", "v3")
    assert failed.returncode == 1 and "FAIL" in failed.stdout.splitlines()[0]

    undecided = run_client(live_server, key, "release", "v4")
    assert undecided.returncode == 1 and "CANNOT TELL" in undecided.stdout.splitlines()[0]
    assert "4 paired item(s), the rule needs at least 10" in undecided.stdout
    assert run_client(live_server, key, "release", "v4", "--cannot-tell", "pass").returncode == 0

    as_json = run_client(live_server, key, "release", "v2", "--json")
    assert as_json.returncode == 0 and '"outcome": "pass"' in as_json.stdout

    unknown = run_client(live_server, key, "release", "v9")
    assert unknown.returncode == 2 and "400" in unknown.stderr and "candidate" in unknown.stderr
    wrong_key = run_client(live_server, key, "release", "v2", LANGFUSE_SECRET_KEY="sk-lf-wrong")
    assert wrong_key.returncode == 2 and "401" in wrong_key.stderr
    other_project = api_key_for(ProjectFactory())
    assert run_client(live_server, other_project, "release", "v2").returncode == 2  # not its gate: 404
    assert GateResult.objects.filter(project=project).count() == 5


def test_the_client_without_a_server_or_key_is_an_error_exit(capsys, monkeypatch):
    for name in ("LANGFUSE_BASE_URL", "LANGFUSE_HOST", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert client.main(["release", "v2"]) == 2
    assert "missing --host, --public-key, --secret-key" in capsys.readouterr().err
    # A port nothing listens on: unreachable is an error, not a failed gate.
    assert client.main(["release", "v2", "--host", "http://127.0.0.1:9", "--public-key", "pk", "--secret-key", "sk"]) == 2
