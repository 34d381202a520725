"""The coder's development split, and the fusion and calibration fitted on it.

The channels' log posteriors are not probabilities: naive Bayes is overconfident, and the
channels overlap. So the coder learns, when its index is built, how to weigh them and what a
score means, from queries it has not been trained on:

1. `development_split` carves a development set out of the reference the coder is built from:
   alternate titles whose string hashes into DEVELOPMENT_BUCKETS (as whole strings, with every
   title row of the same string), task statements whose id does (with the DWAs tied to them) and
   technology products whose (O*NET code, product) does.
   `python -m bench soc` holds out HELD_OUT_BUCKETS of the same hashes, so the development split
   never holds a query the bench reports, whether the coder is built from the full reference or
   from the bench's training side.
2. Channels are built without the development rows and asked the development queries, shaped
   as the bench's: each title alone, and each title of an occupation with at least 5 development
   tasks plus 5 of them (a card). Half the cards (by hash) also name up to TOOLS of the
   occupation's development technology products, as role cards name theirs in their skills.
3. `fit_fusion`: a conditional logit over each query's candidate codes, one weight per channel
   score and per channel rank, fitted by maximum likelihood (L-BFGS, small L2), separately for
   titles alone and for queries with a body.
4. `fit_platt`: a logistic map of the top candidate's logit onto "the top code is right", per
   query type. Scores are the map applied to every candidate, so their order is unchanged.
5. `thresholds`: CONFIDENT and the two UNSURE thresholds, read off the calibrated development scores.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from .reference import Reference, RefRow
from .text import normalize

# Buckets of sha1(key) mod 100. The bench holds out the first fifth; the coder fits on the second.
HELD_OUT_BUCKETS = range(0, 20)
DEVELOPMENT_BUCKETS = range(20, 40)
CARD_TASKS = 5
TOOLS = 3
FUSION_L2 = 1e-3
# Top-1 precision wanted of a confident answer, on the development split.
CONFIDENT_PRECISION = 0.90
# An answer is unsure, on the development split, when its top score is so low that such answers
# are right at most 1 time in 4, or when its two best codes are too close to call: among answers
# whose two best scores are that close, the first code is right at most 10 points more often than
# the second.
UNSURE_LOW_PRECISION = 0.25
UNSURE_CLOSE_ADVANTAGE = 0.10
ECE_BINS = 10


def bucket(key: str) -> int:
    """A stable number in [0, 100) for `key` (the same on every machine and Python version)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100


def title_bucket(text: str) -> int:
    return bucket("title:" + normalize(text))


def task_bucket(task_id: str) -> int:
    return bucket("task:" + task_id)


def tech_bucket(row: RefRow) -> int:
    return bucket(f"tech:{row.source_code}:{row.text}")


@dataclass(frozen=True)
class DevQuery:
    title: str
    tasks: tuple[str, ...]  # the components: task statements, then technology products
    gold: frozenset[str]
    task_ids: tuple[str, ...] = ()


@dataclass
class DevelopmentSplit:
    """The reference without the development rows, the development queries, and what was held out."""

    fit_reference: Reference
    title_queries: list[DevQuery]
    card_queries: list[DevQuery]
    title_keys: frozenset[str] = field(default_factory=frozenset)  # normalised title strings
    task_ids: frozenset[str] = field(default_factory=frozenset)
    tech: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (O*NET code, product)


def development_split(reference: Reference) -> DevelopmentSplit:
    """Carve the development split out of `reference` (no randomness: the same reference, the same split)."""
    titles = {
        normalize(r.text) for r in reference.rows if r.kind == "alt" and title_bucket(r.text) in DEVELOPMENT_BUCKETS
    }
    tasks = {r.key for r in reference.rows if r.kind == "task" and task_bucket(r.key) in DEVELOPMENT_BUCKETS}
    tech = {
        (r.source_code, r.text) for r in reference.rows if r.kind == "tech" and tech_bucket(r) in DEVELOPMENT_BUCKETS
    }

    def keep(row: RefRow) -> bool:
        if row.kind in ("task", "dwa"):
            return not any(t in tasks for t in row.task_ids)
        if row.kind == "tech":
            return (row.source_code, row.text) not in tech
        if row.kind in ("desc", "commodity"):
            return True
        if row.kind == "short" and normalize(row.key) in titles:
            return False  # The short form of a development title.
        return normalize(row.text) not in titles

    gold: dict[str, set[str]] = defaultdict(set)
    shown: dict[str, str] = {}
    for r in reference.rows:
        if r.kind == "alt" and normalize(r.text) in titles:
            gold[normalize(r.text)].add(r.soc_code)
            shown.setdefault(normalize(r.text), r.text)
    order = sorted(gold, key=lambda n: _digest("q:" + n))
    title_queries = [DevQuery(shown[n], (), frozenset(gold[n])) for n in order]

    tasks_by_code: dict[str, list[RefRow]] = defaultdict(list)
    tools_by_code: dict[str, list[str]] = defaultdict(list)
    for r in reference.rows:
        if r.kind == "task" and r.key in tasks:
            tasks_by_code[r.soc_code].append(r)
        elif r.kind == "tech" and (r.source_code, r.text) in tech and r.text not in tools_by_code[r.soc_code]:
            tools_by_code[r.soc_code].append(r.text)
    card_queries = []
    for code in sorted(tasks_by_code):
        picked_from = sorted(tasks_by_code[code], key=lambda r: _digest("t:" + r.key))
        if len(picked_from) < CARD_TASKS:
            continue
        tools = sorted(tools_by_code[code], key=lambda text: _digest("tool:" + text))
        for i, n in enumerate(sorted((n for n in gold if code in gold[n]), key=lambda n: _digest("c:" + n))):
            rows = [picked_from[(i * CARD_TASKS + j) % len(picked_from)] for j in range(CARD_TASKS)]
            picked = tuple(r.text for r in rows)
            if tools and bucket("tools:" + n) % 2:
                picked += tuple(tools[(i * TOOLS + j) % len(tools)] for j in range(min(TOOLS, len(tools))))
            card_queries.append(DevQuery(shown[n], picked, frozenset({code}), tuple(r.key for r in rows)))
    return DevelopmentSplit(reference.filtered(keep), title_queries, card_queries, frozenset(titles),
                            frozenset(tasks), frozenset(tech))


def _digest(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


# Fitting ---------------------------------------------------------------------------------------


def softmax_rows(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def fit_fusion(features: np.ndarray, gold: np.ndarray, l2: float = FUSION_L2) -> np.ndarray:
    """Weights w >= 0 maximising sum log P(gold) with P = softmax(features @ w) over each query's candidates.

    `features` is queries x candidates x features, `gold` a boolean queries x candidates mask (a
    title listed under several codes is right with any of them). Queries without a gold candidate
    carry no information about the weights and are left out; calibration counts them as misses.
    """
    # A query without a gold candidate counts every candidate as gold: its term and gradient are 0.
    rows = gold.any(axis=1)
    x = features
    g = np.where(rows[:, None], gold, True).astype(np.float64)
    n = max(int(rows.sum()), 1)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = (x @ w.astype(x.dtype)).astype(np.float64)
        z_max = z.max(axis=1, keepdims=True)
        e = np.exp(z - z_max)
        total = e.sum(axis=1)
        right = (e * g).sum(axis=1)
        value = -np.sum(np.log(right) - np.log(total)) / n + l2 * w @ w
        p_all = e / total[:, None]
        p_gold = e * g / right[:, None]
        grad = np.tensordot((p_all - p_gold).astype(x.dtype), x, axes=([0, 1], [0, 1])) / n + 2 * l2 * w
        return float(value), grad

    start = np.zeros(features.shape[2])
    # Weights >= 0: more evidence from any channel never lowers a code's score.
    bounds = [(0.0, None)] * features.shape[2]
    result = optimize.minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 500})
    return result.x


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def fit_platt(p_top: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """(a, b) of P(right) = sigmoid(a * logit(p_top) + b), by maximum likelihood."""
    x = logit(p_top)
    y = correct.astype(np.float64)

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * x + ab[1]
        p = 1 / (1 + np.exp(-z))
        eps = 1e-12
        value = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
        d = p - y
        return float(value), np.array([np.mean(d * x), np.mean(d)])

    return optimize.minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B").x


def apply_platt(ab: np.ndarray, p: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(ab[0] * logit(p) + ab[1])))


def fit_isotonic(p_top: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: the non-decreasing step function of p_top nearest to `correct`.

    Returns (knots, values) for np.interp. Kept to compare with Platt scaling in the bench.
    """
    order = np.argsort(p_top, kind="stable")
    x, y = p_top[order], correct[order].astype(np.float64)
    values, weights, ends = [], [], []
    for i, v in enumerate(y):
        values.append(v)
        weights.append(1.0)
        ends.append(i)
        while len(values) > 1 and values[-2] > values[-1]:
            w = weights[-2] + weights[-1]
            values[-2] = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w
            weights[-2] = w
            ends[-2] = ends[-1]
            del values[-1], weights[-1], ends[-1]
    knots = np.array([x[e] for e in ends])
    return knots, np.array(values)


def cross_validated_ece(p_top: np.ndarray, correct: np.ndarray) -> dict[str, float]:
    """ECE of Platt scaling and of isotonic regression, each fitted on one half and measured on the other."""
    halves = np.arange(len(p_top)) % 2 == 0
    out = {"cv_ece_platt": 0.0, "cv_ece_isotonic": 0.0}
    for fit_on in (halves, ~halves):
        test = ~fit_on
        share = test.mean() if len(p_top) else 0.0
        platt = fit_platt(p_top[fit_on], correct[fit_on])
        out["cv_ece_platt"] += share * expected_calibration_error(apply_platt(platt, p_top[test]), correct[test])
        knots, values = fit_isotonic(p_top[fit_on], correct[fit_on])
        out["cv_ece_isotonic"] += share * expected_calibration_error(np.interp(p_top[test], knots, values),
                                                                     correct[test])
    return out


def expected_calibration_error(scores: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over equal-width bins of [0, 1] of (share of queries) x |mean score - accuracy|."""
    if len(scores) == 0:
        return 0.0
    which = np.minimum((scores * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(scores[inside].mean() - correct[inside].mean())
    return float(total)


def precision_threshold(scores: np.ndarray, correct: np.ndarray, precision: float) -> float:
    """The lowest top score t such that the queries scoring at least t are right >= `precision` of the time.

    1.01 (nothing qualifies) when even the best-scored query misses it.
    """
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(hits >= precision)[0]
    if not len(ok):
        return 1.01
    return float(scores[order][ok[-1]])


def coverage_at(scores: np.ndarray, correct: np.ndarray, precision: float) -> float:
    """The share of queries whose top score reaches `precision_threshold` (0 when none does)."""
    if not len(scores):
        return 0.0
    return float(np.mean(scores >= precision_threshold(scores, correct, precision)))


def low_threshold(scores: np.ndarray, correct: np.ndarray, precision: float) -> float:
    """The highest t such that the queries scoring under t are right <= `precision` of the time."""
    order = np.argsort(scores, kind="stable")
    hits = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(hits <= precision)[0]
    if not len(ok):
        return 0.0
    return float(scores[order][ok[-1]])


def choose_thresholds(
    top: np.ndarray, second: np.ndarray, correct: np.ndarray, second_correct: np.ndarray
) -> np.ndarray:
    """(confident, unsure below, unsure closer than) read off calibrated development scores.

    Confident: the lowest top score at which top-1 precision is >= CONFIDENT_PRECISION. Unsure
    below: the highest top score under which the answers are right <= UNSURE_LOW_PRECISION of the
    time. Unsure closer than: among the rest, the largest gap between the two best scores under
    which the first code is right no more than UNSURE_CLOSE_ADVANTAGE more often than the second
    (the data cannot tell them apart).
    """
    confident = precision_threshold(top, correct, CONFIDENT_PRECISION)
    low = low_threshold(top, correct, UNSURE_LOW_PRECISION)
    rest = (top >= low) & (top < confident)
    close = 0.0
    if rest.any():
        gap = (top - second)[rest]
        order = np.argsort(gap, kind="stable")
        n = np.arange(1, len(order) + 1)
        advantage = (np.cumsum(correct[rest][order]) - np.cumsum(second_correct[rest][order])) / n
        ok = np.nonzero(advantage <= UNSURE_CLOSE_ADVANTAGE)[0]
        close = float(gap[order][ok[-1]]) if len(ok) else 0.0
    return np.array([confident, low, close])
