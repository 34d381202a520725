# ruff: noqa: F811 - pytest fixtures imported from tests.review.conftest
"""Merge and split roles: previews, conflicts refused with their list, four-eyes, one transaction, history."""

from decimal import Decimal

import pytest

from roles import services, workflow
from roles.models import Component, Decision, DecisionKind, Deprecation, Role, RoleSplit, TitleAlias
from roles.workflow import restructure
from roles.workflow.restructure import RestructureRefused
from tests.factories import ComponentFactory, LevelFactory, RoleFactory, SpecializationFactory
from tests.review.conftest import curator, other_reviewer, reviewer  # noqa: F401
from tests.review.invariants import deprecation_problems, history_problems, integrity_problems

pytestmark = pytest.mark.django_db


def add_alias(role: Role, text: str, *, by, approve_by=None, reject_by=None) -> TitleAlias:
    """An alias written through the services, approved or rejected by another person when asked."""
    alias = services.save_alias(alias=TitleAlias(role=role, alias=text, confidence=Decimal("0.80")), actor=by,
                                reason="test data")
    if approve_by is not None:
        workflow.decide(alias, kind=DecisionKind.APPROVE, actor=approve_by)
    if reject_by is not None:
        workflow.decide(alias, kind=DecisionKind.REJECT, actor=reject_by, reason="not a title")
    alias.refresh_from_db()
    return alias


@pytest.fixture
def two_roles():
    """B and A at one level, in two specializations."""
    level = LevelFactory(code="P2")
    return RoleFactory(node=SpecializationFactory(), level=level), RoleFactory(node=SpecializationFactory(),
                                                                               level=level)


def sound() -> list[str]:
    return integrity_problems() + deprecation_problems() + history_problems()


def test_merge_moves_approved_and_pending_aliases_keeps_rejected_and_deprecates_the_role(
        two_roles, curator, reviewer, other_reviewer):
    b, a = two_roles
    approved = add_alias(b, "Data Wrangler", by=curator, approve_by=reviewer)
    pending = add_alias(b, "Data Janitor", by=curator)
    rejected = add_alias(b, "Wizard", by=curator, reject_by=reviewer)
    kept_component = ComponentFactory(role=b, kind="skill", text="SQL")
    ComponentFactory(role=a, kind="skill", text="SQL")
    moved_component = ComponentFactory(role=b, kind="skill", text="Pandas")

    preview = restructure.plan_merge(b, a)
    assert preview.conflicts == []
    assert {(m.item.pk, m.outcome) for m in preview.alias_moves} == {(approved.pk, "stays approved"),
                                                                    (pending.pk, "in review")}
    assert [m.item.pk for m in preview.component_moves] == [moved_component.pk]
    assert {item.pk for item, _why in preview.kept} == {rejected.pk, kept_component.pk}

    proposal = services.propose_merge(source=b, target=a, actor=curator, reason="same work, two names")
    b.refresh_from_db()
    assert not b.deprecated and TitleAlias.objects.get(pk=approved.pk).role_id == b.pk  # nothing moves yet

    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=other_reviewer,
                                expected_version=proposal.version)

    b.refresh_from_db()
    assert b.deprecated and b.replaced_by == a
    approved.refresh_from_db(), pending.refresh_from_db(), rejected.refresh_from_db()
    assert (approved.role, approved.status) == (a, "approved")
    assert (pending.role, pending.status) == (a, "pending")
    assert rejected.role == b
    assert Component.objects.get(pk=moved_component.pk).role == a
    assert Component.objects.get(pk=kept_component.pk).role == b
    last = approved.history.order_by("-history_id").first()
    assert last.history_user == other_reviewer and last.history_change_reason.startswith("merged: same work")
    assert sound() == []


def test_a_merge_leaves_a_deprecated_alias_with_its_role_as_published(two_roles, curator, reviewer, other_reviewer):
    """Found by the state machine: an alias deprecated before the merge is neither moved nor revived."""
    b, a = two_roles
    old = add_alias(b, "Data Clerk", by=curator, approve_by=reviewer)
    live = add_alias(b, "Data Wrangler", by=curator, approve_by=reviewer)
    services.record_publication("1.0.0", {"alias": [old.pk, live.pk]})
    retire = services.propose_deprecation(item=old, actor=curator, reason="no longer used")
    services.decide_deprecation(proposal=retire, kind=DecisionKind.APPROVE, actor=reviewer)

    preview = restructure.plan_merge(b, a)
    assert [m.item.pk for m in preview.alias_moves] == [live.pk]
    assert [(item.pk, why) for item, why in preview.kept] == [(old.pk, f"deprecated: stays with {b.code} as published")]
    assert restructure.movable_aliases(b) == [live]
    proposal = services.propose_merge(source=b, target=a, actor=curator, reason="same work")
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=other_reviewer)

    old.refresh_from_db(), live.refresh_from_db()
    assert (old.role, old.status, old.deprecated) == (b, "approved", True)
    assert (live.role, live.status, live.deprecated) == (a, "approved", False)
    assert sound() == []


def test_merge_across_levels_sends_approved_aliases_back_to_review(curator, reviewer, other_reviewer):
    b = RoleFactory(level=LevelFactory(code="P1"))
    a = RoleFactory(level=LevelFactory(code="P3"))
    approved = add_alias(b, "Junior Modeller", by=curator, approve_by=reviewer)
    proposal = services.propose_merge(source=b, target=a, actor=curator, reason="one role at P3")
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=other_reviewer)

    approved.refresh_from_db()
    assert (approved.role, approved.status, approved.decided_by) == (a, "pending", None)
    returned = Decision.objects.filter(alias=approved).order_by("-pk").first()
    assert (returned.decision, returned.from_status, returned.to_status) == ("returned", "approved", "pending")
    # The proposer moved it: they may not approve it now.
    assert curator.pk in approved.author_ids()
    assert sound() == []


def test_an_alias_duplicated_in_the_target_refuses_the_merge_with_the_list(two_roles, curator):
    b, a = two_roles
    add_alias(b, "ML Engineer", by=curator)
    add_alias(a, "ml  engineer", by=curator)
    add_alias(b, "Data Person", by=curator)
    add_alias(a, "DATA PERSON", by=curator)
    with pytest.raises(RestructureRefused) as refused:
        services.propose_merge(source=b, target=a, actor=curator, reason="dup")
    assert len(refused.value.conflicts) == 2
    assert "“ML Engineer”" in refused.value.conflicts[1] or "“ML Engineer”" in refused.value.conflicts[0]
    assert not Deprecation.objects.exists()


def test_a_conflict_arising_after_the_proposal_refuses_the_approval_and_writes_nothing(
        two_roles, curator, reviewer, other_reviewer):
    b, a = two_roles
    moving = add_alias(b, "Analyst", by=curator, approve_by=reviewer)
    proposal = services.propose_merge(source=b, target=a, actor=curator, reason="merge")
    add_alias(a, "analyst", by=curator)  # A got the same alias meanwhile

    with pytest.raises(RestructureRefused, match="already an alias of"):
        services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=other_reviewer)

    moving.refresh_from_db(), b.refresh_from_db(), proposal.refresh_from_db()
    assert moving.role == b and not b.deprecated and proposal.status == "proposed"
    assert not Decision.objects.filter(deprecation=proposal).exists()


def test_the_proposer_cannot_approve_their_merge(two_roles, make_user):
    from django.contrib.auth.models import Permission

    b, a = two_roles
    lead = make_user("lead")
    lead.user_permissions.add(Permission.objects.get(codename="add_deprecation"))
    lead = type(lead).objects.get(pk=lead.pk)
    proposal = services.propose_merge(source=b, target=a, actor=lead, reason="merge")
    with pytest.raises(workflow.FourEyesViolation):
        services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=lead)
    b.refresh_from_db()
    assert not b.deprecated


@pytest.mark.parametrize("kind", ["reviewer", "anonymous"])
def test_only_curators_propose_merges(two_roles, make_user, kind):
    b, a = two_roles
    with pytest.raises(workflow.ReviewPermissionDenied):
        services.propose_merge(source=b, target=a, actor=make_user(kind), reason="merge")


def test_merge_refuses_itself_a_deprecated_target_and_a_target_being_restructured(two_roles, curator,
                                                                                  deprecated_role):
    b, a = two_roles
    with pytest.raises(RestructureRefused, match="into itself"):
        services.propose_merge(source=b, target=b, actor=curator, reason="x")
    with pytest.raises(RestructureRefused, match="deprecated"):
        services.propose_merge(source=b, target=deprecated_role, actor=curator, reason="x")
    services.propose_merge(source=a, target=RoleFactory(), actor=curator, reason="x")
    with pytest.raises(RestructureRefused, match="proposed for deprecation, merge or split"):
        services.propose_merge(source=b, target=a, actor=curator, reason="x")


def test_merge_lists_mapping_conflicts_for_the_reviewer(two_roles, curator, reviewer, reference_soc):
    from roles.models import ClassificationMapping
    from tests.review.conftest import soc

    b, a = two_roles
    mapping = services.save_mapping(
        mapping=ClassificationMapping(role=b, code="15-2051", occupation=soc("15-2051")), actor=curator,
        reason="test")
    workflow.decide(mapping, kind=DecisionKind.APPROVE, actor=reviewer)
    rows = restructure.plan_merge(b, a).mappings
    assert [(r.code, r.source_status, r.target_status) for r in rows] == [("15-2051", "approved", "")]
    assert "approved for" in rows[0].note


def split_setup(curator, reviewer):
    level = LevelFactory(code="P2")
    source, first, second = (RoleFactory(node=SpecializationFactory(), level=level) for _ in range(3))
    aliases = [add_alias(source, "Platform Engineer", by=curator, approve_by=reviewer),
               add_alias(source, "Model Ops Engineer", by=curator)]
    components = [ComponentFactory(role=source, kind="task", text="Ship models"),
                  ComponentFactory(role=source, kind="task", text="Run clusters")]
    return source, first, second, aliases, components


def test_split_moves_each_item_to_its_role_and_records_both_successors(curator, reviewer, other_reviewer):
    source, first, second, aliases, components = split_setup(curator, reviewer)
    assignments = {"aliases": {aliases[0].pk: second.pk, aliases[1].pk: first.pk},
                   "components": {components[0].pk: first.pk, components[1].pk: second.pk}}
    proposal = services.propose_split(source=source, targets=[first, second], assignments=assignments,
                                      actor=curator, reason="two jobs in one")
    assert proposal.kind == "split" and proposal.plan["targets"] == [first.pk, second.pk]
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=other_reviewer)

    source.refresh_from_db()
    assert source.deprecated and source.replaced_by is None
    assert list(source.split_into.order_by("split_links__position")) == [first, second]
    assert RoleSplit.history.count() == 2 and all(h.history_user == other_reviewer for h in RoleSplit.history.all())
    assert TitleAlias.objects.get(pk=aliases[0].pk).role == second
    assert TitleAlias.objects.get(pk=aliases[0].pk).status == "approved"
    assert Component.objects.get(pk=components[0].pk).role == first
    assert sound() == []


def test_split_leaving_an_item_without_a_role_is_refused_with_every_conflict(curator, reviewer):
    source, first, second, aliases, components = split_setup(curator, reviewer)
    ComponentFactory(role=first, kind="task", text="Run clusters")
    assignments = {"aliases": {aliases[0].pk: first.pk}, "components": {components[1].pk: first.pk}}
    with pytest.raises(RestructureRefused) as refused:
        services.propose_split(source=source, targets=[first, second], assignments=assignments, actor=curator,
                               reason="x")
    text = "\n".join(refused.value.conflicts)
    assert "“Model Ops Engineer” would be left without a role" in text
    assert "“Ship models” would be left without a role" in text
    assert f"{first.code} already has the tasks item “Run clusters”" in text
    assert not Deprecation.objects.exists()


def test_split_needs_two_roles_and_an_item_added_later_blocks_approval(curator, reviewer, other_reviewer):
    source, first, second, aliases, components = split_setup(curator, reviewer)
    with pytest.raises(RestructureRefused, match="at least two roles"):
        services.propose_split(source=source, targets=[first], assignments={}, actor=curator, reason="x")
    assignments = {"aliases": {a.pk: first.pk for a in aliases}, "components": {c.pk: second.pk for c in components}}
    proposal = services.propose_split(source=source, targets=[first, second], assignments=assignments,
                                      actor=curator, reason="x")
    add_alias(source, "Late Alias", by=curator)
    with pytest.raises(RestructureRefused, match="“Late Alias” would be left without a role"):
        services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=other_reviewer)
    source.refresh_from_db()
    assert not source.deprecated and not RoleSplit.objects.exists()


def test_rejecting_a_merge_moves_nothing(two_roles, curator, reviewer, other_reviewer):
    b, a = two_roles
    alias = add_alias(b, "Data Wrangler", by=curator, approve_by=reviewer)
    proposal = services.propose_merge(source=b, target=a, actor=curator, reason="merge")
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.REJECT, actor=other_reviewer,
                                reason="different work")
    alias.refresh_from_db(), b.refresh_from_db()
    assert alias.role == b and not b.deprecated
    assert sound() == []


# ---------------------------------------------------------------------------------------------
# The admin pages: choose, preview, propose; the reviewer decides on the proposal's page


def test_merge_in_the_admin_from_the_role_list_to_the_reviewers_approval(two_roles, curator, reviewer,
                                                                        other_reviewer):
    from django.urls import reverse

    from tests.review.conftest import logged_in

    b, a = two_roles
    alias = add_alias(b, "Data Wrangler", by=curator, approve_by=reviewer)
    client = logged_in(curator)
    listing = client.post(reverse("admin:roles_role_changelist"),
                          {"action": "merge_role", "_selected_action": [b.pk]})
    merge_url = reverse("admin:roles_role_merge", args=[b.pk])
    assert listing.status_code == 302 and listing["Location"] == merge_url
    preview = client.post(merge_url, {"target": a.code.lower(), "reason": "same work", "preview": "1"})
    body = preview.content.decode()
    assert "Alias “Data Wrangler”" in body and "stays approved" in body and "Propose for review" in body
    assert not Deprecation.objects.exists()  # a preview writes nothing
    done = client.post(merge_url, {"target": a.code, "reason": "same work", "propose": "1"})
    proposal = Deprecation.objects.get(role=b)
    assert done.status_code == 302 and proposal.kind == "merge" and proposal.replaced_by_role == a

    page = logged_in(other_reviewer).get(reverse("admin:roles_deprecation_change", args=[proposal.pk]))
    assert "Approve: merge" in page.content.decode() and "Data Wrangler" in page.content.decode()
    logged_in(other_reviewer).post(reverse("admin:roles_deprecation_decide", args=[proposal.pk]),
                                   {"kind": "approve", "version": proposal.version})
    alias.refresh_from_db(), b.refresh_from_db()
    assert alias.role == a and b.deprecated


def test_the_merge_page_lists_conflicts_and_offers_no_proposal(two_roles, curator):
    from django.urls import reverse

    from tests.review.conftest import logged_in

    b, a = two_roles
    add_alias(b, "Analyst", by=curator)
    add_alias(a, "analyst", by=curator)
    url = reverse("admin:roles_role_merge", args=[b.pk])
    body = logged_in(curator).post(url, {"target": a.code, "reason": "x", "preview": "1"}).content.decode()
    assert "1 conflict" in body and "already an alias of" in body and "Propose for review" not in body
    # A crafted "propose" is refused the same way.
    logged_in(curator).post(url, {"target": a.code, "reason": "x", "propose": "1"})
    assert not Deprecation.objects.exists()
    unknown = logged_in(curator).post(url, {"target": "NOPE.NOPE.P1", "reason": "x", "preview": "1"})
    assert "No role has the code NOPE.NOPE.P1" in unknown.content.decode()


@pytest.mark.parametrize("view", ["merge", "split"])
def test_reviewers_and_strangers_cannot_reach_the_merge_and_split_pages(two_roles, make_user, view):
    from django.urls import reverse

    from tests.review.conftest import logged_in

    b, a = two_roles
    url = reverse(f"admin:roles_role_{view}", args=[b.pk])
    assert logged_in(make_user("reviewer")).get(url).status_code == 403
    assert logged_in(make_user("reviewer")).post(url, {"target": a.code, "targets": a.code, "reason": "x",
                                                       "propose": "1"}).status_code == 403
    from django.test import Client

    assert Client().get(url).status_code == 302  # to the login page
    assert logged_in(make_user("curator")).get(reverse(f"admin:roles_role_{view}", args=[99999])).status_code == 404
    assert not Deprecation.objects.exists()


def test_split_in_the_admin_assigns_each_item_then_proposes(curator, reviewer, other_reviewer):
    from django.urls import reverse

    from tests.review.conftest import logged_in

    source, first, second, aliases, components = split_setup(curator, reviewer)
    client = logged_in(curator)
    url = reverse("admin:roles_role_split", args=[source.pk])
    step = client.post(url, {"targets": f"{first.code}\n{second.code}", "reason": "two jobs", "preview": "1"})
    body = step.content.decode()
    assert f'name="alias-{aliases[0].pk}"' in body and f'name="component-{components[1].pk}"' in body
    data = {"targets": f"{first.code}\n{second.code}", "reason": "two jobs", "assigned": "1",
            f"alias-{aliases[0].pk}": first.pk, f"alias-{aliases[1].pk}": second.pk,
            f"component-{components[0].pk}": first.pk}
    partial = client.post(url, {**data, "preview": "1"}).content.decode()
    assert "“Run clusters” would be left without a role" in partial
    data[f"component-{components[1].pk}"] = second.pk
    client.post(url, {**data, "propose": "1"})
    proposal = Deprecation.objects.get(role=source)
    assert proposal.kind == "split" and proposal.plan["aliases"] == {str(aliases[0].pk): first.pk,
                                                                     str(aliases[1].pk): second.pk}
    decided = logged_in(other_reviewer).post(reverse("admin:roles_deprecation_decide", args=[proposal.pk]),
                                             {"kind": "approve", "version": proposal.version}, follow=True)
    assert "approved: its items moved to the roles it was split into, and it is deprecated" in decided.content.decode()
    assert TitleAlias.objects.get(pk=aliases[1].pk).role == second


def test_a_split_roles_card_links_to_each_role_it_became(split_role, make_user):
    from tests.review.conftest import logged_in

    body = logged_in(make_user("curator")).get(split_role.get_absolute_url()).content.decode()
    successors = split_role.split_successors
    assert "It was split into" in body
    assert all(f'href="{role.get_absolute_url()}"' in body for role in successors)
    assert body.index(successors[0].code) < body.index(successors[1].code)  # in the split's order
