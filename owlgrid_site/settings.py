"""OwlGrid settings, read from the environment (see the configuration table in README.md)."""

from __future__ import annotations

import os
from pathlib import Path

from owlgrid_site import envconf

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OWLGRID_VAR_DIR", BASE_DIR / "var")).resolve()

DEBUG = envconf.env_bool("DEBUG", False)
SECRET_KEY = envconf.secret_key(VAR_DIR)
OWLGRID_SECRETS_KEYS = envconf.secrets_keys(VAR_DIR)
ALLOWED_HOSTS = envconf.env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = envconf.env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = envconf.env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_rq",
    "django_htmx",
    "template_partials",
    "access",
    "environments",
    "workflows",
    "runner",
]

# owlgrid_site/middleware.py says why HooksFirst comes before the others and SyncChain last.
MIDDLEWARE = [
    "owlgrid_site.middleware.RefuseNulBytes",
    "owlgrid_site.middleware.HooksFirst",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "owlgrid_site.middleware.SyncChain",
]

ROOT_URLCONF = "owlgrid_site.urls"
ASGI_APPLICATION = "owlgrid_site.asgi.application"
WSGI_APPLICATION = "owlgrid_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": envconf.database_config(VAR_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envconf.redis_url(VAR_DIR)
OWLGRID_EMBEDDED_REDIS = REDIS_URL.startswith("unix://") and "REDIS_URL" not in os.environ

RQ_QUEUES = {
    "default": {
        "URL": REDIS_URL,
        "DEFAULT_TIMEOUT": 3600,
        "SERIALIZER": "rq.serializers.JSONSerializer",
    },
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "capacity": 5000,
                   "expiry": 30},
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workflows:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

# OWLGRID_HTTPS=true behind a TLS-terminating proxy: HTTPS only, HSTS, secure cookies.
OWLGRID_HTTPS = envconf.env_bool("OWLGRID_HTTPS", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envconf.env_bool("SECURE_COOKIES", OWLGRID_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if OWLGRID_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envconf.env_int("OWLGRID_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Outbound HTTP guard: hosts or CIDR ranges that may be reached despite the SSRF rules.
OWLGRID_OUTBOUND_ALLOWLIST = envconf.env_list("OWLGRID_OUTBOUND_ALLOWLIST", [])
OWLGRID_WORKERS = envconf.env_int("OWLGRID_WORKERS", 2, minimum=1)
# Address space each worker and web process may use (MB; 0: no ceiling): a run that needs more
# fails its step with MemoryError instead of bringing the kernel's OOM killer to the machine.
OWLGRID_WORKER_MEMORY_MB = envconf.env_int("OWLGRID_WORKER_MEMORY_MB", 2048, minimum=0)
OWLGRID_WEB_MEMORY_MB = envconf.env_int("OWLGRID_WEB_MEMORY_MB", 2048, minimum=0)
OWLGRID_LEASE_SECONDS = envconf.env_int("OWLGRID_LEASE_SECONDS", 30, minimum=2)
# Every expression render's budget (an environment may set its own): workflows/expression_limits.
OWLGRID_EXPRESSION_TIME_LIMIT_MS = envconf.env_int("OWLGRID_EXPRESSION_TIME_LIMIT_MS", 1000,
                                                   minimum=10)
OWLGRID_EXPRESSION_SIZE_LIMIT = envconf.env_int("OWLGRID_EXPRESSION_SIZE_LIMIT", 1_000_000,
                                                minimum=1_000)
OWLGRID_MAX_RUN_DEPTH = envconf.env_int("OWLGRID_MAX_RUN_DEPTH", 8, minimum=1)
OWLGRID_RETENTION_DAYS = envconf.env_int("OWLGRID_RETENTION_DAYS", 30, minimum=1)
OWLGRID_RETENTION_PER_WORKFLOW = envconf.env_int("OWLGRID_RETENTION_PER_WORKFLOW", 10000, minimum=1)
OWLGRID_MAX_IMPORT_BYTES = envconf.env_int("OWLGRID_MAX_IMPORT_BYTES", 5 * 1024 * 1024, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "owlgrid": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "rq.worker": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
