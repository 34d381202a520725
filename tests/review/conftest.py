"""Users and reviewable items for the review tests."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission

from review.groups import sync_review_permissions
from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.models import ClassificationMapping
from taxonomy.models import OccupationCode
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory, UserFactory


@pytest.fixture
def review_groups(db):
    """Curators and Reviewers with their roles and review permissions (a flush removes them)."""
    sync_groups(Group, Permission)
    sync_review_permissions(Group, Permission)


@pytest.fixture
def make_user(review_groups):
    def make(kind: str, **kwargs):
        if kind == "superuser":
            return UserFactory(is_superuser=True, **kwargs)
        if kind == "anonymous":
            return None
        return UserFactory(groups=[{"curator": CURATORS, "reviewer": REVIEWERS}[kind]], **kwargs)

    return make


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
