"""Settings for the marketplace, read from the environment (django-environ).

With nothing set the app runs on its *embedded default*: SQLite, a local-memory cache and a
Celery broker on the local file system, so ``make run`` needs no server. ``DATABASE_URL`` and
``REDIS_URL`` switch to PostgreSQL and Redis. ``PRODUCTION=1`` is the production mode: it
refuses to start with ``DEBUG`` on or without ``SECRET_KEY`` and turns on every deploy check.
Every variable is listed in README.md and ``.env.example``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

TESTING = "pytest" in sys.modules

PRODUCTION = env.bool("PRODUCTION", default=False)
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when PRODUCTION=1.")


def required(name: str, *, dev_default: str) -> str:
    """A value production must provide; development gets ``dev_default``."""
    if value := env.str(name, default=""):
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off.")


SECRET_KEY = required("SECRET_KEY", dev_default="dev-insecure-0f3c9e1b7d2a4c8e9b6f5a3d1c7e8b2a")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "modeltranslation",  # before django.contrib.admin, so the admin gets its tabs
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_countries",
    "djmoney",
    "djmoney.contrib.exchange",
    "django_celery_beat",
    # ours, in dependency order: marketplace <- catalog <- logistics <- payments <- orders
    "marketplace",
    "catalog",
    "logistics",
    "payments",
    "orders",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "marketplace.middleware.BuyerContextMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "marketplace.context_processors.buyer",
                "orders.context_processors.cart",
                "orders.context_processors.feedback",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Celery worker, beat and the web server share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# The cache may live in its own Redis database (clearing it must not touch Celery's queues).
REDIS_CACHE_URL = env.str("REDIS_CACHE_URL", default=REDIS_URL)
if REDIS_CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_CACHE_URL}}
else:
    # Room for the catalog cache's cards and pages (Django's default keeps 300 entries), ~10 MB.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10_000}}
    }
# How long the storefront keeps catalog rows (catalog.cache): every catalog change retires them at
# once; this only bounds their life. 0 turns the catalog cache off (bench/run.py measures both).
CATALOG_CACHE_SECONDS = 300

# Sessions (the anonymous cart's token, sign-in) read through the cache, written to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_USER_MODEL = "marketplace.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Languages ---------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
    ("es", _("Spanish")),
    ("pt-br", _("Brazilian Portuguese")),
    ("ru", _("Russian")),
    ("ar", _("Arabic")),
    ("de", _("German")),
    ("fr", _("French")),
    ("ja", _("Japanese")),
    ("vi", _("Vietnamese")),
]
LANGUAGES_BIDI = ["ar"]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_LANGUAGES = tuple(code for code, _name in LANGUAGES)
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)

# --- Money and FX ------------------------------------------------------------------------
# Every currency the ECB publishes, plus the markets' own that it does not (manual rates).
ECB_CURRENCIES = (
    "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR", "ILS",
    "INR", "ISK", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "SEK", "SGD",
    "THB", "TRY", "USD", "ZAR",
)  # fmt: skip
EXTRA_CURRENCIES = ("AED", "BHD", "KWD", "RUB", "SAR", "VND")
CURRENCIES = tuple(sorted(ECB_CURRENCIES + EXTRA_CURRENCIES))
DEFAULT_CURRENCY = "USD"
BASE_CURRENCY = "EUR"  # every stored rate is units of a currency per 1 EUR (the ECB's base)
AUTO_CONVERT_MONEY = False  # Money("1", "EUR") + Money("1", "USD") must raise, not convert
EXCHANGE_BACKEND = "marketplace.fx.services.MarketplaceExchangeBackend"
RATES_CACHE_TIMEOUT = 0  # django-money's per-pair cache could outlive a refresh; ours is cleared on commit

FX_PROVIDERS = env.list(
    "FX_PROVIDERS",
    default=[
        "marketplace.fx.providers.OpenExchangeRates",  # skipped while no app id is set
        "marketplace.fx.providers.BundledEcb",
        "marketplace.fx.providers.Manual",
    ],
)
FX_ECB_URL = env.str("FX_ECB_URL", default="https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml")
FX_HTTP_TIMEOUT = env.float("FX_HTTP_TIMEOUT", default=10.0)
FX_MAX_AGE_HOURS = env.int("FX_MAX_AGE_HOURS", default=48)

# Orders: how long a checkout quote locks prices and rates, how long placed-but-unpaid orders
# keep their stock (orders.models.MAX_LINE_QUANTITY caps a cart line).
CHECKOUT_QUOTE_MINUTES = env.int("CHECKOUT_QUOTE_MINUTES", default=15)
ORDER_RESERVATION_MINUTES = 30
# While a payment is pending (a redirect or a QR wallet can take minutes), each pending report from
# the provider keeps the stock at least STEP minutes longer, never beyond CEILING minutes after placing.
ORDER_RESERVATION_STEP_MINUTES = 15
ORDER_RESERVATION_CEILING_MINUTES = 120

OPEN_EXCHANGE_RATES_APP_ID = env.str("OPEN_EXCHANGE_RATES_APP_ID", default="") or None
OPEN_EXCHANGE_RATES_URL = env.str("OPEN_EXCHANGE_RATES_URL", default="https://openexchangerates.org/api/latest.json")

# Payment method codes a market may offer (Market.payment_methods), and the class implementing each
# (payments.registry). The embedded default needs no network: the demo gateway plays card and
# e-wallets. With STRIPE_SECRET_KEY set, cards and e-wallets go through Stripe.
PAYMENT_METHOD_CODES = {
    "card": _("Card"),
    "alipay": _("Alipay"),
    "wechat_pay": _("WeChat Pay"),
    "grabpay": _("GrabPay"),
    "pix": _("Pix"),
    "cod": _("Cash on delivery"),
    "demo": _("Demo gateway"),
}
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")  # tests: a local server replaying Stripe's responses
STRIPE_TIMEOUT_SECONDS = 30.0  # per request to Stripe
STRIPE_MAX_NETWORK_RETRIES = 2  # the SDK retries connection errors and 5xx with the same idempotency key
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300  # a signed webhook older than this is refused (replay protection)
_CARD_AND_WALLETS = (
    {
        "card": "payments.methods.stripe.StripeCard",
        "alipay": "payments.methods.stripe.StripeAlipay",
        "wechat_pay": "payments.methods.stripe.StripeWeChatPay",
        "grabpay": "payments.methods.stripe.StripeGrabPay",
    }
    if STRIPE_SECRET_KEY
    else {
        "card": "payments.methods.demo.DemoCard",
        "alipay": "payments.methods.demo.DemoAlipay",
        "wechat_pay": "payments.methods.demo.DemoWeChatPay",
        "grabpay": "payments.methods.demo.DemoGrabPay",
    }
)
PAYMENT_METHODS = {**_CARD_AND_WALLETS, "cod": "payments.methods.cod.CashOnDelivery"}
PAYMENT_RECONCILE_AFTER_MINUTES = 15  # a payment pending this long is asked about (Celery beat)
COD_REFUSAL_LOOKBACK_DAYS = 180  # no cash on delivery for a buyer with a parcel refused this recently
STRIPE_CONNECT_PAYOUTS = env.bool("STRIPE_CONNECT_PAYOUTS", default=False)  # off: payouts are paid by hand
PAYMENT_RECONCILE_MAX_AGE_HOURS = 48  # ...until it is this old (an abandoned attempt is not asked about forever)
PAYMENT_RECONCILE_BATCH_SIZE = 100  # payments asked about per task

# What logistics adds to the storefront (stock filters, badges, delivery estimates), named by path
# because catalog must not import logistics (catalog/extensions.py). Empty: no extension.
STOREFRONT_EXTENSION = "logistics.storefront.LogisticsStorefront"
# Panels higher apps add to the product and seller pages (catalog/extensions.py): feedback threads.
STOREFRONT_PANELS = ["orders.feedback_storefront.FeedbackPanels"]

# Feedback threads (orders): machine translation of messages (a dotted path, e.g. the test backend
# "orders.translator.BracketTranslator"; None: each side reads messages as written), rate limits
# per user (how many, per seconds), and e-mail batching: a burst of messages is e-mailed once, after
# a quiet period, at most MAX_DELAY after its first message. SITE_URL starts the links in e-mails.
MESSAGE_TRANSLATOR = env.str("MESSAGE_TRANSLATOR", default="") or None
FEEDBACK_RATE_LIMITS = {"open_thread": (5, 3600), "message": (30, 600)}
FEEDBACK_EMAIL_QUIET_SECONDS = 120
FEEDBACK_EMAIL_MAX_DELAY_SECONDS = 900
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Celery ------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {}
    if REDIS_URL
    else {
        "data_folder_in": str(BASE_DIR / "var" / "celery" / "queue"),
        "data_folder_out": str(BASE_DIR / "var" / "celery" / "queue"),
        "processed_folder": str(BASE_DIR / "var" / "celery" / "processed"),
        "control_folder": str(BASE_DIR / "var" / "celery" / "control"),
        "store_processed": False,
    }
)
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # Every hour, five past: the ECB publishes once a day around 16:00 CET, the others hourly.
    "refresh-fx-rates": {"task": "marketplace.tasks.refresh_fx_rates", "schedule": crontab(minute=5)},
    # Every ten minutes: ask the carriers what happened to parcels on their way (in batches).
    "poll-tracking": {"task": "logistics.tasks.poll_tracking", "schedule": crontab(minute="*/10")},
    # Every five minutes: unpaid orders whose stock reservation ran out give their stock back.
    "expire-unpaid-orders": {"task": "orders.tasks.expire_unpaid_orders", "schedule": crontab(minute="*/5")},
    # Every five minutes: ask the provider about payments left pending (a webhook lost or late).
    "reconcile-pending-payments": {
        "task": "payments.tasks.reconcile_pending_payments",
        "schedule": crontab(minute="*/5"),
    },
    # Every minute: e-mail each inbox whose burst of new feedback messages has gone quiet.
    "send-message-digests": {"task": "orders.feedback_tasks.send_message_digests", "schedule": crontab()},
    # Daily at 07:00 UTC: remind producers of conversations waiting more than 48 hours.
    "remind-waiting-sellers": {
        "task": "orders.feedback_tasks.remind_waiting_sellers",
        "schedule": crontab(minute=0, hour=7),
    },
}

# --- Carriers and tracking ---------------------------------------------------------------
# Carrier code -> class (logistics.carriers). "simulated" needs no network: the demo and tests.
CARRIERS = {
    "simulated": "logistics.carriers.simulated.SimulatedCarrier",
    "trackapi": "logistics.carriers.http.HttpTrackingCarrier",
}
# Per-carrier webhook secrets, e.g. CARRIER_WEBHOOK_SECRETS=simulated=s3cret,trackapi=0th3r.
# A carrier without a secret refuses webhooks (404).
CARRIER_WEBHOOK_SECRETS = env.dict("CARRIER_WEBHOOK_SECRETS", default={})
# The "trackapi" carrier: an AfterShip-compatible tracking API. Off while the key is empty.
TRACKING_API_URL = env.str("TRACKING_API_URL", default="https://api.aftership.com/tracking/2024-04")
TRACKING_API_KEY = env.str("TRACKING_API_KEY", default="")
TRACKING_HTTP_TIMEOUT = env.float("TRACKING_HTTP_TIMEOUT", default=10.0)
TRACKING_POLL_BATCH_SIZE = env.int("TRACKING_POLL_BATCH_SIZE", default=500)

# --- Static files, media, e-mail ---------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Marketplace <noreply@example.com>")

# --- Security (production mode is DEBUG off) ---------------------------------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS: list[str] = []

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
