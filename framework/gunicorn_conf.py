"""gunicorn's settings for `make serve` (`gunicorn -c python:framework.gunicorn_conf framework.wsgi`).

Every value comes from the environment: WEB_CONCURRENCY workers (default 2 × cores + 1),
ROLEBOOK_BIND (default 127.0.0.1:8000), GUNICORN_TIMEOUT seconds (default 120: a large card
upload is one request). gunicorn's own lines are JSON like Django's; its access log stays off,
since framework.requestlog writes one richer line per request.
"""

import multiprocessing
import os

from framework.logging import logging_config


def default_workers() -> int:
    """2 × cores + 1, gunicorn's advice for sync workers."""
    return 2 * multiprocessing.cpu_count() + 1


wsgi_app = "framework.wsgi:application"
bind = [address.strip() for address in os.environ.get("ROLEBOOK_BIND", "127.0.0.1:8000").split(",") if address.strip()]
workers = int(os.environ.get("WEB_CONCURRENCY") or default_workers())
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
# Recycle workers now and then, so a slow leak in any library never grows without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# The proxy in front sets X-Forwarded-Proto; Django reads it (SECURE_PROXY_SSL_HEADER), gunicorn need not.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = None
logconfig_dict = logging_config(os.environ.get("DJANGO_LOG_LEVEL", "INFO"))
# gunicorn's own loggers get the JSON handler too (configuring them replaces their plain-text handlers).
logconfig_dict["loggers"].update({
    "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
})
# gunicorn's control socket (gunicornc) lives in $HOME by default, one path for every gunicorn of the
# user: several servers on one host (tests, the load test) would share it. Off unless a path is given.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]


def post_worker_init(worker) -> None:
    """Once the worker has loaded Django: keep the collector off its long-lived objects (framework/memory.py)."""
    from framework.memory import freeze_long_lived

    freeze_long_lived()
