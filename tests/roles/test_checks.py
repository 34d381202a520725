"""System checks roles.E001–E006 read the state machine's tables at start-up."""

import pytest
from django.core import checks

from roles.checks import check_table
from roles.models import DecisionKind, TitleAlias

S = TitleAlias.Status


def test_the_project_passes_its_own_checks():
    assert [m for m in checks.run_checks() if m.id and m.id.startswith("roles.E")] == []


@pytest.mark.parametrize(
    "table, code",
    [
        ({**TitleAlias.TRANSITIONS, (S.PENDING, "archived"): frozenset({DecisionKind.APPROVE})}, "roles.E001"),
        ({**TitleAlias.TRANSITIONS, (S.PENDING, S.APPROVED): frozenset({"rubber-stamp"})}, "roles.E002"),
        ({k: v for k, v in TitleAlias.TRANSITIONS.items() if k != (S.APPROVED, S.PENDING)}, "roles.E003"),
        ({**TitleAlias.TRANSITIONS, (S.PENDING, S.REJECTED): frozenset({DecisionKind.APPROVE})}, "roles.E004"),
        ({**TitleAlias.TRANSITIONS, (S.REJECTED, S.APPROVED): frozenset({DecisionKind.IMPORTED})}, "roles.E004"),
    ],
)
def test_a_broken_table_is_reported(monkeypatch, table, code):
    monkeypatch.setattr(TitleAlias, "TRANSITIONS", table)
    assert code in {message.id for message in check_table(TitleAlias)}


def test_a_field_that_is_neither_content_nor_review_state_is_reported(monkeypatch):
    monkeypatch.setattr(TitleAlias, "CONTENT_FIELDS", ("role", "alias", "alias_type", "confidence"))
    messages = check_table(TitleAlias)
    assert [m.id for m in messages] == ["roles.E005"]
    assert "source" in messages[0].msg
