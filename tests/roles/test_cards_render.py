"""render_card and export_card: the published format, byte for byte, and the import round trip."""

from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from framework.audit import acting_as, get_system_user
from review.services import reject_alias
from roles.cards.importer import CardSource, import_cards
from roles.cards.renderer import render_card
from roles.models import Component, Role, TitleAlias
from tests.factories import (
    ClassificationMappingFactory,
    ComponentFactory,
    RoleFactory,
    TitleAliasFactory,
    UserFactory,
    reviewer,
)

pytestmark = pytest.mark.django_db

REFERENCE = (Path(__file__).parents[2] / "fixtures" / "cards" / "AIMLAM.GEN.P1.txt").read_bytes()


def _import(text: str | bytes, name: str = "card.txt") -> None:
    data = text.encode("utf-8") if isinstance(text, str) else text
    result = import_cards([CardSource(name, data)], actor=get_system_user(), import_decisions=True)
    assert result.ok, result.error_lines()


def test_the_reference_card_round_trips_byte_identically(reference_soc):
    _import(REFERENCE)
    assert render_card(Role.objects.get(code="AIMLAM.GEN.P1")).encode("utf-8") == REFERENCE


def test_the_seed_fixture_renders_as_the_reference_card(seed_role):
    assert render_card(seed_role).encode("utf-8") == REFERENCE


def test_export_card_writes_the_card_to_a_file_without_trailing_newline(seed_role, tmp_path):
    target = tmp_path / "out.txt"
    call_command("export_card", "AIMLAM.GEN.P1", "--output", str(target), stderr=StringIO())
    assert target.read_bytes() == REFERENCE


def test_export_card_prints_to_standard_output(seed_role):
    out = StringIO()
    call_command("export_card", "AIMLAM.GEN.P1", stdout=out)
    assert out.getvalue() == REFERENCE.decode("utf-8")


def test_export_card_refuses_an_unknown_code(db):
    with pytest.raises(CommandError, match="No role has the code 'NOPE.GEN.P1'"):
        call_command("export_card", "NOPE.GEN.P1")


def _factory_role() -> Role:
    role = RoleFactory(core_outputs=["A trained model", "A short report"])
    for kind in (Component.Kind.RESPONSIBILITY, Component.Kind.SKILL, Component.Kind.QUALIFICATION):
        ComponentFactory.create_batch(2, role=role, kind=kind)
    ComponentFactory(role=role, kind=Component.Kind.TASK, text="Check at team level", prevalence="rare", scope="role")
    TitleAliasFactory(role=role, confidence=Decimal("0.91"), alias_type=TitleAlias.AliasType.ABBREVIATION)
    TitleAliasFactory(role=role, confidence=Decimal("0.20"))
    TitleAliasFactory(role=role)
    ClassificationMappingFactory(role=role)
    ClassificationMappingFactory(role=role)
    return role


@pytest.mark.parametrize("seed", range(3))
def test_factory_roles_render_import_render_is_a_fixed_point(seed, reference_soc):
    role = _factory_role()
    first = render_card(role)
    code = role.code
    with acting_as(get_system_user(), "test: start afresh"):
        role.delete()
    _import(first)
    again = Role.objects.get(code=code)
    assert render_card(again) == first
    assert again.components.count() == 7 and again.aliases.count() == 3 and again.mappings.count() == 2


def test_approved_aliases_print_their_date_and_import_it_back(reference_soc):
    text = REFERENCE.decode("utf-8").replace(
        "| Deep Learning I | common | medium0.70 | — |", "| Deep Learning I | common | medium0.70 | 2026-01-31 |"
    )
    # A curator brings the card in; the system's import of the published approval then decides it.
    curator = UserFactory()
    assert import_cards([CardSource("card.txt", REFERENCE)], actor=curator).ok
    _import(text)
    role = Role.objects.get(code="AIMLAM.GEN.P1")
    assert role.aliases.get(alias="Deep Learning I").status == TitleAlias.Status.APPROVED
    assert "| Deep Learning I | common | medium0.70 | 2026-01-31 |" in render_card(role).split("\n")
    assert render_card(role) == text


def test_rejected_aliases_are_not_on_the_card(seed_role):
    alias = seed_role.aliases.get(alias="Junior Deep Learning")
    reject_alias(alias=alias, actor=reviewer(), reason="not a title")
    card = render_card(seed_role)
    assert "Junior Deep Learning" not in card
    assert "| Junior Machine Learning | common | medium0.68 | — |" in card


def test_an_empty_role_renders_its_fixed_texts_and_zero_counts(reference_soc):
    role = RoleFactory(plan=[])
    lines = render_card(role).split("\n")
    assert "No core outputs recorded yet." in lines
    assert ["Responsibilities0", "Tasks0", "Skills0", "Knowledge0", "competency0", "qualification0"] == [
        line for line in lines if line[-1:] == "0" and line[:1].isalpha() and " " not in line
    ]
    assert lines[-1] == "O*NET / SOC"
    _import(render_card(role).replace(role.code, f"NEWFAM.GEN.{role.level.code}"))
    assert render_card(Role.objects.get(code=f"NEWFAM.GEN.{role.level.code}")).split("\n")[2:] == lines[2:]


def test_line_breaks_in_a_paragraph_print_as_spaces_so_the_card_stays_readable(reference_soc):
    role = RoleFactory(summary="First line.\r\nSecond line.", plan=["Step one\nand more"])
    lines = render_card(role).split("\n")
    assert "First line. Second line." in lines and "- Step one and more" in lines
    _import(render_card(role).replace(role.code, f"NEWFAM.GEN.{role.level.code}"))


def test_rendering_takes_a_constant_number_of_queries(seed_role, django_assert_num_queries):
    role = Role.objects.with_related().get(pk=seed_role.pk)
    # components, aliases (not rejected), mappings (not rejected)
    with django_assert_num_queries(3):
        render_card(role)
