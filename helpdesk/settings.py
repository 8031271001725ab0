"""The one settings module: everything that varies between machines comes from the environment.

Without DATABASE_URL / REDIS_URL the project uses the embedded PostgreSQL and Redis that
`helpdesk.devservers` starts from wheels under HELPDESK_DATA_DIR; with them, external servers.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.utils.translation import gettext_lazy as _

from helpdesk import devservers

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# The demo secret is only good for the loopback demo; production must set SECRET_KEY.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-demo-key-change-me-0123456789abcdefghijklmnop")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Forwarded-for headers are only believed when the direct peer is one of these proxies.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

HELPDESK_DATA_DIR = devservers.data_dir()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "helpdesk",
    "tickets",
    "knowledgebase",
    "metrics",
    "channels_intake",
]

MIDDLEWARE = [
    "helpdesk.middleware.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "helpdesk.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
ASGI_APPLICATION = "helpdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "helpdesk.context_processors.helpdesk",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=devservers.embedded_database_url()),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default=devservers.embedded_redis_url())

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="hd"),
    }
}

CHANNEL_LAYERS = {
    "default": {
        # channels-redis over Redis Pub/Sub (why: helpdesk/channel_layer.py).
        "BACKEND": "helpdesk.channel_layer.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL}],
            # Pub/Sub channels are server-wide, not per Redis database: the database number in the
            # prefix keeps `make run`, test sessions and benchmarks sharing a Redis server apart.
            "prefix": env.str("CHANNEL_LAYER_PREFIX", default=f"hd-asgi-{urlsplit(REDIS_URL).path.strip('/') or 0}-"),
        },
    }
}

AUTH_USER_MODEL = "tickets.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["tickets.auth.EmailOrUsernameBackend"]

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
    ("zh-hant", _("Traditional Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor", BASE_DIR / "node_modules")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve static files straight from the finders (no collectstatic): the browser tests' live server.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=False)
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(HELPDESK_DATA_DIR / "media"))
MEDIA_URL = "/media-not-served/"
# Uploads: the limit is read at use time (helpdesk.conf) so tests can override it.
HELPDESK_MAX_UPLOAD_BYTES = env.int("HELPDESK_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Without EMAIL_HOST (and EMAIL_BACKEND), the embedded default: mail goes over SMTP to the local sink
# `manage.py run_smtp_sink` (started by `make run`), which keeps it for the admin ("Sent mail (local
# sink)") and delivers nothing. With EMAIL_HOST set, mail goes to that server.
HELPDESK_SMTP_SINK_HOST = env.str("HELPDESK_SMTP_SINK_HOST", default="127.0.0.1")
HELPDESK_SMTP_SINK_PORT = env.int("HELPDESK_SMTP_SINK_PORT", default=2526)
HELPDESK_SMTP_SINK = "EMAIL_HOST" not in os.environ and "EMAIL_BACKEND" not in os.environ
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default=HELPDESK_SMTP_SINK_HOST)
EMAIL_PORT = env.int("EMAIL_PORT", default=HELPDESK_SMTP_SINK_PORT if HELPDESK_SMTP_SINK else 25)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="support@example.com")

# Celery: named queues per concern; tasks are queued on commit by the services.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# Solved tickets close automatically after this many days (Celery beat).
HELPDESK_AUTO_CLOSE_DAYS = env.int("HELPDESK_AUTO_CLOSE_DAYS", default=4)
# Celery beat runs the SLA scan (warnings, breaches, escalations) every this many seconds.
HELPDESK_SLA_SCAN_SECONDS = env.float("HELPDESK_SLA_SCAN_SECONDS", default=30.0)
# Time-based automations (tickets.rules) run this often: hourly unless configured.
HELPDESK_AUTOMATIONS_INTERVAL_SECONDS = env.float("HELPDESK_AUTOMATIONS_INTERVAL_SECONDS", default=3600.0)
# Rules (tickets.rules): loop protection holds a rule back after this many runs on one ticket in an
# hour; "within business hours" uses the ticket's SLA calendar, else the calendar named here.
HELPDESK_RULE_MAX_RUNS_PER_TICKET = env.int("HELPDESK_RULE_MAX_RUNS_PER_TICKET", default=10)
HELPDESK_RULES_DEFAULT_CALENDAR = env.str("HELPDESK_RULES_DEFAULT_CALENDAR", default="")
# Rules' webhooks: attempts, back-off (doubling from RETRY_SECONDS up to RETRY_MAX_SECONDS), timeout.
HELPDESK_WEBHOOK_MAX_ATTEMPTS = env.int("HELPDESK_WEBHOOK_MAX_ATTEMPTS", default=8)
HELPDESK_WEBHOOK_RETRY_SECONDS = env.float("HELPDESK_WEBHOOK_RETRY_SECONDS", default=60.0)
HELPDESK_WEBHOOK_RETRY_MAX_SECONDS = env.float("HELPDESK_WEBHOOK_RETRY_MAX_SECONDS", default=21600.0)
HELPDESK_WEBHOOK_TIMEOUT_SECONDS = env.float("HELPDESK_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
HELPDESK_TICKET_NUMBER_START = 10001
# Tickets that arrive without a team (web form without a choice, API) go to this team.
HELPDESK_DEFAULT_TEAM = env.str("HELPDESK_DEFAULT_TEAM", default="support")
# Failed logins per (username, ip) before sign-in is refused for the lockout window.
HELPDESK_LOGIN_MAX_FAILURES = env.int("HELPDESK_LOGIN_MAX_FAILURES", default=5)
HELPDESK_LOGIN_LOCKOUT_SECONDS = env.int("HELPDESK_LOGIN_LOCKOUT_SECONDS", default=900)
# WebSocket base URL for the browser; empty means same origin as the page.
HELPDESK_WEBSOCKET_URL = env.str("HELPDESK_WEBSOCKET_URL", default="")
HELPDESK_SITE_URL = env.str("HELPDESK_SITE_URL", default="http://127.0.0.1:8000")

# Email intake (channels_intake). The SMTP listener (`manage.py run_smtp_intake`) takes mail for the
# teams' addresses and valid reply addresses only, up to HELPDESK_EMAIL_MAX_BYTES (advertised as
# SIZE; the HTTP endpoint has the same limit). STARTTLS is offered when a certificate is set.
HELPDESK_SMTP_INTAKE_HOST = env.str("HELPDESK_SMTP_INTAKE_HOST", default="127.0.0.1")
HELPDESK_SMTP_INTAKE_PORT = env.int("HELPDESK_SMTP_INTAKE_PORT", default=2525)
HELPDESK_SMTP_INTAKE_TLS_CERT = env.str("HELPDESK_SMTP_INTAKE_TLS_CERT", default="")
HELPDESK_SMTP_INTAKE_TLS_KEY = env.str("HELPDESK_SMTP_INTAKE_TLS_KEY", default="")
HELPDESK_SMTP_INTAKE_REQUIRE_STARTTLS = env.bool("HELPDESK_SMTP_INTAKE_REQUIRE_STARTTLS", default=False)
HELPDESK_EMAIL_MAX_BYTES = env.int("HELPDESK_EMAIL_MAX_BYTES", default=35 * 1024 * 1024)
# Subjects carry the ticket number as "[<tag><number>]", e.g. "[#10023]"; replies are threaded by it.
HELPDESK_EMAIL_TICKET_TAG = env.str("HELPDESK_EMAIL_TICKET_TAG", default="#")
# A secret for mail relays posting raw MIME to /api/v1/intake/email/ ("Authorization: Bearer <it>");
# empty: only admins' API tokens may post there.
HELPDESK_EMAIL_INTAKE_TOKEN = env.str("HELPDESK_EMAIL_INTAKE_TOKEN", default="")
# Outbound mail: agents' public replies go to the requester by email (channels_intake.email.outbound)
# through EMAIL_BACKEND; a server that says "later" is tried again after 30 s, 60 s, 120 s ... (at most
# HELPDESK_EMAIL_OUTBOUND_RETRY_MAX_SECONDS apart), HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES times, then the
# message shows as failed. HELPDESK_EMAIL_REPLIES=False mails nothing (history imports).
HELPDESK_EMAIL_REPLIES = env.bool("HELPDESK_EMAIL_REPLIES", default=True)
# SLA timers follow every ticket change (tickets.services.common.sync_sla). History imports and the
# demo seed switch them off while they write the past (a clock started now for last month's ticket
# would measure nothing).
HELPDESK_SLA_TIMERS = env.bool("HELPDESK_SLA_TIMERS", default=True)
HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES = env.int("HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES", default=8)
HELPDESK_EMAIL_OUTBOUND_RETRY_SECONDS = env.float("HELPDESK_EMAIL_OUTBOUND_RETRY_SECONDS", default=30.0)
HELPDESK_EMAIL_OUTBOUND_RETRY_MAX_SECONDS = env.float("HELPDESK_EMAIL_OUTBOUND_RETRY_MAX_SECONDS", default=3600.0)
# Agents' email notifications (tickets.notifications): a ticket assigned to them by someone else, a
# customer's reply on their tickets (or their team's unassigned ones); each agent can switch either off
# in their preferences. Sent by a task with the outbound retry policy above. False mails none (nor does
# HELPDESK_EMAIL_REPLIES=False, which history imports and the demo seed use).
HELPDESK_AGENT_NOTIFICATIONS = env.bool("HELPDESK_AGENT_NOTIFICATIONS", default=True)
# Screening and automatic replies (channels_intake.email.screening / .acknowledgements): mail from a
# sender beyond HELPDESK_EMAIL_SENDER_MAX_PER_MINUTE within a minute is suspended (a flood or a loop with
# another system; 0 switches the limit off), and one sender address gets at most
# HELPDESK_EMAIL_AUTO_REPLIES_PER_HOUR automatic replies (new-ticket acknowledgements) an hour, so two
# auto-responders cannot keep answering each other. Both are counted in PostgreSQL over the stored mail.
HELPDESK_EMAIL_SENDER_MAX_PER_MINUTE = env.int("HELPDESK_EMAIL_SENDER_MAX_PER_MINUTE", default=20)
HELPDESK_EMAIL_AUTO_REPLIES_PER_HOUR = env.int("HELPDESK_EMAIL_AUTO_REPLIES_PER_HOUR", default=5)
# IMAP mailboxes (admin: "IMAP mailboxes") are polled by Celery beat every HELPDESK_IMAP_POLL_SECONDS,
# at most HELPDESK_IMAP_MAX_PER_POLL messages per mailbox and poll (the next poll takes the rest).
# Servers' certificates are verified against the system's CAs, plus HELPDESK_IMAP_CA_FILE if set.
HELPDESK_IMAP_POLL_SECONDS = env.float("HELPDESK_IMAP_POLL_SECONDS", default=60.0)
HELPDESK_IMAP_MAX_PER_POLL = env.int("HELPDESK_IMAP_MAX_PER_POLL", default=500)
HELPDESK_IMAP_TIMEOUT_SECONDS = env.float("HELPDESK_IMAP_TIMEOUT_SECONDS", default=60.0)
HELPDESK_IMAP_CA_FILE = env.str("HELPDESK_IMAP_CA_FILE", default="")
# Help center (knowledgebase, /help/): its name (default: the translated "Help Center"), logo (an https
# URL or a path on this site; also og:image), accent colour (#rgb or #rrggbb, served as a CSS variable
# by /help/theme.css), and articles per sitemap page (above it sitemap.xml becomes an index).
HELPDESK_HELP_CENTER_NAME = env.str("HELPDESK_HELP_CENTER_NAME", default="")
HELPDESK_HELP_CENTER_LOGO_URL = env.str("HELPDESK_HELP_CENTER_LOGO_URL", default="")
HELPDESK_HELP_CENTER_PRIMARY_COLOR = env.str("HELPDESK_HELP_CENTER_PRIMARY_COLOR", default="")
HELPDESK_HELP_CENTER_SITEMAP_PAGE_SIZE = env.int("HELPDESK_HELP_CENTER_SITEMAP_PAGE_SIZE", default=5000)
# Deflection (knowledgebase.deflection): a form visit where the customer opened a suggested article and
# sent nothing within this many minutes counts as deflected; visits report at most this many times a
# minute per address.
HELPDESK_KB_DEFLECTION_WINDOW_MINUTES = env.int("HELPDESK_KB_DEFLECTION_WINDOW_MINUTES", default=30)
HELPDESK_KB_DEFLECTION_POSTS_PER_MINUTE = env.int("HELPDESK_KB_DEFLECTION_POSTS_PER_MINUTE", default=60)
# Live chat (channels_intake.chat): an offer waits HELPDESK_CHAT_OFFER_SECONDS for the agent before
# the next one gets it; agents' presence lasts HELPDESK_CHAT_PRESENCE_TTL_SECONDS without a heartbeat;
# visitor tokens are valid HELPDESK_CHAT_TOKEN_MAX_AGE_SECONDS. Abuse limits: messages a minute per
# visitor, characters per message, open visitor sockets per address, and widget API calls per address.
HELPDESK_CHAT_OFFER_SECONDS = env.float("HELPDESK_CHAT_OFFER_SECONDS", default=30.0)
HELPDESK_CHAT_PRESENCE_TTL_SECONDS = env.int("HELPDESK_CHAT_PRESENCE_TTL_SECONDS", default=45)
HELPDESK_CHAT_TOKEN_MAX_AGE_SECONDS = env.int("HELPDESK_CHAT_TOKEN_MAX_AGE_SECONDS", default=24 * 3600)
HELPDESK_CHAT_MESSAGES_PER_MINUTE = env.int("HELPDESK_CHAT_MESSAGES_PER_MINUTE", default=30)
HELPDESK_CHAT_MAX_MESSAGE_CHARS = env.int("HELPDESK_CHAT_MAX_MESSAGE_CHARS", default=4000)
HELPDESK_CHAT_MAX_CONNECTIONS_PER_IP = env.int("HELPDESK_CHAT_MAX_CONNECTIONS_PER_IP", default=20)
HELPDESK_CHAT_API_RATE_LIMIT = env.str("HELPDESK_CHAT_API_RATE_LIMIT", default="120/min")
# A visitor socket that vanished without closing (its process killed) stops counting against its
# address after HELPDESK_CHAT_CONNECTION_TTL_SECONDS without a ping. A chat ends by itself when its
# visitor has been gone and silent HELPDESK_CHAT_IDLE_END_MINUTES (0: never), or has waited
# HELPDESK_CHAT_QUEUE_MAX_WAIT_MINUTES with nobody accepting; its ticket stays open for email.
# Links to an agent's files in a chat last HELPDESK_CHAT_FILE_URL_MAX_AGE_SECONDS. An agent socket
# re-reads its access to its chats every HELPDESK_CHAT_AGENT_ACCESS_SECONDS (and on a state change).
HELPDESK_CHAT_CONNECTION_TTL_SECONDS = env.int("HELPDESK_CHAT_CONNECTION_TTL_SECONDS", default=90)
HELPDESK_CHAT_IDLE_END_MINUTES = env.float("HELPDESK_CHAT_IDLE_END_MINUTES", default=30)
HELPDESK_CHAT_QUEUE_MAX_WAIT_MINUTES = env.float("HELPDESK_CHAT_QUEUE_MAX_WAIT_MINUTES", default=20)
HELPDESK_CHAT_FILE_URL_MAX_AGE_SECONDS = env.int("HELPDESK_CHAT_FILE_URL_MAX_AGE_SECONDS", default=24 * 3600)
HELPDESK_CHAT_AGENT_ACCESS_SECONDS = env.float("HELPDESK_CHAT_AGENT_ACCESS_SECONDS", default=10.0)
# Metrics: every minute the workers refresh the facts of tickets changed within this many hours;
# older changes are left to `manage.py recompute_metrics`.
HELPDESK_METRICS_LOOKBACK_HOURS = env.int("HELPDESK_METRICS_LOOKBACK_HOURS", default=48)
# Reports count days in one time zone (like Zendesk's account time zone): a day's figures are the
# same for every viewer, whatever their own zone.
HELPDESK_METRICS_TIME_ZONE = env.str("HELPDESK_METRICS_TIME_ZONE", default=TIME_ZONE)
# Surveys (metrics.surveys). CSAT: a mail with one-click 1–5 links when a ticket is solved, sent
# HELPDESK_SURVEY_CSAT_DELAY_MINUTES later (0: at once; Zendesk waits a day: 1440), at most once per
# ticket within HELPDESK_SURVEY_CSAT_RESEND_DAYS (a reopened ticket solved again inside that time is
# not asked twice); the thank-you page also asks the CES question when HELPDESK_SURVEY_ASK_CES. NPS:
# a separate mail HELPDESK_SURVEY_NPS_DELAY_HOURS after a solve, to each customer at most once per
# HELPDESK_SURVEY_NPS_PERIOD_DAYS. Links work for HELPDESK_SURVEY_LINK_MAX_AGE_DAYS; the public
# survey pages take HELPDESK_SURVEY_RATE_LIMIT requests per client address.
HELPDESK_SURVEY_CSAT_ENABLED = env.bool("HELPDESK_SURVEY_CSAT_ENABLED", default=True)
HELPDESK_SURVEY_CSAT_DELAY_MINUTES = env.float("HELPDESK_SURVEY_CSAT_DELAY_MINUTES", default=0)
HELPDESK_SURVEY_CSAT_RESEND_DAYS = env.int("HELPDESK_SURVEY_CSAT_RESEND_DAYS", default=7)
HELPDESK_SURVEY_ASK_CES = env.bool("HELPDESK_SURVEY_ASK_CES", default=True)
HELPDESK_SURVEY_NPS_ENABLED = env.bool("HELPDESK_SURVEY_NPS_ENABLED", default=True)
HELPDESK_SURVEY_NPS_DELAY_HOURS = env.float("HELPDESK_SURVEY_NPS_DELAY_HOURS", default=24)
HELPDESK_SURVEY_NPS_PERIOD_DAYS = env.int("HELPDESK_SURVEY_NPS_PERIOD_DAYS", default=90)
HELPDESK_SURVEY_LINK_MAX_AGE_DAYS = env.int("HELPDESK_SURVEY_LINK_MAX_AGE_DAYS", default=14)
HELPDESK_SURVEY_RATE_LIMIT = env.str("HELPDESK_SURVEY_RATE_LIMIT", default="60/min")
# Phone (channels_intake.phone): numbers without a country code are read in this region; the generic
# webhook is signed with HMAC-SHA256 under HELPDESK_PHONE_WEBHOOK_SECRET (comma-separated to rotate:
# any one verifies; empty refuses every event), signed timestamps further than the tolerance from now
# are replays; the Twilio status callback is checked with the account's auth token (empty: refused);
# the team that gets calls nobody routed (slug, default: HELPDESK_DEFAULT_TEAM); webhook calls a
# minute per client address.
HELPDESK_PHONE_DEFAULT_REGION = env.str("HELPDESK_PHONE_DEFAULT_REGION", default="CN")
HELPDESK_PHONE_WEBHOOK_SECRET = env.str("HELPDESK_PHONE_WEBHOOK_SECRET", default="")
HELPDESK_PHONE_SIGNATURE_TOLERANCE_SECONDS = env.int("HELPDESK_PHONE_SIGNATURE_TOLERANCE_SECONDS", default=300)
HELPDESK_PHONE_TWILIO_AUTH_TOKEN = env.str("HELPDESK_PHONE_TWILIO_AUTH_TOKEN", default="")
HELPDESK_PHONE_TEAM = env.str("HELPDESK_PHONE_TEAM", default="")
HELPDESK_PHONE_WEBHOOK_RATE_LIMIT = env.str("HELPDESK_PHONE_WEBHOOK_RATE_LIMIT", default="600/min")
# Call-detail-record import (channels_intake.phone.cdr): times without an offset are the PBX's local
# time in this zone (default TIME_ZONE; an import may name its own); a number matching the internal
# pattern is an extension (its side of the call is ours: that decides the direction); a call between
# two outside numbers is outbound when its dialplan context matches the outbound pattern; rows per
# chunk (one transaction, one progress update each).
HELPDESK_PHONE_PBX_TIMEZONE = env.str("HELPDESK_PHONE_PBX_TIMEZONE", default="")
HELPDESK_PHONE_INTERNAL_NUMBER_PATTERN = env.str("HELPDESK_PHONE_INTERNAL_NUMBER_PATTERN", default=r"^\d{2,6}$")
HELPDESK_PHONE_OUTBOUND_CONTEXT_PATTERN = env.str(
    "HELPDESK_PHONE_OUTBOUND_CONTEXT_PATTERN", default=r"^(from-internal|outbound|outgoing|out-)"
)
HELPDESK_PHONE_CDR_CHUNK_SIZE = env.int("HELPDESK_PHONE_CDR_CHUNK_SIZE", default=2000)
# Keys that encrypt stored credentials (mailbox passwords, OAuth secrets and tokens): any long random
# strings, comma-separated; the first encrypts, all decrypt (to rotate, put the new one first).
# Empty: derived from SECRET_KEY (and SECRET_KEY_FALLBACKS), so changing SECRET_KEY then means
# entering those credentials again.
HELPDESK_FIELD_ENCRYPTION_KEY = env.str("HELPDESK_FIELD_ENCRYPTION_KEY", default="")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["helpdesk.throttling.PerUserOrTokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_RATE_LIMIT", default="6000/min"),
        "anon": env.str("API_ANON_RATE_LIMIT", default="60/min"),
        "login": env.str("API_LOGIN_RATE_LIMIT", default="20/min"),
    },
    "EXCEPTION_HANDLER": "helpdesk.api_errors.exception_handler",
    "NUM_PROXIES": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "helpdesk API",
    "DESCRIPTION": "REST API v1 of helpdesk: tickets, messages, customers, organizations, teams.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our static files (no CDN, offline-friendly, allowed by the CSP).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "helpdesk.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "uvicorn.access": {"level": "WARNING"},
    },
}
