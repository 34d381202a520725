"""The coder's learned fusion and calibration: monotone, fitted only on the development split, flags."""

from pathlib import Path

import numpy as np
import pytest

from bench.soc_split import make_split
from taxonomy.coder import CoderQuery, load_index, reference_dir, suggest
from taxonomy.coder import model as coder_model
from taxonomy.coder.calibration import (
    DEVELOPMENT_BUCKETS,
    HELD_OUT_BUCKETS,
    development_split,
    expected_calibration_error,
    precision_threshold,
    task_bucket,
    title_bucket,
)
from taxonomy.coder.model import CHANNELS, Channels, candidate_features
from taxonomy.coder.reference import load_reference
from taxonomy.coder.text import normalize


@pytest.fixture(scope="module")
def reference():
    return load_reference(Path(reference_dir()))


@pytest.fixture(scope="module")
def held_out():
    """What bench soc holds out and reports on: normalised title strings and task ids."""
    split = make_split(Path(reference_dir()))
    return split.held_title_keys, split.held_task_ids


def _channels(rng: np.random.Generator, n_classes: int, body: bool) -> Channels:
    logp = {c: -np.abs(rng.normal(0, 15, size=(1, n_classes))) for c in CHANNELS}
    if not body:
        logp["body"][:] = 0.0
        logp["work_body"][:] = 0.0
        logp["sem_body"][:] = 0.0
    return Channels(**logp, has_body=np.array([body]))


def assert_fusion_is_monotone(model, body: bool) -> None:
    """Raising one channel's score of a code never lowers that code's calibrated score (every channel)."""
    rng = np.random.default_rng(7)
    for kind in ("title", "body"):
        assert (model.fusion.weights[kind] >= 0).all()
    for _ in range(5):
        base = _channels(rng, len(model.codes), body)
        candidates, features = candidate_features(base)
        before = model.calibrated(candidates, features, base.has_body)[0]
        for position in (0, 3, 20):
            code = candidates[0, position]
            for channel in CHANNELS:
                if not body and channel in ("body", "work_body", "sem_body"):
                    continue
                for delta in (0.5, 3.0, 40.0):
                    raised = Channels(**{c: getattr(base, c).copy() for c in CHANNELS}, has_body=base.has_body)
                    getattr(raised, channel)[0, code] += delta
                    cand, feats = candidate_features(raised)
                    after = model.calibrated(cand, feats, raised.has_body)[0]
                    assert code in cand[0]
                    assert after[list(cand[0]).index(code)] >= before[position] - 1e-12, (channel, delta)


@pytest.mark.parametrize("body", [False, True])
def test_the_fused_score_never_falls_when_a_channel_favours_the_code_more(body):
    model, _ = load_index()
    assert_fusion_is_monotone(model, body)


def test_the_development_split_never_holds_a_query_the_bench_reports(reference, held_out):
    held_titles, held_tasks = held_out
    split = development_split(reference)
    assert set(HELD_OUT_BUCKETS).isdisjoint(DEVELOPMENT_BUCKETS)
    assert split.title_queries and split.card_queries
    assert not split.title_keys & held_titles
    assert not split.task_ids & held_tasks
    assert all(title_bucket(k) in DEVELOPMENT_BUCKETS for k in split.title_keys)
    assert all(task_bucket(t) in DEVELOPMENT_BUCKETS for t in split.task_ids)


def test_the_fusion_is_fitted_on_development_queries_only_and_trained_without_them(reference, held_out, monkeypatch):
    held_titles, held_tasks = held_out
    seen = {}

    def spy(ref):
        seen["split"] = development_split(ref)
        return seen["split"]

    def channels_spy(ref, **kwargs):
        seen["fit_reference"] = ref
        return real_fit_channels(ref, **kwargs)

    real_fit_channels = coder_model.Model.fit_channels
    monkeypatch.setattr(coder_model, "development_split", spy)
    monkeypatch.setattr(coder_model.Model, "fit_channels", channels_spy)
    fusion = coder_model.fit_development_fusion(reference)
    assert fusion is not None and fusion.report["fitted"]
    split = seen["split"]
    asked = {normalize(q.title) for q in split.title_queries + split.card_queries}
    assert asked <= split.title_keys
    assert not asked & held_titles
    asked_tasks = {t for q in split.card_queries for t in q.task_ids}
    assert asked_tasks and asked_tasks <= split.task_ids and not asked_tasks & held_tasks
    # The channels that produced the fitting features never saw a development row.
    trained = seen["fit_reference"].rows
    assert not {normalize(r.text) for r in trained if r.kind in ("alt", "direct", "onet", "soc")} & split.title_keys
    assert not {r.key for r in trained if r.kind == "task"} & split.task_ids
    assert not any(set(r.task_ids) & split.task_ids for r in trained if r.kind == "dwa")


def test_a_clear_title_is_confident_and_right():
    best, *others = suggest(CoderQuery(title="Registered Nurse"))
    assert best.code == "29-1141"
    assert best.confident is True and best.unsure is False
    assert all(s.confident is False and s.unsure is False for s in others)


@pytest.mark.parametrize("title", ["Specialist", "Blorfingly", "Qwertyuiop Zxcvb"])
def test_a_vague_or_nonsense_title_is_unsure_or_unanswered(title):
    answer = suggest(CoderQuery(title=title))
    assert answer == [] or (answer[0].unsure is True and answer[0].confident is False)


def test_flags_are_never_both_set_and_only_on_the_first_code(seed_query):
    queries = [seed_query, CoderQuery(title="Data Engineer"), CoderQuery(title="Accounting Manager"),
               CoderQuery(title="Engineer"), CoderQuery(title="Cook", components=["Prepare meals."])]
    for query in queries:
        answer = suggest(query, k=5)
        assert not (answer[0].confident and answer[0].unsure)
        assert all(not s.confident and not s.unsure for s in answer[1:])


def test_the_seed_role_still_gets_an_ai_ml_occupation_in_its_top_5(seed_query):
    codes = [s.code for s in suggest(seed_query, k=5)]
    assert {"15-1221", "15-2051", "15-1299"} & set(codes), codes


def test_the_stored_thresholds_meet_their_precision_on_the_development_split():
    model, _ = load_index()
    for kind in ("title", "body"):
        figures = model.fusion.report[kind]
        assert figures["confident_precision"] >= 0.90
        confident, low, close = model.fusion.thresholds[kind]
        assert 0.0 <= low < confident <= 1.0 and close >= 0.0


def test_expected_calibration_error_and_precision_threshold():
    scores = np.array([0.95, 0.9, 0.85, 0.4, 0.2])
    right = np.array([True, True, False, False, True])
    assert precision_threshold(scores, right, 0.9) == 0.9
    assert precision_threshold(scores, right, 0.65) == 0.85
    assert precision_threshold(scores, right, 0.6) == 0.2
    assert expected_calibration_error(np.array([0.8] * 10), np.array([True] * 8 + [False] * 2)) == pytest.approx(0.0)
