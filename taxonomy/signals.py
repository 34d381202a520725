"""Signals the taxonomy app sends for apps that build on it."""

from django.dispatch import Signal

# Sent by taxonomy.services.load_reference_titles after the official titles were replaced (count=N).
reference_titles_loaded = Signal()
