"""Constraints and validation: each bad value is refused with a message naming the field."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from roles.models import ClassificationMapping, Role, TitleAlias, confidence_band
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("code", ["aimlam.gen.p1", "AIMLAM.GEN", "AIMLAM-GEN-P1", "AIMLAM.GEN.1", "A.B.C.P1"])
def test_malformed_role_code_is_refused_naming_the_field(code):
    role = RoleFactory.build(code=code, node=RoleFactory().node, level=RoleFactory().level)
    with pytest.raises(ValidationError) as excinfo:
        role.full_clean()
    assert "code" in excinfo.value.message_dict


def test_malformed_role_code_is_refused_by_the_database():
    role = RoleFactory()
    role.code = "not a code"
    with pytest.raises(IntegrityError), transaction.atomic():
        role.save()


def test_role_code_must_agree_with_its_specialization_and_level():
    other = RoleFactory()
    role = RoleFactory.build(code="ZZZ.GEN.P1", node=other.node, level=other.level)
    with pytest.raises(ValidationError) as excinfo:
        role.full_clean()
    assert set(excinfo.value.message_dict) >= {"node"}


@pytest.mark.parametrize("confidence", [Decimal("-0.1"), Decimal("1.5")])
def test_confidence_outside_0_1_is_refused_naming_the_field(confidence):
    alias = TitleAliasFactory.build(role=RoleFactory(), confidence=confidence)
    with pytest.raises(ValidationError) as excinfo:
        alias.full_clean()
    assert "confidence" in excinfo.value.message_dict


@pytest.mark.parametrize("confidence", [Decimal("-0.1"), Decimal("1.5")])
def test_confidence_outside_0_1_is_refused_by_the_database(confidence):
    alias = TitleAliasFactory()
    alias.confidence = confidence
    with pytest.raises(IntegrityError), transaction.atomic():
        alias.save()


@pytest.mark.parametrize("duplicate", ["machine learning i", "Machine  Learning   I", "  MACHINE LEARNING I "])
def test_duplicate_alias_in_another_case_or_spacing_is_refused(duplicate):
    role = RoleFactory()
    TitleAliasFactory(role=role, alias="Machine Learning I")
    alias = TitleAliasFactory.build(role=role, alias=duplicate)
    with pytest.raises(ValidationError, match="alias"):
        alias.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        alias.save()


def test_the_same_alias_is_allowed_on_another_role():
    TitleAliasFactory(alias="Data Scientist")
    assert TitleAliasFactory(alias="Data Scientist").pk is not None


def test_alias_white_space_is_stored_collapsed():
    alias = TitleAliasFactory(alias="  Junior   Deep Learning ")
    alias.refresh_from_db()
    assert alias.alias == "Junior Deep Learning"


@pytest.mark.parametrize("code", ["15-00000", "150000", "15-0000.0", "AB-1234", "15-0000 "])
def test_malformed_soc_code_is_refused_naming_the_field(code):
    mapping = ClassificationMappingFactory.build(role=RoleFactory(), code=code, occupation=None)
    with pytest.raises(ValidationError) as excinfo:
        mapping.full_clean()
    assert "code" in excinfo.value.message_dict


def test_malformed_soc_code_is_refused_by_the_database():
    mapping = ClassificationMappingFactory.build(role=RoleFactory(), code="15-00", occupation=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        mapping.save()


def test_one_mapping_per_role_scheme_and_code():
    mapping = ClassificationMappingFactory()
    duplicate = ClassificationMappingFactory.build(role=mapping.role, occupation=mapping.occupation)
    with pytest.raises(ValidationError, match="code"):
        duplicate.full_clean()


def test_unique_role_code():
    role = RoleFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Role.objects.create(code=role.code, title="x", node=role.node, level=role.level)


@pytest.mark.parametrize(
    ("confidence", "band"),
    [
        ("0.00", "low"),
        ("0.49", "low"),
        ("0.50", "medium"),
        ("0.70", "medium"),
        ("0.79", "medium"),
        ("0.80", "high"),
        ("1.00", "high"),
    ],
)
def test_confidence_bands_agree_with_the_card(confidence, band):
    assert confidence_band(Decimal(confidence)) == band


def test_band_thresholds_are_a_setting(settings):
    settings.ROLEBOOK_CONFIDENCE_BANDS = {"medium": Decimal("0.60"), "high": Decimal("0.90")}
    assert confidence_band(Decimal("0.55")) == "low"
    assert confidence_band(Decimal("0.85")) == "medium"


def test_allowed_transitions_are_data():
    alias = TitleAlias(status=TitleAlias.Status.PENDING)
    assert alias.can_transition_to(TitleAlias.Status.APPROVED) is True
    assert alias.can_transition_to(TitleAlias.Status.PENDING) is False
    mapping = ClassificationMapping(status=ClassificationMapping.Status.REJECTED)
    assert mapping.can_transition_to(ClassificationMapping.Status.NEEDS_REVIEW) is True
    assert mapping.can_transition_to(ClassificationMapping.Status.APPROVED) is False


def test_approved_alias_needs_an_approval_date_in_the_database():
    alias = TitleAliasFactory()
    alias.status = TitleAlias.Status.APPROVED
    with pytest.raises(IntegrityError), transaction.atomic():
        alias.save()
