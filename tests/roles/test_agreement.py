"""Agreement figures over double-blind samples (roles.agreement).

The statistics are checked on published worked examples, first on plain data, then on samples
made through the review core (two reviewers, every decision drawn):

- Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
  Communication, University of Pennsylvania. https://repository.upenn.edu/asc_papers/43
  Example A (two observers, binary data, 10 units): alpha = 0.095. Example C (four observers,
  12 units, missing values, nominal): alpha = 0.743.
- Wikipedia, "Cohen's kappa", section "Simple example" (50 items: both yes 20, A yes B no 5,
  A no B yes 10, both no 15): kappa = 0.4. https://en.wikipedia.org/wiki/Cohen%27s_kappa
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from roles import agreement, workflow
from roles.agreement import Stat, Unit
from roles.models import DecisionKind, Sample, SampleState
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory
from tests.review.conftest import soc

# Krippendorff (2011), Example A: observers A and B, ten units, 1 = approve, 0 = reject.
EXAMPLE_A = ([0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0])
# Krippendorff (2011), Example C: observers A-D (rows) over 12 units (columns), None where missing.
EXAMPLE_C_OBSERVERS = (
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
)
# Wikipedia "Cohen's kappa", simple example: (A's answer, B's answer, how many items).
WIKIPEDIA_KAPPA = (("yes", "yes", 20), ("yes", "no", 5), ("no", "yes", 10), ("no", "no", 15))


def two_coder_alpha(pairs: list[tuple]) -> float:
    """Nominal alpha of complete two-coder data from the coincidence matrix (Krippendorff 2011,
    section C), written out here to check the library: 1 - (n - 1) * sum(o_ck, c != k) / sum(n_c n_k, c != k)."""
    n = 2 * len(pairs)
    disagreements = 2 * sum(a != b for a, b in pairs)
    totals: dict = {}
    for a, b in pairs:
        totals[a] = totals.get(a, 0) + 1
        totals[b] = totals.get(b, 0) + 1
    expected = n * n - sum(count * count for count in totals.values())
    return 1 - (n - 1) * disagreements / expected


def unit(first: str, second: str, *, by=("ann", "bob"), item_type="alias", family="FAM", settled=None, sample=0):
    """A measured sample on plain data: agreed when the labels match, else adjudicated (`settled`) or disputed."""
    if first == second:
        state, settled = SampleState.AGREED, first
    else:
        state = SampleState.DISPUTED if settled is None else SampleState.ADJUDICATED
    return Unit(sample=sample, item_type=item_type, family=family, state=state, first_by=by[0], second_by=by[1],
                first=first, second=second, settled=settled)


# ---------------------------------------------------------------------------------------------
# Statistics on plain data


def test_alpha_reproduces_krippendorff_2011_example_a():
    pairs = list(zip(*EXAMPLE_A, strict=True))
    stat = agreement.alpha(pairs)
    assert round(stat.value, 3) == 0.095 and stat.n == 10
    assert math.isclose(stat.value, two_coder_alpha(pairs))


def test_annotations_of_krippendorff_2011_example_c_give_its_nominal_alpha():
    from nltk.metrics.agreement import AnnotationTask

    units = list(zip(*EXAMPLE_C_OBSERVERS, strict=True))
    triples, categories = agreement.annotations(units)
    assert categories == [1, 2, 3, 4, 5]
    assert len(triples) == 41  # the values the four observers gave, missing ones left out
    assert ("0", "9", "4") not in triples and ("1", "9", "4") in triples  # A gave unit 10 nothing; B gave 5
    value = AnnotationTask(data=triples).alpha()
    assert round(value, 3) == 0.743
    # Through alpha(): unit 12 has one value only, so 11 units are pairable.
    stat = agreement.alpha(units)
    assert round(stat.value, 3) == 0.743 and stat.n == 11


def test_kappa_reproduces_the_wikipedia_simple_example():
    first = [a for a, _b, count in WIKIPEDIA_KAPPA for _ in range(count)]
    second = [b for _a, b, count in WIKIPEDIA_KAPPA for _ in range(count)]
    stat = agreement.kappa(first, second)
    assert round(stat.value, 3) == 0.4 and stat.n == 50
    assert agreement.share_agreeing(zip(first, second, strict=True)) == Stat(0.7, 50)


@pytest.mark.parametrize(("units", "n", "note"), [
    ([], 0, "fewer than 2 items"),
    ([("approve", "reject")], 1, "fewer than 2 items"),
    ([("approve", None), ("reject", None)], 0, "fewer than 2 items"),
    ([("approve", "approve"), ("approve", "approve")], 2, "one category only (approve)"),
])
def test_alpha_is_undefined_with_its_reason_for_too_few_items_or_one_category(units, n, note):
    stat = agreement.alpha(units)
    assert stat.value is None and stat.defined is False
    assert stat.n == n and stat.note.startswith(note)


def test_kappa_is_undefined_for_one_item_or_one_shared_category_and_zero_for_opposite_raters():
    assert agreement.kappa(["a"], ["b"]) == Stat(None, 1, "fewer than 2 items")
    same = agreement.kappa(["reject"] * 3, ["reject"] * 3)
    assert same.value is None and same.n == 3 and "chance agreement is 1" in same.note
    assert agreement.kappa(["a", "a"], ["b", "b"]) == Stat(0.0, 2)
    with pytest.raises(ValueError, match="as many labels"):
        agreement.kappa(["a"], ["a", "b"])


def test_share_agreeing_of_nothing_is_undefined():
    assert agreement.share_agreeing([]) == Stat(None, 0, "no items")


@pytest.mark.parametrize(("label", "level", "expected"), [
    ("15-1252", "detailed", "15-1252"),
    ("15-1252", "broad", "15-1250"),
    ("15-1252", "major", "15-0000"),
    ("15-1252.00", "broad", "15-1250"),
    ("15-2051.01", "detailed", "15-2051.01"),
    ("15-2051.01", "major", "15-0000"),
    ("reject", "broad", "reject"),
    ("reject", "major", "reject"),
])
def test_mapping_labels_at_each_level(label, level, expected):
    assert agreement.at_level(label, level) == expected


def test_labels_are_reject_approve_or_the_resulting_code():
    assert agreement.label(verdict="reject", item_type="mapping", code="15-1252") == "reject"
    assert agreement.label(verdict="refine", item_type="mapping", code="15-1252") == "15-1252"
    assert agreement.label(verdict="approve", item_type="alias") == "approve"
    with pytest.raises(ValueError, match="Unknown level"):
        agreement.at_level("15-1252", "minor")


def test_compute_orders_pairs_by_name_and_scores_each_reviewer_against_the_outcome():
    units = [
        # ann first, bob second, then bob first, ann second: one pair, oriented by name.
        unit("approve", "approve", sample=1),
        unit("reject", "approve", by=("bob", "ann"), settled="approve", sample=2),
        unit("reject", "approve", by=("cy", "ann"), sample=3),  # disputed: no outcome yet
        unit("reject", "reject", by=("ann", "cy"), sample=4),
    ]
    figures = agreement.compute(units, {"agreed": 2, "adjudicated": 1, "disputed": 1, "awaiting": 5})
    pairs = {pair.reviewers: pair for pair in figures.pairs}
    assert set(pairs) == {("ann", "bob"), ("ann", "cy")}
    assert pairs[("ann", "bob")].agreement == Stat(0.5, 2)
    assert pairs[("ann", "bob")].kappa.value == 0.0  # ann approves both; bob approves one
    assert pairs[("ann", "cy")].agreement == Stat(0.5, 2)
    # ann matched the outcome on samples 1, 2, 4; bob on 1 only; cy on 4 (sample 3 is not settled).
    assert figures.reviewers == {"ann": Stat(1.0, 3), "bob": Stat(0.5, 2), "cy": Stat(1.0, 1)}
    assert figures.by_state == {"awaiting": 5, "disputed": 1, "agreed": 2, "adjudicated": 1, "void": 0}
    assert figures.measured == 4
    assert figures.by_item_type["mapping"].alpha == Stat(None, 0, "fewer than 2 items")


def test_rows_and_csv_escape_formulas_in_text_and_keep_negative_numbers():
    units = [unit("approve", "reject", by=("=cmd", "-bob")), unit("reject", "approve", by=("=cmd", "-bob"))]
    figures = agreement.compute(units, {"disputed": 2})
    rows = agreement.rows(figures)
    assert all(list(row) == list(agreement.COLUMNS) for row in rows)
    alpha_row = next(row for row in rows if row["figure"] == "alpha" and row["scope"] == "all")
    assert alpha_row["value"] < 0 and alpha_row["n"] == 2
    handle = io.StringIO()
    agreement.write_csv(figures, handle)
    read = list(csv.DictReader(io.StringIO(handle.getvalue())))
    pair = next(row for row in read if row["figure"] == "kappa_by_pair")
    assert pair["scope"] == "'-bob / =cmd"
    assert float(next(row for row in read if row["figure"] == "alpha")["value"]) < 0
    undefined = next(row for row in read if row["figure"] == "alpha_by_item_type" and row["scope"] == "mapping")
    assert undefined["value"] == "" and undefined["note"] == "fewer than 2 items"
    assert agreement.csv_cell("@SUM(A1)") == "'@SUM(A1)" and agreement.csv_cell("+1") == "'+1"
    assert agreement.csv_cell(-0.25) == -0.25 and agreement.csv_cell(None) == ""


def test_summary_is_compact_json_without_reviewer_names():
    units = [unit("approve", "approve", by=("ann", "bob")), unit("reject", "approve", by=("ann", "bob"))]
    summary = agreement.summary(agreement.compute(units, {"agreed": 1, "disputed": 1}))
    assert set(summary) == {"measure", "samples", "alpha", "agreement", "alpha_by_item_type", "mapping_levels"}
    assert summary["samples"]["measured"] == 2 and summary["samples"]["void"] == 0
    assert summary["agreement"] == {"value": 0.5, "n": 2}
    assert summary["alpha_by_item_type"]["mapping"] == {"value": None, "n": 0, "note": "fewer than 2 items"}
    assert set(summary["mapping_levels"]) == {"detailed", "broad", "major"}
    text = json.dumps(summary)
    assert "ann" not in text and "bob" not in text


# ---------------------------------------------------------------------------------------------
# Samples made through the review core


@pytest.fixture
def sampling(settings):
    """Every reviewer's decision on an open item is drawn for a second, blind review."""
    settings.REVIEW_SAMPLE_SHARE = 1.0


def review(item, kind: str, actor, code: str = ""):
    reason = "" if kind == DecisionKind.APPROVE else "Judged in a blind review."
    return workflow.decide(item, kind=kind, actor=actor, reason=reason, code=code)


def two_reviews(item, first: tuple, second: tuple, a, b) -> None:
    """Reviewer `a` decides first (drawn), `b` second: `first`/`second` are (kind, code)."""
    review(item, *first[:1], a, *first[1:])
    review(item, *second[:1], b, *second[1:])


BINARY = {1: DecisionKind.APPROVE, 0: DecisionKind.REJECT}


def test_krippendorff_example_a_through_the_review_core(db, make_user, sampling):
    curator, ann, bob = make_user("curator"), make_user("reviewer"), make_user("reviewer")
    role = RoleFactory()
    for i, (a, b) in enumerate(zip(*EXAMPLE_A, strict=True)):
        alias = TitleAliasFactory(role=role, alias=f"Example A {i}", created_by=curator)
        two_reviews(alias, (BINARY[a],), (BINARY[b],), ann, bob)

    figures = agreement.figures()

    # Units 1, 3, 6 and 9 disagree: disputed, waiting for a lead; the other six agreed.
    assert figures.by_state == {"awaiting": 0, "disputed": 4, "agreed": 6, "adjudicated": 0, "void": 0}
    assert round(figures.overall.alpha.value, 3) == 0.095 and figures.overall.alpha.n == 10
    assert figures.by_item_type["alias"].alpha == figures.overall.alpha
    assert figures.by_item_type["mapping"].alpha.value is None
    assert figures.overall.agreement == Stat(0.6, 10)
    assert [(p.reviewers, p.agreement.n) for p in figures.pairs] == [(tuple(sorted((ann.username, bob.username))), 10)]
    assert round(figures.pairs[0].kappa.value, 3) == 0.091  # Cohen's kappa of the same data
    assert figures.by_family == {role.node.parent.code: figures.overall}


def test_wikipedia_kappa_example_through_the_review_core(db, make_user, sampling):
    curator, ann, bob = make_user("curator"), make_user("reviewer"), make_user("reviewer")
    role = RoleFactory()
    answers = {"yes": (DecisionKind.APPROVE,), "no": (DecisionKind.REJECT,)}
    i = 0
    for a, b, count in WIKIPEDIA_KAPPA:
        for _ in range(count):
            alias = TitleAliasFactory(role=role, alias=f"Kappa example {i}", created_by=curator)
            two_reviews(alias, answers[a], answers[b], ann, bob)
            i += 1

    figures = agreement.figures()

    (pair,) = figures.pairs
    assert round(pair.kappa.value, 3) == 0.4 and pair.kappa.n == 50
    assert pair.agreement == Stat(0.7, 50)
    assert figures.by_state["agreed"] == 35 and figures.by_state["disputed"] == 15


def test_mapping_reviewers_who_differ_on_the_detailed_code_agree_on_its_broad_and_major_group(
    db, make_user, reference_soc, sampling
):
    curator, ann, bob, lead = make_user("curator"), make_user("reviewer"), make_user("reviewer"), make_user("lead")
    role = RoleFactory()
    software = ClassificationMappingFactory(role=role, occupation=soc("15-1250"), created_by=curator)
    scientists = ClassificationMappingFactory(role=role, occupation=soc("15-2051"), created_by=curator)
    web = ClassificationMappingFactory(role=RoleFactory(), occupation=soc("15-1250"), created_by=curator)
    managers = ClassificationMappingFactory(role=role, occupation=soc("11-3021"), created_by=curator)
    two_reviews(software, ("refine", "15-1252"), ("refine", "15-1253"), ann, bob)  # same broad group
    two_reviews(scientists, ("approve",), ("approve",), ann, bob)  # agreed: 15-2051
    two_reviews(web, ("refine", "15-1254"), ("reject",), ann, bob)  # disagree at every level
    two_reviews(managers, ("approve",), ("approve",), ann, bob)  # agreed: 11-3021
    # The lead settles the first dispute for ann's code and the second for bob's rejection.
    workflow.decide(software, kind="refine", actor=lead, reason="Builds software; no QA.", code="15-1252")
    workflow.decide(web, kind="reject", actor=lead, reason="Not a web role.")

    figures = agreement.figures()

    levels = figures.mapping_levels
    assert [levels[level].agreement for level in agreement.LEVELS] == [Stat(0.5, 4), Stat(0.75, 4), Stat(0.75, 4)]
    detailed = [("15-1252", "15-1253"), ("15-2051", "15-2051"), ("15-1254", "reject"), ("11-3021", "11-3021")]
    broad = [("15-1250", "15-1250"), ("15-2050", "15-2050"), ("15-1250", "reject"), ("11-3020", "11-3020")]
    major = [("15-0000", "15-0000"), ("15-0000", "15-0000"), ("15-0000", "reject"), ("11-0000", "11-0000")]
    for level, pairs in zip(agreement.LEVELS, (detailed, broad, major), strict=True):
        assert math.isclose(levels[level].alpha.value, two_coder_alpha(pairs)), level
        assert levels[level].alpha.n == 4
    assert levels["broad"].alpha.value > levels["detailed"].alpha.value
    assert figures.by_item_type["mapping"] == levels["detailed"]
    # Each reviewer against the outcome: ann matched the lead on 15-1252, bob on the rejection.
    assert figures.reviewers == {ann.username: Stat(0.75, 4), bob.username: Stat(0.75, 4)}
    assert figures.by_state["adjudicated"] == 2 and figures.by_state["agreed"] == 2
    assert Sample.objects.get(mapping=software).settled_by == lead


def test_reviewers_are_scored_against_agreed_and_adjudicated_outcomes_per_family(db, make_user, sampling):
    curator, ann, bob, cy, lead = (make_user(kind) for kind in ("curator", "reviewer", "reviewer", "reviewer", "lead"))
    first_family, second_family = RoleFactory(), RoleFactory()
    aliases = [TitleAliasFactory(role=role, alias=f"Alias {i}", created_by=curator)
               for i, role in enumerate([first_family] * 3 + [second_family] * 2)]
    two_reviews(aliases[0], ("approve",), ("approve",), ann, bob)  # agreed
    two_reviews(aliases[1], ("approve",), ("reject",), ann, bob)  # adjudicated for bob
    two_reviews(aliases[2], ("reject",), ("approve",), ann, cy)  # adjudicated for ann
    two_reviews(aliases[3], ("reject",), ("reject",), cy, bob)  # agreed
    two_reviews(aliases[4], ("approve",), ("reject",), cy, ann)  # disputed: not settled
    workflow.decide(aliases[1], kind="reject", actor=lead, reason="Nobody uses this title.")
    workflow.decide(aliases[2], kind="reject", actor=lead, reason="A different job.")

    figures = agreement.figures()

    assert figures.by_state == {"awaiting": 0, "disputed": 1, "agreed": 2, "adjudicated": 2, "void": 0}
    assert figures.reviewers == {
        ann.username: Stat(2 / 3, 3),  # matched on aliases 0 and 2, not 1
        bob.username: Stat(1.0, 3),
        cy.username: Stat(0.5, 2),  # matched on alias 3, not 2
    }
    first, second = first_family.node.parent.code, second_family.node.parent.code
    assert set(figures.by_family) == {first, second}
    assert figures.by_family[first].agreement == Stat(1 / 3, 3)
    assert figures.by_family[second].agreement == Stat(0.5, 2)
    assert figures.family_names[first] == first_family.node.parent.name
    # A queryset narrows the figures to its samples.
    only_first = agreement.figures(Sample.objects.filter(alias__role=first_family))
    assert only_first.overall.agreement == Stat(1 / 3, 3) and only_first.measured == 3


def test_figures_read_in_two_queries_whatever_the_number_of_samples(
    db, make_user, sampling, django_assert_num_queries
):
    curator, ann, bob = make_user("curator"), make_user("reviewer"), make_user("reviewer")
    role = RoleFactory()
    for i in range(6):
        alias = TitleAliasFactory(role=role, alias=f"Counted {i}", created_by=curator)
        two_reviews(alias, (BINARY[i % 2],), (BINARY[i % 3 == 0],), ann, bob)
    # 1 the reviews of measured samples with their family, 2 samples by state (agreement.QUERIES).
    with django_assert_num_queries(len(agreement.QUERIES)):
        figures = agreement.figures()
    assert figures.measured == 6 and len(agreement.QUERIES) == 2


def test_awaiting_and_void_samples_are_counted_but_not_measured(db, make_user, sampling):
    curator, ann = make_user("curator"), make_user("reviewer")
    alias = TitleAliasFactory(role=RoleFactory(), alias="Only one review", created_by=curator)
    review(alias, DecisionKind.APPROVE, ann)
    figures = agreement.figures()
    assert figures.by_state["awaiting"] == 1 and figures.measured == 0
    assert figures.overall.alpha == Stat(None, 0, "fewer than 2 items") and figures.pairs == []


def test_a_release_manifest_carries_the_review_quality_summary(db, make_user, sampling, tmp_path, reference_soc):
    from publishing.releases import write_release

    curator, ann, bob = make_user("curator"), make_user("reviewer"), make_user("reviewer")
    role = RoleFactory()
    for i, (a, b) in enumerate(zip(*EXAMPLE_A, strict=True)):
        alias = TitleAliasFactory(role=role, alias=f"Released {i}", created_by=curator)
        two_reviews(alias, (BINARY[a],), (BINARY[b],), ann, bob)

    manifest = write_release(tmp_path / "release", formats=["fixtures"])

    quality = json.loads((tmp_path / "release" / "manifest.json").read_text())["review_quality"]
    assert quality == manifest["review_quality"]
    assert quality["alpha"] == {"value": 0.0952, "n": 10}
    assert quality["alpha_by_item_type"]["alias"] == {"value": 0.0952, "n": 10}
    assert quality["samples"]["measured"] == 10 and quality["samples"]["disputed"] == 4
    assert ann.username not in json.dumps(quality)
