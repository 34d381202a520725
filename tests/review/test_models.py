"""The Decision model's invariants and the review permissions."""

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from roles.groups import CURATORS, REVIEWERS
from roles.models import Decision

pytestmark = pytest.mark.django_db


def test_a_decision_is_about_exactly_one_item(alias, detailed_mapping, reviewer):
    for kwargs in ({}, {"alias": alias, "mapping": detailed_mapping}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Decision.objects.create(decision="approve", actor=reviewer, from_status="pending",
                                    to_status="approved", **kwargs)


@pytest.mark.parametrize("kind", ["reject", "reopen"])
def test_rejecting_and_reopening_store_a_reason(alias, reviewer, kind):
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.create(alias=alias, decision=kind, actor=reviewer, from_status="pending",
                                to_status="rejected", comment="")


def test_a_refinement_records_both_codes(detailed_mapping, reviewer):
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.create(mapping=detailed_mapping, decision="refine", actor=reviewer,
                                from_status="needs_review", to_status="approved", old_code="15-0000")


def test_decision_log_queries(alias, reviewer, other_reviewer):
    mine = Decision.objects.create(alias=alias, decision="approve", actor=reviewer,
                                   from_status="pending", to_status="approved")
    Decision.objects.create(alias=alias, decision="reopen", actor=other_reviewer, comment="why",
                            from_status="approved", to_status="pending")
    assert list(Decision.objects.by(reviewer)) == [mine]
    assert Decision.objects.last_days(7).count() == 2
    assert mine.item == alias and mine.item_kind == "alias"
    assert Decision.objects.for_item(alias).first().decision == "reopen"


def test_migration_grants_review_permissions_to_reviewers_only():
    """The data migration's grants (present until a transactional test flushes them)."""
    reviewers = set(Group.objects.get(name=REVIEWERS).permissions.values_list("codename", flat=True))
    curators = set(Group.objects.get(name=CURATORS).permissions.values_list("codename", flat=True))
    assert {"review_alias", "review_mapping"} <= reviewers
    assert not {"review_alias", "review_mapping"} & curators


def test_reviewer_and_curator_permissions(reviewer, curator, superuser):
    assert reviewer.has_perm("roles.review_alias") and reviewer.has_perm("roles.review_mapping")
    assert not curator.has_perm("roles.review_alias")
    assert curator.has_perm("roles.view_titlealias")
    assert superuser.has_perm("roles.review_mapping")
