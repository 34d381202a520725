"""Local development: DEBUG on, a throwaway key, plain HTTP on localhost."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "dev-only-insecure-key-not-for-production")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")  # required by base.py

from .base import *  # noqa: E402,F403

DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # notifications print here

# `make run` starts no task worker: each job runs in this process right after its commit.
ROLEBOOK_TASKS = "immediate"
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
