"""Create the local demo's accounts: curator, two reviewers, a lead reviewer and admin, printing passwords once.

Two reviewers and a lead are what a double-blind sample needs: one review, a second blind one,
and a lead who settles a disagreement.

For `make run` on a developer's machine only: the passwords are random, never stored in
the repository, and shown only when an account is created (or with --reset).
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from roles.groups import CURATORS, LEAD_REVIEWERS, REVIEWERS, sync_groups

ACCOUNTS = [
    ("curator", [CURATORS], False),
    ("reviewer", [REVIEWERS], False),
    ("reviewer2", [REVIEWERS], False),
    ("lead", [LEAD_REVIEWERS], False),
    ("admin", [], True),
]


class Command(BaseCommand):
    help = "Create the demo accounts curator, reviewer, reviewer2, lead and admin (local demo only)."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Give existing demo accounts new passwords.")

    @transaction.atomic
    def handle(self, *args, reset: bool, **options) -> None:
        sync_groups(Group, Permission)
        user_model = get_user_model()
        for username, group_names, superuser in ACCOUNTS:
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"is_staff": True, "is_superuser": superuser}
            )
            user.groups.add(*Group.objects.filter(name__in=group_names))
            if created or reset:
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                user.save(update_fields=["password"])
                self.stdout.write(f"  {username:<9} password: {password}")
            else:
                self.stdout.write(f"  {username:<9} exists (use create_demo_accounts --reset for a new password)")
        self.stdout.write("Demo accounts ready (local demo only).")
