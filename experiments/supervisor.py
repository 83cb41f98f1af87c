"""Resumes abandoned runs from inside every worker cluster.

django-q's Redis broker pops a task without acknowledgement, so a worker killed mid-run loses the
task with it. Each `qcluster` process therefore runs this small thread: every few seconds it
re-enqueues runs whose lease has expired (experiment_runs_resume_stale), so the next live worker
resumes them. It starts a few seconds late, after the cluster has forked its processes, so no
forked child inherits its database connection.
"""

import logging
import sys
import threading

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def running_as_worker_cluster() -> bool:
    return len(sys.argv) > 1 and sys.argv[1] == "qcluster"


def start() -> threading.Thread:
    thread = threading.Thread(target=_loop, name="run-supervisor", daemon=True)
    thread.start()
    return thread


def _loop() -> None:
    from experiments.run_services import experiment_runs_resume_stale

    interval = settings.EVALSITE_RUN_SWEEP_SECONDS
    stop = threading.Event()
    stop.wait(min(5.0, interval))
    while True:
        try:
            resumed = experiment_runs_resume_stale()
            if resumed:
                logger.warning("re-enqueued abandoned experiment runs %s", resumed)
        except Exception:  # the supervisor must outlive a database hiccup
            logger.exception("run supervisor sweep failed")
        finally:
            close_old_connections()
        stop.wait(interval)
