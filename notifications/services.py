"""Writes of notifications: events from review decisions, the daily digest, read marks and preferences.

A decision tells the decided item's authors (roles.workflow.rules: its creator and everyone
who wrote part of its content), each once, never the decider. Its notifications are written in
the decision's own transaction (one INSERT per batch, whatever its size); their emails are jobs
on the task queue (notifications.tasks), sent only after it commits, one per recipient per
batch, so a rolled-back decision tells nobody anything.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from framework.tasks import enqueue_after_commit
from roles.models import APPROVING_KINDS, DecisionKind, Reviewable, Role, TitleAlias

from . import selectors
from .models import DigestSent, Event, Notification, NotificationPreference
from .tasks import send_event_email

logger = logging.getLogger("rolebook.notifications")

# Which decisions tell the item's authors, as which event.
EVENT_OF_KIND = {DecisionKind.REJECT: Event.REJECTED, **{kind: Event.APPROVED for kind in APPROVING_KINDS}}
PREFERENCE_FIELDS = ("rejected_in_app", "rejected_email", "approved_in_app", "approved_email", "settled_in_app",
                     "daily_digest")


@dataclass
class _Line:
    title: str
    body: str
    url: str


def _item_line(
    model: type[Reviewable], item: Reviewable, role_code: str, event: str, actor: Any, reason: str, *, created: bool
) -> _Line:
    """The words for one author: "Your alias …" to its creator, "The alias …, which you edited," to an editor."""
    verb = "rejected" if event == Event.REJECTED else "approved"
    if model is TitleAlias:
        what = f"alias “{item.alias}” of {role_code}"
        url = reverse("admin:roles_titlealias_change", args=[item.pk])
    else:
        what = f"mapping of {role_code} to {item.code}"
        url = reverse("admin:roles_classificationmapping_change", args=[item.pk])
    what = f"Your {what}" if created else f"The {what}, which you edited,"
    body = f"{verb.capitalize()} by {actor.get_username()}" + (f": {reason}" if reason else ".")
    return _Line(title=f"{what} was {verb}", body=body, url=url)


def _authors(item: Reviewable, actor: Any) -> list[int]:
    """The ids of the people told of a decision on `item`: its authors but the decider, each once, creator first."""
    ids = [item.created_by_id, *sorted(item.author_ids() - {item.created_by_id})]
    return [pk for pk in ids if pk is not None and pk != actor.pk]


def notify_decided(
    sender: type[Reviewable], *, items: list[Reviewable], kind: str, actor: Any, reason: str, **kwargs: Any
) -> list[Notification]:
    """Tell each item's authors that `actor` rejected or approved it; return the in-app notifications written.

    The receiver of `roles.workflow.decided`: runs inside the decision's transaction. The authors
    are the creator and the content editors (`Reviewable.author_ids`, read from the items in
    memory), each told once per item by the channels their preferences choose. Nobody is told of
    their own decision, nor is the system account or an inactive user. Queries: none when no
    author is told; else one for the recipients with their preferences, one for the role codes,
    one INSERT, whatever the number of items and authors. Emails, one per recipient listing
    their items, are sent after commit.
    """
    event = EVENT_OF_KIND.get(kind)
    if event is None or not items:
        return []
    authors = {item.pk: _authors(item, actor) for item in items}
    author_ids = {pk for ids in authors.values() for pk in ids}
    if not author_ids:
        return []
    users = (
        get_user_model()
        .objects.filter(pk__in=author_ids, is_active=True)
        .exclude(username=settings.ROLEBOOK_SYSTEM_USERNAME)
        .select_related("notification_preference")
    )
    recipients = {user.pk: user for user in users}
    if not recipients:
        return []
    told = [item for item in items if any(pk in recipients for pk in authors[item.pk])]
    if all(type(item).role.is_cached(item) for item in told):  # the review core's single decisions
        codes = {item.role_id: item.role.code for item in told}
    else:
        codes = dict(Role.objects.filter(pk__in={item.role_id for item in told}).values_list("pk", "code"))
    rows: list[Notification] = []
    emails: dict[int, list[_Line]] = defaultdict(list)
    for item in told:
        for user_pk in authors[item.pk]:
            user = recipients.get(user_pk)
            if user is None:
                continue
            prefs = getattr(user, "notification_preference", None) or NotificationPreference(user=user)
            line = _item_line(sender, item, codes.get(item.role_id, "?"), event, actor, reason,
                              created=user_pk == item.created_by_id)
            if prefs.wants(event, "in_app"):
                rows.append(Notification(recipient=user, event=event, title=line.title, body=line.body,
                                         url=line.url, actor=actor))
            if prefs.wants(event, "email") and user.email:
                emails[user.pk].append(line)
    Notification.objects.bulk_create(rows)
    for user_pk, lines in emails.items():
        user = recipients[user_pk]
        # A job on the task queue, after the commit: a mail server that refuses or is slow never
        # holds up or undoes a decision. The worker logs a failure and keeps the job as failed.
        enqueue_after_commit(
            send_event_email, user.email, user.get_username(), event, [[ln.title, ln.body, ln.url] for ln in lines]
        )
    return rows


def notify_suggested(sender: Any, *, actor: Any, result: Any, **kwargs: Any) -> Notification:
    """Tell the curator in the bell that the SOC suggestions they queued are made (always in-app: they asked).

    The receiver of `roles.soc.suggested`, inside the job's transaction: one INSERT.
    """
    made, passed = len(result.created), len(result.passed)
    title = f"SOC suggestions ready: {made} mapping{'s' if made != 1 else ''} waiting for review"
    lines = [f"{m.role.code} → {m.code}" for m in result.created[:10]]
    lines += [f"{role.code}: no suggestion, {why}" for role, why in result.passed[:10]]
    more = made + passed - len(lines)
    body = "\n".join(lines) + (f"\n… and {more} more." if more > 0 else "")
    if passed:
        body = f"{passed} role{'s' if passed != 1 else ''} passed over.\n" + body
    return Notification.objects.create(
        recipient=actor, event=Event.SUGGESTED, title=title, body=body,
        url=f"{reverse('review:mappings')}?source=suggested", actor=actor,
    )


def notify_settled(
    sender: Any, *, sample: Any, item: Reviewable, actor: Any, reason: str, **kwargs: Any
) -> list[Notification]:
    """Tell the reviewers of a double-blind sample how it was settled, and by whom; return what was written.

    The receiver of `roles.workflow.samples.settled`: runs inside the settling decision's
    transaction. The two reviewers but the settler are told in the bell (their "settled_in_app"
    choice): the outcome, and the lead's reason when a lead settled it. Queries: none when
    nobody is told, else one for the reviewers and one INSERT.
    """
    ids = [pk for pk in (sample.first_by_id, sample.second_by_id) if pk is not None and pk != actor.pk]
    if not ids:
        return []
    users = (
        get_user_model().objects.filter(pk__in=ids, is_active=True).select_related("notification_preference")
    )
    if isinstance(item, TitleAlias):
        what, url = f"alias “{item.alias}”", reverse("admin:roles_titlealias_history", args=[item.pk])
    else:
        what, url = f"mapping to {item.code}", reverse("review:mapping", args=[item.pk])
    outcome = item.get_status_display().lower()
    if sample.state == "agreed":
        title = f"The {what} you reviewed blind was {outcome}: the second review agreed"
        body = f"Settled by {actor.get_username()}'s agreeing review."
    else:
        title = f"The {what} you reviewed blind was {outcome} by a lead"
        body = f"{actor.get_username()} settled the disagreement" + (f": {reason}" if reason else ".")
    rows = []
    for user in users:
        prefs = getattr(user, "notification_preference", None) or NotificationPreference(user=user)
        if prefs.settled_in_app:
            rows.append(Notification(recipient=user, event=Event.SETTLED, title=title[:300], body=body, url=url,
                                     actor=actor))
    Notification.objects.bulk_create(rows)
    return rows


def _absolute(path: str) -> str:
    return f"{settings.ROLEBOOK_SITE_URL}{path}" if settings.ROLEBOOK_SITE_URL else path


def event_email(address: str, username: str, event: str, lines: list[_Line]) -> None:
    """Send one email listing every item of one batch (notifications.tasks.send_event_email, after commit)."""
    verb = "rejected" if event == Event.REJECTED else "approved"
    subject = (
        f"Rolebook: {lines[0].title}" if len(lines) == 1 else f"Rolebook: {len(lines)} of your items were {verb}"
    )
    body = "\n\n".join(f"{line.title}.\n{line.body}\n{_absolute(line.url)}" for line in lines)
    body += "\n\nChoose which notifications you get: " + _absolute(reverse("notifications:preferences"))
    send_mail(subject, body, None, [address])
    logger.info("notification email: %s to %s (%d item%s)", event, username, len(lines), "s" if len(lines) != 1 else "",
                extra={"event": event, "recipient": username, "items": len(lines)})


def mark_read(*, user: Any, pk: int) -> Notification:
    """Mark `user`'s notification `pk` as read and return it; raises Notification.DoesNotExist for anyone else's."""
    notification = Notification.objects.get(pk=pk, recipient=user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def mark_all_read(*, user: Any) -> int:
    """Mark every unread notification of `user` as read; return how many (one UPDATE)."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def save_preferences(*, user: Any, values: dict[str, bool]) -> NotificationPreference:
    """Store `user`'s choices (the PREFERENCE_FIELDS in `values`; others ignored) and return them.

    Raises ValueError naming a field whose value is not a boolean.
    """
    for name in PREFERENCE_FIELDS:
        if name in values and not isinstance(values[name], bool):
            raise ValueError(f"{name}: expected true or false, got {values[name]!r}.")
    prefs, _ = NotificationPreference.objects.update_or_create(
        user=user, defaults={name: values[name] for name in PREFERENCE_FIELDS if name in values}
    )
    return prefs


def send_digest(*, user: Any, day: date) -> bool:
    """Send `user` the review digest for `day` unless it went out already; return whether it was sent.

    The DigestSent row (unique per user and day) and the in-app notification are written in one
    transaction with the sending: a failed send rolls both back and the next run tries again; a
    second run on the same day sends nothing. Raises what the email backend raises.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                DigestSent.objects.create(user=user, day=day)
        except IntegrityError:
            return False
        summary = selectors.digest_summary(user)
        title = f"Review digest for {day:%Y-%m-%d}: {summary.total:,} item{'s' if summary.total != 1 else ''} waiting"
        lines = [f"{family}: {aliases:,} aliases, {mappings:,} mappings" for family, aliases, mappings in
                 summary.families()]
        if summary.overdue:
            lines.append(f"Past due: {summary.overdue:,} item{'s' if summary.overdue != 1 else ''} under your "
                         "assignments.")
        if summary.oldest_since is not None:
            lines.append(f"Waiting longest: {summary.oldest_text}, since {summary.oldest_since:%Y-%m-%d %H:%M} UTC.")
        body = "\n".join(lines) or "Nothing is waiting for review."
        url = reverse("review:dashboard")
        Notification.objects.create(recipient=user, event=Event.DIGEST, title=title, body=body, url=url)
        send_mail(f"Rolebook: {title}", f"{body}\n\n{_absolute(url)}", None, [user.email])
    logger.info("review digest sent to %s for %s: %d waiting", user.get_username(), day, summary.total,
                extra={"recipient": user.get_username(), "day": str(day), "waiting": summary.total})
    return True
