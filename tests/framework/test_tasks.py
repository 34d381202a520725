"""The task queue: a job commits with the write that asks for it, and a real worker runs it.

The tests' own settings run jobs in process (the immediate backend); here the database backend
writes job rows, and `manage.py db_worker`, with the production settings against the test
database, works them off as `make serve`'s worker does.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from framework.serve import supervise, worker_command, worker_id
from framework.tasks import enqueue_after_commit, enqueue_once_after_commit
from notifications.tasks import send_event_email
from roles import derived
from roles.models import AliasSignals, DerivedQueue, RoleDigest
from roles.tasks import refresh_derived
from tests.factories import RoleFactory, TitleAliasFactory

ROOT = Path(__file__).resolve().parents[2]
LINES = [["Your alias was rejected", "By rita: too vague", "/admin/"]]


def _database_url() -> str:
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"


def _worker_env() -> dict[str, str]:
    """The production settings against the test database, emails to the console."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ROLEBOOK_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "framework.settings.base",
        "DJANGO_SECRET_KEY": "task-worker-test-" + "k" * 40,
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "DATABASE_URL": _database_url(),
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
    })
    return env


def _run_worker() -> subprocess.CompletedProcess:
    """`manage.py db_worker --batch` with the production settings: works every job off, then ends."""
    return subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay", "--queue-name", "*"],
        cwd=ROOT, env=_worker_env(), capture_output=True, text=True, timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_a_job_exists_only_if_its_write_commits(database_backend):
    with transaction.atomic():
        enqueue_after_commit(send_event_email, "ann@example.org", "ann", "rejected", LINES)
        assert DBTaskResult.objects.count() == 1  # a row of the writer's own transaction
        transaction.set_rollback(True)
    assert not DBTaskResult.objects.exists()
    with transaction.atomic():
        enqueue_after_commit(send_event_email, "ann@example.org", "ann", "rejected", LINES)
    assert DBTaskResult.objects.get().task_path == "notifications.tasks.send_event_email"


@pytest.mark.django_db(transaction=True)
def test_many_writes_in_one_transaction_queue_one_refresh_and_a_rolled_back_savepoint_takes_its_own(
    database_backend,
):
    with transaction.atomic():
        enqueue_once_after_commit(refresh_derived)
        enqueue_once_after_commit(refresh_derived)
        RoleFactory()  # its save marks its digest stale: the same job
    assert DBTaskResult.objects.filter(task_path="roles.tasks.refresh_derived").count() == 1
    with transaction.atomic():
        try:
            with transaction.atomic():
                enqueue_once_after_commit(refresh_derived)
                raise RuntimeError("the savepoint rolls back")
        except RuntimeError:
            pass
        enqueue_once_after_commit(refresh_derived)  # the mark went with the savepoint: queued again
    assert DBTaskResult.objects.filter(task_path="roles.tasks.refresh_derived").count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_request_only_marks_derived_data_stale_and_the_worker_refreshes_it(database_backend, make_user):
    curator = make_user("curator")
    role = RoleFactory()
    alias = TitleAliasFactory(role=role, alias="Data Wrangler", created_by=curator)
    # The write committed; nothing refreshed it in process.
    assert DerivedQueue.objects.exists()
    assert not AliasSignals.objects.filter(alias=alias).exists()
    result = _run_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    assert not DerivedQueue.objects.exists()
    assert AliasSignals.objects.filter(alias=alias).exists()
    assert RoleDigest.objects.get(role=role).aliases_pending == 1
    assert derived.differences() == []
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_the_email_a_committed_decision_asked_for(database_backend):
    with transaction.atomic():
        enqueue_after_commit(send_event_email, "ann@example.org", "ann", "rejected", LINES)
    result = _run_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Subject: Rolebook: Your alias was rejected" in result.stdout  # the console backend
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert mail.outbox == []  # not sent by the test's process


@pytest.mark.django_db(transaction=True)
def test_a_worker_restarted_under_its_id_runs_the_job_its_killed_predecessor_left_running(database_backend):
    with transaction.atomic():
        enqueue_after_commit(send_event_email, "ann@example.org", "ann", "rejected", LINES)
    DBTaskResult.objects.get().claim("test-host-1")  # then the worker was killed: RUNNING for good
    worker = subprocess.Popen(worker_command(1)[:-1] + ["test-host-1"], cwd=ROOT, env=_worker_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while DBTaskResult.objects.get().status != "SUCCESSFUL":
            assert worker.poll() is None and time.monotonic() < deadline, "the job was not run again"
            time.sleep(0.2)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert "1 job(s) left running by its last run are queued again" in output
    assert "Subject: Rolebook: Your alias was rejected" in output
    assert DBTaskResult.objects.get().worker_ids == ["test-host-1", "test-host-1"]


def test_each_task_worker_of_a_host_has_its_own_stable_id():
    ids = [worker_id(n) for n in (1, 2, 3)]
    assert len(set(ids)) == 3 and ids == [worker_id(n) for n in (1, 2, 3)]
    assert all(len(ident) <= 64 for ident in ids)  # db_worker's limit
    assert worker_command(2)[-2:] == ["worker", ids[1]]


def test_serve_restarts_a_worker_that_dies_and_stops_it_when_the_web_server_ends(tmp_path, monkeypatch):
    monkeypatch.setattr("framework.serve.RESTART_PAUSE", 0.1)
    starts = tmp_path / "starts"
    worker = [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x'); import sys; sys.exit(3)"]
    web = [sys.executable, "-c", "import time; time.sleep(2.5); raise SystemExit(7)"]
    status = supervise({"gunicorn": web, "task worker 1": worker}, restart={"task worker 1"}, main_child="gunicorn")
    assert status == 7  # the web server's status is make serve's
    assert len(starts.read_text()) >= 2  # the worker that died was started again


@pytest.mark.django_db(transaction=True)
def test_refresh_jobs_piled_up_behind_a_run_are_dropped_by_it_and_their_rows_done(database_backend, make_user):
    curator = make_user("curator")
    roles = [RoleFactory() for _ in range(3)]
    for role in roles:  # three commits: three jobs, three marks
        TitleAliasFactory(role=role, alias=f"Alias of {role.code}", created_by=curator)
    assert DBTaskResult.objects.filter(task_path="roles.tasks.refresh_derived").count() >= 3
    result = _run_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    # The first run dropped the others, then read the queue once more: one job did all three.
    assert DBTaskResult.objects.filter(task_path="roles.tasks.refresh_derived").count() == 1
    assert not DerivedQueue.objects.exists()
    assert RoleDigest.objects.filter(role__in=roles, aliases_pending=1).count() == 3
    assert derived.differences() == []
