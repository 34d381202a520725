"""The collector is kept off the long-lived objects of a loaded worker (framework/memory.py)."""

import gc

import pytest

from framework import gunicorn_conf
from framework.memory import compile_templates, freeze_long_lived


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freeze_moves_the_loaded_app_out_of_the_collectors_reach(unfrozen):
    assert gc.get_freeze_count() == 0
    freeze_long_lived()
    # Every module, URL pattern and view loaded so far is frozen: tens of thousands of objects.
    assert gc.get_freeze_count() > 10_000
    # A full collection now walks only what was made since: far fewer objects than were frozen.
    assert len(gc.get_objects()) < gc.get_freeze_count()


def test_gunicorn_freezes_each_worker_once_it_is_loaded(unfrozen, monkeypatch):
    calls = []
    monkeypatch.setattr("framework.memory.freeze_long_lived", lambda: calls.append(True))
    gunicorn_conf.post_worker_init(worker=None)
    assert calls == [True]


def test_every_project_template_is_compiled_before_the_freeze(settings):
    from django.template import engines

    assert compile_templates() > 100  # the admin's and Rolebook's
    cached = engines["django"].engine.template_loaders[0]
    names = {key.split("-")[0] for key in cached.get_template_cache}
    assert {"review/alias_queue.html", "review/mapping_queue.html", "admin/change_list.html"} <= names
