"""Users and reviewable items for the review tests."""

from decimal import Decimal

import pytest
from django.test import Client

from roles.models import ClassificationMapping
from taxonomy.models import OccupationCode
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory


@pytest.fixture
def curator(make_user):
    return make_user("curator")


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer")


@pytest.fixture
def other_reviewer(make_user):
    return make_user("reviewer")


@pytest.fixture
def superuser(make_user):
    return make_user("superuser")


@pytest.fixture
def role(db):
    return RoleFactory()


@pytest.fixture
def alias(role, curator):
    return TitleAliasFactory(role=role, alias="Data Wrangler", confidence=Decimal("0.70"), created_by=curator)


def logged_in(user) -> Client:
    """A test client with `user` logged in."""
    client = Client()
    client.force_login(user)
    return client


def soc(code: str) -> OccupationCode:
    return OccupationCode.objects.get(scheme=ClassificationMapping.reference_scheme(code), code=code)


@pytest.fixture
def detailed_mapping(role, curator, reference_soc):
    """A mapping to the detailed occupation 15-2051 Data Scientists."""
    return ClassificationMappingFactory(role=role, occupation=soc("15-2051"), created_by=curator)


@pytest.fixture
def group_mapping(role, curator, reference_soc):
    """A mapping that stops at the major group 15-0000, with the card's "&" title."""
    return ClassificationMappingFactory(
        role=role,
        occupation=soc("15-0000"),
        title="Computer & Mathematical Occupations",
        source=ClassificationMapping.Source.INFERRED_FROM_SUPERFUNCTION,
        created_by=curator,
    )
