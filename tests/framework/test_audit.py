"""Every tracked write is attributed: request user, acting user or system user, with a reason."""

from io import StringIO

import pytest
from django.core.management import call_command

from framework.audit import MissingReason, acting_as, get_system_user
from roles.models import Role, TitleAlias
from roles.services import save_role
from tests.factories import RoleFactory, TitleAliasFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_acting_user_and_reason_are_recorded_outside_a_request():
    user = UserFactory()
    with acting_as(user, "scripted fix"):
        role = RoleFactory()
    record = role.history.get()
    assert (record.history_user, record.history_change_reason, record.history_type) == (user, "scripted fix", "+")


def test_a_save_that_changes_nothing_records_nothing():
    role = RoleFactory()
    role = Role.objects.get(pk=role.pk)
    before = role.history.count()
    role.save()
    save_role(role=role, actor=UserFactory(), reason="nothing really")
    assert role.history.count() == before


def test_a_save_that_changes_something_records_the_change():
    role = Role.objects.get(pk=RoleFactory().pk)
    role.title = "Something else"
    save_role(role=role, actor=UserFactory(), reason="retitle")
    record = role.history.latest()
    assert record.diff_against(record.prev_record).changed_fields == ["title"]


def test_services_refuse_a_write_without_a_reason():
    role = Role.objects.get(pk=RoleFactory().pk)
    role.title = "No reason"
    with pytest.raises(MissingReason, match="reason"):
        save_role(role=role, actor=UserFactory(), reason=" ")


def test_fixture_load_command_records_the_system_user(reference_soc):
    call_command("load_fixtures", "fixtures/seed.json", stdout=StringIO())
    record = TitleAlias.history.order_by("history_id").first()
    assert record.history_user == get_system_user()
    assert record.history_change_reason == "fixture load: seed.json"


def test_fixture_load_command_records_the_acting_user_given_with_as(reference_soc):
    user = UserFactory(username="loader")
    call_command("load_fixtures", "fixtures/seed.json", "--as", "loader", stdout=StringIO())
    assert Role.history.get().history_user == user


def test_fixture_load_twice_adds_nothing_and_keeps_decisions(seed_role):
    out = StringIO()
    role = Role.objects.get(pk=seed_role.pk)
    role.title = "Edited by a curator"
    save_role(role=role, actor=UserFactory(), reason="edit")
    before = Role.history.count() + TitleAlias.history.count()
    call_command("load_fixtures", "fixtures/seed.json", stdout=out)
    assert "0 objects added" in out.getvalue()
    assert Role.history.count() + TitleAlias.history.count() == before
    assert Role.objects.get().title == "Edited by a curator"


def test_fixture_load_of_a_missing_file_is_a_clear_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no-such.json: no such fixture file"):
        call_command("load_fixtures", "no-such.json", stdout=StringIO())


def test_unknown_acting_user_is_a_clear_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--as ghost"):
        call_command("load_fixtures", "fixtures/seed.json", "--as", "ghost", stdout=StringIO())


def test_update_with_history_writes_one_snapshot_row_per_updated_row(django_assert_num_queries):
    from django.utils import timezone

    from framework.audit import update_with_history

    aliases = [TitleAliasFactory(), TitleAliasFactory(), TitleAliasFactory()]
    untouched = TitleAliasFactory()
    user, now = UserFactory(), timezone.now()
    pks = [a.pk for a in aliases]
    with django_assert_num_queries(2):  # the UPDATE, the INSERT … SELECT into the history table
        updated = update_with_history(
            TitleAlias,
            pks,
            user=user,
            reason="approved: bulk",
            date=now,
            status="approved",
            decided_by_id=user.pk,
            decided_at=now,
        )
    assert updated == 3
    for alias in TitleAlias.objects.filter(pk__in=pks):
        record = alias.history.latest()
        assert (record.history_type, record.history_user, record.history_change_reason) == ("~", user, "approved: bulk")
        assert record.history_date == now
        assert (record.status, record.decided_by, record.decided_at) == ("approved", user, now)
        assert (record.alias, record.confidence, record.role_id) == (alias.alias, alias.confidence, alias.role_id)
    assert untouched.history.count() == 1
    assert TitleAlias.objects.get(pk=untouched.pk).status == "pending"
