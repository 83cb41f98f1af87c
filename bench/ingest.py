"""Ingestion throughput: OTLP spans and API scores, end to end, against a plain multi-row INSERT.

    .venv/bin/python -m bench.ingest [--requests 60] [--score-requests 300] [--senders 4] [--database NAME]
    .venv/bin/python -m bench.ingest --large-spans 250000
    .venv/bin/python -m bench.ingest --rules 10      # with 10 enabled online evaluation rules

Starts gunicorn (2 workers) on a fresh PostgreSQL database, sends gzip'd OTLP protobuf requests of
512 spans (~1 KB of input/output each) and score arrays of 100 from concurrent senders, checks that
every span and score is stored when the last 2xx returns, then times a plain multi-row INSERT of
the same rows into the same tables over as many connections, for comparison. The peak RSS of each
web worker (VmHWM) is printed after each phase.

With --large-spans N it sends instead one gzip'd request of N minimal spans (no attributes) to
fresh workers under gunicorn's default 30 s timeout, and prints the answer, its time, the spans
stored and the workers' peak RSS: what one oversized export costs a worker.

With --rules N, N enabled evaluation rules (a filter that matches about half the traces, 10%
sampling, a deterministic check) exist before the OTLP phase: the request then only hands the
stored ids to the matching task after its commit (evaluators/online.py). No worker runs, so the
figures are the request path's alone; compare with a run without --rules.
"""

import argparse
import gzip
import http.client
import json
import os
import queue
import threading
import time
import uuid
from datetime import UTC, datetime

import psycopg
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from bench.harness import gunicorn_site, percentile, progress, report, workers_peak_rss

SPANS_PER_REQUEST = 512
SPANS_PER_TRACE = 16
SCORES_PER_REQUEST = 100
PAYLOAD_TEXT = ("The quick brown fox jumps over the lazy dog. " * 12)[:500]


def attr(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def otlp_body(request_index: int) -> tuple[bytes, list[tuple]]:
    """One gzip'd export request, and the rows a plain INSERT of the same spans would write."""
    now_ns = time.time_ns()
    spans, rows = [], []
    for t in range(SPANS_PER_REQUEST // SPANS_PER_TRACE):
        trace_id = uuid.uuid4().bytes
        root_id = os.urandom(8)
        for s in range(SPANS_PER_TRACE):
            span_id = root_id if s == 0 else os.urandom(8)
            is_generation = s % 4 == 1
            start = now_ns + s * 1_000_000
            attributes = [
                attr("langfuse.observation.type", "generation" if is_generation else "span"),
                attr("langfuse.observation.input", json.dumps({"question": PAYLOAD_TEXT, "i": s})),
                attr("langfuse.observation.output", json.dumps({"answer": PAYLOAD_TEXT})),
                attr("langfuse.observation.metadata.step", json.dumps(f"step-{s}")),
                attr("user.id", f"user-{request_index % 17}"),
                attr("session.id", f"session-{request_index}-{t}"),
                attr("langfuse.environment", "bench"),
            ]
            if is_generation:
                attributes += [
                    attr("langfuse.observation.model.name", "gpt-4o-mini"),
                    attr("langfuse.observation.usage_details", json.dumps({"input": 120, "output": 40, "total": 160})),
                ]
            if s == 0:
                attributes.append(attr("langfuse.trace.name", f"bench-trace-{t}"))
            spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=span_id,
                    parent_span_id=b"" if s == 0 else root_id,
                    name=f"step-{s}",
                    start_time_unix_nano=start,
                    end_time_unix_nano=start + 500_000,
                    attributes=attributes,
                )
            )
            rows.append((trace_id.hex(), span_id.hex(), None if s == 0 else root_id.hex(), s, is_generation))
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[attr("service.name", "bench"), attr("telemetry.sdk.language", "python")]),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="langfuse-sdk", version="5.0.4"), spans=spans)],
            )
        ]
    )
    return gzip.compress(request.SerializeToString(), compresslevel=6), rows


def score_body(request_index: int) -> tuple[bytes, list[dict]]:
    scores = [
        {
            "id": uuid.uuid4().hex[:16],
            "traceId": uuid.uuid4().hex,
            "name": f"metric-{i % 5}",
            "value": (i % 10) / 10,
            "dataType": "NUMERIC",
            "comment": "bench",
            "environment": "bench",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        for i in range(SCORES_PER_REQUEST)
    ]
    return json.dumps(scores).encode(), scores


def send_all(site, path: str, bodies: list[bytes], headers: dict, senders: int, label: str):
    """Send every body from `senders` keep-alive connections; return (seconds, latencies, statuses)."""
    work: queue.Queue = queue.Queue()
    for body in bodies:
        work.put(body)
    latencies, statuses, lock = [], [], threading.Lock()
    host, port = site.base_url.removeprefix("http://").split(":")

    def sender():
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            started = time.perf_counter()
            conn.request("POST", path, body=body, headers={**headers, "Authorization": site.authorization})
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses.append(response.status)
                progress(label, len(statuses), len(bodies))
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, statuses


def count(database_url: str, table: str, project_id: str) -> int:
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as conn:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE project_id = %s", [project_id]).fetchone()[0]


def plain_insert(database_url: str, sql_prefix: str, batches: list[list[tuple]], connections: int) -> float:
    """Multi-row INSERTs of prepared rows, one batch per statement and commit, over N connections."""
    work: queue.Queue = queue.Queue()
    for batch in batches:
        work.put(batch)

    def worker():
        with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as conn:
            while True:
                try:
                    batch = work.get_nowait()
                except queue.Empty:
                    return
                placeholders = ",".join(["(" + ",".join(["%s"] * len(batch[0])) + ")"] * len(batch))
                conn.execute(sql_prefix + placeholders, [value for row in batch for value in row])
                conn.commit()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


OBSERVATION_COLUMNS = (
    "project_id, observation_id, trace_id, parent_observation_id, type, name, start_time, end_time, level, "
    "environment, input, output, metadata, model, usage_details, cost_details, input_tokens, output_tokens, "
    "total_tokens, created_at, updated_at"
)
SCORE_COLUMNS = (
    "project_id, score_id, name, value, data_type, source, comment, environment, timestamp, trace_id, "
    "created_at, updated_at"
)


def observation_rows(project_id: str, rows: list[tuple]) -> list[tuple]:
    now = datetime.now(UTC)
    out = []
    for trace_id, span_id, parent, step, is_generation in rows:
        out.append((
            project_id, "plain-" + span_id, "plain-" + trace_id, parent, "GENERATION" if is_generation else "SPAN",
            f"step-{step}", now, now, "DEFAULT", "bench",
            json.dumps({"question": PAYLOAD_TEXT, "i": step}), json.dumps({"answer": PAYLOAD_TEXT}),
            json.dumps({"step": f"step-{step}"}), "gpt-4o-mini" if is_generation else None,
            json.dumps({"input": 120, "output": 40, "total": 160} if is_generation else {}), "{}",
            120 if is_generation else None, 40 if is_generation else None, 160 if is_generation else None, now, now,
        ))
    return out


def score_rows(project_id: str, scores: list[dict]) -> list[tuple]:
    now = datetime.now(UTC)
    return [
        (project_id, "plain-" + s["id"], s["name"], s["value"], "NUMERIC", "API", s["comment"], "bench", now,
         s["traceId"], now, now)
        for s in scores
    ]


def minimal_otlp_body(spans: int) -> bytes:
    """One gzip'd export of `spans` spans with nothing but ids, a name and times (1,000 per trace)."""
    now_ns = time.time_ns()
    trace_ids = [uuid.uuid4().bytes for _ in range(spans // 1000 + 1)]
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                scope_spans=[
                    ScopeSpans(
                        spans=[
                            Span(
                                trace_id=trace_ids[i // 1000],
                                span_id=(i + 1).to_bytes(8, "big"),
                                name="s",
                                start_time_unix_nano=now_ns,
                                end_time_unix_nano=now_ns + 1000,
                            )
                            for i in range(spans)
                        ]
                    )
                ]
            )
        ]
    )
    return gzip.compress(request.SerializeToString(), compresslevel=6)


def large_request(spans: int, database: str) -> None:
    body = minimal_otlp_body(spans)
    # gunicorn's default worker timeout, as in production: a request that needs longer is killed.
    with gunicorn_site(database, timeout=30) as site:
        host, port = site.base_url.removeprefix("http://").split(":")
        idle = workers_peak_rss(site)
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        started = time.perf_counter()
        conn.request("POST", "/api/public/otel/v1/traces", body=body, headers={
            "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", "Authorization": site.authorization,
        })
        response = conn.getresponse()
        answer = response.read()
        seconds = time.perf_counter() - started
        stored = count(site.database_url, "traces_observation", site.project_id)
        report(f"One OTLP request of {spans:,} minimal spans ({len(body) / 1024:,.0f} KB gzip'd; gunicorn timeout 30 s)", [
            ("answer", f"{response.status} {response.getheader('Content-Type')} {answer[:160]!r}"),
            ("time", f"{seconds:.1f} s"),
            ("spans stored", f"{stored:,}"),
            ("web workers' peak RSS idle → after", f"{idle} → {workers_peak_rss(site)}"),
        ])


def api_post(site, path: str, body: dict) -> dict:
    host, port = site.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json", "Authorization": site.authorization})
    response = connection.getresponse()
    data = json.loads(response.read())
    assert response.status == 200, data
    return data


def create_rules(site, n: int) -> None:
    """N enabled rules on the traces of even index in each request (half of them), sampling 10%."""
    check = api_post(site, "/api/public/v2/evaluators", {"type": "check", "name": "bench", "check": {"type": "valid_json"}})
    names = [f"bench-trace-{t}" for t in range(0, SPANS_PER_REQUEST // SPANS_PER_TRACE, 2)]
    for index in range(n):
        api_post(site, "/api/public/v2/evaluation-rules", {
            "name": f"bench rule {index}", "enabled": True, "sampling": 0.1, "target": "trace",
            "filter": [{"type": "stringOptions", "column": "traceName", "operator": "any of", "value": names}],
            "evaluatorAssignments": [{"evaluatorId": check["id"]}],
        })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60, help="OTLP requests of 512 spans")
    parser.add_argument("--score-requests", type=int, default=300, help="score arrays of 100")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--database", default="evalsite_bench_ingest", help="the PostgreSQL database to (re)create")
    parser.add_argument("--large-spans", type=int, default=0, help="send one request of this many minimal spans instead")
    parser.add_argument("--rules", type=int, default=0, help="enabled online evaluation rules during the OTLP phase")
    args = parser.parse_args()
    if args.large_spans:
        large_request(args.large_spans, args.database)
        return

    otlp = [otlp_body(i) for i in range(args.requests)]
    scores = [score_body(i) for i in range(args.score_requests)]
    with gunicorn_site(args.database) as site:
        # Warm up each worker (imports, connections) so the figures are of steady state.
        send_all(site, "/api/public/otel/v1/traces", [otlp_body(10_000 + i)[0] for i in range(4)],
                 {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, 4, "warm-up")
        baseline_spans = count(site.database_url, "traces_observation", site.project_id)
        if args.rules:
            create_rules(site, args.rules)

        seconds, latencies, statuses = send_all(
            site, "/api/public/otel/v1/traces", [body for body, _ in otlp],
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, args.senders, "OTLP spans",
        )
        spans = args.requests * SPANS_PER_REQUEST
        stored = count(site.database_url, "traces_observation", site.project_id) - baseline_spans
        report(f"OTLP ingestion (gunicorn 2 workers, PostgreSQL, all on this machine, {args.rules} evaluation rules)", [
            ("spans sent / stored", f"{spans} / {stored}"),
            ("statuses", str(sorted(set(statuses)))),
            ("throughput", f"{spans / seconds:,.0f} spans/s"),
            ("request latency p50 / p99", f"{percentile(latencies, 50) * 1000:.0f} ms / {percentile(latencies, 99) * 1000:.0f} ms"),
            ("web workers' peak RSS", workers_peak_rss(site)),
        ])

        seconds_s, latencies_s, statuses_s = send_all(
            site, "/api/public/scores", [body for body, _ in scores], {"Content-Type": "application/json"},
            args.senders, "scores",
        )
        n_scores = args.score_requests * SCORES_PER_REQUEST
        stored_s = count(site.database_url, "scoring_score", site.project_id)
        report("Scores through POST /api/public/scores (arrays of 100)", [
            ("scores sent / stored", f"{n_scores} / {stored_s}"),
            ("statuses", str(sorted(set(statuses_s)))),
            ("throughput", f"{n_scores / seconds_s:,.0f} scores/s"),
            ("request latency p50 / p99", f"{percentile(latencies_s, 50) * 1000:.0f} ms / {percentile(latencies_s, 99) * 1000:.0f} ms"),
            ("web workers' peak RSS", workers_peak_rss(site)),
        ])

        plain_obs = plain_insert(
            site.database_url, f"INSERT INTO traces_observation ({OBSERVATION_COLUMNS}) VALUES ",
            [observation_rows(site.project_id, rows) for _, rows in otlp], args.senders,
        )
        plain_scores = plain_insert(
            site.database_url, f"INSERT INTO scoring_score ({SCORE_COLUMNS}) VALUES ",
            [score_rows(site.project_id, batch) for _, batch in scores], args.senders,
        )
        report(f"Plain multi-row INSERT of the same rows ({args.senders} connections, one statement per batch)", [
            ("observations", f"{spans / plain_obs:,.0f} rows/s (API reaches {seconds and plain_obs / seconds:.0%} of it)"),
            ("scores", f"{n_scores / plain_scores:,.0f} rows/s (API reaches {plain_scores / seconds_s:.0%} of it)"),
        ])


if __name__ == "__main__":
    main()
