"""Prometheus RED metrics that stay correct when a replica runs several worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (the runner sets it before starting workers), every process
writes its samples to files there and ``/metrics`` merges them, so any worker can answer a scrape.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = [
    "CANVAS_CACHE",
    "CANVAS_RECONCILIATIONS",
    "CONTENT_TYPE_LATEST",
    "GRPC_DURATION",
    "GRPC_REQUESTS",
    "HTTP_DURATION",
    "HTTP_REQUESTS",
    "JOBS",
    "JOBS_RUNNING",
    "LIVE_BYTES",
    "LIVE_CONNECTIONS",
    "LIVE_DISCONNECTS",
    "LIVE_ENCODES",
    "LIVE_EVENTS",
    "LIVE_FRAMES",
    "LIVE_REFUSALS",
    "LIVE_REPLAYS",
    "NATS_DURATION",
    "NATS_MESSAGES",
    "OPENSCAD_RUNS",
    "QUEUE_DEPTH",
    "RATELIMIT_DECISIONS",
    "RATELIMIT_DEGRADED",
    "RENDER_CACHE",
    "RENDER_DURATION",
    "render_latest",
]

HTTP_REQUESTS = Counter(
    "shotgraph_http_requests_total",
    "HTTP requests served.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "shotgraph_http_request_duration_seconds",
    "HTTP request latency.",
    ["service", "method", "route"],
)
GRPC_REQUESTS = Counter(
    "shotgraph_grpc_requests_total", "gRPC calls served.", ["service", "method", "code"]
)
GRPC_DURATION = Histogram(
    "shotgraph_grpc_request_duration_seconds", "gRPC call latency.", ["service", "method"]
)
NATS_MESSAGES = Counter(
    "shotgraph_nats_messages_total",
    "NATS messages handled, by outcome (ack, nak, term, skip: another reader's type).",
    ["service", "subject", "outcome"],
)
NATS_DURATION = Histogram(
    "shotgraph_nats_handler_duration_seconds", "NATS handler latency.", ["service", "subject"]
)
CANVAS_CACHE = Counter(
    "shotgraph_canvas_cache_reads_total",
    "Canvas reads, by where they were answered: hit (Redis) or miss (Postgres).",
    ["result"],
)
CANVAS_RECONCILIATIONS = Counter(
    "shotgraph_canvas_reconciliations_total",
    "Executions checked against batch's own listing of their jobs, by result: caught_up (it"
    " brought news: events were missed), agreed (nothing new), skipped (the events awaited came"
    " first), failed (batch did not answer).",
    ["result"],
)
JOBS = Counter("shotgraph_jobs_total", "Jobs that reached a final state.", ["function", "state"])
# Sampled by the batch service; with several processes the most recent sample wins.
QUEUE_DEPTH = Gauge(
    "shotgraph_queue_depth",
    "Jobs not yet finished, by function and stage (waiting_on_dependencies, queued, on_subject).",
    ["function", "stage"],
    multiprocess_mode="mostrecent",
)
JOBS_RUNNING = Gauge(
    "shotgraph_jobs_running",
    "Jobs running, by function and worker.",
    ["function", "worker"],
    multiprocess_mode="mostrecent",
)
OPENSCAD_RUNS = Counter(
    "shotgraph_openscad_runs_total",
    "OpenSCAD runs, by outcome: ok, model_error, empty, limit (the model's doing) or failed "
    "(the sandbox or the engine: not the model).",
    ["outcome"],
)
RENDER_DURATION = Histogram(
    "shotgraph_render_duration_seconds",
    "Renders that ran (cache hits excluded), by kind (preview, coloured).",
    ["kind"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
)
RENDER_CACHE = Counter(
    "shotgraph_render_cache_lookups_total",
    "Render cache lookups, by kind (preview, png, glb, 3mf, stl) and result (hit, miss).",
    ["kind", "result"],
)
LIVE_CONNECTIONS = Gauge(
    "shotgraph_live_connections",
    "Open live connections, by transport (websocket, sse).",
    ["service", "transport"],
    multiprocess_mode="livesum",
)
LIVE_REFUSALS = Counter(
    "shotgraph_live_refusals_total",
    "Live connections refused before they opened, by reason (user_cap, process_cap, draining,"
    " origin).",
    ["reason"],
)
LIVE_EVENTS = Counter(
    "shotgraph_live_events_total",
    "Events the fan-out hub read from the stream, by outcome: routed (to at least one local"
    " connection), unheard (no local connection takes it), malformed (skipped), duplicate.",
    ["outcome"],
)
LIVE_ENCODES = Counter(
    "shotgraph_live_event_encodes_total",
    "Events encoded for the wire, by format (json, msgpack): once per event and format, however"
    " many connections take it.",
    ["format"],
)
LIVE_FRAMES = Counter(
    "shotgraph_live_frames_total", "Frames written to live connections.", ["transport"]
)
LIVE_BYTES = Counter(
    "shotgraph_live_bytes_total", "Bytes written to live connections.", ["transport"]
)
LIVE_DISCONNECTS = Counter(
    "shotgraph_live_disconnects_total",
    "Live connections the server ended, by reason: slow (its queue went over its bound),"
    " credential (revoked or expired), draining, protocol (a bad client message).",
    ["reason"],
)
LIVE_REPLAYS = Counter(
    "shotgraph_live_replays_total",
    "Resumes, by outcome: replayed, reset (history gone), bad (a sequence the stream never had).",
    ["outcome"],
)
RATELIMIT_DECISIONS = Counter(
    "shotgraph_ratelimit_decisions_total",
    "Rate-limit decisions, by the tightest limit (address, user, key, route.<budget>,"
    " concurrency.<kind>), outcome (admitted, refused) and store (redis: shared; process: this"
    " worker alone, while Redis is unreachable).",
    ["limit", "outcome", "store"],
)
# 1 while any live worker enforces its limits alone because Redis is unreachable.
RATELIMIT_DEGRADED = Gauge(
    "shotgraph_ratelimit_degraded",
    "1 while rate limits are enforced per process (Redis unreachable), else 0.",
    multiprocess_mode="livemax",
)


def render_latest() -> bytes:
    """The exposition text for a scrape, merged across worker processes when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
