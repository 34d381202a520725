"""Benchmarks: production-like (DEBUG off), on a throwaway database.

SQLite by default (a file under .bench/); DATABASE_URL selects PostgreSQL, where each
benchmark creates and drops its own test database.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-insecure-key")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")  # required by base.py

from framework.env import share  # noqa: E402

from .base import *  # noqa: E402,F403
from .base import BASE_DIR, DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["NAME"] = str(BASE_DIR / ".bench" / "bench.sqlite3")
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".bench" / "bench.sqlite3")}
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False}
# No collectstatic before the in-process benchmarks (bench load runs the real stack: base settings).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

# Double-blind samples are drawn at random: none here, so every benchmark decides what it says it
# decides and runs compare. bench/bench_samples.py switches them on where it measures them.
REVIEW_SAMPLE_SHARE = share("REVIEW_SAMPLE_SHARE", "0")

# The in-process benchmarks start no task worker: jobs run right after their commit, in process.
ROLEBOOK_TASKS = "immediate"
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
