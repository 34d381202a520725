# ruff: noqa: F811 - pytest fixtures imported from tests.review.conftest
"""Deprecate, never delete: proposals through review, four-eyes, history, and published items kept."""

import csv
import json
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from review import services as review_services
from roles import services, workflow
from roles.models import Decision, DecisionKind, Deprecation, Publication, Role, TitleAlias
from roles.workflow.deprecation import DeprecationRefused
from tests.factories import RoleFactory, TitleAliasFactory
from tests.review.conftest import alias, curator, detailed_mapping, logged_in, other_reviewer, reviewer, role  # noqa: F401
from tests.review.invariants import deprecation_problems

pytestmark = pytest.mark.django_db


def publish(*items) -> None:
    """Record the items as published, as a release does before it is placed."""
    ids: dict[str, list[int]] = {}
    for item in items:
        ids.setdefault(Publication.type_of(item), []).append(item.pk)
    services.record_publication("1.0.0", ids)


def test_a_reviewer_approves_a_curators_proposal_and_the_role_is_deprecated_with_history(curator, reviewer, role):
    successor = RoleFactory()
    proposal = services.propose_deprecation(item=role, actor=curator, reason="merged into the wider role",
                                            replaced_by=successor)
    assert proposal.status == Deprecation.Status.PROPOSED and proposal.created_by == curator
    role.refresh_from_db()
    assert not role.deprecated  # a proposal changes nothing yet

    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=reviewer,
                                expected_version=proposal.version)

    role.refresh_from_db()
    assert role.deprecated and role.replaced_by == successor
    last = role.history.order_by("-history_id").first()
    assert last.history_user == reviewer
    assert "deprecated: merged into the wider role" in last.history_change_reason
    assert f"replaced by role {successor.code}" in last.history_change_reason
    decision = Decision.objects.get(deprecation=proposal)
    assert (decision.decision, decision.actor, decision.from_status, decision.to_status) == (
        "approve", reviewer, "proposed", "approved")
    assert proposal.history.count() == 2  # proposed, then approved


def proposing_lead(make_user):
    """A lead reviewer who may also propose: the one kind of user who could decide their own proposal."""
    from django.contrib.auth.models import Permission

    lead = make_user("lead")
    lead.user_permissions.add(Permission.objects.get(codename="add_deprecation"))
    return type(lead).objects.get(pk=lead.pk)  # permissions are cached per user object


def test_nobody_approves_their_own_proposal(make_user, role):
    lead = proposing_lead(make_user)
    proposal = services.propose_deprecation(item=role, actor=lead, reason="obsolete")
    with pytest.raises(workflow.FourEyesViolation):
        services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=lead)
    role.refresh_from_db()
    assert not role.deprecated and not Decision.objects.filter(deprecation=proposal).exists()


@pytest.mark.parametrize("who", ["curator", "anonymous"])
def test_only_reviewers_decide_and_only_curators_propose(make_user, role, curator, who):
    proposal = services.propose_deprecation(item=role, actor=curator, reason="obsolete")
    with pytest.raises(workflow.ReviewPermissionDenied):
        services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=make_user(who))
    with pytest.raises(workflow.ReviewPermissionDenied):
        services.propose_deprecation(item=RoleFactory(), actor=make_user("reviewer"), reason="obsolete")


def test_rejecting_needs_a_reason_and_leaves_the_item(curator, reviewer, alias):
    proposal = services.propose_deprecation(item=alias, actor=curator, reason="misleading")
    with pytest.raises(workflow.ReasonRequired):
        services.decide_deprecation(proposal=proposal, kind=DecisionKind.REJECT, actor=reviewer, reason="  ")
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.REJECT, actor=reviewer, reason="still used")
    alias.refresh_from_db()
    assert not alias.deprecated
    # A rejected proposal is final; a new one may follow.
    with pytest.raises(workflow.IllegalTransition):
        services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=reviewer)
    assert services.propose_deprecation(item=alias, actor=curator, reason="misleading after all").is_open


def test_one_live_proposal_per_item_and_replacements_are_checked(curator, reviewer, role, alias):
    services.propose_deprecation(item=role, actor=curator, reason="obsolete")
    with pytest.raises(DeprecationRefused, match="already proposed"):
        services.propose_deprecation(item=role, actor=curator, reason="obsolete twice")
    other = TitleAliasFactory(role=role, alias="Data Munger", confidence=Decimal("0.5"))
    with pytest.raises(DeprecationRefused, match="itself"):
        services.propose_deprecation(item=alias, actor=curator, reason="x", replaced_by=alias)
    with pytest.raises(DeprecationRefused, match="replaced by"):
        services.propose_deprecation(item=alias, actor=curator, reason="x", replaced_by=role)
    with pytest.raises(DeprecationRefused, match="not approved"):
        services.propose_deprecation(item=alias, actor=curator, reason="spelling", replaced_by=other)
    review_services.approve_alias(alias=other, actor=reviewer)
    proposal = services.propose_deprecation(item=alias, actor=curator, reason="spelling", replaced_by=other)
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=reviewer)
    alias.refresh_from_db()
    assert alias.deprecated and alias.replaced_by == other
    with pytest.raises(DeprecationRefused, match="deprecated itself"):
        services.propose_deprecation(item=other, actor=curator, reason="x", replaced_by=alias)


def test_the_replacement_deprecated_meanwhile_refuses_the_approval(curator, reviewer, other_reviewer, role):
    successor = RoleFactory()
    first = services.propose_deprecation(item=role, actor=curator, reason="old", replaced_by=successor)
    second = services.propose_deprecation(item=successor, actor=curator, reason="also old")
    services.decide_deprecation(proposal=second, kind=DecisionKind.APPROVE, actor=reviewer)
    with pytest.raises(DeprecationRefused, match="deprecated itself"):
        services.decide_deprecation(proposal=first, kind=DecisionKind.APPROVE, actor=other_reviewer)
    role.refresh_from_db()
    first.refresh_from_db()
    assert not role.deprecated and first.is_open  # nothing half-written


def test_deprecation_fields_change_only_through_review(curator, alias):
    alias.deprecated = True
    with pytest.raises(workflow.IllegalTransition):
        services.save_alias(alias=alias, actor=curator, reason="sneaky")
    assert not TitleAlias.objects.get(pk=alias.pk).deprecated


def test_a_published_item_is_never_deleted_by_any_path(curator, role, alias):
    publish(alias)
    with pytest.raises(services.PublishedItemProtected, match="deprecate it instead|Propose to deprecate"):
        services.delete_item(item=alias, actor=curator, reason="gone")
    with pytest.raises(services.PublishedItemProtected), transaction.atomic():
        TitleAlias.objects.get(pk=alias.pk).delete()
    # Deleting its role would take it along: refused too, nothing deleted.
    with pytest.raises(services.PublishedItemProtected):
        services.delete_item(item=role, actor=curator, reason="gone")
    assert TitleAlias.objects.filter(pk=alias.pk).exists() and Role.objects.filter(pk=role.pk).exists()


def test_an_item_never_published_is_deleted_with_history(curator, role, alias):
    publish(RoleFactory())
    alias_id = alias.pk
    services.delete_item(item=alias, actor=curator, reason="typo, never released")
    assert not TitleAlias.objects.filter(pk=alias_id).exists()
    gone = TitleAlias.history.filter(id=alias_id, history_type="-").get()
    assert gone.history_user == curator and gone.history_change_reason == "typo, never released"


def test_publishing_records_what_it_published(curator, settings, tmp_path, role, alias, reviewer):
    from publishing.store import publish_release

    review_services.approve_alias(alias=alias, actor=reviewer)
    settings.ROLEBOOK_RELEASES_DIR = tmp_path / "releases"
    publish_release(version="1.0.0", formats=["csv"])
    assert Publication.objects.filter(item_type="alias", item_id=alias.pk, first_release="1.0.0").exists()
    assert Publication.objects.filter(item_type="role", item_id=role.pk).exists()
    with pytest.raises(services.PublishedItemProtected):
        services.delete_item(item=alias, actor=curator, reason="gone")
    publish_release(version="1.1.0", formats=["csv"])
    assert Publication.objects.get(item_type="alias", item_id=alias.pk).first_release == "1.0.0"


def test_the_admin_offers_deprecate_and_never_deletes_a_published_role(make_user, curator, role):
    publish(role)
    superuser = make_user("superuser")
    client = logged_in(superuser)
    page = client.get(reverse("admin:roles_role_change", args=[role.pk]))
    assert f"{reverse('admin:roles_deprecation_add')}?role={role.pk}" in page.content.decode()
    delete_url = reverse("admin:roles_role_delete", args=[role.pk])
    page = client.get(delete_url)
    assert "deprecate it instead" in page.content.decode()
    client.post(delete_url, {"post": "yes"})
    assert Role.objects.filter(pk=role.pk).exists()
    # The bulk delete action: Django's "cannot delete" page, nothing deleted.
    client.post(reverse("admin:roles_role_changelist"),
                {"action": "delete_selected", "_selected_action": [role.pk], "post": "yes"})
    assert Role.objects.filter(pk=role.pk).exists()


def test_the_admin_delete_page_of_a_role_lists_every_published_item_it_would_take_along(make_user, role, alias):
    other = TitleAliasFactory(role=role, alias="Data Clerk")
    publish(alias, other)
    client = logged_in(make_user("superuser"))
    delete_url = reverse("admin:roles_role_delete", args=[role.pk])
    page = client.get(delete_url).content.decode()
    for published in (alias, other):
        assert f"Title alias “{published}” of a selected role — published in a release" in page
    client.post(delete_url, {"post": "yes"})
    assert TitleAlias.objects.filter(pk__in=[alias.pk, other.pk]).count() == 2
    assert Role.objects.filter(pk=role.pk).exists()


def test_propose_and_decide_in_the_admin(curator, reviewer, role):
    successor = RoleFactory()
    response = logged_in(curator).post(
        reverse("admin:roles_deprecation_add"),
        {"role": role.pk, "replaced_by_role": successor.pk, "reason": "renamed"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    proposal = Deprecation.objects.get(role=role)
    decide = reverse("admin:roles_deprecation_decide", args=[proposal.pk])
    # GET never decides; a curator may not decide; a stale version is refused.
    assert logged_in(reviewer).get(decide).status_code == 405
    assert logged_in(curator).post(decide, {"kind": "approve", "version": proposal.version}).status_code == 403
    logged_in(reviewer).post(decide, {"kind": "approve", "version": proposal.version + 5})
    role.refresh_from_db()
    assert not role.deprecated
    page = logged_in(reviewer).get(reverse("admin:roles_deprecation_change", args=[proposal.pk]))
    assert "Approve: deprecate it" in page.content.decode()
    logged_in(reviewer).post(decide, {"kind": "approve", "version": proposal.version})
    role.refresh_from_db()
    assert role.deprecated and role.replaced_by == successor


def test_the_admin_refuses_a_proposal_of_two_items_or_none(curator, role, alias):
    client = logged_in(curator)
    for data in ({"reason": "x"}, {"role": role.pk, "alias": alias.pk, "reason": "x"}):
        response = client.post(reverse("admin:roles_deprecation_add"), data)
        assert response.status_code == 200 and "exactly one" in response.content.decode()
    assert not Deprecation.objects.exists()


def test_the_database_refuses_a_deprecation_of_nothing(curator):
    with pytest.raises(IntegrityError), transaction.atomic():
        Deprecation.objects.create(reason="nothing", created_by=curator)


# ---------------------------------------------------------------------------------------------
# What readers see: the directory, the card page, the API and every release format


def test_the_directory_hides_deprecated_roles_unless_asked_and_the_card_says_so(deprecated_role, make_user):
    client = logged_in(make_user("curator"))
    successor = deprecated_role.replaced_by
    listed = client.get(reverse("roles:directory")).content.decode()
    assert deprecated_role.code not in listed and successor.code in listed
    for query, shown in (("?deprecated=include", True), ("?deprecated=only", True), ("?q=", False)):
        page = client.get(reverse("roles:directory") + query).content.decode()
        assert (deprecated_role.code in page) is shown, query
    only = client.get(reverse("roles:directory") + "?deprecated=only").content.decode()
    assert successor.code not in only
    card = client.get(reverse("roles:card", args=[deprecated_role.code])).content.decode()
    assert "This role is deprecated" in card and reverse("roles:card", args=[successor.code]) in card


def test_a_deprecated_item_is_frozen_as_published(curator, reviewer, other_reviewer, alias, make_user):
    review_services.approve_alias(alias=alias, actor=reviewer)
    alias.refresh_from_db()
    proposal = services.propose_deprecation(item=alias, actor=curator, reason="no longer said")
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=other_reviewer)
    alias.refresh_from_db()
    # Reopening or editing it would drop it from the next release without a trace: refused.
    with pytest.raises(workflow.IllegalTransition, match="deprecated"):
        workflow.decide(alias, kind=DecisionKind.REOPEN, actor=reviewer, reason="look again")
    alias.confidence = Decimal("0.10")
    with pytest.raises(workflow.IllegalTransition, match="deprecated"):
        services.save_alias(alias=alias, actor=curator, reason="tweak")
    response = logged_in(make_user("superuser")).post(
        reverse("admin:roles_titlealias_change", args=[alias.pk]),
        {"role": alias.role_id, "alias": alias.alias, "alias_type": "common", "confidence": "0.20",
         "source": alias.source, "version": alias.version, "change_reason": "tweak"},
    )
    assert response.status_code == 302
    fresh = TitleAlias.objects.get(pk=alias.pk)
    assert (fresh.status, fresh.confidence, fresh.deprecated) == ("approved", Decimal("0.70"), True)


@pytest.mark.parametrize("reason", ["", "   ", "\u200b"])
def test_a_proposal_needs_a_visible_reason(curator, role, reason):
    with pytest.raises(workflow.ReasonRequired, match="Say why"):
        services.propose_deprecation(item=role, actor=curator, reason=reason)
    assert not Deprecation.objects.exists()


# Reinstatement: a mistaken deprecation undone through review ------------------------------------


def deprecate(item, *, by, approve_by, replaced_by=None):
    proposal = services.propose_deprecation(item=item, actor=by, reason="obsolete", replaced_by=replaced_by)
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=approve_by)
    item.refresh_from_db()
    return proposal


def test_a_deprecated_role_is_reinstated_through_review_with_history(curator, reviewer, other_reviewer, role):
    deprecate(role, by=curator, approve_by=reviewer, replaced_by=RoleFactory())
    proposal = services.propose_reinstatement(item=role, actor=curator, reason="deprecated by mistake")
    assert (proposal.kind, proposal.status) == ("reinstate", "proposed")
    assert str(proposal) == f"Reinstatement of role {role.code}"
    role.refresh_from_db()
    assert role.deprecated  # a proposal changes nothing yet

    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=other_reviewer,
                                reason="agreed", expected_version=proposal.version)

    role.refresh_from_db()
    assert not role.deprecated and role.replaced_by is None
    last = role.history.order_by("-history_id").first()
    assert last.history_user == other_reviewer
    assert last.history_change_reason == "reinstated: deprecated by mistake — approved: agreed"
    decision = Decision.objects.get(deprecation=proposal)
    assert (decision.decision, decision.actor, decision.to_status) == ("approve", other_reviewer, "approved")
    assert deprecation_problems() == []
    # Deprecations and reinstatements alternate: it may be deprecated again, through review.
    deprecate(role, by=curator, approve_by=reviewer)
    assert role.deprecated and deprecation_problems() == []


def test_a_reinstatement_needs_four_eyes_and_a_reason_to_reject(curator, reviewer, role, make_user):
    deprecate(role, by=curator, approve_by=reviewer)
    lead = proposing_lead(make_user)
    proposal = services.propose_reinstatement(item=role, actor=lead, reason="still used")
    with pytest.raises(workflow.FourEyesViolation):
        services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=lead)
    with pytest.raises(workflow.ReasonRequired):
        services.decide_deprecation(proposal=proposal, kind=DecisionKind.REJECT, actor=reviewer)
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.REJECT, actor=reviewer, reason="it is not")
    role.refresh_from_db()
    assert role.deprecated and deprecation_problems() == []
    with pytest.raises(workflow.ReviewPermissionDenied):
        services.propose_reinstatement(item=role, actor=reviewer, reason="reviewers do not propose")


def test_reinstatement_is_refused_where_it_would_not_undo_a_plain_deprecation(curator, reviewer, role, alias,
                                                                             detailed_mapping):
    with pytest.raises(DeprecationRefused, match="not deprecated"):
        services.propose_reinstatement(item=role, actor=curator, reason="x")
    review_services.approve_alias(alias=alias, actor=reviewer)
    deprecate(alias, by=curator, approve_by=reviewer)
    deprecate(role, by=curator, approve_by=reviewer)
    # Its role is deprecated: the role comes back first.
    with pytest.raises(DeprecationRefused, match="reinstate the role first"):
        services.propose_reinstatement(item=alias, actor=curator, reason="x")
    first = services.propose_reinstatement(item=role, actor=curator, reason="a mistake")
    with pytest.raises(DeprecationRefused, match="already proposed"):
        services.propose_reinstatement(item=role, actor=curator, reason="twice")
    services.decide_deprecation(proposal=first, kind=DecisionKind.APPROVE, actor=reviewer)
    services.decide_deprecation(proposal=services.propose_reinstatement(item=alias, actor=curator, reason="back"),
                                kind=DecisionKind.APPROVE, actor=reviewer)
    alias.refresh_from_db()
    assert not alias.deprecated and alias.status == "approved"
    assert deprecation_problems() == []


def test_an_alias_reinstatement_waiting_while_its_role_goes_is_refused_on_approval(curator, reviewer, role, alias):
    review_services.approve_alias(alias=alias, actor=reviewer)
    deprecate(alias, by=curator, approve_by=reviewer)
    waiting = services.propose_reinstatement(item=alias, actor=curator, reason="still said")
    deprecate(role, by=curator, approve_by=reviewer)
    with pytest.raises(DeprecationRefused, match="reinstate the role first"):
        services.decide_deprecation(proposal=waiting, kind=DecisionKind.APPROVE, actor=reviewer)
    alias.refresh_from_db()
    waiting.refresh_from_db()
    assert alias.deprecated and waiting.is_open and not Decision.objects.filter(deprecation=waiting).exists()


def test_a_merged_role_is_not_reinstated(curator, reviewer):
    source, target = RoleFactory(), RoleFactory()
    services.decide_deprecation(proposal=services.propose_merge(source=source, target=target, actor=curator,
                                                                reason="same work"),
                                kind=DecisionKind.APPROVE, actor=reviewer)
    with pytest.raises(DeprecationRefused, match="merged and its items moved"):
        services.propose_reinstatement(item=source, actor=curator, reason="x")


def test_the_admin_offers_reinstate_on_a_deprecated_item_and_proposes_it(curator, reviewer, other_reviewer, role):
    client = logged_in(curator)
    page = client.get(reverse("admin:roles_role_change", args=[role.pk])).content.decode()
    assert "Deprecate…" in page and "Reinstate…" not in page
    deprecate(role, by=curator, approve_by=reviewer)
    page = client.get(reverse("admin:roles_role_change", args=[role.pk])).content.decode()
    link = f"{reverse('admin:roles_deprecation_add')}?role={role.pk}&amp;proposal_kind=reinstate"
    assert f'href="{link}">Reinstate…' in page
    form = client.get(link.replace("&amp;", "&")).content.decode()
    assert 'value="reinstate" selected' in form
    add = reverse("admin:roles_deprecation_add")
    refused = client.post(add, {"role": role.pk, "proposal_kind": "reinstate", "replaced_by_role": RoleFactory().pk,
                                "reason": "x"})
    assert refused.status_code == 200 and "A reinstated item has no replacement" in refused.content.decode()
    assert client.post(add, {"role": role.pk, "proposal_kind": "reinstate", "reason": "mistake"}).status_code == 302
    proposal = Deprecation.objects.get(role=role, kind="reinstate")
    decide = logged_in(other_reviewer).get(reverse("admin:roles_deprecation_change", args=[proposal.pk]))
    assert "Approve: reinstate it" in decide.content.decode()
    done = logged_in(other_reviewer).post(reverse("admin:roles_deprecation_decide", args=[proposal.pk]),
                                          {"kind": "approve", "version": proposal.version}, follow=True)
    assert "approved: the item is live again" in done.content.decode()
    role.refresh_from_db()
    assert not role.deprecated


def test_a_reinstated_role_is_live_again_in_the_next_release_and_its_delta(curator, reviewer, settings, tmp_path,
                                                                           role):
    from publishing.delta import apply_delta
    from publishing.formats.csv import COLUMNS, ROLES_CSV
    from publishing.store import publish_release

    settings.ROLEBOOK_RELEASES_DIR = tmp_path / "releases"
    publish_release(version="1.0.0", formats=["csv"])
    deprecate(role, by=curator, approve_by=reviewer)
    deprecated, _ = publish_release(version="1.1.0", formats=["csv"])
    services.decide_deprecation(proposal=services.propose_reinstatement(item=role, actor=curator, reason="mistake"),
                                kind=DecisionKind.APPROVE, actor=reviewer)
    live, _ = publish_release(version="1.2.0", formats=["csv"])
    rows = {row["code"]: row for row in csv.DictReader((live / ROLES_CSV).open(encoding="utf-8", newline=""))}
    assert (rows[role.code]["deprecated"], rows[role.code]["replaced_by"]) == ("false", "")
    changes = [json.loads(line) for line in (live / "delta" / "roles.jsonl").read_text().splitlines()]
    assert [(c["op"], c["key"]["code"], c["old"]["deprecated"], c["new"]["deprecated"]) for c in changes] == [
        ("change", role.code, "true", "false")]
    apply_delta(deprecated, live / "delta", tmp_path / "applied")
    assert all((tmp_path / "applied" / name).read_bytes() == (live / name).read_bytes() for name in COLUMNS)
