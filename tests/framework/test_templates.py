"""The project's templates: every one that is a whole HTML document names its language."""

import re
from pathlib import Path

from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def test_every_whole_html_template_has_a_lang_from_the_current_language():
    documents = {
        path.relative_to(TEMPLATES).as_posix(): re.findall(r"<html\b[^>]*>", path.read_text(encoding="utf-8"))
        for path in TEMPLATES.rglob("*.html")
    }
    documents = {name: tags for name, tags in documents.items() if tags}
    # The pages that do not extend base.html (whose admin parent writes <html lang=…> itself).
    assert {"500.html", "drf_spectacular/redoc.html", "drf_spectacular/swagger_ui.html"} <= set(documents)
    for name, tags in documents.items():
        assert tags == ['<html lang="{{ LANGUAGE_CODE }}">'], f"{name}: {tags}"
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        assert "{% get_current_language as LANGUAGE_CODE %}" in text, name
