"""The token page's form."""

from django import forms

from .models import ApiToken


class TokenForm(forms.Form):
    """A name and the scopes of a new token."""

    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “search indexer”.")
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiToken.Scope.READ],
        error_messages={"required": "Choose at least one scope."},
    )
