"""Build the POST an admin change page would send, from the page's own forms."""


def _initial(form) -> dict:
    data = {}
    for name in form.fields:
        bound = form[name]
        value = bound.value()
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                data[form.add_prefix(name)] = "on"
            continue
        data[form.add_prefix(name)] = value if isinstance(value, list) else str(value)
    return data


def change_form_data(response, **overrides) -> dict:
    """Return the data of an unchanged submit of the admin change page in `response`."""
    data = _initial(response.context["adminform"].form)
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        data.update(_initial(formset.management_form))
        for form in formset.forms:
            data.update(_initial(form))
    data.update(overrides)
    return data
