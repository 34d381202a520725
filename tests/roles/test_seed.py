"""fixtures/seed.json is the reference card's role, exactly as printed."""

from decimal import Decimal

import pytest

from roles.models import ClassificationMapping, Component, TitleAlias

pytestmark = pytest.mark.django_db

CARD_ALIASES = [
    ("Machine Learning I", "0.70"),
    ("Machine Learning 1", "0.66"),
    ("Entry-Level Machine Learning", "0.70"),
    ("Junior Machine Learning", "0.68"),
    ("Associate Machine Learning", "0.60"),
    ("Deep Learning I", "0.70"),
    ("Deep Learning 1", "0.66"),
    ("Entry-Level Deep Learning", "0.70"),
    ("Junior Deep Learning", "0.68"),
    ("Associate Deep Learning", "0.60"),
    ("Statistical Modeling I", "0.70"),
    ("Statistical Modeling 1", "0.66"),
    ("Entry-Level Statistical Modeling", "0.70"),
    ("Junior Statistical Modeling", "0.68"),
    ("Associate Statistical Modeling", "0.60"),
    ("Entry-Level AI/ML Engineer", "0.50"),
]


def test_seed_role_header_and_story(seed_role):
    assert seed_role.title == "Entry-Level AI/ML Engineer"
    assert seed_role.code == "AIMLAM.GEN.P1"
    assert seed_role.node.code == "AIMLAM.GEN" and seed_role.node.parent.code == "AIMLAM"
    assert seed_role.headline.startswith("P1 is an entry-level position for AI/ML")
    assert seed_role.external_problem.startswith("Organizations struggle to leverage")
    assert seed_role.internal_problem.startswith("They feel overwhelmed")
    assert seed_role.why_it_matters.startswith("In a world driven by technology")
    assert len(seed_role.plan) == 5
    assert seed_role.plan[0] == "Assess the specific needs and challenges faced by the organization."
    assert seed_role.whats_at_stake.startswith("The project fails to address")
    assert seed_role.success_looks_like.startswith("Organizations make data-driven decisions")
    assert seed_role.summary.endswith("They require close guidance and mentorship to perform tasks.")
    assert seed_role.core_outputs == []


def test_seed_level_has_the_seven_attributes(seed_role):
    level = seed_role.level
    assert (level.code, level.name, level.track, level.rank) == ("P1", "Entry-Level Professional", "P", 1)
    assert level.summary == "New to role or field; performs basic tasks under supervision"
    assert [getattr(level, f) for f, _ in level.ATTRIBUTES] == [
        "Own tasks within a defined component",
        "Close supervision; work reviewed frequently",
        "Routine problems with known solutions",
        "Own deliverables",
        "Few independent decisions; escalates the rest",
        "None — building the craft",
        "0–2 yrs",
    ]


def test_seed_components_counts_texts_and_tags(seed_role):
    counts = {kind: seed_role.components.filter(kind=kind).count() for kind in Component.KIND_ORDER}
    assert counts == {
        "responsibility": 8,
        "task": 4,
        "skill": 8,
        "knowledge": 8,
        "competency": 8,
        "qualification": 3,
    }
    first = seed_role.components.filter(kind="responsibility").order_by("position").first()
    assert first.text == "Implementing small components of ML models or data pipelines"
    qualification = seed_role.components.filter(kind="qualification").order_by("position").first()
    assert qualification.text.startswith("Bachelor’s degree in Computer Science")
    assert set(seed_role.components.values_list("prevalence", "scope")) == {("common", "level")}


def test_seed_aliases_as_printed_all_pending(seed_role):
    aliases = list(seed_role.aliases.order_by("pk"))
    assert [(a.alias, a.confidence) for a in aliases] == [(t, Decimal(c)) for t, c in CARD_ALIASES]
    assert {a.alias_type for a in aliases} == {"common"}
    assert {a.status for a in aliases} == {TitleAlias.Status.PENDING}
    assert {a.band for a in aliases} == {"medium"}


def test_seed_mapping_needs_review_at_major_group(seed_role):
    mapping = seed_role.mappings.get()
    assert mapping.code == "15-0000"
    assert mapping.title == "Computer & Mathematical Occupations"
    assert mapping.source == ClassificationMapping.Source.INFERRED_FROM_SUPERFUNCTION
    assert mapping.status == ClassificationMapping.Status.NEEDS_REVIEW
    assert mapping.get_scheme_display() == "O*NET / SOC"
    assert mapping.occupation.title == "Computer and Mathematical Occupations"
