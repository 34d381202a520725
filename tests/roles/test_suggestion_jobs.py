"""The jobs that recompute a role's cached SOC suggestions: one waiting job per role at most."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from roles.models import Role, RoleSuggestions
from roles.services import save_alias
from roles.soc import cached_suggestions
from roles.tasks import OncePerRoleTask, refresh_suggestions
from tests.factories import RoleFactory, TitleAliasFactory

pytestmark = pytest.mark.django_db


def jobs(status: str = TaskResultStatus.READY) -> list[list[int]]:
    """The role pks of each refresh job in `status`, oldest first."""
    rows = DBTaskResult.objects.filter(task_path=refresh_suggestions.module_path, status=status)
    return [row.args_kwargs["args"][0] for row in rows.order_by("enqueued_at", "id")]


@pytest.fixture
def two_roles(db):
    return RoleFactory(), RoleFactory()


def test_the_task_is_queued_once_per_role():
    assert isinstance(refresh_suggestions, OncePerRoleTask)


def test_a_role_waiting_in_a_job_is_not_queued_again(two_roles, database_backend):
    first, _second = two_roles
    with transaction.atomic():
        queued = refresh_suggestions.enqueue([first.pk])
        again = refresh_suggestions.enqueue([first.pk])
    assert jobs() == [[first.pk]]
    assert again.id == queued.id  # the waiting job, which will do it


def test_two_roles_queue_two_jobs(two_roles, database_backend):
    first, second = two_roles
    refresh_suggestions.enqueue([first.pk])
    refresh_suggestions.enqueue([second.pk])
    assert jobs() == [[first.pk], [second.pk]]


def test_only_the_roles_not_waiting_yet_are_queued(two_roles, database_backend):
    first, second = two_roles
    refresh_suggestions.enqueue([first.pk])
    refresh_suggestions.enqueue([second.pk, first.pk])
    assert jobs() == [[first.pk], [second.pk]]


def test_a_running_job_does_not_hold_back_a_new_one(two_roles, database_backend):
    """The running job may have read the role before the change that makes it stale again."""
    first, _second = two_roles
    refresh_suggestions.enqueue([first.pk])
    # As a worker claims it.
    DBTaskResult.objects.filter(task_path=refresh_suggestions.module_path).update(status=TaskResultStatus.RUNNING)
    refresh_suggestions.enqueue([first.pk])
    assert jobs(TaskResultStatus.RUNNING) == [[first.pk]]
    assert jobs() == [[first.pk]]


def test_a_finished_job_does_not_hold_back_a_new_one(two_roles, database_backend):
    first, _second = two_roles
    refresh_suggestions.enqueue([first.pk])
    DBTaskResult.objects.update(status=TaskResultStatus.SUCCESSFUL)
    refresh_suggestions.enqueue([first.pk])
    assert jobs() == [[first.pk]]


def test_two_edits_of_a_role_in_one_commit_queue_one_job(make_user, two_roles, database_backend):
    first, second = two_roles
    alias = TitleAliasFactory(role=first, alias="Data Analyst")
    other = TitleAliasFactory(role=second, alias="Payroll Clerk")
    cached_suggestions([first, second])  # both cached for their current text
    curator = make_user("curator")
    with transaction.atomic():
        for text in ("Data Scientist", "Statistician"):
            alias.alias = text
            save_alias(alias=alias, actor=curator, reason="edit")
            # As the mapping queue reads it after each edit: the stale row is shown, the job queued.
            cached_suggestions([Role.objects.get(pk=first.pk)], stale_ok=True)
    assert jobs() == [[first.pk]]
    other.alias = "Payroll Officer"
    save_alias(alias=other, actor=curator, reason="edit")
    cached_suggestions(list(Role.objects.filter(pk__in=[first.pk, second.pk])), stale_ok=True)
    assert jobs() == [[first.pk], [second.pk]]


def test_the_waiting_job_recomputes_the_role(make_user, two_roles, database_backend):
    first, _second = two_roles
    alias = TitleAliasFactory(role=first, alias="Data Analyst")
    cached_suggestions([first])
    before = RoleSuggestions.objects.get(role=first).content_hash
    alias.alias = "Statistician"
    save_alias(alias=alias, actor=make_user("curator"), reason="edit")
    cached_suggestions([Role.objects.get(pk=first.pk)], stale_ok=True)
    job = DBTaskResult.objects.get(task_path=refresh_suggestions.module_path)
    # What the worker runs: the job's task read back from its row.
    assert job.task.call(*job.args_kwargs["args"]) == 1
    assert RoleSuggestions.objects.get(role=first).content_hash != before
