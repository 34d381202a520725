"""Hypothesis drives random sequences of curator edits, imports, approvals, rejections, reopens,
refines and bulk decisions by random users, and checks the review invariants after every step:

- every approved item's decider is not among its creator and the people who changed its content
  since its previous decision (tracked here, independently of the implementation);
- every decided item has a Decision row saying so, and no approved item's content changed while
  it stayed approved (read from the history);
- the release holds exactly the approved aliases and mappings.

Each example runs in a transaction that is rolled back at its end.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from framework.audit import MissingReason, StaleEdit, get_system_user
from review import services
from roles.cards.importer import CardSource, import_cards
from roles.cards.renderer import render_card
from roles.models import ClassificationMapping, Role, TitleAlias
from roles.services import save_alias, save_mapping
from tests.factories import UserFactory
from tests.review.invariants import integrity_problems, release_problems

pytestmark = pytest.mark.django_db

REFERENCE = (Path(__file__).parent.parent / "data" / "AIMLAM.GEN.P1.txt").read_text("utf-8")
ALIASES = ["Machine Learning I", "Junior Deep Learning"]
CONFIDENCES = [Decimal("0.55"), Decimal("0.66"), Decimal("0.70"), Decimal("0.85")]
DETAILED = ["15-1221", "15-2051", "15-1252"]
TRIES = {"examples": 0, "steps": 0, "approvals": 0}


class ReviewMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        TRIES["examples"] += 1

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    @initialize()
    def set_up(self):
        from django.core.management import call_command

        call_command("load_fixtures", "fixtures/seed.json", verbosity=0)
        self.role = Role.objects.get(code="AIMLAM.GEN.P1")
        from tests.factories import curator, reviewer

        # Two who may do everything, a curator, two reviewers.
        self.users = [UserFactory(is_superuser=True), UserFactory(is_superuser=True), curator(), reviewer(),
                      reviewer()]
        self.system = get_system_user()
        # Content editors since each item's previous decision, kept by this test: (model, pk) -> ids.
        self.editors: dict[tuple[str, int], set[int]] = {}

    # -- helpers --------------------------------------------------------------------------------

    def _alias(self, index: int) -> TitleAlias:
        return TitleAlias.objects.get(role=self.role, alias=ALIASES[index % len(ALIASES)])

    def _mapping(self) -> ClassificationMapping:
        return ClassificationMapping.objects.filter(role=self.role).order_by("pk").first()

    def _key(self, item) -> tuple[str, int]:
        return (type(item).__name__, item.pk)

    def _edited(self, item, user) -> None:
        self.editors.setdefault(self._key(item), set()).add(user.pk)

    def _decided(self, before, after, user) -> None:
        """Check a successful move against the test's own record, then start a new record."""
        key = self._key(after)
        if after.status == "approved" and before.status != "approved":
            TRIES["approvals"] += 1
            assert user.pk != after.created_by_id, f"{after} approved by its creator"
            assert user.pk not in self.editors.get(key, set()), f"{after} approved by one of its editors"
        self.editors[key] = set()

    # -- rules ----------------------------------------------------------------------------------

    @rule(index=st.integers(0, 1), user=st.integers(0, 4), confidence=st.sampled_from(CONFIDENCES))
    def edit_alias(self, index, user, confidence):
        alias, actor = self._alias(index), self.users[user]
        if alias.confidence == confidence:
            return
        was_decided = alias.status != "pending"
        alias.confidence = confidence
        save_alias(alias=alias, actor=actor, reason="hypothesis edit")
        self._edited(alias, actor)
        if was_decided:
            self.editors[self._key(alias)] = {actor.pk}  # returned: a new record starts with the editor

    @rule(user=st.integers(0, 4), title=st.sampled_from(["Computer Occupations", "Quants"]))
    def edit_mapping(self, user, title):
        mapping, actor = self._mapping(), self.users[user]
        if mapping.title == title:
            return
        was_decided = mapping.status != "needs_review"
        mapping.title = title
        save_mapping(mapping=mapping, actor=actor, reason="hypothesis edit")
        if was_decided:
            self.editors[self._key(mapping)] = set()
        self._edited(mapping, actor)

    @rule(index=st.integers(0, 1), user=st.integers(0, 4))
    def approve_alias(self, index, user):
        alias, actor = self._alias(index), self.users[user]
        try:
            done = services.approve_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=actor)
        except services.ReviewError:
            return
        self._decided(alias, done, actor)

    @rule(index=st.integers(0, 1), user=st.integers(0, 4))
    def reject_alias(self, index, user):
        alias, actor = self._alias(index), self.users[user]
        try:
            done = services.reject_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=actor, reason="no")
        except services.ReviewError:
            return
        self._decided(alias, done, actor)

    @rule(index=st.integers(0, 1), user=st.integers(0, 4))
    def reopen_alias(self, index, user):
        alias, actor = self._alias(index), self.users[user]
        try:
            done = services.reopen_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=actor, reason="again")
        except services.ReviewError:
            return
        self._decided(alias, done, actor)

    @rule(user=st.integers(0, 4), indexes=st.sets(st.integers(0, 1), min_size=1))
    def bulk_approve(self, user, indexes):
        actor = self.users[user]
        before = {i: self._alias(i) for i in indexes}
        try:
            result = services.approve_aliases(aliases=[a.pk for a in before.values()], actor=actor)
        except services.ReviewError:
            return
        for done in result.decided:
            self._decided(next(a for a in before.values() if a.pk == done.pk), done, actor)

    @rule(user=st.integers(0, 4), group=st.booleans())
    def approve_mapping(self, user, group):
        mapping, actor = self._mapping(), self.users[user]
        try:
            done = services.approve_mapping(mapping=mapping, actor=actor, confirm_group_level=group)
        except services.ReviewError:
            return
        self._decided(mapping, done, actor)

    @rule(user=st.integers(0, 4), code=st.sampled_from(DETAILED))
    def refine_mapping(self, user, code):
        mapping, actor = self._mapping(), self.users[user]
        try:
            done = services.refine_mapping(mapping=mapping, actor=actor, code=code)
        except services.ReviewError:
            return
        self._decided(mapping, done, actor)
        self.editors[self._key(done)] = {actor.pk}  # the refiner wrote the new code

    @rule(user=st.integers(0, 4))
    def reopen_mapping(self, user):
        mapping, actor = self._mapping(), self.users[user]
        try:
            done = services.reopen_mapping(mapping=mapping, actor=actor, reason="again")
        except services.ReviewError:
            return
        self._decided(mapping, done, actor)

    @rule(user=st.integers(0, 4), index=st.integers(0, 1), confidence=st.sampled_from(CONFIDENCES),
          claim=st.booleans(), overwrite=st.booleans())
    def import_card(self, user, index, confidence, claim, overwrite):
        """Re-import the role's own card with one alias changed, perhaps claiming it approved."""
        actor = self.users[user]
        text = render_card(self.role)
        lines = text.split("\n")
        for n, line in enumerate(lines):
            if line.startswith(f"| {ALIASES[index]} |"):
                cells = line.split(" | ")
                band = "high" if confidence >= Decimal("0.80") else "medium"
                cells[2] = f"{band}{confidence}"
                if claim:
                    cells[3] = "2026-11-30 |"
                lines[n] = " | ".join(cells)
        before = {a.pk: a for a in TitleAlias.objects.filter(role=self.role)}
        result = import_cards([CardSource("h.txt", "\n".join(lines).encode())], actor=actor,
                              import_decisions=True, overwrite_edits=overwrite)
        assert result.ok, result.error_lines()
        for alias in TitleAlias.objects.filter(role=self.role):
            old = before[alias.pk]
            if old.confidence != alias.confidence:
                self._edited(alias, actor)
                if old.status != "pending":
                    self.editors[self._key(alias)] = {actor.pk}
            if alias.status == "approved" and old.status != "approved":
                # Only a holder of review.import_decisions turns a claim into a decision.
                assert actor.is_superuser, f"{alias} approved by an import of {actor}"
                self.editors[self._key(alias)] = set()

    @rule(user=st.integers(0, 4), index=st.integers(0, 1))
    def stale_save_is_refused(self, user, index):
        """A form opened before a decision cannot save over it."""
        stale = self._alias(index)
        actor = self.users[user]
        try:
            services.reopen_alias(alias=self._alias(index), actor=self.users[3], reason="move on")
        except services.ReviewError:
            return
        self.editors[self._key(stale)] = set()
        stale.confidence = Decimal("0.99")
        with pytest.raises(StaleEdit):
            save_alias(alias=stale, actor=actor, reason="stale")

    @rule(index=st.integers(0, 1), user=st.integers(0, 4))
    def invisible_reason_is_refused(self, index, user):
        alias = self._alias(index)
        alias.confidence = Decimal("0.01")
        with pytest.raises(MissingReason):
            save_alias(alias=alias, actor=self.users[user], reason="\u200b \u2060")

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def review_states_are_sound(self):
        if not hasattr(self, "role"):
            return
        TRIES["steps"] += 1
        assert integrity_problems() == []

    @invariant()
    def the_release_holds_only_approved_items(self):
        if hasattr(self, "role"):
            assert release_problems() == []


def test_random_review_histories_keep_every_invariant(reference_soc, groups):
    run_state_machine_as_test(
        ReviewMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
    print(f"\nhypothesis: {TRIES['examples']} examples, {TRIES['steps']} checked steps, "
          f"{TRIES['approvals']} approvals checked")
    assert TRIES["approvals"] > 0
