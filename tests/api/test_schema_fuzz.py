"""Fuzzes every /api/public/ operation of the OpenAPI schema (schemathesis) and fails on any 5xx.

Each operation gets `FUZZ_EXAMPLES` generated requests (path, query and body from the schema,
valid and not), sent with an ADMIN key of a project seeded with one row of everything. Path ids
are, about half the time, the seeded rows' ids, so reads, updates and deletes reach real rows.
Every request runs in a savepoint rolled back afterwards: each one sees the same seeded project,
and a request that breaks the transaction (on PostgreSQL) cannot fail the ones after it.

Besides "no 5xx", an error answer must be JSON (DESIGN.md §5).

Runs on PostgreSQL, the production database, where most such failures live (NUL in text
parameters, JSON it refuses); on SQLite only a few examples per operation run, as a smoke test.
Derandomized, so a failure reproduces; no shrinking, so the run stays bounded. The failure message
holds a curl command that replays the request.
"""

import logging
import zlib
from contextlib import contextmanager

import hypothesis
import pytest
import requests
import schemathesis
from django.db import connection, transaction
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase

from evalsite.api import middleware
from evalsite.tenancy.roles import Role
from experiments.gates.services import run_release_mark
from tests.annotations.factories import CommentFactory, QueueFactory, QueueItemFactory, QueueRuleFactory
from tests.datasets.factories import DatasetFactory, DatasetItemFactory, ImportJobFactory
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory, gate_policy
from tests.llm.admin_object_factories import make_connection
from tests.prompts.factories import text_prompt
from tests.scoring.factories import ScoreConfigFactory, ScoreFactory
from tests.support.api import basic_auth
from tests.tenancy.factories import api_key_for
from tests.traces.factories import ModelPriceFactory, ObservationFactory, TraceFactory
from tests.traces.media.factories import media_id_of, stored_media

ON_POSTGRESQL = connection.vendor == "postgresql"
# Generated requests per operation. On PostgreSQL the coverage phase adds schemathesis's
# deterministic boundary cases (every missing or wrong-typed parameter, unexpected methods…): about
# 4,000 requests in all, under a minute on 2 cores. SQLite gets a smoke test of a few cases each.
FUZZ_EXAMPLES = 20 if ON_POSTGRESQL else 3
PHASES = ["examples", "coverage", "fuzzing"] if ON_POSTGRESQL else ["examples", "fuzzing"]

# Operations the fuzz leaves out, each for a named reason. Nothing else may be left out.
NOT_FUZZED: dict[str, str] = {}


def public_api_schema() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    schema["paths"] = {path: ops for path, ops in schema["paths"].items() if path.startswith("/api/public/")}
    return schema


schema = schemathesis.openapi.from_dict(public_api_schema())
schema.config.phases.update(phases=PHASES)
# OTLP's protobuf body: schemathesis generates the bytes, sent as they are.
schemathesis.serializer.alias("application/x-protobuf", "application/octet-stream")

# The seeded rows' ids, by the name of the path parameter, query parameter or body field naming them.
SEEDED_IDS = {
    "trace_id": "trace-1", "traceId": "trace-1", "sourceTraceId": "trace-1",
    "observation_id": "observation-1", "observationId": "observation-1", "sourceObservationId": "observation-1",
    "parentObservationId": "observation-1",
    "session_id": "session-1", "sessionId": "session-1",
    "score_id": "score-1", "scoreIds": "score-1",
    "config_id": "config-1", "configId": "config-1",
    "dataset_name": "dataset-1", "datasetName": "dataset-1", "datasetId": "dataset-1",
    "item_id": "item-1", "datasetItemId": "item-1", "experimentItemId": "item-1",
    "job_id": "import-1",
    "run_id": "run-1", "run_name": "run-1", "runName": "run-1", "experimentName": "run-1", "experimentId": "run-1",
    "datasetRunId": "run-1", "baseline": "run-1", "candidate": "run-1",
    "prompt_name": "prompt-1", "name": "prompt-1", "promptName": "prompt-1",
    "version": 1,
    "connection_id": "connection-1",
    "price_id": "price-1",
    "gate_name": "gate-1",
    "queue_id": "queue-1", "comment_id": "comment-1", "rule_id": "rule-1",
    "media_id": media_id_of(b"media-1"),
}


def with_seeded_ids(case) -> None:
    """Half the cases (picked by a hash of the case, so a run repeats) name the seeded rows in their
    path, query and body instead of generated values, so they reach real rows."""
    if zlib.crc32(repr((case.method, case.path, case.path_parameters, case.query, case.body)).encode()) % 2:
        return
    for location in ("path_parameters", "query", "body"):
        values = getattr(case, location)
        if isinstance(values, dict) and any(name in SEEDED_IDS for name in values):
            setattr(case, location, {name: SEEDED_IDS.get(name, value) for name, value in values.items()})


def seed(project) -> None:
    trace = TraceFactory(project=project, trace_id="trace-1", session_id="session-1", metadata={"k": "v"})
    ObservationFactory(trace=trace, observation_id="observation-1", metadata={"k": "v"})
    config = ScoreConfigFactory(project=project, id="config-1", name="quality")
    ScoreFactory(project=project, score_id="score-1", trace_id="trace-1", name="quality", config=config)
    dataset = DatasetFactory(project=project, id="dataset-1", name="dataset-1")
    DatasetItemFactory(dataset=dataset, item_id="item-1", source_trace_id="trace-1")
    ImportJobFactory(dataset=dataset, id="import-1")
    run = ExperimentRunFactory(project=project, run_id="run-1", name="run-1", dataset=dataset)
    RunItemFactory(run=run, trace_id="trace-1")
    text_prompt(project, name="prompt-1", labels=["production"])
    connection_row = make_connection(project)
    type(connection_row).objects.filter(pk=connection_row.pk).update(id="connection-1")
    ModelPriceFactory(project=project, id="price-1")
    run_release_mark(project=project, run=run)
    gate_policy(project, "gate-1", rules=[{"type": "minMean", "score": "quality", "threshold": 0.5}])
    queue = QueueFactory(project=project, id="queue-1", score_config_ids=["config-1"])
    QueueItemFactory(queue=queue, id="item-1", object_id="trace-1")
    QueueRuleFactory(queue=queue, id="rule-1", score_name="quality")
    CommentFactory(project=project, id="comment-1", object_id="trace-1")
    stored_media(project, b"media-1", "text/plain", trace_id="trace-1")


@pytest.fixture
def seeded_key(db, project):
    seed(project)
    return api_key_for(project, Role.ADMIN)


def send(client: Client, case, authorization: str):
    """The case as Django's test client request (in this thread and test transaction), encoded by
    `requests` exactly as schemathesis would send it over the network."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers={"Authorization": authorization})
    prepared = requests.Request(
        method=kwargs["method"], url=kwargs["url"], headers=kwargs.get("headers"), params=kwargs.get("params"),
        data=kwargs.get("data"), json=kwargs.get("json"), files=kwargs.get("files"),
    ).prepare()
    path, _, query = prepared.path_url.partition("?")
    headers = {name: value for name, value in prepared.headers.items() if name.lower() not in ("content-type", "content-length")}
    body = prepared.body or b""
    return client.generic(
        prepared.method, path, data=body.encode() if isinstance(body, str) else body,
        content_type=prepared.headers.get("Content-Type", ""), QUERY_STRING=query, headers=headers,
    )


@schema.parametrize()
@hypothesis.settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_public_api_operation_answers_a_server_error(case, seeded_key):
    operation = f"{case.method.upper()} {case.path}"
    if operation in NOT_FUZZED:
        pytest.skip(NOT_FUZZED[operation])
    with_seeded_ids(case)
    client = Client(raise_request_exception=False)
    authorization = basic_auth(seeded_key.public_key, seeded_key.secret_key)
    savepoint = transaction.savepoint()
    try:
        with unhandled_errors() as errors:
            response = send(client, case, authorization)
    finally:
        transaction.savepoint_rollback(savepoint)
        transaction.set_rollback(False)  # back at the savepoint: the transaction is usable again
    replay = case.as_curl_command(headers={"Authorization": authorization}, base_url="http://127.0.0.1:8000")
    assert response.status_code < 500, f"{response.status_code} {'; '.join(errors)}\n{replay}"
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), f"{response.status_code} not JSON\n{replay}"


@contextmanager
def unhandled_errors():
    """The errors the API's middleware turned into a 500 (it logs them), for the failure message."""
    errors: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.exc_info:
                errors.append(f"{record.exc_info[0].__name__}: {record.exc_info[1]}")

    handler = Collect()
    logger = logging.getLogger(middleware.__name__)
    logger.addHandler(handler)
    try:
        yield errors
    finally:
        logger.removeHandler(handler)


def test_the_fuzz_covers_every_public_api_operation():
    operations = {f"{method.upper()} {path}" for path, ops in public_api_schema()["paths"].items() for method in ops}
    assert len(operations) > 60
    assert set(NOT_FUZZED) <= operations, "an exclusion names an operation that no longer exists"
