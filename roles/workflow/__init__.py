"""The review core: the rules (`rules`) and the one place that writes review state (`core`).

Callers import from here: `from roles import workflow; workflow.decide(...)`.
"""

from .core import (
    BULK_BATCH_SIZE,
    BulkResult,
    Skipped,
    claim,
    decide,
    decide_many,
    decided,
    last_decisions,
    note_content_change,
    persist,
    prepare_move,
    save_content,
    start,
    undo_many,
)
from .leases import HeldByAnother, held_by, held_by_others, is_lead, release, take_batch
from .rules import (
    APPROVED,
    REVIEWABLE_MODELS,
    AlreadyDecided,
    FourEyesViolation,
    GroupLevelNotConfirmed,
    IllegalTransition,
    InvalidCode,
    ItemChanged,
    ItemGone,
    ReasonRequired,
    ReplaceNotConfirmed,
    ReviewError,
    ReviewPermissionDenied,
    check_move,
    check_permission,
    describe,
    four_eyes_q,
    four_eyes_reason,
    holds_explicitly,
    is_approval,
    may_move,
    required_permission,
    who_decided,
)
from .samples import AlreadyReviewed, AwaitingLead, NotIndependent, hides_any
from .samples import hidden_from_q as sample_hidden_q

__all__ = [
    "APPROVED", "AlreadyDecided", "AlreadyReviewed", "AwaitingLead", "NotIndependent", "hides_any",
    "sample_hidden_q",
    "BULK_BATCH_SIZE", "BulkResult", "FourEyesViolation", "GroupLevelNotConfirmed",
    "HeldByAnother", "IllegalTransition", "InvalidCode", "ItemChanged", "ItemGone", "REVIEWABLE_MODELS",
    "ReasonRequired", "ReplaceNotConfirmed", "ReviewError", "ReviewPermissionDenied", "Skipped", "check_move",
    "check_permission", "claim", "decide", "decide_many", "decided", "describe", "four_eyes_q",
    "four_eyes_reason", "held_by", "held_by_others", "holds_explicitly", "is_approval", "is_lead",
    "last_decisions", "may_move", "note_content_change", "persist", "prepare_move", "release",
    "required_permission", "save_content", "start", "take_batch", "undo_many", "who_decided",
]
