"""The review app's permissions. The decision log itself lives with the items: roles.models.Decision."""

from __future__ import annotations

from django.db import models


class ReviewRights(models.Model):
    """Holds the review permissions; no table (the permissions need a model to hang on)."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "review rights"
        verbose_name_plural = "review rights"
        permissions = [
            ("review_alias", "Can approve, reject and reopen title aliases"),
            ("review_mapping", "Can approve, reject, refine and reopen classification mappings"),
            (
                "import_decisions",
                "Can import the review states a card claims (approved, rejected) as decisions",
            ),
        ]

    def __str__(self) -> str:
        return "review rights"
