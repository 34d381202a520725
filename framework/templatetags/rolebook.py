"""Template helpers shared by the site's pages: the undo a decision's message offers."""

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
