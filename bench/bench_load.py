"""`bench load`: the production stack (gunicorn, 4 workers, PostgreSQL) under a team's load; see bench/load.py."""

import os

from bench.load import run_load


def run() -> None:
    run_load(float(os.environ.get("BENCH_LOAD_SECONDS", "60")), keep=os.environ.get("BENCH_LOAD_KEEP") == "1")
