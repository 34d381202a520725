"""Enqueueing work that must run after the writer's transaction commits, and never if it rolls back.

The task queue is django-tasks (Django's tasks API, DEP 14) with its database backend, chosen in
settings (ROLEBOOK_TASKS). docs/tasks.md says why this engine, what runs on it and how to run
workers on other hosts.

- With the database backend, a job is a row written by the caller's own transaction: it commits
  with the write or not at all, so a crash between the commit and the enqueue cannot lose it.
- With another backend (the immediate one of `make run` and the tests), the job is enqueued by
  `transaction.on_commit`, so it still runs only after a commit.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django_tasks.base import Task


def _in_transaction(task: Task) -> bool:
    """Whether enqueueing `task` writes a row in the caller's transaction (the database backend)."""
    from django_tasks_db import DatabaseBackend

    return isinstance(task.get_backend(), DatabaseBackend)


def enqueue_after_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    """Run `task(*args, **kwargs)` once the current transaction commits (at once outside one)."""
    if _in_transaction(task):
        task.enqueue(*args, **kwargs)
    else:
        # robust: a job that fails in process is logged by the backend and never undoes the commit.
        transaction.on_commit(partial(task.enqueue, *args, **kwargs), robust=True)


class _Once:
    """The mark, among a transaction's on-commit callbacks, that `task` is enqueued for it already."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def __call__(self) -> None:
        pass


def enqueue_once_after_commit(task: Task) -> None:
    """Run `task()` (no arguments) once after the current transaction commits, however often this is called.

    For jobs that work off a queue table (roles.derived): many writes in one transaction need
    one run. A savepoint rolled back takes its mark with it, as it takes its job row.
    """
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        task.enqueue()
        return
    if any(isinstance(func, _Once) and func.task is task for _sids, func, _robust in conn.run_on_commit):
        return
    transaction.on_commit(_Once(task))
    enqueue_after_commit(task)


def drop_waiting(task: Task) -> int:
    """Delete the jobs of `task` that wait to run (the database backend; none elsewhere); return how many.

    For jobs that work off a queue table: a run that then reads the table once more does what
    every dropped job would have done, because each job's rows committed with it. A job a worker
    is claiming meanwhile is locked, and left to run.
    """
    if not _in_transaction(task):
        return 0
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.ready().filter(task_path=task.module_path, backend_name=task.backend)
    deleted, _ = waiting.delete()
    return deleted


def requeue_abandoned(worker_id: str) -> int:
    """Put back the jobs that worker `worker_id` was running when it died; return how many.

    A worker killed halfway through a job leaves it RUNNING for good: django-tasks' database
    worker never looks at it again. Rolebook's workers have stable ids (framework/serve.py), so
    the next worker with the same id, before taking any job, hands its predecessor's back to the
    queue: each runs again from the start. Every job here may run twice (the derived refresh and
    release builds redo their work; an email may go out twice, rather than never).
    """
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    with transaction.atomic():
        running = DBTaskResult.objects.running().select_for_update().only("pk", "worker_ids")
        abandoned = [job.pk for job in running if job.worker_ids and job.worker_ids[-1] == worker_id]
        return DBTaskResult.objects.filter(pk__in=abandoned, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.READY, started_at=None)
