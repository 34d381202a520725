from decimal import Decimal

import pytest

from roles.models import ClassificationMapping, TitleAlias
from roles.services import save_alias, save_mapping
from tests.factories import RoleFactory, curator, reviewer


@pytest.fixture
def people(review_groups):
    """A curator who writes aliases, two reviewers, and someone with no review permission."""
    return {
        "carl": curator(username="carl"),
        "rita": reviewer(username="rita"),
        "ravi": reviewer(username="ravi"),
    }


@pytest.fixture
def role(db):
    return RoleFactory()


@pytest.fixture
def make_alias(role):
    """An alias created by `actor` through the curators' service (so it has a creator)."""

    def make(actor, text="Data Wrangler", **kwargs):
        alias = TitleAlias(role=kwargs.pop("role", role), alias=text, alias_type=TitleAlias.AliasType.COMMON,
                           confidence=Decimal("0.70"), source="manual", **kwargs)
        return save_alias(alias=alias, actor=actor, reason="proposed")

    return make


@pytest.fixture
def make_mapping(role, reference_soc):
    def make(actor, code="15-2051"):
        mapping = ClassificationMapping(role=role, scheme=ClassificationMapping.Scheme.ONET_SOC, code=code,
                                        title="Data Scientists", source=ClassificationMapping.Source.MANUAL)
        return save_mapping(mapping=mapping, actor=actor, reason="proposed")

    return make
