"""The loop beside every `qcluster` that resumes abandoned jobs (README.md here).

django-q's Redis broker pops a task without acknowledgement, so a worker killed mid-job loses the
task with it. Each worker cluster therefore sweeps: every EVALSITE_JOB_SWEEP_SECONDS it
re-enqueues the jobs of every registered kind whose lease expired (`jobs_sweep`), and the next live
worker resumes them. It runs as a cluster loop (cluster_loops.py), started after the cluster forked.
"""

import logging

from evalsite.jobs.cluster_loops import ClusterLoop
from evalsite.jobs.leases import jobs_sweep, sweep_seconds

logger = logging.getLogger(__name__)


def sweep_once() -> None:
    for kind, pks in jobs_sweep().items():
        logger.warning("re-enqueued abandoned %s jobs %s", kind, pks)


SWEEPER = ClusterLoop(name="job-sweeper", step=sweep_once, seconds=sweep_seconds)
