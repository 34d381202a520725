"""Keep the garbage collector off the request path's long-lived objects.

A Django process holds a few hundred thousand long-lived objects (modules, URL patterns,
templates, model metadata) that CPython's cyclic collector walks again at every full
collection. On a list page those collections came every ten or so requests and doubled that
request's time: the p95 was twice the p50 on every page, at any size of data. `gc.freeze()`
(Python 3.7+) moves what exists now into a generation the collector never walks, so a full
collection walks only what requests have made since. Call it once the app is loaded: it first
imports every view and compiles every template, as the first requests would. gunicorn does
(framework/gunicorn_conf.py's `post_worker_init`), and so does `bench scale`.
"""

import gc
from pathlib import Path


def compile_templates() -> int:
    """Compile every HTML template of the project and the apps (the admin's too) into the cached loader."""
    from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
    from django.template.loader import get_template
    from django.template.utils import get_app_template_dirs

    directories = [Path(d) for engine in engines.all() for d in getattr(engine, "dirs", [])]
    directories += [Path(d) for d in get_app_template_dirs("templates")]
    names = {path.relative_to(d).as_posix() for d in directories for path in d.rglob("*.html")}
    compiled = 0
    for name in sorted(names):
        try:
            get_template(name)
        except (TemplateDoesNotExist, TemplateSyntaxError):
            continue  # a fragment written for another engine: not loaded by requests either
        compiled += 1
    return compiled


def freeze_long_lived() -> None:
    """Load every URLconf, view and template, collect once, then freeze what is left."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every app's urls and views now, not on first request
    compile_templates()
    gc.collect()
    gc.freeze()
