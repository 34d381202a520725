"""Review decisions tell the item's creator: in the same transaction, by email only after commit."""

import logging

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from notifications.models import Event, Notification, NotificationPreference
from notifications.services import notify_decided
from review.services import approve_alias, reject_alias, reject_aliases, reject_mapping
from roles.models import TitleAlias

pytestmark = pytest.mark.django_db


def test_a_rejection_notifies_the_creator_with_item_reviewer_and_reason_and_emails_on_commit_only(
    people, make_alias, django_capture_on_commit_callbacks
):
    alias = make_alias(people["carl"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reject_alias(alias=alias, actor=people["rita"], reason="a duplicate of Data Engineer")
        note = Notification.objects.get(recipient=people["carl"])
        assert len(mail.outbox) == 0  # written in the decision's transaction, not yet sent
    assert note.event == Event.REJECTED
    assert "“Data Wrangler”" in note.title and alias.role.code in note.title
    assert note.body == "Rejected by rita: a duplicate of Data Engineer"
    assert note.url == f"/admin/roles/titlealias/{alias.pk}/change/"
    assert note.actor == people["rita"] and note.read_at is None
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["carl@example.org"]
    assert "rita" in message.body and "a duplicate of Data Engineer" in message.body and "Data Wrangler" in message.body


def test_a_rolled_back_decision_writes_and_sends_nothing(people, make_alias, django_capture_on_commit_callbacks):
    alias = make_alias(people["carl"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            reject_alias(alias=alias, actor=people["rita"], reason="wrong role")
            raise RuntimeError("the request failed after the decision")
    assert callbacks == []
    assert not Notification.objects.exists()
    assert mail.outbox == []
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"


def test_a_mapping_rejection_names_the_role_and_code(people, make_mapping, django_capture_on_commit_callbacks):
    mapping = make_mapping(people["carl"])
    with django_capture_on_commit_callbacks(execute=True):
        reject_mapping(mapping=mapping, actor=people["rita"], reason="the wrong occupation")
    note = Notification.objects.get(recipient=people["carl"])
    assert note.title == f"Your mapping of {mapping.role.code} to 15-2051 was rejected"
    assert note.url == f"/admin/roles/classificationmapping/{mapping.pk}/change/"
    assert len(mail.outbox) == 1


def test_an_approval_is_in_the_bell_but_not_emailed_by_default(people, make_alias, django_capture_on_commit_callbacks):
    alias = make_alias(people["carl"])
    with django_capture_on_commit_callbacks(execute=True):
        approve_alias(alias=alias, actor=people["rita"])
    note = Notification.objects.get(recipient=people["carl"])
    assert note.event == Event.APPROVED and note.title.endswith("was approved")
    assert mail.outbox == []


def test_preferences_turn_each_channel_off(people, make_alias, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(user=people["carl"], rejected_email=False, rejected_in_app=True)
    NotificationPreference.objects.create(user=people["ravi"], rejected_email=True, rejected_in_app=False)
    mine, ravis = make_alias(people["carl"], "Alias One"), make_alias(people["ravi"], "Alias Two")
    with django_capture_on_commit_callbacks(execute=True):
        reject_alias(alias=mine, actor=people["rita"], reason="no")
        reject_alias(alias=ravis, actor=people["rita"], reason="no")
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["carl"]
    assert [m.to for m in mail.outbox] == [["ravi@example.org"]]


def test_nobody_is_told_of_their_own_decision_nor_is_the_system_account(people, make_alias, role):
    from framework.audit import get_system_user

    own = make_alias(people["rita"], "Own Alias")
    system = make_alias(get_system_user(), "System Alias")
    reject_alias(alias=own, actor=people["rita"], reason="withdrawn")
    reject_alias(alias=system, actor=people["rita"], reason="no")
    assert not Notification.objects.exists()


def test_a_bulk_rejection_costs_the_same_queries_for_n_and_2n_items_and_one_email_per_recipient(
    people, make_alias, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost(n):
        aliases = [make_alias(people["carl"], f"Bulk {n} {i}") for i in range(n)]
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as ctx:
            reject_aliases(aliases=[a.pk for a in aliases], actor=people["rita"], reason="duplicates")
        return len(ctx.captured_queries), len(mail.outbox)

    cost(2)  # warms the reviewer's permission cache
    small, large = cost(20), cost(40)
    assert small == large  # same number of queries, and one email each time
    assert small[1] == 1
    assert Notification.objects.filter(recipient=people["carl"], event=Event.REJECTED).count() == 62
    assert "40 of your items were rejected" in mail.outbox[0].subject


def test_notify_decided_ignores_kinds_nobody_is_told_of(people, make_alias, django_assert_num_queries):
    alias = make_alias(people["carl"])
    with django_assert_num_queries(0):
        assert notify_decided(TitleAlias, items=[alias], kind="reopen", actor=people["rita"], reason="x") == []


def test_every_decision_logs_one_line_naming_it_once_committed(
    people, make_alias, caplog, django_capture_on_commit_callbacks
):
    alias = make_alias(people["carl"])
    with caplog.at_level(logging.INFO, logger="rolebook.review"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            reject_alias(alias=alias, actor=people["rita"], reason="duplicate")
        assert [r for r in caplog.records if r.name == "rolebook.review"] == []
        for callback in callbacks:
            callback()
    (record,) = [r for r in caplog.records if r.name == "rolebook.review"]
    assert record.getMessage() == "reject the alias “Data Wrangler” → rejected by rita"
    assert record.item_ids == [alias.pk] and record.item_type == "alias" and record.actor_id == people["rita"].pk
    assert record.reason == "duplicate"


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_refuses_never_undoes_or_breaks_a_committed_decision(people, make_alias, settings, caplog):
    settings.EMAIL_BACKEND = "tests.notifications.test_decisions.RefusingBackend"
    alias = make_alias(people["carl"])
    with caplog.at_level(logging.ERROR):
        reject_alias(alias=alias, actor=people["rita"], reason="no")  # commits: the email callback runs and fails
    assert TitleAlias.objects.get(pk=alias.pk).status == "rejected"
    assert Notification.objects.filter(recipient=people["carl"]).count() == 1
    assert any("send_event_email" in r.getMessage() for r in caplog.records)
