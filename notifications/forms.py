from django import forms

from .models import NotificationPreference
from .services import PREFERENCE_FIELDS


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = PREFERENCE_FIELDS
