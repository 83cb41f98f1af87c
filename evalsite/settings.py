"""Settings, all from environment variables, with defaults that are safe on a developer's machine.

`make run` needs none of them: it gets SQLite under ./var/, the database as the job broker, and
generated development keys. Production sets DATABASE_URL, REDIS_URL, EVALSITE_SECRET_KEY,
EVALSITE_ENCRYPTION_KEY, DEBUG=false and ALLOWED_HOSTS.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EVALSITE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG", True)

# A fixed development key keeps sessions valid across restarts of `make run`; production must set
# its own, and refuses to start without one.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("EVALSITE_SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("EVALSITE_SECRET_KEY must be set when DEBUG is off")

# Fernet key for provider API keys stored in the database (LLM connections). The development
# default is a valid, public Fernet key: fine for a laptop, never for production.
_DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="
ENCRYPTION_KEY = os.environ.get("EVALSITE_ENCRYPTION_KEY") or (_DEV_ENCRYPTION_KEY if DEBUG else "")
if not ENCRYPTION_KEY:
    raise RuntimeError("EVALSITE_ENCRYPTION_KEY must be set when DEBUG is off")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Before django_q: its `qcluster` command is ours (evalsite/management/commands/qcluster.py).
    "evalsite",
    "django_q",
    "axes",
    "traces",
    "prompts",
    "scoring",
    "datasets",
    "experiments",
    "evaluators",
    "annotations",
    "ingestion",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "evalsite.middleware.RefuseNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "evalsite.api.middleware.PublicApiErrorMiddleware",
    # Last, as django-axes requires: answers a locked-out client's sign-in with 429.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a sign-in from a locked-out client before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "evalsite.urls"
WSGI_APPLICATION = "evalsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'evalsite.sqlite3'}"
# Persistent connections in production; none under pytest, where live-server threads would
# otherwise keep sessions open and block dropping the test database.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0 if "pytest" in sys.modules else 60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while the other writes; IMMEDIATE transactions
    # take the write lock up front, so two writers queue instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("OPTIONS", {})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LOGIN_URL = "/accounts/login/"
# Signing in without `next` lands on the user's projects; signing out returns to the sign-in page.
LOGIN_REDIRECT_URL = "/projects/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# -- HTTPS and browser security -------------------------------------------------------------------
# With DEBUG off the site is taken to be served over HTTPS, usually by a proxy or load balancer that
# terminates TLS and says so in a header (EVALSITE_PROXY_SSL_HEADER, e.g. X-Forwarded-Proto; set it
# only when that proxy overwrites the header, since a client could otherwise claim HTTPS).
# EVALSITE_HTTPS=false serves plain HTTP (a loopback benchmark, a private network).
HTTPS = env_bool("EVALSITE_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("EVALSITE_SSL_REDIRECT", True)
# A load balancer's health check may speak plain HTTP to the web processes.
SECURE_REDIRECT_EXEMPT = [r"^api/public/health$"]
SECURE_HSTS_SECONDS = int(os.environ.get("EVALSITE_HSTS_SECONDS", 31_536_000 if HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("EVALSITE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("EVALSITE_HSTS_PRELOAD", False)
if os.environ.get("EVALSITE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + os.environ["EVALSITE_PROXY_SSL_HEADER"].strip().upper().replace("-", "_"),
        "https",
    )
CSRF_TRUSTED_ORIGINS = env_list("EVALSITE_CSRF_TRUSTED_ORIGINS", "")
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Asking browsers to preload HSTS for the whole domain is its owner's decision
# (EVALSITE_HSTS_PRELOAD=true), not a default, so `check --deploy` is not asked to nag about it.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD or not SECURE_HSTS_SECONDS else ["security.W021"]

# -- Failed authentications, limited per client ----------------------------------------------------
# The client is REMOTE_ADDR, or with EVALSITE_TRUSTED_PROXIES=N (the number of proxies in front that
# append to X-Forwarded-For) the address the outermost of them saw (evalsite/ratelimit.py).
EVALSITE_TRUSTED_PROXIES = int(os.environ.get("EVALSITE_TRUSTED_PROXIES", 0))
# Sign-ins (pages and admin): django-axes keeps failures in the database, so every web process
# counts together. After EVALSITE_LOGIN_FAILURE_LIMIT failures a client is refused (429) until
# EVALSITE_LOGIN_COOLOFF_MINUTES have passed since its last failure. A success does not reset the
# count: otherwise one valid account would let its owner guess at everyone else's.
AXES_FAILURE_LIMIT = int(os.environ.get("EVALSITE_LOGIN_FAILURE_LIMIT", 10))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("EVALSITE_LOGIN_COOLOFF_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "evalsite.ratelimit.client_ip"
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not logged row by row
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# API keys: after EVALSITE_API_AUTH_FAILURE_LIMIT failed authentications in
# EVALSITE_API_AUTH_FAILURE_WINDOW_SECONDS, a client's requests with credentials get 429 JSON with
# Retry-After until the window ends. Counted in the "ratelimit" cache: Redis when REDIS_URL is set
# (shared by every web process), else per process.
API_AUTH_FAILURE_LIMIT = int(os.environ.get("EVALSITE_API_AUTH_FAILURE_LIMIT", 30))
API_AUTH_FAILURE_WINDOW_SECONDS = int(os.environ.get("EVALSITE_API_AUTH_FAILURE_WINDOW_SECONDS", 300))

# API routes have no trailing slash and must never redirect (the SDK does not follow redirects);
# CommonMiddleware only appends a slash when the path without it does not resolve, so the admin
# keeps its redirects and the API is unaffected.
APPEND_SLASH = True

# OTLP exports can be tens of MB; each ingestion endpoint enforces its own limit instead. An
# OTLP body is also refused when it inflates (gzip) beyond this size.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("EVALSITE_MAX_BODY_BYTES", 64 * 1024 * 1024))
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
# Items per ingestion request (ingestion/README.md, "Bounded memory and time"): OTLP spans per
# export, legacy batch events per batch. Exporters send 512 at a time by default (the SDK's
# flush_at, the OpenTelemetry BatchSpanProcessor's max_export_batch_size).
EVALSITE_MAX_SPANS_PER_REQUEST = int(os.environ.get("EVALSITE_MAX_SPANS_PER_REQUEST", 10_000))
EVALSITE_MAX_EVENTS_PER_REQUEST = int(os.environ.get("EVALSITE_MAX_EVENTS_PER_REQUEST", 10_000))

# -- Media attachments (traces/media/README.md) -----------------------------------------------------
# Images, audio and files the SDK uploads: at most EVALSITE_MEDIA_MAX_BYTES each, of the SDK's
# content types. Stored under var/media/ by default; in any S3-compatible store when
# EVALSITE_MEDIA_S3_BUCKET is set (needs the `s3` extra: django-storages and boto3). Credentials:
# EVALSITE_MEDIA_S3_ACCESS_KEY_ID/…_SECRET_ACCESS_KEY, or boto3's own chain (AWS_* variables, roles).
EVALSITE_MEDIA_MAX_BYTES = int(os.environ.get("EVALSITE_MEDIA_MAX_BYTES", 50 * 1024 * 1024))
EVALSITE_MEDIA_UPLOAD_URL_SECONDS = int(os.environ.get("EVALSITE_MEDIA_UPLOAD_URL_SECONDS", 3600))
EVALSITE_MEDIA_DOWNLOAD_URL_SECONDS = int(os.environ.get("EVALSITE_MEDIA_DOWNLOAD_URL_SECONDS", 900))
if os.environ.get("EVALSITE_MEDIA_S3_BUCKET"):
    _MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["EVALSITE_MEDIA_S3_BUCKET"],
            "endpoint_url": os.environ.get("EVALSITE_MEDIA_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("EVALSITE_MEDIA_S3_REGION") or None,
            "access_key": os.environ.get("EVALSITE_MEDIA_S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("EVALSITE_MEDIA_S3_SECRET_ACCESS_KEY") or None,
            "location": os.environ.get("EVALSITE_MEDIA_S3_PREFIX", ""),
            "addressing_style": os.environ.get("EVALSITE_MEDIA_S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",
            "file_overwrite": True,
        },
    }
else:
    _MEDIA_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "media": _MEDIA_STORAGE,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["evalsite.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["evalsite.api.parsers.JSONParser"],
    "DEFAULT_METADATA_CLASS": "evalsite.api.metadata.ApiMetadata",
    "DEFAULT_PAGINATION_CLASS": "evalsite.api.pagination.PagePagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "evalsite.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "evalsite public API",
    "DESCRIPTION": "Wire-compatible with the Langfuse public API, plus experiments, comparisons and evaluators.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI is served from the installed sidecar package: self-hosted sites may have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Two fields named "type" with different choices: name their enums, so the schema (and
    # `check --deploy`) has no collision to warn about.
    "ENUM_NAME_OVERRIDES": {
        "ObservationTypeEnum": "traces.models.ObservationType",
        "PromptTypeEnum": ["text", "chat"],
        "QueueItemStatusEnum": ["PENDING", "COMPLETED"],
        "DatasetItemStatusEnum": ["ACTIVE", "ARCHIVED"],
    },
}

REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"},
    "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ratelimit"},
}
# Under pytest the counters stay in the process (tests reset them), whatever REDIS_URL says.
if REDIS_URL and "pytest" not in sys.modules:
    CACHES["ratelimit"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "evalsite-ratelimit",
    }
Q_CLUSTER = {
    "name": "evalsite",
    "workers": int(os.environ.get("EVALSITE_WORKERS", 2)),
    "timeout": int(os.environ.get("EVALSITE_TASK_TIMEOUT", 3600)),
    "retry": int(os.environ.get("EVALSITE_TASK_TIMEOUT", 3600)) + 60,
    "max_attempts": 5,
    "catch_up": False,
    "ack_failures": True,
    "poll": 0.2,
    # Under pytest, tasks run inline when enqueued (unit tests); the worker tests start a real
    # `qcluster` process, whose environment sets EVALSITE_JOBS_SYNC=0.
    "sync": env_bool("EVALSITE_JOBS_SYNC", "pytest" in sys.modules),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Leased jobs (experiment runs, imports; evalsite/jobs/README.md): a worker renews its lease at least
# this often (seconds) or the job is presumed abandoned; each worker cluster sweeps for abandoned jobs
# every EVALSITE_JOB_SWEEP_SECONDS. The EVALSITE_RUN_* names of earlier releases still work.
EVALSITE_JOB_LEASE_SECONDS = float(
    os.environ.get("EVALSITE_JOB_LEASE_SECONDS") or os.environ.get("EVALSITE_RUN_LEASE_SECONDS") or 30
)
EVALSITE_JOB_SWEEP_SECONDS = float(
    os.environ.get("EVALSITE_JOB_SWEEP_SECONDS") or os.environ.get("EVALSITE_RUN_SWEEP_SECONDS") or 10
)
# Judge calls in flight per evaluation task (evaluators/executor.py).
EVALSITE_EVAL_CONCURRENCY = int(os.environ.get("EVALSITE_EVAL_CONCURRENCY", 32))
# Media (images, audio, PDFs) a judge's user messages carry inline, all of one call together, in bytes
# before base64; media beyond it is described in text instead (evaluators/judge_media.py).
EVALSITE_EVAL_MEDIA_MAX_BYTES = int(os.environ.get("EVALSITE_EVAL_MEDIA_MAX_BYTES", 10 * 1024 * 1024))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# Public API: how stale `ApiKey.last_used_at` may get before a request refreshes it (one write per
# key per interval instead of one per request).
API_KEY_LAST_USED_RESOLUTION_SECONDS = 300

# Public API: how long each process keeps a key that authenticated (evalsite/tenancy/key_cache.py).
# A revoked key stops working at once in the process that revoked it and within this many seconds
# everywhere else; 0 turns the cache off. Off under pytest, so that every test sees its own writes and
# counts the lookup among its queries; tests/tenancy/test_key_cache.py turns it on.
API_KEY_CACHE_SECONDS = float(
    os.environ.get("EVALSITE_API_KEY_CACHE_SECONDS", "0" if "pytest" in sys.modules else "5")
)
