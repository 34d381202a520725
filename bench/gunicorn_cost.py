"""gunicorn's settings for `bench cost`: `framework.gunicorn_conf` plus hooks that measure each request.

    gunicorn --config python:bench.gunicorn_cost      # BENCH_COST_LOG=/path/requests.jsonl

In the worker, around every request (from `pre_request` to `post_request`, so rendering, writing
the body and Django's request_finished are all inside), one JSON line is appended to
BENCH_COST_LOG:

- `cpu_ms`: the worker's CPU time (`time.process_time()`, user + system, all threads);
- `wall_ms`: the worker's wall time over the same span;
- `queries`, `query_ms`: the queries run on the default database and their summed wall time
  (a `connection.execute_wrappers` entry: round trips included);
- `pg_cpu_ms`: the CPU of the PostgreSQL backend process serving the worker's connection, from
  `/proc/<pid>/schedstat` (nanoseconds; null when the server is not local). A connection opened
  during the request counts its backend's whole CPU, start-up included;
- `bytes`: the body bytes sent; `status`, `method`, `path`, and `label`, the client's
  X-Bench-Cost header.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from framework import gunicorn_conf
from framework.gunicorn_conf import *  # noqa: F403 — every setting of `make serve`, unchanged

LOG = os.environ.get("BENCH_COST_LOG", "")
# The request under way (the wrapper may also run outside a request, e.g. at start-up).
_now: dict = {"queries": 0, "query_s": 0.0}
_local_backends: dict[int, bool] = {}


def _count_queries(execute, sql, params, many, context):
    start = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        _now["queries"] += 1
        _now["query_s"] += time.perf_counter() - start


def _backend_pid() -> int | None:
    """The PostgreSQL backend of the worker's open connection (psycopg 3 knows it without a query)."""
    from django.db import connections

    raw = connections["default"].connection
    if raw is None or getattr(raw, "closed", True) or not hasattr(raw, "info"):
        return None
    return raw.info.backend_pid


def _backend_cpu_ns(pid: int | None) -> int | None:
    """The backend's CPU time so far, if it is a PostgreSQL process on this machine."""
    if pid is None:
        return None
    if pid not in _local_backends:
        try:
            _local_backends[pid] = Path(f"/proc/{pid}/comm").read_text().strip() in {"postgres", "postmaster"}
        except OSError:
            _local_backends[pid] = False
    if not _local_backends[pid]:
        return None
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def post_worker_init(worker) -> None:
    gunicorn_conf.post_worker_init(worker)
    from django.db import connections

    # The wrapper list belongs to the connection object, which outlives each database connection.
    connections["default"].execute_wrappers.append(_count_queries)


def pre_request(worker, req) -> None:
    if hasattr(gunicorn_conf, "pre_request"):
        gunicorn_conf.pre_request(worker, req)
    pid = _backend_pid()
    _now.update(queries=0, query_s=0.0, pid=pid, pg_ns=_backend_cpu_ns(pid),
                wall=time.perf_counter(), cpu=time.process_time())


def post_request(worker, req, environ, resp) -> None:
    cpu, wall = time.process_time() - _now["cpu"], time.perf_counter() - _now["wall"]
    pid = _backend_pid()
    after = _backend_cpu_ns(pid)
    if after is None:
        pg_ms = None
    elif pid == _now["pid"] and _now["pg_ns"] is not None:
        pg_ms = (after - _now["pg_ns"]) / 1e6
    else:
        pg_ms = after / 1e6  # a new backend: everything it did was for this request
    line = {
        "label": environ.get("HTTP_X_BENCH_COST", ""), "method": req.method, "path": req.path,
        "status": resp.status_code, "bytes": resp.sent, "cpu_ms": cpu * 1000, "wall_ms": wall * 1000,
        "queries": _now["queries"], "query_ms": _now["query_s"] * 1000, "pg_cpu_ms": pg_ms,
        "backend": pid, "new_backend": pid != _now["pid"],
    }
    if LOG:
        with open(LOG, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
    if hasattr(gunicorn_conf, "post_request"):
        gunicorn_conf.post_request(worker, req, environ, resp)
