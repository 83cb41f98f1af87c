"""The thread in every `qcluster` process that resumes abandoned jobs (README.md here).

django-q's Redis broker pops a task without acknowledgement, so a worker killed mid-job loses the
task with it. Each worker cluster therefore runs this thread: every EVALSITE_JOB_SWEEP_SECONDS it
re-enqueues the jobs of every registered kind whose lease expired (`jobs_sweep`), and the next live
worker resumes them. It starts a few seconds late, after the cluster has forked its processes, so
no forked child inherits its database connection.
"""

import logging
import sys
import threading

from django.db import close_old_connections

from evalsite.jobs.leases import jobs_sweep, sweep_seconds

logger = logging.getLogger(__name__)


def running_as_worker_cluster() -> bool:
    return len(sys.argv) > 1 and sys.argv[1] == "qcluster"


def start() -> threading.Thread:
    thread = threading.Thread(target=_loop, name="job-sweeper", daemon=True)
    thread.start()
    return thread


def _loop() -> None:
    interval = sweep_seconds()
    stop = threading.Event()
    stop.wait(min(5.0, interval))
    while True:
        try:
            for kind, pks in jobs_sweep().items():
                logger.warning("re-enqueued abandoned %s jobs %s", kind, pks)
        except Exception:  # the sweeper must outlive a database hiccup
            logger.exception("job sweep failed")
        finally:
            close_old_connections()
        stop.wait(interval)
