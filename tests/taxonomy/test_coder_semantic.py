"""The coder's sentence-embedding channel (the `semantic` extra, which `make test` installs).

The rest of the suite runs the coder as the default install does (framework/settings/test.py turns
the channel off); here it is on: the tokenizer, the encoder, the switch and its fallback, the
stored index, the fusion's monotonicity, and the coder (built on three major groups) on the seed role.
"""

from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings

from taxonomy.coder import (
    INDEX_FILE,
    CoderQuery,
    build_index,
    current_hash,
    index_status,
    load_index,
    reset_cache,
    semantic,
    suggest,
)
from taxonomy.coder.model import CHANNELS, Model, prepare
from taxonomy.coder.reference import load_reference, reference_hash
from tests.taxonomy.test_coder_calibration import assert_fusion_is_monotone


@pytest.fixture(scope="module")
def encoder():
    return semantic.encoder()


def _cos(encoder, a: str, b: str) -> float:
    va, vb = encoder.encode([a, b])
    return float(va @ vb)


def test_the_extra_is_installed_where_the_tests_run():
    # `make test` installs it: this module must never silently test nothing.
    assert semantic.installed()


def test_wordpiece_splits_as_bert_does(encoder):
    tokenizer = encoder.tokenizer
    pieces = [tokenizer.tokens[i] for i in tokenizer.encode("Unaffable Café-Manager")]
    assert pieces == ["[CLS]", "una", "##ffa", "##ble", "cafe", "-", "manager", "[SEP]"]
    # Long texts are cut at the model's 128 tokens, [CLS] and [SEP] included.
    assert len(tokenizer.encode("nurse " * 500)) == semantic.MAX_TOKENS


def test_vectors_are_unit_length_and_read_meaning(encoder):
    vectors = encoder.encode(["Registered Nurse", "Welder", ""])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    assert _cos(encoder, "Registered Nurse", "Hospital staff nurse") > _cos(encoder, "Registered Nurse", "Welder")
    assert _cos(encoder, "Train deep learning models", "Build neural networks") > _cos(
        encoder, "Train deep learning models", "Pour concrete foundations"
    )


def test_an_unpinned_model_file_is_refused(tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the pinned model")
    with pytest.raises(ValueError, match="pinned"):
        semantic.OnnxEncoder(fake, semantic.VOCAB_PATH)


def test_the_vendored_vocabulary_is_the_pinned_one():
    assert semantic.sha256_file(semantic.VOCAB_PATH) == semantic.VOCAB_SHA256


@pytest.mark.parametrize(
    ("mode", "installed", "expected"),
    [("off", True, False), ("auto", True, True), ("auto", False, False), ("on", True, True)],
)
def test_the_switch(monkeypatch, mode, installed, expected):
    monkeypatch.setattr(semantic, "installed", lambda: installed)
    with override_settings(ROLEBOOK_CODER_SEMANTIC=mode):
        assert semantic.enabled() is expected
        assert semantic.tag() == ("semantic:off" if not expected else f"minilm-int8:{semantic.ONNX_SHA256[:16]}")


def test_on_without_the_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(semantic, "installed", lambda: False)
    with override_settings(ROLEBOOK_CODER_SEMANTIC="on"), pytest.raises(semantic.SemanticUnavailable, match="extra"):
        semantic.enabled()
    with override_settings(ROLEBOOK_CODER_SEMANTIC="sometimes"), pytest.raises(semantic.SemanticUnavailable):
        semantic.mode()


def test_body_items_are_components_then_story_sentences_bounded():
    story = "It builds things. Ok then. Ships every week!"
    items = semantic.body_items(["  Train models ", "", "Deploy services"], story)
    # A story's fragments of fewer than three words say nothing of the work.
    assert items == ("Train models", "Deploy services", "It builds things.", "Ships every week!")
    assert len(semantic.body_items([f"task {i}" for i in range(40)])) == semantic.MAX_BODY_ITEMS
    query = prepare("Data Engineer", (), ["Build pipelines"], "Moves the data. Keeps it clean.")
    assert query.items == ("Build pipelines", "Moves the data.", "Keeps it clean.")


def _tiny_reference(folder: Path, source: Path, keep=lambda code: code in {"15-1252", "29-1141", "51-4121"}) -> Path:
    """A reference folder of the rows of the occupations `keep` accepts (three by default: builds in seconds)."""
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    for file in source.glob("*.csv"):
        with file.open(encoding="utf-8", newline="") as src:
            reader = csv.DictReader(src)
            code_field = next((f for f in ("soc_code", "code") if f in reader.fieldnames), None)
            rows = [r for r in reader if code_field is None or keep(r[code_field][:7])]
        with (folder / file.name).open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
            writer.writeheader()
            writer.writerows(rows)
    return folder


@pytest.fixture
def tiny_reference(tmp_path, settings):
    folder = _tiny_reference(tmp_path / "reference", Path(settings.ROLEBOOK_CODER_REFERENCE_DIR))
    settings.ROLEBOOK_CODER_REFERENCE_DIR = folder
    return folder


def test_a_stored_index_keeps_its_semantic_channel_and_answers_the_same(tiny_reference, tmp_path):
    model = Model.build(load_reference(tiny_reference), use_semantic=True)
    assert model.semantic_index is not None
    arrays = model.to_arrays()
    assert {"embed.title_vecs", "embed.context_vecs"} <= set(arrays)
    again = Model.from_arrays(arrays)
    query = [prepare("Hospital nurse", (), ["Care for patients on a ward"], "")]
    channels = model.channels(query)
    assert np.any(channels.sem_title) and np.any(channels.sem_body)
    assert model.codes[int(np.argmax(channels.sem_title[0]))] == "29-1141"
    stored = again.channels(query)
    assert np.allclose(stored.sem_title, channels.sem_title, atol=0.05)  # float16 storage
    assert [c for c, _ in again.rank(query, 3)[0].classes] == [c for c, _ in model.rank(query, 3)[0].classes]


def test_without_the_channel_its_scores_are_silent(tiny_reference):
    model = Model.build(load_reference(tiny_reference), use_semantic=False)
    channels = model.channels([prepare("Welder", (), ["Weld steel"], "")])
    assert model.semantic_index is None
    assert not channels.sem_title.any() and not channels.sem_body.any()


def test_installing_or_removing_the_extra_rebuilds_the_index(tiny_reference, tmp_path, monkeypatch):
    path = tmp_path / "index"
    with override_settings(ROLEBOOK_CODER_PATH=path, ROLEBOOK_CODER_SEMANTIC="auto"):
        reset_cache()
        try:
            build_index(path)
            model, _ = load_index(path)
            assert model.semantic_index is not None
            with_extra = current_hash()
            # The extra goes away: the stored index is stale, and the next load builds one without it.
            monkeypatch.setattr(semantic, "installed", lambda: False)
            wanted, stored = index_status(path)
            assert wanted != stored == with_extra
            reset_cache()
            model, digest = load_index(path)
            assert model.semantic_index is None and digest == current_hash()
            assert suggest(CoderQuery(title="Registered Nurse"))[0].code == "29-1141"
        finally:
            reset_cache()
    assert (path / INDEX_FILE).exists()
    assert reference_hash(tiny_reference, extra=("x",)) != reference_hash(tiny_reference, extra=("y",))


# Computer and mathematical, architecture and engineering, and healthcare practitioner occupations:
# the seed role's codes and the nurses, with the development split and its fit, built in well
# under a minute (the whole reference takes about three; `bench soc` measures that one).
MAJOR_GROUPS = ("15-", "17-", "29-")


@pytest.fixture(scope="module")
def semantic_index(tmp_path_factory):
    """The coder with its semantic channel on three major groups' rows, built once for this module."""
    from django.conf import settings

    path = Path(tmp_path_factory.mktemp("semantic-coder"))
    reference = _tiny_reference(path / "reference", Path(settings.ROLEBOOK_CODER_REFERENCE_DIR),
                                keep=lambda code: code.startswith(MAJOR_GROUPS))
    with override_settings(ROLEBOOK_CODER_PATH=path, ROLEBOOK_CODER_SEMANTIC="on",
                           ROLEBOOK_CODER_REFERENCE_DIR=reference):
        reset_cache()
        build_index(path)
        try:
            yield load_index(path)[0]
        finally:
            reset_cache()


def test_the_coder_fits_a_weight_on_the_semantic_channel(semantic_index):
    model = semantic_index
    assert model.semantic_index is not None and model.fusion.report["fitted"]
    features = model.fusion.report["features"]
    for kind in ("title", "body"):
        weights = dict(zip(features, model.fusion.weights[kind], strict=True))
        assert sum(v for k, v in weights.items() if k.endswith(":sem_title")) > 0, kind
    body = dict(zip(features, model.fusion.weights["body"], strict=True))
    assert sum(v for k, v in body.items() if k.endswith(":sem_body")) > 0
    assert "sem_title" in CHANNELS and "sem_body" in CHANNELS


@pytest.mark.parametrize("body", [False, True])
def test_the_fused_score_is_monotone_in_every_channel_semantic_included(semantic_index, body):
    assert_fusion_is_monotone(semantic_index, body)


def test_the_seed_role_keeps_an_ai_ml_occupation_in_its_top_5(semantic_index, seed_query):
    with override_settings(ROLEBOOK_CODER_SEMANTIC="on"):
        query = prepare(seed_query.title, seed_query.aliases, seed_query.components, seed_query.story)
        ranked = semantic_index.rank([query], 5)[0]
    codes = {semantic_index.codes[c] for c, _ in ranked.classes}
    assert {"15-1221", "15-2051", "15-1299"} & codes, codes
    assert not (ranked.confident and ranked.unsure)


def test_a_role_style_title_with_no_shared_word_finds_its_occupation(semantic_index):
    # "Care" and "ward" are not in "Registered Nurses"'s title: meaning, not words.
    query = prepare("Ward carer for hospital patients", (), [], "")
    ranked = semantic_index.rank([query], 5)[0]
    assert "29-1141" in {semantic_index.codes[c] for c, _ in ranked.classes}
