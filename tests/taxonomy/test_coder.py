"""The SOC coder: ranked detailed codes with scores in [0, 1] and evidence quoting the reference."""

import re
import time

import pytest

from taxonomy.coder import CoderQuery, coder_version, suggest, suggest_many
from tests.coder_fixtures import detailed_codes, reference_texts

QUERIES = [
    CoderQuery(title="Data Engineer"),
    CoderQuery(title="Accounting Manager"),
    CoderQuery(title="Registered Nurse", components=["Administer medications to patients."]),
    CoderQuery(title="Forklift Driver", story="Moves pallets around the warehouse."),
    CoderQuery(title="Machine Learning Engineer", aliases=["AI Engineer"], components=["Train models"]),
]
QUOTED = re.compile(r"'(.*)' \(")


def test_scores_are_between_0_and_1_and_sorted():
    for suggestions in suggest_many(QUERIES, k=5):
        assert 1 <= len(suggestions) <= 5
        scores = [s.score for s in suggestions]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)


def test_only_detailed_codes_with_their_official_titles():
    detailed = detailed_codes()
    for suggestions in suggest_many(QUERIES, k=10):
        for s in suggestions:
            assert s.code in detailed
            assert s.title


def test_evidence_quotes_real_reference_rows(seed_query):
    texts = reference_texts()
    prefixes = [t for t in texts if len(t) > 80]
    for suggestions in suggest_many([*QUERIES, seed_query], k=5):
        for s in suggestions:
            assert s.evidence, s
            for item in s.evidence:
                quoted = QUOTED.search(item)
                assert quoted, item
                text = quoted.group(1)
                if text.endswith("…"):
                    head = text[:-1]
                    assert any(t.startswith(head) for t in prefixes), item
                else:
                    assert text in texts, item
                assert re.search(r"\(\d\d-\d{4}(\.\d\d)?\)$", item), item


def test_evidence_names_the_suggested_code():
    (best, *_), = suggest_many([CoderQuery(title="Accounting Manager")], k=1)
    assert all(f"({best.code}" in item for item in best.evidence)


@pytest.mark.parametrize(
    "title", ["", "   ", "zzzzqqq xxyyq", "!?.,;:-" * 1500, "\u200b\u00a0\t\n", "1234 5678"]
)
def test_empty_or_absurd_query_returns_nothing(title):
    assert suggest(CoderQuery(title=title)) == []


def test_huge_input_is_bounded_and_fast():
    query = CoderQuery(
        title="Data Engineer " * 10_000,
        aliases=["Data Architect"] * 5_000,
        components=["Build data pipelines."] * 5_000,
        story="Moves data. " * 100_000,
    )
    start = time.perf_counter()
    suggestions = suggest(query)
    assert time.perf_counter() - start < 2.0
    assert suggestions and suggestions[0].code.startswith("15-")


def test_non_string_parts_are_ignored():
    query = CoderQuery(title="Data Engineer", aliases=[None, 3], components=[{"x": 1}], story=None)
    assert suggest(query)[0].code.startswith("15-")


def test_seed_role_gets_an_ai_ml_occupation_in_its_top_5(seed_query):
    codes = [s.code for s in suggest(seed_query, k=5)]
    assert {"15-1221", "15-2051", "15-1299"} & set(codes), codes


def test_a_card_with_tasks_beats_its_ambiguous_title():
    # "Engineer" alone is everywhere; the tasks decide.
    query = CoderQuery(title="Engineer", components=["Design bridges and highways.", "Inspect construction sites."])
    assert suggest(query, k=3)[0].code == "17-2051"  # Civil Engineers


def test_k_bounds_the_number_of_suggestions():
    assert len(suggest(CoderQuery(title="Data Engineer"), k=1)) == 1
    assert suggest(CoderQuery(title="Data Engineer"), k=0) == []


def test_suggest_many_matches_suggest():
    batch = suggest_many(QUERIES, k=3)
    assert [s.code for s in batch[1]] == [s.code for s in suggest(QUERIES[1], k=3)]
    assert suggest_many([]) == []


def test_coder_version_names_method_and_reference_hash():
    assert re.fullmatch(r"nb-fusion-\d+@[0-9a-f]{12}", coder_version())
