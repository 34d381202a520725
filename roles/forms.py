"""Forms of the curators' admin: the role editor's rows, and the checks that span several rows.

The role editor (RoleAdmin's change form) holds a hundred rows and more: six lists of components,
the aliases and the mappings, 40 components and 55 aliases on a typical role. What Django does
once per row is what the page costs, so the rows do little per row:

* DirectRenderer writes the plain widgets (inputs, text areas, selects, labels) and the empty
  error lists as Django's templates do, without the template engine; RowBoundField writes an
  unbound row's inputs straight from their widgets;
* RoleEditorTable writes each list's header and rows as admin/edit_inline/tabular.html does,
  and fieldsets_html the role's own fields as admin/includes/fieldset.html does, in Python;
* RowForm copies its fields the short way (RowFields) and checks only the rows that changed
  against their model; RowFormSet finds the rows' posted keys among the rows it loaded. Django
  spends a query per row on each of those checks and keys.

tests/roles/test_admin_role_form.py holds each of them to the markup Django's own would write.
"""

from __future__ import annotations

import copy
import functools
import html
import re

from django.contrib.admin import helpers
from django.contrib.admin.templatetags.admin_modify import cell_count
from django.contrib.admin.utils import flatten_fieldsets, quote
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.forms import BoundField, ChoiceField, Field
from django.forms.models import BaseInlineFormSet, ModelChoiceField
from django.forms.renderers import BaseRenderer, get_default_renderer
from django.forms.widgets import ChoiceWidget, Input, Widget
from django.templatetags.static import static
from django.urls import reverse
from django.utils.formats import localize
from django.utils.functional import cached_property
from django.utils.html import strip_tags
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext

from framework.admin import VersionedForm

from .models import TitleAlias, normalize_space

# ---------------------------------------------------------------------------------------------
# Widgets written directly


SPECIAL = re.compile("[&<>\"']")


def escape(value) -> str:
    """django.utils.html.conditional_escape, faster: most attribute values have nothing to escape."""
    if type(value) is not str:
        if hasattr(value, "__html__"):
            return value.__html__()
        value = str(value)
    return html.escape(value) if SPECIAL.search(value) else value


def shown(value) -> str:
    """A value as a template prints it: localized when it is not text, then escaped unless marked safe."""
    return escape(value if isinstance(value, str) else localize(value))


def attributes(attrs: dict) -> str:
    """django/forms/widgets/attrs.html: ` name="value"`, a bare ` name` for True, nothing for False.

    The names are the code's own (widget attributes), never a user's: only the values are escaped.
    """
    html = ""
    for name, value in attrs.items():
        if value is True:
            html += f" {name}"
        elif value is not False:
            html += f' {name}="{value if type(value) is int else escape(value)}"'
    return html


def input_html(context: dict) -> str:
    """django/forms/widgets/input.html (text, number, hidden…)."""
    widget = context["widget"]
    value = "" if widget["value"] is None else f' value="{escape(widget["value"])}"'
    kind, name = escape(widget["type"]), escape(widget["name"])
    return f'<input type="{kind}" name="{name}"{value}{attributes(widget["attrs"])}>'


def textarea_html(context: dict) -> str:
    """django/forms/widgets/textarea.html."""
    widget = context["widget"]
    text = shown(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{escape(widget["name"])}"{attributes(widget["attrs"])}>\n{text}</textarea>'


SELECT_OPTION = "django/forms/widgets/select_option.html"


def select_html(context: dict) -> str | None:
    """django/forms/widgets/select.html with select_option.html, without the white space between options."""
    widget = context["widget"]
    parts = [f'<select name="{escape(widget["name"])}"{attributes(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'<optgroup label="{shown(group_name)}">')
        for option in options:
            if option["template_name"] != SELECT_OPTION:
                return None  # options of another kind: the templates draw them
            value = escape(option["value"])
            parts.append(f'<option value="{value}"{attributes(option["attrs"])}>{shown(option["label"])}</option>')
        if group_name:
            parts.append("</optgroup>")
    parts.append("</select>")
    return "".join(parts)


def label_html(context: dict) -> str:
    """django/forms/label.html."""
    if not context["use_tag"]:
        return shown(context["label"])
    return f'<{context["tag"]}{attributes(context["attrs"])}>{shown(context["label"])}</{context["tag"]}>'


def error_list_html(context: dict) -> str | None:
    """An empty error list is nothing (django/forms/errors/list/ul.html); one with errors goes to the template."""
    return "" if not context["errors"] else None


# Template name → the function that writes what the template would (or None: render the template).
DIRECT = {
    **{f"django/forms/widgets/{name}.html": input_html
       for name in ("input", "text", "number", "hidden", "email", "url", "checkbox")},
    "django/forms/widgets/textarea.html": textarea_html,
    "django/forms/widgets/select.html": select_html,
    "django/forms/label.html": label_html,
    "django/forms/errors/list/default.html": error_list_html,
    "django/forms/errors/list/ul.html": error_list_html,
}


class DirectRenderer(BaseRenderer):
    """The site's form renderer, except for the templates in DIRECT: those are written in Python.

    Through the template engine, each input with its (empty) error list cost the role editor a
    few hundred microseconds, most of the page's time. The markup is the templates' own.
    """

    @property
    def form_template_name(self) -> str:
        return get_default_renderer().form_template_name

    @property
    def formset_template_name(self) -> str:
        return get_default_renderer().formset_template_name

    @property
    def field_template_name(self) -> str:
        return get_default_renderer().field_template_name

    def get_template(self, template_name):
        return get_default_renderer().get_template(template_name)

    def render(self, template_name, context, request=None):
        write = DIRECT.get(template_name)
        written = write(context) if write is not None else None
        return written if written is not None else super().render(template_name, context, request)


DIRECT_RENDERER = DirectRenderer()

# ---------------------------------------------------------------------------------------------
# Rows


@functools.cache
def plain_writer(widget_class: type, template_name: str):
    """DIRECT's writer for a widget that draws itself as Input or Textarea do, else None.

    Such a widget takes its context from Widget.get_context() (and Input's, which adds the
    type), its attributes from Widget.build_attrs() and renders through Widget.render().
    """
    if (
        template_name not in PLAIN_TEMPLATES
        or widget_class.get_context not in (Widget.get_context, Input.get_context)
        or widget_class.build_attrs is not Widget.build_attrs
        or widget_class.render is not Widget.render
        or widget_class._render is not Widget._render
    ):
        return None
    return DIRECT[template_name]


PLAIN_TEMPLATES = {name for name, write in DIRECT.items() if write in (input_html, textarea_html)}


class RowBoundField(BoundField):
    """A field of a table row, named by its aria-label (there is no <label> to point at it).

    Its help text is in the column's header, so the input does not point to one beside it. It
    has an id only where something refers to it: in a submitted form, where its error message
    (`…_error`) points back at it, and in widgets that label their parts (radio buttons). The
    role editor otherwise spent an eighth of its bytes on ids nothing used.
    """

    @property
    def auto_id(self) -> str:
        if not self.form.is_bound and not self.field.widget.use_fieldset:
            return ""
        return super().auto_id

    @property
    def aria_describedby(self):
        if self.field.widget.attrs.get("aria-describedby"):
            return None
        return f"{self.auto_id}_error" if self.auto_id and not self.is_hidden and self.has_errors else ""

    @property
    def has_errors(self) -> bool:
        """Whether the field has errors (`errors` makes an empty list each time it finds none)."""
        return self.name in self.form.errors

    def __str__(self) -> str:
        html = self.plain_input()
        return html if html is not None else super().__str__()

    def plain_input(self) -> str | None:
        """An unbound row's input or text area, written straight from its widget's attributes and value.

        What as_widget() and the widget would write: an unbound row has no errors to point at
        and no id (see above), so its attributes are the widget's own, with `required` and
        `disabled` as BoundField.build_widget_attrs() sets them. Each row has half a dozen
        inputs, and Django's way to each (context dictionaries for errors, help and labels an
        unbound row has not) costs more than writing it. None for any other widget or form.
        """
        widget = self.field.widget
        write = plain_writer(type(widget), widget.template_name)
        if write is None or self.form.is_bound or self.field.show_hidden_initial:
            return None
        if self.field.localize:
            widget.is_localized = True  # as as_widget() does
        attrs = dict(widget.attrs)
        if widget.use_required_attribute(self.initial) and self.field.required and self.form.use_required_attribute:
            attrs["required"] = True
        if self.field.disabled:
            attrs["disabled"] = True
        value = widget.format_value(self.value())
        return SafeString(write({"widget": {"type": getattr(widget, "input_type", None), "name": self.html_name,
                                            "value": value, "attrs": attrs}}))


@functools.cache
def copies_plainly(cls: type) -> bool:
    """Whether copy.copy() of an instance of `cls` is a new instance with a copy of its __dict__.

    True for a class without copy or pickle hooks of its own (__copy__, __reduce_ex__,
    __reduce__, __getstate__, __setstate__, __slots__, __new__): copy.copy() then takes the
    reduce protocol's long way to that same result.
    """
    return (
        cls.__new__ is object.__new__
        and cls.__reduce_ex__ is object.__reduce_ex__
        and cls.__reduce__ is object.__reduce__
        and cls.__getstate__ is object.__getstate__
        and not hasattr(cls, "__copy__")
        and not hasattr(cls, "__setstate__")
        and not any("__slots__" in vars(klass) for klass in cls.__mro__[:-1])
    )


def plain_copy(obj):
    """copy.copy(obj) for an object whose class copies_plainly()."""
    copied = object.__new__(type(obj))
    copied.__dict__.update(obj.__dict__)
    return copied


FIELD_COPIES = {Field.__deepcopy__, ChoiceField.__deepcopy__}
WIDGET_COPIES = {Widget.__deepcopy__, ChoiceWidget.__deepcopy__}


def copy_field(field: Field, memo: dict) -> Field:
    """copy.deepcopy(field), as Field, ChoiceField, Widget and ChoiceWidget.__deepcopy__ make it, faster.

    Any other field or widget (a multi-value field, one with a copy of its own) is deep-copied
    by copy.deepcopy().
    """
    widget = field.widget
    field_cls, widget_cls = type(field), type(widget)
    if (field_cls.__deepcopy__ not in FIELD_COPIES or widget_cls.__deepcopy__ not in WIDGET_COPIES
            or not copies_plainly(field_cls) or not copies_plainly(widget_cls)):
        return copy.deepcopy(field, memo)
    result = plain_copy(field)
    memo[id(field)] = result
    result.widget = plain_copy(widget)
    result.widget.attrs = widget.attrs.copy()
    if widget_cls.__deepcopy__ is ChoiceWidget.__deepcopy__:
        result.widget.choices = copy.copy(widget.choices)
    memo[id(widget)] = result.widget
    result.error_messages = field.error_messages.copy()
    result.validators = field.validators[:]
    if field_cls.__deepcopy__ is ChoiceField.__deepcopy__:
        result._choices = copy.deepcopy(field._choices, memo)
    return result


class RowFields(dict):
    """A row form's base fields: each form gets its own copies, as from copy.deepcopy(), by copy_field()."""

    def __deepcopy__(self, memo: dict) -> dict:
        return {name: copy_field(field, memo) for name, field in self.items()}


class RowForm(VersionedForm):
    """One row of the role editor's tables.

    A row left as it was is not saved (BaseModelFormSet.save_existing_objects), so it skips the
    model's validation too, where each check constraint is a query. Changed, new and deleted
    rows are validated in full.

    Every form copies its class's fields (BaseForm.__init__ deep-copies `base_fields`), a
    hundred times per page; most of that was copy.copy()'s general machinery, so the copies are
    made by copy_field() instead.
    """

    default_renderer = DIRECT_RENDERER
    bound_field_class = RowBoundField

    def __init__(self, *args, **kwargs):
        self.base_fields = RowFields(type(self).base_fields)  # read (and deep-copied) by BaseForm.__init__
        super().__init__(*args, **kwargs)

    @cached_property
    def changed_data(self) -> list[str]:
        # VersionedForm's, worked out once: the formset, the admin and the service each ask every row.
        return VersionedForm.changed_data.fget(self)

    def _post_clean(self) -> None:
        if self.instance.pk is not None and not self.has_changed():
            return
        super()._post_clean()


class RowPkField(ModelChoiceField):
    """A posted row's hidden primary key, found among the rows its formset loaded.

    Django's field looks each one up with a query of its own. A key that is not among the
    formset's rows (deleted meanwhile, or a crafted POST) is still looked up, and refused, as
    Django's field does.
    """

    @classmethod
    def replacing(cls, field: ModelChoiceField, formset: BaseInlineFormSet) -> RowPkField:
        """`field` (the key field BaseModelFormSet.add_fields() made for the row), as a RowPkField of `formset`."""
        row_field = cls.__new__(cls)
        row_field.__dict__.update(field.__dict__)  # its queryset, widget and initial value: a field made a moment ago
        row_field.formset = formset
        return row_field

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            row = self.formset._existing_object(self.queryset.model._meta.pk.to_python(value))
        except ValidationError:  # not a key at all: refused below as "not one of the available choices"
            row = None
        return row if row is not None else super().to_python(value)


class RowFormSet(BaseInlineFormSet):
    """The rows of one of the role editor's tables.

    A posted row's key is resolved without a query (RowPkField), and the empty form (the model
    for new rows, which the admin asks for half a dozen times per page) is built once.
    """

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        name = self._pk_field.name
        if form.is_bound and self._pk_field != self.fk and isinstance(form.fields.get(name), ModelChoiceField):
            form.fields[name] = RowPkField.replacing(form.fields[name], self)

    @cached_property
    def empty_form(self):
        return super().empty_form


def alias_key(value: str) -> str:
    """An alias as the (role, lower(alias)) constraint compares it: white space collapsed, case ignored."""
    return normalize_space(value).lower()


class AliasInlineFormSet(RowFormSet):
    """The role form's aliases: a duplicate within the role is an error on its row, not an IntegrityError.

    An inline form leaves out its parent key, so Django skips the (role, lower(alias)) constraint
    and the database would refuse the save. Rows are checked against each other and against the
    role's stored aliases: a row's new alias may not be one that another row keeps (or one that
    another row holds until this save, since rows are saved one at a time), unless that row is
    being deleted (deletions are saved first).
    """

    def clean(self) -> None:
        """Add an "alias" error to each row whose alias the role would then hold twice."""
        super().clean()
        deleted_forms = self.deleted_forms  # a property that checks every row again each time it is read
        deleted = {form.instance.pk for form in deleted_forms if form.instance.pk}
        # What the role holds now, row by row (rows not shown in the form included).
        stored = {}
        if self.instance.pk is not None:
            stored = {
                pk: alias_key(alias)
                for pk, alias in TitleAlias.objects.filter(role=self.instance).order_by().values_list("pk", "alias")
                if pk not in deleted
            }
        rows = [
            form for form in self.forms
            if form not in deleted_forms and form.cleaned_data.get("alias") and not form.errors.get("alias")
        ]
        wanted: dict[str, list] = {}
        for form in rows:
            wanted.setdefault(alias_key(form.cleaned_data["alias"]), []).append(form)
        for form in rows:
            key, pk = alias_key(form.cleaned_data["alias"]), form.instance.pk
            if stored.get(pk) == key:
                continue  # unchanged: a row that now collides with it carries the error
            held_elsewhere = any(other_pk != pk and other_key == key for other_pk, other_key in stored.items())
            if held_elsewhere or len(wanted[key]) > 1:
                form.add_error("alias", self.duplicate_message(form.cleaned_data["alias"], held_elsewhere))

    @staticmethod
    def duplicate_message(alias: str, stored: bool) -> str:
        if stored:
            return (f"This role already has the alias “{alias}” (aliases are compared ignoring case and extra "
                    "spaces). To swap two aliases, rename one to something else first and save.")
        return (f"“{alias}” is on more than one row of this role (aliases are compared ignoring case and "
                "extra spaces).")


class RoleEditorTable(helpers.InlineAdminFormSet):
    """One of the role editor's lists: Django's InlineAdminFormSet, with its header and rows written in Python.

    templates/admin/roles/tabular_inline.html draws the table around `head` and `rows`: they
    are admin/edit_inline/tabular.html's, with two differences. Hidden inputs (the row's
    version) sit beside its key in the first cell instead of in a hidden column of their own,
    and the hidden parent key is left out: an inline's foreign key field takes the formset's
    parent when none is posted. The cells are Django's own: the BoundField of an input (see
    RowBoundField), the admin's display of a read-only field, taken from the row's form by name
    (Django's fieldset, line and field wrappers add nothing to a table row). `media` is the
    formset's, once, instead of once per row.
    """

    @classmethod
    def of(cls, inline_admin_formset: helpers.InlineAdminFormSet) -> RoleEditorTable:
        """The same formset, fields and permissions, as a RoleEditorTable."""
        table = cls.__new__(cls)
        table.__dict__.update(vars(inline_admin_formset))
        return table

    @property
    def media(self):
        # Every row is the same form: the formset's media (its first form's) stands for all of them.
        return self.opts.media + self.formset.media

    @cached_property
    def explicit_pk(self) -> bool:
        """Whether rows carry their key in a hidden input (as InlineAdminForm.needs_explicit_pk_field: all alike)."""
        any_row = helpers.InlineAdminForm(self.formset, self.formset.empty_form, self.fieldsets, {}, None)
        return any_row.needs_explicit_pk_field()

    @cached_property
    def columns(self) -> list:
        """The fields of a row, in order, as InlineFieldset lists them (the parent key left out)."""
        fk = getattr(self.formset, "fk", None)
        return [name for name in flatten_fieldsets(self.fieldsets) if not fk or name != fk.name]

    def head(self) -> str:
        """The header row: admin/edit_inline/tabular.html's, without columns for hidden inputs."""
        parts = ['<tr><th class="original"></th>']
        help_icon = None
        for field in self.fields():
            widget = field["widget"]  # a read-only field's is a dict
            if widget["is_hidden"] if isinstance(widget, dict) else widget.is_hidden:
                continue
            parts.append(f'<th class="column-{field["name"]}{" required" if field["required"] else ""}">'
                         f'{shown(capfirst(field["label"]))}')
            if field["help_text"]:
                help_icon = help_icon or escape(static("admin/img/icon-unknown.svg"))
                help_text = escape(strip_tags(field["help_text"]))
                parts.append(f' <img src="{help_icon}" class="help help-tooltip" width="10" height="10"'
                             f' alt="({help_text})" title="{help_text}">')
            parts.append("</th>")
        deletable = self.formset.can_delete and self.has_delete_permission
        parts.append(f"<th>{gettext('Delete?') if deletable else ''}</th></tr>")
        return SafeString("".join(parts))

    def rows(self) -> str:
        """The body's rows (the empty row that "Add another" copies last, when rows may be added)."""
        admin_forms = list(self)
        last = len(admin_forms) - 1
        return SafeString("\n".join(self.row(admin_form, index, empty=index == last and self.has_add_permission)
                                    for index, admin_form in enumerate(admin_forms)))

    def row(self, admin_form: helpers.InlineAdminForm, index: int, empty: bool) -> str:
        """One row: its errors, its first cell (caption, key, hidden inputs), a cell per column, the delete cell."""
        parts = []
        if NON_FIELD_ERRORS in admin_form.form.errors:
            errors = admin_form.form.non_field_errors()
            parts.append(f'<tr class="row-form-errors"><td colspan="{cell_count(admin_form)}">{errors}</td></tr>')
        has_original = bool(admin_form.original or admin_form.show_url)
        parts.append(
            f'<tr class="form-row {"has_original" if has_original else ""}{" empty-form" if empty else ""}"'
            f' id="{self.formset.prefix}-{"empty" if empty else index}"><td class="original">'
        )
        if has_original:
            parts.append(f"<p>{self.caption(admin_form)}</p>")
        if self.explicit_pk:
            parts.append(str(admin_form.form[self.formset._pk_field.name]))
        cells = []
        for name in self.columns:
            if name in admin_form.readonly_fields:
                cells.append(self.readonly_cell(admin_form.form, name))
            else:
                bound = admin_form.form[name]
                if bound.is_hidden:
                    parts.append(str(bound))  # beside the key, as Django puts the key
                else:
                    cells.append(self.cell(bound))
        parts.append("</td>")
        parts.extend(cells)
        parts.append('<td class="delete">')
        if self.formset.can_delete and self.has_delete_permission and admin_form.original:
            parts.append(str(admin_form.deletion_field().field))
        parts.append("</td></tr>")
        return "".join(parts)

    def readonly_cell(self, form, name) -> str:
        """A read-only field's cell, as the admin shows it (AdminReadonlyField); "" for a hidden field.

        A model field's display is a function of its value alone (the same choices, the same
        date format, "-" for nothing), so each value's is worked out once per table: a list of
        aliases shows "Pending" and "-" for most of its rows. Related objects and the inline's
        own display methods are looked up row by row.
        """
        key = None
        if name in self.plain_fields:
            value = getattr(form.instance, self.plain_fields[name])
            if value is None or not self.model_fields[name].is_relation:
                key = (name, value)
                if key in self.shown:
                    return self.shown[key]
        field = self.readonly_fields_by_name.get(name)
        if field is None:
            field = self.readonly_fields_by_name[name] = helpers.AdminReadonlyField(
                form, name, is_first=False, model_admin=self.opts)
        field.form = form  # what it shows is the row's: its label and help are the column's
        css = field.field["name"]
        cell = "" if field.field["is_hidden"] else (
            f'<td class="{f"field-{css}" if css else ""}"><p>{field.contents()}</p></td>')
        if key is not None:
            try:
                self.shown[key] = cell
            except TypeError:  # an unhashable value: shown, not kept
                pass
        return cell

    @cached_property
    def readonly_fields_by_name(self) -> dict:
        """One AdminReadonlyField per read-only column, pointed at each row's form in turn."""
        return {}

    @cached_property
    def shown(self) -> dict:
        """Read-only cells already written, by (field name, value)."""
        return {}

    @cached_property
    def model_fields(self) -> dict:
        """The row model's fields among the columns, by name."""
        opts = self.formset.model._meta
        found = {}
        for name in self.columns:
            if isinstance(name, str):
                try:
                    found[name] = opts.get_field(name)
                except FieldDoesNotExist:
                    pass
        return found

    @cached_property
    def plain_fields(self) -> dict:
        """Read-only model fields whose display depends on their value only: name → attribute holding it.

        Not a form's field (a read-only widget of its own draws those), and a concrete column
        (a foreign key's value is its id: None shows "-", anything else is looked up).
        """
        form_fields = self.formset.empty_form.fields
        return {name: field.attname for name, field in self.model_fields.items()
                if name not in form_fields and getattr(field, "attname", None) and field.concrete
                and not field.many_to_many}

    def caption(self, admin_form: helpers.InlineAdminForm) -> str:
        """The line above a saved row: the item as text, and the links the inline asks for."""
        parts, original, inline = [], admin_form.original, admin_form.model_admin
        if original:
            parts.append(escape(original))
            if inline.show_change_link and inline.has_registered_model:
                opts = inline.opts
                url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(original.pk)],
                              current_app=inline.admin_site.name)
                css, text = ("inlinechangelink", gettext("Change")) if self.has_change_permission else (
                    "inlineviewlink", gettext("View"))
                parts.append(f' <a href="{escape(url)}" class="{css}">{text}</a>')
        if admin_form.show_url:
            parts.append(f' <a href="{escape(admin_form.absolute_url)}">{gettext("View on site")}</a>')
        return "".join(parts)

    @staticmethod
    def cell(bound: BoundField) -> str:
        """An input's cell: its errors, then the input."""
        errors = bound.errors.as_ul() if bound.name in bound.form.errors else ""
        return f'<td class="field-{bound.name}">{errors}{bound}</td>'


def fieldsets_html(adminform: helpers.AdminForm) -> str:
    """The role's own fields: admin/includes/fieldset.html for each fieldset, as change_form.html includes it.

    Written in Python, without the white space between tags (admin/roles/role/change_form.html):
    the template's lookups cost the role editor more than all the inputs they draw.
    """
    parts = []
    for index, fieldset in enumerate(adminform):
        heading = f"fieldset-0-{index}-heading"
        parts.append(f'<fieldset class="module aligned {escape(fieldset.classes)}"'
                     f'{f" aria-labelledby={chr(34)}{heading}{chr(34)}" if fieldset.name else ""}>')
        collapsible = bool(fieldset.name) and fieldset.is_collapsible
        if fieldset.name:
            parts.append(f'{"<details><summary>" if collapsible else ""}<h2 id="{heading}" class="fieldset-heading">'
                         f'{shown(fieldset.name)}</h2>{"</summary>" if collapsible else ""}')
        if fieldset.description:
            parts.append(f'<div class="description">{fieldset.description}</div>')
        for line in fieldset:
            parts.append(fieldline_html(line))
        parts.append(f'{"</details>" if collapsible else ""}</fieldset>')
    return SafeString("".join(parts))


def fieldline_html(line: helpers.Fieldline) -> str:
    """One line of a fieldset (one field or several side by side), as admin/includes/fieldset.html writes it."""
    fields = list(line)
    single = len(line.fields) == 1
    errors = line.errors() if single else ""
    css = ["form-row"]
    if errors:
        css.append(" errors")
    if not line.has_visible_field:
        css.append(" hidden")
    css.extend(f" field-{name}" for name in map(field_name, fields) if name)
    parts = [f'<div class="{"".join(css)}">', errors if single else '<div class="flex-container form-multiline">']
    for field in fields:
        name, hidden = field_name(field), field_attribute(field, "is_hidden")
        field_errors = "" if field.is_readonly else field.errors()
        box = ["flex-container"]
        if not single:
            box.append(" fieldBox")
            if name:
                box.append(f" field-{name}")
            if field_errors:
                box.append(" errors")
            if hidden:
                box.append(" hidden")
        if field.is_checkbox:
            box.append(" checkbox-row")
        parts.append(f'<div>{field_errors if not single else ""}<div class="{"".join(box)}">')
        if field.is_checkbox:
            parts.append(f"{field.field}{field.label_tag()}")
        elif field.is_readonly:
            parts.append(f'{field.label_tag()}<div class="readonly">{field.contents()}</div>')
        else:
            parts.append(f"{field.label_tag()}{field.field}")
        parts.append("</div>")
        help_text = field_attribute(field, "help_text")
        if help_text:
            label_id = field_attribute(field, "id_for_label")
            help_id = f' id="{label_id}_helptext"' if label_id else ""
            parts.append(f'<div class="help{" hidden" if hidden else ""}"{help_id}><div>{help_text}</div></div>')
        parts.append("</div>")
    if not single:
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def field_attribute(field: helpers.AdminField | helpers.AdminReadonlyField, name: str):
    """`field.field.<name>` as a template reads it: a BoundField's attribute, a read-only field's key ("" if none)."""
    if field.is_readonly:
        return field.field.get(name, "")
    return getattr(field.field, name)


def field_name(field: helpers.AdminField | helpers.AdminReadonlyField) -> str:
    return field_attribute(field, "name")
