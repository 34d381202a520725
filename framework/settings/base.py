"""Production settings. Every deployment value comes from the environment.

dev.py and test.py import from here and relax what a laptop or a test run needs.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

from framework.env import choice, required, share
from framework.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# A missing value stops manage.py and gunicorn with one line naming it and exit status 2 (framework/env.py).
SECRET_KEY = required("DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = [host.strip() for host in required("DJANGO_ALLOWED_HOSTS").split(",") if host.strip()]
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "simple_history",
    "taxonomy",
    "roles",
    "review",
    "publishing",  # releases and the "published" rule the REST API reads
    "notifications",  # in-app and email notifications
    "demo",  # generate_demo and the demo accounts
    "django_tasks",  # the task API (django.tasks from Django 6.0): framework/tasks.py
    "django_tasks_db",  # its database backend: jobs are rows, `manage.py db_worker` runs them
    "axes",  # login lockout (after auth, as django-axes asks)
    "csp",  # Content-Security-Policy's system checks
]

MIDDLEWARE = [
    # /healthz before the host check and HTTPS redirect; then one JSON log line per request.
    "framework.health.HealthCheckMiddleware",
    "framework.requestlog.RequestLogMiddleware",
    # A database locked past its timeout by a long writer (SQLite) is a 503 "busy, retry", never a 500.
    "framework.busy.BusyDatabaseMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, right after SecurityMiddleware
    "framework.security.RolebookCSPMiddleware",  # Content-Security-Policy (django-csp)
    "framework.middleware.RejectNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "framework.audit.ActingUserMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "framework.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "framework.context_processors.site",
                "notifications.context_processors.bell",  # the header's bell (lazy, 2 queries)
            ],
            "libraries": {"rolebook": "framework.templatetags.rolebook"},
        },
    },
]

WSGI_APPLICATION = "framework.wsgi.application"
ASGI_APPLICATION = "framework.asgi.application"

# SQLite is the embedded default; DATABASE_URL selects PostgreSQL (the production database).
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections: a new PostgreSQL connection per request cost 6–16 ms of database
        # CPU. Each gunicorn sync worker holds at most one; docs/deploy.md sizes them
        # against max_connections. The health check replaces a connection that died meanwhile.
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# Every request is one transaction: a tracked save whose history insert fails rolls back whole.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite has no row locks: a transaction that reads and then writes (every decision) must
    # take the write lock up front, so concurrent reviewers queue and the loser sees who
    # decided first instead of "database is locked". Writers wait up to `timeout` seconds.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "/"

# Production hardening (manage.py check --deploy is clean with these).
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# django-simple-history: decided before the first migration (see ../shared/notes/STACK.md).
# Reasons can be long ("card import: <path>"): text, not varchar(100) that PostgreSQL would reject.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
# An admin revert would bypass review; restoring an old version goes back through review instead.
SIMPLE_HISTORY_REVERT_DISABLED = True

# Rolebook domain settings.
# Lower bounds of the confidence bands. The published card prints 0.50..0.70 as "medium".
ROLEBOOK_CONFIDENCE_BANDS = {
    "medium": Decimal(os.environ.get("ROLEBOOK_BAND_MEDIUM", "0.50")),
    "high": Decimal(os.environ.get("ROLEBOOK_BAND_HIGH", "0.80")),
}
# The name in the header of every page, the admin's and the desk's.
ROLEBOOK_SITE_HEADER = "Rolebook"
# The account that management commands and scripts act as when no --as user is given.
ROLEBOOK_SYSTEM_USERNAME = "rolebook-system"
# What that account may do beyond saving: shell access is an operator's, so commands may import
# the review states a published card claims as decisions (Curators and Reviewers may not).
ROLEBOOK_SYSTEM_PERMISSIONS = ["roles.import_decisions"]
# Four-eyes: nobody approves an item they created or last changed, superusers included.
REVIEW_ALLOW_SELF_APPROVAL = env_bool("REVIEW_ALLOW_SELF_APPROVAL", False)

# One JSON object per line on stdout, with the request id (framework/logging.py).
LOGGING = logging_config(os.environ.get("DJANGO_LOG_LEVEL", "INFO"))

# Adjacent roles (roles/adjacency.py; explained on /roles/coordinates/).
# distance = taxonomy weight × tree distance + level weight × level distance, in [0, 1].
# Taxonomy weighs more: a curator reads "same family, one level up" as nearer than
# "same level, another function". Weights are scaled to sum to 1.
ROLEBOOK_ADJACENCY_WEIGHTS = {"taxonomy": 0.6, "level": 0.4}
# Level distance between tracks (P against M) starts at this penalty and grows to 1 with the
# gap in seniority, the rank plus the track's offset: M1 (team manager) sits beside P4 (senior).
ROLEBOOK_ADJACENCY_TRACK_PENALTY = 0.5
ROLEBOOK_ADJACENCY_TRACK_OFFSETS = {"M": 3}
# Upper bounds (exclusive) of the bands, after O*NET's related-occupation tiers:
# close = Primary-Short, related = Primary-Long, distant = Supplemental. Distance 1 is left out.
ROLEBOOK_ADJACENCY_BANDS = {"close": 0.25, "related": 0.5}
# How many neighbours the card page lists.
ROLEBOOK_ADJACENT_ROLES_SHOWN = 10

# Review workflow
# Words that contradict a role's level when they appear in an alias, matched as whole words
# ignoring case: "junior" words on a rank above max_rank, "senior" words on a rank below min_rank.
REVIEW_LEVEL_WORDS = {
    "junior": {
        "words": ["junior", "jr", "entry-level", "entry level", "graduate", "trainee", "i", "1"],
        "max_rank": 1,
    },
    "senior": {"words": ["senior", "sr", "lead", "principal"], "min_rank": 3},
}
# How long a decision's "Undo" stays offered (it reopens the item with the reason "undo").
REVIEW_UNDO_SECONDS = int(os.environ.get("REVIEW_UNDO_SECONDS", "600"))
# Rows per page of the review queues. A mapping row carries the SOC coder's five suggestions and
# the nearest roles' mappings, so its page holds fewer.
REVIEW_PAGE_SIZE = int(os.environ.get("REVIEW_PAGE_SIZE", "50"))
REVIEW_MAPPING_PAGE_SIZE = int(os.environ.get("REVIEW_MAPPING_PAGE_SIZE", "25"))
# "Review next": how many items a reviewer's batch holds, and for how long nobody else gets them.
REVIEW_BATCH_SIZE = int(os.environ.get("REVIEW_BATCH_SIZE", "25"))
REVIEW_LEASE_MINUTES = int(os.environ.get("REVIEW_LEASE_MINUTES", "15"))
# The share of reviewers' decisions drawn for a second, blind review (roles.workflow.samples):
# 0.05 draws one in twenty; 0 switches double-blind samples off.
REVIEW_SAMPLE_SHARE = share("REVIEW_SAMPLE_SHARE", "0.05")
# A SOC coder suggestion scored under this is shown as evidence only: no "Refine to" or "Replace
# with" is offered for it (a 0.00 code is no reason to change a mapping).
REVIEW_CODER_MIN_SCORE = float(os.environ.get("REVIEW_CODER_MIN_SCORE", "0.10"))
# Lists count matching rows up to this many, then say "more than N" (a count that stays cheap).
ROLEBOOK_COUNT_CAP = int(os.environ.get("ROLEBOOK_COUNT_CAP", "1000"))
# Derived data (roles.derived: alias flags, role digests) is recomputed after each write commits.
ROLEBOOK_DERIVED_REFRESH = "on_commit"

# Work after a commit runs on a task queue (framework/tasks.py). ROLEBOOK_TASKS=database (the
# default): jobs are rows in the database, written in the writer's transaction, and a worker
# runs them (`manage.py db_worker`; `make serve` starts one beside gunicorn, and any host with
# the same DATABASE_URL may run more). ROLEBOOK_TASKS=immediate runs each job in the process
# that enqueued it, right after the commit: `make run` and the tests, with nothing else to start.
ROLEBOOK_TASKS = choice("ROLEBOOK_TASKS", "database", ("database", "immediate"))
TASKS = {"default": {"BACKEND": {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}[ROLEBOOK_TASKS]}}

# SOC coder (taxonomy/coder.py): where `manage.py build_coder` stores its index, rebuilt when the
# reference files change (the index is keyed on their hash).
ROLEBOOK_CODER_PATH = Path(os.environ.get("ROLEBOOK_CODER_PATH", BASE_DIR / "var" / "coder"))
# The reference files the coder learns from (and the alias queue's official titles come from).
ROLEBOOK_CODER_REFERENCE_DIR = BASE_DIR / "fixtures" / "reference"
# The coder's sentence-embedding channel (taxonomy/coder/semantic.py): "auto" uses it when the
# `semantic` extra is installed, "on" requires it, "off" never loads it.
ROLEBOOK_CODER_SEMANTIC = choice("ROLEBOOK_CODER_SEMANTIC", "auto", ("auto", "on", "off"))
# Threads of one encoder call: 1 suits web workers that serve requests side by side; a dedicated
# task worker may use 2 (a card's 6 texts: p95 53 -> 31 ms on 2 cores).
ROLEBOOK_CODER_SEMANTIC_THREADS = int(os.environ.get("ROLEBOOK_CODER_SEMANTIC_THREADS", "1"))

# Card upload: curators upload cards by the hundred (Django refuses more than 100 files by default).
DATA_UPLOAD_MAX_NUMBER_FILES = 1000

# --- Data for everyone else: the REST API (api/) and the release formats (publishing/formats/) ---
INSTALLED_APPS += ["rest_framework", "drf_spectacular", "drf_spectacular_sidecar", "api"]
# Where `export_approved --publish` writes releases, one folder per version, and the API reads them.
ROLEBOOK_RELEASES_DIR = Path(os.environ.get("ROLEBOOK_RELEASES_DIR", BASE_DIR / "var" / "releases"))
# Scopes open to requests without a token ("read", "releases"): none by default. Comma-separated in the env.
ROLEBOOK_API_ANONYMOUS_SCOPES = env_list("ROLEBOOK_API_ANONYMOUS_SCOPES")
# max-age of anonymous responses where those scopes are open (authenticated ones: private, no-cache).
ROLEBOOK_API_CACHE_SECONDS = int(os.environ.get("ROLEBOOK_API_CACHE_SECONDS", "300"))
ROLEBOOK_API_PAGE_SIZE = int(os.environ.get("ROLEBOOK_API_PAGE_SIZE", "50"))
ROLEBOOK_API_MAX_PAGE_SIZE = int(os.environ.get("ROLEBOOK_API_MAX_PAGE_SIZE", "200"))
ROLEBOOK_API_MAX_TOKENS = 20  # active tokens per user
# DRF throttle rates ("N/second|minute|hour|day"); counted in Django's cache, so share one cache across processes.
ROLEBOOK_API_THROTTLE_RATES = {
    "anon": os.environ.get("ROLEBOOK_API_RATE_ANON", "60/minute"),
    "user": os.environ.get("ROLEBOOK_API_RATE_USER", "1200/minute"),
    "suggest": os.environ.get("ROLEBOOK_API_RATE_SUGGEST", "30/minute"),
}
# SKOS URIs: Rolebook's own concepts under the base; the official codes from templates ({base}, {code}).
# Point ROLEBOOK_SKOS_*_URI at the SOC URIs your knowledge graph already uses.
ROLEBOOK_SKOS_BASE_URI = os.environ.get("ROLEBOOK_SKOS_BASE_URI", "https://rolebook.example/id/")
ROLEBOOK_SKOS_CODE_URIS = {
    "soc2018": os.environ.get("ROLEBOOK_SKOS_SOC2018_URI", "{base}soc2018/{code}"),
    "onet2019": os.environ.get("ROLEBOOK_SKOS_ONET2019_URI", "{base}onet2019/{code}"),
}
ROLEBOOK_SKOS_CODE_SCHEME_URIS = {"soc2018": "{base}soc2018", "onet2019": "{base}onet2019"}
ROLEBOOK_SKOS_LANGUAGE = "en"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Closed unless a view names the scope it needs (api.permissions.HasScope).
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.AnonThrottle", "api.throttling.UserThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "URL_FORMAT_OVERRIDE": None,
    "NUM_PROXIES": int(os.environ["ROLEBOOK_API_NUM_PROXIES"]) if "ROLEBOOK_API_NUM_PROXIES" in os.environ else None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Rolebook API",
    "DESCRIPTION": (
        "Approved occupational roles, their aliases and SOC / O*NET-SOC mappings, official codes, releases "
        "and the SOC coder. Read-only; only approved data. Authenticate with a personal token "
        "(Authorization: Bearer rb_…, made on /api/tokens/). Errors are RFC 9457 problem details."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No deep-link anchors: Swagger UI nests them inside each operation's toggle button, a link
    # inside a button that keyboards and screen readers cannot reach (axe: nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "persistAuthorization": False},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OccupationSchemeEnum": "taxonomy.models.OccupationCode.Scheme",
        "OccupationLevelEnum": "taxonomy.models.OccupationCode.Level",
        "AliasTypeEnum": "roles.models.TitleAlias.AliasType",
        "ComponentKindEnum": "roles.models.Component.Kind",
        "MappingSourceEnum": "roles.models.ClassificationMapping.Source",
        "ReleaseFormatEnum": ["fixtures", "csv", "skos"],
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_http_responses"],
}

# --- Running it for real: make serve, static files, login lockout, notifications, headers ---
# Static files: WhiteNoise serves what collectstatic wrote, compressed, under hashed names with
# far-future cache headers (immutable); unhashed names get a short max-age.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Behind this many trusted proxies, the client is the N-th address from the right of
# X-Forwarded-For (framework/security.py); 0 = the socket's address. Lockouts and API throttles use it.
ROLEBOOK_NUM_PROXIES = int(os.environ.get("ROLEBOOK_NUM_PROXIES", "0"))
if REST_FRAMEWORK["NUM_PROXIES"] is None and ROLEBOOK_NUM_PROXIES:
    REST_FRAMEWORK["NUM_PROXIES"] = ROLEBOOK_NUM_PROXIES
# Login lockout (django-axes): 10 failures for one user name from one address within 15 minutes
# lock that pair for 15 minutes, on every login form (the admin's and the site's are one view).
# Attempts live in the database, so every host behind a load balancer sees the same count.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("ROLEBOOK_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("ROLEBOOK_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A wrong password while locked does not restart the 15 minutes.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "framework.security.client_ip"
AXES_LOCKOUT_CALLABLE = "framework.security.lockout_response"
# Cookies: secure (above), HttpOnly (the desk's JavaScript reads the CSRF token from the form,
# never the cookie), SameSite=Lax.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp 4): no inline script or style anywhere; the API's Swagger
# UI and Redoc pages get a nonce for theirs (templates/drf_spectacular/), Redoc relaxed styles.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Email: SMTP from the environment in production (dev prints to the console).
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Rolebook <rolebook@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Links in emails are absolute: the site's public address, e.g. https://rolebook.example.org.
ROLEBOOK_SITE_URL = os.environ.get("ROLEBOOK_SITE_URL", "").rstrip("/")
# Several hosts behind one load balancer share the API throttles' counts through the cache:
# ROLEBOOK_CACHE=database keeps it in a PostgreSQL table (make serve creates it). Default: per process.
if os.environ.get("ROLEBOOK_CACHE", "").strip().lower() == "database":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "rolebook_cache"}}
