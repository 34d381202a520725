"""Tokens, clients and published data for the API tests."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from api.services import create_token
from review import services
from roles.models import ClassificationMapping, TitleAlias
from taxonomy.models import OccupationCode
from tests.factories import (
    ClassificationMappingFactory,
    LevelFactory,
    RoleFactory,
    SpecializationFactory,
    TitleAliasFactory,
    UserFactory,
)
from tests.publishing.test_releases import make_reviewer


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttle counts live in the cache, which outlives a test: start each test at zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def releases_dir(settings, tmp_path):
    """An empty folder of published releases."""
    settings.ROLEBOOK_RELEASES_DIR = tmp_path / "releases"
    return settings.ROLEBOOK_RELEASES_DIR


@pytest.fixture
def make_token(db):
    def make(scopes=("read",), user=None, name="test token"):
        """A token of `user` (a new one by default) with `scopes`; returns (token, secret)."""
        return create_token(user=user or UserFactory(is_staff=False), name=name, scopes=scopes)

    return make


def bearer(secret: str) -> dict:
    """The header of a token, for the Django test client."""
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def reader(make_token):
    """Headers of a token with the read scope."""
    return bearer(make_token(("read",))[1])


@pytest.fixture
def downloader(make_token):
    """Headers of a token with the releases scope."""
    return bearer(make_token(("releases",))[1])


def soc(code: str) -> OccupationCode:
    return OccupationCode.objects.get(scheme=ClassificationMapping.reference_scheme(code), code=code)


def populate(count: int = 2) -> dict:
    """`count` roles with approved, pending and rejected aliases and mappings; returns what is where.

    Each role: aliases "<code> approved" (common), "<code> hidden" (hidden, approved), "<code> pending",
    "<code> rejected"; mappings approved to 15-2051 (detailed) and 15-2000 (minor group), pending to
    13-1111, rejected to 11-1011, and an approved O*NET-SOC 15-2051.01 on the first role.
    """
    actor = make_reviewer()
    level = LevelFactory(code="P1")
    roles = []
    for i in range(count):
        role = RoleFactory(node=SpecializationFactory(), level=level, title=f"Role title {i}")
        approved = TitleAliasFactory(role=role, alias=f"{role.code} approved")
        hidden = TitleAliasFactory(role=role, alias=f"{role.code} hidden", alias_type=TitleAlias.AliasType.HIDDEN)
        TitleAliasFactory(role=role, alias=f"{role.code} pending")
        rejected = TitleAliasFactory(role=role, alias=f"{role.code} rejected")
        services.approve_alias(alias=approved, actor=actor)
        services.approve_alias(alias=hidden, actor=actor)
        services.reject_alias(alias=rejected, actor=actor, reason="Not a title.")
        for code in ("15-2051", "15-2000"):
            mapping = ClassificationMappingFactory(role=role, occupation=soc(code))
            services.approve_mapping(mapping=mapping, actor=actor, confirm_group_level=True)
        ClassificationMappingFactory(role=role, occupation=soc("13-1111"))
        services.reject_mapping(
            mapping=ClassificationMappingFactory(role=role, occupation=soc("11-1011")), actor=actor, reason="Wrong."
        )
        roles.append(role)
    onet = ClassificationMappingFactory(role=roles[0], occupation=soc("15-2051.01"))
    services.approve_mapping(mapping=onet, actor=actor)
    return {"roles": roles, "actor": actor}


@pytest.fixture
def published(reference_soc):
    """Two roles with items in every review state (see populate)."""
    return populate(2)
