"""Test runs: fast hashing, plain HTTP, DEBUG off as in production."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-insecure-key")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")  # required by base.py

from .base import *  # noqa: E402,F403

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False}

# SQLite tests use a file, as `make run` does: an in-memory database shares one cache and locks
# whole tables, so it would hide how concurrent requests behave on the embedded database.
# One file per test process, so two runs at once never share (and flush) one database.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".pytest-db-{os.getpid()}.sqlite3")}  # noqa: F405

# The Content-Security-Policy is reported, not enforced, on the live-server browser tests: the
# accessibility test injects axe-core as an inline script. tests/browser/test_gunicorn.py checks
# the enforced policy in Chromium against gunicorn with the production settings.
CONTENT_SECURITY_POLICY_REPORT_ONLY = CONTENT_SECURITY_POLICY  # noqa: F405
CONTENT_SECURITY_POLICY = None

# No collectstatic before tests: plain storage, unhashed names (test_serve.py checks the manifest).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

# The coder as the default install runs it, without its semantic extra (which `make test` installs
# for tests/taxonomy/test_coder_semantic.py): one index build of 15 s instead of two minutes.
ROLEBOOK_CODER_SEMANTIC = os.environ.get("ROLEBOOK_CODER_SEMANTIC", "off")

# Derived data (roles.derived) is recomputed inside the writing transaction: most tests never
# commit theirs, and each expects to read the flags of what it just wrote.
ROLEBOOK_DERIVED_REFRESH = "immediate"
# No staticfiles/ before tests: WhiteNoise looks files up per request instead of scanning (and warning) at start-up.
WHITENOISE_AUTOREFRESH = True

# Double-blind samples are drawn at random: off in tests, so a decision moves its item as asked.
# Tests of samples switch them on (share 1.0: every decision is drawn); tests/test_settings.py
# checks the production default.
REVIEW_SAMPLE_SHARE = 0.0

# Jobs run in the test's own process right after the commit (tests/framework/test_tasks.py runs
# the database backend and its worker).
ROLEBOOK_TASKS = "immediate"
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
