"""Template helpers shared by the site's pages: undo actions in messages, the review panel."""

from __future__ import annotations

from django import template

register = template.Library()

UNDO_TAG = "undo"


@register.filter
def undo_action(message) -> dict | None:
    """The undo a decision's message offers: {"token": …} from its extra tags, or None."""
    for tag in (getattr(message, "extra_tags", "") or "").split():
        if tag.startswith(f"{UNDO_TAG}|"):
            return {"token": tag.split("|", 1)[1]}
    return None


@register.inclusion_tag("admin/_review_panel.html", takes_context=True)
def review_panel(context) -> dict:
    """The admin index's "Review" and "Roles" panel: what waits for this user (three queries)."""
    from review.selectors import pending_for

    request = context["request"]
    return {"pending": pending_for(request.user), "request": request}
