"""System checks of the review state machine's tables (roles.E001–E006), run at start-up.

Each reviewable model's TRANSITIONS is data read by roles.workflow; a typo in it would let a
move through or lock items in a state. These checks read the tables and the models only.
"""

from __future__ import annotations

from django.core import checks

from .models import APPROVING_KINDS, DecisionKind, Reviewable
from .workflow import APPROVED, REVIEWABLE_MODELS

# Fields that are neither content nor review state: identity, authorship and bookkeeping.
BOOKKEEPING_FIELDS = frozenset(
    {
        "id", "version", "created_by", "created_at", "content_changed_by", "content_changed_at", "previous_code",
        # What suggested a mapping (the coder's score and version): shown, never judged.
        "suggested_score", "coder_version",
    }
)


def _error(model: type[Reviewable], code: int, message: str, hint: str = "") -> checks.Error:
    return checks.Error(message, hint=hint or None, obj=model, id=f"roles.E{code:03d}")


def check_table(model: type[Reviewable]) -> list[checks.CheckMessage]:
    """Return what is wrong with `model`'s transition table and field classification."""
    errors: list[checks.CheckMessage] = []
    statuses = set(model.Status.values)
    kinds = set(DecisionKind.values)
    table = model.TRANSITIONS
    if model.OPEN not in statuses:
        errors.append(_error(model, 1, f"OPEN {model.OPEN!r} is not one of the statuses {sorted(statuses)}."))
    for pair, allowed in table.items():
        if not (isinstance(pair, tuple) and len(pair) == 2 and set(pair) <= statuses and pair[0] != pair[1]):
            errors.append(_error(model, 1, f"TRANSITIONS key {pair!r} is not a (from, to) pair of two statuses."))
            continue
        if not allowed or not set(allowed) <= kinds:
            errors.append(_error(model, 2, f"{pair}: {sorted(allowed)} are not decision kinds {sorted(kinds)}."))
            continue
        origin, target = pair
        if set(allowed) & APPROVING_KINDS and target != APPROVED:
            errors.append(_error(model, 4, f"{pair}: an approving kind must lead to {APPROVED!r}."))
        if {DecisionKind.REOPEN, DecisionKind.RETURNED} & set(allowed) and target != model.OPEN:
            errors.append(_error(model, 4, f"{pair}: reopening and returning lead back to {model.OPEN!r} only."))
        if target != model.OPEN and origin != model.OPEN:
            errors.append(
                _error(model, 4, f"{pair}: a decided item is decided again only after it is reopened.",
                       "Go through the open status: (decided, open), then (open, decided).")
            )
    for status in statuses - {model.OPEN}:
        if (model.OPEN, status) not in table:
            errors.append(_error(model, 3, f"{status!r} cannot be reached from {model.OPEN!r}."))
        if DecisionKind.REOPEN not in table.get((status, model.OPEN), ()):
            errors.append(_error(model, 3, f"{status!r} cannot be reopened: a decision could never be undone."))
        if DecisionKind.RETURNED not in table.get((status, model.OPEN), ()):
            errors.append(_error(model, 3, f"A content change cannot send a {status!r} item back to review."))
    fields = {f.name for f in model._meta.concrete_fields}
    unknown = set(model.CONTENT_FIELDS) - fields
    if unknown:
        errors.append(_error(model, 5, f"CONTENT_FIELDS names {sorted(unknown)}, which are not fields."))
    unclassified = fields - set(model.CONTENT_FIELDS) - set(model.REVIEW_STATE_FIELDS) - BOOKKEEPING_FIELDS
    if unclassified:
        errors.append(
            _error(model, 5, f"Fields {sorted(unclassified)} are neither content nor review state.",
                   "Add them to CONTENT_FIELDS (a change sends the item back to review) or, if a "
                   "reviewer never judges them, to roles.checks.BOOKKEEPING_FIELDS.")
        )
    overlap = set(model.CONTENT_FIELDS) & set(model.REVIEW_STATE_FIELDS)
    if overlap:
        errors.append(_error(model, 6, f"Fields {sorted(overlap)} are both content and review state."))
    return errors


@checks.register()
def check_transition_tables(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """roles.E001–E006: every reviewable model's transition table and field classification."""
    errors: list[checks.CheckMessage] = []
    for model in REVIEWABLE_MODELS:
        errors.extend(check_table(model))
    return errors
