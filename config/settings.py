"""Settings for crm-segments, read from the environment.

Defaults suit a developer's laptop (SQLite file, ORM task broker). With
``DEBUG`` off the secure defaults apply and ``SECRET_KEY`` must be set.
"""

import datetime
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Keys copied from examples and tutorials: anyone who read them could sign our links.
PLACEHOLDER_SECRET_KEYS = {
    "",
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "secret",
    "secret-key",
    "secret_key",
    "your-secret-key",
    "insecure-development-key-do-not-use-in-production",
}


def is_placeholder_secret_key(key: str) -> bool:
    key = key.strip().lower()
    return key in PLACEHOLDER_SECRET_KEYS or key.startswith("django-insecure-")


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if is_placeholder_secret_key(SECRET_KEY) and not DEBUG:
    raise ImproperlyConfigured(
        f"SECRET_KEY {'is a placeholder' if SECRET_KEY.strip() else 'is not set'}: set it to a "
        "long random value, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))' "
        "(or DEBUG=1 for local development)."
    )
SECRET_KEY = SECRET_KEY or "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "django_object_actions",
    "import_export",  # the contacts admin's import and export (CSV, XLSX)
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "contacts",
    "interactions",
    "marketing_lists",
    "segments",
    "webhooks",
    "devtools",  # demo, benchmark and load-test commands; optional for host projects
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it turns a refused login into the locked-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "csp.context_processors.nonce",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and a worker share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Admin logins (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one username from
# one address, that pair is refused with 429 until LOGIN_LOCKOUT_MINUTES pass; a success
# clears the count. By the pair, so that nobody can lock a colleague out from elsewhere.
# The address is the one the public pages limit by (NUM_PROXIES hops into X-Forwarded-For).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every wrong password, for the admin's audit pages
AXES_CLIENT_IP_CALLABLE = "marketing_lists.throttling.client_ip"
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# The product's name in the admin's header and page titles.
CRM_SITE_NAME = os.environ.get("SITE_NAME", "crm-segments")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Production-safe defaults whenever DEBUG is off.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
    # Subdomains of the site's own host only; preload matters once the domain is submitted.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts and styles from the site itself, inline ones
# only with the response's nonce (templates write nonce="{{ CSP_NONCE }}"); data: images
# for the admin's and Swagger UI's icons; no framing, no plugins; forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# django-q2: the ORM broker needs nothing more; REDIS_URL switches to Redis.
# timeout < retry, so a long task is never handed out twice while it runs.
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER = {
    # Sites (or test runs) sharing one Redis keep apart by name: it prefixes the queue
    # and salts the task signatures, so every web process and worker of a site needs the same.
    "name": os.environ.get("Q_NAME", "crm-segments"),
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 600,
    "retry": 720,
    "max_attempts": 3,
    "ack_failures": True,
    "save_limit": 1000,
    "catch_up": False,
    "sync": env_bool("Q_SYNC", False),
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Long full evaluations may go to their own queue, so that they never delay the short
# change-driven ones: set SEGMENTS_FULL_EVALUATION_CLUSTER=long and run a second
# worker pool with `Q_CLUSTER_NAME=long python manage.py qcluster`.
Q_CLUSTER["ALT_CLUSTERS"] = {"long": {"timeout": 3000, "retry": 3600}}
SEGMENTS_FULL_EVALUATION_CLUSTER = os.environ.get("SEGMENTS_FULL_EVALUATION_CLUSTER") or None

# Webhooks: an endpoint failing without a success for this long is turned off; a
# failed message waits WEBHOOK_RETRY_BASE_SECONDS × 2^(attempts-1) (at most 6 hours).
# URLs resolving to private, loopback or link-local addresses are refused unless allowed.
WEBHOOK_DISABLE_AFTER_HOURS = float(os.environ.get("WEBHOOK_DISABLE_AFTER_HOURS", "72"))
WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "5"))
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)

# REST API: tokens for other systems, the session for staff in a browser. Token comes
# first so that an anonymous call is answered 401 with a WWW-Authenticate header.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["contacts.api.permissions.ModelPermissions"],
    "DEFAULT_PARSER_CLASSES": ["contacts.api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "contacts.api.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
    ],
    # Exact counts up to 10,000 results, the planner's estimate past that (contacts.paging).
    "DEFAULT_PAGINATION_CLASS": "contacts.paging.EstimatedCountPagination",
    "PAGE_SIZE": 100,
    # Requests per token (or signed-in user), and per IP address for anonymous calls;
    # counted in the cache, which must be shared (REDIS_URL) by several web processes.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": os.environ.get("API_THROTTLE_USER", "10000/hour"),
        "anon": os.environ.get("API_THROTTLE_ANON", "100/hour"),
    },
    # Anonymous callers are told apart by address; trust X-Forwarded-For only as far
    # as NUM_PROXIES (below) says, or anyone could pick a fresh address per call.
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The API reads a JSON body of at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes (Django's 2.5 MB),
# an interaction batch (POST /api/v1/interactions/) of at most this; larger ones get a 413.
INGEST_MAX_BODY_BYTES = int(os.environ.get("INGEST_MAX_BODY_BYTES", str(16 * 1024 * 1024)))

# OpenAPI schema and docs; the Swagger UI and Redoc assets come from the sidecar
# package as static files, so the docs work without network access.
SPECTACULAR_SETTINGS = {
    "TITLE": "crm-segments API",
    "DESCRIPTION": "Contacts, accounts, interactions, segments and marketing lists.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# /api/schema/ and /api/docs/ answer signed-in users and tokens only, unless this is on.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)

# Public subscription center. SITE_URL is the base of absolute links built without a
# request (emails, tasks). NUM_PROXIES is how many reverse proxies append to
# X-Forwarded-For in front of the site; 0 trusts only the socket's address.
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000")
SUBSCRIPTION_CENTER = {
    "brand_name": os.environ.get("BRAND_NAME", "crm-segments"),
    "support_email": os.environ.get("SUPPORT_EMAIL", ""),
    "double_opt_in": env_bool("DOUBLE_OPT_IN", False),
    "rate_limit": os.environ.get("SUBSCRIPTION_RATE_LIMIT", "30/m"),
    "one_click_rate_limit": os.environ.get("ONE_CLICK_RATE_LIMIT", "600/m"),
    # Subscription-center links stop working after this many days (unset or 0: never);
    # unsubscribe links in emails already sent are never refused for their age.
    "link_max_age_days": float(os.environ.get("SUBSCRIPTION_LINK_MAX_AGE_DAYS") or 0) or None,
    "confirm_max_age_days": 7,
    "num_proxies": int(os.environ.get("NUM_PROXIES", "0")),
}
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")
# The SMTP backend's server; Django's defaults (a relay on localhost:25) otherwise.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
# Rate limits count in the cache; with several web processes they must share one (Redis).
# Sites sharing one Redis keep their counts apart by the key prefix: Q_NAME unless set.
CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX") or Q_CLUSTER["name"]
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "KEY_PREFIX": CACHE_KEY_PREFIX,
    }
}
if REDIS_URL:
    CACHES["default"].update(
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    )
