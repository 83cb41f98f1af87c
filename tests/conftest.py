import threading

import pytest
from django.core.cache import caches

from evalsite.tenancy.roles import Role
from tests.support.api import ApiClient
from tests.tenancy.factories import ProjectFactory, api_key_for

KEY_ROLES = [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER, Role.ADMIN]


@pytest.fixture(autouse=True)
def reset_rate_limits():
    """Failed API-key authentications are counted per client, and every test client is 127.0.0.1:
    each test starts with a clean count (sign-in failures live in the database and roll back)."""
    caches["ratelimit"].clear()
    yield


@pytest.fixture
def project(db):
    return ProjectFactory(name="Project A")


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    """Stored media (traces/media) in a directory of each test, never var/media/."""
    root = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES, "media": {**settings.STORAGES["media"], "OPTIONS": {"location": root}}}
    return root


@pytest.fixture
def victim_project(db):
    """Another organization's project: nothing of it may ever be visible from `project`."""
    return ProjectFactory(name="Victim project")


@pytest.fixture
def api(project) -> ApiClient:
    """A client with an ADMIN key of `project` (the default role of a new key)."""
    return ApiClient(api_key_for(project, Role.ADMIN))


@pytest.fixture
def victim_api(victim_project) -> ApiClient:
    return ApiClient(api_key_for(victim_project, Role.ADMIN))


@pytest.fixture
def api_by_role(project) -> dict[Role, ApiClient]:
    return {role: ApiClient(api_key_for(project, role)) for role in KEY_ROLES}


def _quiet_late_live_server_closes(default_hook):
    """Drop one known, harmless traceback of live-server tests on SQLite.

    The live server shares the in-memory SQLite connection with its request threads. A client's
    keep-alive connection that closes after the server has stopped sharing it (at the end of the
    session) makes that request thread's `connections.close_all()` raise "DatabaseWrapper objects
    created in a thread can only be used in that same thread". Nothing is lost; any other thread
    error still goes to the default hook.
    """

    def hook(args):
        from django.db import DatabaseError

        if isinstance(args.exc_value, DatabaseError) and "same thread" in str(args.exc_value):
            frames = []
            tb = args.exc_traceback
            while tb is not None:
                frames.append(tb.tb_frame.f_code.co_name)
                tb = tb.tb_next
            if "_close_connections" in frames:
                return
        default_hook(args)

    return hook


threading.excepthook = _quiet_late_live_server_closes(threading.excepthook)
