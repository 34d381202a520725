"""Every card import logs one line naming what it imported, once committed; a dry run logs none."""

import logging
from pathlib import Path

import pytest

from framework.audit import get_system_user
from roles.cards.importer import CardSource, import_cards

pytestmark = pytest.mark.django_db
REFERENCE_TEXT = (Path(__file__).resolve().parents[2] / "fixtures" / "cards" / "AIMLAM.GEN.P1.txt").read_text("utf-8")


def _import_lines(caplog):
    return [r for r in caplog.records if r.name == "rolebook.import"]


def test_an_import_logs_one_line_naming_its_cards(reference_soc, caplog, django_capture_on_commit_callbacks):
    with caplog.at_level(logging.INFO, logger="rolebook.import"):
        with django_capture_on_commit_callbacks(execute=True):
            import_cards([CardSource("cards/AIMLAM.GEN.P1.txt", REFERENCE_TEXT.encode())], actor=get_system_user())
        with django_capture_on_commit_callbacks(execute=True):
            import_cards([CardSource("again.txt", REFERENCE_TEXT.encode())], actor=get_system_user(), dry_run=True)
    (record,) = _import_lines(caplog)
    message = record.getMessage()
    assert message.startswith("card import by rolebook-system: Imported 1 card: 1 created")
    assert message.endswith("(AIMLAM.GEN.P1 created)")
    assert record.cards == {"AIMLAM.GEN.P1": "created"} and record.files == ["cards/AIMLAM.GEN.P1.txt"]
