"""Curators' edits through roles.services: audit, four-eyes bookkeeping, back to review."""

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from review import services as review_services
from roles.models import ClassificationMapping, TitleAlias
from roles.services import delete_item, save_alias, save_mapping
from tests.factories import RoleFactory, TitleAliasFactory, UserFactory, reviewer

pytestmark = pytest.mark.django_db


def _approved_alias(**kwargs) -> TitleAlias:
    alias = TitleAliasFactory(**kwargs)
    review_services.approve_alias(alias=alias, actor=reviewer())
    return TitleAlias.objects.get(pk=alias.pk)


def test_new_alias_remembers_its_creator_and_starts_pending():
    curator = UserFactory()
    alias = save_alias(alias=TitleAliasFactory.build(role=RoleFactory()), actor=curator, reason="add alias")
    assert (alias.created_by, alias.status) == (curator, TitleAlias.Status.PENDING)
    assert alias.history.get().history_user == curator


@pytest.mark.parametrize(
    ("field", "value"), [("alias", "New Text"), ("alias_type", "hidden"), ("confidence", Decimal("0.91"))]
)
def test_changing_content_of_an_approved_alias_sends_it_back_to_pending(field, value):
    alias = _approved_alias()
    editor = UserFactory()
    setattr(alias, field, value)
    save_alias(alias=alias, actor=editor, reason="content edit")
    alias.refresh_from_db()
    assert (alias.status, alias.decided_at, alias.decided_by) == (TitleAlias.Status.PENDING, None, None)
    assert alias.content_changed_by == editor


def test_changing_the_source_sends_an_approved_alias_back_too():
    """The source goes into the release like the text: changing it needs a fresh review."""
    alias = _approved_alias()
    editor = UserFactory()
    alias.source = "curated list"
    save_alias(alias=alias, actor=editor, reason="bookkeeping")
    alias.refresh_from_db()
    assert alias.status == TitleAlias.Status.PENDING
    assert alias.content_changed_by == editor


def test_mapping_code_is_linked_to_the_official_reference(seed_role):
    mapping = ClassificationMapping(role=seed_role, code="15-2051", title="Data Scientists")
    save_mapping(mapping=mapping, actor=UserFactory(), reason="add")
    assert mapping.occupation.title == "Data Scientists"
    unknown = ClassificationMapping(role=seed_role, code="15-2059", title="Nope")
    save_mapping(mapping=unknown, actor=UserFactory(), reason="add")
    assert unknown.occupation is None and unknown.in_reference is False


def test_changing_a_reviewed_mapping_code_sends_it_back_to_review(seed_role):
    mapping = seed_role.mappings.get()
    review_services.reject_mapping(mapping=mapping, actor=reviewer(), reason="too broad")
    mapping = ClassificationMapping.objects.get(pk=mapping.pk)
    mapping.code = "15-1200"
    editor = UserFactory()
    save_mapping(mapping=mapping, actor=editor, reason="closer group")
    mapping.refresh_from_db()
    assert mapping.status == ClassificationMapping.Status.NEEDS_REVIEW
    assert mapping.decided_at is None
    assert mapping.occupation.code == "15-1200"
    assert mapping.content_changed_by == editor


def test_deleting_leaves_a_history_row_with_user_and_reason():
    alias = TitleAliasFactory()
    alias_id = alias.pk
    user = UserFactory()
    delete_item(item=alias, actor=user, reason="duplicate")
    assert not TitleAlias.objects.filter(pk=alias_id).exists()
    record = TitleAlias.history.filter(id=alias_id).latest()
    assert (record.history_type, record.history_user, record.history_change_reason) == ("-", user, "duplicate")


def test_demo_accounts_are_created_once_with_printed_passwords(groups):
    out = StringIO()
    call_command("create_demo_accounts", stdout=out)
    assert out.getvalue().count("password:") == 5
    names = ["curator", "reviewer", "reviewer2", "lead", "admin"]
    users = get_user_model().objects.filter(username__in=names)
    assert {u.username: (u.is_staff, u.is_superuser) for u in users} == {
        "curator": (True, False),
        "reviewer": (True, False),
        "reviewer2": (True, False),
        "lead": (True, False),
        "admin": (True, True),
    }
    assert list(get_user_model().objects.get(username="curator").groups.values_list("name", flat=True)) == ["Curators"]
    assert get_user_model().objects.get(username="lead").has_perm("roles.lead_review")
    again = StringIO()
    call_command("create_demo_accounts", stdout=again)
    assert "password:" not in again.getvalue()
    assert get_user_model().objects.filter(username__in=names).count() == 5
