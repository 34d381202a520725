"""The roles app's jobs on the task queue (framework/tasks.py)."""

from __future__ import annotations

from django_tasks import task

from . import derived


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


@task()
def refresh_suggestions(role_ids: list[int]) -> int:
    """Recompute the stale cached SOC suggestions of `role_ids` (soc.cached_suggestions); return the roles seen."""
    from . import soc
    from .models import Role

    roles = list(Role.objects.filter(pk__in=role_ids))
    soc.cached_suggestions(roles)
    return len(roles)
