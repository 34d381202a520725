"""Assignments: families and specializations given to reviewers or groups, drawn from first, due by a day."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from notifications.selectors import digest_summary
from roles import workflow
from roles.groups import REVIEWERS
from roles.models import Assignment, Lease, TitleAlias
from roles.services import save_assignment
from tests.factories import RoleFactory, SpecializationFactory, TitleAliasFactory
from tests.review.conftest import logged_in

pytestmark = pytest.mark.django_db



@pytest.fixture
def two_families(curator):
    """Two families with one role and four open aliases each; the healthcare aliases sort last."""
    health, finance = SpecializationFactory(), SpecializationFactory()
    rows = {}
    for spec, low in ((finance, "0.1"), (health, "0.6")):
        role = RoleFactory(node=spec)
        rows[spec.pk] = [TitleAliasFactory(role=role, confidence=Decimal(f"{low}{i}"), created_by=curator)
                         for i in range(4)]
    return {"health": (health, rows[health.pk]), "finance": (finance, rows[finance.pk])}


def _assign(node, actor, *, reviewer=None, group=None, due=None):
    return save_assignment(assignment=Assignment(node=node, reviewer=reviewer, group=group, due_date=due),
                           actor=actor, reason="healthcare to the clinical reviewers")


def test_review_next_draws_from_the_assignment_first(make_user, two_families, settings):
    settings.REVIEW_BATCH_SIZE = 6
    lead, rita = make_user("lead"), make_user("reviewer")
    health, health_rows = two_families["health"]
    _assign(health.parent, lead, group=Group.objects.get(name=REVIEWERS))  # the family, through her group
    logged_in(rita).post(reverse("review:alias-next"))
    taken = list(Lease.objects.filter(holder=rita).order_by("alias__confidence").values_list("alias_id", flat=True))
    assert set(a.pk for a in health_rows) <= set(taken) and len(taken) == 6  # then the rest of the queue
    finance_first = workflow.take_batch(TitleAlias, TitleAlias.objects.order_by("confidence"), actor=rita, size=4)
    assert set(finance_first) == {a.pk for a in two_families["finance"][1]}  # without assignments: queue order


def test_assigned_to_me_filters_the_queue(make_user, two_families):
    lead, rita = make_user("lead"), make_user("reviewer")
    health, health_rows = two_families["health"]
    _assign(health, lead, reviewer=rita)  # the specialization, to her directly
    page = logged_in(rita).get(reverse("review:aliases"), {"assigned": "me"})
    assert {row["item"].pk for row in page.context["rows"]} == {a.pk for a in health_rows}
    other = logged_in(make_user("reviewer")).get(reverse("review:aliases"), {"assigned": "me"})
    assert other.context["rows"] == []


def test_past_due_items_are_flagged_counted_on_the_dashboard_and_in_the_digest(make_user, two_families):
    lead, rita = make_user("lead"), make_user("reviewer")
    health, health_rows = two_families["health"]
    yesterday = timezone.localdate() - timedelta(days=1)
    _assign(health.parent, lead, reviewer=rita, due=yesterday)
    client = logged_in(rita)
    rows = client.get(reverse("review:aliases")).context["rows"]
    assert {row["item"].pk for row in rows if row["overdue"]} == {a.pk for a in health_rows}
    dashboard = client.get(reverse("review:dashboard"))
    (summary,) = dashboard.context["assignments"]
    assert (summary.aliases_pending, summary.mappings_pending, summary.overdue) == (4, 0, True)
    assert summary.oldest == min(a.created_at for a in health_rows)
    assert "past due" in dashboard.content.decode()
    assert digest_summary(rita).overdue == 4
    assert digest_summary(make_user("reviewer")).overdue == 0


def test_a_lead_sees_every_assignment_a_reviewer_only_theirs(make_user, two_families):
    lead, rita, rex = make_user("lead"), make_user("reviewer"), make_user("reviewer")
    _assign(two_families["health"][0], lead, reviewer=rita)
    _assign(two_families["finance"][0], lead, reviewer=rex)
    assert len(logged_in(lead).get(reverse("review:dashboard")).context["assignments"]) == 2
    (mine,) = logged_in(rita).get(reverse("review:dashboard")).context["assignments"]
    assert mine.assignment.reviewer == rita


def test_assignments_are_managed_in_the_admin_by_leads_with_history(make_user, two_families):
    lead, reviewer = make_user("lead"), make_user("reviewer")
    health = two_families["health"][0]
    add = reverse("admin:roles_assignment_add")
    data = {"node": str(health.parent.pk), "reviewer": str(reviewer.pk), "group": "", "due_date": "",
            "note": "", "change_reason": "clinical work to the clinical reviewer"}
    assert logged_in(reviewer).post(add, data).status_code == 403
    response = logged_in(lead).post(add, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assignment = Assignment.objects.get()
    record = assignment.history.get()
    assert (record.history_user, record.history_change_reason) == (lead, "clinical work to the clinical reviewer")
    both = dict(data, group=str(Group.objects.get(name=REVIEWERS).pk), node=str(health.pk))
    refused = logged_in(lead).post(add, both)
    assert refused.status_code == 200 and Assignment.objects.count() == 1
    assert "Assign to a reviewer or to a group, not both." in refused.content.decode()
