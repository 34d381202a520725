"""`bench load`: how many reviewers the production stack serves, and its saturation; see bench/load.py.

BENCH_LOAD_KEEP=1 keeps the database afterwards, BENCH_LOAD_REUSE=1 starts from a kept one. A run
whose clients could not measure (bench.load.BenchmarkBroken) fails; missed goals are printed.
"""

import os

from bench.load import run_load


def run() -> None:
    reuse = os.environ.get("BENCH_LOAD_REUSE") == "1"
    run_load(keep=reuse or os.environ.get("BENCH_LOAD_KEEP") == "1", reuse=reuse)
