"""Threads that run beside a `qcluster`: the job sweep, and any loop an app registers.

django-q forks its sentinel from the `qcluster` process, and the sentinel forks the workers, the
pusher and the monitor (again whenever one dies or is recycled). A thread that holds a lock at
the moment of a fork (the logging lock, a database or Redis connection's) leaves that lock held
forever in the child, whose first use of it then hangs. So no loop starts in `AppConfig.ready()`:
apps only register them in `cluster_loops`, and our `qcluster` command starts them in the
`qcluster` process once the sentinel is forked. That process never forks again, and the sentinel,
which does, has none of these threads.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterLoop:
    name: str
    step: Callable[[], object]
    seconds: Callable[[], float]  # read when the loop starts, so settings changed in tests apply


class ClusterLoops:
    def __init__(self):
        self._loops: dict[str, ClusterLoop] = {}

    def register(self, loop: ClusterLoop) -> None:
        self._loops[loop.name] = loop

    def __iter__(self):
        return iter(self._loops.values())

    def start_all(self, stop: threading.Event | None = None) -> list[threading.Thread]:
        """Daemon threads, one per loop; they end with the process, or when `stop` is set."""
        stop = stop or threading.Event()
        threads = [threading.Thread(target=_run, args=(loop, stop), name=loop.name, daemon=True) for loop in self]
        for thread in threads:
            thread.start()
        return threads


cluster_loops = ClusterLoops()


def _run(loop: ClusterLoop, stop: threading.Event) -> None:
    interval = loop.seconds()
    while not stop.is_set():
        try:
            loop.step()
        except Exception:  # a loop must outlive a database hiccup: it costs one round
            logger.exception("%s failed", loop.name)
        finally:
            close_old_connections()
        stop.wait(interval)
