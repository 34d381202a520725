"""Role-style queries lose their seniority and level words before the coder reads them; the reference keeps its own.

What is kept on purpose: a seniority word that is not the title's first word ("Team Lead",
"School Principal", "Accounting Associate"), the words with which O*NET names an occupation
("Lead Abatement Worker", "Junior High School Principal", "Staff Assistant", "Senior Adults Director",
"Principal Investigator"), and intern, trainee and apprentice, which O*NET files as occupations of
their own. "Staff Nurse" and "Associate Professor" lose their first word: "Nurse" and "Professor"
keep the same occupations in the coder's top 5. Measurements: docs/architecture.md#role-titles.
"""

import csv
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from taxonomy.coder import CoderQuery, load_index, suggest
from taxonomy.coder.model import prepare
from taxonomy.coder.text import normalize_role_title

AI_ML_CODES = {"15-1221", "15-2051", "15-1299"}


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Senior Data Scientist", "Data Scientist"),
        ("Sr. Accountant", "Accountant"),
        ("SR Accountant", "Accountant"),
        ("Junior Analyst", "Analyst"),
        ("Jr Developer", "Developer"),
        ("Lead Software Engineer", "Software Engineer"),
        ("Principal Engineer", "Engineer"),
        ("Staff Engineer", "Engineer"),
        ("Associate Product Manager", "Product Manager"),
        ("Entry-Level AI/ML Engineer", "AI/ML Engineer"),
        ("Entry Level Nurse", "Nurse"),
        ("Mid-Level Designer", "Designer"),
        ("Senior Staff Engineer", "Engineer"),
        ("Senior/Lead Data Engineer", "Data Engineer"),
    ],
)
def test_leading_seniority_words_are_dropped(title, expected):
    assert normalize_role_title(title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Data Analyst II", "Data Analyst"),
        ("Accountant III", "Accountant"),
        ("Engineer IV", "Engineer"),
        ("Machine Learning I", "Machine Learning"),
        ("Machine Learning 1", "Machine Learning"),
        ("Software Engineer L3", "Software Engineer"),
        ("Analyst Level 2", "Analyst"),
        ("Analyst Grade IV", "Analyst"),
    ],
)
def test_a_trailing_grade_is_dropped(title, expected):
    assert normalize_role_title(title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Data Engineer (Part-Time)", "Data Engineer"),
        ("Data Engineer (Remote)", "Data Engineer"),
        ("Data Engineer (Contract)", "Data Engineer"),
        ("Data Engineer [Hybrid]", "Data Engineer"),
        ("Data Engineer (Contract, Part-Time)", "Data Engineer"),
        ("Data Engineer (Senior)", "Data Engineer"),
        ("Data Scientist, Senior", "Data Scientist"),
        ("Data Scientist - Remote", "Data Scientist"),
        ("Senior Data Scientist II (Remote)", "Data Scientist"),
    ],
)
def test_qualifiers_in_brackets_or_after_a_separator_are_dropped(title, expected):
    assert normalize_role_title(title) == expected


@pytest.mark.parametrize(
    "title",
    [
        # O*NET names these occupations with the word: the exceptions.
        "Lead Abatement Worker",
        "Lead-Based Paint Technician (Lead-Based Paint Tech)",
        "Lead Miner",
        "Junior High School Principal",
        "Staff Assistant",
        "Staff Services Manager",
        "Senior Adults Director",
        "Principal Investigator",
        # The word is not the title's first: it is the occupation, not a seniority.
        "School Principal",
        "Team Lead",
        "Accounting Associate",
        "Data Entry Clerk",
        # Occupations of their own in O*NET (Intern: physicians; Electrician Apprentice: helpers).
        "Management Trainee",
        "Electrician Apprentice",
        "Medical Intern",
        # Brackets that expand a title, and an "I" that is not a grade.
        "Business Development Executive (BD Executive)",
        "E and I Technician",
        "EMT-I",
    ],
)
def test_occupation_words_are_kept(title):
    assert normalize_role_title(title) == title


def test_staff_nurse_and_associate_professor_keep_their_occupations_without_the_first_word():
    assert normalize_role_title("Staff Nurse") == "Nurse"
    assert normalize_role_title("Associate Professor") == "Professor"
    assert suggest(CoderQuery(title="Staff Nurse"))[0].code == "29-1141"  # Registered Nurses
    assert suggest(CoderQuery(title="Associate Professor"))[0].code.startswith("25-1")  # Postsecondary teachers


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Senior", "Senior"),
        ("Lead", "Lead"),
        ("Senior Lead", "Lead"),
        ("II", "II"),
        ("Level 2", "Level 2"),
        ("(Remote)", "(Remote)"),
        ("Senior (Remote)", "Senior"),
        ("Senior 2", "Senior"),
        ("", ""),
        ("!?.,", "!?.,"),
    ],
)
def test_a_title_is_never_stripped_to_nothing(title, expected):
    assert normalize_role_title(title) == expected


TITLE_PARTS = st.sampled_from(
    ["Senior", "Sr.", "Lead", "Staff", "Junior", "Associate", "Entry-Level", "Principal", "Data", "Scientist",
     "Nurse", "II", "IV", "3", "Level", "L3", "(Remote)", "(Part-Time)", "[Contract]", ",", "-", "&", "and", "I"]
)


@given(st.lists(TITLE_PARTS, max_size=8).map(" ".join))
def test_normalising_is_idempotent_and_keeps_a_letter(title):
    once = normalize_role_title(title)
    assert normalize_role_title(once) == once
    assert any(c.isalpha() for c in once) == any(c.isalpha() for c in title)


def test_every_onet_alternate_title_keeps_a_letter_and_normalises_once():
    path = Path(settings.BASE_DIR) / "fixtures" / "reference" / "onet_alternate_titles.csv"
    with path.open(encoding="utf-8", newline="") as stream:
        titles = {row["title"] for row in csv.DictReader(stream)}
    for title in titles:
        once = normalize_role_title(title)
        assert once and normalize_role_title(once) == once, title


def test_prepare_normalises_the_title_and_aliases_but_not_the_body():
    prepared = prepare("Senior Data Scientist II", ["Lead Data Analyst", "Sr. Statistician (Contract)"],
                       ["Senior stakeholder management"], "A Lead role.")
    assert prepared.title == "Data Scientist"
    assert prepared.aliases == ("Data Analyst", "Statistician")
    assert prepared.body == "Senior stakeholder management A Lead role."


def test_the_seed_roles_normalised_query_keeps_an_ai_ml_occupation_in_its_top_5(seed_query):
    prepared = prepare(seed_query.title, seed_query.aliases, seed_query.components, seed_query.story)
    assert prepared.title == "AI/ML Engineer"
    assert prepared.aliases == ("Machine Learning", "Machine Learning", "Deep Learning", "Statistical Modeling",
                                "AI/ML Engineer")
    codes = [s.code for s in suggest(seed_query, k=5)]
    assert AI_ML_CODES & set(codes), codes


def test_a_senior_remote_title_gets_the_plain_titles_suggestions():
    plain = suggest(CoderQuery(title="Data Scientist"), k=5)
    assert [s.code for s in suggest(CoderQuery(title="Senior Data Scientist II (Remote)"), k=5)] == [
        s.code for s in plain
    ]
    assert plain[0].code == "15-2051"  # Data Scientists


def test_the_reference_keeps_its_seniority_words():
    model, _ = load_index()
    titles = {text for _, text, _ in model.title_rows}
    assert {"Staff Nurse", "Senior Adults Director", "Lead Cargo Mover", "Associate Professor"} <= titles
