"""The admin index's "Review" and "Roles" panel (`{% load review_panel %}` in templates/admin/index.html)."""

from __future__ import annotations

from django import template

from review.selectors import pending_for

register = template.Library()


@register.inclusion_tag("admin/_review_panel.html", takes_context=True)
def review_panel(context) -> dict:
    """What waits for this user in the review queues (three queries)."""
    request = context["request"]
    return {"pending": pending_for(request.user), "request": request}
