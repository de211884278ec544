"""Settings for marketingai.

Every deploy-time value comes from the environment (see docs/configuration.md).
The defaults are the embedded tier: SQLite in WAL mode, django-q2's ORM broker and the
bundled local model served on 127.0.0.1.
"""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MARKETINGAI_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


def _local_secret_key() -> str:
    """A per-installation key kept out of the repository, for the embedded tier only."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY_FROM_ENV = bool(os.environ.get("DJANGO_SECRET_KEY"))
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _local_secret_key()
# Off unless asked for (`make run` asks, for the demo); a deploy check warns about a key that
# is not from the environment.
DEBUG = env_bool("MARKETINGAI_DEBUG", default=False)
# The demo: users with published passwords (load_demo) and the demo CDP endpoint. `make run` asks.
MARKETINGAI_DEMO = env_bool("MARKETINGAI_DEMO", default=False)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("MARKETINGAI_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip()
    for o in os.environ.get("MARKETINGAI_CSRF_TRUSTED_ORIGINS", "").split(",")
    if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "simple_history",
    "workflows",
    "evals",
    "approvals",
    "inputs",
    "publishing",
    "triggers",
    "analytics",
    "measurement",
    "rollouts",
    # The REST API over the services (api/), its schema and its offline docs page.
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    # Made-up data, the demo CDP endpoint and demo users; no domain app imports it.
    "demo",
    # The project itself: the production-settings checks of `check --deploy` (marketingai/checks.py).
    "marketingai",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's styles) from STATIC_ROOT, compressed and cached for good.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "marketingai.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "marketingai.wsgi.application"

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'marketingai.sqlite3'}",
        conn_max_age=env_int("MARKETINGAI_DB_CONN_MAX_AGE", 0),
    )
}
IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if IS_SQLITE:
    # WAL lets the admin read while a worker writes; IMMEDIATE + a long busy timeout keeps
    # concurrent writers from failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a worker cluster started by the tests shares the test database.
    DATABASES["default"]["TEST"] = {
        "NAME": str(
            VAR_DIR / f"test_marketingai{os.environ.get('MARKETINGAI_TEST_DB_SUFFIX', '')}.sqlite3"
        )
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("MARKETINGAI_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` (make serve runs it) writes here; WhiteNoise serves it.
STATIC_ROOT = Path(os.environ.get("MARKETINGAI_STATIC_ROOT") or VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (cached for a year) and gzip copies (brotli too when installed), per the manifest.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if os.environ.get("PYTEST_VERSION"):
    # Under pytest (which sets PYTEST_VERSION) pages render without a collectstatic manifest.
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
if "MARKETINGAI_STATIC_ROOT" not in os.environ:
    STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing directory

LOGIN_URL = "admin:login"
# Django 6 behaviour now: URL fields without a scheme assume https.
FORMS_URLFIELD_ASSUME_HTTPS = True

# Change reasons say who moved what and why; they do not fit in 100 characters.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

EMAIL_BACKEND = os.environ.get(
    "MARKETINGAI_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
# The SMTP server of django.core.mail.backends.smtp.EmailBackend (queue emails and the "smtp"
# publishing destinations); the password is read from the environment only.
EMAIL_HOST = os.environ.get("MARKETINGAI_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("MARKETINGAI_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("MARKETINGAI_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("MARKETINGAI_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("MARKETINGAI_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("MARKETINGAI_EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_float("MARKETINGAI_EMAIL_TIMEOUT", 10.0)

# Approvals: links in notifications point here; the chat webhook is a secret, read only from the environment.
MARKETINGAI_PUBLIC_URL = os.environ.get(
    "MARKETINGAI_PUBLIC_URL", f"http://127.0.0.1:{os.environ.get('MARKETINGAI_ADMIN_PORT', '8000')}"
)
MARKETINGAI_SLACK_WEBHOOK_URL = os.environ.get("MARKETINGAI_SLACK_WEBHOOK_URL", "")
MARKETINGAI_WEBHOOK_TIMEOUT = env_float("MARKETINGAI_WEBHOOK_TIMEOUT", 5.0)

# --- Service account (who acts when no person is named) --------------------------------
# Commands run without --user, and scheduled tasks, act as this user (a username); history,
# runs and decisions then name it instead of nobody. It never approves or decides. Empty: a
# command without --user refuses to act. The demo creates "marketingai-bot" for it.
MARKETINGAI_SERVICE_USER = os.environ.get("MARKETINGAI_SERVICE_USER", "").strip()
# --- End of service account ------------------------------------------------------------

# The demo CDP endpoint (/demo-cdp/...) serves made-up recipients for the offline demo.
MARKETINGAI_DEMO_CDP = env_bool("MARKETINGAI_DEMO_CDP", MARKETINGAI_DEMO)
# The demo platforms (/demo-platforms/...): a local email platform, chat and CMS that the demo's
# destinations publish to, and the Outbox page that shows what each received.
MARKETINGAI_DEMO_PLATFORMS = env_bool("MARKETINGAI_DEMO_PLATFORMS", MARKETINGAI_DEMO)


# --- Outbound HTTP and operator-named secrets (workflows/outbound.py, workflows/secrets.py) ---
# Every outbound request (audience sources, the chat webhook) goes through one guarded client.
# Hosts resolving to loopback/private/link-local/metadata addresses are refused unless their
# exact host:port is listed here; records may carry only the secrets named here.
def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = env_list("MARKETINGAI_OUTBOUND_ALLOWED_HOSTS")
MARKETINGAI_OUTBOUND_MAX_TIMEOUT = env_float("MARKETINGAI_OUTBOUND_MAX_TIMEOUT", 30.0)
MARKETINGAI_OUTBOUND_MAX_BYTES = env_int("MARKETINGAI_OUTBOUND_MAX_BYTES", 50 * 1024 * 1024)
MARKETINGAI_SECRETS = env_list("MARKETINGAI_SECRET_NAMES")
if MARKETINGAI_DEMO_CDP or MARKETINGAI_DEMO_PLATFORMS:
    # The demo's own source and destinations: the admin serves them on loopback.
    MARKETINGAI_OUTBOUND_ALLOWED_HOSTS.append(
        f"127.0.0.1:{os.environ.get('MARKETINGAI_ADMIN_PORT', '8000')}"
    )
if MARKETINGAI_DEMO_CDP:
    # The demo CDP's bearer token (demo.cdp.DEMO_CDP_TOKEN_ENV).
    MARKETINGAI_SECRETS.append("MARKETINGAI_DEMO_CDP_TOKEN")
if MARKETINGAI_DEMO_PLATFORMS:
    # The demo platforms' token, and the demo CMS's "user:application password" built from it
    # (demo.platforms.common).
    MARKETINGAI_SECRETS += ["MARKETINGAI_DEMO_PLATFORM_TOKEN", "MARKETINGAI_DEMO_CMS_CREDENTIAL"]
    # The demo email platform's event-signing public key (demo.platforms.email_events).
    MARKETINGAI_SECRETS.append("MARKETINGAI_DEMO_EVENT_WEBHOOK_KEY")
if MARKETINGAI_DEMO:
    # The demo's event trigger verifies its webhooks with this (public) secret (docs/triggers.md).
    MARKETINGAI_SECRETS.append("MARKETINGAI_DEMO_WEBHOOK_SECRET")
# --- end of outbound HTTP and secrets ---

# --- Publishing (publishing/services/) ---------------------------------------------------
MARKETINGAI_PUBLISH = {
    # Tries of one send when the platform says "not now" (429, 5xx) or no connection was made.
    "MAX_TRIES": env_int("MARKETINGAI_PUBLISH_MAX_TRIES", 3),
    # The longest Retry-After honoured; longer fails the attempt unsent (a later Publish resends).
    "MAX_RETRY_AFTER_SECONDS": env_float("MARKETINGAI_PUBLISH_MAX_RETRY_AFTER", 30.0),
    # An attempt "sending" for longer lost its worker (system check publishing.W001 keeps it
    # above the longest send: tries x (outbound timeout + Retry-After)).
    "STALE_SENDING_SECONDS": env_int("MARKETINGAI_PUBLISH_STALE_SENDING_SECONDS", 300),
}

# --- Triggers (triggers/services.py, docs/triggers.md) ----------------------------------
MARKETINGAI_TRIGGERS = {
    # A scheduled firing this late was missed (the cluster was down): the trigger's policy
    # runs it once or skips it. Above a task's wait behind busy workers (Q_CLUSTER timeout).
    "MISSED_RUN_GRACE_SECONDS": env_int("MARKETINGAI_TRIGGER_MISSED_RUN_GRACE", 15 * 60),
    # The largest event (webhook) body read; a larger one is refused with 413.
    "MAX_BODY_BYTES": env_int("MARKETINGAI_TRIGGER_MAX_BODY_BYTES", 256 * 1024),
}

# Campaign events (docs/measurement.md): a webhook signature older than the tolerance is a replay.
MARKETINGAI_MEASUREMENT = {
    "WEBHOOK_TOLERANCE_SECONDS": env_int("MARKETINGAI_EVENT_WEBHOOK_TOLERANCE", 600),
    "MAX_BODY_BYTES": env_int("MARKETINGAI_EVENT_WEBHOOK_MAX_BODY_BYTES", 8 * 1024 * 1024),
}

# --- Background work (django-q2) ----------------------------------------------------------
REDIS_URL = os.environ.get("MARKETINGAI_REDIS_URL", "")
Q_CLUSTER = {
    "name": "marketingai",
    # SQLite has one writer at a time: keep the cluster small there.
    "workers": env_int("MARKETINGAI_Q_WORKERS", 2 if IS_SQLITE else 4),
    # Tasks a cluster takes from the broker ahead of its free workers (django-q2's default is
    # workers squared): one, so several qcluster hosts share a queue evenly and a host that dies
    # takes few runs with it (the Redis broker hands a task out once).
    "queue_limit": 1,
    "recycle": 200,
    # Above the run budget plus one model call (MARKETINGAI_LLM below); retry must exceed it.
    "timeout": env_int("MARKETINGAI_Q_TIMEOUT", 900),
    "retry": env_int("MARKETINGAI_Q_TIMEOUT", 900) + 60,
    # A task runs once: the run itself records failure, and a repeat would repeat model calls.
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "poll": 0.5,
    "label": "Background tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Model endpoint (OpenAI-compatible) ------------------------------------------------
LOCAL_MODEL_PORT = env_int("MARKETINGAI_LOCAL_MODEL_PORT", 8081)
LOCAL_MODEL_ALIAS = "smollm2-135m-instruct"
MARKETINGAI_LLM = {
    # OPENAI_BASE_URL and OPENAI_API_KEY are the openai SDK's own variable names.
    "BASE_URL": os.environ.get("OPENAI_BASE_URL") or f"http://127.0.0.1:{LOCAL_MODEL_PORT}/v1",
    # Local servers ignore the key, but the SDK refuses an empty one.
    "API_KEY": os.environ.get("OPENAI_API_KEY") or "local-no-key",
    "MODEL": os.environ.get("MARKETINGAI_MODEL") or LOCAL_MODEL_ALIAS,
    "FALLBACK_MODEL": os.environ.get("MARKETINGAI_FALLBACK_MODEL", ""),
    "TIMEOUT_SECONDS": env_float("MARKETINGAI_MODEL_TIMEOUT", 60.0),
    "MAX_RETRIES": env_int("MARKETINGAI_MODEL_MAX_RETRIES", 2),
    # "json_schema" (OpenAI), "json_object" (llama-cpp-python: json_object + schema) or "auto".
    "STRUCTURED_OUTPUT": os.environ.get("MARKETINGAI_STRUCTURED_OUTPUT", "auto"),
    # Attempts per model when the output is malformed or breaks the schema.
    "GENERATION_ATTEMPTS": env_int("MARKETINGAI_GENERATION_ATTEMPTS", 3),
    # No new model call starts after this many seconds of one run's generation.
    "RUN_BUDGET_SECONDS": env_int("MARKETINGAI_RUN_BUDGET_SECONDS", 600),
    # Model calls one run makes at once (its variants, then its judges); the bundled local
    # model serves one at a time whatever this says.
    "CONCURRENCY": env_int("MARKETINGAI_MODEL_CONCURRENCY", 4),
}

# --- OpenTelemetry traces (workflows/telemetry.py, docs/telemetry.md) ---------------------
# Exported only when the standard OTEL_EXPORTER_OTLP_ENDPOINT is set; the OpenTelemetry SDK reads
# it and the other OTEL_* variables (headers, timeout, OTEL_SERVICE_NAME, ...) itself.
# Prompts, outputs and eval explanations go into spans only when this is on (redacted).
MARKETINGAI_OTEL_CAPTURE_CONTENT = env_bool("MARKETINGAI_OTEL_CAPTURE_CONTENT", False)
# The run page links to its exported trace: a URL with {trace_id} (32 hex), e.g. a Grafana/Jaeger view.
MARKETINGAI_OTEL_TRACE_URL = os.environ.get("MARKETINGAI_OTEL_TRACE_URL", "").strip()

# An eval suite is one background task for all its generations (120 briefs x 2 versions).
MARKETINGAI_EVAL_SUITE_TIMEOUT_SECONDS = env_int("MARKETINGAI_EVAL_SUITE_TIMEOUT", 4 * 3600)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("MARKETINGAI_LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
    },
}

# --- HTTPS, debug pages and uploads (docs/configuration.md, "Production settings") ----------
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("MARKETINGAI_SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = env_int("MARKETINGAI_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("MARKETINGAI_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("MARKETINGAI_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("MARKETINGAI_SSL_REDIRECT", False)
# A load balancer's plain-http probe of /healthz gets its answer, not a redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Only behind a proxy that sets X-Forwarded-Proto itself (and strips it from clients).
if env_bool("MARKETINGAI_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Debug pages and error emails hide every setting and environment variable that may hold a secret.
DEFAULT_EXCEPTION_REPORTER_FILTER = "marketingai.reporting.SecretHidingExceptionReporterFilter"
# Request bodies other than files are held in memory up to this; files above the second go to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# The largest recipient, dataset or outcomes file an import reads (forms and commands alike).
MARKETINGAI_MAX_UPLOAD_BYTES = env_int("MARKETINGAI_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)

# --- Health (/healthz, marketingai/health.py) ----------------------------------------------
# Seconds /healthz waits for each of its checks (database, broker, model endpoint), all at once.
MARKETINGAI_HEALTH_TIMEOUT = env_float("MARKETINGAI_HEALTH_TIMEOUT", 2.0)
# --- REST API (api/, docs/api.md) ------------------------------------------------------------
# Personal tokens (Authorization: Bearer ...) act as their user; every view names the
# permissions it needs. Requests per token and period ("120/min", "5000/hour").
MARKETINGAI_API_RATE = os.environ.get("MARKETINGAI_API_RATE", "120/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.HasRequiredPermissions"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "marketingai API",
    "DESCRIPTION": "Start runs, read traces, fetch production prompts, review and decide. "
    "Send a personal token as `Authorization: Bearer <token>` (docs/api.md).",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs page hold no data: served without a token (docs/api.md).
    "SERVE_AUTHENTICATION": [],
    # The docs page loads Swagger UI from this installation's static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
