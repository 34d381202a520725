"""taxonomy.services: saving a node or a level keeps the roles' derived rows current.

The role digests and their tallies read each role's family (its specialization's parent) and its
level's code; the "level" flag reads the level's rank. Saving a node or a level marks the roles
under it stale, so the dashboard's per-family and per-level counts follow a move or a recode.
"""

from __future__ import annotations

import pytest

from roles import derived
from roles.models import AliasSignals, DerivedQueue, ReviewTally, RoleDigest
from taxonomy.models import TaxonomyNode
from taxonomy.services import save_level, save_node
from tests.factories import FamilyFactory, LevelFactory, RoleFactory, SpecializationFactory, TitleAliasFactory

pytestmark = pytest.mark.django_db


def pending(scope: str, key: str) -> int:
    """The pending aliases a tally holds (0 when the row is missing)."""
    row = ReviewTally.objects.filter(scope=scope, key=key).values_list("aliases_pending", flat=True).first()
    return row or 0


@pytest.fixture
def tree(make_user):
    """PMCORE holds two specializations (5 and 1 pending aliases); DATAFM holds none yet."""
    curator = make_user("curator")
    pm, data = FamilyFactory(code="PMCORE"), FamilyFactory(code="DATAFM")
    moving = SpecializationFactory(parent=pm, code="PMCORE.GEN")
    staying = SpecializationFactory(parent=pm, code="PMCORE.OPS")
    t1, t9 = LevelFactory(code="T1"), LevelFactory(code="T9")
    roles = [
        RoleFactory(node=moving, level=t1), RoleFactory(node=moving, level=t9), RoleFactory(node=staying, level=t1),
    ]
    for role, n in zip(roles, (3, 2, 1), strict=True):
        for i in range(n):
            TitleAliasFactory(role=role, alias=f"Alias {role.code} {i}", created_by=curator)
    return {"curator": curator, "pm": pm, "data": data, "moving": moving, "t9": t9, "roles": roles}


def test_moving_a_specialization_to_another_family_moves_its_counts_between_the_families_tallies(tree):
    assert (pending("family", "PMCORE"), pending("family", "DATAFM")) == (6, 0)
    moving = tree["moving"]
    moving.parent = tree["data"]
    save_node(node=moving, actor=tree["curator"], reason="reorganised")
    assert (pending("family", "PMCORE"), pending("family", "DATAFM")) == (1, 5)
    assert set(RoleDigest.objects.filter(role__node=moving).values_list("family_code", flat=True)) == {"DATAFM"}
    assert pending("all", "") == 6
    assert derived.differences() == []


def test_recoding_a_family_moves_its_tally_to_the_new_code(tree):
    pm = tree["pm"]
    pm.code = "PMPLUS"
    save_node(node=pm, actor=tree["curator"], reason="recoded")
    assert (pending("family", "PMCORE"), pending("family", "PMPLUS")) == (0, 6)
    assert set(RoleDigest.objects.values_list("family_code", flat=True)) >= {"PMPLUS"}
    assert derived.differences() == []


def test_saving_a_node_marks_exactly_the_roles_whose_family_it_changes(tree, settings):
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"  # the marks stay in the queue: the test never commits
    pm, curator = tree["pm"], tree["curator"]
    pm.name = "Project management, core"
    save_node(node=pm, actor=curator, reason="renamed")
    pm.parent = TaxonomyNode.objects.create(code="PMFN", name="Project work", kind=TaxonomyNode.Kind.FUNCTION)
    save_node(node=pm, actor=curator, reason="placed")
    assert not DerivedQueue.objects.exists()  # nothing derived reads a node's name, nor a family's parent
    pm.code = "PMPLUS"
    save_node(node=pm, actor=curator, reason="recoded")
    assert sorted(DerivedQueue.objects.values_list("role_id", flat=True)) == sorted(r.pk for r in tree["roles"])
    DerivedQueue.objects.all().delete()
    moving = tree["moving"]
    moving.parent = tree["data"]
    save_node(node=moving, actor=curator, reason="reorganised")
    assert sorted(DerivedQueue.objects.values_list("role_id", flat=True)) == [r.pk for r in tree["roles"][:2]]


def test_recoding_a_level_moves_its_tally_and_reflags_its_aliases(tree):
    t9, curator = tree["t9"], tree["curator"]
    senior = TitleAliasFactory(role=tree["roles"][1], alias="Senior Planner", created_by=curator)
    # "senior" words are at odds below rank 3: fine on T9.
    assert AliasSignals.objects.get(alias=senior).level is False
    t9.code, t9.rank = "T2", 2
    save_level(level=t9, actor=curator, reason="recoded")
    assert AliasSignals.objects.get(alias=senior).level is True
    assert (pending("level", "T9"), pending("level", "T2")) == (0, 3)
    assert derived.differences() == []


def test_renaming_a_level_marks_nothing_and_recoding_it_marks_its_roles(tree, settings):
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"
    t9, curator = tree["t9"], tree["curator"]
    t9.name = "Distinguished"
    save_level(level=t9, actor=curator, reason="renamed")
    assert not DerivedQueue.objects.exists()
    t9.code, t9.rank = "T8", 8
    save_level(level=t9, actor=curator, reason="recoded")
    assert list(DerivedQueue.objects.values_list("role_id", flat=True)) == [tree["roles"][1].pk]
