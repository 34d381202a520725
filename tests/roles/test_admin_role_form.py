"""The role editor (RoleAdmin's change form) at the size curators work at: bytes, queries, markup, checks.

A role with 40 components and 55 aliases is a typical one (the demo generator's default). The
page draws a hundred rows and more; what it costs per row is what it costs. Time is measured by
`bench cost`; here the counts that decide it: bytes, and queries that do not grow with the rows.
"""

import copy
import re
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import get_default_renderer
from django.urls import reverse

from demo.generator import generate_demo
from roles.models import Component, Role, TitleAlias
from tests.admin_forms import change_form_data
from tests.factories import (
    ClassificationMappingFactory,
    ComponentFactory,
    RoleFactory,
    TitleAliasFactory,
    UserFactory,
    curator,
    reviewer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_role(reference_soc, groups) -> Role:
    """A role as the demo generator makes them: 40 components, 55 aliases, its mapping."""
    generate_demo(roles=1, aliases_per_role=55, components_per_role=40, seed=42,
                  actor=UserFactory(username="demo-maker"))
    return Role.objects.get()


def role_with(rows: int) -> Role:
    """A role with `rows` components of each kind, 5 × `rows` aliases and `rows` mappings."""
    role = RoleFactory()
    for kind in Component.Kind.values:
        for i in range(rows):
            ComponentFactory(role=role, kind=kind, text=f"{kind} {i}", position=i)
    for _ in range(5 * rows):
        TitleAliasFactory(role=role)
    for _ in range(rows):
        ClassificationMappingFactory(role=role)
    return role


def change_url(role: Role) -> str:
    return reverse("admin:roles_role_change", args=[role.pk])


# -- size -----------------------------------------------------------------------------------------


def test_the_editor_of_a_role_with_40_components_and_55_aliases_stays_under_150_kb(curator_client, demo_role):
    response = curator_client.get(change_url(demo_role))
    content = response.content.decode()
    assert response.status_code == 200
    # Every row is there, editable.
    assert len(re.findall(r'<textarea name="components-\w+-\d+-text"', content)) == 40
    assert len(re.findall(r'<input type="text" name="aliases-\d+-alias"', content)) == 55
    assert len(response.content) <= 150_000, f"{len(response.content):,} bytes"


# -- queries --------------------------------------------------------------------------------------

# Queries of the role editor as a curator, the same at N and 2N rows per list:
#   session, user, SAVEPOINT (ATOMIC_REQUESTS), the role with its node, family and level, user
#   permissions, group permissions, the components (one query for the six lists), the aliases
#   with who decided them, the mappings with their occupation and who decided them, RELEASE
#   SAVEPOINT, the header's notifications (unread count, latest), and the autocomplete widgets'
#   selected node and level.
EDITOR_GET_QUERIES = 14
# Saving the unchanged form with a reason: session, user, SAVEPOINT twice (the request's
#   transaction, the admin's own), the role, user and group permissions, the node and the level
#   the form posts (looked up by the form's fields, then checked to exist by the model's: four),
#   the role's code against its format (the check constraint: SAVEPOINT, the check, RELEASE) and
#   for uniqueness, the components (one query for the six lists), the aliases, the aliases stored
#   for the role (AliasInlineFormSet's duplicate check), the mappings, the role's service call
#   with nothing to write (SAVEPOINT, RELEASE), the admin log entry ("No fields changed."),
#   RELEASE SAVEPOINT twice. No query per row: a posted row's key is found among the rows loaded,
#   and an unchanged row skips the model's checks.
EDITOR_POST_QUERIES = 24


@pytest.mark.parametrize("rows", [2, 4])
def test_opening_the_editor_costs_the_same_queries_however_many_rows(
    django_assert_num_queries, curator_client, rows
):
    role = role_with(rows)
    curator_client.get(change_url(role))  # warm the content-type cache
    with django_assert_num_queries(EDITOR_GET_QUERIES):
        response = curator_client.get(change_url(role))
    assert response.status_code == 200
    assert content_rows(response) == 6 * rows + 5 * rows + rows


@pytest.mark.parametrize("rows", [2, 4])
def test_saving_the_unchanged_editor_costs_the_same_queries_however_many_rows(
    django_assert_num_queries, curator_client, rows
):
    role = role_with(rows)
    data = change_form_data(curator_client.get(change_url(role)), change_reason="just looking")
    with django_assert_num_queries(EDITOR_POST_QUERIES):
        response = curator_client.post(change_url(role), data)
    assert response.status_code == 302, response.context and response.context["errors"]


def content_rows(response) -> int:
    """The saved rows the page shows (the empty rows new ones are made from left out)."""
    return len(re.findall(r'<tr class="form-row has_original"', response.content.decode()))


# -- checks ---------------------------------------------------------------------------------------


def test_a_changed_row_is_checked_by_its_model(curator_client, groups):
    """ClassificationMapping.clean() refuses a code that is not a SOC code: only the model checks that."""
    role = role_with(1)
    page = curator_client.get(change_url(role))
    data = change_form_data(page, change_reason="typo in the code", **{"mappings-0-code": "15-12"})
    response = curator_client.post(change_url(role), data)
    assert response.status_code == 200
    formset = next(f.formset for f in response.context["inline_admin_formsets"] if f.formset.prefix == "mappings")
    assert "is not a SOC code" in str(formset.forms[0].errors)
    assert role.mappings.get().code != "15-12"


def test_a_row_deleted_after_the_page_was_opened_is_refused_and_nothing_is_saved(curator_client, groups):
    """A posted key that is not among the role's rows is looked up as Django's field does, and refused."""
    role = role_with(1)
    page = curator_client.get(change_url(role))
    alias = role.aliases.order_by("pk").first()
    data = change_form_data(page, change_reason="retitle", title="Renamed role")
    TitleAlias.objects.filter(pk=alias.pk).delete()
    response = curator_client.post(change_url(role), data)
    assert response.status_code == 200
    role.refresh_from_db()
    assert role.title != "Renamed role"


def test_a_new_row_needs_no_parent_key(curator_client, groups):
    """The rows do not carry the role's key (the formset knows its role): a row added in the browser saves on it."""
    role = role_with(1)
    page = curator_client.get(change_url(role))
    assert 'name="components-skill-__prefix__-role"' not in page.content.decode()
    data = change_form_data(page, change_reason="one more skill")
    data.update({"components-skill-1-position": "5", "components-skill-1-text": "Reads contracts",
                 "components-skill-1-prevalence": "common", "components-skill-1-scope": "level",
                 "components-skill-TOTAL_FORMS": "2"})
    response = curator_client.post(change_url(role), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    added = role.components.get(text="Reads contracts")
    assert (added.kind, added.position) == ("skill", 5)


def test_a_refused_row_points_its_input_at_its_error(curator_client, groups):
    role = role_with(1)
    page = curator_client.get(change_url(role))
    response = curator_client.post(change_url(role), change_form_data(page, change_reason="more sure",
                                                                      **{"aliases-0-confidence": "1.5"}))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="id_aliases-0-confidence_error"' in content
    field = re.search(r'<input type="number" name="aliases-0-confidence"[^>]*>', content).group()
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="id_aliases-0-confidence_error"' in field
    assert 'id="id_aliases-0-confidence"' in field


# -- markup ---------------------------------------------------------------------------------------


def test_every_list_keeps_what_the_admin_scripts_and_screen_readers_need(curator_client, demo_role):
    content = curator_client.get(change_url(demo_role)).content.decode()
    for prefix in [*(f"components-{kind}" for kind in Component.Kind.values), "aliases", "mappings"]:
        group = re.search(rf'<div class="js-inline-admin-formset inline-group" id="{prefix}-group".*?</table>',
                          content, re.S)
        assert group, prefix
        table = group.group()
        assert f'data-inline-formset="{{&quot;name&quot;: &quot;#{prefix}&quot;' in table
        assert f'<tr class="form-row  empty-form" id="{prefix}-empty">' in table  # what "Add another" copies
        header = re.search(r"<thead><tr>(.*?)</tr></thead>", table).group(1)
        for row in re.findall(r'<tr class="form-row[^"]*" id="[^"]+">(.*?)</tr>', table):
            assert row.count("<td") == header.count("<th"), (prefix, row)  # a cell under every heading
            assert re.search(r'<td class="delete">[^<]*(<input[^>]*>)?</td>$', row)  # inlines.js's last cell
            for control in re.findall(r"<(?:input|select|textarea)\b[^>]*>", row):
                if 'type="hidden"' not in control:
                    assert "aria-label=" in control, control
        assert 'aria-describedby="' not in table  # no pointer to help text that is in the header, not here


def test_a_reviewer_sees_every_row_read_only(client, groups):
    role = role_with(1)
    client.force_login(reviewer())
    content = client.get(change_url(role)).content.decode()
    alias = role.aliases.order_by("pk").first()
    assert f'<td class="field-alias"><p>{alias.alias}</p></td>' in content
    assert 'name="aliases-0-alias"' not in content


# -- the parts that write what Django's templates would ---------------------------------------------


class Widgets(forms.Form):
    text = forms.CharField(max_length=20, widget=forms.TextInput(attrs={"aria-label": 'A "quoted" <label>'}))
    number = forms.DecimalField(widget=forms.NumberInput(attrs={"step": "0.01", "min": 0}))
    area = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 70}))
    choice = forms.ChoiceField(choices=[("a", "Plain"), ("Group", [("b", "B & <b>"), ("c", "C")])])
    flag = forms.BooleanField(widget=forms.CheckboxInput(attrs={"data-x": True, "data-off": False}))
    hidden = forms.IntegerField(widget=forms.HiddenInput)


@pytest.mark.parametrize("name", ["text", "number", "area", "choice", "flag", "hidden"])
@pytest.mark.parametrize("value", ["x & <y>", "b", Decimal("0.50"), True, None])
def test_the_direct_renderer_writes_what_the_widget_templates_write(name, value):
    from roles.forms import DIRECT_RENDERER

    django, direct = Widgets(initial={name: value}), Widgets(initial={name: value}, renderer=DIRECT_RENDERER)
    expected = str(django[name])
    if name == "choice":
        expected = re.sub(r">\s+<", "><", expected)  # the select template puts options on lines of their own
    assert str(direct[name]) == expected
    assert direct[name].label_tag() == django[name].label_tag()


def test_an_error_list_is_written_by_its_template_and_an_empty_one_is_nothing():
    from roles.forms import DIRECT_RENDERER

    django = Widgets(data={})
    direct = Widgets(data={}, renderer=DIRECT_RENDERER)
    assert str(direct["text"].errors) == str(django["text"].errors) != ""
    assert str(Widgets(renderer=DIRECT_RENDERER)["text"].errors) == ""
    assert get_default_renderer().render("django/forms/errors/list/ul.html", {"errors": []}) == ""


def test_a_row_form_gets_its_own_copies_of_its_fields_as_deepcopy_makes_them():
    from roles.forms import RowFields

    fields = RowFields(Widgets.base_fields)
    copied, deep = copy.deepcopy(fields), copy.deepcopy(dict(Widgets.base_fields))
    for name, field in Widgets.base_fields.items():
        ours, django = copied[name], deep[name]
        assert type(ours) is type(field) and type(ours.widget) is type(field.widget)
        assert ours is not field and ours.widget is not field.widget
        assert vars(ours).keys() == vars(django).keys()
        assert vars(ours.widget).keys() == vars(django.widget).keys()
        assert ours.widget.attrs == field.widget.attrs and ours.widget.attrs is not field.widget.attrs
        assert ours.error_messages == field.error_messages and ours.error_messages is not field.error_messages
        assert ours.validators == field.validators and ours.validators is not field.validators
    assert copied["choice"].choices == Widgets.base_fields["choice"].choices
    assert copied["choice"].widget.choices is not Widgets.base_fields["choice"].widget.choices
    copied["text"].widget.attrs["class"] = "changed"
    assert "class" not in Widgets.base_fields["text"].widget.attrs


class RowWidgets(Widgets):
    """The widgets above, in a row form's fields (RowBoundField) and renderer."""

    def __init__(self, *args, **kwargs):
        from roles.forms import DIRECT_RENDERER, RowBoundField

        super().__init__(*args, renderer=DIRECT_RENDERER, **kwargs)
        self.bound_field_class = RowBoundField
        self.fields["text"].disabled = True
        self.fields["number"].localize = True


def without_ids(html: str) -> str:
    """Django's markup less what an unbound row leaves out: ids, and pointers to help text not beside it."""
    return re.sub(r' (id|aria-describedby)="[^"]*"', "", html)


@pytest.mark.parametrize("required", [True, False])
@pytest.mark.parametrize("name", ["text", "number", "area", "choice", "flag", "hidden"])
def test_an_unbound_row_writes_its_inputs_as_django_does_less_the_ids(name, required):
    django, row = Widgets(initial={name: "5"}), RowWidgets(initial={name: "5"})
    django.fields["text"].disabled = True
    django.fields["number"].localize = True
    for form in (django, row):
        form.fields[name].required = required
        form.use_required_attribute = required
        form.fields[name].help_text = "Some help"
    expected = without_ids(str(django[name]))
    if name == "choice":
        expected = re.sub(r">\s+<", "><", expected)
    assert str(row[name]) == expected


def test_a_bound_row_keeps_its_ids_for_its_errors():
    row = RowWidgets(data={"number": "x"})
    assert 'id="id_number"' in str(row["number"]) and 'aria-describedby="id_number_error"' in str(row["number"])


@pytest.mark.parametrize("who", ["curator", "reviewer"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_role_fields_are_written_as_the_admin_fieldset_template_writes_them(client, groups, who, method):
    from django.template.loader import render_to_string

    from roles.forms import fieldsets_html

    role = role_with(1)
    client.force_login(curator() if who == "curator" else reviewer())
    response = client.get(change_url(role))
    if method == "POST" and who == "curator":  # a refused save: the errors are drawn too
        data = change_form_data(response, change_reason="", title="", headline="x" * 5)
        response = client.post(change_url(role), data)
        assert response.status_code == 200
    adminform = response.context["adminform"]
    expected = "".join(
        render_to_string("admin/includes/fieldset.html", {"fieldset": fieldset, "heading_level": 2,
                                                          "prefix": "fieldset", "id_prefix": 0, "id_suffix": i})
        for i, fieldset in enumerate(adminform)
    )

    def tidy(html):
        return re.sub(r">\s+<", "><", html).strip()

    assert tidy(fieldsets_html(adminform)) == tidy(expected)
    assert tidy(fieldsets_html(adminform)) in tidy(response.content.decode())
