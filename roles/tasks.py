"""The roles app's jobs on the task queue (framework/tasks.py)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from django_tasks import task
from django_tasks.base import Task, TaskResult, TaskResultStatus

from . import derived


class OncePerRoleTask(Task):
    """A task whose one argument is a list of role pks, queued at most once per role while it waits.

    Enqueueing leaves out the roles that a job of this task not yet started (READY) holds already,
    and queues nothing when none is left: it then returns that waiting job, which will do the work.
    A started job does not count, as it may have read a role before the change that makes it
    stale again. Two transactions enqueueing at the same moment may still both queue a role: the
    job is idempotent, so that costs one recomputation, never a wrong row. Only the database
    backend keeps waiting jobs; with another one every call enqueues.
    """

    def waiting_jobs(self) -> dict[int, Any]:
        """{role pk: the READY job row that holds it} for this task, in one query (none off the database backend)."""
        from django_tasks_db import DatabaseBackend
        from django_tasks_db.models import DBTaskResult

        if not isinstance(self.get_backend(), DatabaseBackend):
            return {}
        waiting: dict[int, Any] = {}
        # Few rows: a role waits in one job at most, and the worker takes them in turn.
        for job in DBTaskResult.objects.filter(
            status=TaskResultStatus.READY, task_path=self.module_path, backend_name=self.backend
        ).order_by("enqueued_at"):
            args = job.args_kwargs.get("args") or [[]]
            for pk in args[0] if isinstance(args[0], list) else []:
                waiting.setdefault(pk, job)
        return waiting

    def enqueue(self, role_ids: list[int]) -> TaskResult:  # type: ignore[override]
        """Queue a job for the roles of `role_ids` that no waiting job holds; return it, or the waiting job."""
        waiting = self.waiting_jobs()
        todo = sorted({pk for pk in role_ids if pk not in waiting})
        if not todo and role_ids:
            return waiting[role_ids[0]].task_result
        return super().enqueue(todo)


def _once_per_role(made: Task) -> OncePerRoleTask:
    """`made` (what @task() built, with the settings' backend) as a OncePerRoleTask."""
    return OncePerRoleTask(**{f.name: getattr(made, f.name) for f in fields(made)})


@task()
def refresh_derived() -> int:
    """Work the derived-data queue off (roles.derived); return how many queue rows were done.

    Every write transaction queues one of these jobs. Under load they pile up behind the one
    running, and each would find the queue empty: this run drops the waiting ones, then reads
    the queue once more, which covers them all.
    """
    from framework.tasks import drop_waiting

    done = derived.run_queue()
    if drop_waiting(refresh_derived):
        done += derived.run_queue()
    return done


@task()
def suggest_mappings_job(role_ids: list[int], actor_id: int) -> dict[str, int]:
    """Suggest a SOC mapping for each of `role_ids` as the curator `actor_id`, then tell them (`soc.suggested`).

    Nothing is written when the curator is gone, inactive, or no longer may add mappings.
    Returns the counts, kept with the job.
    """
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from . import soc
    from .models import Role

    actor = get_user_model().objects.filter(pk=actor_id, is_active=True).first()
    if actor is None or not actor.has_perm("roles.add_classificationmapping"):
        return {"created": 0, "passed": 0, "refused": 1}
    with transaction.atomic():
        result = soc.suggest_mappings(roles=Role.objects.filter(pk__in=role_ids).with_related(), actor=actor)
        soc.suggested.send(sender=Role, actor=actor, result=result)
    return {"created": len(result.created), "passed": len(result.passed), "refused": 0}


@_once_per_role
@task()
def refresh_suggestions(role_ids: list[int]) -> int:
    """Recompute the stale cached SOC suggestions of `role_ids` (soc.cached_suggestions); return the roles seen.

    Queued by the mapping queue for each stale row it shows: a role already waiting in a job is
    not queued again (OncePerRoleTask), however many views or edits come before the worker.
    """
    from . import soc
    from .models import Role

    roles = list(Role.objects.filter(pk__in=role_ids))
    soc.cached_suggestions(roles)
    return len(roles)
