"""`manage.py qcluster`: django-q's worker cluster, then the registered cluster loops.

This command takes the place of django-q's own (the `evalsite` app comes before nothing that
would shadow it, and Django lets an app's command override one of a later app). It starts the
cluster first and the loops after, so no fork inherits a loop's locks (evalsite/jobs/cluster_loops.py).
"""

import os

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as DjangoQCommand

from evalsite.jobs.cluster_loops import cluster_loops


class Command(DjangoQCommand):
    def handle(self, *args, **options):
        settings.SECRET_KEY  # noqa: B018  (as django-q's: refuse to start without a signing key)
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        cluster = Cluster()
        cluster.start()
        if options.get("run_once"):
            cluster.stop()
            return
        cluster_loops.start_all()
        # Returning leaves the process joining the sentinel at exit (multiprocessing's atexit),
        # as django-q's command does; the loops are daemon threads and run until then.
