"""The queues' filter widgets written in Python: Django's own markup for them, without its templates.

A queue page shows a dozen filter widgets, and Django renders each stock widget through the
template engine, with an include for its attributes and one per option: about a quarter of a
millisecond a widget, an eighth of the alias queue's time. QueueWidgets writes the same markup
for the text, number and select widgets and hands any other template to Django
(tests/review/test_queue_render.py compares the two on every queue filter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, mark_safe

WIDGETS = "django/forms/widgets/"


def _text(value: Any) -> str:
    """`{{ value }}` as a template prints it: localized, then escaped unless safe."""
    return conditional_escape(localize(value))


def _formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`: text, escaped unless the value was safe."""
    return str(value) if isinstance(value, SafeData) else conditional_escape(str(value))


def _attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html: ` name="value"`, a bare ` name` for True, nothing for False."""
    return "".join(
        "" if value is False else f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"'
        for name, value in attrs.items()
    )


def _input(widget: dict[str, Any]) -> str:
    value = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{value}{_attrs(widget["attrs"])}>'


def _option(option: dict[str, Any]) -> str:
    # The option template ends with a newline, which its include keeps.
    return f'<option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>{_text(option["label"])}</option>\n'


def _select(widget: dict[str, Any]) -> str:
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in choices:
            if option["template_name"] != f"{WIDGETS}select_option.html":
                raise LookupError(option["template_name"])
            parts.append(f"\n  {_option(option)}")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


WRITERS: dict[str, Callable[[dict[str, Any]], str]] = {
    f"{WIDGETS}{name}.html": _input for name in ("input", "text", "number", "search", "email", "url")
} | {f"{WIDGETS}select.html": _select}


class QueueWidgets(DjangoTemplates):
    """A form renderer that writes text, number and select widgets in Python, and leaves the rest to Django."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        write = WRITERS.get(template_name)
        if write is not None and "widget" in context:
            try:
                return mark_safe(write(context["widget"]))
            except LookupError:
                pass  # an option with a template of its own: Django's way
        return super().render(template_name, context, request)


QUEUE_WIDGETS = QueueWidgets()
