"""The card parser: the reference card field by field, and every malformed-card class by line."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from roles.cards.parser import CardSyntaxError, Problem, parse_card

REFERENCE = (Path(__file__).parents[2] / "fixtures" / "cards" / "AIMLAM.GEN.P1.txt").read_bytes()
REFERENCE_TEXT = REFERENCE.decode("utf-8")


def _lines() -> list[str]:
    return REFERENCE_TEXT.split("\n")


def _replace_line(number: int, text: str) -> str:
    lines = _lines()
    lines[number - 1] = text
    return "\n".join(lines)


def _problems(text: str | bytes) -> list[Problem]:
    with pytest.raises(CardSyntaxError) as info:
        parse_card(text)
    return info.value.problems


def _assert_problem(text: str | bytes, line: int, match: str) -> None:
    problems = _problems(text)
    assert any(p.line == line and match in p.message for p in problems), problems


def test_reference_card_opening_and_story():
    card = parse_card(REFERENCE)
    assert card.title == "Entry-Level AI/ML Engineer"
    assert card.code == "AIMLAM.GEN.P1"
    assert (card.family_code, card.specialization_code) == ("AIMLAM", "AIMLAM.GEN")
    assert card.headline.startswith("P1 is an entry-level position for AI/ML")
    assert card.who_does_this_work.startswith("An AI/ML Engineer who strives")
    assert card.external_problem.startswith("Organizations struggle to leverage")
    assert card.internal_problem.startswith("They feel overwhelmed")
    assert card.why_it_matters.startswith("In a world driven by technology")
    assert len(card.plan) == 5
    assert card.plan[0] == "Assess the specific needs and challenges faced by the organization."
    assert card.plan[-1] == "Monitor and refine models continuously to ensure they remain effective and relevant."
    assert card.whats_at_stake.startswith("The project fails to address")
    assert card.success_looks_like.startswith("Organizations make data-driven decisions")
    assert card.summary.endswith("They require close guidance and mentorship to perform tasks.")
    assert card.core_outputs == []


def test_reference_card_level_block():
    level = parse_card(REFERENCE).level
    assert (level.code, level.name) == ("P1", "Entry-Level Professional")
    assert level.summary == "New to role or field; performs basic tasks under supervision"
    assert level.attributes == {
        "scope": "Own tasks within a defined component",
        "autonomy": "Close supervision; work reviewed frequently",
        "complexity": "Routine problems with known solutions",
        "impact": "Own deliverables",
        "decision_rights": "Few independent decisions; escalates the rest",
        "leadership": "None — building the craft",
        "typical_experience": "0–2 yrs",
    }


def test_reference_card_components_with_tags_split_off():
    components = parse_card(REFERENCE).components
    counts = {}
    for component in components:
        counts[component.kind] = counts.get(component.kind, 0) + 1
    assert counts == {"responsibility": 8, "task": 4, "skill": 8, "knowledge": 8, "competency": 8, "qualification": 3}
    first = components[0]
    assert (first.kind, first.text, first.prevalence, first.scope, first.line) == (
        "responsibility",
        "Implementing small components of ML models or data pipelines",
        "common",
        "level",
        46,
    )
    assert components[-1].text == "Basic understanding of AI/ML concepts"
    assert all((c.prevalence, c.scope) == ("common", "level") for c in components)


def test_reference_card_aliases_and_mapping():
    card = parse_card(REFERENCE)
    assert len(card.aliases) == 16
    first = card.aliases[0]
    assert (first.alias, first.alias_type, first.confidence, first.approved_on, first.line) == (
        "Machine Learning I",
        "common",
        Decimal("0.70"),
        None,
        93,
    )
    assert card.aliases[-1].confidence == Decimal("0.50")
    [mapping] = card.mappings
    assert (mapping.scheme, mapping.code, mapping.title, mapping.source, mapping.status) == (
        "onet_soc",
        "15-0000",
        "Computer & Mathematical Occupations",
        "inferred_from_superfunction",
        "needs_review",
    )


@pytest.mark.parametrize("variant", ["crlf", "trailing newline", "crlf and trailing newline"])
def test_windows_line_endings_and_a_trailing_newline_are_accepted(variant):
    text = REFERENCE_TEXT
    if "crlf" in variant:
        text = text.replace("\n", "\r\n")
    if "trailing" in variant:
        text += "\r\n" if "crlf" in variant else "\n"
    assert parse_card(text.encode("utf-8")) == parse_card(REFERENCE)


def test_tags_are_parsed_from_the_right_so_an_item_may_end_in_level():
    text = REFERENCE_TEXT.replace("- Python programmingcommonlevel", "- Work at team levelcommonlevel")
    skill = next(c for c in parse_card(text).components if c.kind == "skill")
    assert (skill.text, skill.prevalence, skill.scope) == ("Work at team level", "common", "level")


def test_a_mapping_title_may_contain_the_word_source():
    text = REFERENCE_TEXT.replace("title=Computer & Mathematical Occupations", "title=Open source=Occupations")
    [mapping] = parse_card(text).mappings
    assert (mapping.title, mapping.source) == ("Open source=Occupations", "inferred_from_superfunction")


def test_an_approval_date_is_read():
    text = _replace_line(93, "| Machine Learning I | common | medium0.70 | 2026-03-14 |")
    assert parse_card(text).aliases[0].approved_on == date(2026, 3, 14)


# One test per error class, each naming the line ------------------------------------------


def test_missing_role_code_is_reported_on_line_2():
    lines = _lines()
    del lines[1]
    _assert_problem("\n".join(lines), 2, "invalid role code")


@pytest.mark.parametrize("code", ["aimlam.gen.p1", "AIMLAM.P1", "AIMLAM.GEN.P01", ""])
def test_invalid_role_code_is_reported_on_line_2(code):
    _assert_problem(_replace_line(2, code), 2, "invalid")


def test_a_component_count_that_disagrees_with_its_items():
    _assert_problem(_replace_line(54, "Tasks5"), 54, '"Tasks" says 5 items but lists 4')


@pytest.mark.parametrize("value", ["high1.20", "low-0.10"])
def test_a_confidence_out_of_range(value):
    _assert_problem(_replace_line(94, f"| Machine Learning 1 | common | {value} | — |"), 94, "out of range")


def test_a_confidence_disagreeing_with_its_band():
    _assert_problem(
        _replace_line(94, "| Machine Learning 1 | common | high0.66 | — |"), 94, "is in the band 'medium', not 'high'"
    )


@pytest.mark.parametrize("code", ["15-00x0", "150000", "15-0000.1"])
def test_a_malformed_soc_code(code):
    line = _lines()[110].replace("code=15-0000", f"code={code}")
    _assert_problem(_replace_line(111, line), 111, "malformed SOC code")


def test_an_unknown_components_section():
    lines = _lines()
    lines.insert(53, "Hobbies1")  # before Tasks4, after the last responsibility
    _assert_problem("\n".join(lines), 54, "unknown section 'Hobbies1'")


def test_an_unknown_top_level_line():
    lines = _lines()
    lines.insert(21, "Fun facts")  # between the story's last paragraph and Summary
    _assert_problem("\n".join(lines), 22, "unknown section or unexpected line 'Fun facts'")


@pytest.mark.parametrize("keep", [3, 30, 89, 109])
def test_a_truncated_file_names_the_missing_section(keep):
    text = "\n".join(_lines()[:keep])
    problems = _problems(text)
    assert any(p.line == keep and "is missing" in p.message for p in problems), problems


def test_an_empty_file():
    _assert_problem(b"", 1, "empty")


def test_invalid_utf8_names_its_line():
    data = REFERENCE.replace(b"Own deliverables", b"Own \xff deliverables")
    _assert_problem(data, 33, "not UTF-8")


def test_control_characters_are_refused():
    _assert_problem(REFERENCE_TEXT.replace("Own deliverables", "Own\x00deliverables"), 33, "U+0000")


def test_the_headline_must_be_repeated():
    _assert_problem(_replace_line(4, "Something else"), 4, "repeat the headline")


def test_the_level_must_match_the_role_code():
    _assert_problem(_replace_line(24, "Level — P2 — Entry-Level Professional"), 24, "does not match")


def test_level_attributes_must_come_in_order():
    _assert_problem(_replace_line(28, "- Complexity"), 28, 'expected the level attribute "- Autonomy"')


def test_a_duplicate_alias_ignoring_case():
    _assert_problem(_replace_line(94, "| machine learning i | common | medium0.70 | — |"), 94, "duplicate alias")


def test_an_unknown_alias_type_and_a_bad_date():
    problems = _problems(_replace_line(94, "| Machine Learning 1 | nickname | medium0.66 | 14/03/2026 |"))
    messages = [p.message for p in problems if p.line == 94]
    assert any("unknown alias type" in m for m in messages)
    assert any("YYYY-MM-DD" in m for m in messages)


def test_a_component_without_tags():
    _assert_problem(_replace_line(46, "- Implementing things"), 46, "scope tag")


def test_every_problem_is_reported_not_just_the_first():
    text = _replace_line(54, "Tasks9")
    text = text.replace("| Machine Learning 1 | common | medium0.66 |", "| Machine Learning 1 | common | high0.66 |")
    text = text.replace("code=15-0000", "code=15-00")
    assert [p.line for p in _problems(text)] == [54, 94, 111]


def test_problems_format_as_file_colon_line():
    [problem] = _problems(_replace_line(54, "Tasks5"))
    assert problem.format("cards/x.txt") == 'cards/x.txt:54: "Tasks" says 5 items but lists 4'
