"""Loops beside a worker cluster start only after django-q forked (evalsite/jobs/cluster_loops.py)."""

import threading

from django.core.management import get_commands

from evalsite.jobs import cluster_loops as loops_module
from evalsite.jobs.cluster_loops import ClusterLoop, ClusterLoops, cluster_loops


def test_qcluster_is_our_command_which_starts_the_loops_after_the_cluster():
    assert get_commands()["qcluster"] == "evalsite"


def test_no_loop_runs_in_a_process_that_only_loaded_the_apps():
    names = {thread.name for thread in threading.enumerate()}
    assert not names & {loop.name for loop in cluster_loops}


def test_the_sweep_and_the_evaluation_dispatcher_are_registered():
    assert {loop.name for loop in cluster_loops} >= {"job-sweeper", "evaluation-dispatcher"}


def test_a_loop_outlives_a_failing_round(monkeypatch):
    rounds = []
    done, stop = threading.Event(), threading.Event()

    def step():
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("database hiccup")
        done.set()
        stop.set()

    registry = ClusterLoops()
    registry.register(ClusterLoop(name="test-loop", step=step, seconds=lambda: 0.01))
    monkeypatch.setattr(loops_module, "close_old_connections", lambda: None)
    [thread] = registry.start_all(stop)
    assert done.wait(5) and thread.daemon and rounds == [0, 1]
    thread.join(5)
    assert not thread.is_alive()
